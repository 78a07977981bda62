"""Properties of the exact allocation core and allocate() on random instances (hypothesis)."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.allocation import _core as core
from sampling.allocation._plan import allocate


def random_instance(rng: np.random.Generator, max_groups: int = 8, capped=None, frac=None):
    """One random budget problem (shared with tests/sampling/allocation/reference/allocation_cvxpy_agreement.py)."""
    G = int(rng.integers(1, max_groups + 1))
    a = rng.uniform(0.1, 5, G)
    b = rng.uniform(0.1, 1.5, G)
    c = rng.uniform(0, 0.2, G)
    w = rng.uniform(0.1, 1, G)
    k = rng.uniform(0.5, 10, G)
    lo = rng.uniform(1, 20, G)
    capped = bool(rng.integers(0, 2)) if capped is None else capped
    hi = lo + rng.uniform(1, 500, G) if capped else np.full(G, np.inf)
    frac = rng.uniform(0.01, 0.99 if capped else 50.0) if frac is None else frac
    span = float(k @ (hi - lo)) if capped else float(k @ lo)
    B = float(k @ lo) + frac * span
    return a, b, c, w, k, lo, hi, B


@st.composite
def instances(draw, max_groups=8):
    seed = draw(st.integers(0, 2**32 - 1))
    capped = draw(st.booleans())
    frac = draw(st.floats(0.01, 0.99 if capped else 50.0))
    return random_instance(np.random.default_rng(seed), max_groups, capped, frac)


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


# CLARABEL at 1e-13 (tighter than its 1e-8 default; 1e-14 is never reached in double precision)
TIGHT = {"tol_gap_abs": 1e-13, "tol_gap_rel": 1e-13, "tol_feas": 1e-13, "max_iter": 400}


def _scale(k, lo, hi, B):
    hi_eff = np.minimum(hi, B / k)
    return np.sqrt(lo * np.maximum(hi_eff, lo * 1.0001))


def _exp_cone(a, b, w, k, lo, hi, B, opts, s=None):
    """Exp-cone model in v = log(n / s), objective normalised to sum of coefficients 1."""
    s = _scale(k, lo, hi, B) if s is None else s
    coef = w * a * s**-b
    v = cp.Variable(a.size)
    cons = [(k * s / B) @ cp.exp(v) <= 1, v >= np.log(lo / s)]
    if np.isfinite(hi).all():
        cons.append(v <= np.log(hi / s))
    prob = cp.Problem(cp.Minimize((coef / coef.sum()) @ cp.exp(cp.multiply(-b, v))), cons)
    prob.solve(solver="CLARABEL", **opts)
    return (s * np.exp(v.value) if v.value is not None else None), prob.status


def _power_cone(a, b, w, k, lo, hi, B, opts, s=None):
    """Power-cone model in x = n / s: ``x^-b <= t`` as ``t^(1/(1+b)) x^(b/(1+b)) >= 1``."""
    s = _scale(k, lo, hi, B) if s is None else s
    coef = w * a * s**-b
    G = a.size
    x, t = cp.Variable(G), cp.Variable(G)
    cons = [cp.PowCone3D(t, x, np.ones(G), 1 / (1 + b)), (k * s / B) @ x <= 1, x >= lo / s]
    if np.isfinite(hi).all():
        cons.append(x <= hi / s)
    prob = cp.Problem(cp.Minimize((coef / coef.sum()) @ t), cons)
    prob.solve(solver="CLARABEL", **opts)
    return (s * x.value if x.value is not None else None), prob.status


def cvxpy_cascade(a, b, w, k, lo, hi, B):
    """Independent conic solves (no use of the core): the first model whose status is
    "optimal" wins. If none is, the models are re-scaled around cvxpy's own latest point
    (s = that n, so every v is ~0, every x ~1) and solved again, three rounds at most; otherwise
    the last point is returned with its status.
    Returns (n, status, stage name)."""
    first = None
    for name, model, opts in (
        ("exp", _exp_cone, TIGHT),
        ("power", _power_cone, TIGHT),
        ("exp-noequil", _exp_cone, {**TIGHT, "equilibrate_enable": False}),
        ("power-noequil", _power_cone, {**TIGHT, "equilibrate_enable": False}),
    ):
        n, status = model(a, b, w, k, lo, hi, B, opts)
        if n is not None and status == "optimal":
            return n, status, name
        if first is None and n is not None:
            first = (n, status, name)
    last = first
    for round_ in (1, 2, 3):
        for name, model, opts in (
            ("exp", _exp_cone, TIGHT),
            ("exp-noequil", _exp_cone, {**TIGHT, "equilibrate_enable": False}),
            ("power", _power_cone, TIGHT),
            ("power-noequil", _power_cone, {**TIGHT, "equilibrate_enable": False}),
        ):
            n, status = model(a, b, w, k, lo, hi, B, opts, s=np.clip(last[0], lo, hi))
            if n is not None and status == "optimal":
                return n, status, f"{name}-rescaled{round_}"
            if n is not None:
                last = (n, status, f"{name}-rescaled{round_}")
    return last


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
    n_cvx, status, _stage = cvxpy_cascade(a, b, w, k, lo, hi, B)
    f = lambda n: float(w @ (a * n**-b + c))  # noqa: E731
    # the core is never worse, and the objective agrees to 1e-7 relative (measured worst over
    # 500 instances: tests/sampling/allocation/reference/allocation_cvxpy_agreement.json)
    assert f(sol.n) <= f(np.clip(n_cvx, lo, hi)) * (1 + 1e-9) + 1e-12
    assert abs(f(sol.n) - f(n_cvx)) <= 1e-7 * f(sol.n)
    # group sizes: 1e-7 relative whenever CLARABEL certifies "optimal" at 1e-13 (499 of 500
    # instances, worst 4.8e-8); a point never certified (1 of 500, there 2.1e-9; before the
    # re-scaling rounds up to 1.3e-6, about sqrt(objective gap)) is held to 1e-5
    rtol = 1e-7 if status == "optimal" else 1e-5
    np.testing.assert_allclose(n_cvx, sol.n, rtol=rtol)


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
