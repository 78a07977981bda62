"""``covariate_balance``: how far a (weighted) sample is from a reference sample, covariate by covariate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_weights, check_option, fail
from estimators.errors import ValidationError
from estimators.weighting._covariates import (
    MISSING_LEVEL,
    CovariateSpec,
    level_indicators,
    prepare_covariates,
)
from estimators.weighting._input import resolve_input

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BalanceResult", "covariate_balance", "kish_design_effect"]

StdType = Literal["reference", "pooled", "sample"]


def kish_design_effect(w: np.ndarray) -> float:
    """``n sum(w^2) / (sum w)^2`` over the positive weights (1 when none)."""
    w = w[w > 0]
    if w.size == 0:
        return 1.0
    w = w / w.max()
    return float(w.size * np.dot(w, w) / w.sum() ** 2)


def weighted_mean_sd(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means and reliability-weights standard deviations of the columns of ``x``.

    ``var = V1 / (V1^2 - V2) * sum_i w_i (x_i - m)^2`` with ``V1 = sum w``, ``V2 = sum w^2``: the
    unbiased variance for reliability weights (the ordinary ``n - 1`` variance when all weights
    are equal; invariant to rescaling the weights).
    """
    v1 = w.sum(axis=0)
    v2 = (w * w).sum(axis=0)
    mean = (w * x).sum(axis=0) / v1
    ss = (w * (x - mean) ** 2).sum(axis=0)
    denom = v1 * v1 - v2
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(denom > 0, v1 / np.where(denom > 0, denom, 1.0) * ss, np.nan)
    return mean, np.sqrt(np.maximum(var, 0.0))


