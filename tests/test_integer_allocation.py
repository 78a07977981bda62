"""Exact integer allocations with unequal costs: proximity-certified MILP vs brute force."""

import numpy as np
import pandas as pd
import pytest

from sampling import allocate
from sampling._integer_allocation import integer_budget, proximity_window


def _problem(seed, costs):
    rng = np.random.default_rng(seed)
    G = len(costs)
    a, b, c = rng.uniform(0.5, 3, G), rng.uniform(0.2, 1.2, G), rng.uniform(0, 0.1, G)
    w = rng.uniform(0.1, 1, G)

    def F(n, idx):
        g = slice(None) if idx is None else idx
        return w[g] * (a[g] * np.asarray(n, float) ** -b[g] + c[g])

    return F, np.asarray(costs, float)


def _brute_force(F, costs, budget, lo, hi):
    """Every (n_1, n_2); the last group takes what is left (the objective decreases in n)."""
    n1, n2 = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    n1, n2 = n1.ravel(), n2.ravel()
    left = budget - costs[0] * n1 - costs[1] * n2
    n3 = np.minimum(hi[2], np.floor(left / costs[2] + 1e-9)).astype(np.int64)
    ok = n3 >= lo[2]
    n1, n2, n3 = n1[ok], n2[ok], n3[ok]
    g = np.zeros(n1.size, dtype=np.intp)
    total = F(n1, g) + F(n2, g + 1) + F(n3, g + 2)
    best = int(np.argmin(total))
    return np.array([n1[best], n2[best], n3[best]]), float(total[best])


@pytest.mark.parametrize(("seed", "costs", "budget"), [
    (0, [1.0, 2.0, 3.0], 700.0),
    (1, [3.0, 7.0, 2.0], 1500.0),
    (2, [1.5, 2.5, 4.0], 900.0),  # rational costs: scaled by 2 to integers
    (3, [9.0, 1.0, 4.0], 1234.0),
])
def test_certified_window_equals_brute_force(seed, costs, budget):
    F, k = _problem(seed, costs)
    lo, hi = np.ones(3, dtype=np.int64), np.full(3, 400, dtype=np.int64)  # too big for a full box
    # continuous optimum from an independent bisection on the budget multiplier
    from sampling import _allocation_core as core
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.5, 3, 3), rng.uniform(0.2, 1.2, 3), rng.uniform(0, 0.1, 3)
    w = rng.uniform(0.1, 1, 3)
    warm = core.solve_budget(a, b, c, w, k, budget, lo.astype(float), hi.astype(float)).n
    sol = integer_budget(F, k, budget, lo, hi, warm)
    assert sol.status == "optimal"
    assert sol.method == "milp (proximity window)"
    want, best = _brute_force(F, k, budget, lo, hi)
    got = float(F(sol.n, None).sum())
    assert got == pytest.approx(best, rel=1e-12)
    assert float(k @ sol.n) <= budget * (1 + 1e-12)
    if not np.array_equal(sol.n, want):  # only an exact tie may differ
        assert abs(got - best) <= 1e-12 * best


def test_proximity_window_scales_rational_costs():
    assert proximity_window(np.array([2.0, 3.0])) == 6
    assert proximity_window(np.array([0.5, 0.25])) == 4  # x4 -> 2, 1
    assert proximity_window(np.array([1.0, np.sqrt(2.0)])) is None


def test_irrational_costs_fall_back_to_a_stated_window():
    F, k = _problem(5, [1.0, np.sqrt(2.0), 3.0])
    lo, hi = np.ones(3, dtype=np.int64), np.full(3, 1000, dtype=np.int64)
    sol = integer_budget(F, k, 800.0, lo, hi, np.array([300.0, 200.0, 70.0]))
    assert sol.status == "optimal_in_window"


def test_allocate_reports_a_proven_integer_plan_for_unequal_costs():
    rng = np.random.default_rng(7)
    G = 12
    idx = [f"g{i}" for i in range(G)]
    curves = pd.DataFrame({"a": rng.uniform(0.5, 3, G), "b": rng.uniform(0.2, 1.2, G),
                           "c": rng.uniform(0, 0.1, G)}, index=idx)
    costs = dict(zip(idx, rng.integers(1, 8, G).astype(float)))
    plan = allocate(curves, budget=5000, costs=costs, objective="utilitarian")
    assert plan.integer_status == "optimal"
    assert plan.rounding_cost >= 0
    assert float(sum(costs[g] * plan.n[g] for g in idx)) <= 5000


def test_custom_objective_integer_plan_equals_brute_force_on_a_small_case():
    import itertools

    import cvxpy as cp

    curves = pd.DataFrame({"a": [2.0, 1.0, 3.0], "b": [0.5, 0.3, 0.8], "c": [0.05, 0.1, 0.02]},
                          index=["x", "y", "z"])
    costs = {"x": 1.0, "y": 2.0, "z": 3.0}
    weights = np.array([1.0, 2.0, 1.0])
    plan = allocate(curves, budget=120, costs=costs,
                    objective=lambda e, n: cp.sum(cp.multiply(weights, e)) + cp.max(e))
    assert plan.integer_status.startswith("heuristic: 1-exchange local optimum")
    k = np.array(list(costs.values()))
    par = curves.to_numpy()

    def value(n):
        e = par[:, 0] * np.asarray(n, float) ** -par[:, 1] + par[:, 2]
        return float(weights @ e + e.max())

    best = min((value(n), n) for n in itertools.product(range(1, 121), range(1, 61), range(1, 41))
               if k @ np.array(n) <= 120)
    assert plan.objective_value == pytest.approx(best[0], rel=1e-12)
    assert plan.rounding_cost >= -1e-12


@pytest.mark.parametrize(("costs", "budget"), [([1.0, 2.5, 3.0], 700.0), ([4.0, 1.0, 2.0], 900.0)])
def test_maximin_unequal_costs_equals_brute_force(costs, budget):
    """Lexicographic optimum: smallest largest error, then smallest sum of errors."""
    curves = pd.DataFrame({"a": [2.0, 1.0, 3.0], "b": [0.5, 0.3, 0.8], "c": [0.05, 0.1, 0.02]},
                          index=["x", "y", "z"])
    plan = allocate(curves, budget=budget, costs=dict(zip(curves.index, costs)),
                    objective="maximin")
    assert plan.integer_status == "optimal"
    a, b, c = (curves[col].to_numpy() for col in "abc")
    k = np.asarray(costs)
    n1, n2 = np.meshgrid(np.arange(1, int(budget) + 1), np.arange(1, int(budget / k[1]) + 1),
                         indexing="ij")
    n1, n2 = n1.ravel(), n2.ravel()
    n3 = np.floor((budget - k[0] * n1 - k[1] * n2) / k[2] + 1e-9)
    ok = n3 >= 1
    n = np.stack([n1[ok], n2[ok], n3[ok]], axis=1).astype(float)
    err = a * n**-b + c
    worst, total = err.max(axis=1), err.sum(axis=1)
    best = worst.min()
    tie = worst == best
    got = plan.predicted_error.to_numpy()
    assert got.max() == best
    assert got.sum() == pytest.approx(total[tie].min(), rel=1e-12)
