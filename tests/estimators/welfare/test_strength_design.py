"""Design-based Bradley–Terry against R ``survey::svyglm`` (quasibinomial, no intercept).

Reference values: tests/estimators/welfare/reference/rater_design.json, produced by
tests/estimators/welfare/reference/rater_design.R (R 4.2.2, survey 4.1.1) from the CSVs
written by rater_design_generate_data.py. R's coefficients are log-strength differences against m1;
they equal differences of our centred log-strengths, so contrasts ``mi - mj`` and their SEs
(``c' V c``) are compared. Tolerance: 1e-6 relative (SEs), 1e-8 absolute (estimates).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.errors import DataWarning, DesignError, ValidationError

pytestmark = pytest.mark.reference

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "rater_design.json").read_text())
CASES = REF["bt_cases"]
RTOL = 1e-6
OPTIONS = ["m1", "m2", "m3", "m4", "m5"]


@pytest.fixture(scope="module")
def raters():
    return pd.read_csv(HERE / "rater_design_raters.csv")


@pytest.fixture(scope="module")
def battles():
    return pd.read_csv(HERE / "rater_design_battles.csv")


def _contrasts(fit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Our contrasts and SEs, and R's, in R's order (mi - mj, i < j)."""
    return _contrasts_of(fit.params, fit.cov)


def _contrasts_of(params, cov, case=None):
    ours_est, ours_se = [], []
    for i in range(5):
        for j in range(i + 1, 5):
            c = np.zeros(5)
            c[i], c[j] = 1.0, -1.0
            ours_est.append(c @ params[OPTIONS].to_numpy())
            ours_se.append(np.sqrt(c @ cov.loc[OPTIONS, OPTIONS].to_numpy() @ c))
    return np.array(ours_est), np.array(ours_se)


def _check(fit, case, rtol=RTOL):
    ref = CASES[case]["contrasts"]
    assert [r["contrast"] for r in ref][:2] == ["m1 - m2", "m1 - m3"]
    est_, se = _contrasts(fit)
    ref_est = np.array([r["estimate"] for r in ref])
    ref_se = np.array([r["se"] for r in ref])
    np.testing.assert_allclose(est_, ref_est, rtol=0, atol=1e-8)
    np.testing.assert_allclose(se, ref_se, rtol=rtol, atol=0)
    return float(np.max(np.abs(se / ref_se - 1)))


def _fit(battles, design, **kw):
    return est.bradley_terry(battles, design=design, rater="rater", **kw)


def test_weighted_psu(battles, raters):
    fit = _fit(battles, est.SurveyDesign(raters, weights="weight"))
    _check(fit, "weighted_psu")
    assert fit.variance_method.startswith("design (Taylor")
    np.testing.assert_allclose(fit.std_errors, np.sqrt(np.diag(fit.cov)))
    assert abs(fit.params.sum()) < 1e-12
    np.testing.assert_allclose(fit.cov.sum(axis=1), 0.0, atol=1e-14)


def test_rater_ids_from_the_design_index(battles, raters):
    indexed = raters.set_index("rater")
    fit = _fit(battles, est.SurveyDesign(indexed, weights="weight"))
    _check(fit, "weighted_psu")


def test_stratified(battles, raters):
    fit = _fit(battles, est.SurveyDesign(raters, weights="weight", strata="stratum"))
    _check(fit, "stratified")


def test_domain_uses_the_whole_design(battles, raters):
    fit = _fit(battles, est.SurveyDesign(raters, weights="weight"), by="group")
    assert set(fit.groups) == {"A", "B", "C"}
    _check(fit.groups["B"], "domain")
    _check(fit, "weighted_psu")  # the overall fit is unchanged by by=
    frame = fit.to_frame()
    assert list(frame.columns) == ["group", "option", "strength", "std_error", "ci_lower",
                                   "ci_upper", "rank"]
    assert frame["group"].tolist() == ["all"] * 5 + ["A"] * 5 + ["B"] * 5 + ["C"] * 5


