"""``WeightingResult``: what ``rake``, ``calibrate``, ``poststratify`` and ``trim`` return."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, format_fact, get_axes
from estimators._lib.validation import check_option
from estimators.survey._weighting_steps import WeightingStep
from estimators.weighting._margins import WeightingProblem

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from estimators.survey._design import SurveyDesign

__all__ = ["WeightingResult", "margin_diagnostics"]

QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
DIAGNOSTIC_COLUMNS = [
    "variable",
    "category",
    "sample_count",
    "sample_share",
    "base_share",
    "weighted_share",
    "target_share",
    "target",
    "weighted_total",
    "relative_error",
]


def margin_diagnostics(problem: WeightingProblem | None, weights: np.ndarray) -> pd.DataFrame:
    """Per margin and category: sample, design-weighted, weighted and target shares.

    Shares are of the population total. Numeric totals get one row each (``category`` =
    ``"(total)"``) whose share columns hold means per population unit (sample mean, base-weighted
    mean, weighted mean, target / population total).
    """
    if problem is None:
        return pd.DataFrame({c: [] for c in DIAGNOSTIC_COLUMNS})
    cells = problem.cells
    cell_w = cells.sum_rows(weights)
    cell_n = cells.row_counts.astype(np.float64)
    n_rows = float(cell_n.sum())
    base_total = float(problem.cell_base.sum())
    w_total = float(cell_w.sum())
    pieces: list[pd.DataFrame] = []
    for m in problem.margins:
        valid = m.cell_category >= 0
        k = m.n_categories
        count = np.bincount(m.cell_category[valid], weights=cell_n[valid], minlength=k)
        base = np.bincount(m.cell_category[valid], weights=problem.cell_base[valid], minlength=k)
        wsum = np.bincount(m.cell_category[valid], weights=cell_w[valid], minlength=k)
        target_total = float(m.targets.sum())
        pieces.append(
            pd.DataFrame(
                {
                    "variable": m.name,
                    "category": pd.Series(list(m.labels), dtype=object),
                    "sample_count": count.astype(np.int64),
                    "sample_share": count / n_rows if n_rows else 0.0,
                    "base_share": base / base_total if base_total else 0.0,
                    "weighted_share": wsum / w_total if w_total else 0.0,
                    "target_share": m.targets / target_total,
                    "target": m.targets,
                    "weighted_total": wsum,
                    "relative_error": np.abs(wsum - m.targets) / m.targets,
                }
            )
        )
    incl = problem.included
    for name, total, values in problem.numeric:
        wt = float(weights @ values)
        n_inc = max(int(incl.sum()), 1)
        pieces.append(
            pd.DataFrame(
                {
                    "variable": [str(name)],
                    "category": ["(total)"],
                    "sample_count": [int(incl.sum())],
                    "sample_share": [float(values[incl].sum()) / n_inc],
                    "base_share": [float(problem.base_weights @ values) / base_total if base_total else 0.0],
                    "weighted_share": [wt / w_total if w_total else 0.0],
                    "target_share": [total / problem.population_total],
                    "target": [total],
                    "weighted_total": [wt],
                    "relative_error": [abs(wt - total) / abs(total) if total else abs(wt)],
                }
            )
        )
    if not pieces:
        return pd.DataFrame({c: [] for c in DIAGNOSTIC_COLUMNS})
    return pd.concat(pieces, ignore_index=True)[DIAGNOSTIC_COLUMNS]


@dataclass(frozen=True, eq=False)
class WeightingResult(Result):
    """Weights fitted to margins or totals, with how well they fit and what they cost.

    Returned by :func:`~estimators.rake`, :func:`~estimators.calibrate`,
    :func:`~estimators.poststratify` and :func:`~estimators.trim`.

    Attributes
    ----------
    weights : Series
        Final weights on the caller's index (same order; never NaN; 0 for rows dropped with
        ``on_missing="drop"``).
    base_weights : Series
        The design weights going in. When none were given (every base weight is 1) the Series is
        backed by a read-only, zero-stride array, so no n-sized array of ones is stored; use
        ``base_weights.copy()`` for a writeable copy.
    method : str
        ``"rake"``, ``"linear"``, ``"raking"``, ``"logit"``, ``"poststratify"`` or ``"trim"``.
    converged : bool
        Whether every margin (and total) is met within ``tol`` (and, with bounds, every g within
        them). Never True when not.
    n_iter : int
        Iterations (sweeps over all margins, Newton steps, or trim cycles) used.
    max_margin_error : float
        Largest relative error ``|sum w - target| / target`` over all categories and totals.
    trace : DataFrame
        Misfit per iteration (rows; iteration 0 = before weighting) and margin (columns: the max
        relative error over that margin's categories).
    step : WeightingStep
        The record of this operation (kept on ``design.weighting_steps``); built lazily from
        ``step_factory``.
    design : SurveyDesign
        The new design (built lazily from ``base_design``, the design the weights replace).
    dropped_rows : Index
        Rows dropped because of missing values (weight 0), if ``on_missing="drop"``.
    dropped_categories : tuple
        ``(margin, category)`` pairs dropped with ``on_empty_category="drop"``.
    tol : float
        The convergence tolerance that was asked for.

    Notes
    -----
    Kish's design effect from unequal weights is ``deff = n * sum(w^2) / (sum w)^2`` and the
    effective sample size is ``n / deff = (sum w)^2 / sum(w^2)``, both over rows with positive
    weight. ``g = w / d`` are the adjustment factors relative to the design weights ``d``.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley. Deville, J.-C. and Särndal, C.-E. (1992).
    Calibration estimators in survey sampling. *JASA* 87, 376-382.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import rake
    >>> df = pd.DataFrame({"sex": ["f", "m", "m", "m"]})
    >>> fit = rake(df, {"sex": {"f": 0.5, "m": 0.5}})
    >>> fit.weights.tolist(), round(fit.design_effect, 4), round(fit.effective_sample_size, 4)
    ([2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666], 1.3333, 3.0)
    >>> fit.diagnostics()[["category", "sample_share", "weighted_share"]].to_numpy().tolist()
    [['f', 0.25, 0.5], ['m', 0.75, 0.5]]
    """

    weights: pd.Series
    base_weights: pd.Series
    method: str
    converged: bool
    n_iter: int
    max_margin_error: float
    trace: pd.DataFrame
    step_factory: Callable[[], WeightingStep] = field(repr=False)
    base_design: Callable[[], SurveyDesign] = field(repr=False)
    tol: float = 0.0
    dropped_rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    dropped_categories: tuple[tuple[str, Any], ...] = ()
    problem: WeightingProblem | None = field(default=None, repr=False)

    # -- the new design -----------------------------------------------------------------------
    @cached_property
    def step(self) -> WeightingStep:
        """The :class:`WeightingStep` record (model matrix, margin codes, ``reweight``).

        Built on first access: the sparse model matrix has one entry per row and margin.
        """
        return self.step_factory()

    @cached_property
    def design(self) -> SurveyDesign:
        """A new :class:`~estimators.SurveyDesign` with these weights and this step recorded.

        The input design (or ``SurveyDesign(data, weights=base weights)`` for a DataFrame) with its
        weights replaced and :attr:`step` appended to ``weighting_steps``; built on first access.
        """
        return self.base_design().with_weights(self.weights.to_numpy(), self.step)

    # -- diagnostics ----------------------------------------------------------------------------
    def diagnostics(self) -> pd.DataFrame:
        """Margin fit per category: variable, category, sample share, base (design-weighted)
        share, weighted share, target share, target, weighted total and relative error."""
        return self._diagnostics.copy()

    @cached_property
    def _diagnostics(self) -> pd.DataFrame:
        return margin_diagnostics(self.problem, self.weights.to_numpy())

    @cached_property
    def _positive(self) -> np.ndarray:
        w = self.weights.to_numpy()
        return w[w > 0]

    @property
    def design_effect(self) -> float:
        """Kish design effect of unequal weighting, ``n sum(w^2) / (sum w)^2``."""
        w = self._positive
        if w.size == 0:
            return 1.0
        w = w / w.max()  # scale-free; avoids overflow of (sum w)^2 for huge weights
        return float(w.size * np.dot(w, w) / w.sum() ** 2)

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size ``(sum w)^2 / sum(w^2)``."""
        w = self._positive
        if w.size == 0:
            return 0.0
        w = w / w.max()  # scale-free; avoids overflow of (sum w)^2 for huge weights
        return float(w.sum() ** 2 / np.dot(w, w))

    @property
    def weight_quantiles(self) -> pd.Series:
        """Quantiles (0, 1, 5, 25, 50, 75, 95, 99, 100 %) of the positive weights."""
        w = self._positive
        values = np.quantile(w, QUANTILE_LEVELS) if w.size else np.zeros(len(QUANTILE_LEVELS))
        return pd.Series(values, index=pd.Index(QUANTILE_LEVELS, name="quantile"), name="weight")

    @property
    def weight_ratio(self) -> float:
        """Largest over smallest positive weight."""
        w = self._positive
        return float(w.max() / w.min()) if w.size else 1.0

    @property
    def g(self) -> pd.Series:
        """Adjustment factors ``g = w / d`` (1 where ``d == 0``)."""
        d = self.base_weights.to_numpy()
        w = self.weights.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(d > 0, w / np.where(d > 0, d, 1.0), 1.0)
        return pd.Series(g, index=self.weights.index, name="g")

    @property
    def g_range(self) -> tuple[float, float]:
        """Smallest and largest ``g = w / d`` over rows with positive design weight."""
        d = self.base_weights.to_numpy()
        pos = d > 0
        if not pos.any():
            return (1.0, 1.0)
        g = self.weights.to_numpy()[pos] / d[pos]
        return (float(g.min()), float(g.max()))

    # -- Result protocol ------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per observation (caller's index): base weight, weight and g."""
        return pd.DataFrame(
            {"base_weight": self.base_weights, "weight": self.weights, "g": self.g},
            index=self.weights.index,
        )

    def _summary_title(self) -> str:
        return f"WeightingResult ({self.method})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        lo, hi = self.g_range
        facts: list[tuple[str, Any]] = [
            ("rows", len(self.weights)),
            ("converged", self.converged),
            ("iterations", self.n_iter),
            ("max relative margin error", self.max_margin_error),
            ("Kish design effect", self.design_effect),
            ("effective sample size", self.effective_sample_size),
            ("weight range", f"{format_fact(self._positive.min() if self._positive.size else 0.0)}"
                             f" .. {format_fact(self._positive.max() if self._positive.size else 0.0)}"),
            ("max/min weight ratio", self.weight_ratio),
            ("g range", f"{format_fact(lo)} .. {format_fact(hi)}"),
        ]
        if len(self.dropped_rows):
            facts.append(("rows dropped (missing values, weight 0)", len(self.dropped_rows)))
        if self.dropped_categories:
            facts.append(("target categories dropped", len(self.dropped_categories)))
        return facts

    def summary(self, kind: Literal["text", "html"] = "text", *, max_rows: int = 30) -> str:
        """Key facts and the margin diagnostics table (text or HTML)."""
        kind = check_option(kind, ("text", "html"), "kind")
        table = self.diagnostics()[
            ["variable", "category", "sample_share", "weighted_share", "target_share",
             "relative_error"]
        ]
        facts = [(k, format_fact(v)) for k, v in self._summary_facts()]
        title = self._summary_title()
        if kind == "html":
            items = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in facts)
            body = table.to_html(max_rows=max_rows, index=False, float_format=lambda x: f"{x:.6g}")
            return f"<h4>{title}</h4><ul>{items}</ul>{body}"
        width = max(len(k) for k, _ in facts)
        lines = [title, "=" * len(title), *(f"{k:<{width}} : {v}" for k, v in facts)]
        if len(table):
            with pd.option_context("display.max_rows", max_rows, "display.width", 120):
                lines += ["", table.to_string(max_rows=max_rows, index=False,
                                              float_format=lambda x: f"{x:.4g}")]
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, kind: Literal["both", "weights", "margins"] = "both") -> Axes:
        """Weight distribution and margin fit before/after weighting.

        With ``ax=None`` and ``kind="both"`` a figure with two panels is drawn (histogram of the
        weights; base-weighted and weighted shares against target shares) and the margin panel is
        returned. Given ``ax``, one panel is drawn on it (``kind="both"`` then means the margins).
        """
        kind = check_option(kind, ("both", "weights", "margins"), "kind")
        if ax is None and kind == "both":
            import matplotlib.pyplot as plt

            _, (ax_w, ax_m) = plt.subplots(1, 2, figsize=(11, 4))
            self._plot_weights(ax_w)
            return self._plot_margins(ax_m)
        ax = get_axes(ax)
        if kind == "weights":
            return self._plot_weights(ax)
        return self._plot_margins(ax)

    def _plot_weights(self, ax: Axes) -> Axes:
        w = self._positive
        ax.hist(w, bins=min(50, max(5, int(np.sqrt(max(w.size, 1))))), color="tab:blue", alpha=0.8)
        ax.set_xlabel("weight")
        ax.set_ylabel("rows")
        ax.set_title(f"Weights (Kish deff {self.design_effect:.3g}, n_eff {self.effective_sample_size:.4g})")
        return ax

    def _plot_margins(self, ax: Axes) -> Axes:
        table = self.diagnostics()
        table = table[table["category"] != "(total)"]
        y = np.arange(len(table))
        labels = [f"{v}: {c}" for v, c in zip(table["variable"], table["category"])]
        ax.scatter(table["base_share"], y, marker="o", color="tab:gray", label="before")
        ax.scatter(table["weighted_share"], y, marker="x", color="tab:blue", label="after")
        ax.scatter(table["target_share"], y, marker="|", s=200, color="tab:red", label="target")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share of population")
        ax.set_title("Margin fit")
        ax.legend(loc="best", fontsize=8)
        return ax
