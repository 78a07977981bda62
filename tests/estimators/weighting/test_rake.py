"""rake: closed forms, design weights, joint margins, bounds, replicate reweighting, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators import (
    ConvergenceError,
    ConvergenceWarning,
    InfeasibleError,
    MarginError,
    SurveyDesign,
    ValidationError,
    rake,
)


@pytest.fixture
def small() -> pd.DataFrame:
    # cells: (f, y) 1 row, (f, o) 1, (m, y) 1, (m, o) 2
    return pd.DataFrame({"sex": ["f", "f", "m", "m", "m"], "age": ["y", "o", "y", "o", "o"]},
                        index=[10, 11, 12, 13, 14])


def biased(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n, p=[0.65, 0.35]),
            "age": rng.choice(["18-34", "35-54", "55+"], n, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(list("NSEW"), n, p=[0.4, 0.3, 0.2, 0.1]),
            "d": rng.uniform(0.5, 3.0, n),
        }
    )


MARGINS = {
    "sex": {"f": 0.51, "m": 0.49},
    "age": {"18-34": 0.3, "35-54": 0.35, "55+": 0.35},
    "region": {"N": 0.25, "S": 0.25, "E": 0.25, "W": 0.25},
}


def test_two_by_two_matches_the_odds_ratio_closed_form(small) -> None:
    # IPF keeps the cross-product ratio of the sample table: (2.5 - t)^2 / t^2 = (1 * 2) / (1 * 1)
    fit = rake(small, {"sex": {"f": 2.5, "m": 2.5}, "age": {"y": 2.5, "o": 2.5}}, tol=1e-14)
    t = 2.5 / (1 + math.sqrt(2))
    expected = [2.5 - t, t, t, (2.5 - t) / 2, (2.5 - t) / 2]
    assert np.allclose(fit.weights.to_numpy(), expected, rtol=1e-12, atol=0)
    assert list(fit.weights.index) == [10, 11, 12, 13, 14]
    assert fit.converged and fit.max_margin_error <= 1e-14


def test_one_margin_is_post_stratification_in_one_step() -> None:
    df = biased()
    fit = rake(df, {"age": MARGINS["age"]}, weights="d", population_total=1000)
    d = df["d"].to_numpy()
    sums = df.groupby("age")["d"].transform("sum").to_numpy()
    expected = d * df["age"].map(MARGINS["age"]).to_numpy() * 1000 / sums
    assert np.allclose(fit.weights.to_numpy(), expected, rtol=1e-13)
    assert fit.n_iter == 1
    post = est.poststratify(df, {k: 1000 * v for k, v in MARGINS["age"].items()}, cells=["age"],
                            weights="d")
    assert np.allclose(post.weights.to_numpy(), expected, rtol=1e-13)


def test_margins_met_and_design_weight_ratios_kept_within_cells() -> None:
    df = biased()
    fit = rake(df, MARGINS, weights="d")
    total = df["d"].sum()
    w = fit.weights
    for var, targets in MARGINS.items():
        got = w.groupby(df[var]).sum() / total
        for cat, share in targets.items():
            assert abs(got[cat] - share) <= 1e-10 * share
    g = (w / df["d"]).groupby([df["sex"], df["age"], df["region"]]).agg(["min", "max"])
    assert np.allclose(g["min"], g["max"], rtol=1e-12)
    diag = fit.diagnostics()
    assert list(diag.columns[:7]) == ["variable", "category", "sample_count", "sample_share",
                                      "base_share", "weighted_share", "target_share"]
    assert np.allclose(diag["weighted_share"], diag["target_share"], rtol=1e-9)


def test_joint_and_one_way_margins() -> None:
    df = biased()
    joint = {(s, a): 0.51 * p if s == "f" else 0.49 * p
             for s in ["f", "m"] for a, p in MARGINS["age"].items()}
    fit = rake(df, {("sex", "age"): joint, "region": MARGINS["region"]}, population_total=1e6)
    got = fit.weights.groupby([df["sex"], df["age"]]).sum() / 1e6
    for key, share in joint.items():
        assert abs(got[key] - share) <= 1e-9 * share
    assert fit.trace.columns.tolist() == ["sex x age", "region"]
    assert fit.trace.index[0] == 0 and fit.trace.iloc[0].max() > 0.01


def test_design_input_and_index_alignment_unaffected_by_row_order() -> None:
    df = biased(300)
    fit = rake(SurveyDesign(df, weights="d"), MARGINS)
    shuffled = df.sample(frac=1.0, random_state=1)
    fit2 = rake(shuffled, MARGINS, weights="d")
    assert np.allclose(fit2.weights.reindex(df.index), fit.weights, rtol=1e-9)
    assert fit.design.weighting_steps[-1].method == "rake"
    assert np.allclose(fit.design.weight_array, fit.weights.to_numpy())


def test_input_not_mutated_and_categorical_equals_strings() -> None:
    df = biased(500)
    before = df.copy()
    fit = rake(df, MARGINS, weights="d")
    pd.testing.assert_frame_equal(df, before)
    cat = df.astype({"sex": "category", "age": "category", "region": "category"})
    fit_cat = rake(cat, MARGINS, weights="d")
    assert np.allclose(fit_cat.weights, fit.weights, rtol=1e-12)


def test_bounded_raking_respects_bounds_and_meets_margins() -> None:
    df = biased()
    free = rake(df, MARGINS)
    lo, hi = free.g_range
    bounds = (0.4, 3.5)
    assert lo < bounds[0] or hi > bounds[1]  # the bounds bind
    fit = rake(df, MARGINS, bounds=bounds)
    g = fit.g.to_numpy()
    assert g.min() >= bounds[0] - 1e-12 and g.max() <= bounds[1] + 1e-12
    assert fit.converged and fit.max_margin_error <= 1e-10
    # loose bounds give the plain raking answer
    loose = rake(df, MARGINS, bounds=(0.01, 100))
    assert np.allclose(loose.weights, free.weights, rtol=1e-9)


def test_bounded_raking_agrees_with_bounded_raking_calibration() -> None:
    df = biased()
    fit = rake(df, MARGINS, bounds=(0.4, 3.5))
    cal = est.calibrate(df, MARGINS, method="raking", bounds=(0.4, 3.5))
    assert np.allclose(fit.weights, cal.weights, rtol=1e-7)


def test_reweight_rakes_replicate_columns_at_once() -> None:
    df = biased(400)
    fit = rake(df, MARGINS, weights="d", tol=1e-13)
    rng = np.random.default_rng(0)
    reps = df["d"].to_numpy()[:, None] * rng.uniform(0.5, 1.5, (len(df), 4))
    out = fit.step.reweight(reps)
    assert out.shape == (len(df), 4)
    for r in range(4):
        one = rake(df, MARGINS, weights=reps[:, r], population_total=df["d"].sum(), tol=1e-13)
        assert np.allclose(out[:, r], one.weights.to_numpy(), rtol=1e-9)
    assert np.allclose(fit.step.reweight(df["d"].to_numpy()), fit.weights, rtol=1e-10)
    mm = fit.step.model_matrix
    assert mm.shape == (len(df), 9) and np.allclose(mm.sum(axis=1), 3)
    assert [c.max() for c in fit.step.margin_codes] == [1, 2, 3]


def test_result_facts_summary_and_plot() -> None:
    df = biased(300)
    fit = rake(df, MARGINS)
    w = fit.weights.to_numpy()
    assert math.isclose(fit.design_effect, len(w) * (w @ w) / w.sum() ** 2)
    assert math.isclose(fit.effective_sample_size, w.sum() ** 2 / (w @ w))
    assert math.isclose(fit.weight_ratio, w.max() / w.min())
    assert fit.weight_quantiles.index[0] == 0.0
    text = fit.summary()
    assert "Kish design effect" in text and "region" in text
    assert "<table" in fit.summary("html")
    assert fit.to_frame().columns.tolist() == ["base_weight", "weight", "g"]
    ax = fit.plot()
    assert ax.get_title() == "Margin fit"
    assert fit.plot(kind="weights").get_xlabel() == "weight"


def test_missing_drop_gives_zero_weight_and_reports_rows() -> None:
    df = biased(200)
    df.loc[[3, 7], "sex"] = None
    fit = rake(df, MARGINS, on_missing="drop")
    assert fit.weights[[3, 7]].tolist() == [0.0, 0.0]
    assert list(fit.dropped_rows) == [3, 7]
    assert not fit.weights.isna().any()
    assert "rows dropped" in fit.summary()


# -- errors ----------------------------------------------------------------------------------
def test_error_nonconvergence_raises_and_warns() -> None:
    df = biased()
    with pytest.raises(ConvergenceError, match="raking did not converge: max relative margin error"):
        rake(df, MARGINS, max_iter=2)
    with pytest.warns(ConvergenceWarning, match="raking did not converge"):
        fit = rake(df, MARGINS, max_iter=2, on_nonconvergence="warn")
    assert not fit.converged and fit.max_margin_error > fit.tol


def test_error_infeasible_bounds() -> None:
    df = biased()
    with pytest.raises(InfeasibleError, match=r"no weights with g in \[0.9, 1.1\] can meet these targets"):
        rake(df, MARGINS, bounds=(0.9, 1.1))


def test_error_bounds_not_a_pair() -> None:
    with pytest.raises(ValidationError, match="bounds: must be a pair"):
        rake(biased(50), MARGINS, bounds=3.0)


def test_error_bounds_order() -> None:
    with pytest.raises(ValidationError, match="must satisfy 0 <= lower < upper"):
        rake(biased(50), MARGINS, bounds=(2.0, 1.0))


def test_error_weights_with_design() -> None:
    d = SurveyDesign(biased(50), weights="d")
    with pytest.raises(ValidationError, match="weights: must be None when a SurveyDesign is given"):
        rake(d, MARGINS, weights="d")


def test_error_negative_base_weights() -> None:
    df = biased(50)
    df.loc[0, "d"] = -1.0
    with pytest.raises(ValidationError, match="weights: must be non-negative"):
        rake(df, MARGINS, weights="d")


def test_error_nan_base_weights() -> None:
    df = biased(50)
    df.loc[0, "d"] = np.nan
    with pytest.raises(ValidationError, match="weights: must be finite"):
        rake(df, MARGINS, weights="d")


def test_error_duplicate_index() -> None:
    df = biased(50)
    df.index = [0] * 50
    with pytest.raises(ValidationError, match="index labels must be unique"):
        rake(df, MARGINS)


def test_error_category_with_only_zero_base_weights() -> None:
    df = biased(50)
    df.loc[df["sex"] == "f", "d"] = 0.0
    with pytest.raises(MarginError, match="target categories with no sample \\(or only zero base"):
        rake(df, MARGINS, weights="d")


def test_error_no_category_left() -> None:
    df = biased(50)
    with pytest.raises(MarginError, match="margin 'sex' has no category left"):
        rake(df, MARGINS, weights=np.zeros(50), on_empty_category="drop")


def test_error_reweight_shape() -> None:
    fit = rake(biased(50), MARGINS)
    with pytest.raises(ValidationError, match="base: must have shape"):
        fit.step.reweight(np.ones((3, 2)))


def test_reweight_replicate_that_drops_a_whole_category() -> None:
    df = biased(400)
    fit = rake(df, MARGINS, tol=1e-12)
    reps = np.ones((len(df), 2))
    reps[(df["region"] == "W").to_numpy(), 1] = 0.0  # e.g. a jackknife replicate without region W
    out = fit.step.reweight(reps)
    assert np.isfinite(out).all() and (out[(df["region"] == "W").to_numpy(), 1] == 0).all()
    got = pd.Series(out[:, 1]).groupby(df["sex"].to_numpy()).sum() / len(df)
    assert np.allclose(got[["f", "m"]].to_numpy(), [0.51, 0.49], rtol=1e-9)
    # region W's target is shared by the other regions (the margin keeps its total)
    region = pd.Series(out[:, 1]).groupby(df["region"].to_numpy()).sum() / len(df)
    assert np.allclose(region[["N", "S", "E"]].to_numpy(), [1 / 3] * 3, rtol=1e-9)
    assert np.allclose(out[:, 0], fit.weights.to_numpy(), rtol=1e-9)


def test_rake_working_memory_beyond_output_is_below_input_size():
    """Memory guard: no n-sized temporaries beyond the returned weights.

    tracemalloc counts numpy's allocations exactly, so this is deterministic: from four int8
    Categorical columns (4 bytes per row) the peak minus the float64 output (8 bytes per row) stays
    below the input size (measured 0.8x at 1M rows; see docs/performance.md).
    """
    import gc
    import tracemalloc

    n = 1_000_000
    rng = np.random.default_rng(0)
    sizes = {"a": 8, "b": 2, "c": 16, "d": 6}
    df = pd.DataFrame({k: pd.Categorical.from_codes(rng.integers(0, s, n).astype(np.int8),
                                                    categories=[f"{k}{i}" for i in range(s)])
                       for k, s in sizes.items()})
    margins = {k: {f"{k}{i}": 1 / s for i in range(s)} for k, s in sizes.items()}
    rake(df, margins)  # warm caches (imports, first-call allocations)
    gc.collect()
    tracemalloc.start()
    fit = rake(df, margins)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    input_bytes = int(df.memory_usage(deep=True, index=False).sum())
    assert fit.converged
    assert peak - 8 * n < input_bytes


def test_unit_base_weights_are_a_read_only_view_and_copy_to_writeable():
    df = pd.DataFrame({"sex": ["f", "m", "f", "m"]})
    fit = rake(df, {"sex": {"f": 0.5, "m": 0.5}})
    arr = fit.base_weights.to_numpy()
    assert arr.strides == (0,) and not arr.flags.writeable
    copy = fit.base_weights.copy()
    copy.iloc[0] = 3.0
    assert copy.tolist() == [3.0, 1.0, 1.0, 1.0] and fit.base_weights.tolist() == [1.0] * 4
