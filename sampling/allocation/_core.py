"""The exact solver core for separable convex allocation problems (numpy arrays only).

Problems solved (``f_g(n) = a_g n^(-b_g) + c_g``, costs ``k_g > 0``, box ``lo_g <= n_g <= hi_g``):

* budget:   minimise ``sum_g w_g phi(f_g(n_g))`` subject to ``sum_g k_g n_g <= B`` and the box,
  where ``phi`` is increasing and convex (identity, ``f^p``, or the alpha-fair ``-U_alpha(1-f)``);
* level:    minimise ``sum_g k_g n_g`` subject to ``sum_g w_g f_g(n_g) <= V`` and the box
  (Cochran's fixed-variance allocation);
* maximin:  minimise ``max_g f_g(n_g)`` subject to the budget and the box, with a leximin or
  utilitarian tie-break that spends budget left over when a capped group sets the maximum.

The budget problem is solved through its dual. Stationarity gives, for every group,
``n_g(lambda) = clip(m_g^{-1}(lambda k_g), lo_g, hi_g)`` with the marginal benefit
``m_g(n) = -d/dn w_g phi(f_g(n))`` (positive, decreasing). The spending
``S(t) = sum_g k_g n_g(e^t)`` is decreasing and piecewise smooth in ``t = log lambda``, with a kink
at each group's breakpoints ``t_hi,g`` (at ``hi_g`` for ``t <= t_hi,g``) and ``t_lo,g`` (at ``lo_g``
for ``t >= t_lo,g``); ``[min t_hi, max t_lo]`` brackets the root of ``S(t) = B``.

* ``phi = identity``: the inverse marginal is closed form, ``n = (w a b / (lambda k))^{1/(b+1)}``,
  and the root is found by a safeguarded Newton iteration (``rtsafe``): Newton steps on
  ``log S(t) = log B`` using the derivative of the current smooth segment, replaced by bisection
  of the bracket when a step leaves it or does not halve the previous step. On the root's segment
  Newton converges quadratically, so the budget holds to rounding and the active set is exact
  (kinks are crossed, not smoothed). Typically 5-7 evaluations of ``S``. With an uncapped group
  the left end is unbounded and is replaced by doubling steps to the left.
* other ``phi`` (power, alpha-fair): ``n_g(lambda)`` is found by vectorised bisection in ``log n``
  and the root by Brent's method (``scipy.optimize.brentq``) on ``t`` over the same bracket.

Every solution carries its KKT residual, the active set and a status that is
``"optimal"`` only when the residual is below the tolerance.

The identity budget problem has a compiled twin, ``sampling/allocation/_budget_kernel.c`` (the same
algorithm line for line, built at install time; optional). It is used for up to
``KERNEL_MAX_GROUPS`` groups, where a solve is dominated by numpy's per-call overhead (about 7 us
instead of 60 us at G = 10); above that numpy's vectorised ``exp`` is as fast or faster, so the
numpy code below runs. The kernel aims ``(G + 4) eps`` below the budget (see :func:`_kernel_target`)
so that numpy's dot of ``costs`` and ``n`` is within the budget whatever its summation order;
the numpy code, which checks with that dot itself, spends the budget to the last float. The two
give the same plans to rounding (a free group's ``n`` moves by about ``(G + 4) eps B / spend of
the free groups``, relative). Without a C compiler at install time the numpy code runs
everywhere. To run the numpy code although the kernel is built (to compare,
or to rule the kernel out when debugging), set the environment variable ``EQUISAMPLE_KERNEL=off``
before the first import, or call :func:`sampling.allocation.use_compiled_kernel` with False.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from estimators._lib.results import frozen_instance
from estimators.errors import InfeasibleError

try:  # the compiled twin of _solve_budget_identity (optional; see the module docstring)
    from sampling.allocation import _budget_kernel as _kernel
except ImportError:  # pragma: no cover - built without a C compiler
    _kernel = None

# EQUISAMPLE_KERNEL=off (or 0 / false / no) turns the compiled kernel off for this process.
_kernel_enabled = os.environ.get("EQUISAMPLE_KERNEL", "on").strip().lower() not in {
    "off", "0", "false", "no"}


def compiled_kernel_available() -> bool:
    """Whether the compiled budget kernel was built and is in use (see :func:`use_compiled_kernel`).

    Examples
    --------
    >>> isinstance(compiled_kernel_available(), bool)
    True
    """
    return _kernel is not None and _kernel_enabled


def use_compiled_kernel(enabled: bool) -> bool:
    """Turn the compiled budget kernel on or off for this process; returns the previous setting.

    Both paths give the same plans to rounding; the numpy path is slower for small problems. When
    the kernel was not built (no C compiler at install), turning it on has no effect. The
    environment variable ``EQUISAMPLE_KERNEL=off`` sets the initial state.

    Examples
    --------
    >>> previous = use_compiled_kernel(False)
    >>> compiled_kernel_available()
    False
    >>> _ = use_compiled_kernel(previous)
    """
    global _kernel_enabled
    previous = _kernel_enabled
    _kernel_enabled = bool(enabled)
    return previous

__all__ = [
    "CoreSolution",
    "Transform",
    "compiled_kernel_available",
    "marginal",
    "solve_budget",
    "solve_level",
    "solve_maximin",
    "use_compiled_kernel",
]

KKT_TOL = 1e-9
EPS = np.finfo(float).eps
KERNEL_MAX_GROUPS = 512  # crossover measured in benchmarks/allocation_solver.py


@dataclass(frozen=True)
class Transform:
    """The increasing convex ``phi`` applied to each group's error: ``identity``, ``power`` (p),
    or ``alpha_fair`` (alpha; utility ``1 - f``)."""

    kind: str = "identity"
    parameter: float = 1.0

    def value(self, f: np.ndarray) -> np.ndarray:
        if self.kind == "identity":
            return f
        if self.kind == "power":
            return f**self.parameter
        u = 1.0 - f
        al = self.parameter
        return -np.log(u) if al == 1.0 else -(u ** (1.0 - al)) / (1.0 - al)

    def derivative(self, f: np.ndarray) -> np.ndarray:
        if self.kind == "identity":
            return np.ones_like(f)
        if self.kind == "power":
            return self.parameter * f ** (self.parameter - 1.0)
        return (1.0 - f) ** (-self.parameter)


IDENTITY = Transform()


@dataclass(frozen=True)
class CoreSolution:
    """Raw result of a core solve (arrays aligned with the input groups)."""

    n: np.ndarray
    multiplier: float  # lambda (budget), mu (level) or the common error level t (maximin)
    kkt_residual: float
    at_lower: np.ndarray
    at_upper: np.ndarray
    status: str
    iterations: int
    budget_binding: bool

    @classmethod
    def _of(cls, n: np.ndarray, multiplier: float, kkt_residual: float, at_lower: np.ndarray,
            at_upper: np.ndarray, status: str, iterations: int,
            budget_binding: bool) -> CoreSolution:
        """``CoreSolution(...)`` without the frozen ``__init__``'s one ``object.__setattr__``
        call per field (for the compiled kernel's small solves)."""
        return frozen_instance(cls, n=n, multiplier=multiplier, kkt_residual=kkt_residual,
                               at_lower=at_lower, at_upper=at_upper, status=status,
                               iterations=iterations, budget_binding=budget_binding)


def _err(a: np.ndarray, b: np.ndarray, c: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore"):
        return a * np.exp(-b * np.log(n)) + c


def marginal(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, w: np.ndarray, n: np.ndarray,
    transform: Transform = IDENTITY,
) -> np.ndarray:
    """Marginal benefit ``m_g(n) = w_g phi'(f_g(n)) a_g b_g n^(-b_g-1)`` (> 0, decreasing)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        base = w * a * b * np.exp(-(b + 1.0) * np.log(n))
        if transform.kind == "identity":
            return base
        return base * transform.derivative(_err(a, b, c, n))


def _infeasible_budget(costs: np.ndarray, lo: np.ndarray, budget: float) -> None:
    need = float(np.dot(costs, lo))
    if need > budget * (1 + 1e-12):
        raise InfeasibleError(
            f"budget: the lower bounds alone cost sum(cost * min_n) = {need:.10g} > budget = "
            f"{budget:.10g} (certificate: every feasible plan costs at least that much). Raise the "
            "budget or lower min_n / current_n."
        )


class _Inverse:
    """``n_g(t) = clip(m_g^{-1}(e^t k_g), lo_g, hi_g)`` for the budget dual, vectorised."""

    def __init__(self, a, b, c, w, costs, lo, hi, transform: Transform):
        self.a, self.b, self.c, self.w, self.k = a, b, c, w, costs
        self.lo, self.hi, self.tr = lo, hi, transform
        self.e = 1.0 / (b + 1.0)
        self.L = np.log(w * a * b / costs)  # identity: n = exp(e (L - t))
        self.log_lo = np.log(lo)
        with np.errstate(divide="ignore"):
            self.log_hi = np.log(hi)
        # phi' range on the box bounds the generic inverse
        if transform.kind != "identity":
            fl = _err(a, b, c, lo)
            fh = np.where(np.isfinite(hi), _err(a, b, c, hi), c)
            d1, d2 = transform.derivative(fl), transform.derivative(fh)
            self.logdmax = np.log(np.maximum(d1, d2))
            with np.errstate(divide="ignore"):
                self.logdmin = np.log(np.minimum(d1, d2))
        # breakpoints in t: t <= t_hi -> at hi; t >= t_lo -> at lo
        if transform.kind == "identity":  # log(m(n)/k) = L - (b + 1) log n
            self.t_lo = self.L - (b + 1.0) * self.log_lo
            self.t_hi = self.L - (b + 1.0) * self.log_hi
        else:
            self.t_lo = np.log(marginal(a, b, c, w, lo, transform) / costs)
            with np.errstate(divide="ignore"):
                self.t_hi = np.log(marginal(a, b, c, w, hi, transform) / costs)

    def n(self, t: float) -> np.ndarray:
        if self.tr.kind == "identity":
            return np.clip(np.exp(self.e * (self.L - t)), self.lo, self.hi)
        return self._generic(t)

    def _generic(self, t: float) -> np.ndarray:
        out = np.where(t >= self.t_lo, self.lo, np.where(t <= self.t_hi, self.hi, np.nan))
        free = np.isnan(out)
        if not free.any():
            return out
        e, L = self.e[free], self.L[free]
        left = np.maximum(self.log_lo[free], e * (L + self.logdmin[free] - t))
        right = np.minimum(self.log_hi[free], e * (L + self.logdmax[free] - t))
        a, b, c, w, k = self.a[free], self.b[free], self.c[free], self.w[free], self.k[free]
        target = np.exp(t) * k
        for _ in range(200):
            mid = 0.5 * (left + right)
            m = marginal(a, b, c, w, np.exp(mid), self.tr)
            big = m > target
            left = np.where(big, mid, left)
            right = np.where(big, right, mid)
            if np.all(right - left <= 4 * EPS * np.maximum(1.0, np.abs(mid))):
                break
        out[free] = np.exp(0.5 * (left + right))
        return np.clip(out, self.lo, self.hi)


def _kkt_budget(inv: _Inverse, n: np.ndarray, lam: float, budget: float, spent: float,
                tol: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Relative KKT residual: stationarity ``|m_g(n_g) - lambda k_g| / (lambda k_g)`` for free
    groups, sign conditions at the bounds, primal budget and box violations."""
    k, lo, hi = inv.k, inv.lo, inv.hi
    at_lo = n <= lo
    at_hi = n >= hi
    bound_viol = max(float(np.max(np.maximum(lo - n, 0.0) / lo)),
                     float(np.max(np.maximum(n - hi, 0.0) / hi)))
    if lam <= 0:  # budget slack: optimal only if every group is at its cap
        stat = 0.0 if at_hi.all() else 1.0
        return max(stat, bound_viol, max(spent - budget, 0) / budget), at_lo, at_hi
    if inv.tr.kind == "identity":  # m/k = exp(L - (b+1) log n)
        gap = np.exp(inv.L - (inv.b + 1.0) * np.log(n) - np.log(lam)) - 1.0
    else:
        gap = marginal(inv.a, inv.b, inv.c, inv.w, n, inv.tr) / (lam * k) - 1.0
    r = np.where(at_lo, np.maximum(gap, 0.0), np.where(at_hi, np.maximum(-gap, 0.0), np.abs(gap)))
    r = np.where(at_lo & at_hi, 0.0, r)
    res = max(float(r.max(initial=0.0)), abs(spent - budget) / budget, bound_viol)
    return res, at_lo, at_hi


def solve_budget(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, w: np.ndarray, costs: np.ndarray,
    budget: float, lo: np.ndarray, hi: np.ndarray, transform: Transform = IDENTITY,
    tol: float = KKT_TOL,
) -> CoreSolution:
    """Minimise ``sum w phi(a n^-b + c)`` s.t. ``sum costs n <= budget``, ``lo <= n <= hi``."""
    if transform.kind == "identity":
        if _kernel is not None and _kernel_enabled and a.size <= KERNEL_MAX_GROUPS:
            sol = _solve_budget_identity_kernel(a, b, w, costs, budget, lo, hi, tol)
            if sol is not None:
                return sol
        _infeasible_budget(costs, lo, budget)
        return _solve_budget_identity(a, b, w, costs, budget, lo, hi, tol)
    _infeasible_budget(costs, lo, budget)
    inv = _Inverse(a, b, c, w, costs, lo, hi, transform)
    cap = float(np.dot(costs, hi)) if np.isfinite(hi).all() else np.inf
    if cap <= budget:
        n = hi.astype(float).copy()
        res, at_lo, at_hi = _kkt_budget(inv, n, 0.0, budget, cap, tol)
        return CoreSolution(n, 0.0, res, at_lo, at_hi, "optimal" if res <= tol else "inaccurate",
                            0, False)
    spent_lo = float(np.dot(costs, lo))
    if spent_lo >= budget:  # exactly at the lower bounds
        n = lo.astype(float).copy()
        lam = float(np.exp(np.max(inv.t_lo)))
        res, at_lo, at_hi = _kkt_budget(inv, n, lam, budget, spent_lo, tol)
        return CoreSolution(n, lam, res, at_lo, at_hi,
                            "optimal" if res <= tol else "inaccurate", 0, True)

    def gap(t: float) -> float:
        return (float(np.dot(costs, inv.n(t))) - budget) / budget

    t_right = float(np.max(inv.t_lo))
    finite_hi = inv.t_hi[np.isfinite(inv.t_hi)]
    t_left = float(np.min(finite_hi)) if finite_hi.size == inv.t_hi.size else t_right - 1.0
    step = 1.0
    while gap(t_left) < 0:  # only when some caps are infinite
        step *= 2.0
        t_left -= step
    t_left = min(t_left, t_right)
    t, info = brentq(gap, t_left, t_right, xtol=1e-14 * max(1.0, abs(t_right)),
                     rtol=4 * EPS, full_output=True, disp=False)
    iterations = info.function_calls
    n = inv.n(t)
    lam = float(np.exp(t))
    n = _trim_to_budget(n, costs, lo, hi, budget)
    spent = float(np.dot(costs, n))
    res, at_lo, at_hi = _kkt_budget(inv, n, lam, budget, spent, tol)
    status = "optimal" if res <= tol else "inaccurate"
    return CoreSolution(n, lam, res, at_lo, at_hi, status, iterations, True)


def _kernel_target(budget: float, G: int) -> float:
    """The spend the compiled kernel aims at: ``(G + 4) eps`` below ``budget``.

    A float sum of ``G`` positive terms, in any order and with or without fused multiply-adds,
    is within ``gamma_G = G u / (1 - G u)`` (``u = eps / 2``) of the exact sum, so two such sums
    differ by at most ``G eps`` of it (to first order). When the kernel's sequential sum of
    ``costs * n`` is within this target, numpy's dot is within ``budget`` whatever its summation
    order. The same arithmetic as in ``_budget_kernel.c``, so the two agree bit for bit."""
    return budget * (1.0 - (G + 4) * float(EPS))


def _solve_budget_identity_kernel(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, costs: np.ndarray, budget: float,
    lo: np.ndarray, hi: np.ndarray, tol: float,
) -> CoreSolution | None:
    """``_solve_budget_identity`` through the compiled kernel when the budget binds strictly
    inside the box; ``None`` otherwise (the budget buys every cap, or no more than the lower
    bounds: infeasible, with a certificate, or exactly there) or when the arrays are not
    contiguous float64 vectors. The numpy path then handles the case. Both tests use numpy's
    sums, so the decision is the one ``costs @ lo`` / ``costs @ hi`` give (the kernel's
    sequential sums may differ in the last bit)."""
    if not costs.dot(lo) < budget < costs.dot(hi):  # numpy's dot, as np.dot(costs, lo)
        return None
    G = a.size
    n = np.empty(G)
    at_lo = np.empty(G, dtype=bool)
    at_hi = np.empty(G, dtype=bool)
    try:
        t, iterations, res = _kernel.budget_identity(a, b, w, costs, lo, hi, n, at_lo, at_hi,
                                                     budget)
    except TypeError:
        return None
    status = "optimal" if res <= tol else "inaccurate"
    # the kernel aims (G + 4) eps below the budget, so numpy's dot, whatever its summation
    # order, is within it too (see _budget_kernel.c); the trim is a guard that never runs
    if costs.dot(n) > budget:  # pragma: no cover - excluded by the error bound
        n = _trim_to_budget(n, costs, lo, hi, budget)
    return CoreSolution._of(n, math.exp(t), res, at_lo, at_hi, status, iterations, True)


def _solve_budget_identity(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, costs: np.ndarray, budget: float,
    lo: np.ndarray, hi: np.ndarray, tol: float,
) -> CoreSolution:
    """The budget problem for ``phi = identity`` with closed-form ``n_g(t)`` (few numpy calls).

    ``n_g(t) = clip(exp(e_g (L_g - t)), lo_g, hi_g)`` with ``e_g = 1 / (b_g + 1)`` and
    ``L_g = log(w_g a_g b_g / k_g)``; group ``g`` sits at ``hi_g`` for ``t <= t_hi,g`` and at
    ``lo_g`` for ``t >= t_lo,g`` (its breakpoints), so ``[min t_hi, max t_lo]`` brackets the root.
    """
    bp1 = b + 1.0
    e = 1.0 / bp1
    L = np.log(w * a * b / costs)
    log_lo = np.log(lo)
    log_hi = np.log(hi)  # +inf for an uncapped group, no warning
    t_right = float(np.maximum.reduce(L - bp1 * log_lo))
    cap = float(np.dot(costs, hi))  # inf if any group is uncapped
    if cap <= budget:  # every group at its cap, budget slack
        n = hi.astype(float)
        at_hi = np.ones(n.size, dtype=bool)
        res = max(0.0, (cap - budget) / budget)
        return CoreSolution(n, 0.0, res, n <= lo, at_hi,
                            "optimal" if res <= tol else "inaccurate", 0, False)
    spent_lo = float(np.dot(costs, lo))
    if spent_lo >= budget:  # exactly at the lower bounds
        t = t_right
        n = lo.astype(float)
        iterations = 0
    else:
        t_left = float(np.minimum.reduce(L - bp1 * log_hi))  # -inf if any group is uncapped
        t, n, iterations = _safeguarded_newton(L, e, costs, lo, hi, budget, t_left, t_right)
        n = _trim_to_budget(n, costs, lo, hi, budget)
    return _kkt_identity(n, L, bp1, log_lo, log_hi, t, costs, lo, hi, budget, tol, iterations)


def _kkt_identity(n, L, bp1, log_lo, log_hi, t, costs, lo, hi, budget, tol, iterations):
    """Relative KKT residual of ``n`` at ``lambda = e^t`` (identity ``phi``), in one pass:
    ``gap_g = m_g(n_g) / (lambda k_g) - 1`` must be 0 for free groups, <= 0 at a lower bound and
    >= 0 at an upper bound; plus the budget equation and the box."""
    log_n = np.log(n)
    at_lo = log_n <= log_lo
    at_hi = log_n >= log_hi
    gap = np.exp(L - t - bp1 * log_n) - 1.0
    # at_lo: max(gap, 0); at_hi: max(-gap, 0); free: |gap|; both: 0
    r = np.maximum(np.where(at_hi, 0.0, gap), np.where(at_lo, 0.0, -gap))
    box = float(np.maximum.reduce(np.maximum(log_lo - log_n, log_n - log_hi)))  # > 0 if outside
    spent = float(np.dot(costs, n))
    res = max(float(np.maximum.reduce(r)), abs(spent - budget) / budget, box, 0.0)
    return CoreSolution(n, float(np.exp(t)), res, at_lo, at_hi,
                        "optimal" if res <= tol else "inaccurate", iterations, True)


def _safeguarded_newton(
    L: np.ndarray, e: np.ndarray, k: np.ndarray, lo: np.ndarray, hi: np.ndarray, budget: float,
    t_left: float, t_right: float, max_iter: int = 200,
) -> tuple[float, np.ndarray, int]:
    """Root of ``S(t) = sum_g k_g clip(exp(e_g (L_g - t)), lo_g, hi_g) = B`` on
    ``[t_left, t_right]`` (``t_left`` may be ``-inf`` when some group is uncapped).

    ``S`` is decreasing, convex on each segment between breakpoints and piecewise smooth (kinks
    where a group reaches a bound). Newton steps use the derivative of the current segment,
    ``S'(t) = -sum_free k e n``, applied to ``log S(t) = log B`` (nearly linear in ``t``: exact in
    one step when the free groups share an exponent and none is at a bound); a step that leaves the bracket or does not halve the previous
    step is replaced by bisection of the bracket (the safeguard of ``rtsafe``; while the left end
    is unbounded, by a doubling step to the left). Once the root's segment (its active set) is
    reached, Newton converges quadratically, so the budget equation is met to rounding: the
    kinks are crossed exactly, never smoothed.
    """
    ke = k * e
    eL = e * L
    tl, tr = t_left, t_right
    # start: the unbounded solution with a common exponent (a cheap, usually close guess)
    emean = float(np.add.reduce(e)) / e.size
    with np.errstate(over="ignore"):
        t = float(np.log(np.dot(k, np.exp(eL)) / budget) / emean)
    if not (tl < t < tr):
        t = 0.5 * (tl + tr) if np.isfinite(tl) else tr - 1.0
    dx_old = tr - tl
    buf = np.empty_like(L)
    n = buf
    it = 0
    step = 1.0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is returned
        np.multiply(e, -t, out=buf)
        np.add(buf, eL, out=buf)
        np.exp(buf, out=buf)
        n = np.minimum(np.maximum(buf, lo), hi)
        g = float(np.dot(k, n)) - budget
        if abs(g) <= 2 * EPS * budget:
            break
        if g > 0:
            tl = t
        else:
            tr = t
        ds = -float(np.dot(ke, n * (n == buf)))  # derivative over the unclipped groups
        # Newton on log S(t) - log B: exact in one step when the free groups share an exponent
        spent = g + budget
        t_new = t - math.log(spent / budget) * spent / ds if ds < 0 else np.nan
        if not (tl < t_new < tr) or abs(t_new - t) > 0.5 * abs(dx_old):
            if np.isfinite(tl):
                t_new = 0.5 * (tl + tr)
            else:
                step *= 2.0
                t_new = tr - step
        dx_old = t_new - t
        if t_new == t or tr - tl <= 2 * EPS * max(1.0, abs(t)):
            break
        t = t_new
    return t, n, it


def _trim_to_budget(n: np.ndarray, costs: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    budget: float) -> np.ndarray:
    """Remove a rounding-level overspend (<= 1e-12 B) from the free groups, largest spend first.

    Group ``j`` takes the largest float in ``[lo_j, n_j]`` for which the float sum
    ``costs @ n`` is within budget (the sum is monotone in ``n_j``: a galloping search over
    adjacent floats, starting from the exact correction, which is usually within a few floats
    of the answer); when even ``lo_j`` is not enough it stays there (a move smaller than the
    overspend) and the next group continues."""
    spent = float(np.dot(costs, n))
    if spent <= budget or spent - budget > 1e-12 * budget:
        return n
    n = n.copy()
    spend = np.where((n > lo) & (n < hi), costs * n, -1.0)  # free groups only
    first = int(spend.argmax())
    if spend[first] <= 0:
        return n
    # the largest spender almost always absorbs the overspend; the full order only otherwise
    if not _trim_group(n, first, costs, lo, budget, spent):
        order = np.argsort(-spend, kind="stable")[1:int((spend > 0).sum())].tolist()
        spent = float(np.dot(costs, n))
        for j in order:
            if _trim_group(n, j, costs, lo, budget, spent):
                break
            spent = float(np.dot(costs, n))
    return n


def _trim_group(n: np.ndarray, j: int, costs: np.ndarray, lo: np.ndarray, budget: float,
                spent: float) -> bool:
    """Lower ``n[j]`` to the largest float within budget (True), or to ``lo[j]`` when even that
    is over budget (False)."""
    top = float(n[j])  # over budget
    k = float(costs[j])
    x = _largest_within(n, j, costs, budget, float(lo[j]), top, (budget - (spent - k * top)) / k)
    n[j] = lo[j] if x is None else x
    return x is not None


_DOUBLE, _INT64 = struct.Struct("<d"), struct.Struct("<q")


def _bits(x: float) -> int:
    return _INT64.unpack(_DOUBLE.pack(x))[0]


def _float(bits: int) -> float:
    return _DOUBLE.unpack(_INT64.pack(bits))[0]


def _largest_within(n: np.ndarray, j: int, costs: np.ndarray, budget: float, low: float,
                    high: float, guess: float) -> float | None:
    """The largest float ``x`` in ``[low, high)`` with ``costs @ n <= budget`` once ``n[j] = x``
    (``high`` is over budget), or None when even ``low`` is over. Non-negative floats order like
    their bit patterns, so the search runs over integers: gallop from ``guess`` (1, 2, 4, ...
    floats) to bracket the answer, then bisect the bracket."""
    def within(bits: int) -> bool:
        n[j] = _float(bits)
        return float(np.dot(costs, n)) <= budget

    floor, bad = _bits(low), _bits(high)
    start = _bits(guess) if low < guess < high else (floor + bad) // 2
    if within(start):
        good, step = start, 1
        while good + step < bad:
            if within(good + step):
                good += step
                step *= 2
            else:
                bad = good + step
                break
    else:
        bad, step = start, 1
        while True:
            probe = max(bad - step, floor)
            if within(probe):
                good = probe
                break
            if probe == floor:
                return None
            bad, step = probe, step * 2
    while bad - good > 1:
        mid = (good + bad) // 2
        if within(mid):
            good = mid
        else:
            bad = mid
    return _float(good)


def solve_level(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, costs: np.ndarray, level: float,
    lo: np.ndarray, hi: np.ndarray, tol: float = KKT_TOL,
) -> CoreSolution:
    """Minimise ``sum costs n`` s.t. ``sum w a n^-b <= level`` and the box (fixed-variance design).

    Stationarity: ``k_g = mu w_g a_g b_g n_g^(-b_g-1)``, so ``n_g = (mu w a b / k)^(1/(b+1))``
    clipped to the box, with ``mu`` the root of ``sum w a n(mu)^-b = level`` (Brent on log mu).
    """
    floor = float(np.dot(w * a, np.exp(-b * np.log(hi)))) if np.isfinite(hi).all() else 0.0
    if floor >= level * (1 - 1e-12) and not (np.isfinite(hi).all() and floor <= level):
        raise InfeasibleError(
            f"target: even at the upper bounds sum(w a n^-b) = {floor:.10g} exceeds the target "
            f"{level:.10g} (certificate: the objective is smallest at n = max_n). Relax the target "
            "or raise max_n."
        )
    top = float(np.dot(w * a, np.exp(-b * np.log(lo))))
    e = 1.0 / (b + 1.0)
    base = np.log(w * a * b / costs)

    def n_of(s: float) -> np.ndarray:
        return np.clip(np.exp(e * (base + s)), lo, hi)

    def gap(s: float) -> float:
        return (float(np.dot(w * a, np.exp(-b * np.log(n_of(s))))) - level) / level

    if top <= level:
        n = lo.astype(float).copy()
        s = -np.inf
        iterations = 0
    else:
        s_lo = float(np.min((b + 1) * np.log(lo) - base))
        s_hi = s_lo + 1.0
        while gap(s_hi) > 0:
            s_hi = s_lo + 2 * (s_hi - s_lo)
        s, info = brentq(gap, s_lo, s_hi, xtol=1e-14 * max(1.0, abs(s_hi)), rtol=4 * EPS,
                         full_output=True, disp=False)
        iterations = info.function_calls
        n = n_of(s)
        # Newton polish on the free set
        for _ in range(20):
            free = (n > lo) & (n < hi)
            val = float(np.dot(w * a, np.exp(-b * np.log(n))))
            if abs(val - level) <= 2 * EPS * level or not free.any():
                break
            dval = -float(np.dot((w * a * b * e)[free], np.exp(-b[free] * np.log(n[free]))))
            s_new = s - (val - level) / dval
            n_new = n_of(s_new)
            if not np.array_equal((n_new > lo) & (n_new < hi), free):
                break
            s, n = s_new, n_new
    mu = float(np.exp(s)) if np.isfinite(s) else 0.0
    at_lo = n <= lo * (1 + 1e-14)
    at_hi = n >= hi * (1 - 1e-14)
    val = float(np.dot(w * a, np.exp(-b * np.log(n))))
    res = max(val - level, 0.0) / level
    if mu > 0:
        res = max(res, abs(val - level) / level)
        m = mu * w * a * b * np.exp(-(b + 1) * np.log(n))
        g = (m - costs) / costs
        free = ~(at_lo | at_hi)
        res = max(res, float(np.max(np.abs(g[free]), initial=0.0)),
                  float(np.max(np.maximum(g[at_lo & ~at_hi], 0), initial=0.0)),
                  float(np.max(np.maximum(-g[at_hi & ~at_lo], 0), initial=0.0)))
    return CoreSolution(n, mu, res, at_lo, at_hi, "optimal" if res <= tol else "inaccurate",
                        iterations, mu > 0)


def _level_n(a, b, c, lo, hi, t: float) -> np.ndarray:
    """Smallest ``n`` in the box with ``a n^-b + c <= t`` (``hi`` when unreachable)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        need = np.where(t > c, np.exp(-np.log((t - c) / a) / b), np.inf)
    return np.clip(need, lo, hi)


def solve_maximin(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, costs: np.ndarray, budget: float,
    lo: np.ndarray, hi: np.ndarray, tie_break: str = "leximin", tol: float = KKT_TOL,
) -> CoreSolution:
    """Minimise ``max_g f_g(n_g)`` under the budget and box, then spend what is left.

    The common level ``t`` solves ``sum k_g n_g(t) = B`` with ``n_g(t) = clip(f_g^{-1}(t))``
    (Brent on ``t``). If the budget buys every group down to ``t_min = max_g f_g(hi_g)`` a capped
    group sets the maximum; ``tie_break="leximin"`` then fixes the capped groups and repeats on the
    rest (lexicographic max-min), ``"utilitarian"`` spends the remainder to minimise the sum of
    errors with the maximin sizes as lower bounds.
    """
    _infeasible_budget(costs, lo, budget)
    G = a.size
    n = lo.astype(float).copy()
    fixed = np.zeros(G, dtype=bool)
    remaining = budget
    t_first = None
    iterations = 0
    residual = 0.0
    while True:
        act = ~fixed
        if not act.any():
            break
        aa, bb, cc, kk, ll, hh = a[act], b[act], c[act], costs[act], lo[act], hi[act]
        f_hi = np.where(np.isfinite(hh), _err(aa, bb, cc, hh), cc)
        t_min = float(np.max(f_hi))
        f_lo = _err(aa, bb, cc, ll)
        t_max = float(np.max(f_lo))

        def spend(t: float, aa=aa, bb=bb, cc=cc, kk=kk, ll=ll, hh=hh) -> float:
            return float(np.dot(kk, _level_n(aa, bb, cc, ll, hh, t)))

        cost_at_min = spend(t_min)  # inf when the worst-capped group has no cap
        if cost_at_min <= remaining * (1 + 1e-15):
            t, capped = t_min, True
        elif t_max <= t_min:
            t, capped = t_max, False
        else:
            def gap(t: float, spend=spend, rem=remaining) -> float:
                return (spend(t) - rem) / rem

            # bracket: gap(left) > 0 (too expensive) and gap(right) <= 0
            right = t_max
            left = t_min + 0.5 * (t_max - t_min)
            for _ in range(2000):
                if gap(left) > 0:
                    break
                right = left
                left = t_min + 0.5 * (left - t_min)
            if gap(right) == 0 or right <= np.nextafter(left, np.inf):
                # a bracket of adjacent floats: the level is ``right`` (the budget cannot be
                # spent at any representable level above it; the exact rescaling below spends
                # the rest on the free groups)
                t = right
            else:
                t, info = brentq(gap, left, right, xtol=4 * EPS * max(abs(right), 1e-300),
                                 rtol=4 * EPS, full_output=True, disp=False)
                iterations += info.function_calls
            capped = False
        nn = _level_n(aa, bb, cc, ll, hh, t)
        if not capped:
            # exact budget: rescale the free groups' spend onto the remainder (rounding-level)
            free = (nn > ll) & (nn < hh)
            spent = float(np.dot(kk, nn))
            if free.any() and spent != remaining:
                slack = remaining - spent
                share = kk[free] * nn[free]
                nn[free] = np.clip(nn[free] + slack * share / share.sum() / kk[free], ll[free], hh[free])
            level_err = _err(aa, bb, cc, nn)
            if free.any():
                residual = max(residual, float(np.max(np.abs(level_err[free] - t) / t)))
            residual = max(residual, abs(float(np.dot(kk, nn)) - remaining) / budget)
        if t_first is None:
            t_first = t
        n[act] = nn
        if not capped or tie_break == "none":
            break
        if tie_break == "utilitarian":
            left = remaining - float(np.dot(kk, nn))
            if left > 1e-12 * budget:
                sub = solve_budget(aa, bb, cc, np.ones_like(aa), kk, float(np.dot(kk, nn)) + left,
                                   nn, hh, tol=tol)
                n[act] = sub.n
                residual = max(residual, sub.kkt_residual)
            break
        # leximin: fix the groups whose cap sets the level and repeat on the rest
        bottleneck = f_hi >= t_min * (1 - 1e-12)
        idx = np.flatnonzero(act)[bottleneck]
        fixed[idx] = True
        n[idx] = hi[idx]
        remaining = budget - float(np.dot(costs[fixed], hi[fixed]))
        if remaining <= 1e-12 * budget:
            break
    n = np.clip(n, lo, hi)
    n = _trim_to_budget(n, costs, lo, hi, budget)
    at_lo = n <= lo * (1 + 1e-14)
    at_hi = n >= hi * (1 - 1e-14)
    spent = float(np.dot(costs, n))
    residual = max(residual, max(spent - budget, 0) / budget)
    status = "optimal" if residual <= tol else "inaccurate"
    binding = spent >= budget * (1 - 1e-12)
    return CoreSolution(n, float(t_first if t_first is not None else 0.0), residual, at_lo, at_hi,
                        status, iterations, binding)
