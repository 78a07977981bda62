"""Exact integer allocations (numpy arrays only).

Every method below rests on one search: a per-group count ``m_g(t)`` that is nonincreasing in a
level ``t`` (the smallest ``n_g`` in the box at which some monotone test passes), and the smallest
FLOAT ``t`` at which the plan ``m(t)`` is affordable. The search bisects on the ordering of
double-precision numbers (at most 64 halvings down to two adjacent floats), keeps per-group
brackets ``m(t_hi) <= m(t) <= m(t_lo)`` and evaluates only the groups whose bracket is still open,
so one solve costs ``O(G log)`` curve evaluations and ``O(G)`` memory. Its certificate is the pair
of adjacent floats: ``m(t*)`` is affordable and ``m(prev(t*))`` is not.

* Maximin, any costs: ``m_g(t)`` is the smallest ``n_g`` with ``err_g(n_g) <= t`` (none when even
  ``hi_g`` is above ``t``). A plan with worst error ``<= t`` needs ``n >= m(t)``, so the smallest
  affordable float level is the optimal worst error ``t*`` (it is one of the values
  ``err_g(n)``), and the plan at the float just below costs more than the budget: proof that no
  plan has a smaller worst error. Budget left at ``m(t*)`` goes to the tie-break: ``"none"``
  keeps ``m(t*)`` (the cheapest plan at the optimal level); ``"utilitarian"`` minimises the sum
  of errors with ``n >= m(t*)`` (exactly, by the budget method below); ``"leximin"`` does the same
  for unequal costs (an exact integer leximin with unequal costs is a knapsack of its own and is
  not attempted) and, for equal costs, returns the exact leximin plan: the one that takes, from
  ``lo``, the units with the largest errors before the unit, ``err_g(n)``, which is what giving
  each unit to the worst uncapped group does (Ibaraki & Katoh 1988, ch. 4, lexicographically
  optimal allocation); the same level search finds where that greedy stops without running it.
* Equal costs, separable convex objective ``sum_g F_g(n_g)``: with convex ``F_g`` the marginal
  gains ``F_g(n) - F_g(n + 1)`` decrease in ``n``, so an optimum takes the ``R`` largest positive
  gains (``R`` = affordable units above ``lo``; Gross 1956, Fox 1966). The level is the smallest
  float gain ``lambda >= 0`` such that taking every gain above it is affordable; the units whose
  gain equals ``lambda`` exactly fill what is left.
* Unequal costs, separable convex: a PROVEN optimum by Lagrangian reduced-cost fixing, then an
  exact search over the fixed windows:

  1. Lagrangian bound: for ``lambda >= 0`` let ``h_g(n) = F_g(n) + lambda k_g n`` and
     ``h_g* = min_{l_g <= n <= u_g, n integer} h_g(n)`` (the first ``n`` whose gain is at most
     ``lambda k_g``). For every feasible integer ``n``,
     ``sum_g F_g(n_g) >= L(lambda) + sum_g (h_g(n_g) - h_g*)`` with
     ``L(lambda) = sum_g h_g* - lambda B``. The concave dual ``L`` is largest where the
     subgradient ``k'n(lambda) - B`` changes sign, i.e. at the smallest affordable float
     ``lambda`` (level search above) or the float just below;
  2. incumbent ``U``: the affordable Lagrangian plan ``n(lambda*)`` plus a best gain-per-cost
     fill of what is left (and the caller's warm start when it is affordable and better);
  3. every integer optimum has ``sum F <= U``, and all terms ``h_g(n_g) - h_g*`` are ``>= 0``, so
     ``h_g(n_g) - h_g* <= U - L`` for each group: an interval (``h_g`` is convex) that provably
     contains every optimal ``n_g``. This needs no assumption on the costs (real costs are fine);
  4. an exact search inside the windows: when the costs are integers after scaling by a power of
     ten (up to 1e6), a dynamic programme over the budget (``V[s]`` = best value spending at most
     ``s``; exact up to floating-point sums); otherwise a 0/1 MILP (``scipy.optimize.milp`` /
     HiGHS, relative and absolute gaps 0, HiGHS's default integrality tolerance) over unit
     increments. HiGHS accepts the budget row up to its feasibility tolerance, so a plan over
     the budget is cut off (that plan only) and the MILP solved again. With convex ``F_g`` the increments' gains decrease, so choosing any ``m``
     increments of a group is worth the first ``m``. Exact over the windows, hence globally.

  This is the classical variable-fixing argument of Lagrangian relaxation (Fisher 1981; Nemhauser
  & Wolsey 1988, II.3.6); for separable convex problems the proximity theorem of Hochbaum &
  Shanthikumar (1990) gives an a-priori window ``||z - x||_inf <= n Delta`` around the
  continuous optimum ``x`` (``Delta`` = largest subdeterminant, here ``max_g k_g`` for integer
  costs), which is far wider than the reduced-cost windows in practice.
* Any objective (custom callables, pooled curves): a heuristic, greedy gain-per-cost fill from
  ``floor(n_continuous)`` then 1-exchange local search (move one unit from one group to another,
  or add one, keeping the budget; candidate moves ranked by their one-sided changes, the first
  exact improvement taken). A local optimum, not proven optimal.

Group sizes are evaluated as float64, whose whole numbers are exact only up to ``2**53``: a box
or budget that allows a larger group size is refused (``integer_box``), never wrapped around.

References
----------
Fisher, M. L. (1981). The Lagrangian relaxation method for solving integer programming problems.
Management Science 27(1), 1-18.
Fox, B. (1966). Discrete optimization via marginal analysis. Management Science 13(3), 210-216.
Gross, O. (1956). A class of discrete-type minimization problems. RAND RM-1644.
Hochbaum, D. S. and Shanthikumar, J. G. (1990). Convex separable optimization is not much harder
than linear optimization. Journal of the ACM 37(4), 843-862.
Ibaraki, T. and Katoh, N. (1988). Resource Allocation Problems: Algorithmic Approaches. MIT Press.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from estimators._lib.validation import fail
from estimators.errors import ValidationError

__all__ = [
    "MAX_SIZE",
    "IntegerSolution",
    "integer_box",
    "integer_budget",
    "integer_local_search",
    "integer_maximin",
    "power_curve_terms",
]

MAX_INCREMENTS = 200_000  # largest proven window handed to the MILP
TIME_LIMIT = 20.0
MAX_CUTS = 50  # re-solves that cut off plans HiGHS accepts over the budget by its tolerance
DP_WORK = 5 * 10**7  # exact DP over the windows when increments x budget states stay below this
BUDGET_SLACK = 1e-12
MAX_SIZE = 2**53  # largest group size whose neighbours are exact in float64


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


def integer_box(lo, hi, costs=None, budget=None, *, lower="min_n"):
    """Integer bounds ``(ceil(lo), floor(hi))``, ``hi`` capped by what the budget buys once every
    other group sits at ``lo`` (when ``budget`` is given).

    ``lo``/``hi`` may be float (``hi`` may be ``inf``). Raises ``ValidationError`` when a lower
    bound, or the largest affordable size of a group, exceeds ``MAX_SIZE`` (2**53): such sizes are
    not exact in floating point, so an integer plan could not be checked (``lower`` names the
    parameter blamed for a lower bound). Without a budget an infinite ``hi`` becomes
    ``MAX_SIZE``.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    if np.any(lo > MAX_SIZE):
        what = ("some lower bounds (min_n or current_n) are above" if lower == "min_n"
                else "reaching some targets needs more samples than that")
        fail(ValidationError, lower, "integer plans support group sizes up to 2**53 "
             f"(9.007e15, the largest whole numbers exact in floating point); {what}",
             bad=lo[lo > MAX_SIZE].tolist(), fix="Use integer=False for sizes this large.")
    top = hi
    if budget is not None:
        costs = np.asarray(costs, float)
        rem = max(float(budget) * (1 + BUDGET_SLACK) - float(costs @ np.ceil(lo - 1e-9)), 0.0)
        top = np.minimum(hi, np.ceil(lo - 1e-9) + np.floor(rem / costs + 1e-9))
        over = top > MAX_SIZE
        if np.any(over):
            fail(ValidationError, "budget", "integer plans support group sizes up to 2**53 "
                 "(9.007e15, the largest whole numbers exact in floating point), but this budget "
                 "buys more samples than that in some groups", bad=top[over].tolist(),
                 fix="Lower the budget, set max_n, or use integer=False.")
    lo_i = np.ceil(lo - 1e-9).astype(np.int64)
    hi_i = np.floor(np.minimum(top, MAX_SIZE) + 1e-9).astype(np.int64)
    return lo_i, np.maximum(hi_i, lo_i)


