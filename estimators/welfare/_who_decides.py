"""Who decides? How the choice of option (e.g. the model to deploy) depends on who is sampled.

A *policy* draws a jury of raters; an aggregation *rule* turns the jury's utilities into a
winner; a *welfare function* evaluates that winner for each *welfare population*. Repeating the
draw gives the distribution of outcomes that selection alone causes (selection uncertainty);
resampling raters gives the uncertainty of the welfare estimates themselves (estimation
uncertainty). ``mode="prism"`` reproduces the PRISM Alignment Project's published procedure
draw for draw.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_int, as_rng, check_option, fail
from estimators.errors import ValidationError
from estimators.welfare import _juries as juries
from estimators.welfare import _welfare_variance as variance
from estimators.welfare._aggregation import RULES
from estimators.welfare._design_link import link_design
from estimators.welfare._dominance import probability_greater, stochastic_dominance
from estimators.welfare._utility import UtilityTable
from estimators.welfare._utility_input import Utilities, as_utilities, rater_labels, rater_values
from estimators.welfare._welfare import LOWER_IS_BETTER, SWF_NAMES, welfare
from estimators.welfare._welfare import _check_parameters as check_welfare_parameters
from estimators.welfare._welfare import _statistics as welfare_statistics

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["JuryPolicy", "WhoDecidesResult", "who_decides"]

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class JuryPolicy:
    """How a jury is drawn.

    Parameters
    ----------
    size : int
        Jurors per draw.
    pool : None, str, Series, array or list, optional
        Who can be drawn: ``None`` = every rater; a boolean rater-level column name (e.g.
        ``"included_in_UK_REP"``); a boolean Series indexed by rater; a boolean array aligned to
        the raters; or a list of rater ids (its order is kept, which matters for
        ``mode="prism"``).
    replace : bool
        Draw with replacement (PRISM) or without.
    strata : str, optional
        Rater-level column defining quota strata.
    quotas : mapping, optional
        Seats per stratum (they must add up to ``size``); each stratum's seats are drawn from
        the pool members in that stratum.
    selection_weights : str, Series or array, optional
        Draw raters with probability proportional to these (e.g. survey weights).

    Examples
    --------
    >>> JuryPolicy(10, pool="included_in_UK_REP").size
    10
    """

    size: int
    pool: Any = None
    replace: bool = True
    strata: str | None = None
    quotas: Mapping[Hashable, int] | None = None
    selection_weights: Any = None


@dataclass(frozen=True)
class WhoDecidesResult(Result):
    """Distribution of winners and of the welfare they bring, per policy and population.

    Attributes
    ----------
    policies, populations : tuple of str
        Names, in the order given.
    options : Index
        Options in tie-break order.
    winners : ndarray
        (policies x draws) option codes of the winners.
    welfare_draws : ndarray
        (policies x populations x draws) welfare of each draw's winner for each population.
    option_welfare : DataFrame
        Per population and option: ``welfare`` (full evaluation sample), ``n_exposed``,
        ``std_error`` (design-based, as :func:`~estimators.welfare` reports it: every measure
        but the sample minimum) and ``bootstrap_se`` where computed.
    estimation_se : ndarray or None
        (policies x populations) rater-bootstrap SE of the expected welfare, holding the winner
        distribution fixed (estimation uncertainty, separate from selection uncertainty).
    design_se : ndarray or None
        (policies x populations) design-based SE of the expected welfare, holding the winner
        distribution fixed (linearised, or from the replicates of a ``ReplicateDesign``); None
        for the sample minimum (``"maximin"``, power means of order +-inf).
    tied_share, no_information_share : ndarray
        Per policy: share of draws whose top score was tied (broken by ``tie_break``) and share
        where no juror had seen any option.
    variance_method : str or None
        How ``std_error`` and ``design_se`` were obtained: ``"taylor"`` (linearisation; without
        a design the raters are with-replacement draws with the given weights) or the replicate
        method of a ``ReplicateDesign`` (``"jk1"``, ``"bootstrap"``, ...); None when there are
        none.

    Examples
    --------
    >>> import estimators as est
    >>> data = est.load_prism()
    >>> u = est.utility_table(data.utterances, raters=data.survey)
    >>> res = est.who_decides(u, policy={"uk": est.JuryPolicy(20, pool="included_in_UK_REP")},
    ...                       n_draws=50, rng=1)
    >>> res.to_frame()[["policy", "population"]].values.tolist()
    [['uk', 'all']]
    >>> round(float(res.winner_shares()["share"].sum()), 6)
    1.0
    """

    policies: tuple[str, ...]
    populations: tuple[str, ...]
    options: pd.Index
    winners: np.ndarray = field(repr=False)
    welfare_draws: np.ndarray = field(repr=False)
    option_welfare: pd.DataFrame = field(repr=False)
    estimation_se: np.ndarray | None = field(repr=False)
    design_se: np.ndarray | None = field(repr=False)
    tied_share: np.ndarray = field(repr=False)
    no_information_share: np.ndarray = field(repr=False)
    rule: str = "mean_rating"
    swf: str = "utilitarian"
    mode: str = "default"
    evaluation: str = "in_sample"
    policy_sizes: tuple[int, ...] = ()
    variance_method: str | None = None

    @property
    def n_draws(self) -> int:
        return int(self.winners.shape[1])

    @property
    def higher_is_better(self) -> bool:
        return self.swf not in LOWER_IS_BETTER

    def _draws(self, policy: str, population: str) -> np.ndarray:
        if policy not in self.policies:
            fail(ValidationError, "policy", "is not one of the simulated policies", bad=[policy],
                 fix=f"Choose from {list(self.policies)}.")
        if population not in self.populations:
            fail(ValidationError, "population", "is not one of the welfare populations",
                 bad=[population], fix=f"Choose from {list(self.populations)}.")
        return self.welfare_draws[self.policies.index(policy), self.populations.index(population)]

    def to_frame(self) -> pd.DataFrame:
        """Per policy x population: mean, sd, Monte Carlo SE of the mean, percentiles."""
        rows = []
        for p, policy in enumerate(self.policies):
            for q, population in enumerate(self.populations):
                x = self.welfare_draws[p, q]
                row = {
                    "policy": policy,
                    "population": population,
                    "mean": float(x.mean()),
                    "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
                    "mc_se": float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else 0.0,
                }
                for pct, value in zip(PERCENTILES, np.percentile(x, PERCENTILES)):
                    row[f"p{pct}"] = float(value)
                if self.design_se is not None:
                    row["design_se"] = float(self.design_se[p, q])
                if self.estimation_se is not None:
                    row["bootstrap_se"] = float(self.estimation_se[p, q])
                rows.append(row)
        return pd.DataFrame(rows)

    def winner_shares(self) -> pd.DataFrame:
        """P(option wins) per policy with its Monte Carlo SE ``sqrt(p (1 - p) / B)``."""
        m = len(self.options)
        rows = []
        for p, policy in enumerate(self.policies):
            share = np.bincount(self.winners[p], minlength=m) / self.n_draws
            se = np.sqrt(share * (1 - share) / self.n_draws)
            for j, option in enumerate(self.options):
                rows.append({"policy": policy, "option": option, "share": float(share[j]),
                             "mc_se": float(se[j])})
        return pd.DataFrame(rows)

    def seat_of_power(self, statistic: Literal["mean", "p5", "p50", "p95"] = "mean") -> pd.DataFrame:
        """Table: rows = who decides (policy), columns = whose welfare (population)."""
        statistic = check_option(statistic, ("mean", "p5", "p50", "p95"), "statistic")
        frame = self.to_frame()
        table = frame.pivot(index="policy", columns="population", values=statistic)
        return table.loc[list(self.policies), list(self.populations)]

    def probability_beats(self, policy_a: str, policy_b: str, population: str) -> float:
        """P(welfare under ``policy_a`` > under ``policy_b``) + half the ties, independent draws."""
        x, y = self._draws(policy_a, population), self._draws(policy_b, population)
        if not self.higher_is_better:
            x, y = -x, -y
        return probability_greater(x, y)

    def dominance(self) -> pd.DataFrame:
        """For every population and ordered pair of policies: P(a beats b), FOSD and SSD of a
        over b (in the better direction of the welfare function)."""
        rows = []
        for population in self.populations:
            for a in self.policies:
                for b in self.policies:
                    if a == b:
                        continue
                    x, y = self._draws(a, population), self._draws(b, population)
                    if not self.higher_is_better:
                        x, y = -x, -y
                    fosd, ssd = stochastic_dominance(x, y)
                    rows.append({"population": population, "policy_a": a, "policy_b": b,
                                 "p_a_beats_b": probability_greater(x, y),
                                 "fosd": fosd, "ssd": ssd})
        return pd.DataFrame(rows)

    def _summary_title(self) -> str:
        return f"Who decides ({self.rule} -> {self.swf} welfare)"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "mode", self.mode
        yield "evaluation", self.evaluation
        yield "draws per policy", self.n_draws
        yield "policies", ", ".join(self.policies)
        yield "populations", ", ".join(self.populations)
        yield "largest share of tied draws", float(self.tied_share.max())
        if self.variance_method is not None:
            yield "standard errors", self.variance_method

    def plot(
        self,
        ax: Axes | None = None,
        *,
        kind: Literal["violin", "winners", "size"] = "violin",
        reference: str | None = None,
    ) -> Axes:
        """PRISM-style violins of welfare per (policy x population), winner-share bars, or
        welfare against jury size.

        ``"violin"``: violins are coloured by first-order dominance against ``reference``
        (default: the first policy): green = dominates it, red = dominated by it, grey = neither.
        ``"winners"``: stacked shares of draws won per policy. ``"size"``: mean welfare against
        the policies' jury sizes with a p5-p95 band, one line per population.
        """
        kind = check_option(kind, ("violin", "winners", "size"), "kind")
        if kind == "size":
            ax = get_axes(ax)
            sizes = np.asarray(self.policy_sizes, dtype=float)
            order = np.argsort(sizes, kind="stable")
            for q, population in enumerate(self.populations):
                x = self.welfare_draws[:, q, :][order]
                line = ax.plot(sizes[order], x.mean(axis=1), marker="o", label=population)[0]
                lo, hi = np.percentile(x, [5, 95], axis=1)
                ax.fill_between(sizes[order], lo, hi, alpha=0.2, color=line.get_color())
            ax.set_xlabel("jury size")
            ax.set_ylabel(f"{self.swf} welfare of the winner")
            ax.legend(fontsize=8)
            return ax
        ax = get_axes(ax, figsize=(max(6, 1.2 * len(self.policies) * len(self.populations)), 4))
        if kind == "winners":
            shares = self.winner_shares().pivot(index="policy", columns="option", values="share")
            shares = shares.loc[list(self.policies), list(self.options)]
            bottom = np.zeros(len(self.policies))
            for option in self.options:
                ax.bar(range(len(self.policies)), shares[option].to_numpy(), bottom=bottom,
                       label=str(option))
                bottom += shares[option].to_numpy()
            ax.set_xticks(range(len(self.policies)), list(self.policies), rotation=45, ha="right")
            ax.set_ylabel("share of draws won")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
            return ax
        reference = self.policies[0] if reference is None else reference
        positions, labels = [], []
        width = len(self.policies) + 1
        for q, population in enumerate(self.populations):
            ref = self._draws(reference, population)
            for p, policy in enumerate(self.policies):
                x = self._draws(policy, population)
                pos = q * width + p
                if np.ptp(x) > 0:
                    parts = ax.violinplot([x], positions=[pos], showmeans=True, widths=0.8)
                    bodies = parts["bodies"]
                    for key in ("cbars", "cmins", "cmaxes", "cmeans"):
                        if key in parts:
                            parts[key].set_color("black")
                            parts[key].set_linewidth(0.8)
                else:
                    bodies = []
                    ax.plot([pos - 0.3, pos + 0.3], [x[0], x[0]], linewidth=3)
                sx, sr = (x, ref) if self.higher_is_better else (-x, -ref)
                colour = "grey"
                if policy != reference:
                    if stochastic_dominance(sx, sr)[0]:
                        colour = "tab:green"
                    elif stochastic_dominance(sr, sx)[0]:
                        colour = "tab:red"
                for body in bodies:
                    body.set_facecolor(colour)
                    body.set_alpha(0.6)
                positions.append(pos)
                labels.append(f"{policy}\n{population}")
        ax.set_xticks(positions, labels, rotation=90, fontsize=7)
        ax.set_ylabel(f"{self.swf} welfare of the winner")
        return ax


# --------------------------------------------------------------------------------------------
def _row_selector(spec: Any, util: Utilities, parameter: str) -> np.ndarray:
    """Row indices selected by a pool / population spec (list order kept for id lists)."""
    n = util.values.shape[0]
    if spec is None:
        return np.arange(n)
    if isinstance(spec, str):
        values = rater_values(spec, util, parameter, numeric=False)
        if not set(pd.unique(values)).issubset({True, False}):
            fail(ValidationError, parameter, f"column {spec!r} must be boolean", bad=[spec],
                 fix="Pass a boolean column, a boolean Series or a list of rater ids.")
        return np.flatnonzero(values.astype(bool))
    if isinstance(spec, pd.Series) and spec.dtype == bool:
        mask = rater_values(spec, util, parameter, numeric=False).astype(bool)
        return np.flatnonzero(mask)
    arr = np.asarray(spec)
    if arr.dtype == bool:
        if arr.shape != (n,):
            fail(ValidationError, parameter, f"a boolean mask needs one value per rater ({n})",
                 bad=[f"shape {arr.shape}"])
        return np.flatnonzero(arr)
    ids = list(spec)
    rows = util.raters.get_indexer(ids)
    if (rows < 0).any():
        missing = [i for i, r in zip(ids, rows) if r < 0]
        fail(ValidationError, parameter, "lists raters that are not in the utility table",
             bad=missing, fix="Build the table with utility_table(..., raters=survey) so every "
             "surveyed rater has a row (all missing when they rated nothing).")
    return rows.astype(np.int64)


def _named(spec: Any, single: str) -> list[tuple[str, Any]]:
    """``{name: spec}`` -> items; a list of policies -> numbered; anything else -> one entry."""
    if isinstance(spec, Mapping):
        return [(str(k), v) for k, v in spec.items()]
    if isinstance(spec, (list, tuple)) and spec and all(
        isinstance(v, (JuryPolicy, int, np.integer)) for v in spec
    ):
        return [(f"{single}{k}", v) for k, v in enumerate(spec)]
    return [(single, spec)]


def _impute(values: np.ndarray, n_iter: int = 50) -> np.ndarray:
    """Additive two-way fill: ``u_ij ~ mu + a_i + b_j`` fitted on exposed cells (least squares
    by alternating means); exposed cells are kept as observed."""
    exposed = ~np.isnan(values)
    x = np.where(exposed, values, 0.0)
    counts_r = exposed.sum(axis=1)
    counts_c = exposed.sum(axis=0)
    mu = x.sum() / max(exposed.sum(), 1)
    a = np.zeros(values.shape[0])
    b = np.zeros(values.shape[1])
    for _ in range(n_iter):
        resid = np.where(exposed, x - mu - b[None, :], 0.0)
        a = np.divide(resid.sum(axis=1), counts_r, out=np.zeros_like(a), where=counts_r > 0)
        resid = np.where(exposed, x - mu - a[:, None], 0.0)
        b = np.divide(resid.sum(axis=0), counts_c, out=np.zeros_like(b), where=counts_c > 0)
    return np.where(exposed, values, mu + a[:, None] + b[None, :])


def who_decides(
    u: Any,
    *,
    policy: Any,
    rule: str = "mean_rating",
    population: Any = None,
    swf: str = "utilitarian",
    n_draws: int = 1000,
    rng: Any = None,
    weights: Any = None,
    eps: float | None = None,
    power: float | None = None,
    by: Any = None,
    mode: Literal["default", "prism"] = "default",
    evaluation: Literal["in_sample", "held_out", "cross_fit"] = "in_sample",
    folds: int = 2,
    missing: Literal["exposed_only", "impute"] = "exposed_only",
    uncertainty: Literal["none", "bootstrap"] = "none",
    n_bootstrap: int = 200,
    tie_break: Literal["random", "order"] = "random",
    options: Sequence[Hashable] | None = None,
    veto_threshold: float = 10.0,
    borda: Literal["standard", "truncated", "symmetric"] = "standard",
    regularization: float = 0.01,
    design: Any = None,
) -> WhoDecidesResult:
    """Simulate who decides: draw juries by policy, aggregate, evaluate welfare by population.

    Parameters
    ----------
    u : UtilityTable or DataFrame
        Utilities, raters x options (NaN = not exposed). Build it with ``raters=survey`` so that
        pools and populations can name survey columns.
    policy : JuryPolicy, int, list or mapping
        One policy, a list, or ``{name: policy}``; an int is ``JuryPolicy(size=int)``.
    rule : str
        Jury aggregation rule (any of :data:`estimators.welfare._aggregation.RULES`). All are vectorised
        over draws except ``"ranked_pairs"`` and ``"bradley_terry"`` (one small m x m problem per
        draw). A ``"condorcet"`` jury without a Condorcet winner ties every option (broken by
        ``tie_break``); a ``"bradley_terry"`` jury whose comparison graph is not strongly
        connected is fitted with the ridge ``regularization``.
    population : None, spec or mapping
        Welfare population(s): ``None`` = everyone, a pool-like spec, or ``{name: spec}``.
    swf : str
        Welfare function evaluating the winner for each population (see
        :func:`~estimators.welfare`), with ``eps``, ``power`` and ``by``.
    n_draws : int
        Juries per policy.
    rng : None, int, numpy Generator; or random.Random with ``mode="prism"``
        Randomness (never global state).
    weights : str, Series or array, optional
        Survey weights of the raters for the welfare evaluation.
    mode : {"default", "prism"}
        ``"prism"`` reproduces PRISM's published loop exactly (see Notes).
    evaluation : {"in_sample", "held_out", "cross_fit"}
        ``"in_sample"``: juries and welfare from the same raters (PRISM). ``"held_out"``: a
        random half of the raters forms the jury pool, the other half is evaluated.
        ``"cross_fit"``: ``folds`` folds; each draw's jury comes from outside one fold and is
        evaluated on that fold.
    folds : int
        Number of folds for ``"cross_fit"``.
    missing : {"exposed_only", "impute"}
        Unseen options: left out of means (PRISM) or filled by an additive rater + option model
        for both juries and evaluation (exposure counts are still reported).
    uncertainty : {"none", "bootstrap"}
        ``"bootstrap"`` adds the rater-bootstrap SE (``n_bootstrap`` replicates; raters
        resampled as independent units, ignoring strata and clusters) of every option's welfare
        and of each policy's expected welfare. Design-based SEs are always reported (every
        welfare function but the sample minimum); pass ``design=`` for strata, clusters and
        calibration.
    tie_break : {"random", "order"}
        How a tied top is broken (the share of tied draws is reported either way).
    options : sequence, optional
        Option order (tie-break order; PRISM's model order in ``mode="prism"``).
    veto_threshold, borda, regularization
        Passed to the rule (veto level, Borda variant, Bradley–Terry ridge when a jury's
        comparison graph is not strongly connected).
    design : SurveyDesign or ReplicateDesign, optional
        Rater-level design (one row per rater; strata, PSUs, fpc, weighting steps). Its weights
        evaluate welfare, and the design-based SEs use its PSUs, strata, fpc and weighting
        steps (linearised), or its replicates (the welfare recomputed with every replicate's
        weights), exactly as :func:`~estimators.welfare` with ``design=``. Without a design the
        raters are with-replacement draws with the given weights.

    Returns
    -------
    WhoDecidesResult
        ``.to_frame()`` (welfare distribution per policy x population), ``.winner_shares()``,
        ``.seat_of_power()``, ``.dominance()``, ``.probability_beats()``, ``.option_welfare``,
        ``.plot()``.

    Notes
    -----
    For draw :math:`b` with jury :math:`J_b`, the rule picks :math:`o_b`; the welfare draw for
    population :math:`P` is :math:`W_P(o_b)`, the welfare function over the (weighted) raters of
    :math:`P` exposed to :math:`o_b`. Juries are integer index matrices; per-rater contributions
    (utilities and exposure indicators, Borda points, pairwise wins) are summed per jury with one
    sparse product, and winners are row-wise argmaxes. The expected welfare
    :math:`\\sum_o \\hat p_o W_P(o)` has Monte Carlo SE ``sd / sqrt(B)`` (selection), a
    design-based SE treating :math:`\\hat p` as fixed (estimation): its linearised variable is
    :math:`\\sum_o \\hat p_o w_k z_{k}(o)`, with :math:`z_k(o)` the influence value of rater
    :math:`k` on :math:`W_P(o)` used by :func:`~estimators.welfare` (the population is a domain
    of the whole design, which is never subset), or the replicates of a ``ReplicateDesign``;
    and optionally a rater-bootstrap SE. They are computed on the full evaluation sample (for
    held-out and cross-fitted runs they describe the full-sample welfare table).

    ``mode="prism"`` follows PRISM's notebook (``11b_welfare_analysis``) call for call on a
    ``random.Random(seed)``: per draw ``rng.choices(pool, k=size)``; each option's score is the
    ``np.nanmean`` of the jurors' member-mean utilities (1 for ratings, 0 for choice rates, 1
    for vetoes when no juror saw it; vetoes score ``1 - mean`` of a ``veto_rate`` table);
    ``rng.choice`` over the argmax set is called on every draw; welfare is the unweighted mean
    over the population's exposed raters, in sample. Pass a ``random.Random`` to continue one
    stream across calls, as PRISM's notebook does.

    References
    ----------
    Kirk, H. R. et al. (2024). The PRISM Alignment Dataset. NeurIPS Datasets and Benchmarks
    (welfare case study; code: github.com/HannahKirk/prism-alignment).
    Efraimidis, P. S. and Spirakis, P. G. (2006). Weighted random sampling with a reservoir.
    *Information Processing Letters* 97.

    Examples
    --------
    >>> import estimators as est
    >>> data = est.load_prism()
    >>> u = est.utility_table(data.utterances, raters=data.survey)
    >>> res = est.who_decides(u, policy={"uk": est.JuryPolicy(20, pool="included_in_UK_REP")},
    ...                       population={"all": None, "women": data.survey.set_index("user_id")
    ...                                   ["gender"].eq("Female")}, n_draws=200, rng=1)
    >>> round(float(res.winner_shares()["share"].sum()), 6)
    1.0
    """
    mode = check_option(mode, ("default", "prism"), "mode")
    rule = check_option(rule, RULES, "rule")
    swf = check_option(swf, SWF_NAMES, "swf")
    evaluation = check_option(evaluation, ("in_sample", "held_out", "cross_fit"), "evaluation")
    missing = check_option(missing, ("exposed_only", "impute"), "missing")
    uncertainty = check_option(uncertainty, ("none", "bootstrap"), "uncertainty")
    tie_break = check_option(tie_break, ("random", "order"), "tie_break")
    n_draws = as_int(n_draws, "n_draws", minimum=1)
    util = _ordered_options(as_utilities(u), options)
    named_policies = _named_policies(policy)
    pop_rows = _population_rows(population, util)
    w_eval, linked = _evaluation_weights(util, weights, design, mode)
    veto_table = isinstance(u, UtilityTable) and u.aggregate == "veto_rate"
    if mode == "prism":
        return _prism_mode(util, named_policies, pop_rows, rule, swf, n_draws, rng, weights,
                           evaluation, missing, uncertainty, veto_table)

    gen = as_rng(rng)
    spec = _WelfareSpec(swf, eps, power, by)
    jury_rule = _JuryRule(rule, tie_break, regularization)
    values = _impute(util.values) if missing == "impute" else util.values
    exposure = ~np.isnan(util.values)
    contributions = juries.rater_contributions(values, rule, veto_threshold=veto_threshold,
                                               borda=borda, veto_table=veto_table)
    splits = _evaluation_splits(evaluation, folds, util.values.shape[0], gen)
    eval_welfare = _split_welfare(values, w_eval, util, splits, pop_rows, spec)
    winners, draws, tied_share, no_info_share = _simulate_policies(
        contributions, util, named_policies, splits, eval_welfare, jury_rule, n_draws, gen
    )
    option_table, design_se, boot_se = _uncertainty(
        values, exposure, w_eval, util, pop_rows, spec, winners, uncertainty, n_bootstrap, gen,
        linked,
    )
    return WhoDecidesResult(
        policies=tuple(name for name, _ in named_policies),
        populations=tuple(name for name, _ in pop_rows),
        options=util.options,
        winners=winners,
        welfare_draws=draws,
        option_welfare=option_table,
        estimation_se=boot_se,
        design_se=design_se,
        tied_share=tied_share,
        no_information_share=no_info_share,
        rule=rule,
        swf=swf,
        mode=mode,
        evaluation=evaluation,
        policy_sizes=tuple(int(pol.size) for _, pol in named_policies),
        variance_method=_variance_method(design_se, linked),
    )


def _variance_method(design_se: np.ndarray | None, linked: Any) -> str | None:
    if design_se is None:
        return None
    return "taylor" if linked is None or linked.replicate is None else linked.replicate.method


# --------------------------------------------------------------------------------------------
# Inputs: option order, policies, populations, evaluation weights


def _ordered_options(util: Utilities, options: Sequence[Hashable] | None) -> Utilities:
    """The table with its options in the given (tie-break) order."""
    if options is None:
        return util
    order = list(options)
    unknown = [o for o in order if o not in set(util.options)]
    left_out = [o for o in util.options if o not in set(order)]
    if unknown or left_out or len(order) != len(util.options):
        fail(ValidationError, "options", "must list every option of the table exactly once",
             bad=unknown + left_out)
    cols = util.options.get_indexer(order)
    return Utilities(util.values[:, cols], pd.Index(order), util.raters, util.covariates)


def _named_policies(policy: Any) -> list[tuple[str, JuryPolicy]]:
    """``(name, JuryPolicy)`` pairs; an int is a policy of that size."""
    named = [(name, JuryPolicy(int(p)) if isinstance(p, (int, np.integer)) else p)
             for name, p in _named(policy, "policy")]
    for name, p in named:
        if not isinstance(p, JuryPolicy):
            fail(ValidationError, "policy", "must be a JuryPolicy, an int size, a list or a "
                 "mapping of them", bad=[type(p).__name__])
        as_int(p.size, f"policy {name!r} size", minimum=1)
    return named


def _population_rows(population: Any, util: Utilities) -> list[tuple[str, np.ndarray]]:
    """``(name, rater rows)`` per welfare population; each must select someone."""
    if isinstance(population, Mapping):
        named_populations = [(str(k), v) for k, v in population.items()]
    else:
        named_populations = [("all" if population is None else "population", population)]
    pop_rows = [(name, _row_selector(spec, util, "population")) for name, spec in named_populations]
    for name, rows in pop_rows:
        if rows.size == 0:
            fail(ValidationError, "population", "selects no rater", bad=[name])
    return pop_rows


def _evaluation_weights(util: Utilities, weights: Any, design: Any, mode: str) -> tuple[Any, Any]:
    """Rater weights of the welfare evaluation and the linked design (or ``None``)."""
    if design is None:
        n = util.values.shape[0]
        w_eval = np.ones(n) if weights is None else rater_values(weights, util, "weights",
                                                                  numeric=True)
        return w_eval, None
    if weights is not None:
        fail(ValidationError, "weights", "give either weights= or design= (whose weights are "
             "used), not both", bad=["weights", "design"])
    if mode == "prism":
        fail(ValidationError, "design", 'mode="prism" is unweighted', bad=["design"])
    linked = link_design(design, util, allow_replicates=True)
    return linked.weights, linked


@dataclass(frozen=True)
class _WelfareSpec:
    """The welfare function evaluating a winner, with its settings (see ``welfare``)."""

    swf: str
    eps: float | None = None
    power: float | None = None
    by: Any = None


@dataclass(frozen=True)
class _JuryRule:
    """How a jury's summed contributions become a winner: the rule, the Bradley–Terry ridge
    and the tie-break."""

    rule: str
    tie_break: str
    regularization: float


@dataclass(frozen=True)
class _Splits:
    """Evaluation splits: per fold, the jury-eligible and evaluated rater masks; draw ``b``
    uses fold ``b % K``."""

    masks: list[tuple[np.ndarray, np.ndarray]]

    def draws_of(self, fold: int, n_draws: int) -> np.ndarray:
        return np.arange(fold, n_draws, len(self.masks))


# --------------------------------------------------------------------------------------------
# Problem: evaluation splits and the welfare of every option


def _evaluation_splits(evaluation: str, folds: int, n: int, gen: np.random.Generator) -> _Splits:
    if evaluation == "in_sample":
        return _Splits([(np.ones(n, dtype=bool), np.ones(n, dtype=bool))])
    k = 2 if evaluation == "held_out" else as_int(folds, "folds", minimum=2)
    fold_of = gen.permutation(np.arange(n) % k)
    if evaluation == "held_out":
        return _Splits([(fold_of == 0, fold_of == 1)])
    return _Splits([(fold_of != f, fold_of == f) for f in range(k)])


def _split_welfare(values, w_eval, util, splits, pop_rows, spec) -> np.ndarray:
    """(folds x populations x options) welfare of every option on each fold's evaluated raters."""
    n, m = values.shape
    eval_welfare = np.empty((len(splits.masks), len(pop_rows), m))
    for f, (_, eval_mask) in enumerate(splits.masks):
        for q, (name, rows) in enumerate(pop_rows):
            members = np.zeros(n, dtype=bool)
            members[rows] = True
            members &= eval_mask
            eval_welfare[f, q] = _option_welfare(values, w_eval, members, util, spec, name)
    return eval_welfare


