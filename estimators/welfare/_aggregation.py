"""Preference aggregation: Bradley–Terry, Plackett–Luce / top-1 choice, and voting rules.

:func:`bradley_terry` and :func:`plackett_luce` fit strength models by weighted maximum
likelihood (Newton's method on the option x option win matrix or the choice sets), with a
model-based covariance, or a design-based one when a rater-level design is given (the sandwich
with the design's own linearisation, or refits on replicate weights; see ``_strength_design``);
:func:`aggregate` puts every rule — mean rating, choice rate, veto, Bradley–Terry, Borda
(standard, truncated, symmetric), Copeland, Condorcet, minimax, Schulze and ranked pairs — behind
one interface that returns scores, a ranking and a winner with a deterministic tie-breaker.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_frame,
    as_int,
    as_rng,
    as_weights,
    check_columns,
    check_option,
    check_positive,
    check_probability,
    fail,
)
from estimators.errors import ConvergenceError, ConvergenceWarning, DataWarning, ValidationError
from estimators.welfare import _voting as voting
from estimators.welfare._bradley_terry import Fit, fit_pairwise, strongly_connected
from estimators.welfare._strength_design import (
    ChoiceModel,
    PairwiseModel,
    RaterLink,
    link_raters,
    replicate_covariance,
    replicate_draws,
    taylor_covariance,
)
from estimators.welfare._utility import UtilityTable
from estimators.welfare._utility_input import as_utilities, rater_values

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "RULES",
    "AggregationResult",
    "StrengthModelResult",
    "aggregate",
    "bradley_terry",
    "plackett_luce",
]

AUTO_REGULARIZATION = 0.01

Rule = Literal[
    "mean_rating",
    "choice_rate",
    "veto",
    "bradley_terry",
    "borda",
    "copeland",
    "condorcet",
    "minimax",
    "schulze",
    "ranked_pairs",
]
RULES: tuple[Rule, ...] = (
    "mean_rating",
    "choice_rate",
    "veto",
    "bradley_terry",
    "borda",
    "copeland",
    "condorcet",
    "minimax",
    "schulze",
    "ranked_pairs",
)
PAIRWISE_RULES = frozenset({"bradley_terry", "copeland", "condorcet", "minimax", "schulze",
                            "ranked_pairs"})


# --------------------------------------------------------------------------------------------
# strength models
# --------------------------------------------------------------------------------------------
MODEL_VARIANCE = "model (independent comparisons, frequency weights)"
TAYLOR_VARIANCE = "design (Taylor linearisation, raters as sampling units)"


@dataclass(frozen=True)
class StrengthModelResult(Result):
    """A fitted Bradley–Terry or Plackett–Luce model, with its covariance.

    Attributes
    ----------
    model : str
        ``"bradley_terry"`` or ``"plackett_luce"``.
    params : Series
        Log-strengths by option, centred to mean 0 (``P(i beats j) = 1 / (1 + exp(theta_j -
        theta_i))``).
    std_errors : Series
        Standard errors of the centred log-strengths (square roots of the diagonal of ``cov``).
    wins : DataFrame or None
        Bradley–Terry: weighted wins of row over column (ties as half wins).
    log_likelihood : float
        Weighted log-likelihood at the estimate (without the penalty).
    regularization : float
        Ridge penalty ``alpha`` used (objective ``loglik - alpha * ||theta||^2``).
    strongly_connected : bool
        Whether every option beat and was beaten through some chain of comparisons (else the
        unpenalised maximum likelihood estimate does not exist).
    converged : bool
    n_iter : int
    n_observations : float
        Total weight of the comparisons (choices) in the fit.
    cov : DataFrame
        Covariance matrix of the centred log-strengths (options x options; it has rank
        ``m - 1``: the log-strengths sum to 0). Contrasts ``theta_i - theta_j`` have variance
        ``c' cov c``.
    variance_method : str
        What the covariance assumes: ``"model (independent comparisons, frequency weights)"``
        without a design (the inverse observed information: every comparison independent, the
        weights taken as counts), ``"design (Taylor linearisation, raters as sampling units)"``
        or ``"design (replicates: <method>, ...)"`` with ``design=``.
    confidence_level : float
        Level of ``ci_lower`` / ``ci_upper`` in :meth:`to_frame`.
    replicate_draws : ndarray or None
        With a replicate design: the replicate estimates rescaled to draws (R x m) used by
        :meth:`rank_uncertainty` (see there).
    groups : dict or None
        With ``by=``: one result per group (a domain of the whole design), keyed by group label.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"winner": ["a", "a", "b", "c", "a"], "loser": ["b", "c", "c", "a", "b"]})
    >>> fit = bradley_terry(b)
    >>> fit.model, fit.strongly_connected, fit.converged
    ('bradley_terry', True, True)
    >>> fit.to_frame()[["option", "rank"]].values.tolist()
    [['a', 1], ['b', 2], ['c', 3]]
    >>> fit.variance_method
    'model (independent comparisons, frequency weights)'
    """

    model: str
    params: pd.Series
    std_errors: pd.Series
    wins: pd.DataFrame | None
    log_likelihood: float
    regularization: float
    strongly_connected: bool
    converged: bool
    n_iter: int
    n_observations: float
    cov: pd.DataFrame | None = field(default=None, repr=False)
    variance_method: str = MODEL_VARIANCE
    confidence_level: float = 0.95
    replicate_draws: np.ndarray | None = field(default=None, repr=False)
    groups: dict[Hashable, StrengthModelResult] | None = field(default=None, repr=False)

    def probability(self, a: Hashable, b: Hashable) -> float:
        """Model probability that ``a`` is preferred to ``b``."""
        self._check_labels(a, b)
        return float(1.0 / (1.0 + np.exp(self.params[b] - self.params[a])))

    def _check_labels(self, *labels: Hashable) -> None:
        for label in labels:
            if label not in self.params.index:
                fail(ValidationError, "option", "is not one of the fitted options", bad=[label])

    def _fits(self) -> list[tuple[Hashable, StrengthModelResult]]:
        """("all", self) then each group's fit."""
        return [("all", self), *(self.groups or {}).items()]

    def _own_frame(self, level: float) -> pd.DataFrame:
        order = np.argsort(-self.params.to_numpy(), kind="stable")
        q = float(ndtri(0.5 + level / 2))
        se = self.std_errors.to_numpy()
        frame = pd.DataFrame(
            {
                "option": self.params.index,
                "strength": self.params.to_numpy(),
                "std_error": se,
                "ci_lower": self.params.to_numpy() - q * se,
                "ci_upper": self.params.to_numpy() + q * se,
            }
        )
        frame["rank"] = 0
        frame.loc[order, "rank"] = np.arange(1, len(order) + 1)
        return frame.iloc[order].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """One row per option, strongest first: ``option, strength, std_error, ci_lower,
        ci_upper, rank`` (normal intervals at ``confidence_level``); with ``by=``, a leading
        ``group`` column with the overall fit (``"all"``) then each group."""
        if self.groups is None:
            return self._own_frame(self.confidence_level)
        frames = []
        for label, fit in self._fits():
            frame = fit._own_frame(self.confidence_level)
            frame.insert(0, "group", [label] * len(frame))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def win_probability(
        self, a: Hashable, b: Hashable, *, confidence_level: float | None = None
    ) -> pd.DataFrame:
        """Probability that ``a`` beats ``b``, with a delta-method SE and interval.

        Returns a DataFrame with one row (one per fit, ``group`` first, with ``by=``): ``option``,
        ``opponent``, ``probability``, ``std_error``, ``ci_lower``, ``ci_upper``.

        Notes
        -----
        :math:`p = \\sigma(d)`, :math:`d = \\theta_a - \\theta_b`; :math:`\\mathrm{SE}(p) =
        p(1-p)\\sqrt{c^\\top \\Sigma c}` with :math:`c = e_a - e_b` (the delta method, as R
        ``svycontrast``). The interval is :math:`\\sigma(d \\pm z\\,\\mathrm{SE}(d))`, the
        normal interval of the log-odds mapped back, so it stays inside (0, 1).

        Examples
        --------
        >>> import pandas as pd
        >>> b = pd.DataFrame({"winner": ["a", "a", "b", "c", "a"],
        ...                   "loser": ["b", "c", "c", "a", "b"]})
        >>> wp = bradley_terry(b).win_probability("a", "b")
        >>> round(float(wp["probability"].iloc[0]), 4)
        0.75
        """
        self._check_labels(a, b)
        level = self.confidence_level if confidence_level is None else check_probability(
            confidence_level, "confidence_level")
        q = float(ndtri(0.5 + level / 2))
        rows = []
        for label, fit in self._fits():
            d = float(fit.params[a] - fit.params[b])
            cov = fit.cov
            var_d = float(cov.loc[a, a] + cov.loc[b, b] - 2 * cov.loc[a, b])
            se_d = np.sqrt(max(var_d, 0.0))
            p = 1.0 / (1.0 + np.exp(-d))
            rows.append({"group": label, "option": a, "opponent": b, "probability": p,
                         "std_error": p * (1 - p) * se_d,
                         "ci_lower": 1.0 / (1.0 + np.exp(-(d - q * se_d))),
                         "ci_upper": 1.0 / (1.0 + np.exp(-(d + q * se_d)))})
        frame = pd.DataFrame(rows)
        return frame if self.groups is not None else frame.drop(columns="group")

    def rank_uncertainty(
        self,
        *,
        method: Literal["auto", "replicates", "normal"] = "auto",
        draws: int = 4000,
        confidence_level: float | None = None,
        rng: Any = None,
    ) -> pd.DataFrame:
        """Probability that each option is best and an interval for its rank.

        Parameters
        ----------
        method : {"auto", "replicates", "normal"}
            ``"replicates"``: the replicate estimates of a replicate design, rescaled to draws
            (``replicate_draws``); ``"normal"``: ``draws`` draws from the normal distribution
            with mean ``params`` and covariance ``cov``. ``"auto"``: replicates when the fit
            has them, else normal draws.
        draws : int
            Number of normal draws.
        confidence_level : float, optional
            Level of the rank interval (default: the result's ``confidence_level``).
        rng : None, int or Generator
            Randomness of the normal draws.

        Returns
        -------
        DataFrame
            ``option, rank, p_best, rank_lower, rank_upper`` (plus a leading ``group`` column with
            ``by=``), strongest first; ``rank`` is the rank of the estimate, ``p_best`` the share of
            draws in which the option has the largest strength, and ``[rank_lower, rank_upper]`` the
            equal-tailed interval of its rank over the draws.

        Notes
        -----
        Replicates are rescaled as :math:`\\hat\\theta + \\sqrt{R\\,s\\,r_r}(\\theta_r - c)` (scale
        :math:`s`, ``rscales`` :math:`r_r`, centre :math:`c`), whose covariance about
        :math:`\\hat\\theta` is the replicate covariance; for the bootstrap the factor is
        :math:`\\sqrt{R/(R-1)}`, the replicates themselves. Jackknife and BRR replicates rescaled
        this way have the right covariance but only approximately the right shape; use
        ``method="normal"`` to rely on the normal approximation instead.

        Examples
        --------
        >>> import pandas as pd
        >>> b = pd.DataFrame({"winner": ["a", "a", "b", "c", "a", "a"],
        ...                   "loser": ["b", "c", "c", "a", "b", "c"]})
        >>> ru = bradley_terry(b).rank_uncertainty(rng=1)
        >>> ru[["option", "rank"]].values.tolist()
        [['a', 1], ['b', 2], ['c', 3]]
        >>> bool(ru["p_best"].iloc[0] > 0.5)
        True
        """
        method = check_option(method, ("auto", "replicates", "normal"), "method")
        level = self.confidence_level if confidence_level is None else check_probability(
            confidence_level, "confidence_level")
        n_draws = as_int(draws, "draws", minimum=1)
        generator = as_rng(rng)
        frames = []
        for label, fit in self._fits():
            use_reps = method == "replicates" or (method == "auto"
                                                 and fit.replicate_draws is not None)
            if use_reps:
                if fit.replicate_draws is None:
                    fail(ValidationError, "method", '"replicates" needs a fit with a '
                         "ReplicateDesign", bad=[method], fix='Use method="normal".')
                sample = fit.replicate_draws
            else:
                cov = fit.cov.to_numpy()
                vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
                root = vecs * np.sqrt(np.clip(vals, 0.0, None))
                sample = fit.params.to_numpy() + generator.standard_normal(
                    (n_draws, len(vals))) @ root.T
            # rank 1 = largest strength
            ranks = np.argsort(np.argsort(-sample, axis=1, kind="stable"), axis=1) + 1
            alpha = 1.0 - level
            frame = fit._own_frame(level)[["option", "rank"]]
            pos = [fit.params.index.get_loc(o) for o in frame["option"]]
            frame["p_best"] = (ranks[:, pos] == 1).mean(axis=0)
            frame["rank_lower"] = np.quantile(ranks[:, pos], alpha / 2, axis=0,
                                              method="inverted_cdf").astype(np.int64)
            frame["rank_upper"] = np.quantile(ranks[:, pos], 1 - alpha / 2, axis=0,
                                              method="inverted_cdf").astype(np.int64)
            if self.groups is not None:
                frame.insert(0, "group", [label] * len(frame))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _summary_title(self) -> str:
        return "Bradley–Terry model" if self.model == "bradley_terry" else "Plackett–Luce model"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "observations (weighted)", self.n_observations
        yield "log-likelihood", self.log_likelihood
        yield "regularization", self.regularization
        yield "strongly connected", self.strongly_connected
        yield "converged", self.converged
        yield "iterations", self.n_iter
        yield "variance", self.variance_method
        if self.groups is not None:
            yield "groups", len(self.groups)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Log-strengths with their confidence intervals, strongest first (overall fit)."""
        ax = get_axes(ax)
        frame = self._own_frame(self.confidence_level)
        s = frame["strength"].to_numpy()
        ax.errorbar(s, range(len(frame)), fmt="o",
                    xerr=np.vstack([s - frame["ci_lower"], frame["ci_upper"] - s]))
        ax.set_yticks(range(len(frame)), [str(o) for o in frame["option"]])
        ax.invert_yaxis()
        ax.set_xlabel(f"log-strength (centred), {self.confidence_level:.0%} CI")
        return ax


def _resolve_regularization(
    value: Any, connected: bool, where: str = "", stacklevel: int = 3
) -> float:
    if isinstance(value, str):
        check_option(value, ("auto",), "regularization")
        if connected:
            return 0.0
        import warnings

        warnings.warn(
            f"{where}the comparison graph is not strongly connected, so the maximum likelihood "
            f"estimate does not exist; using a ridge penalty alpha={AUTO_REGULARIZATION} "
            "(pass regularization= to choose it).",
            DataWarning,
            stacklevel=stacklevel,
        )
        return AUTO_REGULARIZATION
    alpha = check_positive(value, "regularization", allow_zero=True)
    if alpha == 0 and not connected:
        fail(
            ValidationError,
            "regularization",
            f"{where}0 needs a strongly connected comparison graph (every option must both win "
            "and lose through some chain of comparisons)",
            bad=[value],
            fix='Use regularization="auto" or a small positive value such as 0.01.',
        )
    return alpha


def _check_convergence(
    model: str, fit: Fit, on_nonconvergence: str, where: str = "", stacklevel: int = 4
) -> None:
    if fit.converged:
        return
    message = (
        f"{model}: {where}Newton's method did not converge in {fit.n_iter} iterations (largest "
        f"gradient {fit.gradient_norm:.3g}); raise max_iter or tol."
    )
    if on_nonconvergence == "raise":
        raise ConvergenceError(message)
    import warnings

    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)


def _centred(cov: np.ndarray) -> np.ndarray:
    m = cov.shape[0]
    c = np.eye(m) - np.full((m, m), 1.0 / m)
    out = c @ cov @ c
    return (out + out.T) / 2


def _finish(
    model: str,
    fit: Fit,
    labels: pd.Index,
    wins: np.ndarray | None,
    alpha: float,
    connected: bool,
    n_obs: float,
    on_nonconvergence: str,
    cov: np.ndarray | None = None,
    variance_method: str = MODEL_VARIANCE,
    confidence_level: float = 0.95,
    draws: np.ndarray | None = None,
    check: bool = True,
) -> StrengthModelResult:
    if check:
        _check_convergence(model, fit, on_nonconvergence)
    theta = fit.theta - fit.theta.mean()
    cov = _centred(fit.covariance if cov is None else cov)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return StrengthModelResult(
        model=model,
        params=pd.Series(theta, index=labels, name="strength"),
        std_errors=pd.Series(se, index=labels, name="std_error"),
        wins=None if wins is None else pd.DataFrame(wins, index=labels, columns=labels),
        log_likelihood=fit.log_likelihood,
        regularization=alpha,
        strongly_connected=connected,
        converged=fit.converged,
        n_iter=fit.n_iter,
        n_observations=n_obs,
        cov=pd.DataFrame(cov, index=labels, columns=labels),
        variance_method=variance_method,
        confidence_level=confidence_level,
        replicate_draws=draws,
    )


def _option_index(options: Sequence[Hashable] | None, observed: Iterable[Hashable]) -> pd.Index:
    seen = pd.unique(pd.Series(list(observed), dtype=object))
    if options is None:
        try:
            return pd.Index(sorted(seen))
        except TypeError:
            return pd.Index(seen)
    index = pd.Index(list(options))
    unknown = [v for v in seen if v not in set(index)]
    if unknown:
        fail(ValidationError, "options", "does not list every option in the data", bad=unknown)
    return index


@dataclass(frozen=True)
class _Setup:
    """What every domain fit shares: the model, the weights and the design link."""

    name: str
    model: Any  # PairwiseModel or ChoiceModel
    labels: pd.Index
    unit_row: np.ndarray  # data row of each unit (comparison or choice event)
    unit_weight: np.ndarray  # full-sample weight of each unit
    link: RaterLink | None
    groups: tuple[np.ndarray, pd.Index] | None  # group code per data row, labels
    regularization: Any
    tol: float
    max_iter: int
    on_nonconvergence: str
    confidence_level: float


def _row_weights(
    frame: pd.DataFrame, weights: Any, design: Any, rater: Any, lonely_psu: Any,
    raking_variance: Any,
) -> tuple[np.ndarray, RaterLink | None]:
    """Per-row weights (the rater's design weight with ``design``) and the design link."""
    lonely_psu = check_option(lonely_psu, ("raise", "adjust", "certainty", "remove"),
                              "lonely_psu")
    raking_variance = check_option(raking_variance, ("greg", "backfit"), "raking_variance")
    if design is None:
        if rater is not None:
            fail(ValidationError, "rater", "is used only with design= (to match comparisons to "
                 "the design's raters)", bad=[rater],
                 fix="Pass design=SurveyDesign(raters, weights=..., ...) with one row per rater.")
        if weights is not None:
            import warnings

            warnings.warn(
                "weights without design=: the standard errors treat the weights as frequency "
                "weights and every comparison as independent, which understates them when raters "
                "give several comparisons or the weights come from reweighting; pass design= "
                "(one row per rater) and rater= for design-based standard errors.",
                DataWarning,
                stacklevel=3,
            )
        return as_weights(weights, frame, "weights"), None
    if weights is not None:
        fail(ValidationError, "weights", "cannot be combined with design= (each comparison takes "
             "its rater's weight from the design)", bad=["weights given"],
             fix="Drop weights=, or build the design with those weights.")
    link = link_raters(design, frame, rater, lonely_psu, raking_variance)
    return link.weights[link.rows], link


def _domain_codes(
    frame: pd.DataFrame, by: Hashable | None, link: RaterLink | None
) -> tuple[np.ndarray, pd.Index] | None:
    if by is None:
        return None
    if by in frame.columns:
        values = frame[by]
    elif link is not None and by in link.design.data.columns:
        values = pd.Series(link.design.data[by].to_numpy()[link.rows], index=frame.index)
    else:
        fail(ValidationError, "by", "must be a column of the data or of the design's data",
             bad=[by])
    missing = values.isna().to_numpy()
    if missing.any():
        fail(ValidationError, "by", "group labels must not be missing", bad=list(frame.index[missing]),
             fix="Fill the missing labels (e.g. with 'unknown') before fitting.")
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), pd.Index(labels)


