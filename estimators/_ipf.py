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

__all__ = ["IPFOutcome", "MarginArrays", "ipf", "margin_errors"]


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
        ext = np.vstack([per_category, np.full((1, per_category.shape[1]), fill)])
        return ext[self.cat_ext]


def margin_errors(summers: Sequence[_Summer], x: np.ndarray) -> np.ndarray:
    """Max relative error ``|s_k - t_k| / t_k`` per margin (max over categories and columns)."""
    out = np.empty(len(summers))
    for i, s in enumerate(summers):
        cur = s.sums(x)
        out[i] = float(np.max(np.abs(cur - s.targets[:, None]) / s.targets[:, None])) if s.k else 0.0
    return out


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
    lower: float,
    upper: float,
) -> np.ndarray:
    """Per category and column, the shift delta solving sum d clip(exp(u + delta), L, U) = t."""
    t = summer.targets[:, None]
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
    trace = [margin_errors(summers, d)]
    converged = bool(trace[0].max(initial=0.0) <= tol)
    n_iter = 0
    if bounds is None:
        x = d.copy()
        while not converged and n_iter < max_iter:
            n_iter += 1
            for s in summers:
                cur = s.sums(x)
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = np.where(cur > 0, s.targets[:, None] / cur, 1.0)
                x *= s.spread(factor, 1.0)
            trace.append(margin_errors(summers, x))
            converged = bool(trace[-1].max(initial=0.0) <= tol)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(d > 0, x / np.where(d > 0, d, 1.0), 1.0)
        return IPFOutcome(x, g, n_iter, converged, np.vstack(trace))
    lower, upper = bounds
    u = np.zeros_like(d)
    g = np.clip(np.ones_like(d), lower, upper)
    x = d * g
    trace[0] = margin_errors(summers, x)
    converged = bool(trace[0].max(initial=0.0) <= tol)
    while not converged and n_iter < max_iter:
        n_iter += 1
        for s in summers:
            delta = _solve_shift(u, d, s, lower, upper)
            u = u + s.spread(delta, 0.0)
            with np.errstate(over="ignore"):
                g = np.clip(np.exp(np.minimum(u, 700.0)), lower, upper)
        x = d * g
        trace.append(margin_errors(summers, x))
        converged = bool(trace[-1].max(initial=0.0) <= tol)
    return IPFOutcome(x, g, n_iter, converged, np.vstack(trace))