# --------------------------------------------------------------------------------------------
# Simulation: draw juries per policy and fold, pick their winners


def _simulate_policies(contributions, util, named_policies, splits, eval_welfare, jury_rule,
                       n_draws, gen):
    """Winners, welfare draws, tied and no-information shares of every policy."""
    m = util.values.shape[1]
    positions = np.arange(m)
    n_policies = len(named_policies)
    winners = np.empty((n_policies, n_draws), dtype=np.int64)
    draws = np.empty((n_policies, eval_welfare.shape[1], n_draws))
    tied_share = np.zeros(n_policies)
    no_info_share = np.zeros(n_policies)
    for p, (name, pol) in enumerate(named_policies):
        pool_rows, select_p, strata_codes = _policy_sampler(pol, name, util)
        for f, (jury_mask, _) in enumerate(splits.masks):
            idx = splits.draws_of(f, n_draws)
            if idx.size == 0:
                continue
            eligible = pool_rows[jury_mask[pool_rows]]
            jury = _draw(gen, idx.size, eligible, pol, select_p, strata_codes, name)
            sums = juries.jury_sums(jury, contributions)
            scores = juries.scores_from_sums(sums, jury_rule.rule, m, positions,
                                             regularization=jury_rule.regularization)
            win, tied, no_info = juries.pick_winners(scores, gen, positions, jury_rule.tie_break)
            winners[p, idx] = win
            draws[p, :, idx] = eval_welfare[f][:, win].T
            tied_share[p] += tied.sum()
            no_info_share[p] += no_info.sum()
        tied_share[p] /= n_draws
        no_info_share[p] /= n_draws
    return winners, draws, tied_share, no_info_share


