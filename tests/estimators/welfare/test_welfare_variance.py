"""Design-based standard errors of every welfare measure.

Outside truth: reference/rater_design.json (R 4.2.2, survey 4.1.1, convey 1.0.1;
script rater_design.R on rater_design_utilities.csv, made by
rater_design_generate_data.py). Independent checks: the linearised SEs agree with jackknife and
bootstrap replicate SEs on simulated designs, and a coverage study (marked slow).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.welfare import _welfare_variance as variance

REFERENCE = Path(__file__).parent / "reference"
R_CASES = json.loads((REFERENCE / "rater_design.json").read_text())["welfare_cases"]
EST_REL = 1e-8
SE_REL = 1e-7


def _utilities() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = pd.read_csv(REFERENCE / "rater_design_utilities.csv")
    return data, data.set_index("rater")[["u1", "u2"]]


def _stratified(data: pd.DataFrame, weights: str | None = "weight") -> est.SurveyDesign:
    return est.SurveyDesign(data, weights=weights, strata="stratum", psu="psu")


def _row(res: est.WelfareResult, option: str = "u1") -> pd.Series:
    return res.to_frame().set_index("option").loc[option]


# -- R survey / convey -----------------------------------------------------------------------------


@pytest.mark.reference
def test_utilitarian_matches_svymean():
    data, u = _utilities()
    row = _row(est.welfare(u, design=_stratified(data)))
    ref = R_CASES["svymean_u1"]
    assert row["welfare"] == pytest.approx(ref["estimate"], rel=EST_REL)
    assert row["std_error"] == pytest.approx(ref["se"], rel=SE_REL)


@pytest.mark.reference
@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_atkinson_index_matches_convey_svyatk(eps):
    data, u = _utilities()
    row = _row(est.welfare(u, swf="atkinson", eps=eps, design=_stratified(data)))
    ref = R_CASES["svyatk_u1"][f"epsilon_{eps:g}"]
    assert row["inequality"] == pytest.approx(ref["estimate"], rel=EST_REL)
    assert row["inequality_std_error"] == pytest.approx(ref["se"], rel=SE_REL)


def _convey_gini_influence(x: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """convey's estimator ``sum w x (2 r - 1) / (W T) - 1`` and its derivative in the weights.

    It is the plug-in plus ``sum w x (w - 1) / (W T)``, so its derivative is the plug-in's
    (``variance.Gini``) plus the derivative of that term.
    """
    mask = np.ones(len(x), dtype=bool)
    plug = variance.Gini(x, mask)
    g = float(plug.value(w[:, None])[0])
    total, t = w.sum(), float(w @ x)
    extra = float(np.dot(w * x, w - 1.0) / (total * t))
    z = plug.influence(w) + ((2.0 * w - 1.0) * x - extra * (t + total * x)) / (total * t)
    return g + extra, z


@pytest.mark.reference
@pytest.mark.parametrize("case, weights", [("svygini_u1_unit_weights", None),
                                           ("svygini_u1_unequal_weights_extra", "weight")])
def test_gini_linearisation_matches_convey_for_convey_estimator(case, weights):
    """convey's Gini is ``sum w x (2 r - 1) / (W T) - 1``; our plug-in has ``2 r - w``. Both are
    linearised by their derivative in the weights: the derivative of convey's estimator, through
    our variance machinery, reproduces ``svygini``'s SE (unit and unequal weights)."""
    data, _ = _utilities()
    design = _stratified(data, weights)
    x, w = data["u1"].to_numpy(), np.asarray(design.weight_array)
    g, z = _convey_gini_influence(x, w)
    cov = variance._taylor_covariance(design, np.arange(len(x)), (w * z)[:, None], np.array([g]))
    ref = R_CASES[case]
    assert g == pytest.approx(ref["estimate"], rel=EST_REL)
    assert float(np.sqrt(cov[0, 0])) == pytest.approx(ref["se"], rel=SE_REL)


@pytest.mark.reference
def test_gini_plug_in_at_unit_weights():
    """At unit weights the estimates agree; the SEs differ by the derivative of ``-w_i`` vs ``-1``
    (a term ``x_k / (W T)`` of the influence value): 0.6 % here."""
    data, u = _utilities()
    row = _row(est.welfare(u, swf="gini", design=_stratified(data, None)))
    ref = R_CASES["svygini_u1_unit_weights"]
    assert row["welfare"] == pytest.approx(ref["estimate"], rel=EST_REL)
    assert row["inequality"] == pytest.approx(ref["plugin_formula_check"], rel=EST_REL)
    assert row["std_error"] == pytest.approx(ref["se"], rel=0.01)