def _asmd(diff: np.ndarray, sd: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(diff) / sd
    out = np.where((np.abs(diff) == 0) & (sd == 0), 0.0, out)
    return np.where((sd == 0) & (np.abs(diff) > 0), np.inf, out)


def weighted_ks(x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance ``max_t |F_x(t) - F_y(t)|`` of two weighted distributions."""
    grid = np.union1d(x, y)
    fx = _weighted_ecdf(x, wx, grid)
    fy = _weighted_ecdf(y, wy, grid)
    return float(np.max(np.abs(fx - fy))) if grid.size else 0.0


def _weighted_ecdf(x: np.ndarray, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    pos = np.searchsorted(xs, grid, side="right")
    total = cw[-1] if cw.size else 1.0
    return np.where(pos > 0, cw[np.maximum(pos - 1, 0)], 0.0) / total


def weighted_emd(x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray) -> float:
    """Earth mover's (Wasserstein-1) distance between two weighted distributions."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(x, y, u_weights=wx, v_weights=wy))


@dataclass(frozen=True)
class _Side:
    frame: pd.DataFrame
    weights: np.ndarray


def _columns(
    specs: list[CovariateSpec], sample: _Side, reference: _Side
) -> list[tuple[CovariateSpec, str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per balance row: spec, level, sample values, sample mask, reference values, reference mask."""
    rows = []
    for spec in specs:
        s, r = sample.frame[spec.name], reference.frame[spec.name]
        if spec.kind == "numeric":
            sv = s.to_numpy(dtype=np.float64, na_value=np.nan)
            rv = r.to_numpy(dtype=np.float64, na_value=np.nan)
            so, ro = ~np.isnan(sv), ~np.isnan(rv)
            rows.append((spec, "", np.where(so, sv, 0.0), so, np.where(ro, rv, 0.0), ro))
            if spec.has_missing:
                ones_s, ones_r = np.ones(len(sv), bool), np.ones(len(rv), bool)
                rows.append((spec, MISSING_LEVEL, (~so).astype(float), ones_s,
                             (~ro).astype(float), ones_r))
            continue
        si, ri = level_indicators(s, spec), level_indicators(r, spec)
        ones_s, ones_r = np.ones(len(s), bool), np.ones(len(r), bool)
        for j, label in enumerate(spec.level_labels):
            rows.append((spec, label, si[:, j], ones_s, ri[:, j], ones_r))
    return rows


def _stats(
    rows: list[Any], ws: np.ndarray, wr: np.ndarray, std: StdType
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample means, reference means and ASMD for every balance row."""
    s_mean, r_mean, asmd = [], [], []
    for _spec, _level, sv, so, rv, ro in rows:
        ms, sds = weighted_mean_sd(sv[so], ws[so])
        mr, sdr = weighted_mean_sd(rv[ro], wr[ro])
        if std == "reference":
            sd = sdr
        elif std == "sample":
            sd = sds
        else:
            sd = np.sqrt((sds * sds + sdr * sdr) / 2.0)
        s_mean.append(float(ms))
        r_mean.append(float(mr))
        asmd.append(float(_asmd(np.asarray(ms - mr), np.asarray(sd))))
    return np.array(s_mean), np.array(r_mean), np.array(asmd)


def _distances(
    rows: list[Any], ws: np.ndarray, wr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    ks, emd = [], []
    for spec, level, sv, so, rv, ro in rows:
        if spec.kind == "numeric" and level == "":
            ks.append(weighted_ks(sv[so], ws[so], rv[ro], wr[ro]))
            emd.append(weighted_emd(sv[so], ws[so], rv[ro], wr[ro]))
        else:
            ks.append(np.nan)
            emd.append(np.nan)
    return np.array(ks), np.array(emd)


def mean_by_covariate(covariate: pd.Series, values: pd.Series) -> pd.Series:
    """Average of the level values within each covariate (covariate order kept)."""
    return values.groupby(covariate, sort=False).mean()


@dataclass(frozen=True, eq=False)
class BalanceResult(Result):
    """Covariate balance between a sample (before and after weighting) and a reference sample.

    Attributes
    ----------
    table : DataFrame
        One row per numeric covariate and per level of each categorical covariate (see
        :meth:`to_frame`).
    covariates : tuple
        The covariates, in the order given.
    std : str
        Which standard deviation divides the mean difference (``"reference"``, ``"pooled"`` or
        ``"sample"``).
    weighted : bool
        Whether weights were given (then the ``weighted_*`` columns exist).
    design_effect : float
        Kish design effect ``n sum(w^2) / (sum w)^2`` of the weights (the sample's base weights
        when none were given).
    effective_sample_size : float
        Kish effective sample size ``(sum w)^2 / sum(w^2)``.
    n_sample, n_reference : int
        Rows in each frame.
    """

    table: pd.DataFrame
    covariates: tuple[Any, ...]
    std: str
    weighted: bool
    design_effect: float
    effective_sample_size: float
    n_sample: int
    n_reference: int
    _plot_data: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Per covariate level: ``covariate``, ``level`` (``""`` for a numeric covariate),
        ``sample_mean``, ``reference_mean``, ``asmd``, then ``weighted_sample_mean`` and
        ``weighted_asmd`` when weights were given, and for numeric covariates the distances
        ``ks`` and ``emd`` (and ``weighted_ks``, ``weighted_emd``)."""
        return self.table.copy()

    def by_covariate(self) -> pd.DataFrame:
        """ASMD averaged over each covariate's levels (one row per covariate)."""
        cols = ["asmd", "weighted_asmd"] if self.weighted else ["asmd"]
        out = self.table.groupby("covariate", sort=False)[cols].mean()
        return out.reset_index()

    @property
    def mean_asmd_before(self) -> float:
        """Mean ASMD before weighting: the average over covariates of each covariate's average
        level ASMD (each covariate counts once)."""
        return float(self.by_covariate()["asmd"].mean())

    @property
    def mean_asmd_after(self) -> float | None:
        """Mean ASMD after weighting (``None`` without weights), each covariate counted once."""
        if not self.weighted:
            return None
        return float(self.by_covariate()["weighted_asmd"].mean())

    @property
    def mean_asmd(self) -> float:
        """Mean ASMD with the weights when given (else before), each covariate counted once."""
        after = self.mean_asmd_after
        return self.mean_asmd_before if after is None else after

    def _summary_title(self) -> str:
        return "BalanceResult"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        facts: list[tuple[str, Any]] = [
            ("sample rows", self.n_sample),
            ("reference rows", self.n_reference),
            ("covariates", len(self.covariates)),
            ("standard deviation", self.std),
            ("mean ASMD before", self.mean_asmd_before),
        ]
        if self.weighted:
            facts.append(("mean ASMD after", self.mean_asmd_after))
        facts += [
            ("Kish design effect", self.design_effect),
            ("effective sample size", self.effective_sample_size),
        ]
        return facts

    def plot(
        self, ax: Axes | None = None, *, kind: Literal["love", "distributions"] = "love"
    ) -> Axes:
        """A love plot (ASMD per level, before and after) or distribution panels.

        ``kind="love"`` draws ASMD before (circles) and after weighting (crosses) for every row,
        with the customary 0.1 line. ``kind="distributions"`` draws, for each numeric covariate,
        the weighted ECDFs of the reference, the sample and the weighted sample (one panel per
        covariate on a new figure; ``ax`` is used when there is one numeric covariate). Returns the
        (last) Axes.
        """
        kind = check_option(kind, ("love", "distributions"), "kind")
        if kind == "distributions":
            return self._plot_distributions(ax)
        ax = get_axes(ax, figsize=(6, max(3.0, 0.3 * len(self.table) + 1)))
        t = self.table
        y = np.arange(len(t))
        labels = [c if lv == "" else f"{c}: {lv}" for c, lv in zip(t["covariate"], t["level"])]
        ax.scatter(t["asmd"], y, marker="o", color="tab:gray", label="before")
        if self.weighted:
            ax.scatter(t["weighted_asmd"], y, marker="x", color="tab:blue", label="after")
        ax.axvline(0.1, color="tab:red", linestyle=":", linewidth=1)
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("absolute standardised mean difference")
        ax.set_title(f"Covariate balance (mean ASMD {self.mean_asmd:.3g})")
        ax.legend(loc="best", fontsize=8)
        return ax

    def _plot_distributions(self, ax: Axes | None) -> Axes:
        data = self._plot_data
        names = list(data)
        if not names:
            fail(ValidationError, "kind", "'distributions' needs a numeric covariate",
                 bad=[str(c) for c in self.covariates])
        if ax is not None and len(names) == 1:
            axes = [ax]
        else:
            import matplotlib.pyplot as plt

            _, grid = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
            axes = list(grid[0])
        for axis, name in zip(axes, names):
            sv, sw0, sw1, rv, rw = data[name]
            grid_x = np.union1d(sv, rv)
            axis.step(grid_x, _weighted_ecdf(rv, rw, grid_x), where="post", color="tab:red",
                      label="reference")
            axis.step(grid_x, _weighted_ecdf(sv, sw0, grid_x), where="post", color="tab:gray",
                      label="sample")
            if sw1 is not None:
                axis.step(grid_x, _weighted_ecdf(sv, sw1, grid_x), where="post", color="tab:blue",
                          label="weighted sample")
            axis.set_title(str(name))
            axis.set_ylabel("cumulative share")
            axis.legend(loc="best", fontsize=8)
        return axes[-1]


def covariate_balance(
    sample: Any,
    reference: Any,
    *,
    covariates: Any,
    weights: Any = None,
    reference_weights: Any = None,
    std: StdType = "reference",
) -> BalanceResult:
    """Covariate balance of a sample against a reference sample: ASMD, distances and design effect.

    Parameters
    ----------
    sample : DataFrame or SurveyDesign
        The sample. A design's weights are the "before" weights (otherwise every row counts 1).
    reference : DataFrame or SurveyDesign
        The reference sample (e.g. a probability survey's microdata); a design's weights are its
        weights.
    covariates : list of str
        Columns present in both frames. Numeric columns are compared as they are; other columns
        (strings, categoricals, booleans) level by level. Missing values of a categorical covariate
        form the level ``"(missing)"``; a numeric covariate with missing values is compared on its
        observed values and gets a ``"(missing)"`` row for the share missing.
    weights : str, array-like, Series or WeightingResult, optional
        The "after" weights of the sample (a column name, values, or a fit such as the result of
        :func:`~estimators.adjust_to_reference`). Adds the ``weighted_*`` columns.
    reference_weights : str or array-like, optional
        Weights of the reference when it is a DataFrame (default 1 for every row).
    std : {"reference", "pooled", "sample"}
        The standard deviation dividing the mean difference: the reference's (default), the root
        mean of both variances, or the sample's (with the weights in use on that side).

    Returns
    -------
    BalanceResult
        ``to_frame()`` per level, ``mean_asmd`` (each covariate counted once),
        ``design_effect``, ``effective_sample_size``, ``plot()``.

    Notes
    -----
    For a numeric covariate or a level indicator ``x``,
    ``ASMD = |m_S - m_R| / s_R`` with weighted means ``m = sum w x / sum w`` and
    ``s_R^2 = V1 / (V1^2 - V2) sum_j t_j (x_j - m_R)^2`` (``V1 = sum t``, ``V2 = sum t^2``; the
    reliability-weights variance with the reference weights ``t``). ``std="pooled"`` uses
    ``sqrt((s_S^2 + s_R^2) / 2)``. The mean ASMD averages the level ASMDs within each covariate,
    then over covariates. Every level of a categorical covariate gets a row (the package
    ``balance`` leaves out the first level of all but one categorical covariate; the ASMD of the
    levels it reports are the same). A zero reference standard deviation with a non-zero
    difference gives ``inf``. For numeric covariates, ``ks`` is the largest gap between the two
    weighted empirical distribution functions and ``emd`` the earth mover's (Wasserstein-1)
    distance.

    References
    ----------
    Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. *Statistics in
    Medicine* 28, 3083-3107. Sarig, T., Galili, T. and Eilat, R. (2023). balance - a Python
    package for balancing biased data samples. arXiv:2307.06024.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import covariate_balance
    >>> s = pd.DataFrame({"sex": ["f", "m", "m", "m"], "age": [20.0, 30.0, 40.0, 50.0]})
    >>> r = pd.DataFrame({"sex": ["f", "f", "m", "m"], "age": [20.0, 30.0, 30.0, 40.0]})
    >>> bal = covariate_balance(s, r, covariates=["sex", "age"], weights=[3, 1, 1, 1])
    >>> bal.to_frame()[["covariate", "level", "asmd", "weighted_asmd"]].round(4).to_numpy().tolist()
    [['sex', 'f', 0.433, 0.0], ['sex', 'm', 0.433, 0.0], ['age', '', 0.6124, 0.0]]
    >>> round(bal.mean_asmd_before, 4), round(bal.mean_asmd, 4)
    (0.5227, 0.0)
    """
    std = check_option(std, ("reference", "pooled", "sample"), "std")
    s_in = resolve_input(sample, None, "sample")
    r_in = resolve_input(reference, reference_weights, "reference")
    after = None
    if weights is not None:
        from estimators.weighting._result import WeightingResult

        if isinstance(weights, WeightingResult):
            weights = weights.weights
        after = as_weights(weights, s_in.frame, "weights")
        if not (after > 0).any():
            fail(ValidationError, "weights", "must have at least one positive weight", bad=[0.0])
    specs = prepare_covariates(s_in.frame, r_in.frame, covariates, unmatched_levels="allow")
    ws = np.asarray(s_in.base_weights, dtype=np.float64)
    wr = np.asarray(r_in.base_weights, dtype=np.float64)
    rows = _columns(specs, _Side(s_in.frame, ws), _Side(r_in.frame, wr))
    s_mean, r_mean, asmd = _stats(rows, ws, wr, std)
    table = pd.DataFrame(
        {
            "covariate": [str(row[0].name) for row in rows],
            "level": [row[1] for row in rows],
            "sample_mean": s_mean,
            "reference_mean": r_mean,
            "asmd": asmd,
        }
    )
    if after is not None:
        w_mean, _, w_asmd = _stats(rows, after, wr, std)
        table["weighted_sample_mean"] = w_mean
        table["weighted_asmd"] = w_asmd
    ks, emd = _distances(rows, ws, wr)
    table["ks"] = ks
    table["emd"] = emd
    if after is not None:
        wks, wemd = _distances(rows, after, wr)
        table["weighted_ks"] = wks
        table["weighted_emd"] = wemd
    final = ws if after is None else after
    positive = final[final > 0]
    deff = kish_design_effect(final)
    plot_data = {}
    for spec, level, sv, so, rv, ro in rows:
        if spec.kind == "numeric" and level == "":
            plot_data[spec.name] = (sv[so], ws[so], None if after is None else after[so],
                                    rv[ro], wr[ro])
    return BalanceResult(
        table=table,
        covariates=tuple(s.name for s in specs),
        std=std,
        weighted=after is not None,
        design_effect=deff,
        effective_sample_size=float(positive.size / deff) if positive.size else 0.0,
        n_sample=len(s_in.frame),
        n_reference=len(r_in.frame),
        _plot_data=plot_data,
    )