def _policy_sampler(pol: JuryPolicy, name: str, util: Utilities):
    """Pool rows, selection probabilities and quota strata codes of one policy."""
    pool_rows = _row_selector(pol.pool, util, f"policy {name!r} pool")
    select_p = None
    if pol.selection_weights is not None:
        select_p = rater_values(pol.selection_weights, util, "selection_weights", numeric=True)
    strata_codes = None
    if pol.strata is not None or pol.quotas is not None:
        if pol.strata is None or pol.quotas is None:
            fail(ValidationError, f"policy {name!r}", "quota sampling needs both strata= "
                 "and quotas=", bad=[pol.strata, pol.quotas])
        strata_codes = rater_values(pol.strata, util, "strata", numeric=False)
        if sum(int(v) for v in pol.quotas.values()) != pol.size:
            fail(ValidationError, f"policy {name!r} quotas", f"must add up to size "
                 f"{pol.size}", bad=[dict(pol.quotas)])
    return pool_rows, select_p, strata_codes

def _draw(gen, n_draws, eligible, pol, select_p, strata_codes, name) -> np.ndarray:
    if strata_codes is None:
        return _draw_simple(gen, n_draws, eligible, pol.size, pol.replace, select_p, name)
    parts = []
    for stratum, seats in pol.quotas.items():
        seats = int(seats)
        if seats == 0:
            continue
        members = eligible[strata_codes[eligible] == stratum]
        parts.append(_draw_simple(gen, n_draws, members, seats, pol.replace, select_p,
                                  f"{name} stratum {stratum!r}"))
    return np.hstack(parts)


