"""Integer allocations against brute force and an independent DP oracle.

Outside truth: exhaustive enumeration of every integer plan (small cases) and a dynamic program
over the integer budget (medium cases), neither of which uses the code under test. Objective
values must agree to 1e-12 relative (ties may pick different plans with equal value).
"""

import itertools
import math
from unittest import mock

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sampling.allocation._integer as integer_module
from estimators.errors import ValidationError
from sampling.allocation._integer import (
    integer_budget,
    integer_local_search,
    integer_maximin,
    power_curve_terms,
)
from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import allocate

CURVES = pd.DataFrame({"a": [0.9, 0.6, 0.8], "b": [0.5, 0.4, 0.7], "c": [0.02, 0.05, 0.0]},
                      index=["x", "y", "z"])
COSTS = {"x": 1.0, "y": 2.5, "z": 3.7}  # unequal, not integers
BUDGET = 37.0
SHARES = {"x": 0.5, "y": 0.3, "z": 0.2}


def errors(n, curves=CURVES):
    n = np.asarray(n, float)
    return curves["a"].to_numpy() * n ** -curves["b"].to_numpy() + curves["c"].to_numpy()


def value(kind, e, **extra):
    """Objective to MINIMISE, written independently of sampling.allocation."""
    if kind == "utilitarian":
        return e.mean()
    if kind == "population":
        return float(np.dot(list(SHARES.values()), e))
    if kind == "pnorm":
        return float(np.sum(e ** extra["p"] / 3) ** (1 / extra["p"]))
    if kind == "alpha_fair":
        al = extra["alpha"]
        u = 1 - e
        return -float(np.mean(np.log(u))) if al == 1 else -float(np.mean(u ** (1 - al)) / (1 - al))
    raise AssertionError(kind)


