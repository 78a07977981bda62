"""Reproduction: adaptive allocation vs equal, proportional and oracle at equal budget.

Synthetic three-group ridge-regression problem (sampling.simulation.default_problem):
population shares 0.6 / 0.3 / 0.1, dimensions 20 / 2 / 40 (learning speed), costs 1 / 6 / 1,
noise sd 0.5. Every policy spends a budget of 1200 over 6 rounds of 200; errors are exact test
MSEs at the end. The adaptive policy plans on the population-weighted 2-norm of group errors with
a 30% exploration floor, refitting the learning curves (four nested-subsample points per group
per round) every round. Training data are common random numbers: for a given seed, the first m
samples of a group are the same whatever the policy, so the comparisons are paired.

Problem and policy settings were chosen on seeds 100-119 (adaptive won on all 20 for both
metrics against equal and proportional); this test evaluates on the held-out seeds 0-9
(notebook 04: seeds 0-19).
"""

import numpy as np
import pandas as pd
import pytest

from estimators import ValidationError
from sampling.allocation._adaptive import AdaptiveAllocator
from sampling.simulation._learning_problem import default_problem, oracle_counts, run_policy

BUDGET, ROUNDS, SEEDS = 1200, 6, range(10)


def _adaptive(problem, seed):
    alloc = AdaptiveAllocator(problem.groups, costs=dict(zip(problem.groups, problem.costs)),
                              batch_budget=BUDGET / ROUNDS, objective="pnorm", p=2.0,
                              population_shares=dict(zip(problem.groups, problem.shares)),
                              exploration=0.3, rng=seed)

    def policy(r, observed, current):
        return alloc.next_batch(observed, current_n=current, round=r).counts.to_numpy()

    return run_policy(problem, policy, budget=BUDGET, rounds=ROUNDS, seed=seed)


@pytest.fixture(scope="module")
def results():
    problem = default_problem()
    oracle = oracle_counts(problem, BUDGET, p=2.0)
    out = {"equal": [], "proportional": [], "oracle": [], "adaptive": []}
    for seed in SEEDS:
        for name in ("equal", "proportional"):
            out[name].append(run_policy(problem, name, budget=BUDGET, rounds=ROUNDS, seed=seed))
        out["oracle"].append(run_policy(problem, oracle, budget=BUDGET, rounds=ROUNDS, seed=seed))
        out["adaptive"].append(_adaptive(problem, seed))
    return out


def _metric(results, policy, metric):
    return np.array([r[metric] for r in results[policy]])


def test_equal_budget(results):
    # equal, proportional and adaptive spend the whole budget exactly; the oracle plan (floored
    # continuous optimum) at most one sample's cost per group less
    for name in ("equal", "proportional", "adaptive"):
        assert [r["spent"] for r in results[name]] == [BUDGET] * len(SEEDS)
    assert all(BUDGET - 8 <= r["spent"] <= BUDGET for r in results["oracle"])


@pytest.mark.parametrize("baseline", ["equal", "proportional"])
@pytest.mark.parametrize("metric", ["overall", "worst"])
def test_adaptive_beats_baseline_on_every_seed(results, baseline, metric):
    # measured relative improvement over equal: overall mean 6.9% (min 2.1%), worst group mean
    # 19.7% (min 12.8%) on held-out seeds 0-19; over proportional 39.9% (min 6.0%) and 83.4%
    # (min 52.8%); tuning seeds 100-119: over equal 7.5% (min 2.2%) and 20.2% (min 7.3%)
    adaptive, base = _metric(results, "adaptive", metric), _metric(results, baseline, metric)
    assert np.all(adaptive < base), (adaptive, base)


def test_adaptive_is_close_to_the_oracle_plan(results):
    # the offline plan on the true curves is the reference: adaptive is within a few per cent
    for metric in ("overall", "worst"):
        adaptive, oracle = _metric(results, "adaptive", metric), _metric(results, "oracle", metric)
        assert adaptive.mean() < 1.05 * oracle.mean()


def test_allocator_is_pure_and_seeded():
    problem = default_problem()
    a = _adaptive(problem, 3)
    b = _adaptive(problem, 3)
    pd.testing.assert_series_equal(a["n"], b["n"])


def test_allocator_modes_and_errors():
    alloc = AdaptiveAllocator(["x", "y"], costs={"x": 1, "y": 2}, batch_budget=30,
                              strategy="worst_group", exploration=0.2, rng=1)
    first = alloc.next_batch(None, current_n=0)
    assert first.mode == "explore" and first.cost <= 30
    obs = pd.DataFrame({"group": ["x"] * 3 + ["y"] * 3, "n": [10, 20, 40] * 2,
                        "error": [0.5, 0.4, 0.3, 0.9, 0.8, 0.7]})
    # three points per group cannot identify a n^-b + c: still exploring, not a failed fit
    assert alloc.next_batch(obs, current_n=40, round=2).mode == "explore"
    obs = pd.concat([obs, pd.DataFrame({"group": ["x", "y"], "n": [30, 30],
                                        "error": [0.35, 0.75]})], ignore_index=True)
    nxt = alloc.next_batch(obs, current_n={"x": 40, "y": 40}, round=3)
    assert nxt.mode == "worst_group" and nxt.counts["y"] > nxt.counts["x"]
    assert "Adaptive batch" in nxt.summary() and nxt.plot() is not None
    with pytest.raises(ValidationError, match="must buy at least one sample of every group"):
        AdaptiveAllocator(["x", "y"], costs=5, batch_budget=6)
    with pytest.raises(ValidationError, match="exploration: must lie in"):
        AdaptiveAllocator(["x"], batch_budget=6, exploration=1.0)
    with pytest.raises(ValidationError, match="strategy: must be one of"):
        AdaptiveAllocator(["x"], batch_budget=6, strategy="greedy")


def test_oracle_plan_matches_closed_form():
    # p = 1 (population-weighted mean error): minimising sum s sigma^2 d / (n - d - 1) at cost B
    # gives n - d - 1 proportional to sqrt(s sigma^2 d / k) (Lagrange), the budget fixing the scale
    problem = default_problem()
    s, k = np.asarray(problem.shares), np.asarray(problem.costs)
    d, s2 = np.asarray(problem.dims, float), np.asarray(problem.noise) ** 2
    weight = np.sqrt(s * s2 * d / k)
    exact = d + 1 + (BUDGET - k @ (d + 1)) * weight / (k @ weight)
    plan = oracle_counts(problem, BUDGET, p=1.0)
    assert np.all((exact - 1 < plan) & (plan <= exact + 1e-6)), (plan, exact)
