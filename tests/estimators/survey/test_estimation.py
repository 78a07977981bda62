"""Estimators on designs: results API, domains, bad input (one test per error message)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.survey._weighting_steps import WeightingStep


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 120
    return pd.DataFrame(
        {
            "y": rng.normal(3, 1, n),
            "x": rng.uniform(1, 2, n),
            "group": rng.choice(["a", "b", "c"], n),
            "pick": rng.choice(["m1", "m2"], n),
            "user": np.repeat(np.arange(40), 3),
            "stratum": np.repeat(np.arange(4), 30),
            "w": rng.uniform(5, 15, n),
        }
    )


@pytest.fixture
def design(frame) -> est.SurveyDesign:
    return est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")


def test_result_api(design):
    e = design.mean("y", by="group")
    table = e.to_frame()
    assert list(table.columns) == [
        "group", "estimate", "std_error", "ci_lower", "ci_upper", "deff", "n", "effective_sample_size",
    ]
    assert table["group"].tolist() == ["a", "b", "c"]
    assert np.isfinite(table.drop(columns="group").to_numpy(float)).all()
    ci90 = e.confidence_interval(0.90)
    assert (ci90["ci_upper"] - ci90["ci_lower"] < table["ci_upper"] - table["ci_lower"]).all()
    np.testing.assert_allclose(table["ci_upper"] - table["estimate"], 1.959963984540054 * e.std_error)
    assert "Survey mean of y" in e.summary() and "<table" in e.summary("html")
    assert e.plot() is not None
    assert e.n.sum() == len(design.data)
    np.testing.assert_allclose(e.kish_deff, e.n / e.effective_sample_size)


def test_thin_methods_delegate(design):
    for got, want in [
        (design.total("y"), est.total(design, "y")),
        (design.proportion("pick", by="group"), est.proportion(design, "pick", by="group")),
        (design.ratio("y", "x"), est.ratio(design, "y", "x")),
        (design.quantile("y", [0.5]), est.quantile(design, "y", [0.5])),
    ]:
        np.testing.assert_array_equal(got.estimate, want.estimate)
        np.testing.assert_array_equal(got.std_error, want.std_error)


def test_domain_is_zeroed_not_subset(frame, design):
    """A domain estimate keeps every stratum/PSU: subsetting the design would give another SE."""
    by = design.mean("y", by="group")
    sub = frame[frame.group == "a"]
    subset_se = est.SurveyDesign(sub, weights="w", strata="stratum", psu="user").mean("y").std_error[0]
    assert by.estimate[0] == pytest.approx(np.average(sub.y, weights=sub.w))
    assert by.std_error[0] != pytest.approx(subset_se, rel=1e-6)


def test_proportions_sum_to_one(design):
    e = design.proportion("pick", by="group").to_frame()
    np.testing.assert_allclose(e.groupby("group")["estimate"].sum(), 1.0)
    assert set(e["category"]) == {"m1", "m2"}


def test_multiple_by_columns(design):
    e = design.mean("y", by=["group", "pick"]).to_frame()
    assert list(e.columns[:2]) == ["group", "pick"] and len(e) == 6


# -- missing outcomes ----------------------------------------------------------------------------------
def test_nan_outcome_raises_by_default(frame):
    frame.loc[[3, 7], "y"] = np.nan
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.ValidationError, match="missing or non-finite values in 2 rows"):
        d.mean("y")


def test_nan_omit_is_a_domain_of_the_whole_design(frame):
    """nan_policy='omit' = the domain of non-missing rows (R na.rm=TRUE), never a subset."""
    frame.loc[[3, 7, 50], "y"] = np.nan
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    omitted = d.mean("y", by="group", nan_policy="omit")
    filled = frame.assign(y=frame.y.fillna(0.0), seen=frame.y.notna())
    d2 = est.SurveyDesign(filled, weights="w", strata="stratum", psu="user")
    as_domain = d2.mean("y", by=["group", "seen"]).to_frame()
    as_domain = as_domain[as_domain.seen]
    np.testing.assert_allclose(omitted.estimate, as_domain.estimate, rtol=1e-12)
    np.testing.assert_allclose(omitted.std_error, as_domain.std_error, rtol=1e-12)
    assert omitted.n.sum() == len(frame) - 3


def test_missing_domain_label_raises(frame):
    frame.loc[5, "group"] = None
    d = est.SurveyDesign(frame, weights="w")
    with pytest.raises(est.ValidationError, match="domain columns contain missing values"):
        d.mean("y", by="group")


def test_empty_domain_raises(frame):
    frame.loc[frame.group == "b", "y"] = np.nan
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.DesignError, match=r"no observations with positive weight.*'b'"):
        d.mean("y", by="group", nan_policy="omit")


def test_zero_weights_count_as_outside(frame):
    frame.loc[frame.index[:10], "w"] = 0.0
    d = est.SurveyDesign(frame, weights="w")
    e = d.mean("y")
    kept = frame[frame.w > 0]
    assert e.estimate[0] == pytest.approx(np.average(kept.y, weights=kept.w))
    assert e.n[0] == len(frame) - 10


def test_all_zero_weights_in_a_domain_raise(frame):
    frame.loc[frame.group == "c", "w"] = 0.0
    with pytest.raises(est.DesignError, match="no observations with positive weight"):
        est.SurveyDesign(frame, weights="w").total("y", by="group")


def test_non_numeric_outcome_raises(design):
    with pytest.raises(est.ValidationError, match="must be numeric for this statistic"):
        design.mean("pick")


def test_unknown_column_raises(design):
    with pytest.raises(est.ColumnError, match="not in the data"):
        design.mean("nope")


def test_bad_option_raises(design):
    with pytest.raises(est.ValidationError, match="lonely_psu: must be one of"):
        design.mean("y", lonely_psu="mean")


def test_not_a_design_raises(frame):
    with pytest.raises(est.ValidationError, match="must be a SurveyDesign or a ReplicateDesign"):
        est.mean(frame, "y")


def test_zero_denominator_raises(frame):
    frame["zero"] = 0.0
    with pytest.raises(est.DesignError, match="weighted denominator total is zero"):
        est.SurveyDesign(frame, weights="w").ratio("y", "zero")


# -- singleton PSUs ---------------------------------------------------------------------------------------
def test_singleton_psu_raises_naming_the_stratum(frame):
    frame = frame.copy()
    frame.loc[frame.user == 39, "stratum"] = 99
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.DesignError, match=r"only one PSU.*got 1 value: 99"):
        d.mean("y")
    adjusted = d.mean("y", lonely_psu="adjust").std_error[0]
    removed = d.mean("y", lonely_psu="remove").std_error[0]
    assert adjusted > removed > 0
    assert d.mean("y", lonely_psu="certainty").std_error[0] == removed


def test_census_stratum_with_one_psu_is_fine(frame):
    """A stratum sampled completely (fpc = n) has no variance even with one PSU (as R)."""
    frame = frame.copy()
    frame.loc[frame.user == 39, "stratum"] = 99
    frame["population"] = np.where(frame.stratum == 99, 1, 100)
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user", fpc="population")
    assert np.isfinite(d.mean("y").std_error[0])


# -- design effects -------------------------------------------------------------------------------------
def test_deff_without_replacement_needs_population_scaled_weights(frame):
    d = est.SurveyDesign(frame.assign(w=1.0), weights="w")
    auto = d.mean("y")
    assert auto.deff_kind == "with_replacement"
    with pytest.raises(est.DesignError, match="without-replacement design effect needs weights"):
        d.mean("y", deff="without_replacement")


def test_srs_deff_is_about_one():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=400)})
    e = est.SurveyDesign(df).mean("y", deff="with_replacement")
    assert e.deff[0] == pytest.approx(1.0)
    assert e.kish_deff[0] == pytest.approx(1.0) and e.effective_sample_size[0] == pytest.approx(400)


# -- weighting steps ------------------------------------------------------------------------------------
def test_step_without_model_is_a_clear_error(design):
    w = design.weight_array
    step = WeightingStep("linear", w, w * 1.1)
    with pytest.raises(est.DesignError, match="neither a model matrix nor margin codes"):
        design.with_weights(w * 1.1, step).mean("y")


def test_backfit_needs_margin_codes(design):
    w = design.weight_array
    step = WeightingStep("rake", w, w, model_matrix=np.ones((len(w), 1)))
    with pytest.raises(est.DesignError, match="'backfit' needs the margin codes"):
        design.with_weights(w, step).mean("y", raking_variance="backfit")


def test_calibrated_margin_share_has_zero_se(frame):
    d = est.SurveyDesign(frame, weights="w", psu="user")
    fit = est.rake(d, {"group": {"a": 0.3, "b": 0.3, "c": 0.4}, "pick": {"m1": 0.5, "m2": 0.5}})
    shares = fit.design.proportion("group")
    np.testing.assert_allclose(shares.estimate, [0.3, 0.3, 0.4], rtol=1e-9)
    assert shares.std_error.max() < 1e-8
    assert fit.design.mean("y").std_error[0] < d.mean("y").std_error[0] * 1.5


def test_quantile_options(design):
    q = design.quantile("y", [0.1, 0.5, 0.9], by="group")
    t = q.to_frame()
    assert len(t) == 9 and {"group", "quantile"} <= set(t.columns)
    assert (t.ci_lower <= t.estimate).all() and (t.estimate <= t.ci_upper).all()
    with pytest.raises(est.ValidationError, match="quantiles: must lie strictly between 0 and 1"):
        design.quantile("y", 1.5)


def test_rows_dropped_by_raking_are_handled(frame):
    """Rows the raking leaves out (on_missing='drop': weight 0, margin code -1) stay outside."""
    frame.loc[[0, 1, 2], "pick"] = None
    d = est.SurveyDesign(frame, weights="w", psu="user")
    fit = est.rake(d, {"pick": {"m1": 0.5, "m2": 0.5}}, on_missing="drop")
    for option in ("greg", "backfit"):
        e = fit.design.mean("y", raking_variance=option)
        assert np.isfinite(e.std_error).all() and e.n[0] == len(frame) - 3
    r = fit.design.with_replicates("jk1")
    assert np.isfinite(r.mean("y").std_error).all()
