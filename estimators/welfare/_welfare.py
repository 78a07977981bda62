"""Social welfare functions over a rater x option utility table, weighted and by group.

:func:`welfare` evaluates each option (e.g. each language model) by how it serves the people in
the table: the (survey-weighted) mean utility, the worst-off rater or group, power means and
Atkinson's equally-distributed equivalent, the Nash product, Gini and Sen welfare, the share of
raters who would veto it, gaps between groups, and each group's regret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import check_option, fail
from estimators.errors import ValidationError
from estimators.welfare import _welfare_kernels as kernels
from estimators.welfare import _welfare_variance as variance
from estimators.welfare._design_link import link_design
from estimators.welfare._utility_input import as_utilities, rater_labels, rater_values

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SWF_NAMES", "WelfareResult", "welfare"]

SocialWelfare = Literal[
    "utilitarian",
    "maximin",
    "group_maximin",
    "power_mean",
    "atkinson",
    "nash",
    "gini",
    "sen",
    "veto_share",
    "group_gap",
    "regret",
]
SWF_NAMES: tuple[SocialWelfare, ...] = get_args(SocialWelfare)
# measures where a lower value is better (inequality, vetoes, gaps, regret)
LOWER_IS_BETTER = frozenset({"gini", "veto_share", "group_gap", "regret"})
_NEEDS_GROUPS = frozenset({"group_maximin", "group_gap"})


@dataclass(frozen=True)
class WelfareResult(Result):
    """Welfare of each option (and group) under one social welfare function.

    Attributes
    ----------
    swf : str
        The social welfare function.
    parameter : float or None
        ``eps`` (Atkinson), ``power`` (power mean), the disagreement point (Nash) or the veto
        threshold (veto share).
    table : DataFrame
        Columns ``option`` (+ ``group``), ``welfare``, ``n`` (raters contributing), ``weight``
        (their total weight), ``std_error`` (every measure but the sample minimum),
        ``inequality`` (Atkinson index, Gini) with ``inequality_std_error``, ``worst_group``
        (group maximin).
    higher_is_better : bool
        False for Gini, veto share, group gap and regret.
    utilities, weights, groups : ndarray
        The inputs (for the Lorenz plot).
    variance_method : str or None
        How the standard errors were obtained: ``"taylor"`` (linearisation) or the replicate
        method (``"jk1"``, ``"bootstrap"``, ...); None when the table has none.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"a": [10.0, 90.0], "b": [50.0, 60.0]})
    >>> res = welfare(u, swf="maximin")
    >>> res.swf, res.higher_is_better
    ('maximin', True)
    >>> res.to_frame()[["option", "welfare"]].values.tolist()
    [['a', 10.0], ['b', 50.0]]
    """

    swf: str
    parameter: float | None
    table: pd.DataFrame
    higher_is_better: bool
    utilities: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    options: pd.Index = field(repr=False)
    variance_method: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def best_option(self) -> Any:
        """The option with the best overall welfare (ties: the first in column order)."""
        frame = self.table
        if "group" in frame.columns:
            frame = frame.loc[frame["group"] == "all"] if (frame["group"] == "all").any() else frame
        values = frame["welfare"].to_numpy()
        pick = int(np.argmax(values)) if self.higher_is_better else int(np.argmin(values))
        return frame["option"].iloc[pick]

    def _summary_title(self) -> str:
        return f"Welfare: {self.swf}"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "social welfare function", self.swf
        if self.parameter is not None:
            yield "parameter", self.parameter
        yield "higher is better", self.higher_is_better
        if self.variance_method is not None:
            yield "standard errors", self.variance_method
        yield "best option", self.best_option

    def plot(self, ax: Axes | None = None, *, kind: Literal["bar", "lorenz"] = "bar") -> Axes:
        """Bars of welfare per option (grouped by group), or Lorenz curves per option."""
        kind = check_option(kind, ("bar", "lorenz"), "kind")
        ax = get_axes(ax)
        if kind == "lorenz":
            for j, option in enumerate(self.options):
                x = self.utilities[:, j]
                keep = ~np.isnan(x) & (self.weights > 0)
                order = np.argsort(x[keep])
                xs, ws = x[keep][order], self.weights[keep][order]
                pop = np.r_[0.0, np.cumsum(ws) / ws.sum()]
                share = np.r_[0.0, np.cumsum(ws * xs) / max(np.dot(ws, xs), 1e-300)]
                ax.plot(pop, share, label=str(option))
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
            ax.set_xlabel("cumulative share of raters")
            ax.set_ylabel("cumulative share of utility")
            ax.legend(fontsize=8)
            return ax
        frame = self.table
        if "group" in frame.columns:
            wide = frame.pivot(index="option", columns="group", values="welfare")
            wide = wide.reindex([o for o in self.options if o in wide.index])
            width = 0.8 / max(wide.shape[1], 1)
            base = np.arange(wide.shape[0])
            for k, group in enumerate(wide.columns):
                ax.bar(base + k * width, wide[group].to_numpy(), width=width, label=str(group))
            ax.set_xticks(base + 0.4 - width / 2, [str(o) for o in wide.index], rotation=45,
                          ha="right")
            ax.legend(fontsize=8)
        else:
            ax.bar(range(len(frame)), frame["welfare"].to_numpy())
            ax.set_xticks(range(len(frame)), [str(o) for o in frame["option"]], rotation=45,
                          ha="right")
        ax.set_ylabel(f"welfare ({self.swf})")
        return ax


def welfare(
    u: Any,
    *,
    swf: SocialWelfare = "utilitarian",
    eps: float | None = None,
    power: float | None = None,
    weights: Any = None,
    by: Any = None,
    disagreement: float = 0.0,
    veto_threshold: float = 10.0,
    gini_correction: bool = False,
    design: Any = None,
) -> WelfareResult:
    """Welfare of each option under a social welfare function, survey-weighted, by group.

    Parameters
    ----------
    u : UtilityTable or DataFrame
        Utilities, raters (rows) x options (columns); NaN = the rater never saw the option.
        Each option is evaluated over the raters exposed to it (PRISM's convention).
    swf : str
        ``"utilitarian"`` (weighted mean), ``"maximin"`` (Rawls: worst-off exposed rater),
        ``"group_maximin"`` (worst group mean; needs ``by``), ``"power_mean"`` (``power``),
        ``"atkinson"`` (equally-distributed equivalent at inequality aversion ``eps``),
        ``"nash"`` (geometric mean of gains over ``disagreement``), ``"gini"`` (Gini index),
        ``"sen"`` (mean x (1 - Gini)), ``"veto_share"`` (share scoring <= ``veto_threshold``),
        ``"group_gap"`` (best minus worst group mean; needs ``by``), ``"regret"`` (each group's
        mean for its favourite option minus its mean for this option).
    eps : float, optional
        Atkinson inequality aversion (>= 0; e.g. 0.5, 1, 2). Required for ``"atkinson"``.
    power : float, optional
        Exponent of ``"power_mean"`` (``0`` = geometric, ``-inf`` = min, ``1`` = mean).
    weights : str, Series or array, optional
        Survey weight of each rater: a column of the table's rater covariates, a Series indexed by
        rater, or an array aligned to the rows. Default: 1 each.
    by : str, Series or array, optional
        Group of each rater. Per-rater measures are then reported for every group and overall
        (``group == "all"``).
    disagreement : float
        Nash disagreement point ``d``; every exposed utility must exceed it.
    veto_threshold : float
        Utilities at or below this count as a veto (PRISM: score <= 10).
    gini_correction : bool
        Multiply the Gini index by ``n / (n - 1)`` (``n`` = raters), the small-sample correction.
        Default ``False``: the population formula.
    design : SurveyDesign or ReplicateDesign, optional
        A rater-level design (one row per rater of ``u``, matched by the rater-id column or the
        index) with strata, PSUs, fpc and weighting steps. Its weights are used, and the standard
        errors are design-based: linearised (``SurveyDesign``: the influence values go through
        the design's variance, residualised on its weighting steps) or from replicates
        (``ReplicateDesign``: the measure is recomputed with each replicate's weights). Without
        a design, raters are with-replacement draws with the given weights.

    Returns
    -------
    WelfareResult
        ``.to_frame()``: ``option`` (+ ``group``), ``welfare``, ``n``, ``weight`` and extra
        columns per measure; ``.best_option``.

    Notes
    -----
    With weights :math:`w_i`, exposed utilities :math:`x_i` and :math:`W = \\sum_i w_i`:

    * utilitarian :math:`\\bar x = \\sum_i w_i x_i / W`, with the Taylor-linearised standard error
      of a domain mean, raters as with-replacement PSUs:
      :math:`\\widehat{V} = \\frac{n}{n-1} \\sum_{i=1}^{n} z_i^2 / W^2`,
      :math:`z_i = w_i (x_i - \\bar x)` for exposed raters and 0 otherwise, where :math:`n` counts
      every rater of the table (as ``survey::svymean`` on a subset);
    * power mean :math:`M_p = (\\sum_i w_i x_i^p / W)^{1/p}`, :math:`M_0 = \\exp(\\sum_i w_i \\log
      x_i / W)`; Atkinson's equally-distributed equivalent :math:`x_{ede} = M_{1-\\varepsilon}` and
      index :math:`A_\\varepsilon = 1 - x_{ede} / \\bar x` (so :math:`A_1 = 1 -` geometric /
      arithmetic mean);
    * Nash :math:`\\exp(\\sum_i w_i \\log(x_i - d) / W)` (the weighted Nash product, normalised);
    * Gini :math:`G = \\sum_{i,j} w_i w_j |x_i - x_j| / (2 W^2 \\bar x)` (population formula;
      ``gini_correction`` multiplies by :math:`n/(n-1)`), Sen :math:`\\bar x (1 - G)`;
    * veto share :math:`\\sum_i w_i 1[x_i \\le t] / W`;
    * regret of group :math:`g` for option :math:`o`: :math:`\\max_{o'} \\bar x_g(o') - \\bar x_g(o)`.

    Standard errors of every other measure linearise it by its derivative in each rater's weight,
    :math:`z_k = \\partial \\hat\\theta / \\partial w_k` (Deville 1999), e.g. for the Gini
    :math:`z_k = (2 a_k - (G + 1)(T + W x_k)) / (W T)` with :math:`T = \\sum_i w_i x_i`,
    :math:`a_k = \\sum_j w_j \\max(x_k, x_j)` (Langel and Tillé 2013), and treat
    :math:`w_k z_k` as the mean's linearised variable above (the design's PSUs, strata, fpc and
    calibration residuals). Maxima and minima over groups or options (group maximin, group gap,
    regret) use the group that attains them. The sample minimum (``"maximin"``, power means of
    order :math:`\\pm\\infty`) has no standard error. See docs/methods/welfare.md.

    Raters with zero weight are ignored; options no rater (of a group) saw have no row.

    References
    ----------
    Atkinson, A. B. (1970). On the measurement of inequality. *Journal of Economic Theory* 2.
    Sen, A. (1976). Real national income. *Review of Economic Studies* 43.
    Kaneko, M. and Nakamura, K. (1979). The Nash social welfare function. *Econometrica* 47.
    Lumley, T. (2010). *Complex Surveys*. Wiley (linearised variance of domain means).
    Deville, J.-C. (1999). Variance estimation for complex statistics and estimators.
    *Survey Methodology* 25. Langel, M. and Tillé, Y. (2013). Variance estimation of the Gini
    index. *JRSS A* 176.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"a": [10.0, 90.0], "b": [50.0, 60.0]})
    >>> w = welfare(u, swf="utilitarian").to_frame()
    >>> w["welfare"].tolist()
    [50.0, 55.0]
    >>> round(float(welfare(u, swf="atkinson", eps=1).to_frame()["welfare"].iloc[0]), 6)
    30.0
    >>> list(welfare(u, swf="gini").to_frame().columns)
    ['option', 'welfare', 'inequality', 'n', 'weight', 'std_error', 'inequality_std_error']
    """
    swf = check_option(swf, SWF_NAMES, "swf")
    util = as_utilities(u)
    n, m = util.values.shape
    linked = None
    if design is not None:
        if weights is not None:
            fail(ValidationError, "weights", "give either weights= or design= (whose weights are "
                 "used), not both", bad=["weights", "design"])
        linked = link_design(design, util, allow_replicates=True)
        w_all = linked.weights
    else:
        w_all = (np.ones(n) if weights is None
                 else rater_values(weights, util, "weights", numeric=True))
    if not (w_all > 0).any():
        fail(ValidationError, "weights", "at least one weight must be positive", bad=["all zero"])
    if by is not None:
        codes, labels = rater_labels(by, util, "by")
    else:
        if swf in _NEEDS_GROUPS:
            fail(ValidationError, "by", f"swf={swf!r} compares groups, so by= is required",
                 bad=[None], fix="Pass by= with the group of each rater.")
        codes, labels = np.zeros(n, dtype=np.int64), pd.Index(["all"])
    parameter = _check_parameters(swf, eps, power, disagreement, veto_threshold)
    values = util.values
    exposed = ~np.isnan(values) & (w_all > 0)[:, None]
    _check_domain(swf, values, exposed, util.options, parameter)

    group_ids: list[tuple[Any, np.ndarray]] = []
    if by is not None and swf not in _NEEDS_GROUPS:
        group_ids = [(labels[g], codes == g) for g in range(len(labels))]
        group_ids.append(("all", np.ones(n, dtype=bool)))
    else:
        group_ids = [(None, np.ones(n, dtype=bool))]

    rows: list[dict[str, Any]] = []
    stats: list[Any] = []  # one statistic per row (welfare value)
    index_stats: list[Any] = []  # the inequality index of each row, where there is one
    mean_of: dict[tuple[int, int], variance.Mean] = {}

    def group_mean(j: int, g: int) -> variance.Mean:
        """The mean of option j over group g's exposed raters (one object per pair)."""
        if (j, g) not in mean_of:
            mean_of[(j, g)] = variance.Mean(values[:, j], exposed[:, j] & (codes == g))
        return mean_of[(j, g)]

    if swf in _NEEDS_GROUPS:
        for j, option in enumerate(util.options):
            means, counts, weights_sum = [], [], []
            for g in range(len(labels)):
                mask = exposed[:, j] & (codes == g)
                if mask.any():
                    means.append(kernels.weighted_mean(values[mask, j], w_all[mask]))
                    counts.append(int(mask.sum()))
                    weights_sum.append(float(w_all[mask].sum()))
                else:
                    means.append(np.nan)
                    counts.append(0)
                    weights_sum.append(0.0)
            arr = np.asarray(means)
            ok = ~np.isnan(arr)
            if not ok.any():
                continue
            parts = tuple(group_mean(j, g) for g in np.flatnonzero(ok))
            row: dict[str, Any] = {"option": option}
            if swf == "group_maximin":
                worst = int(np.nanargmin(arr))
                row["welfare"] = float(arr[worst])
                row["worst_group"] = labels[worst]
                stats.append(variance.Extreme(parts, largest=False))
            else:
                row["welfare"] = float(np.nanmax(arr) - np.nanmin(arr))
                stats.append(variance.Difference(variance.Extreme(parts, largest=True),
                                                 variance.Extreme(parts, largest=False)))
            row["n"] = int(sum(counts))
            row["weight"] = float(sum(weights_sum))
            row["groups_exposed"] = int(ok.sum())
            rows.append(row)
    elif swf == "regret":
        for group, member in group_ids:
            means = np.full(m, np.nan)
            counts = np.zeros(m, dtype=np.int64)
            wsum = np.zeros(m)
            option_means: list[variance.Mean] = []
            for j in range(m):
                mask = exposed[:, j] & member
                if mask.any():
                    means[j] = kernels.weighted_mean(values[mask, j], w_all[mask])
                    counts[j] = int(mask.sum())
                    wsum[j] = float(w_all[mask].sum())
                    option_means.append(variance.Mean(values[:, j], mask))
            if np.isnan(means).all():
                continue
            best = np.nanmax(means)
            best_stat = variance.Extreme(tuple(option_means), largest=True)
            seen = 0
            for j, option in enumerate(util.options):
                if counts[j] == 0:
                    continue
                row = {"option": option} if group is None else {"option": option, "group": group}
                row.update(welfare=float(best - means[j]), n=int(counts[j]), weight=float(wsum[j]))
                rows.append(row)
                stats.append(variance.Difference(best_stat, option_means[seen]))
                seen += 1
    else:
        for group, member in group_ids:
            for j, option in enumerate(util.options):
                mask = exposed[:, j] & member
                if not mask.any():
                    continue
                x, w = values[mask, j], w_all[mask]
                row = {"option": option} if group is None else {"option": option, "group": group}
                row.update(_measure(swf, x, w, parameter, gini_correction))
                row["n"] = int(mask.sum())
                row["weight"] = float(w.sum())
                stat, index = _statistics(swf, values[:, j], mask, parameter, gini_correction)
                stats.append(stat)
                index_stats.append(index)
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        fail(ValidationError, "u", "no option has an exposed rater with positive weight",
             bad=list(util.options))
    names = [
        str(r["option"]) if "group" not in r else f"{r['option']} ({r['group']})" for r in rows
    ]
    source = None if linked is None else linked.variance_source
    design_rows = None if linked is None else linked.rows
    method = "taylor" if linked is None or linked.replicate is None else linked.replicate.method
    if all(s.smooth for s in stats):
        table["std_error"], method = variance.standard_errors(
            stats, w_all, design=source, rows=design_rows, names=names
        )
    if index_stats and all(s is not None and s.smooth for s in index_stats):
        table["inequality_std_error"], _ = variance.standard_errors(
            index_stats, w_all, design=source, rows=design_rows, names=names
        )
    lead = ["option", "group"] if "group" in table.columns else ["option"]
    rest = [c for c in table.columns if c not in lead]
    table = table[lead + rest].reset_index(drop=True)
    return WelfareResult(
        swf=swf,
        parameter=parameter,
        table=table,
        higher_is_better=swf not in LOWER_IS_BETTER,
        utilities=values,
        weights=w_all,
        options=util.options,
        variance_method=method if "std_error" in table.columns else None,
    )