def _fit_domain(setup: _Setup, domain: np.ndarray, W: np.ndarray | None,
                where: str) -> StrengthModelResult:
    model, link = setup.model, setup.link
    weight = setup.unit_weight * domain
    beats = model.beats(weight)
    connected = strongly_connected(beats)
    # warnings point at the caller of bradley_terry / plackett_luce (via _fit_all)
    alpha = _resolve_regularization(setup.regularization, connected, where, stacklevel=5)
    fit = model.fit(weight, alpha, setup.tol, setup.max_iter)
    _check_convergence(setup.name, fit, setup.on_nonconvergence, where, stacklevel=5)
    wins = model.wins(weight) if setup.name == "bradley_terry" else None
    cov, method, draws = None, MODEL_VARIANCE, None
    if link is not None:
        rows = link.rows[setup.unit_row]
        if link.replicate is None:
            totals = model.scores(fit.theta, weight, rows, link.n)
            cov = fit.covariance @ taylor_covariance(link, totals) @ fit.covariance
            method = TAYLOR_VARIANCE
        else:
            assert W is not None
            reps = model.replicates(fit.theta, domain, rows, W, alpha, setup.tol, setup.max_iter)
            theta = fit.theta - fit.theta.mean()
            cov = replicate_covariance(link.replicate, reps, theta)
            draws = replicate_draws(link.replicate, reps, theta)
            rd = link.replicate
            method = (f"design (replicates: {rd.method}, {rd.n_replicates} replicates, "
                      f"scale {rd.scale:.6g}, mse={rd.mse})")
    return _finish(setup.name, fit, setup.labels, wins, alpha, connected, float(weight.sum()),
                   setup.on_nonconvergence, cov, method, setup.confidence_level, draws,
                   check=False)


