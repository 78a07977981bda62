"""Numpy kernels of the welfare functions: one option's exposed utilities ``x`` and weights ``w``.

Callers have already dropped unexposed raters and zero weights, and checked domains (e.g. positive
utilities for the geometric mean). Every kernel returns plain floats.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "gini",
    "linearised_mean_se",
    "power_mean",
    "weighted_mean",
]


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.dot(w, x) / w.sum())


def power_mean(x: np.ndarray, w: np.ndarray, power: float) -> float:
    """Weighted power mean ``(sum w x^p / sum w)^(1/p)``; ``p = 0`` is the geometric mean."""
    total = w.sum()
    if power == 0.0:
        return float(np.exp(np.dot(w, np.log(x)) / total))
    if np.isneginf(power):
        return float(x.min())
    if np.isposinf(power):
        return float(x.max())
    # scale by the maximum for numerical stability: M_p(x) = max * M_p(x / max)
    scale = float(np.max(x))
    if scale == 0.0:
        return 0.0
    return float(scale * (np.dot(w, (x / scale) ** power) / total) ** (1.0 / power))


def gini(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted Gini, population formula: ``sum_ij w_i w_j |x_i - x_j| / (2 W^2 mean)``.

    Computed in O(n log n): after sorting, ``sum_{i<j} w_i w_j (x_j - x_i) =
    sum_i w_i x_i (W_before_i - W_after_i)``.
    """
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    total = ws.sum()
    before = np.cumsum(ws) - ws
    after = total - before - ws
    pair_sum = float(np.dot(ws * xs, before - after))  # = sum_{i<j} w_i w_j |x_i - x_j|
    mean = float(np.dot(ws, xs) / total)
    if mean == 0.0:
        return 0.0
    return pair_sum / (total * total * mean)


def linearised_mean_se(x_full: np.ndarray, w_full: np.ndarray, in_domain: np.ndarray) -> float:
    """Taylor-linearised SE of a weighted (domain) mean, raters as with-replacement PSUs.

    ``z_i = w_i (x_i - m) 1[i in domain]`` over all ``n`` raters of the design; the variance is
    ``n / (n - 1) * sum_i (z_i - zbar)^2 / W_domain^2`` (R ``survey::svymean`` on a design with
    ``ids = ~1`` and a subset treated as a domain).
    """
    n = x_full.shape[0]
    if n < 2:
        return 0.0
    wd = np.where(in_domain, w_full, 0.0)
    total = wd.sum()
    xd = np.where(in_domain, x_full, 0.0)
    m = float(np.dot(wd, xd) / total)
    z = wd * (xd - m)
    z = z - z.mean()
    return float(np.sqrt(n / (n - 1) * np.dot(z, z)) / total)
