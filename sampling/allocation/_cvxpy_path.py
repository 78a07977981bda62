"""The general allocation path through cvxpy: custom or coupled objectives, scaled and verified.

The problem is posed in scaled variables ``x_g = n_g / s_g`` with ``s_g = sqrt(lo_g hi_g)`` (``hi_g``
replaced by the most the budget can buy when uncapped), so every variable is O(1); the budget row
is divided by the budget, so it reads ``sum_g (k_g s_g / B) x_g <= 1``. Errors are
``a_g s_g^(-b_g) x_g^(-b_g) + c_g`` (power cones, no exponential cone). After the solve the point is
projected onto the box and the budget, and the KKT conditions are checked in the original units
with the gradient of the objective: the status is ``"optimal"`` only when that residual is small.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from estimators._lib.validation import fail
from estimators.errors import ValidationError
from sampling.allocation._core import KKT_TOL, CoreSolution, Transform, marginal

__all__ = ["ScaledProblem", "build_scaled_problem", "solve_cvxpy"]

# tight interior-point tolerances: the model is well scaled, so they are reachable
TIGHT = {"CLARABEL": {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11,
                      "max_iter": 400}}


@dataclass
class ScaledProblem:
    problem: Any
    x: Any
    scale: np.ndarray
    objective: Any
    log_space: bool


def _scale(lo: np.ndarray, hi: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    hi_eff = np.minimum(hi, np.maximum(budget / costs, lo * 2.0))
    return np.sqrt(lo * hi_eff)


def build_scaled_problem(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, w: np.ndarray, costs: np.ndarray, budget: float,
    lo: np.ndarray, hi: np.ndarray, objective: str | Callable[..., Any],
    *, transform: Transform | None = None, pooled: tuple[np.ndarray, np.ndarray] | None = None,
) -> ScaledProblem:
    """The scaled cvxpy model (see module notes). ``objective`` is a built-in name or a callable
    ``objective(error, n) -> cvxpy scalar`` to minimise (``error`` and ``n`` cvxpy vectors)."""
    import cvxpy as cp

    s = _scale(lo, hi, costs, budget)
    G = a.size
    if pooled is None:  # log space: n = s exp(v), errors are sums of exponentials of affine v
        var = cp.Variable(G, name="v")
        n_expr = cp.multiply(s, cp.exp(var))
        error = cp.multiply(a * s ** (-b), cp.exp(cp.multiply(-b, var))) + c
        lower, upper = np.log(lo / s), np.log(hi / s)
        budget_row = (costs * s / budget) @ cp.exp(var) <= 1
    else:  # linear scaled space: n = s x (power cones), needed for the coupled total-n term
        var = cp.Variable(G, name="x")
        n_expr = cp.multiply(s, var)
        error = cp.hstack([a[g] * s[g] ** (-b[g]) * cp.power(var[g], -float(b[g]))
                           for g in range(G)]) + c
        d, beta = pooled
        total_ref = float(np.sum(s))
        tot = cp.sum(n_expr) / total_ref
        error = error + cp.hstack([d[g] * total_ref ** (-beta[g]) * cp.power(tot, -float(beta[g]))
                                   for g in range(G)])
        lower, upper = lo / s, hi / s
        budget_row = (costs * s / budget) @ var <= 1
    if callable(objective):
        obj = objective(error, n_expr)
    elif objective == "maximin":
        obj = cp.max(error)
    elif transform is None or transform.kind == "identity":
        obj = w @ error
    elif transform.kind == "power":
        obj = w @ cp.power(error, transform.parameter)
    else:
        al = transform.parameter
        u = 1 - error
        obj = -(w @ cp.log(u)) if al == 1.0 else -(w @ cp.power(u, 1 - al)) / (1 - al) if al < 1 \
            else (w @ cp.power(u, 1 - al)) / (al - 1)
    try:
        obj = cp.Expression.cast_to_const(obj)
    except Exception as exc:  # pragma: no cover - cvxpy raises many types
        fail(ValidationError, "objective", f"must return a cvxpy scalar expression ({exc})")
    if obj.size != 1:
        fail(ValidationError, "objective", "must return a scalar cvxpy expression",
             bad=[f"shape {obj.shape}"])
    cons = [budget_row, var >= lower]
    fin = np.isfinite(hi)
    if fin.any():
        cons.append(var[np.flatnonzero(fin)] <= upper[fin])
    prob = cp.Problem(cp.Minimize(obj), cons)
    if not prob.is_dcp():
        fail(ValidationError, "objective",
             "the cvxpy problem is not convex under the DCP rules",
             fix="Use convex, nondecreasing functions of the error (e.g. cp.max, cp.norm, sums "
                 "of powers) or concave utilities of n.")
    return ScaledProblem(prob, var, s, obj, pooled is None)


def solve_cvxpy(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, w: np.ndarray, costs: np.ndarray, budget: float,
    lo: np.ndarray, hi: np.ndarray, objective: str | Callable[..., Any],
    *, transform: Transform | None = None, pooled: tuple[np.ndarray, np.ndarray] | None = None,
    solver: str | None = None, tol: float = 1e-6, solver_options: dict | None = None,
) -> CoreSolution:
    """Solve the scaled model and verify the KKT conditions in the original units."""
    sp = build_scaled_problem(a, b, c, w, costs, budget, lo, hi, objective,
                              transform=transform, pooled=pooled)
    import cvxpy as cp

    chosen = solver or ("CLARABEL" if "CLARABEL" in cp.installed_solvers() else None)
    opts = dict(TIGHT.get(chosen, {})) if solver_options is None else dict(solver_options)
    try:
        with warnings.catch_warnings():  # inaccuracy is reported through the status instead
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            sp.problem.solve(solver=chosen, **opts)
    except cp.error.SolverError as exc:
        return CoreSolution(np.clip(sp.scale, lo, hi), float("nan"), float("inf"),
                            np.zeros(a.size, bool), np.zeros(a.size, bool),
                            f"solver_error: {exc}", 0, False)
    if sp.x.value is None:
        return CoreSolution(np.clip(sp.scale, lo, hi), float("nan"), float("inf"),
                            np.zeros(a.size, bool), np.zeros(a.size, bool),
                            f"solver_{sp.problem.status}", 0, False)
    val = np.asarray(sp.x.value, float)
    n = np.clip(sp.scale * (np.exp(val) if sp.log_space else val), lo, hi)
    spent = float(costs @ n)
    if spent > budget:  # project onto the budget by shrinking the free part
        extra = n - lo
        n = lo + extra * max(0.0, (budget - float(costs @ lo)) / float(costs @ extra))
        spent = float(costs @ n)
    # KKT check with the objective's gradient in n (d/dn = d/dx / s)
    grad = _objective_gradient(sp, n)
    at_lo = n <= lo * (1 + 1e-9)
    at_hi = n >= hi * (1 - 1e-9)
    m = -grad
    free = ~(at_lo | at_hi)
    ratio = m / costs
    if free.any():
        lam = float(np.median(ratio[free]))
    else:
        lam = float(max(np.max(ratio, initial=0.0), 0.0))
    if lam > 0:
        gap = (ratio - lam) / lam
        r = np.where(at_lo, np.maximum(gap, 0), np.where(at_hi, np.maximum(-gap, 0), np.abs(gap)))
        res = max(float(np.max(r)), abs(spent - budget) / budget)
    else:
        res = 0.0 if at_hi.all() else 1.0
    if sp.problem.status == "optimal" and res <= tol:
        status = "optimal"
    elif sp.problem.status == "optimal":
        status = "solver_optimal_unverified"
    else:
        status = f"solver_{sp.problem.status}"
    return CoreSolution(n, lam, res, at_lo, at_hi, status, int(
        sp.problem.solver_stats.num_iters or 0), spent >= budget * (1 - 1e-9))


def _objective_gradient(sp: ScaledProblem, n: np.ndarray) -> np.ndarray:
    """Gradient of the objective with respect to ``n`` at ``n`` (a subgradient where nonsmooth)."""
    sp.x.value = np.log(n / sp.scale) if sp.log_space else n / sp.scale
    g = sp.objective.grad.get(sp.x)
    if g is None:
        return np.zeros_like(n)
    g = np.asarray(g.todense() if hasattr(g, "todense") else g, float).reshape(-1)
    return g / n if sp.log_space else g / sp.scale  # dv/dn = 1/n, dx/dn = 1/s


def kkt_from_core_marginal(a, b, c, w, costs, n, lam, transform=None) -> np.ndarray:
    """``m_g(n_g) / (lambda k_g) - 1`` for a separable objective (for tests and the benchmark)."""
    return marginal(a, b, c, w, n, transform or Transform()) / (lam * costs) - 1.0


KKT_DEFAULT = KKT_TOL