def _fit_all(setup: _Setup) -> StrengthModelResult:
    link = setup.link
    W = link.replicate_weights() if link is not None and link.replicate is not None else None
    main = _fit_domain(setup, np.ones(len(setup.unit_row)), W, "")
    if setup.groups is None:
        return main
    codes, labels = setup.groups
    unit_codes = codes[setup.unit_row]
    subs: dict[Hashable, StrengthModelResult] = {}
    for g, label in enumerate(labels):
        subs[label] = _fit_domain(setup, (unit_codes == g).astype(np.float64), W,
                                  f"group {label!r}: ")
    return replace(main, groups=subs)


_DESIGN_PARAMETERS = """weights : str, Series or array, optional
        Weight of each comparison, treated as a frequency weight (without ``design``; a
        :class:`~estimators.DataWarning` says so). Default 1. Not allowed with ``design``.
    design : SurveyDesign or ReplicateDesign, optional
        A rater-level design (one row per rater: weights, strata, PSUs, fpc and the weighting
        steps that made the weights). Each comparison is weighted by its rater's final weight and
        the covariance is design-based (see Notes).
    rater : str, optional
        With ``design``: the column holding each comparison's rater id, matched to the design's
        column of the same name (or to the design data's index when it has no such column).
    by : str, optional
        Column (of the data, or of the design's data) defining groups; each group is fitted as a
        domain of the whole design (the design is never subset) and returned in ``.groups``."""