def test_domain_from_a_battles_column_equals_design_column(battles, raters):
    with_group = battles.merge(raters[["rater", "group"]], on="rater", how="left")
    with_group.index = battles.index
    fit = _fit(with_group, est.SurveyDesign(raters.drop(columns="group"), weights="weight"),
               by="group")
    _check(fit.groups["B"], "domain")


def test_jk1_replicates(battles, raters):
    rd = est.replicate_design(est.SurveyDesign(raters, weights="weight", psu="rater"),
                              method="jk1")
    assert rd.scale == pytest.approx(CASES["jk1"]["scale"], rel=1e-15)
    assert rd.n_replicates == CASES["jk1"]["n_replicates"]
    assert rd.mse == CASES["jk1"]["mse"]
    fit = _fit(battles, rd)
    _check(fit, "jk1")
    assert fit.variance_method.startswith("design (replicates: jk1")
    assert fit.replicate_draws.shape == (200, 5)


def test_win_probability_delta_method(battles, raters):
    fit = _fit(battles, est.SurveyDesign(raters, weights="weight"))
    ref = CASES["win_probability"]
    for (a, b), key in ((("m3", "m2"), "m3_beats_m2"), (("m2", "m1"), "m2_beats_m1")):
        row = fit.win_probability(a, b).iloc[0]
        assert row["probability"] == pytest.approx(ref[key]["estimate"], rel=1e-9)
        assert row["std_error"] == pytest.approx(ref[key]["se"], rel=RTOL)
        assert row["ci_lower"] < row["probability"] < row["ci_upper"]


def _raked(raters):
    margins = CASES["raked_linearized"]["margins"]
    design = est.SurveyDesign(raters, weights="weight", psu="rater")
    return est.rake(design, margins, tol=1e-14).design


def test_raked_linearized(battles, raters):
    design = _raked(raters)
    ref = CASES["raked_linearized"]["raked_weights"]
    np.testing.assert_allclose(design.weight_array, [ref[r] for r in raters["rater"]],
                               rtol=1e-10)
    fit = _fit(battles, design)
    _check(fit, "raked_linearized")


def test_raked_jk1_re_rakes_every_replicate(battles, raters):
    rd = est.replicate_design(_raked(raters), method="jk1")
    fit = _fit(battles, rd)
    _check(fit, "raked_jk1")


def test_rank_uncertainty_from_replicates_and_draws(battles, raters):
    rd = est.replicate_design(est.SurveyDesign(raters, weights="weight"), method="bootstrap",
                              replicates=60, rng=3)
    fit = _fit(battles, rd)
    ru = fit.rank_uncertainty()
    assert list(ru.columns) == ["option", "rank", "p_best", "rank_lower", "rank_upper"]
    assert ru["p_best"].sum() == pytest.approx(1.0)
    assert (ru["rank_lower"] <= ru["rank"]).all() and (ru["rank"] <= ru["rank_upper"]).all()
    normal = fit.rank_uncertainty(method="normal", draws=2000, rng=1)
    assert normal["p_best"].sum() == pytest.approx(1.0)
    again = fit.rank_uncertainty(method="normal", draws=2000, rng=1)
    pd.testing.assert_frame_equal(normal, again)


# -- bad input -----------------------------------------------------------------------------------
def test_unknown_rater_ids_are_named(battles, raters):
    design = est.SurveyDesign(raters[raters["rater"] != "r007"], weights="weight")
    with pytest.raises(ValidationError, match=r"rater: has rater ids that are not rows of the "
                       r"design; got 1 value: 'r007'"):
        _fit(battles, design)


def test_duplicate_rater_ids_in_design(battles, raters):
    doubled = pd.concat([raters, raters.iloc[[4]]], ignore_index=True)
    with pytest.raises(ValidationError, match=r"design: must have one row per rater.*'r005'"):
        _fit(battles, est.SurveyDesign(doubled, weights="weight"))


def test_comparisons_without_a_rater(battles, raters):
    holes = battles.copy()
    holes.loc[[3, 10], "rater"] = None
    with pytest.raises(ValidationError, match="rater: every comparison needs a rater id"):
        _fit(holes, est.SurveyDesign(raters, weights="weight"))