def _draw_simple(gen, n_draws, eligible, size, replace, select_p, name) -> np.ndarray:
    if eligible.size == 0:
        fail(ValidationError, "policy", "the jury pool is empty", bad=[name],
             fix="Check the pool filter, the quota strata and the held-out split.")
    if not replace and size > eligible.size:
        fail(ValidationError, "policy", f"cannot draw {size} distinct jurors from a pool of "
             f"{eligible.size}", bad=[name], fix="Use replace=True or a smaller size.")
    probs = None
    if select_p is not None:
        probs = select_p[eligible]
        if not (probs > 0).any():
            fail(ValidationError, "selection_weights", "are all zero in the pool", bad=[name])
        if not replace and (probs > 0).sum() < size:
            fail(ValidationError, "selection_weights", "fewer raters with positive weight than "
                 "seats", bad=[name])
    return juries.draw_juries(gen, n_draws, eligible, size, replace=replace, probabilities=probs)


def _option_welfare(values, w, members, util, spec: _WelfareSpec, name) -> np.ndarray:
    """Welfare of every option over ``members``; every option must be seen by someone."""
    sub = values[members]
    exposed = ~np.isnan(sub) & (w[members] > 0)[:, None]
    unseen = np.flatnonzero(~exposed.any(axis=0))
    if unseen.size:
        fail(ValidationError, "population",
             f"population {name!r} has no exposed rater (with positive weight) for some options, "
             "so their welfare is undefined", bad=[util.options[j] for j in unseen],
             fix='Use a larger population, missing="impute", or drop those options.')
    by_values = None
    if spec.by is not None:
        by_values = rater_values(spec.by, util, "by", numeric=False)[members]
    res = welfare(pd.DataFrame(sub, columns=range(sub.shape[1])), swf=spec.swf, eps=spec.eps,
                  power=spec.power, weights=w[members], by=by_values)
    frame = res.table
    if "group" in frame.columns:
        frame = frame.loc[frame["group"] == "all"]
    out = np.empty(sub.shape[1])
    out[frame["option"].to_numpy(dtype=np.int64)] = frame["welfare"].to_numpy()
    return out


