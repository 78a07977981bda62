"""Properties of the exact allocation core and allocate() on random instances (hypothesis)."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling import _allocation_core as core
from sampling.allocation import allocate


@st.composite
def instances(draw, max_groups=8):
    G = draw(st.integers(1, max_groups))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 5, G)
    b = rng.uniform(0.1, 1.5, G)
    c = rng.uniform(0, 0.2, G)
    w = rng.uniform(0.1, 1, G)
    k = rng.uniform(0.5, 10, G)
    lo = rng.uniform(1, 20, G)
    capped = draw(st.booleans())
    hi = lo + rng.uniform(1, 500, G) if capped else np.full(G, np.inf)
    frac = draw(st.floats(0.01, 0.99 if capped else 50.0))
    span = float(k @ (hi - lo)) if capped else float(k @ lo)
    B = float(k @ lo) + frac * span
    return a, b, c, w, k, lo, hi, B


def _bisection_oracle(a, b, w, k, lo, hi, B):
    """A plain, independent solver: 300 bisections on log lambda, closed-form n(lambda)."""
    def n_of(t):
        return np.clip((w * a * b / (np.exp(t) * k)) ** (1 / (b + 1)), lo, hi)

    left, right = -200.0, 200.0
    for _ in range(300):
        mid = 0.5 * (left + right)
        if k @ n_of(mid) > B:
            left = mid
        else:
            right = mid
    return n_of(right)


CLARABEL_TIGHT = {"tol_gap_abs": 1e-14, "tol_gap_rel": 1e-14, "tol_feas": 1e-14, "max_iter": 500}


def _cvxpy_tight(a, b, c, w, k, lo, hi, B):
    """An independent, well-scaled conic model of the same problem, solved tightly by CLARABEL.

    Scaling: n = s * exp(v) around the equal-spend point s = clip(B / (G k), lo, hi) (so every
    budget coefficient is about 1/G and v is O(1)), and the objective divided by its value at s.
    """
    G = a.size
    s = np.clip(B / (G * k), lo, hi)
    coef = w * a * s**-b
    scale = coef.sum()
    v = cp.Variable(G)
    obj = cp.sum(cp.multiply(coef / scale, cp.exp(cp.multiply(-b, v))))
    cons = [(k * s / B) @ cp.exp(v) <= 1, v >= np.log(lo / s)]
    if np.isfinite(hi).all():
        cons.append(v <= np.log(hi / s))
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL", **CLARABEL_TIGHT)
    return s * np.exp(v.value), prob, scale


def _check_against_cvxpy(inst) -> str:
    a, b, c, w, k, lo, hi, B = inst
    sol = core.solve_budget(a, b, c, w, k, B, lo, hi)
    n_cvx, prob, scale = _cvxpy_tight(a, b, c, w, k, lo, hi, B)
    f = lambda n: float(w @ (a * n**-b + c))  # noqa: E731
    if prob.status in ("optimal", "optimal_inaccurate"):
        # the core is never worse, and the objectives agree to 1e-7 relative
        assert f(sol.n) <= f(np.clip(n_cvx, lo, hi)) * (1 + 1e-9) + 1e-12
        assert abs(f(sol.n) - (prob.value * scale + float(w @ c))) <= 1e-7 * f(sol.n)
    if prob.status == "optimal":
        # CLARABEL certified its 1e-14 tolerances: the allocations agree to 1e-7 relative too.
        # (When it stops at "optimal_inaccurate" the exp-cone iterate can be 1e-6..1e-4 off in
        # n on a flat optimum, although the objective still agrees; see docs/performance.md.)
        np.testing.assert_allclose(n_cvx, sol.n, rtol=1e-7)
    return prob.status


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
@settings(max_examples=25)
@given(instances())
def test_core_equals_independent_oracle_and_cvxpy(inst):
    a, b, c, w, k, lo, hi, B = inst
    sol = core.solve_budget(a, b, c, w, k, B, lo, hi)
    assert sol.status == "optimal"
    assert sol.kkt_residual <= 1e-12
    oracle = _bisection_oracle(a, b, w, k, lo, hi, B)
    np.testing.assert_allclose(sol.n, oracle, rtol=1e-10)
    _check_against_cvxpy(inst)


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_core_equals_tightly_solved_cvxpy_on_a_seeded_sweep():
    """60 seeded instances (G = 1..30, capped and uncapped): the check is not vacuous."""
    statuses = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        G = int(rng.choice([1, 3, 8, 30]))
        a, b, c = rng.uniform(0.1, 5, G), rng.uniform(0.1, 1.5, G), rng.uniform(0, 0.2, G)
        w, k, lo = rng.uniform(0.1, 1, G), rng.uniform(0.5, 10, G), rng.uniform(1, 20, G)
        capped = seed % 2 == 0
        hi = lo + rng.uniform(1, 500, G) if capped else np.full(G, np.inf)
        frac = rng.uniform(0.01, 0.99)
        B = float(k @ lo) + frac * (float(k @ (hi - lo)) if capped else 50 * float(k @ lo))
        statuses.append(_check_against_cvxpy((a, b, c, w, k, lo, hi, B)))
    assert statuses.count("optimal") >= 20


@given(instances())
def test_bounds_and_budget_respected(inst):
    a, b, c, w, k, lo, hi, B = inst
    sol = core.solve_budget(a, b, c, w, k, B, lo, hi)
    assert (sol.n >= lo).all() and (sol.n <= hi).all()
    spent = float(k @ sol.n)
    assert spent <= B
    if not sol.at_upper.all():
        assert spent >= B * (1 - 1e-13)


@given(instances(), st.floats(1.0001, 3.0))
def test_utilitarian_monotone_in_budget(inst, factor):
    a, b, c, w, k, lo, hi, B = inst
    one = core.solve_budget(a, b, c, w, k, B, lo, hi)
    more = core.solve_budget(a, b, c, w, k, B * factor, lo, hi)
    assert (more.n >= one.n * (1 - 1e-12)).all()


@given(instances(), st.floats(1e-3, 1e3))
def test_scaling_costs_and_budget_changes_nothing(inst, scale):
    a, b, c, w, k, lo, hi, B = inst
    one = core.solve_budget(a, b, c, w, k, B, lo, hi)
    two = core.solve_budget(a, b, c, w, k * scale, B * scale, lo, hi)
    np.testing.assert_allclose(one.n, two.n, rtol=1e-11)
    m1 = core.solve_maximin(a, b, c, k, B, lo, hi)
    m2 = core.solve_maximin(a, b, c, k * scale, B * scale, lo, hi)
    np.testing.assert_allclose(m1.n, m2.n, rtol=1e-10)


@given(instances())
def test_maximin_level_and_budget(inst):
    a, b, c, _w, k, lo, hi, B = inst
    sol = core.solve_maximin(a, b, c, k, B, lo, hi)
    assert sol.status == "optimal"
    assert (sol.n >= lo).all() and (sol.n <= hi).all() and float(k @ sol.n) <= B
    err = a * sol.n**-b + c
    # no group can be improved without exceeding the budget: the worst group is capped or the
    # budget is spent
    worst = int(np.argmax(err))
    assert sol.at_upper[worst] or float(k @ sol.n) >= B * (1 - 1e-12)


@settings(max_examples=15)
@given(instances(max_groups=5))
def test_integer_plan_feasible_and_no_better_than_continuous(inst):
    a, b, c, w, k, lo, hi, B = inst
    idx = [f"g{i}" for i in range(a.size)]
    curves = pd.DataFrame({"a": a, "b": b, "c": c}, index=idx)
    lo_i = np.ceil(lo)
    hi_i = np.minimum(np.floor(hi), lo_i + 30)  # small boxes: the MILP runs over the full box
    B2 = float(k @ lo_i) + 0.5 * (B - float(k @ lo))
    plan = allocate(curves, budget=B2, costs=dict(zip(idx, k)), min_n=dict(zip(idx, lo_i)),
                    max_n=dict(zip(idx, np.maximum(hi_i, lo_i))), objective="population",
                    population_shares=dict(zip(idx, w)))
    n = plan.n.to_numpy()
    assert (n >= lo_i).all() and (n <= np.maximum(hi_i, lo_i)).all()
    assert float(k @ n) <= B2 * (1 + 1e-12)
    assert plan.objective_value >= plan.objective_value_continuous * (1 - 1e-12)
    assert plan.integer_status == "optimal"