def bradley_terry(
    battles: pd.DataFrame,
    *,
    winner: str = "winner",
    loser: str = "loser",
    ties: str | None = None,
    weights: Any = None,
    design: Any = None,
    rater: str | None = None,
    by: str | None = None,
    options: Sequence[Hashable] | None = None,
    regularization: float | Literal["auto"] = "auto",
    confidence_level: float = 0.95,
    lonely_psu: Literal["raise", "adjust", "certainty", "remove"] = "raise",
    raking_variance: Literal["greg", "backfit"] = "greg",
    tol: float = 1e-10,
    max_iter: int = 100,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
) -> StrengthModelResult:
    """Fit a Bradley–Terry model to pairwise battles by weighted (pseudo-)maximum likelihood.

    Parameters
    ----------
    battles : DataFrame
        One row per comparison (e.g. from :func:`~estimators.pairwise_battles`).
    winner, loser : str
        Columns with the winning and losing option.
    ties : str, optional
        Boolean column marking ties; a tie counts as half a win for each side.
    {design_parameters}
    options : sequence, optional
        All options, in the order used for output (default: sorted labels seen).
    regularization : float or "auto"
        Ridge penalty ``alpha`` on the log-strengths (objective ``loglik - alpha ||theta||^2``,
        as ``choix.opt_pairwise``). ``"auto"``: 0 when the comparison graph is strongly
        connected, else 0.01 with a :class:`~estimators.DataWarning` (decided per group with
        ``by``).
    confidence_level : float
        Level of the intervals in ``to_frame()``.
    lonely_psu, raking_variance
        With a Taylor ``design``: as in :func:`~estimators.mean` (single-PSU strata; the raking
        variance convention).
    tol : float
        Convergence when the largest gradient entry is below ``tol`` x total weight.
    max_iter : int
        Newton iterations allowed.
    on_nonconvergence : {{"raise", "warn"}}
        What to do when ``max_iter`` is reached first.

    Returns
    -------
    StrengthModelResult
        ``.params`` (log-strengths centred to mean 0), ``.cov``, ``.std_errors``, ``.wins``,
        ``.variance_method``; ``win_probability``, ``rank_uncertainty``; ``.groups`` with ``by``.

    Notes
    -----
    With :math:`W_{{ij}}` the weighted number of wins of :math:`i` over :math:`j` (ties adding half
    to both), the estimate maximises
    :math:`\\ell(\\theta) = \\sum_{{i \\ne j}} W_{{ij}} \\log \\sigma(\\theta_i - \\theta_j) - \\alpha
    \\lVert \\theta \\rVert^2`, :math:`\\sigma(x) = 1/(1+e^{{-x}})`. Newton's method runs on the
    aggregated :math:`m \\times m` matrix, so the cost after one pass over the data is
    :math:`O(m^3)` per iteration whatever the number of comparisons. Integer weights give the
    same fit as replicated rows.

    Without ``design`` the covariance is the inverse observed information
    :math:`H^+` (every comparison independent, weights as counts). With a rater-level
    ``design`` it is the sandwich :math:`H^+ \\hat V H^+`, where :math:`\\hat V` is the design
    covariance of the total :math:`\\sum_i w_i z_i` of the raters' score vectors
    :math:`z_i = \\sum_{{c \\in i}} (y_c - p_c)(e_{{a_c}} - e_{{b_c}})`, computed by the design
    exactly as for a total (calibration residuals for raked / calibrated / post-stratified
    weights, PSU totals, strata, fpc). With a ``ReplicateDesign`` the model is refitted on every
    replicate's weights (warm-started) and
    :math:`V = s \\sum_r r_r (\\theta_r - c)(\\theta_r - c)^\\top`. See the methods page
    "Uncertainty for preference models".

    References
    ----------
    Bradley, R. A. and Terry, M. E. (1952). Rank analysis of incomplete block designs.
    *Biometrika* 39. Hunter, D. R. (2004). MM algorithms for generalized Bradley–Terry models.
    *Annals of Statistics* 32. Ford, L. R. (1957). Solution of a ranking problem from binary
    comparisons. *American Mathematical Monthly* 64 (existence of the MLE). Binder, D. A.
    (1983). On the variances of asymptotically normal estimators from complex surveys.
    *International Statistical Review* 51. Lumley, T. (2010). *Complex Surveys*. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign
    >>> b = pd.DataFrame({{"winner": ["a", "a", "b", "c", "a", "b"],
    ...                   "loser": ["b", "c", "c", "a", "b", "a"],
    ...                   "rater": [1, 1, 2, 2, 3, 3]}})
    >>> fit = bradley_terry(b)
    >>> [round(float(x), 4) for x in fit.params]
    [0.314, 0.1283, -0.4423]
    >>> raters = pd.DataFrame({{"rater": [1, 2, 3], "w": [1.0, 2.0, 1.0]}})
    >>> dfit = bradley_terry(b, design=SurveyDesign(raters, weights="w"), rater="rater")
    >>> dfit.variance_method
    'design (Taylor linearisation, raters as sampling units)'
    >>> dfit.to_frame()[["option", "std_error"]].round(4).values.tolist()
    [['b', 0.5472], ['a', 0.8488], ['c', 0.3084]]
    """
    frame = as_frame(battles, "battles")
    check_columns(frame, [winner, loser] + ([ties] if ties else []), "columns")
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    level = check_probability(confidence_level, "confidence_level")
    w, link = _row_weights(frame, weights, design, rater, lonely_psu, raking_variance)
    win_col, lose_col = frame[winner], frame[loser]
    if win_col.isna().any() or lose_col.isna().any():
        bad = frame.index[(win_col.isna() | lose_col.isna()).to_numpy()]
        fail(ValidationError, "battles", "winner and loser must not be missing", bad=list(bad))
    same = (win_col.to_numpy() == lose_col.to_numpy())
    if same.any():
        fail(ValidationError, "battles", "an option cannot battle itself",
             bad=list(frame.index[same]), fix="Drop rows where winner == loser.")
    labels = _option_index(options, list(win_col.unique()) + list(lose_col.unique()))
    if len(labels) < 2:
        fail(ValidationError, "battles", "needs at least two options", bad=list(labels))
    wi = labels.get_indexer(win_col).astype(np.int64)
    li = labels.get_indexer(lose_col).astype(np.int64)
    tie = np.zeros(len(frame), dtype=bool)
    if ties:
        tie = frame[ties].astype(bool).to_numpy()
    setup = _Setup(
        "bradley_terry", PairwiseModel(wi, li, tie, len(labels)), labels,
        np.arange(len(frame), dtype=np.int64), w, link, _domain_codes(frame, by, link),
        regularization, tol, max_iter, on_nonconvergence, level,
    )
    return _fit_all(setup)