def test_rater_is_required_with_a_design(battles, raters):
    with pytest.raises(ValidationError, match="rater: is needed with design="):
        est.bradley_terry(battles, design=est.SurveyDesign(raters, weights="weight"))


def test_weights_and_design_together(battles, raters):
    with pytest.raises(ValidationError, match="weights: cannot be combined with design="):
        est.bradley_terry(battles, weights=np.ones(len(battles)), rater="rater",
                          design=est.SurveyDesign(raters, weights="weight"))


def test_rater_without_design(battles):
    with pytest.raises(ValidationError, match="rater: is used only with design="):
        est.bradley_terry(battles, rater="rater")


def test_weights_without_design_warn(battles):
    with pytest.warns(DataWarning, match="weights without design="):
        fit = est.bradley_terry(battles, weights=np.ones(len(battles)))
    assert fit.variance_method == "model (independent comparisons, frequency weights)"


def test_disconnected_group_is_regularised_alone(battles, raters):
    data = battles.merge(raters[["rater", "group"]], on="rater", how="left")
    data.index = battles.index
    # in group C, m5 never loses: C's graph is not strongly connected
    keep = ~((data["group"] == "C") & (data["loser"] == "m5"))
    data = data[keep]
    design = est.SurveyDesign(raters, weights="weight")
    with pytest.warns(DataWarning, match="group 'C': the comparison graph is not strongly "
                      "connected") as record:
        fit = est.bradley_terry(data, design=design, rater="rater", by="group")
    assert len(record) == 1 and record[0].filename == __file__
    assert fit.groups["C"].regularization > 0 and not fit.groups["C"].strongly_connected
    assert fit.regularization == 0 and fit.groups["A"].regularization == 0
    assert np.isfinite(fit.groups["C"].std_errors).all()


def test_plackett_luce_on_pairs_equals_bradley_terry(battles, raters):
    """Top-1 choices from pairs are Bradley–Terry comparisons: same fit, same design SEs."""
    pairs = pd.DataFrame({"shown": list(zip(battles["winner"], battles["loser"])),
                          "chosen": battles["winner"], "rater": battles["rater"]})
    design = est.SurveyDesign(raters, weights="weight", strata="stratum")
    pl = est.plackett_luce(pairs, design=design, rater="rater")
    bt = _fit(battles, design)
    np.testing.assert_allclose(pl.params, bt.params, atol=1e-10)
    np.testing.assert_allclose(pl.cov, bt.cov, rtol=1e-8, atol=1e-14)
    _check(pl, "stratified")
    rd = est.replicate_design(est.SurveyDesign(raters, weights="weight"), method="jk1")
    _check(est.plackett_luce(pairs, design=rd, rater="rater"), "jk1")


def test_replicate_that_empties_a_group_is_refused():
    cycle = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c")]
    rows = [(w, lo, f"p{k}") for k in range(10) for w, lo in cycle]
    b = pd.DataFrame(rows, columns=["winner", "loser", "rater"])
    people = pd.DataFrame({"rater": [f"p{k}" for k in range(10)],
                           "team": ["solo"] + ["crowd"] * 9})
    rd = est.replicate_design(est.SurveyDesign(people), method="bootstrap", replicates=20, rng=0)
    with pytest.raises(DesignError, match="design: some replicates give no estimate"):
        est.bradley_terry(b, design=rd, rater="rater", by="team")


def test_aggregate_passes_the_design_to_the_model(battles, raters):
    design = est.SurveyDesign(raters, weights="weight")
    res = est.aggregate(battles, rule="bradley_terry", design=design, rater="rater")
    _check(res.model, "weighted_psu")
    assert res.winner == res.model.params.idxmax()
    with pytest.raises(ValidationError, match="design: is used only by the model-based rules"):
        est.aggregate(battles, rule="copeland", design=design, rater="rater")