def _check_box(costs, budget, lo, hi):
    """Cap integer ``hi`` by the budget (see ``integer_box``) and return ``(lo, hi, cap)``."""
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.minimum(np.asarray(hi, dtype=np.int64), MAX_SIZE)
    lo_i, hi_i = integer_box(lo, hi, costs, budget)
    return lo_i, hi_i, budget * (1 + BUDGET_SLACK)


def _equal(costs) -> bool:
    return bool(np.allclose(costs, costs[0], rtol=1e-12, atol=0))


def _infeasible(lo) -> IntegerSolution:
    return IntegerSolution(lo.copy(), "infeasible (the lower bounds cost more than the budget)",
                           "none")


# ----------------------------------------------------------------------------- level search
def _key(x: float) -> int:
    """An integer with the order of the doubles: adjacent floats have adjacent keys."""
    bits = struct.unpack("<q", struct.pack("<d", float(x)))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _unkey(k: int) -> float:
    bits = k if k >= 0 else ((-k) | (1 << 63)) - (1 << 64)
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def _prev(x: float) -> float:
    return _unkey(_key(x) - 1)


def _first_true(pred, left, right):
    """Vectorised binary search: per group, the smallest ``n`` in ``[left, right]`` with
    ``pred(n, idx)`` true, assuming ``pred`` is monotone in ``n`` (false ... true) and treating
    ``pred(right)`` as true. Only groups whose interval is still open are evaluated."""
    left = np.array(left, dtype=np.int64)
    right = np.array(right, dtype=np.int64)
    idx = np.flatnonzero(left < right)
    while idx.size:
        lo_, hi_ = left[idx], right[idx]
        mid = lo_ + (hi_ - lo_) // 2
        ok = pred(mid, idx)
        right[idx] = np.where(ok, mid, hi_)
        left[idx] = np.where(ok, lo_, mid + 1)
        idx = idx[left[idx] < right[idx]]
    return left


