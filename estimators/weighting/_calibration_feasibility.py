"""Linear programs on the unit table that decide whether bounded calibration has a solution.

Bounded calibration asks for factors ``g_k`` in ``[L, U]`` with ``sum_k D_k g_k x_k = T``. Whether
such ``g`` exist does not depend on the distance, only on the bounds, so when Newton's method does
not converge one LP on the collapsed units (cells, or distinct cell x numeric-value rows) tells an
infeasible problem from a hard one:

* the *elastic* LP ``min sum_j |s_j|`` subject to ``sum_k D_k g_k x_kj / c_j + s_j = T_j / c_j``,
  ``L <= g_k <= U`` (``c_j`` the constraint's scale) is 0 exactly when the bounds are feasible;
  its non-zero slacks name the totals that cannot be met and by how much;
* the *range* LP ``min b - a`` subject to ``a <= g_k <= b``, ``a <= 1 <= b`` and the totals gives
  the narrowest feasible range of g (``a >= 0`` for raking and logit, whose weights are positive),
  which is what the error message suggests as bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

__all__ = ["FeasibilityReport", "check_bounds"]

Bound = float | np.ndarray
"""A bound on g: one number for every unit, or an array (m,) with one bound per unit."""

INFEASIBLE_TOLERANCE = 1e-7
"""Sum of relative misfits above which the elastic LP declares the totals unreachable."""

SIMPLEX_MAX_UNITS = 2000
"""Up to this many units the LPs use HiGHS' default (simplex); beyond, its interior-point method,
which is far faster on these wide LPs (tens of thousands of columns, a few dozen rows)."""


def _solver(n_units: int) -> str:
    return "highs" if n_units <= SIMPLEX_MAX_UNITS else "highs-ipm"


@dataclass(frozen=True)
class FeasibilityReport:
    """Outcome of the elastic LP and, when infeasible, the narrowest feasible g-range."""

    feasible: bool
    relative_shortfall: np.ndarray  # (p,) (target - closest reachable total) / scale
    closest: np.ndarray  # (p,) the totals reached by the LP's g
    narrowest_range: tuple[float, float] | None  # None: no range works (for positive g)


def _elastic(a_eq: sp.csr_matrix, b_eq: np.ndarray, lower: Bound, upper: Bound):
    m = a_eq.shape[1]
    p = a_eq.shape[0]
    eye = sp.identity(p, format="csr")
    a_full = sp.hstack([a_eq, eye, -eye], format="csr")
    cost = np.concatenate([np.zeros(m), np.ones(2 * p)])
    if np.ndim(lower) or np.ndim(upper):  # one bound per unit
        lo_u = np.broadcast_to(np.asarray(lower, dtype=np.float64), (m,))
        up_u = np.broadcast_to(np.asarray(upper, dtype=np.float64), (m,))
        var_bounds = [
            (lo if math.isfinite(lo) else None, up if math.isfinite(up) else None)
            for lo, up in zip(lo_u.tolist(), up_u.tolist())
        ] + [(0, None)] * (2 * p)
    else:
        lo = None if not math.isfinite(lower) else lower
        up = None if not math.isfinite(upper) else upper
        var_bounds = [(lo, up)] * m + [(0, None)] * (2 * p)
    return linprog(cost, A_eq=a_full, b_eq=b_eq, bounds=var_bounds, method=_solver(m))


def _narrowest_range(
    a_eq: sp.csr_matrix, b_eq: np.ndarray, *, nonnegative: bool
) -> tuple[float, float] | None:
    m = a_eq.shape[1]
    p = a_eq.shape[0]
    # variables: g (m), a, b ; minimise b - a
    cost = np.concatenate([np.zeros(m), [-1.0, 1.0]])
    eye = sp.identity(m, format="csr")
    ones = np.ones((m, 1))
    # g - b <= 0 ; a - g <= 0
    a_ub = sp.vstack(
        [
            sp.hstack([eye, sp.csr_matrix((m, 1)), sp.csr_matrix(-ones)]),
            sp.hstack([-eye, sp.csr_matrix(ones), sp.csr_matrix((m, 1))]),
        ],
        format="csr",
    )
    b_ub = np.zeros(2 * m)
    a_eq_full = sp.hstack([a_eq, sp.csr_matrix((p, 2))], format="csr")
    g_bounds = (0.0, None) if nonnegative else (None, None)
    bounds = [g_bounds] * m + [((0.0 if nonnegative else None), 1.0), (1.0, None)]
    res = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq_full, b_eq=b_eq, bounds=bounds, method=_solver(m)
    )
    if res.status != 0:
        return None
    low, high = float(res.x[m]), float(res.x[m + 1])
    return low, high


def check_bounds(
    x: np.ndarray,
    d: np.ndarray,
    targets: np.ndarray,
    scale: np.ndarray,
    *,
    lower: Bound,
    upper: Bound,
    nonnegative: bool,
) -> FeasibilityReport:
    """Decide whether some g in ``[lower, upper]`` meets every total (see the module notes).

    Parameters
    ----------
    x : ndarray (m, p)
        Auxiliary values of the units with positive base weight.
    d : ndarray (m,)
        Their base weights.
    targets, scale : ndarray (p,)
        Totals, and the denominator of each total's relative misfit.
    lower, upper : float or ndarray (m,)
        Bounds on g (``-inf`` / ``inf`` for none), the same for every unit or one per unit. With
        bounds per unit no narrowest common range is computed (``narrowest_range`` is None).
    nonnegative : bool
        Whether g must also be >= 0 (raking and logit).
    """
    a_eq = sp.csr_matrix((x * d[:, None]).T / scale[:, None])
    b_eq = targets / scale
    lo = np.maximum(lower, 0.0) if nonnegative else lower
    res = _elastic(a_eq, b_eq, lo, upper)
    if res.status != 0:  # pragma: no cover - the elastic LP is always feasible and bounded
        raise RuntimeError(f"feasibility LP failed: {res.message}")
    m = a_eq.shape[1]
    g = res.x[:m]
    reached = a_eq @ g
    shortfall = b_eq - reached
    feasible = bool(res.fun <= INFEASIBLE_TOLERANCE)
    per_unit = bool(np.ndim(lower) or np.ndim(upper))
    narrowest = (
        None if feasible or per_unit else _narrowest_range(a_eq, b_eq, nonnegative=nonnegative)
    )
    return FeasibilityReport(
        feasible=feasible,
        relative_shortfall=shortfall,
        closest=reached * scale,
        narrowest_range=narrowest,
    )