def plans(costs=COSTS, budget=BUDGET, current=(0, 0, 0), max_n=(10**9,) * 3):
    k = np.array(list(costs.values()))
    cur = np.array(current)
    tops = [int(min(max_n[g], cur[g] + budget // k[g])) for g in range(3)]
    for n in itertools.product(*(range(max(1, cur[g]), tops[g] + 1) for g in range(3))):
        if k @ (np.array(n) - cur) <= budget * (1 + 1e-12):
            yield np.array(n)


CASES = [("utilitarian", {}), ("population", {"population_shares": SHARES}),
         ("pnorm", {"p": 3.0}), ("alpha_fair", {"alpha": 1.0}), ("alpha_fair", {"alpha": 2.5})]


@pytest.mark.parametrize(("kind", "extra"), CASES)
@pytest.mark.parametrize("current", [(0, 0, 0), (0, 9, 2)])
def test_unequal_costs_equal_brute_force(kind, extra, current):
    plan = allocate(CURVES, budget=BUDGET, costs=COSTS, objective=kind, current_n=dict(
        zip(CURVES.index, current, strict=True)), **extra)
    best = min(value(kind, errors(n), **extra) for n in plans(current=current))
    got = value(kind, errors(plan.n.to_numpy()), **extra)
    assert got == pytest.approx(best, rel=1e-12, abs=1e-15)
    assert plan.integer_status == "optimal"
    assert plan.cost <= BUDGET * (1 + 1e-12)
    assert plan.rounding_cost >= -1e-14


@pytest.mark.parametrize(("kind", "extra"), CASES[:3])
def test_irrational_costs_milp_path_equals_brute_force(kind, extra):
    costs = {"x": 1.0, "y": math.sqrt(6), "z": math.pi}  # no power-of-10 scaling: MILP path
    plan = allocate(CURVES, budget=BUDGET, costs=costs, objective=kind, **extra)
    best = min(value(kind, errors(n), **extra) for n in plans(costs=costs))
    assert value(kind, errors(plan.n.to_numpy()), **extra) == pytest.approx(best, rel=1e-12)
    assert plan.integer_status == "optimal"


def test_unequal_costs_with_caps_equal_brute_force():
    plan = allocate(CURVES, budget=BUDGET, costs=COSTS, max_n={"x": 6, "y": 40, "z": 40})
    best = min(errors(n).mean() for n in plans(max_n=(6, 40, 40)))
    assert plan.objective_value == pytest.approx(best, rel=1e-12)
    assert plan.n["x"] <= 6 and plan.integer_status == "optimal"


@pytest.mark.parametrize("costs", [COSTS, {"x": 3.0, "y": 1.0, "z": 2.0}])
def test_maximin_unequal_costs_lexicographic_brute_force(costs):
    plan = allocate(CURVES, budget=BUDGET, costs=costs, objective="maximin")
    cands = [(errors(n).max(), errors(n).sum()) for n in plans(costs=costs)]
    t_best = min(t for t, _ in cands)
    s_best = min(s for t, s in cands if t <= t_best * (1 + 1e-15))
    e = errors(plan.n.to_numpy())
    assert e.max() == pytest.approx(t_best, rel=1e-14)
    assert e.sum() == pytest.approx(s_best, rel=1e-12)  # leftover budget: min sum of errors
    assert plan.integer_status == "optimal"


def test_custom_objective_local_search_status_and_bound():
    plan = allocate(CURVES, budget=BUDGET, costs=COSTS, objective=lambda e, n: cp.sum(e) / 3)
    best = min(errors(n).mean() for n in plans())
    assert plan.integer_status.startswith(
        "heuristic (local optimum; gap to the continuous bound <= ")
    assert plan.objective_value >= best - 1e-12
    assert plan.objective_value <= best * (1 + 1e-3)  # a good local optimum on this case
    assert plan.rounding_cost >= -1e-9 and plan.cost <= BUDGET * (1 + 1e-12)
    assert plan.status.startswith("continuous optimal; integer heuristic")


def test_custom_objective_beats_floor():
    floor = np.floor(allocate(CURVES, budget=BUDGET, costs=COSTS, integer=False,
                              objective=lambda e, n: cp.max(e)).n_continuous.to_numpy())
    plan = allocate(CURVES, budget=BUDGET, costs=COSTS, objective=lambda e, n: cp.max(e))
    assert plan.objective_value <= errors(floor).max() + 1e-12
    best = min(errors(n).max() for n in plans())
    assert plan.objective_value >= best - 1e-12


def test_pooled_curves_integer_local_search(pooled_pilot):
    cv = fit_learning_curves(pooled_pilot, pooled=True)
    plan = allocate(cv, budget=1000, costs={"x": 1.0, "y": 3.0})
    assert plan.integer_status.startswith("heuristic (local optimum")
    assert plan.rounding_cost >= -1e-9 and plan.cost <= 1000


def test_local_search_reports_evaluation_limit():
    k = np.array([1.0, 2.0])
    n, evals, local = integer_local_search(lambda n: float(np.sum(1 / n)), k, 50.0,
                                           np.array([1, 1]), np.array([100, 100]),
                                           np.array([1.0, 1.0]), max_evaluations=3)
    assert not local and evals >= 3 and k @ n <= 50


# ------------------------------------------------------------------ DP oracle, medium sizes
def dp_min_sum(F, k, budget, lo, hi):
    """min sum F_g(n_g) s.t. sum k_g (n_g - lo_g) <= budget, integer costs; exact DP."""
    V = np.zeros(budget + 1)  # V[s]: best value of the groups so far spending at most s
    for g in range(k.size):
        new = np.full(budget + 1, np.inf)
        for m in range(0, min(hi[g] - lo[g], budget // k[g]) + 1):
            cand = F(g, lo[g] + m) + V[: budget + 1 - k[g] * m]
            new[k[g] * m:] = np.minimum(new[k[g] * m:], cand)
        V = new
    return V[budget]


problems = st.tuples(st.integers(2, 6), st.integers(0, 10**6), st.integers(30, 400))


def random_curves(G, seed):
    """Curves a n^-b + c and integer costs 1-10 of G groups (the rng continues for the box)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.2, 3, G), rng.uniform(0.1, 1.5, G), rng.uniform(0, 0.2, G)
    return rng, a, b, c, rng.integers(1, 11, G)


@settings(max_examples=15, deadline=None)
@given(problems)
def test_proven_method_equals_dp_oracle(problem):
    G, seed, budget = problem
    rng, a, b, c, k = random_curves(G, seed)
    lo = rng.integers(1, 4, G)
    if k @ lo > budget:
        lo = np.ones(G, dtype=np.int64)
    assume(k @ lo <= budget)
    hi = lo + rng.integers(0, 80, G)
    w = rng.dirichlet(np.ones(G))
    F = power_curve_terms(a, b, c, w)

    sol = integer_budget(F, k.astype(float), float(budget), lo, hi, lo.astype(float) + 0.5)
    with mock.patch.object(integer_module, "DP_WORK", 0):  # force the MILP over the windows
        by_milp = integer_budget(F, k.astype(float), float(budget), lo, hi, lo.astype(float))
    want = dp_min_sum(lambda g, n: w[g] * (a[g] * n ** -b[g] + c[g]), k, int(budget - k @ lo),
                      lo, hi)
    assert sol.status == "optimal"
    assert k @ sol.n <= budget and np.all(sol.n >= lo) and np.all(sol.n <= hi)
    assert float(np.sum(F(sol.n))) == pytest.approx(want, rel=1e-12)
    assert float(np.sum(F(by_milp.n))) == pytest.approx(want, rel=1e-12)
    assert by_milp.status == "optimal" and k @ by_milp.n <= budget


@settings(max_examples=10, deadline=None)
@given(problems)
def test_maximin_equals_dp_oracle(problem):
    G, seed, budget = problem
    rng, a, b, c, k = random_curves(G, seed)
    lo = np.ones(G, dtype=np.int64)
    assume(k @ lo <= budget)
    hi = lo + rng.integers(0, 80, G)
    err = power_curve_terms(a, b, c)
    sol = integer_maximin(err, k.astype(float), float(budget), lo, hi, lo.astype(float))
    R = int(budget - k @ lo)
    V = np.full(R + 1, -np.inf)  # min over plans of the max error, DP over spent budget
    for g in range(G):
        new = np.full(R + 1, np.inf)
        for m in range(0, min(hi[g] - lo[g], R // k[g]) + 1):
            e = a[g] * float(lo[g] + m) ** -b[g] + c[g]
            new[k[g] * m:] = np.minimum(new[k[g] * m:], np.maximum(e, V[: R + 1 - k[g] * m]))
        V = new
    t = err(sol.n).max()
    assert t == pytest.approx(V[R], rel=1e-14)
    # given the level, leftover budget minimises the sum of errors (DP restricted to err <= t)
    lo2 = np.array([next(n for n in range(lo[g], hi[g] + 1) if err(np.array([n]), [g])[0] <= t)
                    for g in range(G)])
    want = dp_min_sum(lambda g, n: a[g] * n ** -b[g] + c[g], k, int(budget - k @ lo2), lo2, hi)
    assert err(sol.n).sum() == pytest.approx(want, rel=1e-12)
    assert sol.status == "optimal"


def test_maximin_equal_costs_brute_force():
    costs = {"x": 2.0, "y": 2.0, "z": 2.0}
    plan = allocate(CURVES, budget=BUDGET, costs=costs, objective="maximin")
    best = min(errors(n).max() for n in plans(costs=costs))
    assert errors(plan.n.to_numpy()).max() == pytest.approx(best, rel=1e-14)
    assert plan.integer_status == "optimal" and plan.cost <= BUDGET


def test_maximin_tie_break_none_is_cheapest_plan_at_the_level():
    plan = allocate(CURVES, budget=BUDGET, costs=COSTS, objective="maximin", tie_break="none")
    k = np.array(list(COSTS.values()))
    t_best = min(errors(n).max() for n in plans())
    at_level = [n for n in plans() if errors(n).max() <= t_best * (1 + 1e-15)]
    cheapest = min(float(k @ n) for n in at_level)
    assert errors(plan.n.to_numpy()).max() == pytest.approx(t_best, rel=1e-14)
    assert plan.cost == pytest.approx(cheapest, rel=1e-12)


# ---- cases carried over from the earlier proximity-window implementation (main) ----


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
def test_large_box_unequal_costs_equal_brute_force(seed, costs, budget):
    F, k = _problem(seed, costs)
    lo, hi = np.ones(3, dtype=np.int64), np.full(3, 400, dtype=np.int64)  # too big for a full box
    # continuous optimum from an independent bisection on the budget multiplier
    from sampling.allocation import _core as core
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.5, 3, 3), rng.uniform(0.2, 1.2, 3), rng.uniform(0, 0.1, 3)
    w = rng.uniform(0.1, 1, 3)
    warm = core.solve_budget(a, b, c, w, k, budget, lo.astype(float), hi.astype(float)).n
    sol = integer_budget(F, k, budget, lo, hi, warm)
    assert sol.status == "optimal"
    want, best = _brute_force(F, k, budget, lo, hi)
    got = float(F(sol.n, None).sum())
    assert got == pytest.approx(best, rel=1e-12)
    assert float(k @ sol.n) <= budget * (1 + 1e-12)
    if not np.array_equal(sol.n, want):  # only an exact tie may differ
        assert abs(got - best) <= 1e-12 * best


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
    curves = pd.DataFrame({"a": [2.0, 1.0, 3.0], "b": [0.5, 0.3, 0.8], "c": [0.05, 0.1, 0.02]},
                          index=["x", "y", "z"])
    costs = {"x": 1.0, "y": 2.0, "z": 3.0}
    weights = np.array([1.0, 2.0, 1.0])
    plan = allocate(curves, budget=120, costs=costs,
                    objective=lambda e, n: cp.sum(cp.multiply(weights, e)) + cp.max(e))
    assert plan.integer_status.startswith("heuristic (local optimum")
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


# ---- exactness regressions and the range of integer sizes ----


def test_equal_cost_maximin_moves_units_down_from_the_continuous_floor():
    """Equal costs, budget 34 at cost 2: the floor of the continuous plan has 13 in group c, the
    integer optimum 12; filling the floor greedily gave (3, 1, 13) with worst error 1.524."""
    curves = pd.DataFrame({"a": [2.942, 1.256, 3.273], "b": [1.102, 1.083, 0.335],
                           "c": [0.187, 0.268, 0.06]}, index=["a", "b", "c"])
    par = curves.to_numpy()
    best = min(float(np.max(par[:, 0] * np.asarray(n, float) ** -par[:, 1] + par[:, 2]))
               for n in itertools.product(range(1, 18), repeat=3) if 2 * sum(n) <= 34)
    for tie_break in ("leximin", "utilitarian", "none"):
        plan = allocate(curves, budget=34, costs=2.0, objective="maximin", tie_break=tie_break)
        assert plan.n.tolist() == [3, 2, 12]
        assert plan.predicted_error.max() == pytest.approx(best, rel=1e-15)
        assert plan.predicted_error.max() == pytest.approx(1.4837059100792667, rel=1e-12)
        assert plan.integer_status == "optimal" and plan.cost == 34


def test_milp_plan_over_the_budget_by_the_solver_tolerance_is_cut_off():
    """HiGHS accepted (3, 3, 6, 4), over the budget by 2.7e-7 (within its feasibility
    tolerance); the plan returned must be the best truly affordable one, found by enumeration."""
    curves = pd.DataFrame({
        "a": [0.17095057, 0.06054491, 0.14032377, 0.34761706],
        "b": [0.90978979, 1.39709056, 0.3079564, 0.16396321],
        "c": [0.11081896, 0.07186282, 0.14173013, 0.04549]}, index=list("pqrs"))
    k = np.array([3.51463871, 2.7385036, 0.84612547, 2.88936084])
    budget = float(k @ [3, 3, 6, 4]) - 2.7e-7
    par = curves.to_numpy()
    plan = allocate(curves, budget=budget, costs=dict(zip(curves.index, k)),
                    min_n={"p": 3, "q": 2, "r": 1, "s": 3})
    best = min(float(np.mean(par[:, 0] * np.asarray(n, float) ** -par[:, 1] + par[:, 2]))
               for n in itertools.product(range(3, 11), range(2, 13), range(1, 42), range(3, 13))
               if k @ n <= budget * (1 + 1e-12))
    assert plan.cost <= budget * (1 + 1e-12)
    assert plan.objective_value == pytest.approx(best, rel=1e-12)
    assert plan.integer_status == "optimal"


def test_budget_buying_more_than_2_53_samples_is_refused():
    curves = CURVES
    with pytest.raises(ValidationError, match=r"budget: integer plans support group sizes up to "
                                              r"2\*\*53 .* buys more samples than that"):
        allocate(curves, budget=1e19, costs=1.0)
    with pytest.raises(ValidationError, match="buys more samples than that"):
        allocate(curves, budget=1e19, costs=1.0, objective="maximin")
    capped = allocate(curves, budget=1e19, costs=1.0, max_n=1000)  # sizes fit: no refusal
    assert capped.n.tolist() == [1000, 1000, 1000] and capped.integer_status == "optimal"
    assert allocate(curves, budget=1e19, costs=1.0, integer=False).status == "optimal"


def test_lower_bounds_above_2_53_are_refused():
    with pytest.raises(ValidationError, match=r"min_n: integer plans support group sizes up to "
                                              r"2\*\*53 .* some lower bounds"):
        allocate(CURVES, budget=1e17, costs=1.0, min_n=1e16, max_n=2e16)


def test_targets_needing_more_than_2_53_samples_are_refused():
    curves = pd.DataFrame({"a": [1.0], "b": [0.5], "c": [0.0]}, index=["x"])
    with pytest.raises(ValidationError, match=r"targets: integer plans support group sizes up to "
                                              r"2\*\*53 .* reaching some targets"):
        allocate(curves, objective="target", targets=1e-9)
    assert allocate(curves, objective="target", targets=1e-9, integer=False).n_continuous[
        "x"] == pytest.approx(1e18, rel=1e-9)


def test_objective_terms_that_are_nan_are_refused():
    def F(n, idx=None):
        return np.full(np.shape(n), np.nan)

    with pytest.raises(ValidationError, match="objective: the objective terms must be finite"):
        integer_budget(F, np.array([1.0, 2.0]), 20.0, np.array([1, 1]), np.array([30, 30]))