def _level_search(count, ok, t_lo, t_hi, m_lo, m_hi):
    """Smallest float ``t`` in ``(t_lo, t_hi]`` with ``ok(count(t))``.

    ``count(t, left, right)`` returns per-group counts ``m(t)``, nonincreasing in ``t``, given
    brackets ``left <= m(t) <= right``. Requires ``ok(m_hi)`` with ``m_hi = m(t_hi)``, ``ok``
    false at ``t_lo`` and ``m_lo >= m(t_lo)`` (a bracket). Returns ``(t*, m(t*), t_prev,
    m(t_prev))`` with ``t_prev`` the float just below ``t*``: ``ok(m(t_prev))`` is false unless
    ``t_prev == t_lo`` was only bracketed.
    """
    k_lo, k_hi = _key(t_lo), _key(t_hi)
    while k_hi - k_lo > 1:
        k_mid = k_lo + (k_hi - k_lo) // 2
        m = count(_unkey(k_mid), m_hi, m_lo)
        if ok(m):
            k_hi, m_hi = k_mid, m
        else:
            k_lo, m_lo = k_mid, m
    t_prev = _unkey(k_hi - 1)
    return _unkey(k_hi), m_hi, t_prev, count(t_prev, m_hi, m_lo)


def _fill_ties(n, extra, units):
    """Add ``units`` units, in group order, to groups with ``extra`` tied increments available."""
    n = n.copy()
    for g in np.flatnonzero(extra > 0):
        if units <= 0:
            break
        take = int(min(extra[g], units))
        n[g] += take
        units -= take
    return n


