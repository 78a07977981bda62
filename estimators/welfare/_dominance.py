"""Comparisons of two samples of welfare draws: P(X > Y), first- and second-order dominance."""

from __future__ import annotations

import numpy as np

__all__ = ["probability_greater", "stochastic_dominance"]


def probability_greater(x: np.ndarray, y: np.ndarray) -> float:
    """``P(X > Y) + P(X = Y) / 2`` for independent draws, from the two empirical laws."""
    ys = np.sort(y)
    below = np.searchsorted(ys, x, side="left")
    at_or_below = np.searchsorted(ys, x, side="right")
    return float((below + 0.5 * (at_or_below - below)).sum() / (x.size * y.size))


def stochastic_dominance(x: np.ndarray, y: np.ndarray, *, tol: float = 1e-12) -> tuple[bool, bool]:
    """Whether the law of ``x`` dominates that of ``y`` to first and second order.

    First order: :math:`F_x(t) \\le F_y(t)` for all ``t`` (strictly somewhere). Second order:
    :math:`\\int_{-\\infty}^t F_x \\le \\int_{-\\infty}^t F_y` for all ``t`` (strictly somewhere).
    Both are checked exactly on the union of the sample points (the CDFs are step functions and
    their integrals piecewise linear between those points).
    """
    grid = np.union1d(x, y)
    fx = np.searchsorted(np.sort(x), grid, side="right") / x.size
    fy = np.searchsorted(np.sort(y), grid, side="right") / y.size
    diff = fx - fy
    fosd = bool(np.all(diff <= tol) and np.any(diff < -tol))
    widths = np.diff(grid)
    integral = np.r_[0.0, np.cumsum(diff[:-1] * widths)]
    ssd = bool(np.all(integral <= tol) and (np.any(integral < -tol) or np.any(diff < -tol)))
    return fosd, ssd