class _Mixture(variance.Statistic):
    """``sum_o p_o theta_o``: the expected welfare of a policy whose winner is option ``o`` with
    probability ``p_o`` (the shares held fixed)."""

    def __init__(self, parts: Sequence[variance.Statistic], shares: np.ndarray) -> None:
        self.parts = tuple(parts)
        self.shares = np.asarray(shares, dtype=np.float64)
        self.smooth = all(part.smooth for part in self.parts)

    def _compute(self, W: np.ndarray) -> np.ndarray:
        out = np.zeros(W.shape[1])
        for part, share in zip(self.parts, self.shares):
            if share > 0:
                out = out + share * part.value(W)
        return out

    def influence(self, w: np.ndarray) -> np.ndarray:
        out = np.zeros(w.shape[0])
        for part, share in zip(self.parts, self.shares):
            if share > 0:
                out += share * part.influence(w)
        return out


def _welfare_statistics(values, w, members, util, spec: _WelfareSpec) -> list[variance.Statistic]:
    """Each option's welfare over ``members`` (the row ``_option_welfare`` reports) as a function
    of the raters' weights, for the design-based variance of :mod:`._welfare_variance`."""
    m = values.shape[1]
    exposed = ~np.isnan(values) & (w > 0)[:, None] & members[:, None]
    if spec.swf in ("group_maximin", "group_gap"):
        codes, labels = rater_labels(spec.by, util, "by")
        out: list[variance.Statistic] = []
        for j in range(m):
            parts = tuple(variance.Mean(values[:, j], exposed[:, j] & (codes == g))
                          for g in range(len(labels)) if (exposed[:, j] & (codes == g)).any())
            if spec.swf == "group_maximin":
                out.append(variance.Extreme(parts, largest=False))
            else:
                out.append(variance.Difference(variance.Extreme(parts, largest=True),
                                               variance.Extreme(parts, largest=False)))
        return out
    if spec.swf == "regret":
        means = [variance.Mean(values[:, j], exposed[:, j]) for j in range(m)]
        best = variance.Extreme(tuple(means), largest=True)
        return [variance.Difference(best, mean) for mean in means]
    parameter = check_welfare_parameters(spec.swf, spec.eps, spec.power, 0.0, 10.0)
    return [welfare_statistics(spec.swf, values[:, j], exposed[:, j], parameter, False)[0]
            for j in range(m)]


