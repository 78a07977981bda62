"""Exact integer allocations from a continuous warm start (numpy arrays only).

* Equal costs, separable convex objective ``sum_g F_g(n_g)``: greedy marginal allocation
  (Huntington–Hill style: give the next unit to the group with the largest gain) from
  ``floor(n_continuous)``, followed by pairwise exchanges until no move of one unit improves.
  For separable convex functions under one cardinality constraint, exchange optimality is global
  optimality (the feasible set is M-convex), so the result is exact.
* Equal costs, maximin: give each unit to the worst affordable uncapped group (leximin greedy).
* Unequal costs, separable convex: a PROVEN optimum by Lagrangian reduced-cost fixing, then an
  exact 0/1 MILP over the fixed windows:

  1. incumbent ``U``: greedy best gain-per-cost fill from ``floor(n_continuous)``;
  2. Lagrangian bound: for ``lambda >= 0`` let ``h_g(n) = F_g(n) + lambda k_g n`` and
     ``h_g* = min_{l_g <= n <= u_g, n integer} h_g(n)``. For every feasible integer ``n``,
     ``sum_g F_g(n_g) = sum_g h_g(n_g) - lambda B + lambda (B - k'n)
     >= L(lambda) + sum_g (h_g(n_g) - h_g*)`` with ``L(lambda) = sum_g h_g* - lambda B``.
     ``lambda`` maximises the concave dual ``L`` (bisection on its subgradient ``k'n(lambda) - B``);
  3. every integer optimum has ``sum F <= U``, and all terms ``h_g(n_g) - h_g*`` are ``>= 0``, so
     ``h_g(n_g) - h_g* <= U - L`` for each group: an interval (``h_g`` is convex) that provably
     contains every optimal ``n_g``. This needs no assumption on the costs (real costs are fine);
  4. an exact search inside the windows: when the costs are integers after scaling by a power of
     ten (up to 1e6), a dynamic programme over the budget (``V[s]`` = best value spending at most
     ``s``; exact up to floating-point sums); otherwise a 0/1 MILP (``scipy.optimize.milp`` /
     HiGHS, relative gap 0, HiGHS's default integrality and absolute-gap tolerances) over unit
     increments. With convex ``F_g`` the increments' gains decrease, so choosing any ``m``
     increments of a group is worth the first ``m``. Exact over the windows, hence globally.

  This is the classical variable-fixing argument of Lagrangian relaxation (Fisher 1981; Nemhauser
  & Wolsey 1988, II.3.6); for separable convex problems the proximity theorem of Hochbaum &
  Shanthikumar (1990) gives an a-priori window ``||z - x||_inf <= n Delta`` around the
  continuous optimum ``x`` (``Delta`` = largest subdeterminant, here ``max_g k_g`` for integer
  costs), which is far wider than the reduced-cost windows in practice.
* Unequal costs, maximin: exact. The optimal level ``t*`` is one of the finite candidates
  ``err_g(n)``; ``t`` is feasible iff ``sum_g k_g m_g(t) <= B`` with ``m_g(t)`` the smallest
  ``n_g`` in the box with ``err_g(n_g) <= t``. Per group, a binary search finds the largest ``n``
  whose level is feasible, and ``t* = min_g err_g(n_g)``. Leftover budget then minimises the sum
  of errors subject to ``err_g <= t*`` (``n_g >= m_g(t*)``), exactly, by the method above.
* Any objective (custom callables, pooled curves): a heuristic, greedy gain-per-cost fill from
  ``floor(n_continuous)`` then 1-exchange local search (move one unit from one group to another,
  or add one, keeping the budget; candidate moves ranked by their one-sided changes, the first
  exact improvement taken). A local optimum, not proven optimal.

References
----------
Fisher, M. L. (1981). The Lagrangian relaxation method for solving integer programming problems.
Management Science 27(1), 1-18.
Hochbaum, D. S. and Shanthikumar, J. G. (1990). Convex separable optimization is not much harder
than linear optimization. Journal of the ACM 37(4), 843-862.
Ibaraki, T. and Katoh, N. (1988). Resource Allocation Problems: Algorithmic Approaches. MIT Press.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

__all__ = [
    "IntegerSolution",
    "integer_budget",
    "integer_local_search",
    "integer_maximin",
    "power_curve_terms",
]

MAX_INCREMENTS = 200_000  # largest proven window handed to the MILP
TIME_LIMIT = 20.0
DP_WORK = 5 * 10**7  # exact DP over the windows when increments x budget states stay below this
BUDGET_SLACK = 1e-12


@dataclass(frozen=True)
class IntegerSolution:
    n: np.ndarray  # int64
    status: str
    method: str
    window: int = 0  # unit increments left free by the proof (0: none or not applicable)


def power_curve_terms(a, b, c, w=None, transform=None):
    """The per-group terms ``F(n, idx)`` of learning curves for the solvers below:
    ``w_g phi(a_g n_g^(-b_g) + c_g)`` for the groups ``idx`` (all when ``idx`` is None), with
    ``phi`` a ``_allocation_core.Transform`` (identity when None) and ``w`` unit when None."""

    def F(n, idx=None):
        sel = slice(None) if idx is None else idx
        err = a[sel] * n.astype(float) ** (-b[sel]) + c[sel]
        if transform is not None:
            err = transform.value(err)
        return err if w is None else w[sel] * err

    return F


def _units(budget: float, cost: float) -> int:
    return int(np.floor(budget / cost * (1 + 1e-12)))


def _afford(costs, budget, lo, hi):
    """Cap ``hi`` by what the budget can buy once every other group sits at ``lo``."""
    rem = budget * (1 + BUDGET_SLACK) - float(costs @ lo)
    cap = lo + np.floor(np.maximum(rem, 0.0) / costs + 1e-9).astype(np.int64)
    return np.maximum(np.minimum(hi, cap), lo)


def integer_budget(
    F: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray,
) -> IntegerSolution:
    """Minimise ``sum F(n)`` over integers with ``sum costs n <= budget``, ``lo <= n <= hi``.

    ``F(n, idx)`` returns the objective terms of groups ``idx`` at sizes ``n`` (``idx=None``: all
    groups, ``n`` one entry per group); each term must be convex and nonincreasing in ``n``.
    ``lo``/``hi`` are integer arrays (``hi`` may hold a large sentinel for "no cap").
    """
    hi = _afford(costs, budget, lo, hi)
    if np.allclose(costs, costs[0], rtol=1e-12, atol=0):
        return _greedy_equal(F, float(costs[0]), budget, lo, hi, warm)
    return _proven_budget(F, costs, budget, lo, hi, warm)


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


def _greedy_ratio(F, costs, budget, lo, hi, warm) -> np.ndarray:
    """Feasible incumbent: floor of the warm start, then best gain-per-cost units that fit."""
    n = np.clip(np.floor(np.asarray(warm, float) + 1e-9).astype(np.int64), lo, hi)
    cap = budget * (1 + BUDGET_SLACK)
    while float(costs @ n) > cap:
        loss = _loss_down(F, n, lo) / costs
        n[int(np.argmin(loss))] -= 1
    while True:
        left = cap - float(costs @ n)
        gain = _gain_up(F, n, hi) / costs
        gain = np.where(costs <= left, gain, -np.inf)
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]) or gain[j] <= 0:
            return n
        n[j] += 1


def _first_true(pred, left, right):
    """Vectorised binary search: smallest ``n`` in ``[left, right]`` with ``pred(n)`` true,
    assuming ``pred`` is monotone (false ... true) and ``pred(right)`` is treated as true."""
    left = left.copy()
    right = right.copy()
    while np.any(left < right):
        open_ = left < right
        mid = (left + right) // 2
        ok = pred(mid)
        right = np.where(open_ & ok, mid, right)
        left = np.where(open_ & ~ok, mid + 1, left)
    return left


def _dual(F, costs, budget, lo, hi, lam):
    """Per-group integer argmin of ``F_g(n) + lam k_g n`` and the Lagrangian bound."""
    def flat(n):  # marginal gain of the next unit no larger than its priced cost
        return (F(n, None) - F(np.minimum(n + 1, hi), None)) <= lam * costs
    n = _first_true(flat, lo, hi)
    return n, float(np.sum(F(n, None)) + lam * (float(costs @ n) - budget))


def _best_lagrangian(F, costs, budget, lo, hi):
    best_n, best_l = _dual(F, costs, budget, lo, hi, 0.0)
    best_lam = 0.0
    if float(costs @ best_n) <= budget:
        return best_lam, best_n, best_l
    top = float(np.max((F(lo, None) - F(np.minimum(lo + 1, hi), None)) / costs))
    lam_lo, lam_hi = 0.0, max(top, 1e-300) * (1 + 1e-9)
    for _ in range(200):
        lam = 0.5 * (lam_lo + lam_hi)
        n, val = _dual(F, costs, budget, lo, hi, lam)
        if val > best_l:
            best_n, best_l, best_lam = n, val, lam
        if float(costs @ n) > budget:
            lam_lo = lam
        else:
            lam_hi = lam
        if lam_hi - lam_lo <= 1e-15 * lam_hi:
            break
    for lam in (lam_lo, lam_hi):
        n, val = _dual(F, costs, budget, lo, hi, lam)
        if val > best_l:
            best_n, best_l, best_lam = n, val, lam
    return best_lam, best_n, best_l


def _proven_budget(F, costs, budget, lo, hi, warm) -> IntegerSolution:
    inc = _greedy_ratio(F, costs, budget, lo, hi, warm)
    upper = float(np.sum(F(inc, None)))
    lam, nstar, lower = _best_lagrangian(F, costs, budget, lo, hi)
    gap = max(upper - lower, 0.0)
    slack = gap + 1e-10 * max(abs(upper), abs(lower), 1e-300)

    def h(n):
        return F(n, None) + lam * costs * n

    hstar = h(nstar)
    left = _first_true(lambda n: h(n) - hstar <= slack, lo, nstar)
    # largest n in [nstar, hi] within the slack = first n whose value exceeds it, minus one
    right = _first_true(lambda n: h(np.minimum(n + 1, hi)) - hstar > slack, nstar, hi)
    return _milp_window(F, costs, budget, left, right, inc, upper, gap)


def _milp_window(F, costs, budget, base, top, inc, upper, gap) -> IntegerSolution:
    counts = (top - base).astype(np.int64)
    total = int(counts.sum())
    if float(costs @ base) > budget * (1 + BUDGET_SLACK) or total > MAX_INCREMENTS:
        return IntegerSolution(inc, f"heuristic (greedy; gap to the Lagrangian bound <= "
                                    f"{gap:.3g})", "greedy")
    if total == 0:
        return IntegerSolution(base.copy(), "optimal", "lagrangian")
    rem = budget * (1 + BUDGET_SLACK) - float(costs @ base)
    scaled = _integer_costs(costs)
    if scaled is not None:
        unit, factor = scaled
        cap = int(min(np.floor(rem * factor + 1e-9), float(unit @ counts)))
        if total * (cap + 1) <= DP_WORK:
            n = _dp_window(F, unit, cap, base, counts)
            return IntegerSolution(n, "optimal", "lagrangian+dp", total)
    group = np.repeat(np.arange(base.size), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    level = base[group] + offset  # increment from level to level + 1
    delta = F(level, group) - F(level + 1, group)
    cons = LinearConstraint(csr_matrix(costs[group][None, :]), -np.inf, rem)
    scale = 1.0 / max(float(np.max(np.abs(delta))), 1e-300)  # O(1) gains for HiGHS tolerances
    res = milp(-delta * scale, constraints=[cons], integrality=np.ones(total),
               bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0, "time_limit": TIME_LIMIT})
    if res.x is None:
        return IntegerSolution(inc, f"heuristic (greedy; MILP failed: {res.message})", "greedy")
    y = np.round(res.x).astype(np.int64)
    n = base + np.bincount(group, weights=y, minlength=base.size).astype(np.int64)
    if float(np.sum(F(n, None))) > upper or float(costs @ n) > budget * (1 + BUDGET_SLACK):
        n = inc  # never return worse than the incumbent, never over budget
    status = "optimal" if res.status == 0 else f"heuristic (MILP stopped: {res.message})"
    return IntegerSolution(n, status, "lagrangian+milp", total)


def _integer_costs(costs):
    """``(integer costs, factor)`` when ``costs * factor`` are integers for a small power of 10."""
    for digits in range(7):
        factor = 10.0**digits
        unit = np.round(costs * factor)
        if np.all(np.abs(unit - costs * factor) <= 1e-9 * np.maximum(unit, 1)) and unit.max() < 2**31:
            return unit.astype(np.int64), factor
    return None


def _dp_window(F, unit, cap, base, counts):
    """Exact DP over the proven windows: ``V[s]`` = best value spending at most ``s`` units."""
    V = np.zeros(cap + 1)
    picks = []
    for g in range(base.size):
        m_max = int(min(counts[g], cap // unit[g]))
        levels = base[g] + np.arange(m_max + 1)
        vals = F(levels, np.full(m_max + 1, g))
        new = np.full(cap + 1, np.inf)
        arg = np.zeros(cap + 1, dtype=np.int64)
        for m in range(m_max + 1):
            s = int(unit[g]) * m
            cand = vals[m] + V[: cap + 1 - s]
            better = cand < new[s:]
            new[s:][better] = cand[better]
            arg[s:][better] = m
        picks.append(arg)
        V = new
    n = base.copy()
    s = cap
    for g in range(base.size - 1, -1, -1):
        m = int(picks[g][s])
        n[g] += m
        s -= int(unit[g]) * m
    return n


def integer_maximin(
    err: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray, *, tie_break: str = "leximin",
) -> IntegerSolution:
    """Integer ``min max err`` then spend what is left (exact).

    Equal costs: each unit goes to the worst uncapped group (leximin greedy). Unequal costs: the
    optimal level ``t*``, then ``tie_break="none"`` keeps the cheapest plan reaching it
    (``n_g = m_g(t*)``); otherwise the rest of the budget minimises ``sum err`` subject to
    ``err_g <= t*`` (an exact integer leximin with unequal costs is a knapsack of its own and is
    not attempted).
    """
    hi = _afford(costs, budget, lo, hi)
    if np.allclose(costs, costs[0], rtol=1e-12, atol=0):
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
    G = lo.size
    cap = budget * (1 + BUDGET_SLACK)

    def need(t):  # (L, G): smallest n_g in [lo, hi] with err_g(n) <= t_l, or hi + 1
        L = t.size
        lo_m = np.broadcast_to(lo, (L, G))
        hi_m = np.broadcast_to(hi + 1, (L, G))
        idx = np.broadcast_to(np.arange(G), (L, G))

        def ok(n):
            inside = n <= hi_m
            e = err(np.minimum(n, hi_m - 1).ravel(), idx.ravel()).reshape(L, G)
            return ~inside | (e <= t[:, None])
        return _first_true(ok, lo_m, hi_m)

    def feasible(t):
        m = need(t)
        return np.all(m <= hi, axis=1) & (m @ costs <= cap)

    # per group: largest n in [lo, hi] whose level err_g(n) is feasible (monotone in n)
    gidx = np.arange(G)
    feas_lo = feasible(err(lo, gidx))
    # first n whose level is infeasible, searched on [lo, hi + 1]
    first_bad = _first_true(
        lambda n: (n > hi) | ~feasible(err(np.minimum(n, hi), gidx)), lo, hi + 1)
    best_n = first_bad - 1
    levels = np.where(feas_lo & (best_n >= lo), err(np.maximum(best_n, lo), gidx), np.inf)
    t_star = float(np.min(levels))
    m = need(np.array([t_star]))[0]
    if tie_break == "none":
        return IntegerSolution(m, "optimal", "levels")

    sol = integer_budget(err, costs, budget, m, hi, m.astype(float))
    status = "optimal" if sol.status == "optimal" else f"maximin optimal; tie-break {sol.status}"
    return IntegerSolution(sol.n, status, "levels+" + sol.method)


def integer_local_search(
    objective: Callable[[np.ndarray], float], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray, *, max_evaluations: int = 20_000,
) -> tuple[np.ndarray, int, bool]:
    """Greedy gain-per-cost fill from ``floor(warm)`` then best-improvement 1-exchanges.

    ``objective(n) -> float`` is minimised. Returns ``(n, evaluations, local_optimum)``;
    ``local_optimum`` is False when the evaluation budget ran out first.
    """
    hi = _afford(costs, budget, lo, hi)
    cap = budget * (1 + BUDGET_SLACK)
    n = np.clip(np.floor(np.asarray(warm, float) + 1e-9).astype(np.int64), lo, hi)
    G = n.size
    evals = 0
    while float(costs @ n) > cap:  # safety: drop the cheapest-to-lose unit
        i = int(np.argmax(np.where(n > lo, costs, -np.inf)))
        n[i] -= 1
    cur = objective(n)
    evals += 1
    while evals < max_evaluations:  # fill: best improvement per unit cost among units that fit
        left = cap - float(costs @ n)
        best, best_j, best_v = 0.0, -1, cur
        for j in np.flatnonzero((n < hi) & (costs <= left)):
            n[j] += 1
            v = objective(n)
            n[j] -= 1
            evals += 1
            score = (cur - v) / costs[j]
            if score > best:
                best, best_j, best_v = score, int(j), v
        if best_j < 0:
            break
        n[best_j] += 1
        cur = best_v
    done = False
    while evals < max_evaluations:  # 1-exchange: move one unit i -> j if the budget allows
        # rank candidate moves by the sum of the one-sided changes (2G evaluations), then take
        # the first move whose exact value improves; a full pass without one is a local optimum
        up = np.full(G, np.inf)
        down = np.full(G, np.inf)
        for g in range(G):
            if n[g] < hi[g]:
                n[g] += 1
                up[g] = objective(n) - cur
                n[g] -= 1
            if n[g] > lo[g]:
                n[g] -= 1
                down[g] = objective(n) - cur
                n[g] += 1
        evals += 2 * G
        spent = float(costs @ n)
        freed = np.r_[0.0, costs]  # row 0: add a unit of j without removing one
        score = np.r_[0.0, down][:, None] + up[None, :]
        ok = spent - freed[:, None] + costs[None, :] <= cap
        ok[1:, :] &= ~np.eye(G, dtype=bool)
        ok &= np.isfinite(score)
        rows, cols = np.nonzero(ok)
        order = np.argsort(score[rows, cols], kind="stable")
        move = None
        for r, j in zip(rows[order], cols[order], strict=True):
            i = int(r) - 1
            if i >= 0:
                n[i] -= 1
            n[j] += 1
            v = objective(n)
            if i >= 0:
                n[i] += 1
            n[j] -= 1
            evals += 1
            if v < cur - 1e-13 * max(abs(cur), 1e-300):
                move = (i, int(j), v)
                break
            if evals >= max_evaluations:
                break
        if move is None:
            done = evals < max_evaluations
            break
        if move[0] >= 0:
            n[move[0]] -= 1
        n[move[1]] += 1
        cur = move[2]
    return n, evals, done