def _check_parameters(
    swf: str, eps: float | None, power: float | None, disagreement: float, veto_threshold: float
) -> float | None:
    for name, value, user in (("eps", eps, "atkinson"), ("power", power, "power_mean")):
        if value is not None and swf != user:
            fail(ValidationError, name, f"is not used by swf={swf!r}; only swf={user!r} uses it, "
                 "so it would be ignored", bad=[value],
                 fix=f"Drop {name}= or use swf={user!r}.")
    if swf == "atkinson":
        if eps is None:
            fail(ValidationError, "eps", 'swf="atkinson" needs an inequality aversion eps >= 0',
                 bad=[None], fix="Pass e.g. eps=0.5, 1 or 2.")
        value = float(eps)
        if not np.isfinite(value) or value < 0:
            fail(ValidationError, "eps", "must be finite and >= 0", bad=[eps])
        return value
    if swf == "power_mean":
        if power is None:
            fail(ValidationError, "power", 'swf="power_mean" needs power= (0 = geometric mean)',
                 bad=[None])
        value = float(power)
        if np.isnan(value):
            fail(ValidationError, "power", "must be a number (+-inf allowed)", bad=[power])
        return value
    if swf == "nash":
        value = float(disagreement)
        if not np.isfinite(value):
            fail(ValidationError, "disagreement", "must be finite", bad=[disagreement])
        return value
    if swf == "veto_share":
        value = float(veto_threshold)
        if not np.isfinite(value):
            fail(ValidationError, "veto_threshold", "must be finite", bad=[veto_threshold])
        return value
    return None