def test_plackett_luce_rankings_sandwich_by_numerical_differentiation():
    """Rankings with several raters each: the Taylor covariance equals the sandwich built from
    finite-difference scores and Hessian of a plain-Python log-likelihood (raters as PSUs)."""
    rng = np.random.default_rng(5)
    opts = ["a", "b", "c", "d"]
    rows = []
    for r in range(30):
        for _ in range(rng.integers(1, 4)):
            k = rng.integers(2, 5)
            rows.append((f"p{r}", tuple(rng.permutation(opts)[:k])))
    data = pd.DataFrame(rows, columns=["rater", "ranking"])
    people = pd.DataFrame({"rater": [f"p{r}" for r in range(30)],
                           "w": rng.uniform(0.5, 3.0, 30)})
    fit = est.plackett_luce(data, ranking="ranking",
                            design=est.SurveyDesign(people, weights="w"), rater="rater")
    w = people.set_index("rater")["w"]

    def loglik(theta, rater=None):
        t = dict(zip(opts, theta))
        total = 0.0
        for who, ranking in rows:
            if rater is not None and who != rater:
                continue
            for k in range(len(ranking) - 1):
                rest = ranking[k:]
                total += w[who] * (t[ranking[k]] - np.log(sum(np.exp(t[o]) for o in rest)))
        return total

    theta = fit.params[opts].to_numpy()
    h = 1e-5
    eye = np.eye(4)
    scores = np.array([[(loglik(theta + h * eye[j], p) - loglik(theta - h * eye[j], p)) / (2 * h)
                        for j in range(4)] for p in people["rater"]])
    hess = np.array([[(loglik(theta + h * (eye[i] + eye[j])) - loglik(theta + h * (eye[i] - eye[j]))
                       - loglik(theta - h * (eye[i] - eye[j])) + loglik(theta - h * (eye[i] + eye[j])))
                      / (4 * h * h) for j in range(4)] for i in range(4)])
    n = len(scores)
    dev = scores - scores.mean(axis=0)
    middle = n / (n - 1) * dev.T @ dev
    c = np.eye(4) - 0.25
    hinv = c @ np.linalg.inv(-hess + 0.25) @ c
    expected = hinv @ middle @ hinv
    np.testing.assert_allclose(fit.cov.loc[opts, opts].to_numpy(), expected, rtol=1e-4, atol=1e-8)


def test_design_options_reach_the_variance(battles, raters):
    lonely = raters.assign(stratum=np.where(raters["rater"] == "r001", "S0", raters["stratum"]))
    design = est.SurveyDesign(lonely, weights="weight", strata="stratum")
    with pytest.raises(DesignError, match="lonely_psu: some strata have only one PSU"):
        _fit(battles, design)
    adjusted = _fit(battles, design, lonely_psu="adjust")
    assert np.isfinite(adjusted.std_errors).all()
    raked = _raked(raters)
    greg = _fit(battles, raked)
    backfit = _fit(battles, raked, raking_variance="backfit")
    np.testing.assert_allclose(backfit.params, greg.params)
    np.testing.assert_allclose(backfit.std_errors, greg.std_errors, rtol=0.05)


def test_warnings_point_at_the_caller(battles):
    with pytest.warns(DataWarning) as record:
        est.bradley_terry(battles.iloc[:3])
    assert record[0].filename == __file__


def test_jk1_domains_agree_with_taylor_domains(battles, raters):
    """No R value for replicate domains: the JK1 and Taylor domain SEs agree to a few percent
    (here 2-4%; the jackknife of a smooth statistic is a linearisation to first order)."""
    taylor = _fit(battles, est.SurveyDesign(raters, weights="weight"), by="group")
    rd = est.replicate_design(est.SurveyDesign(raters, weights="weight"), method="jk1")
    jk = _fit(battles, rd, by="group")
    for g in "ABC":
        np.testing.assert_allclose(jk.groups[g].params, taylor.groups[g].params)
        np.testing.assert_allclose(jk.groups[g].std_errors, taylor.groups[g].std_errors, rtol=0.06)