def _uncertainty(values, exposure, w, util, pop_rows, spec, winners, kind, n_bootstrap, gen,
                 linked=None):
    """Per-option welfare table with design-based SEs, the design-based SE of each policy's
    expected welfare, and (``kind="bootstrap"``) the rater-bootstrap SEs."""
    n, m = values.shape
    shares = np.stack([np.bincount(wr, minlength=m) / wr.size for wr in winners])
    rows = []
    source = None if linked is None else linked.variance_source
    design_rows = None if linked is None else linked.rows
    option_stats: list[variance.Statistic] = []
    policy_stats: list[variance.Statistic] = []
    full = []
    for name, idx in pop_rows:
        members = np.zeros(n, dtype=bool)
        members[idx] = True
        point = _option_welfare(values, w, members, util, spec, name)
        full.append(point)
        stats = _welfare_statistics(values, w, members, util, spec)
        option_stats.extend(stats)
        policy_stats.extend(_Mixture(stats, shares[p]) for p in range(shares.shape[0]))
        for j, option in enumerate(util.options):
            rows.append({"population": name, "option": option, "welfare": float(point[j]),
                         "n_exposed": int((members & exposure[:, j]).sum())})
    table = pd.DataFrame(rows)
    design = None
    if all(stat.smooth for stat in option_stats):
        names = [f"{r['option']} ({r['population']})" for r in rows]
        table["std_error"], _ = variance.standard_errors(
            option_stats, w, design=source, rows=design_rows, names=names)
        policy_names = [f"policy {p} ({name})" for name, _ in pop_rows
                        for p in range(shares.shape[0])]
        se, _ = variance.standard_errors(policy_stats, w, design=source, rows=design_rows,
                                         names=policy_names)
        design = se.reshape(len(pop_rows), shares.shape[0]).T
    boot = None
    if kind == "bootstrap":
        n_bootstrap = as_int(n_bootstrap, "n_bootstrap", minimum=2)
        reps = np.empty((n_bootstrap, len(pop_rows), m))
        counts = gen.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap)
        for r in range(n_bootstrap):
            wr = w * counts[r]
            for q, (name, idx) in enumerate(pop_rows):
                members = np.zeros(n, dtype=bool)
                members[idx] = True
                sub_ok = (~np.isnan(values[members]) & (wr[members] > 0)[:, None]).any(axis=0)
                if not sub_ok.all():
                    reps[r, q] = full[q]  # an option unseen in this replicate: keep the estimate
                    continue
                reps[r, q] = _option_welfare(values, wr, members, util, spec, name)
        table["bootstrap_se"] = reps.std(axis=0, ddof=1).reshape(-1)
        expected = np.einsum("rqm,pm->rpq", reps, shares)
        boot = expected.std(axis=0, ddof=1)
    return table, design, boot


