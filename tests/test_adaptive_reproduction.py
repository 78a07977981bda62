"""Reproduction (issue 4): adaptive allocation vs equal and proportional at equal budget.

Synthetic three-group ridge-regression problem (sampling._learning_problem.default_problem):
population shares 0.6 / 0.3 / 0.1, dimensions 2 / 10 / 30 (learning speed), costs 3 / 1 / 1.
Each policy spends a budget of 450 over 8 rounds; errors are exact test MSEs at the end. The
adaptive policy plans on the population-weighted 1.5-norm of group errors with a 10% exploration
floor. Budget, norm and floor were chosen on seeds 100-111 (where the adaptive policy won every
seed on both metrics against both baselines); the test evaluates seeds 0-9.

Measured on seeds 0-19 (docs/methods/allocation.md): against proportional allocation it wins on
every seed for both metrics; against equal allocation it lowers the worst-group error on 19 of 20
seeds (mean 21%, paired 95% CI of the difference [0.022, 0.039]), while the overall error is
within noise of equal's (14 of 20 seeds, mean 2.0%, CI [-0.0001, 0.0041]): in this problem
equal counts are close to the overall optimum.
"""

import numpy as np
import pandas as pd
import pytest

from estimators import ValidationError
from sampling._learning_problem import default_problem, run_policy
from sampling.adaptive import AdaptiveAllocator

BUDGET, ROUNDS, SEEDS = 450, 8, range(10)


def _adaptive(problem, seed):
    alloc = AdaptiveAllocator(problem.groups, costs=dict(zip(problem.groups, problem.costs)),
                              batch_budget=BUDGET / ROUNDS, objective="pnorm", p=1.5,
                              population_shares=dict(zip(problem.groups, problem.shares)),
                              exploration=0.1, rng=seed)

    def policy(r, observed, current):
        return alloc.next_batch(observed, current_n=current, round=r).counts.to_numpy()

    return run_policy(problem, policy, budget=BUDGET, rounds=ROUNDS, seed=seed)


@pytest.fixture(scope="module")
def results():
    problem = default_problem()
    out = {"equal": [], "proportional": [], "adaptive": []}
    for seed in SEEDS:
        out["equal"].append(run_policy(problem, "equal", budget=BUDGET, rounds=ROUNDS, seed=seed))
        out["proportional"].append(run_policy(problem, "proportional", budget=BUDGET,
                                              rounds=ROUNDS, seed=seed))
        out["adaptive"].append(_adaptive(problem, seed))
    return out


def test_equal_budget(results):
    for runs in results.values():
        for r in runs:
            assert r["spent"] <= BUDGET


def test_adaptive_beats_proportional_on_every_seed(results):
    for ad, pr in zip(results["adaptive"], results["proportional"]):
        assert ad["overall"] < pr["overall"]
        assert ad["worst"] < pr["worst"]


def test_adaptive_beats_equal_on_the_worst_group(results):
    ad = np.array([r["worst"] for r in results["adaptive"]])
    eq = np.array([r["worst"] for r in results["equal"]])
    assert (ad < eq).sum() >= 9  # 9 of 10 seeds (seed 4 is the exception)
    diff = eq - ad
    # paired 95% lower confidence bound on the mean improvement is above zero
    assert diff.mean() - 2.262 * diff.std(ddof=1) / np.sqrt(diff.size) > 0


def test_adaptive_matches_equal_overall(results):
    # equal counts are close to the overall optimum here: no loss on average (within 1%)
    ad = np.mean([r["overall"] for r in results["adaptive"]])
    eq = np.mean([r["overall"] for r in results["equal"]])
    assert ad <= eq * 1.01


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
    nxt = alloc.next_batch(obs, current_n={"x": 40, "y": 40}, round=3)
    assert nxt.mode == "worst_group" and nxt.counts["y"] > nxt.counts["x"]
    assert "Adaptive batch" in nxt.summary() and nxt.plot() is not None
    with pytest.raises(ValidationError, match="must buy at least one sample of every group"):
        AdaptiveAllocator(["x", "y"], costs=5, batch_budget=6)
    with pytest.raises(ValidationError, match="exploration: must lie in"):
        AdaptiveAllocator(["x"], batch_budget=6, exploration=1.0)
    with pytest.raises(ValidationError, match="strategy: must be one of"):
        AdaptiveAllocator(["x"], batch_budget=6, strategy="greedy")