# ----------------------------------------------------------------------------- budget problem
def integer_budget(
    F: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray | None = None,
) -> IntegerSolution:
    """Minimise ``sum F(n)`` over integers with ``sum costs n <= budget``, ``lo <= n <= hi``.

    ``F(n, idx)`` returns the objective terms of groups ``idx`` at sizes ``n`` (``idx=None``: all
    groups, ``n`` one entry per group); each term must be convex and nonincreasing in ``n``.
    ``lo``/``hi`` are integer arrays (``hi`` may hold a large sentinel for "no cap"). ``warm``
    (optional, e.g. the continuous optimum) is a candidate incumbent for unequal costs: its floor
    is used when it is affordable and better than the Lagrangian plan.
    """
    costs = np.asarray(costs, float)
    lo, hi, cap = _check_box(costs, budget, lo, hi)
    if float(costs @ lo) > cap:
        return _infeasible(lo)
    if _equal(costs):
        return _budget_equal(F, costs, cap, lo, hi)
    return _proven_budget(F, costs, budget, cap, lo, hi, warm)


def _gain_count(F, costs, hi):
    """``count(lam, left, right)``: per group the first ``n`` whose next unit gains at most
    ``lam k_g`` (an argmin of ``F_g(n) + lam k_g n``), ``hi_g`` when every unit gains more."""
    def count(lam, left, right):
        def flat(n, idx):
            h = hi[idx]
            gain = F(n, idx) - F(np.minimum(n + 1, h), idx)
            return (n >= h) | (gain <= lam * costs[idx])
        return _first_true(flat, left, right)
    return count


def _lagrangian(F, costs, cap, lo, hi):
    """Smallest float ``lam >= 0`` whose Lagrangian plan ``n(lam)`` is affordable, with the plans
    at ``lam`` and at the float below (``(lam, n, lam_prev, n_prev)``; ``lam_prev = None`` when
    ``lam = 0``)."""
    count = _gain_count(F, costs, hi)

    def ok(m):
        return float(costs @ m) <= cap

    n0 = count(0.0, lo, hi)
    if ok(n0):
        return 0.0, n0, None, None
    # at twice the largest gain per cost every group stops at lo (checked, not assumed)
    top = 2.0 * float(np.max((F(lo, None) - F(np.minimum(lo + 1, hi), None)) / costs))
    m_top = count(top, lo, n0)
    if not ok(m_top):
        fail(ValidationError, "objective", "the objective terms must be finite and nonincreasing in n",
             bad=np.flatnonzero(m_top > lo).tolist())
    return _level_search(count, ok, 0.0, top, n0, m_top)


def _budget_equal(F, costs, cap, lo, hi) -> IntegerSolution:
    """Equal costs: take the largest marginal gains that fit (exact for convex terms)."""
    _, n, lam_prev, n_prev = _lagrangian(F, costs, cap, lo, hi)
    if lam_prev is not None:  # units whose gain equals lam exactly fill what is left
        units = int(np.floor((cap - float(costs @ n)) / costs[0] + 1e-9))
        n = _fill_ties(n, n_prev - n, units)
        while float(costs @ n) > cap:  # guard against the rounding of the division above
            n[int(np.flatnonzero(n > lo)[-1])] -= 1
    return IntegerSolution(n, "optimal", "greedy")


def _greedy_ratio(F, costs, cap, lo, hi, start) -> np.ndarray:
    """Feasible incumbent: from an affordable ``start``, best gain-per-cost units that fit."""
    n = start.copy()
    while True:
        left = cap - float(costs @ n)
        fit = np.flatnonzero((costs <= left) & (n < hi))
        if fit.size == 0:
            return n
        gain = (F(n[fit], fit) - F(n[fit] + 1, fit)) / costs[fit]
        j = int(np.argmax(gain))
        if not gain[j] > 0:
            return n
        n[fit[j]] += 1


