"""Coverage of design-based Bradley–Terry intervals: raters with preferences of their own,
clustered and unequally selected, raked to census margins.

``coverage_study`` is the study; ``benchmarks/coverage_studies.py --study bradley_terry`` runs it with 1,000 replicates
for docs/methods/preference-uncertainty.md, the slow test below with fewer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import estimators as est

OPTIONS = ("a", "b", "c", "d")
Z = 1.959963984540054


def _population(rng: np.random.Generator, n_population: int, psu_size: int):
    """Raters in clusters with sex, age and their own log-strengths (cluster + rater effects)."""
    n_clusters = n_population // psu_size
    cluster = np.repeat(np.arange(n_clusters), psu_size)
    sex = rng.choice(["F", "M"], n_population, p=[0.52, 0.48])
    age = rng.choice(["young", "mid", "old"], n_clusters, p=[0.3, 0.4, 0.3])[cluster]
    m = len(OPTIONS)
    base = np.array([0.0, 0.3, 0.1, -0.4])
    by_age = {"young": np.array([0.8, 0.0, -0.3, -0.5]), "mid": np.zeros(m),
              "old": np.array([-0.6, 0.2, 0.4, 0.0])}
    theta = (base + np.stack([by_age[a] for a in age])
             + np.outer(sex == "M", [0.3, -0.3, 0.0, 0.0])
             + rng.normal(0, 0.5, (n_clusters, m))[cluster]       # cluster effects
             + rng.normal(0, 0.5, (n_population, m)))             # rater effects
    return cluster, sex, age, theta


def _pairs(m: int) -> np.ndarray:
    return np.array([(i, j) for i in range(m) for j in range(i + 1, m)])


def census_strengths(theta: np.ndarray) -> np.ndarray:
    """The population's Bradley–Terry log-strengths: the fit to every rater's expected outcome
    of every pair (pairs are shown uniformly, independently of the rater), centred to mean 0."""
    pairs = _pairs(theta.shape[1])
    p = 1.0 / (1.0 + np.exp(-(theta[:, pairs[:, 0]] - theta[:, pairs[:, 1]])))
    share = p.mean(axis=0)
    battles = pd.DataFrame({
        "winner": [OPTIONS[i] for i in pairs[:, 0]] + [OPTIONS[j] for j in pairs[:, 1]],
        "loser": [OPTIONS[j] for j in pairs[:, 1]] + [OPTIONS[i] for i in pairs[:, 0]],
        "w": np.r_[share, 1.0 - share],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", est.DataWarning)
        fit = est.bradley_terry(battles, weights="w", options=OPTIONS)
    return fit.params.to_numpy()


def coverage_study(replicates: int, *, seed: int = 2026, n_population: int = 20_000,
                   n_psu: int = 150, psu_size: int = 4, comparisons: tuple[int, int] = (6, 12),
                   ) -> pd.DataFrame:
    """95 % interval coverage of the log-strength contrasts ``theta_k - theta_a``.

    Each replicate draws ``n_psu`` clusters of ``psu_size`` raters with replacement, young
    clusters twice as likely (weights ``1 / (n p)``), rakes the raters to the population's sex
    and age margins, and lets every sampled rater compare 6-12 uniformly chosen pairs (outcome
    ``sigma(theta_i[a] - theta_i[b])`` with the rater's own strengths). Intervals:

    * design: ``bradley_terry(design=raked rater design with clusters as PSUs, rater=...)``;
    * naive: the same raked weights as comparison weights scaled to mean 1 (comparisons
      independent, frequency weights).

    Returns one row per contrast: coverage of both, and the mean SEs against the replicates'
    standard deviation of the estimate.
    """
    rng = np.random.default_rng(seed)
    _, sex, age, theta = _population(rng, n_population, psu_size)
    truth = census_strengths(theta)
    true_contrast = truth[1:] - truth[0]
    n_clusters = n_population // psu_size
    margins = {"sex": {"F": float((sex == "F").sum()), "M": float((sex == "M").sum())},
               "age": {a: float((age == a).sum()) for a in ("young", "mid", "old")}}
    p_cluster = np.where(age[::psu_size] == "young", 2.0, 1.0)
    p_cluster /= p_cluster.sum()
    pairs = _pairs(len(OPTIONS))
    names = np.array(OPTIONS)
    k = len(OPTIONS) - 1
    estimates = np.empty((replicates, k))
    se = {"design": np.empty((replicates, k)), "naive": np.empty((replicates, k))}
    for r in range(replicates):
        picked = rng.choice(n_clusters, n_psu, p=p_cluster)
        rows = (picked[:, None] * psu_size + np.arange(psu_size)).ravel()
        raters = pd.DataFrame({
            "rater": np.arange(rows.size), "psu": np.repeat(np.arange(n_psu), psu_size),
            "sex": sex[rows], "age": age[rows],
            "w": np.repeat(1.0 / (n_psu * p_cluster[picked]), psu_size),
        })
        design = est.rake(est.SurveyDesign(raters, weights="w", psu="psu"), margins).design
        count = rng.integers(comparisons[0], comparisons[1] + 1, rows.size)
        who = np.repeat(np.arange(rows.size), count)
        pair = pairs[rng.integers(0, len(pairs), who.size)]
        flip = rng.random(who.size) < 0.5
        first = np.where(flip, pair[:, 1], pair[:, 0])
        second = np.where(flip, pair[:, 0], pair[:, 1])
        t = theta[rows[who]]
        diff = t[np.arange(who.size), first] - t[np.arange(who.size), second]
        first_wins = rng.random(who.size) < 1.0 / (1.0 + np.exp(-diff))
        battles = pd.DataFrame({
            "winner": names[np.where(first_wins, first, second)],
            "loser": names[np.where(first_wins, second, first)],
            "rater": who,
        })
        fit = est.bradley_terry(battles, design=design, rater="rater", options=OPTIONS)
        w = np.asarray(design.weight_array)[who]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", est.DataWarning)
            naive = est.bradley_terry(battles, weights=w / w.mean(), options=OPTIONS)
        params = fit.params.to_numpy()
        estimates[r] = params[1:] - params[0]
        for kind, result in (("design", fit), ("naive", naive)):
            cov = np.asarray(result.cov)
            se[kind][r] = np.sqrt(cov[0, 0] + np.diag(cov)[1:] - 2 * cov[0, 1:])
    err = np.abs(estimates - true_contrast)
    return pd.DataFrame({
        "contrast": [f"{o} - {OPTIONS[0]}" for o in OPTIONS[1:]],
        "truth": true_contrast,
        "mean_estimate": estimates.mean(axis=0),
        "sd_estimate": estimates.std(axis=0, ddof=1),
        "mean_se_design": se["design"].mean(axis=0),
        "mean_se_naive": se["naive"].mean(axis=0),
        "coverage_design": (err <= Z * se["design"]).mean(axis=0),
        "coverage_naive": (err <= Z * se["naive"]).mean(axis=0),
    })


@pytest.mark.slow
def test_coverage_of_design_based_bradley_terry_intervals():
    table = coverage_study(250)
    # 250 replicates: the binomial SE of a 95 % coverage is 1.4 %, so [0.91, 0.985] is about a
    # 3-SE band; the naive intervals ignore the clustering and the weighting and must cover less
    assert table["coverage_design"].between(0.91, 0.985).all(), table
    assert (table["coverage_naive"] < table["coverage_design"]).all(), table
    assert (table["mean_se_naive"] < table["mean_se_design"]).all(), table
