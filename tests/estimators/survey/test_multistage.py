"""Designs with three stages and the multistage rescaled bootstrap, against R survey.

Reference: ``reference/survey_multistage.R`` (R 4.2.2, survey 4.1.1) drew a stratified
three-stage sample (``survey_multistage.csv``; ``survey_multistage_lonely.csv`` adds lonely units
at stages 2 and 3, ``survey_multistage_lonely_strata.csv`` a lonely stage-2 stratum) and wrote R's
totals, means, ratios and domain estimates with their SEs (``svydesign(id = ~psu + ssu + tsu,
strata = ~s1, fpc = ~N1 + N2 + N3)``, R's default multistage variance) to
``survey_multistage.json``. Tolerances: 1e-8 relative on estimates and weights, 1e-7 on
standard errors.

The mrb replicates are random, so R's draws cannot be matched; the outside truth is the closed
form (the expected mrb variance of a total is the multistage Taylor variance: 20,000 replicates,
within 4 Monte Carlo standard errors and 3%) and, as a second check, the variance of R's own
``mrbweights`` over 4,000 replicates (within 4 combined Monte Carlo standard errors).
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
CASES: dict[str, Any] = json.loads((REF / "survey_multistage.json").read_text())["cases"]
MS = pd.read_csv(REF / "survey_multistage.csv")
LONELY = pd.read_csv(REF / "survey_multistage_lonely.csv")
LONELY_STRATA = pd.read_csv(REF / "survey_multistage_lonely_strata.csv")
STAGES = ["psu", "ssu", "tsu"]


def rel(got: Any, want: Any) -> float:
    got = np.ravel(np.asarray(got, dtype=float))
    want = np.ravel(np.asarray(want, dtype=float))
    assert got.shape == want.shape
    missing = np.isnan(want)  # R: NaN where a lonely unit leaves no variance ("average")
    assert np.array_equal(np.isnan(got), missing)
    return float(np.max(np.abs(got - want)[~missing] / np.abs(want[~missing]), initial=0.0))


def _fractions(df: pd.DataFrame) -> pd.DataFrame:
    n1 = df.groupby("s1")["psu"].transform("nunique")
    n2 = df.groupby("psu")["ssu"].transform("nunique")
    n3 = df.groupby(["psu", "ssu"])["tsu"].transform("size")
    return df.assign(f1=n1 / df["N1"], f2=n2 / df["N2"], f3=n3 / df["N3"], inf=np.inf)


DESIGNS: dict[str, dict[str, Any]] = {
    "three_stage": dict(strata="s1", psu=STAGES, fpc=["N1", "N2", "N3"]),
    "three_stage_fraction": dict(strata="s1", psu=STAGES, fpc=["f1", "f2", "f3"]),
    "three_stage_strata": dict(strata="s1", psu=STAGES, fpc=["N1", "N2s", "N3"],
                               stage_strata=["s2"]),
    "three_stage_weighted": dict(strata="s1", psu=STAGES, fpc=["N1", "N2", "N3"], weights="w"),
    "third_stage_with_replacement": dict(strata="s1", psu=STAGES, fpc=["N1", "N2", np.inf],
                                         weights="w"),
    "second_stage_with_replacement": dict(strata="s1", psu=STAGES, fpc=["N1", "inf", "N3"],
                                          weights="w"),
    "two_stage_of_three": dict(strata="s1", psu="psu", fpc="N1", ssu="ssu", ssu_fpc="N2"),
}


def _design(name: str, data: pd.DataFrame = MS, **options: Any) -> est.SurveyDesign:
    frame = _fractions(data).assign(w=1.1 + data["x"] / 100)
    return est.SurveyDesign(frame, **{**DESIGNS[name], **options})


def _check_all(d: est.SurveyDesign, case: dict[str, Any], **options: Any) -> dict[str, float]:
    """Largest relative differences to R, per quantity (estimates and SEs)."""
    t, m = est.total(d, "y", **options), est.mean(d, "y", **options)
    r = est.ratio(d, "y", "x", **options)
    bm = est.mean(d, "y", by="dom", **options)
    bt = est.total(d, "y", by="dom", **options)
    br = est.ratio(d, "y", "x", by="dom", **options)
    assert bm.labels["dom"].tolist() == case["by_levels"]
    got = {
        "weights": rel(d.weight_array, case["weights"]),
        "total": rel(t.estimate, case["total"]), "total_se": rel(t.std_error, case["total_se"]),
        "mean": rel(m.estimate, case["mean"]), "mean_se": rel(m.std_error, case["mean_se"]),
        "ratio": rel(r.estimate, case["ratio"]), "ratio_se": rel(r.std_error, case["ratio_se"]),
        "by_mean": rel(bm.estimate, case["by_mean"]),
        "by_mean_se": rel(bm.std_error, case["by_mean_se"]),
        "by_total": rel(bt.estimate, case["by_total"]),
        "by_total_se": rel(bt.std_error, case["by_total_se"]),
        "by_ratio": rel(br.estimate, case["by_ratio"]),
        "by_ratio_se": rel(br.std_error, case["by_ratio_se"]),
    }
    return got


def _assert_close(got: dict[str, float]) -> None:
    for key, value in got.items():
        tolerance = 1e-7 if key.endswith("_se") else 1e-8
        assert value < tolerance, (key, value)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_three_stage_designs_equal_r(name: str) -> None:
    _assert_close(_check_all(_design(name), CASES[f"design/{name}"]))


def test_calibrated_three_stage_design_equal_r() -> None:
    case = CASES["calibrated/three_stage"]
    totals = case["totals"]
    population = totals["(Intercept)"]
    fit = est.calibrate(
        _design("three_stage"),
        {"kind": {"public": totals["kindpublic"], "private": population - totals["kindpublic"]},
         "x": totals["x"]},
        tol=1e-13,
    )
    _assert_close(_check_all(fit.design, case))


@pytest.mark.parametrize("lonely_psu", ["adjust", "average", "certainty", "remove"])
@pytest.mark.parametrize("domain", [False, True])
def test_lonely_units_at_later_stages_equal_r(lonely_psu: str, domain: bool) -> None:
    case = CASES[f"lonely/{lonely_psu}/{str(domain).lower()}"]
    d = _design("three_stage", LONELY)
    _assert_close(_check_all(d, case, lonely_psu=lonely_psu, adjust_domain_lonely=domain))


@pytest.mark.parametrize("lonely_psu", ["adjust", "average", "certainty", "remove"])
@pytest.mark.parametrize("domain", [False, True])
def test_lonely_stratum_at_a_later_stage_equal_r(lonely_psu: str, domain: bool) -> None:
    case = CASES[f"lonely_strata/{lonely_psu}/{str(domain).lower()}"]
    d = _design("three_stage_strata", LONELY_STRATA)
    _assert_close(_check_all(d, case, lonely_psu=lonely_psu, adjust_domain_lonely=domain))


def test_lonely_unit_at_a_later_stage_raises_by_default() -> None:
    with pytest.raises(est.DesignError, match=r"lonely_psu: some strata have only one PSU.*stage 2"):
        est.total(_design("three_stage", LONELY), "y")


def test_stages_given_with_psu_equal_ssu_and_ssu_fpc() -> None:
    a = est.SurveyDesign(MS, strata="s1", psu=["psu", "ssu"], fpc=["N1", "N2"])
    b = est.SurveyDesign(MS, strata="s1", psu="psu", fpc="N1", ssu="ssu", ssu_fpc="N2")
    np.testing.assert_array_equal(a.weight_array, b.weight_array)
    assert est.mean(a, "y", by="dom").std_error.tolist() == \
        est.mean(b, "y", by="dom").std_error.tolist()


def test_a_stage_without_fpc_ends_the_variance_at_the_stage_above() -> None:
    w = MS["N1"]  # any weights
    two = est.SurveyDesign(MS, weights=w, strata="s1", psu=["psu", "ssu", "tsu"],
                           fpc=["N1", "N2", None])
    plain = est.SurveyDesign(MS, weights=w, strata="s1", psu=["psu", "ssu"], fpc=["N1", "N2"])
    assert rel(est.total(two, "y").std_error, est.total(plain, "y").std_error) < 1e-12


def test_weights_cannot_be_implied_by_an_infinite_fpc() -> None:
    with pytest.raises(est.DesignError, match="weights: cannot be implied by an infinite fpc at"):
        est.SurveyDesign(MS, strata="s1", psu=STAGES, fpc=["N1", "N2", np.inf])


def test_later_stage_fpc_must_not_be_missing() -> None:
    with pytest.raises(est.ValidationError, match="fpc: must not contain missing values"):
        est.SurveyDesign(MS, strata="s1", psu=STAGES, fpc=["N1", "N2", np.nan])


def test_fpc_needs_one_entry_per_stage() -> None:
    with pytest.raises(est.DesignError, match=r"fpc: must have one entry per stage \(3\)"):
        est.SurveyDesign(MS, psu=STAGES, fpc=["N1", "N2"])


def test_psu_per_stage_cannot_be_combined_with_ssu() -> None:
    with pytest.raises(est.DesignError, match="ssu: cannot be combined with psu given per stage"):
        est.SurveyDesign(MS, psu=STAGES, ssu="ssu")


def test_stage_strata_needs_later_stages() -> None:
    with pytest.raises(est.DesignError, match="stage_strata: needs later stages"):
        est.SurveyDesign(MS, psu="psu", stage_strata="s2")


def test_stage_strata_has_one_entry_per_later_stage() -> None:
    with pytest.raises(est.DesignError, match=r"stage_strata: has one entry per stage after the"):
        est.SurveyDesign(MS, psu=STAGES, stage_strata=["s2", None, None])


def test_units_must_lie_in_one_stage_stratum() -> None:
    with pytest.raises(est.DesignError, match="stage_strata: each unit of stage 2 must lie in"):
        est.SurveyDesign(MS, psu=STAGES, stage_strata=["dom"])


def test_later_stage_fpc_must_be_constant_within_its_strata() -> None:
    with pytest.raises(est.DesignError, match="fpc: must be constant within each stratum of stage 3"):
        est.SurveyDesign(MS, strata="s1", psu=STAGES, fpc=["N1", "N2", "x"])


def test_later_stage_population_must_hold_the_sample() -> None:
    with pytest.raises(est.DesignError, match="fpc: population size is smaller than the number of"
                       " sampled units at stage 2"):
        est.SurveyDesign(MS.assign(one=2), strata="s1", psu=STAGES, fpc=["N1", "one", "N3"])


def test_later_stage_needs_unit_labels() -> None:
    with pytest.raises(est.DesignError, match="psu: stage 2 needs the column of its unit labels"):
        est.SurveyDesign(MS, psu=["psu", []])


def test_later_stage_fpc_with_pps_is_refused() -> None:
    frame = MS.assign(p=0.2)
    with pytest.raises(est.DesignError, match="pps: supports finite-population corrections at"):
        est.SurveyDesign(frame, psu=["psu", "ssu"], fpc=["p", "N2"], pps="brewer")


# -- multistage rescaled bootstrap ------------------------------------------------------------------
def _mrb_variance(design: est.SurveyDesign, variable: str, R: int, rng: int) -> tuple[float, float]:
    """mrb variance of a total and its Monte Carlo standard error (from the replicates)."""
    rd = design.with_replicates("mrb", replicates=R, rng=rng)
    totals = rd.replicate_weights().T @ design.data[variable].to_numpy()
    sq = (totals - totals.mean()) ** 2
    return float(sq.sum() / (R - 1)), float(sq.std(ddof=1) / np.sqrt(R))


@pytest.mark.parametrize("name", ["three_stage", "three_stage_strata"])
@pytest.mark.parametrize("variable", ["y", "x"])
def test_mrb_variance_is_the_multistage_taylor_variance_on_average(name: str, variable: str) -> None:
    case = CASES[f"mrb/{name}"]
    d = _design(name)
    taylor = est.total(d, variable).std_error[0] ** 2
    assert rel(taylor, case[f"taylor_variance_{variable}"]) < 1e-7  # the closed form, as R
    mrb, mc_se = _mrb_variance(d, variable, 20_000, rng=11)
    assert abs(mrb - taylor) < 4 * mc_se and abs(mrb / taylor - 1) < 0.03
    r_mrb, r_mc_se = case[f"variance_{variable}"], case[f"mc_se_{variable}"]  # R's mrbweights
    assert abs(r_mrb - taylor) < 4 * r_mc_se
    assert abs(mrb - r_mrb) < 4 * np.hypot(mc_se, r_mc_se)


def test_mrb_variance_on_r_two_stage_mu284_is_the_taylor_variance_on_average() -> None:
    mu = pd.read_csv(REF / "survey_mu284.csv")
    d = est.SurveyDesign(mu, psu="id1", fpc="n1", ssu="id2", ssu_fpc="n2")
    taylor = est.total(d, "y1").std_error[0] ** 2
    mrb, mc_se = _mrb_variance(d, "y1", 20_000, rng=11)
    assert abs(mrb - taylor) < 4 * mc_se and abs(mrb / taylor - 1) < 0.03


def test_mrb_later_stage_multipliers() -> None:
    d = _design("three_stage")
    rd = d.with_replicates("mrb", replicates=50, rng=3)
    factors = rd.replicate_weights() / d.weight_array[:, None]
    # every row's multiplier averages 1 over the half-samples; rows of a school share theirs
    # only at the first two stages, so the pupils of one school differ
    school = (MS["psu"].astype(str) + MS["ssu"]).to_numpy()
    first = school == school[0]
    assert not np.allclose(factors[first][0], factors[first][1])
    mean = d.with_replicates("mrb", replicates=20_000, rng=5).replicate_weights().mean(axis=1)
    assert np.abs(mean / d.weight_array - 1).max() < 0.1


def test_mrb_without_fpc_uses_the_first_stage_only() -> None:
    d = est.SurveyDesign(MS, strata="s1", psu=STAGES)
    rd = d.with_replicates("mrb", replicates=20, rng=1)
    factors = rd.replicate_weights()
    psu = MS["psu"].to_numpy()
    for p in np.unique(psu):
        block = factors[psu == p]
        assert np.allclose(block, block[0])


def test_mrb_on_a_raked_three_stage_design_reruns_the_raking_per_replicate() -> None:
    d = _design("three_stage")
    fit = est.rake(d, {"kind": {"public": 3700, "private": 3800},
                       "dom": {"girls": 3600, "boys": 3900}})
    rd = fit.design.with_replicates("mrb", replicates=200, rng=2)
    se = est.mean(rd, "y", by="s1").std_error
    weights = rd.replicate_weights()  # the raking re-run on each replicate, row by row
    y, s1 = d.data["y"].to_numpy(), d.data["s1"].to_numpy()
    want = []
    for level in ["A", "B", "C"]:
        rows = s1 == level
        means = (weights[rows] * y[rows, None]).sum(axis=0) / weights[rows].sum(axis=0)
        want.append(np.sqrt(((means - means.mean()) ** 2).sum() / 199))
    assert rel(se, want) < 1e-9
