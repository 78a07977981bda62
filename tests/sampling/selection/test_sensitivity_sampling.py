"""Tests for sampling.sensitivity_sample and the pi-ps designs behind it.

Outside truth: R ``sampling::inclusionprobabilities`` and ``sampling::varest`` (Deville's variance),
binomial / chi-square laws of inclusion counts, unbiasedness of Horvitz–Thompson sums, and the
exact ell_2 distortion recomputed here with numpy QR.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from estimators.errors import ConvergenceError, DesignError, InfeasibleError, ValidationError
from sampling import Subset, inclusion_probabilities_for, sensitivity_sample
from sampling.selection._pips_designs import design_variance, draw, inclusion_probabilities

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "sensitivity_sampling.json").read_text())


def l2_distortion(x: np.ndarray, idx: np.ndarray, w: np.ndarray) -> float:
    """Independent recomputation: eigenvalues of R^-T (SA)^T (SA) R^-1 with numpy QR."""
    r = np.linalg.qr(x, mode="r")
    z = np.linalg.solve(r.T, (x[idx] * np.sqrt(w)[:, None]).T)
    return float(np.max(np.abs(np.linalg.eigvalsh(z @ z.T) - 1)))


def l1_ratio_dev(x, idx, w, dirs):
    full = np.abs(x @ dirs).sum(axis=0)
    sub = (w[:, None] * np.abs(x[idx] @ dirs)).sum(axis=0)
    return float(np.max(np.abs(sub / full - 1)))


@pytest.fixture(scope="module")
def matrices():
    rng = np.random.default_rng(2026)
    n, d = 20_000, 8
    benign = rng.normal(size=(n, d))
    heavy = benign * rng.standard_t(1, size=(n, 1))
    return benign, heavy


# ----- inclusion probabilities -----------------------------------------------------------------

@pytest.mark.parametrize(("scores", "m", "key"), [("scores1", 4, "pi_scores1_m4"),
                                                  ("scores2", 30, "pi_scores2_m30"),
                                                  ("scores2", 150, "pi_scores2_m150")])
def test_inclusion_probabilities_match_r_sampling(scores, m, key):
    pi = inclusion_probabilities_for(REF[scores], m)
    np.testing.assert_allclose(pi, REF[key], rtol=1e-12, atol=1e-14)
    assert pi.sum() == pytest.approx(m, abs=1e-9)


def test_deville_variance_matches_r_varest():
    pik, y = np.array(REF["varest_pik"]), np.array(REF["varest_y"])
    v = design_variance(y, pik, "pivotal", np.ones(y.size), None, y.size)
    assert v == pytest.approx(REF["varest"], rel=1e-10)


def test_systematic_needs_integer_size():
    with pytest.raises(ValidationError, match="systematic sampling needs an integer expected size"):
        draw(np.array([0.5, 0.3, 0.4]), 1, "systematic", np.random.default_rng(0))


@pytest.mark.parametrize("design", ["poisson", "systematic", "pivotal"])
def test_inclusion_frequencies_match_pi_chi_square(design):
    rng = np.random.default_rng(3)
    q = np.abs(rng.standard_t(1, size=40)) + 0.05
    q[[0, 1]] = 100.0  # two certainty rows
    m = 8
    pi = inclusion_probabilities(q, m)
    assert pi.sum() == pytest.approx(m, abs=1e-12) and (pi == 1).sum() >= 1
    reps = 10_000
    counts = np.zeros(q.size)
    sizes = np.empty(reps, dtype=int)
    for r in range(reps):
        units, _ = draw(pi, m, design, rng)
        counts[units] += 1
        sizes[r] = units.size
    assert np.all(counts[pi == 1] == reps)  # certainty rows always taken
    frac = (pi > 0) & (pi < 1)
    expected = reps * pi[frac]
    chi2 = np.sum((counts[frac] - expected) ** 2 / (expected * (1 - pi[frac])))
    dof = frac.sum() - (0 if design == "poisson" else 1)
    assert stats.chi2.sf(chi2, dof) > 1e-3, chi2
    if design == "poisson":
        assert sizes.mean() == pytest.approx(m, abs=4 * np.sqrt(np.sum(pi * (1 - pi)) / reps))
    else:
        assert np.all(sizes == m)


def test_multinomial_draw_counts():
    rng = np.random.default_rng(4)
    q = np.array([5.0, 1.0, 1.0, 3.0])
    hits = np.zeros(4)
    for _ in range(4000):
        units, times = draw(None, 10, "multinomial", rng, q=q)
        hits[units] += times
    expected = 4000 * 10 * q / q.sum()
    assert stats.chisquare(hits, expected).pvalue > 1e-3


@pytest.mark.parametrize(("design", "p"), [("poisson", 1.0), ("pivotal", 1.0), ("systematic", 2.0),
                                           ("multinomial", 1.0)])
def test_unbiased_lp_norm(design, p):
    # E ||S A x||_p^p = ||A x||_p^p with rows scaled by pi^(-1/p) (HT) or HH weights.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 3)) * rng.standard_t(2, size=(300, 1))
    method = "lewis" if p == 1 else "leverage"
    sub = sensitivity_sample(x, 30, method=method, p=p, design=design, rng=6, report=False)
    direction = rng.normal(size=3)
    values = np.abs(x @ direction) ** p
    truth = values.sum()
    pi = sub.inclusion_probabilities
    q = sub.scores
    estimates = []
    for _ in range(4000):
        units, times = draw(pi, 30, design, rng, q=q)
        w = times / (30 * q[units] / q.sum()) if design == "multinomial" else 1 / pi[units]
        estimates.append(np.sum(w * values[units]))
    estimates = np.array(estimates)
    tol = 4 * estimates.std() / np.sqrt(estimates.size)
    assert abs(estimates.mean() - truth) <= tol + 1e-9 * truth


# ----- guarantees ------------------------------------------------------------------------------

def test_leverage_and_lewis_beat_uniform_on_heavy_matrix(matrices):
    benign, heavy = matrices
    d = benign.shape[1]
    m = int(np.rint(20 * d * np.log(d)))  # 166
    dirs = np.random.default_rng(8).normal(size=(d, 50))
    results = {}
    for name, x in (("benign", benign), ("heavy", heavy)):
        for method, p in (("uniform", 2.0), ("leverage", 2.0), ("lewis", 1.0), ("uniform1", 1.0)):
            l2, l1 = [], []
            for seed in range(10):
                sub = sensitivity_sample(x, m, method=method.rstrip("1"), p=p, rng=seed)
                assert sub.inclusion_probabilities.sum() == pytest.approx(m, abs=1e-8)
                # report agrees with an independent recomputation
                assert sub.distortion == pytest.approx(
                    l2_distortion(x, sub.indices, sub.weights), rel=1e-6, abs=1e-9)
                l2.append(sub.distortion)
                if p == 1:
                    l1.append(max(sub.l1_distortion_lower_bound,
                                  l1_ratio_dev(x, sub.indices, sub.weights, dirs)))
            results[name, method] = (np.median(l2), np.median(l1) if l1 else None)
    # benign matrix: everyone is fine
    assert results["benign", "uniform"][0] < 0.5 and results["benign", "leverage"][0] < 0.5
    # heavy matrix: uniform fails (distortion ~ 1: it misses the dominant rows) ...
    assert results["heavy", "uniform"][0] > 0.9
    assert results["heavy", "uniform1"][1] > 0.5
    # ... while leverage (ell_2) and Lewis (ell_1) stay well below it
    assert results["heavy", "leverage"][0] < 0.25 * results["heavy", "uniform"][0]
    assert results["heavy", "lewis"][1] < 0.25 * results["heavy", "uniform1"][1]
    assert results["heavy", "lewis"][0] < 0.3


def test_stratified_floors_protect_every_group():
    rng = np.random.default_rng(0)
    d, sizes = 4, [20_000, 3000, 600]
    parts = [rng.normal(size=(sizes[0], d)) * rng.standard_t(1, size=(sizes[0], 1)),
             rng.normal(size=(sizes[1], d)) * 5,
             rng.normal(size=(sizes[2], d)) * 0.01 + 0.001]  # a low-variance group
    x = np.vstack(parts)
    groups = np.repeat(["big", "mid", "small"], sizes)
    per = int(np.ceil(60 * d * np.log(d)))
    m = 3 * per + 100
    starved, protected = [], []
    for seed in range(10):
        glob = sensitivity_sample(x, m, method="leverage", rng=seed, report=False)
        small = np.flatnonzero(groups == "small")
        keep = np.isin(glob.indices, small)
        starved.append(l2_distortion(x[small], np.searchsorted(small, glob.indices[keep]),
                                     glob.weights[keep]) if keep.any() else 1.0)
        sub = sensitivity_sample(x, m, method="leverage", strata=groups, allocation="floor",
                                 floor_constant=60, rng=seed)
        assert (sub.stratum_table["allocated"] >= per).all()
        protected.append(sub.group_distortion.max())
        for label, members in (("mid", np.flatnonzero(groups == "mid")),):
            mask = sub.strata == label
            assert sub.group_distortion[label] == pytest.approx(
                l2_distortion(x[members], np.searchsorted(members, sub.indices[mask]),
                              sub.weights[mask]), rel=1e-6)
    assert np.median(starved) >= 0.99  # global leverage sampling starves the small group
    assert max(protected) <= 0.25


# ----- designs through the public call -----------------------------------------------------------

@pytest.mark.parametrize("design", ["systematic", "pivotal"])
def test_fixed_size_designs_exact_m(matrices, design):
    _, heavy = matrices
    sub = sensitivity_sample(heavy, 137, design=design, rng=1, report=False)
    assert sub.indices.size == 137
    assert np.all(np.diff(sub.indices) > 0)
    np.testing.assert_allclose(sub.weights, 1 / sub.probabilities)
    assert sub.certainty.sum() == int((sub.inclusion_probabilities >= 1 - 1e-12).sum())
    np.testing.assert_allclose(sub.row_scale, sub.weights**0.5)


def test_allocations():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 3))
    groups = np.array(["a"] * 700 + ["b"] * 250 + ["c"] * 50)
    prop = sensitivity_sample(x, 100, strata=groups, design="pivotal", rng=1)
    assert prop.stratum_table["allocated"].tolist() == [70, 25, 5]
    assert prop.stratum_table["selected"].tolist() == [70, 25, 5]
    equal = sensitivity_sample(x, 120, strata=groups, allocation="equal", design="pivotal", rng=1)
    assert equal.stratum_table["allocated"].tolist() == [40, 40, 40]
    capped = sensitivity_sample(x, 300, strata=groups, allocation="equal", rng=1, report=False)
    assert capped.stratum_table["allocated"].tolist() == [125, 125, 50]
    floor = sensitivity_sample(x, 300, strata=groups, allocation="floor", floor_constant=20,
                               rng=1, report=False)
    assert floor.stratum_table["allocated"].tolist() == [184, 66, 50]  # floors 66 (=ceil(20*3*ln 3)) bind for b
    mapped = sensitivity_sample(x, 60, strata=pd.Series(groups), allocation={"a": 10, "b": 20,
                                "c": 30}, design="systematic", rng=1, report=False)
    assert mapped.stratum_table["selected"].tolist() == [10, 20, 30]

    class Plan:  # anything with an ``n`` Series, like the result of sampling.allocate
        n = pd.Series({"a": 30, "b": 20, "c": 10})

    planned = sensitivity_sample(x, 60, strata=groups, allocation=Plan(), design="pivotal",
                                 rng=1, report=False)
    assert planned.stratum_table["selected"].tolist() == [30, 20, 10]
    assert set(mapped.to_frame()["stratum"]) == {"a", "b", "c"}


def test_dataframe_with_strata_column():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(400, 2)), columns=["u", "v"])
    frame["group"] = np.where(np.arange(400) < 100, "x", "y")
    before = frame.copy()
    sub = sensitivity_sample(frame, 40, strata="group", design="pivotal", rng=0)
    assert sub.d == 2 and sub.stratum_table["allocated"].tolist() == [10, 30]
    pd.testing.assert_frame_equal(frame, before)


def test_sparse_memmap_and_sensitivity_inputs(tmp_path):
    import scipy.sparse as sp

    dense = sp.random(3000, 6, density=0.3, random_state=1, format="csr")
    sub = sensitivity_sample(dense, 200, method="lewis", p=1, rng=2)
    assert sub.distortion == pytest.approx(
        l2_distortion(dense.toarray(), sub.indices, sub.weights), rel=1e-6)
    path = tmp_path / "x.npy"
    np.save(path, dense.toarray())
    again = sensitivity_sample(np.load(path, mmap_mode="r"), 200, method="lewis", p=1, rng=2)
    np.testing.assert_array_equal(again.indices, sub.indices)
    small = np.random.default_rng(3).standard_t(2, size=(80, 3))
    exact = sensitivity_sample(small, 20, method="sensitivity", p=1, design="pivotal", rng=1)
    assert exact.indices.size == 20 and exact.l1_distortion_lower_bound is not None
    with pytest.raises(ValidationError, match="too many rows for exact sensitivities"):
        sensitivity_sample(dense, 20, method="sensitivity", p=1)


def test_multinomial_hansen_hurwitz_weights(matrices):
    benign, _ = matrices
    sub = sensitivity_sample(benign, 200, design="multinomial", rng=3)
    q = sub.scores / sub.scores.sum()
    np.testing.assert_allclose(sub.weights, sub.times_drawn / (200 * q[sub.indices]))
    assert sub.times_drawn.sum() == 200 and not sub.certainty.any()


# ----- estimates and model fits ----------------------------------------------------------------

def test_estimates_and_variance():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2000, 3))
    y = 5 + x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=2000)
    for design in ("poisson", "systematic", "pivotal", "multinomial"):
        sub = sensitivity_sample(x, 400, design=design, uniform_mix=0.5, rng=1, report=False)
        total = sub.estimate(y)
        assert abs(total["estimate"].iloc[0] - y.sum()) < 4 * total["std_error"].iloc[0]
        hajek = sub.estimate(y, statistic="mean", estimator="hajek")
        assert abs(hajek["estimate"].iloc[0] - y.mean()) < 4 * hajek["std_error"].iloc[0]
        assert hajek["ci_lower"].iloc[0] < hajek["estimate"].iloc[0] < hajek["ci_upper"].iloc[0]
        ht_mean = sub.estimate(y[sub.indices], statistic="mean")
        assert ht_mean["estimate"].iloc[0] == pytest.approx(total["estimate"].iloc[0] / 2000)
    # Poisson variance estimator is unbiased: compare with the exact design variance.
    pi = sub.inclusion_probabilities
    exact = np.sum((1 - pi) / pi * y**2)
    sub_p = sensitivity_sample(x, 400, design="poisson", uniform_mix=0.5, rng=2, report=False)
    pi = sub_p.inclusion_probabilities
    exact = np.sum((1 - pi) / pi * y**2)
    draws = []
    for _ in range(2000):
        units, _ = draw(pi, 400, "poisson", rng)
        draws.append(np.sum((1 - pi[units]) * (y[units] / pi[units]) ** 2))
    assert np.mean(draws) == pytest.approx(exact, rel=0.03)


def test_weighted_fits():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3000, 2)) * rng.standard_t(3, size=(3000, 1))
    y = 1 + x @ np.array([2.0, -1.0]) + rng.laplace(size=3000)
    all_rows = sensitivity_sample(x, 3000, rng=0, report=False)
    ols = np.linalg.lstsq(np.column_stack([np.ones(3000), x]), y, rcond=None)[0]
    np.testing.assert_allclose(all_rows.fit_wls(y, x, add_constant=True).params, ols, rtol=1e-10)
    sub = sensitivity_sample(x, 400, method="lewis", p=1, rng=0)
    lad = sub.fit_lad(y, x, add_constant=True)
    np.testing.assert_allclose(lad.params, [1.0, 2.0, -1.0], atol=0.3)
    wls = sub.fit_wls(y[sub.indices], x[sub.indices], add_constant=True)
    np.testing.assert_allclose(wls.params, ols, atol=0.3)


def test_result_interface(matrices):
    _, heavy = matrices
    sub = sensitivity_sample(heavy[:3000], 100, method="root_leverage", p=1, rng=4)
    assert isinstance(sub, Subset)
    frame = sub.to_frame()
    assert list(frame.columns) == ["row", "probability", "weight", "row_scale", "certainty",
                                   "times_drawn"]
    text = sub.summary()
    assert "ell_1 distortion (certified lower bound)" in text and "Kish" in text
    assert "<h4>" in sub.summary("html")
    assert sub.plot() is not None
    assert sub.design_effect >= 1 and 0 < sub.effective_sample_size <= sub.indices.size
    data = pd.DataFrame({"y": np.arange(3000.0)})
    design = sub.to_design(data)
    np.testing.assert_allclose(design.weight_array, sub.weights)
    assert design.data.index.tolist() == sub.indices.tolist()
    with pytest.raises(ValidationError, match="data: must have one row per data row"):
        sub.to_design(data.iloc[:10])


# ----- errors ------------------------------------------------------------------------------------

def test_sampling_errors():
    x = np.random.default_rng(0).normal(size=(50, 2))
    groups = np.array(["a"] * 40 + ["b"] * 10)
    with pytest.raises(ValidationError, match="method: must be one of"):
        sensitivity_sample(x, 5, method="coreset")
    with pytest.raises(ValidationError, match="design: must be one of"):
        sensitivity_sample(x, 5, design="srswor")
    with pytest.raises(ValidationError, match="m: must be <= 50"):
        sensitivity_sample(x, 51)
    with pytest.raises(ValidationError, match="m: must be >= 1"):
        sensitivity_sample(x, 0)
    with pytest.raises(ValidationError, match="p: must be <= 2"):
        sensitivity_sample(x, 5, method="root_leverage", p=3)
    with pytest.raises(ValidationError, match="must be 1 or 2 for method='sensitivity'"):
        sensitivity_sample(x, 5, method="sensitivity", p=1.5)
    with pytest.raises(ValidationError, match="strata: must have one label per row"):
        sensitivity_sample(x, 5, strata=groups[:10])
    with pytest.raises(ValidationError, match="strata: has missing labels"):
        sensitivity_sample(x, 5, strata=np.where(np.arange(50) == 3, None, "a"))
    with pytest.raises(ValidationError, match="has no sample size for some strata"):
        sensitivity_sample(x, 5, strata=groups, allocation={"a": 5})
    with pytest.raises(ValidationError, match="sizes must add up to m=6"):
        sensitivity_sample(x, 6, strata=groups, allocation={"a": 2, "b": 2})
    with pytest.raises(InfeasibleError, match="asks for more rows than a stratum has"):
        sensitivity_sample(x, 25, strata=groups, allocation={"a": 5, "b": 20})
    with pytest.raises(InfeasibleError, match="too small for the stratum floors"):
        sensitivity_sample(x, 12, strata=groups, allocation="floor")
    with pytest.raises(InfeasibleError, match="smaller than the number of strata"):
        sensitivity_sample(x, 1, strata=groups)
    with pytest.raises(ValidationError, match="allocation: must be one of"):
        sensitivity_sample(x, 5, strata=groups, allocation="neyman")
    with pytest.raises(ValidationError, match="must be in memory"):
        sensitivity_sample(lambda: iter([x]), 5)
    sparse_rows = np.zeros((50, 2))
    sparse_rows[:3] = x[:3]
    with pytest.raises(InfeasibleError, match="exceeds the number of rows with a positive score"):
        sensitivity_sample(sparse_rows, 5)
    heavy = x * np.random.default_rng(1).standard_t(1, size=(50, 1))
    with pytest.raises(ConvergenceError, match="Lewis weights did not reach tol"):
        sensitivity_sample(heavy, 5, method="lewis", p=1, lewis_max_iter=1)
    sub = sensitivity_sample(x, 5, rng=0)
    with pytest.raises(ValidationError, match="y: must have one row per data row"):
        sub.estimate(np.ones(7))
    with pytest.raises(ValidationError, match="level: must lie strictly between 0 and 1"):
        sub.estimate(np.ones(50), level=1.5)
    with pytest.raises(ValidationError, match="y: must be finite on the selected rows"):
        sub.estimate(np.full(50, np.nan))
    with pytest.raises(ValidationError, match="X: must be 2-dimensional"):
        sub.fit_wls(np.ones(50), np.ones(50))
    with pytest.raises(ValidationError, match="statistic: must be one of"):
        sub.estimate(np.ones(50), statistic="median")
    empty = next(s for s in (sensitivity_sample(x, 1, method="uniform", rng=seed, report=False)
                             for seed in range(50)) if s.indices.size == 0)
    with pytest.raises(DesignError, match="has no selected rows"):
        empty.estimate(np.ones(50))
    with pytest.raises(ValidationError, match="report: was False"):
        _ = empty.group_distortion