def _proven_budget(F, costs, budget, cap, lo, hi, warm) -> IntegerSolution:
    lam, n_lam, lam_prev, n_prev = _lagrangian(F, costs, cap, lo, hi)
    if lam_prev is None:  # every unit with a positive gain fits: n(0) is optimal outright
        return IntegerSolution(n_lam, "optimal", "lagrangian")

    def bound(lam_, n_):
        return float(np.sum(F(n_, None))) + lam_ * (float(costs @ n_) - cap)

    candidates = [(bound(lam, n_lam), lam, n_lam), (bound(lam_prev, n_prev), lam_prev, n_prev)]
    lower, lam, nstar = max(candidates, key=lambda x: x[0])
    inc = _greedy_ratio(F, costs, cap, lo, hi, n_lam)
    upper = float(np.sum(F(inc, None)))
    if warm is not None:
        w = np.clip(np.floor(np.asarray(warm, float) + 1e-9), lo, hi).astype(np.int64)
        if float(costs @ w) <= cap and float(np.sum(F(w, None))) < upper:
            inc, upper = w, float(np.sum(F(w, None)))
    gap = max(upper - lower, 0.0)
    slack = gap + 1e-10 * max(abs(upper), abs(lower), 1e-300)

    def h(n, idx):
        return F(n, idx) + lam * costs[idx] * n

    hstar = h(nstar, np.arange(lo.size))
    left = _first_true(lambda n, idx: h(n, idx) - hstar[idx] <= slack, lo, nstar)
    # largest n in [nstar, hi] within the slack = first n whose value exceeds it, minus one
    right = _first_true(
        lambda n, idx: h(np.minimum(n + 1, hi[idx]), idx) - hstar[idx] > slack, nstar, hi)
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
    scale = 1.0 / max(float(np.max(np.abs(delta))), 1e-300)  # O(1) gains for HiGHS tolerances
    rows, ubs = [costs[group]], [rem]
    for _ in range(MAX_CUTS):
        with warnings.catch_warnings():  # scipy warns that it passes mip_abs_gap on verbatim
            warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
            res = milp(-delta * scale, integrality=np.ones(total), bounds=Bounds(0, 1),
                       constraints=[LinearConstraint(csr_matrix(np.array(rows)), -np.inf,
                                                     np.array(ubs))],
                       options={"mip_rel_gap": 0.0, "mip_abs_gap": 0.0,
                                "time_limit": TIME_LIMIT})
        if res.x is None:
            return IntegerSolution(inc, f"heuristic (greedy; MILP failed: {res.message})",
                                   "greedy")
        y = np.round(res.x).astype(np.int64)
        n = base + np.bincount(group, weights=y, minlength=base.size).astype(np.int64)
        if float(costs @ n) <= budget * (1 + BUDGET_SLACK):
            break
        # HiGHS accepts a row up to its feasibility tolerance: cut off this over-budget plan
        # (and only it) and solve again, so the optimum is over truly affordable plans
        rows.append(np.where(y == 1, 1.0, -1.0))
        ubs.append(float(y.sum() - 1))
    else:
        return IntegerSolution(inc, f"heuristic (greedy; {MAX_CUTS} MILP plans over the budget "
                                    "by less than the solver's tolerance)", "greedy")
    if res.status != 0:
        return IntegerSolution(inc if float(np.sum(F(n, None))) > upper else n,
                               f"heuristic (MILP stopped: {res.message})", "lagrangian+milp",
                               total)
    value = float(np.sum(F(n, None)))
    if value > upper + 1e-12 * abs(upper):
        return IntegerSolution(inc, "heuristic (greedy; the MILP plan is worse than the "
                                    "incumbent)", "greedy", total)
    return IntegerSolution(inc if value > upper else n, "optimal", "lagrangian+milp", total)


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
    picks = {}
    for g in np.flatnonzero(counts > 0):  # a group without a window adds a constant
        m_max = int(min(counts[g], cap // unit[g]))
        levels = base[g] + np.arange(m_max + 1)
        vals = F(levels, np.full(m_max + 1, g))
        vals = vals - vals[0]
        new = np.full(cap + 1, np.inf)
        arg = np.zeros(cap + 1, dtype=np.int64)
        for m in range(m_max + 1):
            s = int(unit[g]) * m
            cand = vals[m] + V[: cap + 1 - s]
            better = cand < new[s:]
            new[s:][better] = cand[better]
            arg[s:][better] = m
        picks[int(g)] = arg
        V = new
    n = base.copy()
    s = cap
    for g in sorted(picks, reverse=True):
        m = int(picks[g][s])
        n[g] += m
        s -= int(unit[g]) * m
    return n


# ----------------------------------------------------------------------------- maximin
def integer_maximin(
    err: Callable[[np.ndarray], np.ndarray], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray | None = None, *, tie_break: str = "leximin",
) -> IntegerSolution:
    """Integer ``min max err`` under the budget and box, then the tie-break (exact).

    ``err(n, idx)`` gives the errors of groups ``idx`` at sizes ``n`` (nonincreasing in ``n``).
    The optimal worst error ``t*`` comes from the level search (module docstring); then
    ``tie_break="none"`` keeps the cheapest plan reaching it, ``"utilitarian"`` spends the rest to
    minimise the sum of errors with every error ``<= t*``, and ``"leximin"`` does the same with
    unequal costs and returns the exact leximin plan with equal costs. ``warm`` is passed on to
    the sum-of-errors step as a candidate incumbent.
    """
    costs = np.asarray(costs, float)
    lo, hi, cap = _check_box(costs, budget, lo, hi)
    if float(costs @ lo) > cap:
        return _infeasible(lo)
    equal = _equal(costs)
    if equal and tie_break == "leximin":
        return _leximin_equal(err, costs, cap, lo, hi)

    def count(t, left, right):  # smallest n with err <= t; hi + 1 when even hi is above t
        def below(n, idx):
            h = hi[idx]
            return (n > h) | (err(np.minimum(n, h), idx) <= t)
        return _first_true(below, left, right)

    def ok(m):
        return bool(np.all(m <= hi)) and float(costs @ m) <= cap

    t_floor = float(np.max(err(hi, None)))  # no plan has a smaller worst error
    t_top = float(np.max(err(lo, None)))  # m(t_top) = lo, affordable
    if t_top <= t_floor:
        m = lo.copy()
    else:
        _, m, _, _ = _level_search(count, ok, _prev(t_floor), t_top, hi + 1, lo)
    if tie_break == "none":
        return IntegerSolution(m, "optimal", "levels")
    sol = integer_budget(err, costs, budget, m, hi, warm)
    status = "optimal" if sol.status == "optimal" else f"maximin optimal; tie-break {sol.status}"
    return IntegerSolution(sol.n, status, "levels+" + sol.method, sol.window)


def _leximin_equal(err, costs, cap, lo, hi) -> IntegerSolution:
    """Equal costs: the units with the largest errors before the unit, i.e. the plan of giving
    each unit to the worst uncapped group (lowest index first among exact ties)."""
    def count(t, left, right):  # smallest n with err <= t, capped at hi
        def below(n, idx):
            return (n >= hi[idx]) | (err(n, idx) <= t)
        return _first_true(below, left, right)

    def ok(m):
        return float(costs @ m) <= cap

    if ok(hi):
        return IntegerSolution(hi.copy(), "optimal", "levels")
    t_floor = float(np.min(err(np.maximum(hi - 1, lo), None)[hi > lo]))
    t_top = float(np.max(err(lo, None)))
    # below t_floor every uncapped group sits at hi: not affordable
    _, n, _, n_prev = _level_search(count, ok, _prev(t_floor), t_top, hi, lo)
    units = int(np.floor((cap - float(costs @ n)) / costs[0] + 1e-9))
    n = _fill_ties(n, n_prev - n, units)
    while float(costs @ n) > cap:  # guard against the rounding of the division above
        n[int(np.flatnonzero(n > lo)[-1])] -= 1
    return IntegerSolution(n, "optimal", "levels")


def integer_local_search(
    objective: Callable[[np.ndarray], float], costs: np.ndarray, budget: float, lo: np.ndarray,
    hi: np.ndarray, warm: np.ndarray, *, max_evaluations: int = 20_000,
) -> tuple[np.ndarray, int, bool]:
    """Greedy gain-per-cost fill from ``floor(warm)`` then best-improvement 1-exchanges.

    ``objective(n) -> float`` is minimised. Returns ``(n, evaluations, local_optimum)``;
    ``local_optimum`` is False when the evaluation budget ran out first.
    """
    lo, hi, cap = _check_box(np.asarray(costs, float), budget, lo, hi)
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
