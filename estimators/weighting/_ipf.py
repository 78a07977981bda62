"""Iterative proportional fitting on the observed-cell table (numpy arrays only).

The kernels work on ``x`` of shape (C, R): C observed cells, R weight sets (R = 1 for a fit, R
replicate columns for replicate variance), so every replicate is raked at once.

Unbounded raking (IPF): for each margin in turn, multiply every cell by ``t_k / s_k`` where ``s_k``
is the current weighted total of its category ``k``. Bounded raking solves the calibration problem
with the raking distance restricted to ``L <= g <= U``: the g-weights are
``g_c = clip(exp(u_c), L, U)`` and each margin step shifts ``u`` on every category by the
``delta_k`` that solves ``sum_{c in k} d_c clip(exp(u_c + delta_k), L, U) = t_k`` (exact block
coordinate ascent on the dual, which reduces to IPF when no bound binds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from estimators._lib.validation import fail
from estimators.errors import ValidationError

__all__ = ["IPFOutcome", "MarginArrays", "ipf", "margin_errors", "reachable_targets"]


@dataclass(frozen=True, eq=False)
class MarginArrays:
    """One margin for the kernel: category of each cell (-1: none) and target per category."""

    category: np.ndarray
    targets: np.ndarray

    @classmethod
    def build(cls, category: np.ndarray, targets: np.ndarray) -> MarginArrays:
        return cls(np.asarray(category, dtype=np.intp), np.asarray(targets, dtype=np.float64))

    @property
    def n_categories(self) -> int:
        return int(self.targets.size)


class _Summer:
    """Category sums of (C, R) cell values for one margin (bincount for R = 1, sparse matmul else)."""

    def __init__(self, margin: MarginArrays, n_cells: int) -> None:
        k = margin.n_categories
        cat = margin.category
        self.k = k
        self.valid = cat >= 0
        self.all_valid = bool(self.valid.all())
        self.cat_ext = np.where(self.valid, cat, k)  # extra bin k for cells outside the margin
        self.targets = margin.targets
        self.targets_positive = bool(margin.targets.size) and float(margin.targets.min()) > 0
        self._matrix: sp.csr_matrix | None = None
        self.n_cells = n_cells

    def sums(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] == 1:
            return np.bincount(self.cat_ext, weights=x[:, 0], minlength=self.k + 1)[: self.k, None]
        if self._matrix is None:
            cols = np.flatnonzero(self.valid)
            self._matrix = sp.csr_matrix(
                (np.ones(cols.size), (self.cat_ext[cols], cols)), shape=(self.k, self.n_cells)
            )
        return np.asarray(self._matrix @ x)

    def spread(self, per_category: np.ndarray, fill: float) -> np.ndarray:
        """Per-category values (K, R) -> per-cell (C, R); cells outside the margin get ``fill``."""
        if self.all_valid:
            return per_category[self.cat_ext]
        ext = np.empty((self.k + 1, per_category.shape[1]))
        ext[: self.k] = per_category
        ext[self.k] = fill
        return ext[self.cat_ext]


def margin_errors(
    summers: Sequence[_Summer], x: np.ndarray, targets: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """Max relative error ``|s_k - t_k| / t_k`` per margin (max over categories and columns).

    ``targets`` (per margin, (K, R)) default to each margin's targets; categories with target 0
    (unreachable in that column, see :func:`reachable_targets`) are left out.
    """
    out = np.empty(len(summers))
    for i, s in enumerate(summers):
        if not s.k:
            out[i] = 0.0
            continue
        t = s.targets[:, None] if targets is None else targets[i]
        error = np.abs(s.sums(x) - t)
        if (s.targets_positive if targets is None else float(np.minimum.reduce(t, axis=None)) > 0):
            error /= t
        else:
            reached = t > 0
            np.divide(error, t, out=error, where=reached)
            error[~reached] = 0.0
        out[i] = float(np.maximum.reduce(error, axis=None))
    return out


def reachable_targets(summer: _Summer, d: np.ndarray) -> np.ndarray:
    """Targets (K, R) for base cell totals ``d`` (C, R).

    A category whose base total is zero in a column cannot get weight by any multiplicative step
    (e.g. a jackknife replicate that drops every row of it): its target is set to 0 there and the
    margin's other targets are rescaled to keep its total, as ``on_empty_category="drop"`` does.
    Without such categories the targets are returned unchanged.
    """
    t = summer.targets[:, None]
    reachable = summer.sums(d) > 0
    if reachable.all():
        return np.broadcast_to(t, reachable.shape)
    kept = np.where(reachable, t, 0.0)
    kept_total = kept.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(kept_total > 0, summer.targets.sum() / kept_total, 0.0)
    return kept * scale


@dataclass(frozen=True, eq=False)
class IPFOutcome:
    """Fitted cell totals ``x`` (C, R), g per cell (C, R), sweeps used, convergence, misfit trace."""

    x: np.ndarray
    g: np.ndarray
    n_iter: int
    converged: bool
    trace: np.ndarray  # (n_iter + 1, M): max relative error per margin after each sweep


def _solve_shift(
    u: np.ndarray,
    d: np.ndarray,
    summer: _Summer,
    t: np.ndarray,
    lower: float,
    upper: float,
) -> np.ndarray:
    """Per category and column, the shift delta solving sum d clip(exp(u + delta), L, U) = t."""
    shape = (summer.k, u.shape[1])
    log_lower = np.log(lower) if lower > 0 else -np.inf
    log_upper = np.log(upper) if np.isfinite(upper) else np.inf

    def evaluate(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = u + summer.spread(delta, 0.0)
        free = (z > log_lower) & (z < log_upper)
        with np.errstate(over="ignore"):
            g = np.clip(np.exp(np.minimum(z, 700.0)), lower, upper)
        value = summer.sums(d * g) - t
        slope = summer.sums(np.where(free, d * g, 0.0))
        return value, slope

    value, slope = evaluate(np.zeros(shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        current = value + t
        delta = np.where(current > 0, np.log(t / np.where(current > 0, current, 1.0)), 0.0)
    lo = np.full(shape, -np.inf)
    hi = np.full(shape, np.inf)
    for _ in range(200):
        value, slope = evaluate(delta)
        done = np.abs(value) <= 1e-15 * t
        if done.all():
            break
        below = value < 0
        lo = np.where(below, np.maximum(lo, delta), lo)
        hi = np.where(~below, np.minimum(hi, delta), hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = delta - value / slope
        ok = np.isfinite(newton) & (newton > lo) & (newton < hi) & (slope > 0)
        both = np.isfinite(lo) & np.isfinite(hi)
        fallback = np.where(both, 0.5 * (lo + hi), np.where(below, delta + 1.0, delta - 1.0))
        new = np.where(ok, newton, fallback)
        new = np.where(done, delta, new)
        if np.array_equal(new, delta):
            break
        delta = new
    return delta


def ipf(
    cell_base: np.ndarray,
    margins: Sequence[MarginArrays],
    *,
    tol: float,
    max_iter: int,
    bounds: tuple[float, float] | None = None,
) -> IPFOutcome:
    """Rake cell totals ``cell_base`` (C, R) to every margin's targets.

    Convergence: after a sweep over all margins, the max relative error over every category of
    every margin (and every column) is at most ``tol``. Cells with zero base stay zero.
    """
    d = np.asarray(cell_base, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n_cells = d.shape[0]
    summers = [_Summer(m, n_cells) for m in margins]
    targets = [reachable_targets(s, d) for s in summers]
    trace = [margin_errors(summers, d, targets)]
    converged = bool(trace[0].max(initial=0.0) <= tol)
    n_iter = 0
    if bounds is None:
        x = d.copy()
        while not converged and n_iter < max_iter:
            n_iter += 1
            for s, t in zip(summers, targets):
                cur = s.sums(x)
                with np.errstate(over="ignore"):
                    factor = np.divide(t, cur, out=np.ones(cur.shape), where=cur > 0)
                if not np.maximum.reduce(factor, axis=None) < np.inf:  # inf or NaN
                    fail(
                        ValidationError,
                        "weights",
                        "raking needs an adjustment factor beyond the floating-point range (the "
                        "positive base weights span too many orders of magnitude)",
                        bad=[f"{float(np.min(d[d > 0])):.3g} .. {float(np.max(d)):.3g}"],
                        fix="Rescale or cap the extreme base weights first.",
                    )
                x *= s.spread(factor, 1.0)
            trace.append(margin_errors(summers, x, targets))
            converged = bool(np.maximum.reduce(trace[-1], initial=0.0) <= tol)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(d > 0, x / np.where(d > 0, d, 1.0), 1.0)
        return IPFOutcome(x, g, n_iter, converged, np.vstack(trace))
    lower, upper = bounds
    u = np.zeros_like(d)
    g = np.clip(np.ones_like(d), lower, upper)
    x = d * g
    trace[0] = margin_errors(summers, x, targets)
    converged = bool(trace[0].max(initial=0.0) <= tol)
    while not converged and n_iter < max_iter:
        n_iter += 1
        for s, t in zip(summers, targets):
            delta = _solve_shift(u, d, s, t, lower, upper)
            u = u + s.spread(delta, 0.0)
            with np.errstate(over="ignore"):
                g = np.clip(np.exp(np.minimum(u, 700.0)), lower, upper)
        x = d * g
        trace.append(margin_errors(summers, x, targets))
        converged = bool(trace[-1].max(initial=0.0) <= tol)
    return IPFOutcome(x, g, n_iter, converged, np.vstack(trace))
