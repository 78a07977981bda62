"""Preference aggregation: Bradley–Terry, Plackett–Luce / top-1 choice, and voting rules.

:func:`bradley_terry` and :func:`plackett_luce` fit strength models by weighted maximum
likelihood (Newton's method on the option x option win matrix or the choice sets);
:func:`aggregate` puts every rule — mean rating, choice rate, veto, Bradley–Terry, Borda
(standard, truncated, symmetric), Copeland, Condorcet, minimax, Schulze and ranked pairs — behind
one interface that returns scores, a ranking and a winner with a deterministic tie-breaker.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_frame,
    as_int,
    as_weights,
    check_columns,
    check_option,
    check_positive,
    fail,
)
from estimators.errors import ConvergenceError, ConvergenceWarning, DataWarning, ValidationError
from estimators.welfare import _voting as voting
from estimators.welfare._bradley_terry import Fit, fit_choices, fit_pairwise, strongly_connected
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
@dataclass(frozen=True)
class StrengthModelResult(Result):
    """A fitted Bradley–Terry or Plackett–Luce model.

    Attributes
    ----------
    model : str
        ``"bradley_terry"`` or ``"plackett_luce"``.
    params : Series
        Log-strengths by option, centred to mean 0 (``P(i beats j) = 1 / (1 + exp(theta_j -
        theta_i))``).
    std_errors : Series
        Standard errors of the centred log-strengths from the inverse observed information.
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

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"winner": ["a", "a", "b", "c", "a"], "loser": ["b", "c", "c", "a", "b"]})
    >>> fit = bradley_terry(b)
    >>> fit.model, fit.strongly_connected, fit.converged
    ('bradley_terry', True, True)
    >>> fit.to_frame()[["option", "rank"]].values.tolist()
    [['a', 1], ['b', 2], ['c', 3]]
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

    def probability(self, a: Hashable, b: Hashable) -> float:
        """Model probability that ``a`` is preferred to ``b``."""
        for label in (a, b):
            if label not in self.params.index:
                fail(ValidationError, "option", "is not one of the fitted options", bad=[label])
        return float(1.0 / (1.0 + np.exp(self.params[b] - self.params[a])))

    def to_frame(self) -> pd.DataFrame:
        order = np.argsort(-self.params.to_numpy(), kind="stable")
        frame = pd.DataFrame(
            {
                "option": self.params.index,
                "strength": self.params.to_numpy(),
                "std_error": self.std_errors.to_numpy(),
            }
        )
        frame["rank"] = 0
        frame.loc[order, "rank"] = np.arange(1, len(order) + 1)
        return frame.iloc[order].reset_index(drop=True)

    def _summary_title(self) -> str:
        return "Bradley–Terry model" if self.model == "bradley_terry" else "Plackett–Luce model"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "observations (weighted)", self.n_observations
        yield "log-likelihood", self.log_likelihood
        yield "regularization", self.regularization
        yield "strongly connected", self.strongly_connected
        yield "converged", self.converged
        yield "iterations", self.n_iter

    def plot(self, ax: Axes | None = None) -> Axes:
        """Log-strengths with +-1.96 SE bars, strongest first."""
        ax = get_axes(ax)
        frame = self.to_frame()
        ax.errorbar(frame["strength"], range(len(frame)), xerr=1.96 * frame["std_error"],
                    fmt="o")
        ax.set_yticks(range(len(frame)), [str(o) for o in frame["option"]])
        ax.invert_yaxis()
        ax.set_xlabel("log-strength (centred)")
        return ax


def _resolve_regularization(value: Any, connected: bool) -> float:
    if isinstance(value, str):
        check_option(value, ("auto",), "regularization")
        if connected:
            return 0.0
        import warnings

        warnings.warn(
            "the comparison graph is not strongly connected, so the maximum likelihood estimate "
            f"does not exist; using a ridge penalty alpha={AUTO_REGULARIZATION} "
            "(pass regularization= to choose it).",
            DataWarning,
            stacklevel=3,
        )
        return AUTO_REGULARIZATION
    alpha = check_positive(value, "regularization", allow_zero=True)
    if alpha == 0 and not connected:
        fail(
            ValidationError,
            "regularization",
            "0 needs a strongly connected comparison graph (every option must both win and lose "
            "through some chain of comparisons)",
            bad=[value],
            fix='Use regularization="auto" or a small positive value such as 0.01.',
        )
    return alpha