if bradley_terry.__doc__:  # None under python -OO
    bradley_terry.__doc__ = bradley_terry.__doc__.format(design_parameters=_DESIGN_PARAMETERS)


def _fit_wins(wins, labels, regularization, tol, max_iter, on_nonconvergence):
    connected = strongly_connected(wins.T + np.zeros_like(wins))
    alpha = _resolve_regularization(regularization, connected)
    fit = fit_pairwise(wins, alpha=alpha, tol=tol, max_iter=max_iter)
    return _finish("bradley_terry", fit, labels, wins, alpha, connected, float(wins.sum()),
                   on_nonconvergence)


def plackett_luce(
    data: pd.DataFrame,
    *,
    ranking: str | None = None,
    shown: str = "shown",
    chosen: str = "chosen",
    weights: Any = None,
    design: Any = None,
    rater: str | None = None,
    by: str | None = None,
    options: Sequence[Hashable] | None = None,
    regularization: float | Literal["auto"] = "auto",
    confidence_level: float = 0.95,
    lonely_psu: Literal["raise", "adjust", "certainty", "remove"] = "raise",
    raking_variance: Literal["greg", "backfit"] = "greg",
    tol: float = 1e-10,
    max_iter: int = 100,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
) -> StrengthModelResult:
    """Fit a Plackett–Luce model to rankings, or a Luce model to top-1 choices.

    Parameters
    ----------
    data : DataFrame
        Either a ``ranking`` column (sequences of options, best first; a ranking of a subset
        ranks only that subset) or top-1 choice data: ``shown`` (sequence of options offered)
        and ``chosen`` (the one picked), e.g. from :func:`~estimators.choice_sets`.
    ranking : str, optional
        Column with rankings; when given, ``shown``/``chosen`` are ignored.
    shown, chosen : str
        Columns of top-1 choice data (PRISM's ``if_chosen`` among the shown responses).
    {design_parameters}
    options, regularization, confidence_level, lonely_psu, raking_variance, tol, max_iter
        As in :func:`bradley_terry` (``regularization`` matches ``choix.opt_rankings``'s alpha).
    on_nonconvergence : {{"raise", "warn"}}
        As in :func:`bradley_terry`.

    Returns
    -------
    StrengthModelResult
        ``.params``: log-strengths centred to mean 0; ``.cov`` and the rest as for
        :func:`bradley_terry`.

    Notes
    -----
    A ranking :math:`o_1 \\succ o_2 \\succ \\dots \\succ o_k` has probability
    :math:`\\prod_{{r=1}}^{{k-1}} e^{{\\theta_{{o_r}}}} / \\sum_{{s \\ge r}} e^{{\\theta_{{o_s}}}}`, a
    product of top-1 choices from shrinking sets; a top-1 choice of :math:`c` from :math:`S` has
    probability :math:`e^{{\\theta_c}} / \\sum_{{s \\in S}} e^{{\\theta_s}}` (Luce's choice axiom).
    The weighted log-likelihood is concave and maximised by Newton's method. With ``design`` the
    covariance is the sandwich of :func:`bradley_terry` with the choice scores
    :math:`z_i = \\sum_{{e \\in i}} (e_{{c_e}} - p_{{S_e}})` (a ranking row contributes all its
    choices to its rater), or the replicate covariance of refits.

    References
    ----------
    Luce, R. D. (1959). *Individual Choice Behavior*. Plackett, R. L. (1975). The analysis of
    permutations. *Applied Statistics* 24. Hunter, D. R. (2004), *Annals of Statistics* 32.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({{"shown": [("a", "b", "c"), ("a", "b"), ("b", "c"), ("a", "c")],
    ...                   "chosen": ["a", "b", "b", "c"]}})
    >>> fit = plackett_luce(d)
    >>> fit.to_frame()["option"].tolist()
    ['b', 'a', 'c']
    """
    frame = as_frame(data, "data")
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    level = check_probability(confidence_level, "confidence_level")
    w_rows, link = _row_weights(frame, weights, design, rater, lonely_psu, raking_variance)
    events_sets: list[tuple[Hashable, ...]] = []
    events_chosen: list[Hashable] = []
    events_row: list[int] = []
    if ranking is not None:
        check_columns(frame, [ranking], "ranking")
        for pos, r in enumerate(frame[ranking]):
            seq = tuple(r) if isinstance(r, (list, tuple, np.ndarray)) else None
            if seq is None or len(set(seq)) != len(seq) or len(seq) < 2:
                fail(ValidationError, "ranking",
                     "each ranking must be a sequence of >= 2 distinct options",
                     bad=[frame.index[pos]])
            for k in range(len(seq) - 1):
                events_sets.append(seq[k:])
                events_chosen.append(seq[k])
                events_row.append(pos)
    else:
        check_columns(frame, [shown, chosen], "columns")
        for pos, (s, c) in enumerate(zip(frame[shown], frame[chosen])):
            seq = tuple(s) if isinstance(s, (list, tuple, np.ndarray)) else None
            if seq is None or len(set(seq)) != len(seq) or len(seq) < 2 or c not in seq:
                fail(ValidationError, "data",
                     "each row needs >= 2 distinct shown options including the chosen one",
                     bad=[frame.index[pos]])
            events_sets.append(seq)
            events_chosen.append(c)
            events_row.append(pos)
    if not events_sets:
        fail(ValidationError, "data", "holds no choices", bad=[len(frame)])
    labels = _option_index(options, [o for s in events_sets for o in s])
    m = len(labels)
    size = max(len(s) for s in events_sets)
    codes_of = {label: k for k, label in enumerate(labels)}
    sets = np.full((len(events_sets), size), -1, dtype=np.int64)
    for e, s in enumerate(events_sets):
        sets[e, : len(s)] = [codes_of[o] for o in s]
    mask = sets >= 0
    sets = np.where(mask, sets, 0)
    chosen_codes = np.array([codes_of[c] for c in events_chosen], dtype=np.int64)
    unit_row = np.asarray(events_row, dtype=np.int64)
    setup = _Setup(
        "plackett_luce", ChoiceModel(sets, mask, chosen_codes, m), labels, unit_row,
        np.asarray(w_rows, dtype=np.float64)[unit_row], link, _domain_codes(frame, by, link),
        regularization, tol, max_iter, on_nonconvergence, level,
    )
    return _fit_all(setup)


