"""adjust_to_reference and covariate_balance: behaviour, invariants and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import estimators as est
from estimators.errors import ColumnError, InfeasibleError, ValidationError


def _population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    age = rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.2, 0.27, 0.33, 0.2])
    sex = rng.choice(["female", "male"], n)
    income = rng.lognormal(3.8, 0.6, n)
    y = 40 + 5 * (age == "65+") + 3 * (sex == "male") + 0.1 * income + rng.normal(0, 5, n)
    return pd.DataFrame({"age": age, "sex": sex, "income": income, "y": y})


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    pop = _population(40_000, rng)
    logit = -3 + 1.0 * (pop["age"] == "18-29") - 0.8 * (pop["age"] == "65+") \
        + 0.5 * (pop["sex"] == "male") + 0.01 * pop["income"]
    chosen = rng.random(len(pop)) < 1 / (1 + np.exp(-logit))
    sample = pop[chosen].sample(600, random_state=1).reset_index(drop=True)
    sample.index = sample.index + 1000  # a non-default index is kept
    reference = pop.sample(800, random_state=2).reset_index(drop=True)
    reference["t"] = rng.uniform(0.5, 2.0, len(reference))
    return sample, reference


COVARIATES = ["age", "sex", "income"]


def test_entropy_and_just_identified_cbps_agree(frames):
    # two independent solvers of the same equations: calibrate(method="raking") and the CBPS dual
    sample, reference = frames
    ent = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="entropy",
                                  reference_weights="t")
    cbps = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="cbps",
                                   reference_weights="t", max_weight_ratio=None, bins=None)
    np.testing.assert_allclose(ent.weights, cbps.weights, rtol=1e-7)
    assert ent.weights.index.equals(sample.index)
    assert float(ent.weights.sum()) == pytest.approx(reference["t"].sum(), rel=1e-10)
    table = ent.balance().to_frame()
    assert table["weighted_asmd"].max() < 1e-7
    assert (table["asmd"] > 0.01).any()


def test_entropy_second_moments_balance_variances(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="entropy",
                                  moments=2)
    w = fit.weights.to_numpy()
    x, r = sample["income"].to_numpy(), reference["income"].to_numpy()
    var_w = np.average((x - r.mean()) ** 2, weights=w)
    assert var_w == pytest.approx(np.mean((r - r.mean()) ** 2), rel=1e-8)


def test_ipw_improves_balance_and_records_the_step(frames):
    sample, reference = frames
    before = est.covariate_balance(sample, reference, covariates=COVARIATES)
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES)
    assert fit.method == "ipw"
    assert fit.penalty in set(fit.cv_table["penalty"])
    assert fit.cv_table["chosen"].sum() == 1
    assert fit.balance().mean_asmd < before.mean_asmd / 2
    step = fit.design.weighting_steps[-1]
    assert step.method == "ipw"
    assert step.model_matrix.shape == (len(sample), len(fit.coefficients))
    est_ = fit.design.mean("y").to_frame()
    assert np.isfinite(est_["std_error"]).all()
    again = est.adjust_to_reference(sample, reference, covariates=COVARIATES)
    np.testing.assert_array_equal(again.weights, fit.weights)  # CV folds from rng=0


def test_replicate_design_refits_the_membership_model(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0.01)
    rd = est.replicate_design(fit.design, method="bootstrap", replicates=20, rng=3)
    se = rd.mean("y").to_frame()["std_error"].iloc[0]
    assert 0 < se < 5
    step = fit.step
    base = np.column_stack([step.base_weights, 2 * step.base_weights])
    out = step.reweight(base)
    np.testing.assert_allclose(out[:, 0], fit.weights, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], fit.weights, rtol=1e-6)  # scale-free


def test_penalty_shrinks_towards_equal_weights(frames):
    sample, reference = frames
    deff = [est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=p)
            .design_effect for p in (0.0, 0.01, 1.0)]
    assert deff[0] > deff[1] > deff[2] > 1.0


def test_rake_and_poststratify_meet_the_reference_margins(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="rake",
                                  bins=4, reference_weights="t")
    diag = fit.diagnostics()
    assert set(diag["variable"]) == {"age", "sex", "income"}
    assert diag["relative_error"].max() < 1e-8
    ps = est.adjust_to_reference(sample, reference, covariates=["age", "sex"],
                                 method="poststratify", reference_weights="t")
    bal = ps.balance().to_frame()
    assert bal["weighted_asmd"].max() < 1e-10


def test_cbps_over_identified_balances_better_than_ml(frames):
    sample, reference = frames
    ml = est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0)
    over = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="cbps",
                                   over_identified=True)
    raw = est.covariate_balance(sample, reference, covariates=COVARIATES)
    assert over.balance().mean_asmd < raw.mean_asmd / 3
    assert np.isfinite(over.weights).all() and (over.weights > 0).all()
    assert ml.balance().mean_asmd < raw.mean_asmd / 3


@pytest.mark.parametrize("method", ["ipw", "cbps"])
def test_max_weight_ratio_caps_the_propensity_weights(frames, method):
    sample, reference = frames
    free = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                   penalty=0, max_weight_ratio=None)
    w0 = free.weights.to_numpy()
    ratio = 0.5 * w0.max() / w0.mean()  # binds
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                  penalty=0, max_weight_ratio=ratio)
    w = fit.weights.to_numpy()
    assert w.max() == pytest.approx(ratio * w.mean(), rel=1e-12)
    assert w.sum() == pytest.approx(w0.sum(), rel=1e-12)
    # below the cap the weights keep their ratios: the cap and one common factor
    below = w < w.max() * (1 - 1e-12)
    np.testing.assert_allclose(w[below] / w0[below], (w[below] / w0[below])[0], rtol=1e-12)
    assert np.all(w0[~below] >= w.max() / (w[below] / w0[below])[0] * (1 - 1e-12))
    assert fit.design.weighting_steps[-1].options["max_weight_ratio"] == ratio
    # with base weights the cap is on the adjustment w / d, relative to its d-weighted mean
    d = reference["t"].to_numpy()[: len(sample)]
    fit_d = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                    penalty=0, weights=d, max_weight_ratio=ratio)
    factor = fit_d.weights.to_numpy() / d
    assert factor.max() == pytest.approx(ratio * (d @ factor) / d.sum(), rel=1e-12)


def test_cap_weights_solves_its_fixed_point():
    from estimators.weighting._propensity import cap_weights

    rng = np.random.default_rng(3)
    f = rng.lognormal(0.0, 1.3, 500)
    d = rng.uniform(0.5, 2.0, 500)
    d[:5] = 0.0
    for base in (None, d):
        dd = np.ones_like(f) if base is None else base
        for ratio in (1.5, 3.0, 5.0):
            capped = cap_weights(f, ratio, base)
            # independent check: clip at k x the weighted mean, repeated to convergence
            ref = f.copy()
            for _ in range(20_000):
                ref = np.minimum(f, ratio * (dd @ ref) / dd.sum())
            np.testing.assert_allclose(capped, ref, rtol=1e-8)
            assert capped[dd > 0].max() == pytest.approx(ratio * (dd @ capped) / dd.sum())
    np.testing.assert_array_equal(cap_weights(f, 1e6), f)


def test_max_weight_ratio_bad_values(frames):
    sample, reference = frames
    with pytest.raises(ValidationError, match=r"max_weight_ratio: must be above 1"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0.1,
                                max_weight_ratio=1.0)
    with pytest.raises(ValidationError, match=r"max_weight_ratio: is used only by "
                       r"method='ipw' and 'cbps'.*it would be ignored"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="entropy",
                                max_weight_ratio=3.0)


def test_trim_option_caps_the_weights(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0,
                                  trim={"upper": 2.0, "bound_type": "mean_multiple",
                                        "strict": True})
    w = fit.weights.to_numpy()
    assert w.max() <= 2.0 * w.mean() * (1 + 1e-9)
    assert [s.method for s in fit.design.weighting_steps][-2:] == ["ipw", "trim"]
    assert fit.balance().weighted


def test_survey_designs_as_inputs(frames):
    sample, reference = frames
    fit1 = est.adjust_to_reference(est.SurveyDesign(sample), est.SurveyDesign(reference,
                                   weights="t"), covariates=COVARIATES, method="entropy")
    fit2 = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="entropy",
                                   reference_weights="t")
    np.testing.assert_allclose(fit1.weights, fit2.weights, rtol=1e-12)


def test_caller_frames_are_not_modified(frames):
    sample, reference = frames
    s0, r0 = sample.copy(), reference.copy()
    for method in ("ipw", "entropy", "rake"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                penalty=0.1)
    pd.testing.assert_frame_equal(sample, s0)
    pd.testing.assert_frame_equal(reference, r0)


# -- covariate_balance ---------------------------------------------------------------------------


def test_distances_equal_scipy_without_weights(frames):
    sample, reference = frames
    bal = est.covariate_balance(sample, reference, covariates=COVARIATES, weights=np.ones(600))
    row = bal.to_frame().set_index(["covariate", "level"]).loc[("income", "")]
    x, r = sample["income"], reference["income"]
    assert row["ks"] == pytest.approx(stats.ks_2samp(x, r).statistic, abs=1e-12)
    assert row["emd"] == pytest.approx(stats.wasserstein_distance(x, r), rel=1e-12)
    assert row["weighted_ks"] == pytest.approx(row["ks"], abs=1e-12)
    assert np.isnan(bal.to_frame().set_index(["covariate", "level"]).loc[("sex", "male"), "ks"])


def test_std_options_and_mean_asmd(frames):
    sample, reference = frames
    ref = est.covariate_balance(sample, reference, covariates=["income"])
    pooled = est.covariate_balance(sample, reference, covariates=["income"], std="pooled")
    x, r = sample["income"], reference["income"]
    diff = abs(x.mean() - r.mean())
    assert ref.mean_asmd == pytest.approx(diff / r.std(ddof=1), rel=1e-12)
    assert pooled.mean_asmd == pytest.approx(
        diff / np.sqrt((x.var(ddof=1) + r.var(ddof=1)) / 2), rel=1e-12)
    both = est.covariate_balance(sample, reference, covariates=["age", "income"])
    by = both.by_covariate().set_index("covariate")["asmd"]
    assert both.mean_asmd == pytest.approx((by["age"] + by["income"]) / 2, rel=1e-12)
    assert both.mean_asmd_after is None
    assert "mean ASMD before" in both.summary()


def test_missing_values_get_their_own_level():
    s = pd.DataFrame({"g": ["a", None, "b", "a"], "x": [1.0, np.nan, 3.0, 4.0]})
    r = pd.DataFrame({"g": ["a", "b", None, "b"], "x": [1.0, 2.0, 3.0, np.nan]})
    table = est.covariate_balance(s, r, covariates=["g", "x"]).to_frame()
    assert list(zip(table["covariate"], table["level"])) == [
        ("g", "a"), ("g", "b"), ("g", "(missing)"), ("x", ""), ("x", "(missing)")]
    assert table["sample_mean"].tolist()[3] == pytest.approx(8 / 3)
    fit = est.adjust_to_reference(s, r, covariates=["g", "x"], penalty=0.5)
    assert np.all(fit.weights > 0)


def test_balance_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = pd.DataFrame({"g": ["a", "b", "b"], "x": [1.0, 2.0, 3.0]})
    r = pd.DataFrame({"g": ["a", "a", "b"], "x": [1.0, 1.5, 3.0]})
    bal = est.covariate_balance(s, r, covariates=["g", "x"], weights=[2, 1, 1])
    assert bal.plot() is not None
    assert bal.plot(kind="distributions") is not None
    plt.close("all")


# -- bad input: one test per message -------------------------------------------------------------


def test_covariate_missing_from_the_sample(frames):
    sample, reference = frames
    with pytest.raises(ColumnError, match=r"covariates \(in the sample\): names columns that are "
                       r"not in the data; got 1 value: 'region'"):
        est.adjust_to_reference(sample, reference.assign(region="x"),
                                covariates=["age", "region"])


def test_covariate_missing_from_the_reference(frames):
    sample, reference = frames
    with pytest.raises(ColumnError, match=r"covariates \(in the reference\): names columns"):
        est.covariate_balance(sample.assign(region="x"), reference, covariates=["region"])


def test_sample_level_never_in_the_reference_is_named(frames):
    sample, reference = frames
    s = sample.copy()
    s.loc[s.index[:3], "age"] = "90+"
    with pytest.raises(ValidationError, match=r"covariate 'age' has levels in the sample that "
                       r"never occur in the reference; got 1 value: '90\+'"):
        est.adjust_to_reference(s, reference, covariates=COVARIATES)


def test_reference_level_never_in_the_sample(frames):
    sample, reference = frames
    r = reference.copy()
    r.loc[r.index[:3], "sex"] = "other"
    with pytest.raises(ValidationError, match=r"levels in the reference that never occur in the "
                       r"sample .*'other'"):
        est.adjust_to_reference(sample, r, covariates=COVARIATES, method="rake")


def test_perfect_separation_needs_a_penalty():
    s = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    r = pd.DataFrame({"x": np.linspace(2, 3, 60)})
    with pytest.raises(InfeasibleError, match=r"the covariates separate the sample from the "
                       r"reference .* Use a penalised fit"):
        est.adjust_to_reference(s, r, covariates=["x"], penalty=0)


def test_all_missing_covariate(frames):
    sample, reference = frames
    with pytest.raises(ValidationError, match=r"covariate 'z' has no observed value in the "
                       r"sample"):
        est.adjust_to_reference(sample.assign(z=np.nan), reference.assign(z=1.0),
                                covariates=["age", "z"])


def test_mismatched_dtypes(frames):
    sample, reference = frames
    with pytest.raises(ColumnError, match=r"covariate 'income' is categorical in the sample but "
                       r"numeric in the reference"):
        est.adjust_to_reference(sample.assign(income=sample["income"].astype(str)), reference,
                                covariates=COVARIATES)


def test_missing_in_one_frame_only(frames):
    sample, reference = frames
    s = sample.copy()
    s.loc[s.index[0], "sex"] = None
    with pytest.raises(ValidationError, match=r"has missing values in the sample but none in the "
                       r"reference"):
        est.adjust_to_reference(s, reference, covariates=COVARIATES)


def test_constant_covariate(frames):
    sample, reference = frames
    with pytest.raises(ValidationError, match=r"same value in every row of both samples"):
        est.adjust_to_reference(sample.assign(k=1.0), reference.assign(k=1.0),
                                covariates=["age", "k"])


def test_poststratify_cell_without_reference_rows():
    s = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "v", "u", "v"]})
    r = pd.DataFrame({"a": ["x", "x", "y"], "b": ["u", "v", "u"]})
    with pytest.raises(ValidationError, match=r"some cells of the sample never occur in the "
                       r"reference; got 1 value: 'y, v'"):
        est.adjust_to_reference(s, r, covariates=["a", "b"], method="poststratify")


def test_poststratify_cell_without_sample_rows():
    s = pd.DataFrame({"a": ["x", "x", "y"], "b": ["u", "v", "u"]})
    r = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "v", "u", "v"]})
    with pytest.raises(ValidationError, match=r"some cells of the reference have no sample rows"):
        est.adjust_to_reference(s, r, covariates=["a", "b"], method="poststratify")


def test_bad_options(frames):
    sample, reference = frames
    with pytest.raises(ValidationError, match=r"method: must be one of 'ipw'"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="logit")
    with pytest.raises(ValidationError, match=r"trim: must be a dict of trim\(\) options"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0.1, trim=5)
    with pytest.raises(ValidationError, match=r"penalties: must be a non-empty list"):
        est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalties=[-1.0])
    with pytest.raises(ValidationError, match=r"covariates: must name at least one column"):
        est.covariate_balance(sample, reference, covariates=[])
    with pytest.raises(ValidationError, match=r"covariates: names a column more than once"):
        est.covariate_balance(sample, reference, covariates=["age", "age"])


# -- variance with the reference's sampling error ------------------------------------------------


def test_reference_part_of_the_variance_closed_form(frames):
    # post-stratified mean sum_h P_h ybar_h with P_h from an SRS reference (weights 1): the
    # reference adds var(z) / n_R, z_j = ybar of the sample cell of reference row j
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=["age"], method="poststratify")
    full = fit.mean("y").to_frame()["std_error"].iloc[0]
    sample_only = fit.mean("y", include_reference=False).to_frame()["std_error"].iloc[0]
    cell_mean = sample.groupby("age")["y"].mean()
    z = reference["age"].map(cell_mean).to_numpy()
    assert full**2 - sample_only**2 == pytest.approx(z.var(ddof=1) / len(z), rel=1e-9)
    same = fit.design.mean("y").to_frame()["std_error"].iloc[0]
    assert sample_only == same


def test_reference_part_uses_the_reference_design(frames):
    sample, reference = frames
    by_column = est.adjust_to_reference(sample, reference, covariates=COVARIATES,
                                        method="entropy", reference_weights="t")
    by_design = est.adjust_to_reference(sample, est.SurveyDesign(reference, weights="t"),
                                        covariates=COVARIATES, method="entropy")
    a = by_column.mean("y")
    b = by_design.mean("y")
    assert a.std_error[0] == pytest.approx(b.std_error[0], rel=1e-12)
    assert a.variance_method == "taylor+reference"
    rd = est.replicate_design(by_column.design, method="bootstrap", replicates=10, rng=0)
    assert by_column.mean("y", design=rd).variance_method == "bootstrap+reference"


def test_bins_make_quantile_groups(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, penalty=0, bins=4)
    income = [name for name in fit.coefficients.index if name.startswith("income=")]
    assert len(income) == 3  # four quantile groups, the first left out
    assert income[-1].endswith(", inf]")


@pytest.mark.parametrize("method", ["ipw", "cbps", "entropy", "rake"])
def test_scaling_the_base_weights_changes_nothing(frames, method):
    sample, reference = frames
    d = np.linspace(1.0, 2.0, len(sample))
    one = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                  weights=d, penalty=0.01)
    three = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method=method,
                                    weights=3 * d, penalty=0.01)
    np.testing.assert_allclose(one.weights, three.weights, rtol=1e-6)


def test_penalised_fit_of_separated_samples_warns():
    s = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    r = pd.DataFrame({"x": np.linspace(2, 3, 60)})
    with pytest.warns(est.DataWarning, match=r"fitted membership scores of the sample and the "
                      r"reference do not overlap"):
        fit = est.adjust_to_reference(s, r, covariates=["x"], penalty=0.1)
    assert np.isfinite(fit.weights).all()


def test_balance_accepts_a_fit_as_weights(frames):
    sample, reference = frames
    fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES, method="rake")
    direct = est.covariate_balance(sample, reference, covariates=COVARIATES, weights=fit)
    pd.testing.assert_frame_equal(direct.to_frame(), fit.balance().to_frame())
    assert direct.design_effect == pytest.approx(fit.design_effect, rel=1e-12)


def test_entropy_out_of_reach():
    s = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    r = pd.DataFrame({"x": [5.0, 6.0, 7.0]})
    with pytest.raises(InfeasibleError, match=r"entropy balancing cannot reproduce the "
                       r"reference's means.*method='ipw' with a penalty"):
        est.adjust_to_reference(s, r, covariates=["x"], method="entropy")


def test_cbps_out_of_reach():
    s = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    r = pd.DataFrame({"x": [5.0, 6.0, 7.0]})
    with pytest.raises(est.ConvergenceError, match=r"cbps: the balance equations were not solved"):
        est.adjust_to_reference(s, r, covariates=["x"], method="cbps", bins=None)


def test_cbps_default_bins_name_the_value_ranges_out_of_reach():
    s = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    r = pd.DataFrame({"x": [5.0, 6.0, 7.0]})
    with pytest.raises(est.ValidationError,
                       match=r"covariate 'x' has quantile groups \(bins=\) in the sample that never "
                       r"occur in the reference; got 4 values: '\(-inf, 1\.6\]'"):
        est.adjust_to_reference(s, r, covariates=["x"], method="cbps")