def _check_domain(
    swf: str, values: np.ndarray, exposed: np.ndarray, options: pd.Index, parameter: float | None
) -> None:
    """Utilities must lie in the domain of the measure (no logs of zero, no negative bases)."""
    power = None
    if swf == "atkinson" and parameter is not None:
        power = 1.0 - parameter
    elif swf == "power_mean":
        power = parameter
    x = np.where(exposed, values, np.nan)
    if power is not None and np.isfinite(power):
        strict = power <= 0
        bad = (x <= 0) if strict else (x < 0)
        bad &= exposed
        if bad.any():
            cols = [options[j] for j in np.flatnonzero(bad.any(axis=0))]
            rule = "strictly positive" if strict else "non-negative"
            fail(ValidationError, "u", f"swf={swf!r} with this parameter needs {rule} utilities",
                 bad=cols, fix="Shift or rescale the utilities (e.g. scores 1-100 are fine).")
    if swf == "nash" and parameter is not None:
        bad = exposed & (values <= parameter)
        if bad.any():
            cols = [options[j] for j in np.flatnonzero(bad.any(axis=0))]
            fail(ValidationError, "disagreement",
                 "every exposed utility must exceed the disagreement point",
                 bad=cols, fix="Lower the disagreement point below the smallest utility.")
    if swf in ("gini", "sen") and (exposed & (values < 0)).any():
        cols = [options[j] for j in np.flatnonzero((exposed & (values < 0)).any(axis=0))]
        fail(ValidationError, "u", "Gini and Sen welfare need non-negative utilities", bad=cols)


