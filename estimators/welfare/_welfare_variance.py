"""Design-based standard errors of welfare measures: influence functions and replicate re-weighting.

Every measure of :func:`~estimators.welfare.welfare` is a function of the raters' weights. Each
table row is described here by a small statistic object with two methods:

* ``value(W)``: the measure for every column of a weight matrix ``W`` (raters x replicates), so
  a replicate design re-computes it with each replicate's (re-weighted) weights;
* ``influence(w)``: its derivative with respect to each rater's weight at the full-sample weights,
  ``z_i = d theta / d w_i`` (zero outside the measure's domain). The linearised variable
  ``w_i z_i`` is handed to the design's variance machinery (PSU totals after residualising on the
  weighting steps, then the stratified with-replacement formula with fpc), as for a mean.

Smooth functions of several statistics (Atkinson index, Sen, group gap, regret) combine their
parts' influence values by the chain rule; maxima and minima over groups or options use the part
that attains them at the full-sample weights (the delta method away from ties). The sample minimum
of individual utilities (maximin, a power mean of order -inf / +inf) has no such expansion and
no consistent replicate variance, so it gets no standard error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import DesignError
from estimators.survey._design import SurveyDesign
from estimators.survey._estimation import _Core
from estimators.survey._replicates import ReplicateDesign

__all__ = [
    "AtkinsonIndex",
    "Difference",
    "Extreme",
    "Gini",
    "Mean",
    "PowerMean",
    "SampleExtreme",
    "Sen",
    "Statistic",
    "standard_errors",
]


class Statistic:
    """A welfare measure as a function of the raters' weights."""

    smooth = True

    def value(self, W: np.ndarray) -> np.ndarray:
        """The measure for each column of ``W`` (remembered for the last ``W``: a group mean is
        shared by the regret or gap of several rows)."""
        last = self.__dict__.get("_last")
        if last is not None and last[0] is W:
            return last[1]
        out = self._compute(W)
        object.__setattr__(self, "_last", (W, out))
        return out

    def _compute(self, W: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def influence(self, w: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def _column_sums(W: np.ndarray, mask: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    block = W[mask]
    return block.sum(axis=0) if x is None else x[mask] @ block


@dataclass(frozen=True, eq=False)
class Mean(Statistic):
    """Weighted mean of ``x`` over the raters in ``mask``: ``sum w x / sum w``."""

    x: np.ndarray
    mask: np.ndarray

    def _compute(self, W: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return _column_sums(W, self.mask, self.x) / _column_sums(W, self.mask)

    def influence(self, w: np.ndarray) -> np.ndarray:
        total = w[self.mask].sum()
        mean = float(np.dot(w[self.mask], self.x[self.mask]) / total)
        z = np.zeros(w.shape[0])
        z[self.mask] = (self.x[self.mask] - mean) / total
        return z


@dataclass(frozen=True, eq=False)
class PowerMean(Statistic):
    """Weighted power mean ``(sum w x^p / sum w)^(1/p)``; ``p = 0``: geometric mean.

    ``shift`` is subtracted from ``x`` first (the Nash disagreement point).
    """

    x: np.ndarray
    mask: np.ndarray
    power: float
    shift: float = 0.0

    def _parts(self) -> tuple[np.ndarray, float]:
        """Transformed values ``log(x)`` (p = 0) or ``(x / s)^p`` and the scale ``s``."""
        x = self.x[self.mask] - self.shift
        if self.power == 0.0:
            return np.log(x), 1.0
        scale = float(np.max(x))
        if scale == 0.0:
            return np.zeros_like(x), 0.0
        return (x / scale) ** self.power, scale

    def _compute(self, W: np.ndarray) -> np.ndarray:
        t, scale = self._parts()
        block = W[self.mask]
        with np.errstate(divide="ignore", invalid="ignore"):
            m = t @ block / block.sum(axis=0)
            if self.power == 0.0:
                return np.exp(m)
            return scale * m ** (1.0 / self.power)

    def influence(self, w: np.ndarray) -> np.ndarray:
        t, scale = self._parts()
        wd = w[self.mask]
        total = wd.sum()
        m = float(np.dot(wd, t) / total)
        z = np.zeros(w.shape[0])
        if self.power == 0.0:
            z[self.mask] = np.exp(m) * (t - m) / total
        elif scale > 0.0 and m > 0.0:
            value = scale * m ** (1.0 / self.power)
            z[self.mask] = value / (self.power * m) * (t - m) / total
        return z


@dataclass(frozen=True, eq=False)
class SampleExtreme(Statistic):
    """The smallest (or largest) utility among raters with positive weight: no standard error."""

    x: np.ndarray
    mask: np.ndarray
    largest: bool = False
    smooth = False

    def _compute(self, W: np.ndarray) -> np.ndarray:
        block = np.where(W[self.mask] > 0, self.x[self.mask][:, None], np.nan)
        return np.nanmax(block, axis=0) if self.largest else np.nanmin(block, axis=0)

    def influence(self, w: np.ndarray) -> np.ndarray:
        return np.full(w.shape[0], np.nan)


@dataclass(frozen=True, eq=False)
class Gini(Statistic):
    """Plug-in weighted Gini ``sum_ij w_i w_j |x_i - x_j| / (2 W T)`` times ``factor``.

    With ``T = sum w x``. Equivalently ``sum_ij w_i w_j max(x_i, x_j) / (W T) - 1``, whose
    derivative in ``w_k`` is ``(2 a_k - (G + 1)(T + W x_k)) / (W T)``,
    ``a_k = sum_j w_j max(x_k, x_j)`` (Langel and Tillé 2013).
    """

    x: np.ndarray
    mask: np.ndarray
    factor: float = 1.0

    def _compute(self, W: np.ndarray) -> np.ndarray:
        x = self.x[self.mask]
        order = np.argsort(x, kind="stable")
        xs = x[order]
        ws = W[self.mask][order]
        cum = np.cumsum(ws, axis=0)
        total = ws.sum(axis=0)
        wx = ws * xs[:, None]
        t = wx.sum(axis=0)
        pairs = (wx * (2.0 * cum - ws)).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(t == 0.0, 0.0, pairs / (total * t) - 1.0)
            return np.where(total > 0, g * self.factor, np.nan)

    def influence(self, w: np.ndarray) -> np.ndarray:
        x = self.x[self.mask]
        wd = w[self.mask]
        total = wd.sum()
        t = float(np.dot(wd, x))
        z = np.zeros(w.shape[0])
        if t == 0.0:
            return z
        order = np.argsort(x, kind="stable")
        xs, ws = x[order], wd[order]
        cum_w = np.cumsum(ws)
        cum_wx = np.cumsum(ws * xs)
        upto = np.searchsorted(xs, x, side="right") - 1  # last sorted position with x_j <= x_k
        below_w = cum_w[upto]
        below_wx = cum_wx[upto]
        a = x * below_w + (t - below_wx)
        g = float(np.dot(ws * xs, 2.0 * cum_w - ws) / (total * t) - 1.0)
        z[self.mask] = self.factor * (2.0 * a - (g + 1.0) * (t + total * x)) / (total * t)
        return z


@dataclass(frozen=True, eq=False)
class AtkinsonIndex(Statistic):
    """``1 - ede / mean``."""

    ede: Statistic
    mean: Statistic

    def _compute(self, W: np.ndarray) -> np.ndarray:
        e, m = self.ede.value(W), self.mean.value(W)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m == 0, 0.0, 1.0 - e / m)

    def influence(self, w: np.ndarray) -> np.ndarray:
        full = w[:, None]
        e, m = float(self.ede.value(full)[0]), float(self.mean.value(full)[0])
        if m == 0:
            return np.zeros(w.shape[0])
        return -(self.ede.influence(w) / m - e * self.mean.influence(w) / m**2)


@dataclass(frozen=True, eq=False)
class Sen(Statistic):
    """Sen welfare ``mean x (1 - Gini)``."""

    mean: Statistic
    gini: Statistic

    def _compute(self, W: np.ndarray) -> np.ndarray:
        return self.mean.value(W) * (1.0 - self.gini.value(W))

    def influence(self, w: np.ndarray) -> np.ndarray:
        full = w[:, None]
        m, g = float(self.mean.value(full)[0]), float(self.gini.value(full)[0])
        return (1.0 - g) * self.mean.influence(w) - m * self.gini.influence(w)


@dataclass(frozen=True, eq=False)
class Extreme(Statistic):
    """The largest (or smallest) of several statistics, re-chosen for every set of weights."""

    parts: tuple[Statistic, ...]
    largest: bool = True

    def _compute(self, W: np.ndarray) -> np.ndarray:
        stack = np.vstack([p.value(W) for p in self.parts])
        return stack.max(axis=0) if self.largest else stack.min(axis=0)

    def influence(self, w: np.ndarray) -> np.ndarray:
        values = np.array([float(p.value(w[:, None])[0]) for p in self.parts])
        pick = int(np.argmax(values)) if self.largest else int(np.argmin(values))
        return self.parts[pick].influence(w)


@dataclass(frozen=True, eq=False)
class Difference(Statistic):
    """``first - second``."""

    first: Statistic
    second: Statistic

    def _compute(self, W: np.ndarray) -> np.ndarray:
        return self.first.value(W) - self.second.value(W)

    def influence(self, w: np.ndarray) -> np.ndarray:
        return self.first.influence(w) - self.second.influence(w)


# -- variance -------------------------------------------------------------------------------------


def _taylor_covariance(
    design: Any, rows: np.ndarray, linear: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """Covariance of the statistics from their linearised values (table rows x statistics).

    ``design`` is a ``SurveyDesign`` whose row ``rows[i]`` is table row ``i``; its own variance
    method (residuals on the weighting steps, PSU totals, stratified formula, fpc) does the rest.
    """
    n = design.n
    k = linear.shape[1]
    dense = np.zeros((n, k))
    dense[rows] = linear
    core = _Core(
        rows=np.repeat(np.arange(n), k),
        cols=np.tile(np.arange(k), n),
        a=np.zeros(n * k),
        b=None,
        k=k,
        n=n,
    )
    cov, _ = design._linear_covariance(core, dense.ravel(), theta, "raise", "greg")
    return cov


def _replicate_variances(
    replicate: ReplicateDesign, rows: np.ndarray, stats: list[Statistic], theta: np.ndarray,
    names: list[str],
) -> np.ndarray:
    """``scale * sum_r rscales_r (theta_r - c)^2`` with each statistic recomputed per replicate.

    ``c`` is the mean of the replicate estimates (``mse=False``) or the full-sample estimate.
    """
    W = replicate.replicate_weights()[rows]
    out = np.full(len(stats), np.nan)
    use = replicate.rscales > 0
    bad: list[str] = []
    for k, stat in enumerate(stats):
        if not stat.smooth:
            continue
        reps = np.asarray(stat.value(W), dtype=float)
        if not np.isfinite(reps).all():
            bad.append(names[k])
            continue
        centre = theta[k] if replicate.mse else reps[use].mean()
        dev = reps - centre
        out[k] = replicate.scale * float(np.dot(replicate.rscales * dev, dev))
    if bad:
        fail(
            DesignError,
            "design",
            "some replicates give no estimate for these rows (a domain with zero weight in a "
            "replicate)",
            bad=bad,
            fix="Use larger groups or a jackknife; bootstrap replicates can empty small domains.",
        )
    return out


def standard_errors(
    stats: list[Statistic],
    weights: np.ndarray,
    *,
    design: Any = None,
    rows: np.ndarray | None = None,
    names: list[str] | None = None,
) -> tuple[np.ndarray, str]:
    """Standard error of every statistic, and the variance method (``"taylor"`` or replicate).

    ``design``: a ``SurveyDesign`` or ``ReplicateDesign`` whose row ``rows[i]`` is rater ``i``;
    ``None`` treats the raters as with-replacement draws with the given weights (one stratum,
    each rater its own PSU).
    """
    n = weights.shape[0]
    k = len(stats)
    names = names if names is not None else [str(i) for i in range(k)]
    if k == 0:
        return np.zeros(0), "taylor"
    full = weights[:, None]
    theta = np.array([float(s.value(full)[0]) if s.smooth else np.nan for s in stats])
    if isinstance(design, ReplicateDesign):
        assert rows is not None
        return np.sqrt(np.clip(_replicate_variances(design, rows, stats, theta, names), 0, None)), \
            design.method
    linear = np.column_stack([s.influence(weights) for s in stats]) * weights[:, None]
    smooth = np.array([s.smooth for s in stats])
    linear[:, ~smooth] = 0.0
    if design is None:
        design = SurveyDesign(pd.DataFrame(index=pd.RangeIndex(n)), weights=weights)
        rows = np.arange(n)
    assert rows is not None
    cov = _taylor_covariance(design, rows, linear, np.nan_to_num(theta))
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    se[~smooth] = np.nan
    return se, "taylor"