if plackett_luce.__doc__:
    plackett_luce.__doc__ = plackett_luce.__doc__.format(design_parameters=_DESIGN_PARAMETERS)


# --------------------------------------------------------------------------------------------
# one interface for every rule
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AggregationResult(Result):
    """Scores, ranking and winner of one aggregation rule.

    Attributes
    ----------
    rule : str
    scores : Series
        Higher is better for every rule (veto: one minus the veto share; minimax: minus the
        largest defeat; Condorcet: number of pairwise wins).
    ranking : list
        Options best first; ties broken by ``tie_break``.
    winner : hashable or None
        The top of ``ranking``; for ``rule="condorcet"``, None when there is no Condorcet winner.
    tied_winners : list
        Every option that ties for the top score before tie-breaking.
    margins : DataFrame or None
        Pairwise rules: weighted margin of row over column.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"a": [90, 10, 60], "b": [50, 60, 55], "c": [10, 70, 40]})
    >>> res = aggregate(u, rule="borda")
    >>> res.winner, res.ranking, res.tied_winners
    ('a', ['a', 'b', 'c'], ['a'])
    >>> res.to_frame()[["option", "score"]].values.tolist()
    [['a', 4.0], ['b', 3.0], ['c', 2.0]]
    """

    rule: str
    scores: pd.Series
    ranking: list
    winner: Any
    tied_winners: list
    margins: pd.DataFrame | None = field(default=None, repr=False)
    model: StrengthModelResult | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        rank = {option: k + 1 for k, option in enumerate(self.ranking)}
        return pd.DataFrame(
            {
                "option": self.ranking,
                "score": [float(self.scores[o]) for o in self.ranking],
                "rank": [rank[o] for o in self.ranking],
            }
        )

    def _summary_title(self) -> str:
        return f"Aggregation: {self.rule}"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "rule", self.rule
        yield "winner", self.winner
        if len(self.tied_winners) > 1:
            yield "tied for first (before tie-break)", ", ".join(map(str, self.tied_winners))

    def plot(self, ax: Axes | None = None) -> Axes:
        """Scores per option, best first, the winner highlighted."""
        ax = get_axes(ax)
        frame = self.to_frame()
        colours = ["C1" if o == self.winner else "C0" for o in frame["option"]]
        ax.bar(range(len(frame)), frame["score"].to_numpy(), color=colours)
        ax.set_xticks(range(len(frame)), [str(o) for o in frame["option"]], rotation=45,
                      ha="right")
        ax.set_ylabel(f"{self.rule} score")
        return ax