def _statistics(
    swf: str, x: np.ndarray, mask: np.ndarray, parameter: float | None, gini_correction: bool
) -> tuple[variance.Statistic, variance.Statistic | None]:
    """The welfare value of one option over ``mask`` as a function of the weights (and the
    inequality index, for Atkinson, Gini and Sen)."""
    mean = variance.Mean(x, mask)
    if swf == "utilitarian":
        return mean, None
    if swf == "maximin":
        return variance.SampleExtreme(x, mask), None
    if swf in ("power_mean", "atkinson"):
        p = float(parameter) if swf == "power_mean" else 1.0 - float(parameter)  # type: ignore[arg-type]
        if np.isinf(p):
            return variance.SampleExtreme(x, mask, largest=p > 0), None
        ede = variance.PowerMean(x, mask, p)
        return (ede, None) if swf == "power_mean" else (ede, variance.AtkinsonIndex(ede, mean))
    if swf == "nash":
        return variance.PowerMean(x, mask, 0.0, shift=float(parameter)), None  # type: ignore[arg-type]
    if swf in ("gini", "sen"):
        k = int(mask.sum())
        factor = (k / (k - 1) if k > 1 else 0.0) if gini_correction else 1.0
        gini = variance.Gini(x, mask, factor)
        return (gini, gini) if swf == "gini" else (variance.Sen(mean, gini), gini)
    # veto share: the mean of the veto indicator
    return variance.Mean((x <= float(parameter)).astype(np.float64), mask), None  # type: ignore[arg-type]