@pytest.mark.reference
def test_gini_plug_in_replicates_match_withreplicates():
    data, u = _utilities()
    jkn = est.replicate_design(_stratified(data), method="jkn")
    row = _row(est.welfare(u, swf="gini", design=jkn))
    ref = R_CASES["gini_plugin_jkn"]
    assert row["welfare"] == pytest.approx(ref["estimate"], rel=EST_REL)
    assert row["std_error"] == pytest.approx(ref["se"], rel=SE_REL)
    flat = data.assign(psu_id=data["stratum"] + "_" + data["psu"].astype(str))
    jk1 = est.replicate_design(est.SurveyDesign(flat, weights="weight", psu="psu_id"),
                               method="jk1")
    res = est.welfare(u, swf="gini", design=jk1)
    ref = R_CASES["gini_plugin_jk1_strata_ignored"]
    assert _row(res)["std_error"] == pytest.approx(ref["se"], rel=SE_REL)
    assert res.variance_method == "jk1"


# -- linearisation against replicates --------------------------------------------------------------


def _simulated(seed: int = 3, n_psu: int = 150, size: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raters in clusters, unequal weights, a group, sex/age for raking; 3 options, partial exposure."""
    rng = np.random.default_rng(seed)
    n = n_psu * size
    psu = np.repeat(np.arange(n_psu), size)
    cluster = rng.normal(0, 6, n_psu)[psu]
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["F", "M"], n)
    age = rng.choice(["young", "mid", "old"], n)
    shift = {"a": 0.0, "b": 8.0, "c": -10.0}
    raters = pd.DataFrame({
        "rater": [f"r{i}" for i in range(n)], "psu": psu, "group": group, "sex": sex, "age": age,
        "w": rng.gamma(3.0, 1.0, n) + 0.5,
    })
    util = {}
    for k, base in enumerate([55.0, 60.0, 48.0]):
        x = base + cluster + np.vectorize(shift.get)(group) + rng.gamma(2.0, 8.0, n)
        x = np.clip(x, 1.0, None)
        x[rng.random(n) < 0.15 * k] = np.nan  # options 2 and 3 are not shown to everyone
        util[f"o{k}"] = x
    return raters, pd.DataFrame(util, index=pd.Index(raters["rater"], name="rater"))


MEASURES = [
    ("utilitarian", {}),
    ("power_mean", {"power": 0.5}),
    ("power_mean", {"power": -1.0}),
    ("atkinson", {"eps": 0.5}),
    ("atkinson", {"eps": 1.0}),
    ("atkinson", {"eps": 2.0}),
    ("nash", {"disagreement": -5.0}),
    ("gini", {}),
    ("gini", {"gini_correction": True}),
    ("sen", {}),
    ("veto_share", {"veto_threshold": 50.0}),
    ("group_maximin", {"by": "group"}),
    ("group_gap", {"by": "group"}),
    ("regret", {"by": "group"}),
    ("utilitarian", {"by": "group"}),
    ("atkinson", {"eps": 2.0, "by": "group"}),
    ("gini", {"by": "group"}),
]


def _by(kwargs: dict, raters: pd.DataFrame) -> dict:
    out = dict(kwargs)
    if "by" in out:
        out["by"] = raters.set_index("rater")[out["by"]]
    return out


def _compare(u, raters, design, replicate, swf, kwargs, rel, abs_floor):
    opts = _by(kwargs, raters)
    lin = est.welfare(u, swf=swf, design=design, **opts).to_frame()
    rep = est.welfare(u, swf=swf, design=replicate, **opts).to_frame()
    np.testing.assert_allclose(rep["welfare"], lin["welfare"], rtol=1e-12)
    for col in ("std_error", "inequality_std_error"):
        if col in lin.columns:
            a, b = lin[col].to_numpy(), rep[col].to_numpy()
            assert (a > 0).any()
            np.testing.assert_allclose(a, b, rtol=rel, atol=abs_floor * np.nanmax(b),
                                       err_msg=f"{swf} {kwargs} {col}")


@pytest.mark.parametrize("swf, kwargs", MEASURES)
def test_linearised_se_agrees_with_jackknife(swf, kwargs):
    raters, u = _simulated()
    design = est.SurveyDesign(raters, weights="w", psu="psu")
    _compare(u, raters, design, est.replicate_design(design, method="jk1"), swf, kwargs,
             rel=0.04, abs_floor=1e-3)


@pytest.mark.parametrize("swf, kwargs", MEASURES[:11])
def test_linearised_se_agrees_with_jackknife_after_raking(swf, kwargs):
    raters, u = _simulated(seed=5)
    base = est.SurveyDesign(raters, weights="w", psu="psu")
    raked = est.rake(base, {"sex": {"F": 0.52, "M": 0.48},
                            "age": {"young": 0.3, "mid": 0.4, "old": 0.3}}).design
    _compare(u, raters, raked, est.replicate_design(raked, method="jk1"), swf, kwargs,
             rel=0.04, abs_floor=1e-3)


@pytest.mark.parametrize("swf, kwargs", [MEASURES[i] for i in (0, 3, 6, 7, 10, 12)])
def test_linearised_se_agrees_with_bootstrap(swf, kwargs):
    raters, u = _simulated(seed=11)
    raters = raters.assign(stratum=np.where(raters["psu"] < 75, "s1", "s2"))
    design = est.SurveyDesign(raters, weights="w", psu="psu", strata="stratum")
    boot = est.replicate_design(design, method="bootstrap", replicates=2000, rng=7)
    # Monte Carlo error of a 2000-replicate bootstrap SE is about 1.6 %
    _compare(u, raters, design, boot, swf, kwargs, rel=0.08, abs_floor=1e-3)


def test_without_design_every_smooth_measure_has_the_single_stage_se():
    raters, u = _simulated()
    w = raters.set_index("rater")["w"]
    flat = est.SurveyDesign(raters, weights="w")
    for swf, kwargs in MEASURES:
        opts = _by(kwargs, raters)
        a = est.welfare(u, swf=swf, weights=w, **opts).to_frame()
        b = est.welfare(u, swf=swf, design=flat, **opts).to_frame()
        np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-10)


def test_gini_influence_is_the_derivative_in_the_weights():
    raters, u = _simulated()
    x = u["o1"].to_numpy()
    mask = ~np.isnan(x)
    w = raters["w"].to_numpy()
    for stat in (variance.Gini(x, mask), variance.PowerMean(x, mask, -1.5),
                 variance.AtkinsonIndex(variance.PowerMean(x, mask, 0.0), variance.Mean(x, mask))):
        z = stat.influence(w)
        h = 1e-3  # central differences: truncation error O(h^2), rounding error O(eps / h)
        for i in np.flatnonzero(mask)[:5]:
            up, down = w.copy(), w.copy()
            up[i] += h
            down[i] -= h
            numeric = (stat.value(up[:, None])[0] - stat.value(down[:, None])[0]) / (2 * h)
            assert z[i] == pytest.approx(numeric, rel=1e-5)


def test_gini_with_ties_matches_the_kernel_and_pairwise_formula():
    x = np.array([1.0, 3.0, 3.0, 3.0, 7.0, 7.0, 10.0])
    w = np.array([1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 2.0])
    mask = np.ones(len(x), dtype=bool)
    g = variance.Gini(x, mask)
    pairs = (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum()
    assert g.value(w[:, None])[0] == pytest.approx(pairs / (2 * w.sum() * (w @ x)), rel=1e-14)
    # derivative of the pairwise formula in each weight
    z = g.influence(w)
    total, t = w.sum(), w @ x
    for k in range(len(x)):
        d_pairs = 2 * (w * np.abs(x[k] - x)).sum()
        expected = d_pairs / (2 * total * t) - pairs / (2 * total * t) ** 2 * 2 * (t + total * x[k])
        assert z[k] == pytest.approx(expected, rel=1e-12)


def test_sample_minimum_has_no_standard_error():
    raters, u = _simulated()
    design = est.SurveyDesign(raters, weights="w", psu="psu")
    for swf, kwargs in [("maximin", {}), ("power_mean", {"power": -np.inf})]:
        res = est.welfare(u, swf=swf, design=design, **kwargs)
        assert "std_error" not in res.to_frame().columns
        assert res.variance_method is None


def test_replicate_domain_without_weight_is_an_error():
    raters, u = _simulated(n_psu=20, size=2)
    raters = raters.assign(group=np.where(np.arange(len(raters)) == 0, "solo", "rest"))
    design = est.SurveyDesign(raters, weights="w", psu="psu")
    jk = est.replicate_design(design, method="jk1")
    with pytest.raises(est.DesignError, match="some replicates give no estimate for these rows"):
        est.welfare(u, design=jk, by=raters.set_index("rater")["group"])


def test_replicate_design_must_match_the_raters():
    raters, u = _simulated()
    jk = est.replicate_design(est.SurveyDesign(raters.head(30), psu="psu"), method="jk1")
    with pytest.raises(est.ValidationError, match="rows must be exactly the raters"):
        est.welfare(u, design=jk)
    with pytest.raises(est.ValidationError, match="must be a SurveyDesign or ReplicateDesign"):
        est.welfare(u, design=raters)


# -- coverage ----------------------------------------------------------------------------------------


def coverage_study(replicates: int, *, seed: int = 2026, n_population: int = 20_000,
                   n_psu: int = 200, psu_size: int = 4) -> pd.DataFrame:
    """95 % interval coverage of welfare measures: a population with rater (cluster) effects,
    opt-in style unequal selection of clusters, raking to the population's sex and age margins.

    Each replicate draws ``n_psu`` clusters of ``psu_size`` raters with probability depending on
    their age (with replacement, weights = 1 / (n p)), rakes to the known margins and computes the
    linearised intervals (raters clustered in PSUs, raking residualised) and the naive intervals
    (raters independent, raked weights as fixed). Returns the coverage per measure.
    """
    rng = np.random.default_rng(seed)
    n_clusters = n_population // psu_size
    cluster = np.repeat(np.arange(n_clusters), psu_size)
    sex = rng.choice(["F", "M"], n_population, p=[0.52, 0.48])
    age = rng.choice(["young", "mid", "old"], n_clusters, p=[0.3, 0.4, 0.3])[cluster]
    effect = rng.normal(0, 8, n_clusters)[cluster] + np.where(age == "old", -6.0, 4.0)
    options = {}
    for k, base in enumerate([50.0, 56.0]):
        options[f"o{k}"] = np.clip(base + effect + (sex == "M") * 3 * k
                                   + rng.gamma(2.0, 7.0, n_population), 1.0, None)
    pop_u = pd.DataFrame(options)
    measures = [("utilitarian", {}), ("atkinson", {"eps": 1.0}), ("gini", {}),
                ("veto_share", {"veto_threshold": 60.0}), ("nash", {}),
                ("power_mean", {"power": -1.0})]
    truth = {}
    for swf, kwargs in measures:
        frame = est.welfare(pop_u, swf=swf, **kwargs).to_frame()
        truth[swf] = frame["welfare"].to_numpy()
        if swf == "atkinson":
            truth["atkinson index"] = frame["inequality"].to_numpy()
    margins = {"sex": {"F": float((sex == "F").sum()), "M": float((sex == "M").sum())},
               "age": {a: float((age == a).sum()) for a in ("young", "mid", "old")}}
    p_cluster = np.where(age[::psu_size] == "young", 2.0, 1.0)
    p_cluster /= p_cluster.sum()
    hits = {name: np.zeros(2) for name in truth}
    naive_hits = {name: np.zeros(2) for name in truth}
    for _ in range(replicates):
        picked = rng.choice(n_clusters, n_psu, p=p_cluster)
        rows = (picked[:, None] * psu_size + np.arange(psu_size)).ravel()
        sample = pd.DataFrame({
            "rater": np.arange(rows.size), "psu": np.repeat(np.arange(n_psu), psu_size),
            "sex": sex[rows], "age": age[rows],
            "w": np.repeat(1.0 / (n_psu * p_cluster[picked]), psu_size),
        })
        u = pop_u.iloc[rows].set_index(pd.Index(sample["rater"], name="rater"))
        design = est.rake(est.SurveyDesign(sample, weights="w", psu="psu"), margins).design
        final = pd.Series(design.weight_array, index=u.index)
        for swf, kwargs in measures:
            fr = est.welfare(u, swf=swf, design=design, **kwargs).to_frame()
            nv = est.welfare(u, swf=swf, weights=final, **kwargs).to_frame()
            pairs = [(swf, "welfare", "std_error")]
            if swf == "atkinson":
                pairs.append(("atkinson index", "inequality", "inequality_std_error"))
            for name, col, se_col in pairs:
                for store, table in ((hits, fr), (naive_hits, nv)):
                    err = np.abs(table[col].to_numpy() - truth[name])
                    store[name] += err <= 1.959964 * table[se_col].to_numpy()
    return pd.DataFrame({
        "measure": [f"{name} ({opt})" for name in truth for opt in ("o0", "o1")],
        "coverage": np.concatenate([hits[name] / replicates for name in truth]),
        "naive_coverage": np.concatenate([naive_hits[name] / replicates for name in truth]),
    })


@pytest.mark.slow
def test_coverage_of_design_based_intervals():
    table = coverage_study(300)
    # 300 replicates: the binomial SE of a 95 % coverage is 1.3 %, so [0.91, 0.985] is a 3-SE band
    assert table["coverage"].between(0.91, 0.985).all(), table
    assert table["naive_coverage"].mean() < table["coverage"].mean()
