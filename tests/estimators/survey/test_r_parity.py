"""R survey parity: weights implied by fpc, degrees of freedom and t intervals (outside truth).

Reference: ``reference/survey_r_parity.R`` (R 4.2.2, survey 4.1.1; the man-page examples of
``fpc``, ``degf``/``confint`` and ``svyby(..., svyquantile)``) wrote ``survey_r_parity.json``.
Tolerances: 1e-8 relative on estimates and weights, 1e-7 on standard errors and intervals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import estimators as est

pytestmark = pytest.mark.reference

REF = Path(__file__).parent / "reference"
CASES: dict[str, Any] = json.loads((REF / "survey_r_parity.json").read_text())["cases"]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, keep_default_na=False, na_values=["NA"])


FPC = _read("survey_fpc.csv")
APISTRAT = _read("variance_apistrat.csv")
APICLUS1 = _read("variance_apiclus1.csv")


def rel(got: Any, want: Any) -> float:
    got = np.ravel(np.asarray(got, dtype=float))
    want = np.ravel(np.asarray(want, dtype=float))
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want) / np.abs(want), initial=0.0))


# -- weights implied by fpc -----------------------------------------------------------------------
FPC_DESIGNS = {
    "weights_no_fpc": dict(weights="weight", strata="stratid", psu="psuid"),
    "weights_fpc": dict(weights="weight", strata="stratid", psu="psuid", fpc="Nh"),
    "fpc_population_only": dict(strata="stratid", psu="psuid", fpc="Nh"),
    "fpc_fraction_only": dict(strata="stratid", psu="psuid", fpc="fraction"),
}


@pytest.mark.parametrize("name", list(FPC_DESIGNS))
def test_weights_implied_by_fpc_equal_r(name: str) -> None:
    data = FPC.assign(fraction=FPC["nh"] / FPC["Nh"])
    design = est.SurveyDesign(data, **FPC_DESIGNS[name])
    case = CASES[f"fpc/{name}"]
    assert rel(design.weight_array, case["weights"]) < 1e-12
    m = est.mean(design, "x")
    assert rel(m.estimate, case["estimate"]) < 1e-8
    assert rel(m.std_error, case["se"]) < 1e-7


# -- degrees of freedom ------------------------------------------------------------------------
def _design(name: str) -> Any:
    strat = est.SurveyDesign(APISTRAT, weights="pw", strata="stype", fpc="fpc")
    clus1 = est.SurveyDesign(APICLUS1, weights="pw", psu="dnum", fpc="fpc")
    return {
        "strat": strat,
        "clus1": clus1,
        "clus1_jk1": clus1.with_replicates("jk1"),
        "strat_jkn": strat.with_replicates("jkn"),
    }[name]


NAMES = ["strat", "clus1", "clus1_jk1", "strat_jkn"]


@pytest.mark.parametrize("name", NAMES)
def test_design_degrees_of_freedom_equal_r(name: str) -> None:
    assert _design(name).degrees_of_freedom == CASES[f"df/{name}/degf"]["degf"]


def _check_intervals(e: est.Estimate, case: dict[str, Any]) -> None:
    frame = e.to_frame()
    want = {k: np.atleast_1d(np.asarray(case[k], dtype=float))
            for k in ("estimate", "se", "ci_lower", "ci_upper")}
    assert rel(frame["estimate"], want["estimate"]) < 1e-8
    # shares of the stratum variable in a stratified design have an SE of rounding size
    zero = want["se"] < 1e-10 * np.abs(want["estimate"])
    assert (frame["std_error"].to_numpy()[zero] < 1e-10).all()
    for key, column in [("se", "std_error"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper")]:
        assert rel(frame[column].to_numpy()[~zero], want[key][~zero]) < 1e-7


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "statistic", ["mean_api00", "total_enroll", "ratio_api00_api99", "proportion_stype",
                  "by_stype_mean_api00"],
)
def test_t_intervals_with_design_degrees_of_freedom_equal_r(name: str, statistic: str) -> None:
    d = _design(name)
    call = {
        "mean_api00": lambda: est.mean(d, "api00", degrees_of_freedom="design"),
        "total_enroll": lambda: est.total(d, "enroll", degrees_of_freedom="design"),
        "ratio_api00_api99": lambda: est.ratio(d, "api00", "api99", degrees_of_freedom="design"),
        "proportion_stype": lambda: est.proportion(d, "stype", degrees_of_freedom="design"),
        "by_stype_mean_api00": lambda: est.mean(d, "api00", by="stype",
                                                degrees_of_freedom="design"),
    }[statistic]
    e = call()
    case = CASES[f"df/{name}/{statistic}"]
    assert (e.degrees_of_freedom == case["df"]).all()
    _check_intervals(e, case)


@pytest.mark.parametrize("name", NAMES)
def test_domain_degrees_of_freedom_equal_r(name: str) -> None:
    e = est.mean(_design(name), "api00", by="stype", degrees_of_freedom="domain")
    assert e.degrees_of_freedom.tolist() == CASES[f"df/{name}/by_stype_degf"]["degf"]


@pytest.mark.parametrize("name", NAMES)
def test_domain_quantiles_use_each_domain_degrees_of_freedom(name: str) -> None:
    case = CASES[f"df/{name}/by_stype_quantile_api00"]
    e = est.quantile(_design(name), "api00", 0.5, by="stype").to_frame()
    ok = np.isfinite(np.asarray(case["se"], dtype=float))  # R gives NaN where its interval fails
    if name == "clus1":
        # high schools: the lower end of the interval falls below probability 0, where R
        # extrapolates and equisample clips (the convention of test_reference_variance.py)
        ok[case["levels"].index("H")] = False
    for key, column in [("estimate", "estimate"), ("se", "std_error")]:
        assert rel(e[column].to_numpy()[ok], np.asarray(case[key], dtype=float)[ok]) < 1e-7


def test_numeric_degrees_of_freedom_and_bad_value() -> None:
    d = _design("clus1")
    e = est.mean(d, "api00", degrees_of_freedom=14)
    f = est.mean(d, "api00", degrees_of_freedom="design")
    assert np.allclose(e.to_frame()["ci_lower"], f.to_frame()["ci_lower"], rtol=1e-15)
    with pytest.raises(est.ValidationError, match="degrees_of_freedom: must be 'infinite'"):
        est.mean(d, "api00", degrees_of_freedom=-1)


# -- lonely PSUs ---------------------------------------------------------------------------------
def _lonely_design(kind: str) -> est.SurveyDesign:
    if kind == "fpc":
        data = APICLUS1.assign(population=np.where(APICLUS1["dnum"] == 413, 1.0, 1000.0))
        return est.SurveyDesign(data, weights="pw", strata="dnum", fpc="population")
    return est.SurveyDesign(APICLUS1, weights="pw", strata="dnum")


@pytest.mark.parametrize("option", ["adjust", "average", "certainty", "remove"])
@pytest.mark.parametrize("kind", ["no_fpc", "fpc"])
def test_lonely_psu_options_equal_r(option: str, kind: str) -> None:
    d = _lonely_design(kind)
    taylor = est.mean(d, "api00", lonely_psu=option)
    case = CASES[f"lonely/{option}/{kind}/taylor"]
    assert rel(taylor.estimate, case["estimate"]) < 1e-8
    assert rel(taylor.std_error, case["se"]) < 1e-7
    jkn = est.mean(d.with_replicates("jkn", lonely_psu=option), "api00")
    case = CASES[f"lonely/{option}/{kind}/jkn"]
    assert rel(jkn.estimate, case["estimate"]) < 1e-8
    assert rel(jkn.std_error, case["se"]) < 1e-7


@pytest.mark.parametrize("option", ["adjust", "average", "certainty", "remove"])
@pytest.mark.parametrize("adjust_domain", [False, True])
def test_domain_with_one_psu_left_equal_r(option: str, adjust_domain: bool) -> None:
    data = APICLUS1[APICLUS1["dnum"] != 413].reset_index(drop=True)
    case = CASES[f"lonely_domain/{option}/{str(adjust_domain).upper()}"]
    # R's ds[-31, ]: the domain is every row but the 31st
    data = data.assign(api00=data["api00"].astype(float).where(data.index != case["dropped_row"] - 1))
    d = est.SurveyDesign(data, weights="pw", strata="dnum")
    e = est.mean(d, "api00", nan_policy="omit", lonely_psu=option,
                 adjust_domain_lonely=adjust_domain)
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.std_error, case["se"]) < 1e-7


def test_average_gives_nan_where_every_stratum_of_a_domain_is_lonely() -> None:
    data = APICLUS1[APICLUS1["dnum"] != 413].reset_index(drop=True)
    data = data.assign(one=np.where(data.index == 30, "alone", "rest"))
    d = est.SurveyDesign(data, weights="pw", strata="dnum")
    e = est.mean(d, "api00", by="one", lonely_psu="average", adjust_domain_lonely=True)
    assert np.isnan(e.std_error[0]) and np.isfinite(e.std_error[1])


# -- proportion intervals (svyciprop) --------------------------------------------------------------
CIPROP = _read("survey_apiclus1.csv").assign(
    ell0=lambda f: (f["ell"] == 0).astype(float), emer0=lambda f: (f["emer"] == 0).astype(float)
)
CI_METHODS = ["logit", "asin", "beta", "mean", "xlogit"]


def _check_ciprop(e: est.Estimate, case: dict[str, Any]) -> None:
    frame = e.to_frame()
    assert rel(frame["estimate"], case["estimate"]) < 1e-8  # R's logit: expit of an IRLS fit
    assert rel(frame["std_error"], case["se"]) < 1e-7
    assert rel(frame["ci_lower"], case["ci_lower"]) < 1e-7
    assert rel(frame["ci_upper"], case["ci_upper"]) < 1e-7


@pytest.mark.parametrize("method", CI_METHODS)
def test_proportion_interval_taylor_equal_r(method: str) -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc")
    _check_ciprop(est.proportion_interval(d, "ell0", method=method),
                  CASES[f"ciprop/taylor/{method}"])


@pytest.mark.parametrize("method", CI_METHODS)
def test_proportion_interval_replicates_equal_r(method: str) -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc").with_replicates("jk1")
    _check_ciprop(est.proportion_interval(d, "emer0", method=method),
                  CASES[f"ciprop/jk1/{method}"])


@pytest.mark.parametrize("method", CI_METHODS)
def test_proportion_interval_domains_equal_r(method: str) -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc")
    _check_ciprop(est.proportion_interval(d, "ell0", method=method, by="stype"),
                  CASES[f"ciprop/by_stype/{method}"])


def test_proportion_interval_refuses_values_outside_zero_one() -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc")
    with pytest.raises(est.ValidationError, match="y: must hold 0/1"):
        est.proportion_interval(d, "ell")


# -- population variance (svyvar) ------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_variance_equal_r(name: str) -> None:
    d = _design(name)
    e = est.variance(d, "api00")
    case = CASES[f"svyvar/{name}"]
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.std_error, case["se"]) < 1e-7
    b = est.variance(d, "api00", by="stype")
    case = CASES[f"svyvar/{name}/by_stype"]
    assert b.labels["stype"].tolist() == case["levels"]
    assert rel(b.estimate, case["estimate"]) < 1e-8
    assert rel(b.std_error, case["se"]) < 1e-7


# -- contrasts (svycontrast) -------------------------------------------------------------------------
def _check(e: est.Estimate, case: dict[str, Any]) -> None:
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.std_error, case["se"]) < 1e-7


def test_linear_and_ratio_contrasts_of_totals_equal_r() -> None:
    totals = est.total(_design("clus1"), ["api00", "enroll", "api99"])
    _check(est.contrast(totals, {"avg": [0.5, 0, 0.5], "diff": [1, 0, -1]}), CASES["contrast/linear"])
    _check(est.contrast(totals, {"ratio": lambda t: t[0] / t[2]}), CASES["contrast/ratio"])


@pytest.mark.parametrize("kind", ["taylor", "jk1"])
def test_nonlinear_contrasts_geometric_means_equal_r(kind: str) -> None:
    data = APICLUS1.assign(log_api00=np.log(APICLUS1["api00"]), log_api99=np.log(APICLUS1["api99"]))
    d = est.SurveyDesign(data, weights="pw", psu="dnum", fpc="fpc")
    if kind == "jk1":
        d = d.with_replicates("jk1")
    means = est.mean(d, ["log_api00", "log_api99"])
    geometric = est.contrast(means, {"api00": lambda t: np.exp(t[0]), "api99": lambda t: np.exp(t[1])})
    _check(geometric, CASES[f"contrast/geometric_means/{kind}"])


def test_contrasts_of_domain_totals_equal_r() -> None:
    totals = est.total(_design("clus1"), "enroll", by="stype")
    shares = est.contrast(totals, {s: (lambda t, i=i: t[i] / t.sum()) for i, s in enumerate("EHM")})
    _check(shares, CASES["contrast/by_stype_shares"])


def test_contrast_needs_one_coefficient_per_estimate() -> None:
    totals = est.total(_design("clus1"), "enroll", by="stype")
    with pytest.raises(est.ValidationError, match="needs one coefficient per estimate"):
        est.contrast(totals, {"bad": [1, 1]})


# -- any statistic with replicate weights (withReplicates) -------------------------------------------
def test_replicate_estimate_of_a_ratio_equal_r() -> None:
    case = CASES["with_replicates/scd_ratio"]
    scd = _read("variance_scd.csv")
    rd = est.ReplicateDesign.from_weights(est.SurveyDesign(scd), np.asarray(case["repweights"]),
                                          method="brr")
    e = est.replicate_estimate(rd, lambda w, d: (w * d["alive"]).sum() / (w * d["arrests"]).sum())
    _check(e, case)


def test_replicate_estimate_reruns_the_weighting_on_each_replicate() -> None:
    case = CASES["with_replicates/calibrated_mean"]
    fit = est.calibrate(_design("clus1"), {"stype": case["totals"]})
    rd = fit.design.with_replicates("jk1")
    e = est.replicate_estimate(rd, lambda w, d: (w * d["api00"]).sum() / w.sum())
    _check(e, case)
    np.testing.assert_allclose(e.std_error, est.mean(rd, "api00").std_error, rtol=1e-10)


def test_replicate_estimate_needs_a_replicate_design() -> None:
    with pytest.raises(est.ValidationError, match="design: must be a ReplicateDesign"):
        est.replicate_estimate(_design("clus1"), lambda w, d: w.sum())


# -- quantile rules and interval types ---------------------------------------------------------------
RULES = ["math", "school", "shahvaish"] + [f"hf{i}" for i in range(1, 10)]


@pytest.mark.parametrize("name", ["clus1", "strat"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("interval_type", ["mean", "beta", "xlogit", "asin"])
@pytest.mark.parametrize("variable", ["api00", "ell"])
def test_quantile_rules_and_interval_types_equal_r(
    name: str, rule: str, interval_type: str, variable: str
) -> None:
    case = CASES[f"quantile/{name}/{variable}/{rule}/{interval_type}"]
    e = est.quantile(_design(name), variable, [0.25, 0.5, 0.75], rule=rule,
                     interval_type=interval_type).to_frame()
    want = {k: np.asarray(case[k], dtype=float) for k in ("estimate", "ci_lower", "ci_upper", "se")}
    ok = np.isfinite(want["se"])  # R gives NaN where a Woodruff limit leaves [0, 1]
    assert rel(e["estimate"], want["estimate"]) < 1e-8
    for key, column in [("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"), ("se", "std_error")]:
        assert rel(e[column].to_numpy()[ok], want[key][ok]) < 1e-7


# -- BRR with a user Hadamard matrix ---------------------------------------------------------------
@pytest.mark.parametrize("sign", [1, -1])
def test_user_hadamard_matrix_read_as_r(sign: int) -> None:
    case = CASES[f"brr_hadamard/{sign}"]
    pairs = _read("survey_brr_pairs.csv")
    d = est.SurveyDesign(pairs, weights="pw", strata="pair", psu="dnum")
    rd = d.with_replicates("brr", hadamard_matrix=np.asarray(case["hadamard"]))
    assert rel(rd.replicate_weights() + 1, np.asarray(case["replicate_weights"]) + 1) < 1e-12
    _check(est.mean(rd, "api00"), case)


# -- two-stage designs with a second-stage fpc ----------------------------------------------------
def test_two_stage_mu284_equal_r() -> None:
    case = CASES["multistage/mu284"]
    d = est.SurveyDesign(_read("survey_mu284.csv"), psu="id1", fpc="n1", ssu="id2", ssu_fpc="n2")
    assert rel(d.weight_array, case["weights"]) < 1e-12
    t, m = est.total(d, "y1"), est.mean(d, "y1")
    assert rel(t.estimate, case["total"]) < 1e-8 and rel(t.std_error, case["total_se"]) < 1e-7
    assert rel(m.estimate, case["mean"]) < 1e-8 and rel(m.std_error, case["mean_se"]) < 1e-7


@pytest.mark.parametrize("variable", ["api00", "enroll"])
def test_two_stage_apiclus2_equal_r(variable: str) -> None:
    case = CASES[f"multistage/apiclus2/{variable}"]
    d = est.SurveyDesign(_read("survey_apiclus2.csv"), psu="dnum", fpc="fpc1", ssu="snum",
                         ssu_fpc="fpc2")
    assert rel(d.weight_array, case["weights"]) < 1e-12
    m = est.mean(d, variable, nan_policy="omit")
    t = est.total(d, variable, nan_policy="omit")
    b = est.mean(d, variable, by="stype", nan_policy="omit")
    assert rel(m.estimate, case["mean"]) < 1e-8 and rel(m.std_error, case["mean_se"]) < 1e-7
    assert rel(t.estimate, case["total"]) < 1e-8 and rel(t.std_error, case["total_se"]) < 1e-7
    assert b.labels["stype"].tolist() == case["by_levels"]
    assert rel(b.estimate, case["by_mean"]) < 1e-8
    assert rel(b.std_error, case["by_mean_se"]) < 1e-7


def test_two_stage_ratio_equal_r() -> None:
    d = est.SurveyDesign(_read("survey_apiclus2.csv"), psu="dnum", fpc="fpc1", ssu="snum",
                         ssu_fpc="fpc2")
    _check(est.ratio(d, "api00", "api99"), CASES["multistage/apiclus2/ratio"])


def test_second_stage_fpc_needs_second_stage_units() -> None:
    with pytest.raises(est.DesignError, match="ssu_fpc: needs ssu"):
        est.SurveyDesign(_read("survey_mu284.csv"), psu="id1", fpc="n1", ssu_fpc="n2")


# -- PPS without replacement (Brewer) ------------------------------------------------------------
def test_pps_brewer_equal_r() -> None:
    case = CASES["pps/brewer"]
    d = est.SurveyDesign(_read("survey_election_pps.csv"), fpc="p", pps="brewer")
    assert rel(d.weight_array, case["weights"]) < 1e-12
    t = est.total(d, ["Bush", "Kerry", "Nader"])
    m = est.mean(d, ["Bush", "Kerry", "Nader"])
    assert rel(t.estimate, case["total"]) < 1e-8 and rel(t.std_error, case["total_se"]) < 1e-7
    assert rel(m.estimate, case["mean"]) < 1e-8 and rel(m.std_error, case["mean_se"]) < 1e-7


def test_pps_brewer_needs_probabilities() -> None:
    with pytest.raises(est.DesignError, match="fpc: with pps='brewer' must be inclusion"):
        est.SurveyDesign(_read("survey_election_pps.csv"), fpc="votes", pps="brewer")


@pytest.mark.parametrize("rule", ["math", "school", "hf7"])
@pytest.mark.parametrize("variable", ["api00", "ell"])
def test_replicate_quantile_intervals_equal_r(rule: str, variable: str) -> None:
    case = CASES[f"quantile_replicates/{variable}/{rule}"]
    e = est.quantile(_design("clus1_jk1"), variable, [0.25, 0.5, 0.75], rule=rule,
                     interval_type="quantile").to_frame()
    assert rel(e["estimate"], case["estimate"]) < 1e-8
    for key, column in [("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"), ("se", "std_error")]:
        assert rel(e[column], case[key]) < 1e-7


def test_quantile_interval_type_quantile_needs_replicates() -> None:
    with pytest.raises(est.ValidationError, match="interval_type: 'quantile' needs a replicate"):
        est.quantile(_design("clus1"), "api00", interval_type="quantile")


# -- covariance between ratios ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clus1", "clus1_jk1"])
def test_ratio_covariance_equal_r(name: str) -> None:
    case = CASES[f"ratio_covariance/{name}"]
    e = est.ratio(_design(name), ["api00", "api99"], ["enroll", "meals"])
    assert e.labels[["numerator", "denominator"]].values.tolist() == [
        ["api00", "enroll"], ["api99", "enroll"], ["api00", "meals"], ["api99", "meals"]]
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.covariance, case["covariance"]) < 1e-7


PPS_OPTIONS = {
    "overton": dict(pps="overton"),
    "hartley_rao": dict(pps="hartley_rao", hartley_rao_sum="psum"),
    "hartley_rao_yg": dict(pps="hartley_rao", hartley_rao_sum="psum", pps_variance="yates_grundy"),
    "hartley_rao_default": dict(pps="hartley_rao"),
    "joint": dict(pps="joint_probabilities"),
    "joint_yg": dict(pps="joint_probabilities", pps_variance="yates_grundy"),
}


@pytest.mark.parametrize("name", list(PPS_OPTIONS))
def test_pps_without_replacement_variances_equal_r(name: str) -> None:
    case = CASES[f"pps/{name}"]
    options: dict[str, Any] = dict(PPS_OPTIONS[name])
    if "hartley_rao_sum" in options:
        options["hartley_rao_sum"] = case["psum"]
    if options["pps"] == "joint_probabilities":
        options["joint_probabilities"] = _read("survey_election_jointprob.csv").to_numpy()
    d = est.SurveyDesign(_read("survey_election_pps.csv"), fpc="p", **options)
    t = est.total(d, ["Bush", "Kerry", "Nader"])
    assert rel(t.estimate, case["total"]) < 1e-8
    assert rel(t.covariance, case["total_covariance"]) < 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_variance_matrix_of_two_variables_equal_r(name: str) -> None:
    case = CASES[f"svyvar/{name}/matrix"]
    e = est.variance(_design(name), ["api00", "api99"])
    assert e.labels[["variable", "with"]].values.tolist() == [
        ["api00", "api00"], ["api99", "api00"], ["api00", "api99"], ["api99", "api99"]]
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.covariance, case["covariance"]) < 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_domain_quantiles_reproduce_r_exactly_with_hf1_and_no_clipping(name: str) -> None:
    # R's qrule="math" code is rule="hf1"; R's NaN limits are clip_limits=False
    case = CASES[f"df/{name}/by_stype_quantile_api00"]
    e = est.quantile(_design(name), "api00", 0.5, by="stype", rule="hf1", clip_limits=False)
    want = np.asarray(case["se"], dtype=float)
    assert np.array_equal(np.isnan(e.std_error), np.isnan(want))
    ok = ~np.isnan(want)
    assert rel(e.estimate, case["estimate"]) < 1e-8
    assert rel(e.std_error[ok], want[ok]) < 1e-7


@pytest.mark.parametrize("by", [None, "stype"])
def test_proportion_likelihood_interval_equal_r(by: str | None) -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc")
    key = "ciprop/taylor/likelihood" if by is None else "ciprop/by_stype/likelihood"
    _check_ciprop(est.proportion_interval(d, "ell0", method="likelihood", by=by), CASES[key])


def test_proportion_likelihood_interval_needs_a_plain_taylor_design() -> None:
    d = est.SurveyDesign(CIPROP, psu="dnum", fpc="fpc").with_replicates("jk1")
    with pytest.raises(est.ValidationError, match="method: 'likelihood' is available for Taylor"):
        est.proportion_interval(d, "emer0", method="likelihood")


@pytest.mark.parametrize("name", ["clus1", "strat"])
@pytest.mark.parametrize("variable", ["api00", "ell"])
def test_quantile_score_intervals_equal_r(name: str, variable: str) -> None:
    case = CASES[f"quantile_score/{name}/{variable}"]
    e = est.quantile(_design(name), variable, [0.25, 0.5, 0.75], interval_type="score").to_frame()
    assert rel(e["estimate"], case["estimate"]) < 1e-8
    for key, column in [("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"), ("se", "std_error")]:
        assert rel(e[column], case[key]) < 1e-7