def _measure(
    swf: str, x: np.ndarray, w: np.ndarray, parameter: float | None, gini_correction: bool
) -> dict[str, float]:
    if swf == "utilitarian":
        return {"welfare": kernels.weighted_mean(x, w)}
    if swf == "maximin":
        return {"welfare": float(x.min())}
    if swf == "power_mean":
        return {"welfare": kernels.power_mean(x, w, float(parameter))}  # type: ignore[arg-type]
    if swf == "atkinson":
        ede = kernels.power_mean(x, w, 1.0 - float(parameter))  # type: ignore[arg-type]
        mean = kernels.weighted_mean(x, w)
        index = 0.0 if mean == 0 else 1.0 - ede / mean
        return {"welfare": ede, "inequality": index}
    if swf == "nash":
        return {"welfare": float(np.exp(np.dot(w, np.log(x - parameter)) / w.sum()))}
    if swf in ("gini", "sen"):
        g = kernels.gini(x, w)
        if gini_correction:
            k = x.shape[0]
            g = g * k / (k - 1) if k > 1 else 0.0
        if swf == "gini":
            return {"welfare": g, "inequality": g}
        return {"welfare": kernels.weighted_mean(x, w) * (1.0 - g), "inequality": g}
    # veto_share
    return {"welfare": float(np.dot(w, x <= parameter) / w.sum())}
