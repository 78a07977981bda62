"""Exact integer allocations from a continuous warm start (numpy arrays only).

* Equal costs, separable convex objective ``sum_g F_g(n_g)``: greedy marginal allocation
  (Huntington–Hill style: give the next unit to the group with the largest gain) from
  ``floor(n_continuous)``, followed by pairwise exchanges until no move of one unit improves.
  For separable convex functions under one cardinality constraint, exchange optimality is global
  optimality (the feasible set is M-convex), so the result is exact.
* Equal costs, maximin: give each unit to the worst affordable uncapped group (leximin greedy).
* Unequal costs, separable convex objective: a MILP over the whole box when it is small
  (``MAX_INCREMENTS`` integer points), otherwise proximity plus a MILP. For a separable convex
  objective under integer constraints ``A x <= b``, some integer optimum lies within
  ``||z - x||_inf <= G * Delta`` of any continuous optimum ``x`` (Hochbaum and Shanthikumar 1990,
  extending Cook, Gerards, Schrijver and Tardos 1986), where ``Delta`` is the largest absolute
  subdeterminant of ``A``. Here ``A`` is the cost row over the box rows, so
  ``Delta = max_g m * cost_g`` once the costs are scaled by the smallest integer ``m`` (up to
  ``MAX_COST_SCALE``) that makes them integral. The continuous optimum from the exact core
  therefore gives a window that provably contains an integer optimum, and a MILP over the window
  (one general integer per group; the epigraph of the piecewise-linear interpolation of each
  ``F_g`` at the integers, exact at integer points because ``F_g`` is convex) finds it: status
  ``"optimal"``. When the costs are not rational with a small denominator, or the certified
  window would exceed ``MAX_WINDOW_POINTS``, the MILP runs on the narrower window ``+-WINDOW``
  and the status says ``"optimal_in_window"`` (exact within the window, not proven globally).
* Maximin with unequal costs (:func:`maximin_level`): the smallest reachable level ``t`` of the
  largest error is found exactly, by bisection on ``t`` over the cheapest integer plan that keeps
  every error at or below ``t`` (``n_g(t)`` = smallest integer with ``err_g(n) <= t``, found by
  integer bisection; the plan's cost is monotone in ``t``). The budget left over is then spent on
  the sum of errors with ``n_g(t)`` as lower bounds: a separable problem, solved exactly as above.

References
----------
Hochbaum, D. S. and Shanthikumar, J. G. (1990). Convex separable optimization is not much harder
than linear optimization. *Journal of the ACM* 37(4), 843-862.
Cook, W., Gerards, A. M. H., Schrijver, A. and Tardos, E. (1986). Sensitivity theorems in integer
linear programming. *Mathematical Programming* 34, 251-264.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

__all__ = ["IntegerSolution", "integer_budget", "integer_maximin", "maximin_level"]

MAX_INCREMENTS = 400  # full-box (exact) MILP up to this many unit increments
WINDOW = 6  # otherwise +-WINDOW units around the continuous optimum
TIME_LIMIT = 5.0  # seconds per MILP on a narrow window
CERTIFIED_TIME_LIMIT = 60.0  # seconds for the MILP on a certified (proximity) window
MAX_COST_SCALE = 1000  # costs are scaled to integers by at most this factor
MAX_WINDOW_POINTS = 400_000  # largest certified window (integer points over all groups)


@dataclass(frozen=True)
class IntegerSolution:
    n: np.ndarray  # int64
    status: str
    method: str


def _units(budget: float, cost: float) -> int:
    return int(np.floor(budget / cost * (1 + 1e-12)))


def integer_budget(
    F: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray, *, window: int | None = None,
) -> IntegerSolution:
    """Minimise ``sum F(n)`` over integers with ``sum costs n <= budget``, ``lo <= n <= hi``.

    ``F(n, idx)`` returns the objective terms of groups ``idx`` at sizes ``n`` (``idx=None``: all
    groups, ``n`` one entry per group); each term must be convex and nonincreasing in ``n``. ``lo``/``hi`` are integer arrays (``hi`` may hold
    a large sentinel for "no cap").
    """
    if np.allclose(costs, costs[0], rtol=1e-12, atol=0):
        return _greedy_equal(F, float(costs[0]), budget, lo, hi, warm)
    return _milp_budget(F, costs, budget, lo, hi, warm, window=window)


def _gain_up(F, n, hi):
    up = np.minimum(n + 1, hi)
    g = F(n, None) - F(up, None)
    return np.where(n >= hi, -np.inf, g)


def _loss_down(F, n, lo):
    dn = np.maximum(n - 1, lo)
    d = F(dn, None) - F(n, None)
    return np.where(n <= lo, np.inf, d)


def _greedy_equal(F, cost, budget, lo, hi, warm) -> IntegerSolution:
    total = _units(budget, cost)
    n = np.clip(np.floor(warm + 1e-9).astype(np.int64), lo, hi)
    while n.sum() > total:  # cannot happen for a feasible warm start, but stay safe
        loss = _loss_down(F, n, lo)
        n[int(np.argmin(loss))] -= 1
    left = total - int(n.sum())
    while left > 0:
        gain = _gain_up(F, n, hi)
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]) or gain[j] <= 0:
            break
        n[j] += 1
        left -= 1
    for _ in range(10 * n.size + 100):  # exchange until no single move improves
        gain = _gain_up(F, n, hi)
        loss = _loss_down(F, n, lo)
        j = int(np.argmax(gain))
        order = np.argsort(loss)
        i = int(order[0]) if order[0] != j else int(order[1]) if n.size > 1 else j
        if i == j or not (gain[j] - loss[i] > 1e-15 * max(abs(gain[j]), 1e-300)):
            break
        n[j] += 1
        n[i] -= 1
    return IntegerSolution(n, "optimal", "greedy")


def proximity_window(costs: np.ndarray) -> int | None:
    """Half-width ``G * Delta`` of a window around a continuous optimum that contains an integer
    optimum (separable convex objective, one budget row, box bounds), or None when the costs are
    not integers after scaling by an integer ``m <= MAX_COST_SCALE``.

    Examples
    --------
    >>> proximity_window(np.array([1.0, 2.5, 3.0]))  # m = 2: costs 2, 5, 6 -> Delta = 6
    18
    >>> proximity_window(np.array([1.0, np.pi])) is None
    True
    """
    for m in range(1, MAX_COST_SCALE + 1):
        scaled = costs * m
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(scaled, 1.0)):
            return int(costs.size * max(1, int(np.round(scaled.max()))))
    return None


def _milp_budget(F, costs, budget, lo, hi, warm, window) -> IntegerSolution:
    """Separable convex objective, unequal costs: the epigraph MILP on a (certified) window."""
    cont = np.asarray(warm, float)
    certified = False
    width = hi - lo
    if window is None and np.all(width < 10**9) and int(width.sum()) <= MAX_INCREMENTS:
        window = int(width.max(initial=0)) + 1  # the whole (small) box: exact
    if window is None:
        half = proximity_window(costs)
        if half is not None:
            half += 1  # the continuous point is exact only to rounding
            base = np.maximum(lo, np.floor(cont).astype(np.int64) - half)
            top = np.minimum(hi, np.ceil(cont).astype(np.int64) + half)
            certified = int((top - base).sum()) <= MAX_WINDOW_POINTS
        if not certified:
            window = WINDOW
    if not certified:
        base = np.maximum(lo, np.floor(cont).astype(np.int64) - window)
        top = np.minimum(hi, np.ceil(cont).astype(np.int64) + window)
    exact = certified or bool(np.all(base == lo) and np.all(top == hi))
    n, ok, message = _epigraph_milp(F, costs, budget, base, top,
                                    CERTIFIED_TIME_LIMIT if certified else TIME_LIMIT)
    if n is None:
        return IntegerSolution(np.clip(np.floor(cont).astype(np.int64), lo, hi),
                               f"milp_failed: {message}", "milp")
    status = ("optimal" if exact else "optimal_in_window") if ok else f"milp_{message}"
    return IntegerSolution(n, status, "milp (proximity window)" if certified else "milp")


def _epigraph_milp(F, costs, budget, base, top, time_limit):
    """``min sum_g t_g`` over integers ``base <= z <= top`` with ``costs @ z <= budget`` and
    ``t_g >= F_g(p) + (F_g(p+1) - F_g(p)) (z_g - p)`` for every integer ``p`` in the window (the
    convex piecewise-linear interpolation, exact at integer points)."""
    G = base.size
    counts = (top - base).astype(np.int64)  # segments per group
    group = np.repeat(np.arange(G), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    level = base[group] + offset
    f0, f1 = F(level, group), F(level + 1, group)
    slope = f1 - f0
    # scale the objective to O(1) for the solver's tolerances
    scale = 1.0 / max(float(np.max(np.abs(F(base, None)))), 1e-300)
    m = level.size
    A = csr_matrix((np.r_[slope * scale, -np.ones(m)],
                    (np.r_[np.arange(m), np.arange(m)], np.r_[group, G + group])),
                   shape=(m, 2 * G))
    cons = [LinearConstraint(A, -np.inf, (slope * level - f0) * scale),
            LinearConstraint(csr_matrix(np.r_[costs, np.zeros(G)][None, :]), -np.inf,
                             budget * (1 + 1e-12))]
    fixed = counts == 0
    t_fixed = np.where(fixed, F(base, None) * scale, 0.0)
    bounds = Bounds(np.r_[base, np.where(fixed, t_fixed, -np.inf)],
                    np.r_[top, np.where(fixed, t_fixed, np.inf)])
    res = milp(np.r_[np.zeros(G), np.ones(G)], constraints=cons,
               integrality=np.r_[np.ones(G), np.zeros(G)], bounds=bounds,
               options={"mip_rel_gap": 1e-12, "time_limit": time_limit})
    if res.x is None:
        return None, False, res.message
    n = np.round(res.x[:G]).astype(np.int64)
    if float(costs @ n) > budget * (1 + 1e-12):  # rounding the solver's integers overspent
        return None, False, "the MILP's rounded solution exceeds the budget"
    return n, res.status == 0, res.message


def maximin_level(
    err: Callable[..., np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[float, np.ndarray]:
    """The smallest largest-error level reachable with integers ``lo <= n <= hi`` and
    ``costs @ n <= budget``, and the cheapest plan reaching it (``err`` decreasing in ``n``).

    Examples
    --------
    >>> err = lambda n, idx=None: 1.0 / np.asarray(n, float)
    >>> level, n = maximin_level(err, np.array([1.0, 2.0]), 10.0, np.array([1, 1]),
    ...                          np.array([10, 10]))
    >>> round(level, 6), n.tolist()   # 1/4 needs 4 + 2*4 = 12 > 10; 1/3 needs 3 + 2*3 = 9
    (0.333333, [3, 3])
    """
    limit = budget * (1 + 1e-12)

    def cheapest(t: float) -> tuple[np.ndarray, bool]:
        ok_lo = err(lo, None) <= t
        ok_hi = err(hi, None) <= t
        left, right = lo.copy(), hi.copy()  # err(left) > t >= err(right) while searching
        active = ~ok_lo & ok_hi & (right - left > 1)
        while active.any():
            mid = (left + right) // 2
            good = err(mid, None) <= t
            right = np.where(active & good, mid, right)
            left = np.where(active & ~good, mid, left)
            active &= right - left > 1
        n = np.where(ok_lo, lo, right)
        return n, bool(ok_hi.all()) and float(costs @ n) <= limit

    t_low = float(err(hi, None).max())  # no plan goes below this
    n, ok = cheapest(t_low)
    if not ok:
        t_high = float(err(lo, None).max())  # the lower bounds are affordable
        for _ in range(2000):
            mid = 0.5 * (t_low + t_high)
            if not t_low < mid < t_high:
                break
            if cheapest(mid)[1]:
                t_high = mid
            else:
                t_low = mid
        n, _ = cheapest(t_high)
    return float(err(n, None).max()), n


def integer_maximin(
    err: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray,
) -> IntegerSolution:
    """Integer maximin for equal costs: leximin greedy from ``floor(warm)`` (each unit to the
    worst affordable uncapped group). Unequal costs: :func:`maximin_level`, then
    :func:`integer_budget` on the sum of errors with the level's plan as lower bounds."""
    if not np.allclose(costs, costs[0], rtol=1e-12, atol=0):
        raise ValueError("integer_maximin handles equal costs; use maximin_level")
    total = _units(budget, float(costs[0]))
    n = np.clip(np.floor(warm + 1e-9).astype(np.int64), lo, hi)
    left = total - int(n.sum())
    while left > 0:
        e = np.where(n < hi, err(n, None), -np.inf)
        j = int(np.argmax(e))
        if not np.isfinite(e[j]):
            break
        n[j] += 1
        left -= 1
    return IntegerSolution(n, "optimal", "greedy")