def _prism_mode(util, named_policies, pop_rows, rule, swf, n_draws, rng, weights, evaluation,
                missing, uncertainty, veto_table) -> WhoDecidesResult:
    problems = []
    if rule not in ("mean_rating", "choice_rate", "veto"):
        problems.append(f"rule={rule!r}")
    if rule == "veto" and not veto_table:
        problems.append('rule="veto" needs a veto_rate table (utility_table(aggregate="veto_rate"))')
    if swf != "utilitarian":
        problems.append(f"swf={swf!r}")
    if weights is not None:
        problems.append("weights")
    if evaluation != "in_sample":
        problems.append(f"evaluation={evaluation!r}")
    if missing != "exposed_only":
        problems.append(f"missing={missing!r}")
    if uncertainty != "none":
        problems.append(f"uncertainty={uncertainty!r}")
    for name, pol in named_policies:
        if not pol.replace or pol.quotas is not None or pol.selection_weights is not None:
            problems.append(f"policy {name!r} (PRISM draws with replacement, no quotas/weights)")
    if problems:
        fail(ValidationError, "mode", '"prism" reproduces PRISM exactly and does not support '
             "these settings", bad=problems, fix='Use mode="default" for them.')
    if isinstance(rng, random.Random):
        py_rng = rng
    elif rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        py_rng = random.Random(None if rng is None else int(rng))
    else:
        fail(ValidationError, "rng", 'mode="prism" needs an int seed or a random.Random',
             bad=[type(rng).__name__], fix="PRISM used Python's random module.")
    values = util.values
    n, m = values.shape
    welfare_rows = np.empty((len(pop_rows), m))
    for q, (name, rows) in enumerate(pop_rows):
        members = np.zeros(n, dtype=bool)
        members[rows] = True
        welfare_rows[q] = _option_welfare(values, np.ones(n), members, util,
                                          _WelfareSpec("utilitarian"), name)
    winners = np.empty((len(named_policies), n_draws), dtype=np.int64)
    for p, (name, pol) in enumerate(named_policies):
        pool = _row_selector(pol.pool, util, f"policy {name!r} pool")
        if pool.size == 0:
            fail(ValidationError, "policy", "the jury pool is empty", bad=[name])
        winners[p] = juries.prism_loop(values, pool.tolist(), pol.size, n_draws, rule, py_rng)
    draws = np.stack([welfare_rows[:, winners[p]] for p in range(len(named_policies))])
    table, design, _ = _uncertainty(values, ~np.isnan(values), np.ones(n), util, pop_rows,
                                    _WelfareSpec("utilitarian"), winners, "none", 0, None)
    return WhoDecidesResult(
        policies=tuple(name for name, _ in named_policies),
        populations=tuple(name for name, _ in pop_rows),
        options=util.options,
        winners=winners,
        welfare_draws=draws,
        option_welfare=table,
        estimation_se=None,
        design_se=design,
        tied_share=np.zeros(len(named_policies)),
        no_information_share=np.zeros(len(named_policies)),
        rule=rule,
        swf="utilitarian",
        mode="prism",
        evaluation="in_sample",
        policy_sizes=tuple(int(pol.size) for _, pol in named_policies),
        variance_method=_variance_method(design, None),
    )