def _finish(
    model: str,
    fit: Fit,
    labels: pd.Index,
    wins: np.ndarray | None,
    alpha: float,
    connected: bool,
    n_obs: float,
    on_nonconvergence: str,
) -> StrengthModelResult:
    if not fit.converged:
        message = (
            f"{model}: Newton's method did not converge in {fit.n_iter} iterations (largest "
            f"gradient {fit.gradient_norm:.3g}); raise max_iter or tol."
        )
        if on_nonconvergence == "raise":
            raise ConvergenceError(message)
        import warnings

        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    theta = fit.theta - fit.theta.mean()
    se = np.sqrt(np.clip(np.diag(fit.covariance), 0.0, None))
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


def bradley_terry(
    battles: pd.DataFrame,
    *,
    winner: str = "winner",
    loser: str = "loser",
    ties: str | None = None,
    weights: Any = None,
    options: Sequence[Hashable] | None = None,
    regularization: float | Literal["auto"] = "auto",
    tol: float = 1e-10,
    max_iter: int = 100,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
) -> StrengthModelResult:
    """Fit a Bradley–Terry model to pairwise battles by weighted maximum likelihood.

    Parameters
    ----------
    battles : DataFrame
        One row per comparison (e.g. from :func:`~estimators.pairwise_battles`).
    winner, loser : str
        Columns with the winning and losing option.
    ties : str, optional
        Boolean column marking ties; a tie counts as half a win for each side.
    weights : str, Series or array, optional
        Weight of each comparison (e.g. the rater's survey weight). Default 1.
    options : sequence, optional
        All options, in the order used for output (default: sorted labels seen).
    regularization : float or "auto"
        Ridge penalty ``alpha`` on the log-strengths (objective ``loglik - alpha ||theta||^2``,
        as ``choix.opt_pairwise``). ``"auto"``: 0 when the comparison graph is strongly
        connected, else 0.01 with a :class:`~estimators.DataWarning`.
    tol : float
        Convergence when the largest gradient entry is below ``tol`` x total weight.
    max_iter : int
        Newton iterations allowed.
    on_nonconvergence : {"raise", "warn"}
        What to do when ``max_iter`` is reached first.

    Returns
    -------
    StrengthModelResult
        ``.params`` (log-strengths centred to mean 0), ``.std_errors``, ``.wins``.

    Notes
    -----
    With :math:`W_{ij}` the weighted number of wins of :math:`i` over :math:`j` (ties adding half
    to both), the estimate maximises
    :math:`\\ell(\\theta) = \\sum_{i \\ne j} W_{ij} \\log \\sigma(\\theta_i - \\theta_j) - \\alpha
    \\lVert \\theta \\rVert^2`, :math:`\\sigma(x) = 1/(1+e^{-x})`. Newton's method runs on the
    aggregated :math:`m \\times m` matrix, so the cost after one pass over the data is
    :math:`O(m^3)` per iteration whatever the number of comparisons. Integer weights give the
    same fit as replicated rows.

    References
    ----------
    Bradley, R. A. and Terry, M. E. (1952). Rank analysis of incomplete block designs.
    *Biometrika* 39. Hunter, D. R. (2004). MM algorithms for generalized Bradley–Terry models.
    *Annals of Statistics* 32. Ford, L. R. (1957). Solution of a ranking problem from binary
    comparisons. *American Mathematical Monthly* 64 (existence of the MLE).

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"winner": ["a", "a", "b", "c", "a"], "loser": ["b", "c", "c", "a", "b"]})
    >>> fit = bradley_terry(b)
    >>> [round(float(x), 4) for x in fit.params]
    [0.7324, -0.3662, -0.3662]
    """
    frame = as_frame(battles, "battles")
    check_columns(frame, [winner, loser] + ([ties] if ties else []), "columns")
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    w = as_weights(weights, frame, "weights")
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
    wi = labels.get_indexer(win_col)
    li = labels.get_indexer(lose_col)
    tie = np.zeros(len(frame), dtype=bool)
    if ties:
        tie = frame[ties].astype(bool).to_numpy()
    m = len(labels)
    full = np.where(tie, 0.5, 1.0) * w
    wins = np.bincount(wi * m + li, weights=full, minlength=m * m).reshape(m, m)
    half = np.where(tie, 0.5 * w, 0.0)
    wins += np.bincount(li * m + wi, weights=half, minlength=m * m).reshape(m, m)
    return _fit_wins(wins, labels, regularization, tol, max_iter, on_nonconvergence)


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
    options: Sequence[Hashable] | None = None,
    regularization: float | Literal["auto"] = "auto",
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
    weights, options, regularization, tol, max_iter, on_nonconvergence
        As in :func:`bradley_terry` (``regularization`` matches ``choix.opt_rankings``'s alpha).

    Returns
    -------
    StrengthModelResult
        ``.params``: log-strengths centred to mean 0.

    Notes
    -----
    A ranking :math:`o_1 \\succ o_2 \\succ \\dots \\succ o_k` has probability
    :math:`\\prod_{r=1}^{k-1} e^{\\theta_{o_r}} / \\sum_{s \\ge r} e^{\\theta_{o_s}}`, a product of
    top-1 choices from shrinking sets; a top-1 choice of :math:`c` from :math:`S` has probability
    :math:`e^{\\theta_c} / \\sum_{s \\in S} e^{\\theta_s}` (Luce's choice axiom). The weighted
    log-likelihood is concave and maximised by Newton's method.

    References
    ----------
    Luce, R. D. (1959). *Individual Choice Behavior*. Plackett, R. L. (1975). The analysis of
    permutations. *Applied Statistics* 24. Hunter, D. R. (2004), *Annals of Statistics* 32.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"shown": [("a", "b", "c"), ("a", "b"), ("b", "c"), ("a", "c")],
    ...                   "chosen": ["a", "b", "b", "c"]})
    >>> fit = plackett_luce(d)
    >>> fit.to_frame()["option"].tolist()
    ['b', 'a', 'c']
    """
    frame = as_frame(data, "data")
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    w_rows = as_weights(weights, frame, "weights")
    events_sets: list[tuple[Hashable, ...]] = []
    events_chosen: list[Hashable] = []
    events_weight: list[float] = []
    if ranking is not None:
        check_columns(frame, [ranking], "ranking")
        for pos, (r, w) in enumerate(zip(frame[ranking], w_rows)):
            seq = tuple(r) if isinstance(r, (list, tuple, np.ndarray)) else None
            if seq is None or len(set(seq)) != len(seq) or len(seq) < 2:
                fail(ValidationError, "ranking",
                     "each ranking must be a sequence of >= 2 distinct options",
                     bad=[frame.index[pos]])
            for k in range(len(seq) - 1):
                events_sets.append(seq[k:])
                events_chosen.append(seq[k])
                events_weight.append(w)
    else:
        check_columns(frame, [shown, chosen], "columns")
        for pos, (s, c, w) in enumerate(zip(frame[shown], frame[chosen], w_rows)):
            seq = tuple(s) if isinstance(s, (list, tuple, np.ndarray)) else None
            if seq is None or len(set(seq)) != len(seq) or len(seq) < 2 or c not in seq:
                fail(ValidationError, "data",
                     "each row needs >= 2 distinct shown options including the chosen one",
                     bad=[frame.index[pos]])
            events_sets.append(seq)
            events_chosen.append(c)
            events_weight.append(w)
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
    chosen_codes = np.array([codes_of[c] for c in events_chosen], dtype=np.int64)
    weights_arr = np.asarray(events_weight, dtype=np.float64)
    # aggregate identical (set, chosen) events
    key = np.concatenate([np.sort(np.where(mask, sets, m), axis=1), chosen_codes[:, None]], axis=1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    agg_w = np.bincount(inverse.ravel(), weights=weights_arr, minlength=len(uniq))
    keep = agg_w > 0
    uniq, agg_w = uniq[keep], agg_w[keep]
    u_sets = uniq[:, :-1]
    u_mask = u_sets < m
    u_sets = np.where(u_mask, u_sets, 0)
    u_chosen = uniq[:, -1]
    # beats graph: the chosen option beats every other option of its set
    beats = np.zeros((m, m))
    for k in range(u_sets.shape[1]):
        on = u_mask[:, k] & (u_sets[:, k] != u_chosen)
        np.add.at(beats, (u_chosen[on], u_sets[on, k]), agg_w[on])
    connected = strongly_connected(beats)
    alpha = _resolve_regularization(regularization, connected)
    fit = fit_choices(u_sets, u_mask, u_chosen, agg_w, m, alpha=alpha, tol=tol,
                      max_iter=max_iter)
    return _finish("plackett_luce", fit, labels, None, alpha, connected, float(agg_w.sum()),
                   on_nonconvergence)


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
    if rule == "plackett_luce" or is_choices:
        if not (rule == "plackett_luce" and is_choices):
            fail(ValidationError, "rule", '"plackett_luce" goes with top-1 choice data (columns '
                 "shown and chosen), and choice data only with it", bad=[rule],
                 fix="Build choice data with estimators.choice_sets(utterances).")
        fit = plackett_luce(data, weights=weights, regularization=regularization)
        return _result(rule, fit.params.to_numpy(), fit.params.index, tie_break, None, fit)
    is_battles = isinstance(data, pd.DataFrame) and {"winner", "loser"} <= set(data.columns)
    margins = None
    model = None
    if is_battles:
        if rule not in PAIRWISE_RULES:
            fail(ValidationError, "rule", "needs a utility table; battles only support the "
                 "pairwise rules", bad=[rule],
                 fix="Use bradley_terry, copeland, condorcet, minimax, schulze or ranked_pairs.")
        frame = as_frame(data, "data")
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