def _tie_positions(options: pd.Index, tie_break: Sequence[Hashable] | None) -> np.ndarray:
    if tie_break is None:
        return np.arange(len(options))
    order = list(tie_break)
    missing = [o for o in options if o not in order]
    if missing:
        fail(ValidationError, "tie_break", "must list every option", bad=missing)
    return np.array([order.index(o) for o in options])


def _pairwise_from_battles(frame: pd.DataFrame, weights: Any) -> tuple[np.ndarray, pd.Index]:
    ties = "tie" if "tie" in frame.columns else None
    w = as_weights(weights, frame, "weights")
    labels = _option_index(None, list(frame["winner"].unique()) + list(frame["loser"].unique()))
    m = len(labels)
    wi, li = labels.get_indexer(frame["winner"]), labels.get_indexer(frame["loser"])
    tie = frame[ties].astype(bool).to_numpy() if ties else np.zeros(len(frame), dtype=bool)
    wins = np.bincount(wi * m + li, weights=np.where(tie, 0.5, 1.0) * w,
                       minlength=m * m).reshape(m, m)
    wins += np.bincount(li * m + wi, weights=np.where(tie, 0.5 * w, 0.0),
                        minlength=m * m).reshape(m, m)
    return wins, labels


def aggregate(
    data: Any,
    *,
    rule: Rule = "mean_rating",
    weights: Any = None,
    borda: Literal["standard", "truncated", "symmetric"] = "standard",
    veto_threshold: float = 10.0,
    tie_break: Sequence[Hashable] | None = None,
    regularization: float | Literal["auto"] = "auto",
    design: Any = None,
    rater: str | None = None,
) -> AggregationResult:
    """Aggregate individual preferences into scores, a ranking and a winner.

    Parameters
    ----------
    data : UtilityTable, DataFrame
        A utility table (raters x options, NaN = not exposed) for every rule; a battles frame
        with ``winner``/``loser`` (and optional ``tie``) columns for the pairwise rules
        (``bradley_terry``, ``copeland``, ``condorcet``, ``minimax``, ``schulze``,
        ``ranked_pairs``); or top-1 choice data (``shown``, ``chosen``, as from
        :func:`~estimators.choice_sets`) for ``rule="plackett_luce"``.
    rule : str
        ``"mean_rating"`` / ``"choice_rate"`` (weighted mean over exposed raters of a rating or a
        choice-rate table), ``"veto"`` (one minus the weighted share of exposed raters at or
        below ``veto_threshold``; on a ``veto_rate`` table, one minus its mean),
        ``"bradley_terry"``, ``"borda"``, ``"copeland"``, ``"condorcet"``, ``"minimax"``,
        ``"schulze"``, ``"ranked_pairs"``; ``"plackett_luce"`` (Luce model on choice data).
    weights : str, Series or array, optional
        Rater weights (utility tables) or comparison weights (battles).
    borda : {"standard", "truncated", "symmetric"}
        Borda variant (see Notes).
    veto_threshold : float
        Veto level for ``rule="veto"`` on rating tables.
    tie_break : sequence, optional
        A strict order of the options used to break every tie (scores and ranked-pairs edges).
        Default: the table's column order.
    regularization : float or "auto"
        Passed to :func:`bradley_terry`.
    design, rater : optional
        For the model-based rules on battles (``"bradley_terry"``) or choice data
        (``"plackett_luce"``): a rater-level design and the rater id column, passed to
        :func:`bradley_terry` / :func:`plackett_luce` (weights from the design, design-based
        covariance in ``.model``).

    Returns
    -------
    AggregationResult
        ``.scores``, ``.ranking``, ``.winner``, ``.tied_winners``, ``.margins``.

    Notes
    -----
    Rater :math:`i` prefers :math:`a` to :math:`b` when :math:`u_{ia} > u_{ib}` (both exposed).
    The weighted margin is :math:`M_{ab} = \\sum_i w_i (1[u_{ia} > u_{ib}] - 1[u_{ib} >
    u_{ia}])`. Copeland: wins minus losses in the majority relation. Condorcet winner: beats
    everyone (:math:`M_{ab} > 0`). Minimax: :math:`-\\max_b \\max(M_{ba}, 0)`. Schulze: widest
    paths :math:`p` over margins, score = minus the number of options that beat it in path
    strength (winners score 0; ties ranked by how many they beat). Ranked pairs: lock edges by
    decreasing margin (ties by ``tie_break``), skipping those that close a cycle. Borda
    ``"standard"``: an exposed option earns the number of options below it (unexposed ones count
    as below) plus half the tied ones; ``"truncated"``: only exposed options count;
    ``"symmetric"``: options below minus options above, exposed above unexposed. Every rule is
    polynomial (ranked pairs :math:`O(m^4)`) and defined for cyclic majorities.

    References
    ----------
    Tideman, T. N. (1987). Independence of clones as a criterion for voting rules. *Social Choice
    and Welfare* 4. Schulze, M. (2011). A new monotonic, clone-independent, reversal symmetric,
    and Condorcet-consistent single-winner election method. *Social Choice and Welfare* 36.
    Terzopoulou, Z. and Endriss, U. (2021). The Borda class. *Journal of Mathematical
    Economics* 92.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"a": [90, 10, 60], "b": [50, 60, 55], "c": [10, 70, 40]})
    >>> aggregate(u, rule="mean_rating").winner
    'b'
    >>> aggregate(u, rule="condorcet").winner  # the mean and the majority disagree
    'a'
    >>> aggregate(u, rule="borda").scores.tolist()
    [4.0, 3.0, 2.0]
    """
    rule = check_option(rule, (*RULES, "plackett_luce"), "rule")
    borda = check_option(borda, ("standard", "truncated", "symmetric"), "borda")
    is_choices = isinstance(data, pd.DataFrame) and {"shown", "chosen"} <= set(data.columns)
    is_battles = isinstance(data, pd.DataFrame) and {"winner", "loser"} <= set(data.columns)
    if (design is not None or rater is not None) and not (
        (rule == "plackett_luce" and is_choices) or (rule == "bradley_terry" and is_battles)
    ):
        fail(ValidationError, "design", "is used only by the model-based rules: "
             '"bradley_terry" on battles and "plackett_luce" on choice data', bad=[rule],
             fix="Drop design= and rater=, or pass the design's weights with weights=.")
    if rule == "plackett_luce" or is_choices:
        if not (rule == "plackett_luce" and is_choices):
            fail(ValidationError, "rule", '"plackett_luce" goes with top-1 choice data (columns '
                 "shown and chosen), and choice data only with it", bad=[rule],
                 fix="Build choice data with estimators.choice_sets(utterances).")
        fit = plackett_luce(data, weights=weights, design=design, rater=rater,
                            regularization=regularization)
        return _result(rule, fit.params.to_numpy(), fit.params.index, tie_break, None, fit)
    margins = None
    model = None
    if is_battles:
        if rule not in PAIRWISE_RULES:
            fail(ValidationError, "rule", "needs a utility table; battles only support the "
                 "pairwise rules", bad=[rule],
                 fix="Use bradley_terry, copeland, condorcet, minimax, schulze or ranked_pairs.")
        frame = as_frame(data, "data")
        if design is not None:
            model = bradley_terry(frame, ties="tie" if "tie" in frame.columns else None,
                                  design=design, rater=rater, regularization=regularization)
            wins, options = model.wins.to_numpy(), model.params.index
        else:
            wins, options = _pairwise_from_battles(frame, weights)
    else:
        util = as_utilities(data, "data")
        options = util.options
        values = util.values
        w = (np.ones(values.shape[0]) if weights is None
             else rater_values(weights, util, "weights", numeric=True))
        exposed = ~np.isnan(values) & (w > 0)[:, None]
        if rule in ("mean_rating", "choice_rate", "veto"):
            counts = exposed.sum(axis=0)
            if (counts == 0).any():
                fail(ValidationError, "data", "every option needs at least one exposed rater "
                     "with positive weight", bad=[options[j] for j in np.flatnonzero(counts == 0)])
            x = np.where(exposed, values, 0.0)
            total = np.where(exposed, w[:, None], 0.0).sum(axis=0)
            if rule == "veto":
                if isinstance(data, UtilityTable) and data.aggregate == "veto_rate":
                    share = (w[:, None] * x).sum(axis=0) / total
                else:
                    share = (w[:, None] * (exposed & (values <= veto_threshold))).sum(axis=0)
                    share = share / total
                raw = 1.0 - share
            else:
                raw = (w[:, None] * x).sum(axis=0) / total
            return _result(rule, raw, options, tie_break)
        if rule == "borda":
            raw = voting.borda_scores(np.where(exposed, values, np.nan), w, borda)
            return _result(rule, raw, options, tie_break)
        prefer, tied = voting.pairwise_counts(np.where(exposed, values, np.nan), w)
        wins = prefer + 0.5 * tied
    m = len(options)
    margin = wins - wins.T
    margins = pd.DataFrame(margin, index=options, columns=options)
    positions = _tie_positions(options, tie_break)
    if rule == "bradley_terry":
        if model is None:
            model = _fit_wins(wins, options, regularization, 1e-10, 100, "raise")
        raw = model.params.to_numpy()
    elif rule == "copeland":
        raw = voting.copeland_scores(margin)
    elif rule == "condorcet":
        raw = np.sum(margin > 0, axis=1).astype(float)
        cw = voting.condorcet_winner(margin)
        ranking = _order(raw, positions, options)
        return AggregationResult(rule, pd.Series(raw, index=options, name="score"), ranking,
                                 None if cw is None else options[cw],
                                 [] if cw is None else [options[cw]], margins)
    elif rule == "minimax":
        raw = voting.minimax_scores(margin)
    elif rule == "schulze":
        _, beats, beaten = voting.schulze_scores(margin)
        raw = 0.0 - beaten
        order = np.lexsort((positions, -beats, beaten))
        ranking = [options[k] for k in order]
        winners = [options[k] for k in order if beaten[k] == 0]
        return AggregationResult(rule, pd.Series(raw, index=options, name="score"), ranking,
                                 ranking[0], winners, margins)
    else:  # ranked pairs
        order = voting.ranked_pairs_order(margin, positions)
        raw = np.empty(m)
        raw[order] = np.arange(m, 0, -1, dtype=float) - 1.0
        ranking = [options[k] for k in order]
        return AggregationResult(rule, pd.Series(raw, index=options, name="score"), ranking,
                                 ranking[0], [ranking[0]], margins)
    return _result(rule, raw, options, tie_break, margins, model)


def _order(raw: np.ndarray, positions: np.ndarray, options: pd.Index) -> list:
    return [options[k] for k in np.lexsort((positions, -raw))]


def _result(rule, raw, options, tie_break, margins=None, model=None) -> AggregationResult:
    positions = _tie_positions(options, tie_break)
    raw = np.asarray(raw, dtype=np.float64)
    ranking = _order(raw, positions, options)
    top = raw.max()
    tied = [o for o in ranking if raw[options.get_loc(o)] >= top]
    return AggregationResult(rule, pd.Series(raw, index=options, name="score"), ranking,
                             ranking[0], tied, margins, model)
