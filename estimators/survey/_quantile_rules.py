"""Weighted quantile rules (R ``svyquantile``'s ``qrule``) on sorted values and weights.

Each rule takes the values sorted ascending, their weights (positive) in the same order, their
cumulative weights (accumulated in extended precision, as R's ``cumsum``) and a probability, and
returns the quantile. ``"math"`` is :func:`estimators.survey._estimation._weighted_quantile`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

__all__ = ["RULES", "QuantileRule"]

QuantileRule = Literal[
    "math", "school", "shahvaish", "hf1", "hf2", "hf3", "hf4", "hf5", "hf6", "hf7", "hf8", "hf9"
]
Rule = Callable[[np.ndarray, np.ndarray, np.ndarray, float], float]


def _step(ys: np.ndarray, cw: np.ndarray, p: float) -> tuple[int, int, float, float]:
    """R ``qs``: the last value whose cumulative weight is <= p W (the first when none), the next
    one, and the weight shares below and above ``p``."""
    total = cw[-1]
    pos = int(np.searchsorted(cw, p * total, side="right")) - 1
    pos = max(pos, 0)
    nxt = min(pos + 1, len(ys) - 1)
    return pos, nxt, p - cw[pos] / total, cw[nxt] / total - p


def _hf1(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    pos, nxt, low, _ = _step(ys, cw, p)
    return float(ys[pos] if low == 0 else ys[nxt])


def _school(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    pos, nxt, low, _ = _step(ys, cw, p)
    return float((ys[pos] + ys[nxt]) / 2 if low == 0 else ys[nxt])


def _hf3(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    values, start = np.unique(ys, return_index=True)
    summed = np.add.reduceat(ws, start)
    cum = np.cumsum(summed.astype(np.longdouble)).astype(float)
    pos, nxt, low, _ = _step(values, cum, p)
    return float(values[pos] if (low == 0 and (pos + 1) % 2 == 0) else values[nxt])


def _hf4(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    pos, nxt, low, up = _step(ys, cw, p)
    gamma = low / (up + low)
    return float(ys[pos] * (1 - gamma) + ys[nxt] * gamma)


def _hf5(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    return float(np.interp(p, (cw - ws / 2) / cw[-1], ys))


def _hf6(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    return float(np.interp(p, cw / (cw[-1] + ws[-1]), ys))


def _hf7(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    # R divides by the cumulative weight of all but the largest value
    below = np.concatenate([[0.0], cw[:-1]])
    return float(np.interp(p, below / cw[-2], ys)) if len(ys) > 1 else float(ys[0])


def _hf8(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    below = np.concatenate([[0.0], cw[:-1]])
    return float(np.interp(p, (below / 3 + cw * 2 / 3) / (cw[-1] + ws[-1] / 3), ys))


def _hf9(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    below = np.concatenate([[0.0], cw[:-1]])
    return float(np.interp(p, (below * 3 / 8 + cw * 5 / 8) / (cw[-1] + ws[-1] / 4), ys))


def _shahvaish(ys: np.ndarray, ws: np.ndarray, cw: np.ndarray, p: float) -> float:
    n = len(ys)
    scaled = np.cumsum((ws / ws.mean()).astype(np.longdouble)).astype(float)
    positions = (scaled + 0.5 - ws / 2) / (n + 1)
    # R's approx(method="constant"): the points sorted by position, tied positions averaged
    order = np.argsort(positions, kind="stable")
    unique, start = np.unique(positions[order], return_index=True)
    values = np.add.reduceat(ys[order], start) / np.diff(np.append(start, n))
    i = int(np.searchsorted(unique, p, side="right")) - 1
    return float(values[min(max(i, 0), len(unique) - 1)])


RULES: dict[str, Rule] = {
    "hf1": _hf1,
    "school": _school,
    "hf2": _school,
    "hf3": _hf3,
    "hf4": _hf4,
    "hf5": _hf5,
    "hf6": _hf6,
    "hf7": _hf7,
    "hf8": _hf8,
    "hf9": _hf9,
    "shahvaish": _shahvaish,
}
