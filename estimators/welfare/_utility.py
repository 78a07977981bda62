"""Utility tables (rater x option) and comparison data built from long-format ratings.

A *utility table* holds one value per rater and option: the rater's mean score for the option, or
how often the rater chose it when it was shown, or how often the rater vetoed it. Options a rater
never saw are missing (NaN) and the exposure counts say who saw what. Pairwise *battles* and
*choice sets* are built within one interaction (one prompt, several responses shown together).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_float_array,
    as_frame,
    check_columns,
    check_option,
    check_positive,
    fail,
)
from estimators.errors import ColumnError, ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["UtilityTable", "choice_sets", "pairwise_battles", "utility_table"]

Aggregate = Literal["mean", "choice_rate", "veto_rate"]
_AGGREGATES: tuple[Aggregate, ...] = ("mean", "choice_rate", "veto_rate")


@dataclass(frozen=True)
class UtilityTable(Result):
    """Utilities of each rater for each option, with exposure counts.

    Attributes
    ----------
    values : DataFrame
        Raters (index) x options (columns), float; NaN where the rater never saw the option.
    exposure : DataFrame
        Same shape, int: how many rated responses each cell averages (0 = not exposed).
    aggregate : str
        How the cells were made (``"mean"``, ``"choice_rate"``, ``"veto_rate"``).
    raters : DataFrame or None
        Rater-level covariates (e.g. the PRISM survey) indexed like ``values``; used by
        :func:`~estimators.welfare` and :func:`~estimators.who_decides` when ``weights=`` or
        ``by=`` name a column.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"user_id": [1, 1, 1, 2], "model_name": ["a", "a", "b", "b"],
    ...                   "score": [60, 80, 50, 90], "turn": 0})
    >>> table = utility_table(r)
    >>> table.values.shape, int(table.exposure.to_numpy().sum())
    ((2, 2), 4)
    >>> table.to_frame()[["option", "raters_exposed", "mean_utility"]].values.tolist()
    [['a', 1, 70.0], ['b', 2, 70.0]]
    """

    values: pd.DataFrame
    exposure: pd.DataFrame
    aggregate: str
    raters: pd.DataFrame | None = None

    @property
    def options(self) -> pd.Index:
        return self.values.columns

    @property
    def n_raters(self) -> int:
        return int(self.values.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Per option: raters exposed, ratings, and the mean utility over exposed raters."""
        exposed = self.exposure.to_numpy() > 0
        vals = self.values.to_numpy()
        counts = exposed.sum(axis=0)
        sums = np.where(exposed, vals, 0.0).sum(axis=0)
        mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        return pd.DataFrame(
            {
                "option": self.values.columns,
                "raters_exposed": counts.astype(int),
                "ratings": self.exposure.to_numpy().sum(axis=0).astype(int),
                "mean_utility": mean,
            }
        )

    def _summary_title(self) -> str:
        return f"Utility table ({self.aggregate})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        exposed = self.exposure.to_numpy() > 0
        yield "raters", self.n_raters
        yield "options", int(self.values.shape[1])
        yield "share of cells exposed", float(exposed.mean()) if exposed.size else 0.0

    def plot(self, ax: Axes | None = None) -> Axes:
        """Mean utility per option over exposed raters (bars), annotated with exposure counts."""
        ax = get_axes(ax)
        frame = self.to_frame()
        bars = ax.bar(range(len(frame)), frame["mean_utility"].to_numpy())
        ax.set_xticks(range(len(frame)), [str(o) for o in frame["option"]], rotation=45, ha="right")
        for bar, n in zip(bars, frame["raters_exposed"]):
            ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_ylabel(f"mean utility ({self.aggregate})")
        return ax


def _filter_turn(frame: pd.DataFrame, turn: int | None, turn_column: str) -> pd.DataFrame:
    if turn is None:
        return frame
    if turn_column not in frame.columns:
        fail(ColumnError, "turn", f"keeps only turn {turn!r} but the data have no {turn_column!r} column",
             bad=[turn_column],
             fix="Pass turn=None to use every row (ratings without turns), or name the column "
             "with turn_column=.")
    return frame.loc[frame[turn_column].to_numpy() == turn]


def utility_table(
    ratings: pd.DataFrame,
    *,
    rater: str = "user_id",
    option: str = "model_name",
    score: str = "score",
    aggregate: Aggregate = "mean",
    chosen: str = "if_chosen",
    veto_threshold: float = 10.0,
    turn: int | None = 0,
    turn_column: str = "turn",
    raters: pd.DataFrame | None = None,
    raters_id: str | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
) -> UtilityTable:
    """Build the rater x option utility table from long-format ratings.

    Parameters
    ----------
    ratings : DataFrame
        One row per rated response (long format), e.g. PRISM's utterances.
    rater, option, score : str
        Column names of the rater id, the option (model) and the numeric score.
    aggregate : {"mean", "choice_rate", "veto_rate"}
        Cell value: the rater's mean ``score`` for the option; the share of the rater's exposures
        to the option in which it was chosen (column ``chosen``); or the share of them scored at or
        below ``veto_threshold`` (PRISM's veto: score <= 10).
    chosen : str
        Boolean column marking the chosen response (for ``"choice_rate"``).
    veto_threshold : float
        Scores at or below this count as a veto (for ``"veto_rate"``).
    turn : int or None
        Keep only rows with ``turn_column == turn`` (PRISM's first-turn ratings: ``0``); ``None``
        keeps every row.
    turn_column : str
        Column holding the turn number.
    raters : DataFrame, optional
        Rater-level covariates (e.g. the PRISM survey) attached to the result. Matched by the
        column ``raters_id`` (default: the ``rater`` name) or, when that column is absent, by the
        index. Rows then follow this frame's order (raters missing from it come last), and raters
        in it who rated nothing are kept as all-missing rows, so pools drawn from the survey
        behave as in PRISM.
    raters_id : str, optional
        Column of ``raters`` with the rater id (default: ``rater``).
    on_missing : {"raise", "drop"}
        Rows whose rater, option or value is missing: raise (default, listing them) or drop
        them.

    Returns
    -------
    UtilityTable
        ``.values`` (raters x options, NaN = not exposed) and ``.exposure`` (counts).

    Notes
    -----
    With ``aggregate="mean"``, :math:`u_{ij} = \\frac{1}{n_{ij}} \\sum_{r} s_{ijr}` over the
    :math:`n_{ij}` responses of option :math:`j` rated by rater :math:`i`; every rater counts once
    per option however many times they rated it (PRISM's member-mean utilities).

    References
    ----------
    Kirk, H. R. et al. (2024). The PRISM Alignment Dataset. NeurIPS Datasets and Benchmarks,
    section on welfare and sampling.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"user_id": [1, 1, 1, 2], "model_name": ["a", "a", "b", "b"],
    ...                   "score": [60, 80, 50, 90], "turn": 0})
    >>> u = utility_table(r)
    >>> float(u.values.loc[1, "a"]), int(u.exposure.loc[2, "a"])
    (70.0, 0)
    """
    frame = as_frame(ratings, "ratings")
    aggregate = check_option(aggregate, _AGGREGATES, "aggregate")
    on_missing = check_option(on_missing, ("raise", "drop"), "on_missing")
    value_column = chosen if aggregate == "choice_rate" else score
    check_columns(frame, [rater, option, value_column], "columns")
    frame = _filter_turn(frame, turn, turn_column)
    sub = frame[[rater, option, value_column]]
    missing = sub.isna().any(axis=1).to_numpy()
    if missing.any():
        if on_missing == "raise":
            fail(
                ValidationError,
                "ratings",
                f"{int(missing.sum())} rows have a missing {rater!r}, {option!r} or {value_column!r}",
                bad=list(sub.index[missing]),
                fix='Remove them first or pass on_missing="drop".',
            )
        sub = sub.loc[~missing]
    if aggregate == "choice_rate":
        raw = sub[value_column]
        if raw.dtype != bool and not set(pd.unique(raw)).issubset({0, 1}):
            fail(
                ValidationError,
                "chosen",
                "must hold booleans (or 0/1)",
                bad=[v for v in pd.unique(raw) if v not in (0, 1)],
            )
        values = raw.to_numpy().astype(float)
    else:
        values = as_float_array(sub[value_column].to_numpy(), "score")
        if aggregate == "veto_rate":
            threshold = float(veto_threshold)
            values = (values <= threshold).astype(float)
    rater_codes, rater_labels = pd.factorize(sub[rater], sort=True)
    option_codes, option_labels = pd.factorize(sub[option], sort=True)
    n_r, n_o = len(rater_labels), len(option_labels)
    flat = rater_codes * n_o + option_codes
    counts = np.bincount(flat, minlength=n_r * n_o).reshape(n_r, n_o)
    sums = np.bincount(flat, weights=values, minlength=n_r * n_o).reshape(n_r, n_o)
    with np.errstate(invalid="ignore", divide="ignore"):
        cells = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    index = pd.Index(rater_labels, name=rater)
    columns = pd.Index(option_labels, name=option)
    values_frame = pd.DataFrame(cells, index=index, columns=columns)
    exposure_frame = pd.DataFrame(counts.astype(np.int64), index=index, columns=columns)
    rater_frame = None
    if raters is not None:
        rater_frame = _rater_frame(raters, raters_id or rater)
        # rows follow the rater frame's order (e.g. the survey), then raters it lacks
        not_listed = index.difference(rater_frame.index, sort=False)
        full = pd.Index(rater_frame.index, name=rater).append(pd.Index(not_listed, name=rater))
        values_frame = values_frame.reindex(full)
        exposure_frame = exposure_frame.reindex(full, fill_value=0)
        rater_frame = rater_frame.reindex(full)
    return UtilityTable(values_frame, exposure_frame, aggregate, rater_frame)


def _rater_frame(raters: pd.DataFrame, id_column: str) -> pd.DataFrame:
    if not isinstance(raters, pd.DataFrame):
        fail(ValidationError, "raters", "must be a DataFrame", bad=[type(raters).__name__])
    out = raters.set_index(id_column) if id_column in raters.columns else raters
    if not out.index.is_unique:
        dup = out.index[out.index.duplicated()].unique()
        fail(
            ValidationError,
            "raters",
            "must have one row per rater",
            bad=list(dup),
            fix="Deduplicate the rater-level frame (e.g. the survey) first.",
        )
    return out


def pairwise_battles(
    utterances: pd.DataFrame,
    *,
    interaction: str = "interaction_id",
    rater: str = "user_id",
    option: str = "model_name",
    score: str = "score",
    tie_threshold: float = 0.0,
    turn: int | None = 0,
    turn_column: str = "turn",
) -> pd.DataFrame:
    """Pairwise battles between the responses rated within one interaction.

    Every pair of responses shown together (same ``interaction``) from two different options
    becomes one battle; the higher score wins, and scores within ``tie_threshold`` are a tie.

    Parameters
    ----------
    utterances : DataFrame
        Long-format ratings with an interaction id.
    interaction, rater, option, score : str
        Column names.
    tie_threshold : float
        ``|score_a - score_b| <= tie_threshold`` is a tie (default 0: only equal scores).
    turn : int or None
        Keep only this turn (default 0, the first turn where PRISM shows several models).
    turn_column : str
        Column with the turn number.

    Returns
    -------
    DataFrame
        Columns ``rater, interaction, winner, loser, tie, margin`` (``margin`` = winner's score
        minus loser's; for ties ``winner`` is the response listed first).

    Notes
    -----
    An interaction with :math:`k` responses from distinct options yields :math:`k(k-1)/2`
    battles; pairs of responses from the same option are skipped.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"user_id": 1, "interaction_id": "i1", "turn": 0,
    ...                   "model_name": ["a", "b", "c"], "score": [70, 40, 70]})
    >>> b = pairwise_battles(u)
    >>> b[["winner", "loser", "tie"]].values.tolist()
    [['a', 'b', False], ['a', 'c', True], ['c', 'b', False]]
    """
    frame = as_frame(utterances, "utterances")
    check_columns(frame, [interaction, rater, option, score], "columns")
    threshold = check_positive(tie_threshold, "tie_threshold", allow_zero=True)
    frame = _filter_turn(frame, turn, turn_column)
    sub = frame[[interaction, rater, option, score]]
    if sub.isna().any(axis=None):
        bad = sub.index[sub.isna().any(axis=1).to_numpy()]
        fail(
            ValidationError,
            "utterances",
            "rows with a missing interaction, rater, option or score cannot form battles",
            bad=list(bad),
            fix="Drop those rows first.",
        )
    scores = as_float_array(sub[score].to_numpy(), "score")
    inter_codes = pd.factorize(sub[interaction])[0]
    order = np.argsort(inter_codes, kind="stable")
    codes_sorted = inter_codes[order]
    starts = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    left_parts, right_parts = [], []
    for size in np.unique(sizes):
        if size < 2:
            continue
        group_starts = starts[sizes == size]
        i, j = np.triu_indices(size, k=1)
        left_parts.append((group_starts[:, None] + i[None, :]).ravel())
        right_parts.append((group_starts[:, None] + j[None, :]).ravel())
    if left_parts:
        left = order[np.concatenate(left_parts)]
        right = order[np.concatenate(right_parts)]
        pair_order = np.lexsort((right, left))
        left, right = left[pair_order], right[pair_order]
    else:
        left = right = np.zeros(0, dtype=np.int64)
    opts = sub[option].to_numpy()
    keep = opts[left] != opts[right]
    left, right = left[keep], right[keep]
    diff = scores[left] - scores[right]
    tie = np.abs(diff) <= threshold
    swap = (diff < 0) & ~tie
    win = np.where(swap, right, left)
    lose = np.where(swap, left, right)
    return pd.DataFrame(
        {
            "rater": sub[rater].to_numpy()[win],
            "interaction": sub[interaction].to_numpy()[win],
            "winner": opts[win],
            "loser": opts[lose],
            "tie": tie,
            "margin": np.abs(diff),
        }
    )


def choice_sets(
    utterances: pd.DataFrame,
    *,
    interaction: str = "interaction_id",
    rater: str = "user_id",
    option: str = "model_name",
    chosen: str = "if_chosen",
    turn: int | None = 0,
    turn_column: str = "turn",
    on_invalid: Literal["raise", "drop"] = "raise",
) -> pd.DataFrame:
    """Top-1 choice data: per interaction, the options shown and the one chosen.

    Parameters
    ----------
    utterances : DataFrame
        Long-format ratings with an interaction id and a boolean ``chosen`` column.
    interaction, rater, option, chosen : str
        Column names.
    turn : int or None
        Keep only this turn (default 0).
    turn_column : str
        Column with the turn number.
    on_invalid : {"raise", "drop"}
        Interactions without exactly one chosen response, or showing fewer than two distinct
        options: raise (default) or drop them.

    Returns
    -------
    DataFrame
        Columns ``rater, interaction, shown`` (tuple of distinct options in display order) and
        ``chosen``.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"user_id": 1, "interaction_id": "i1", "turn": 0,
    ...                   "model_name": ["a", "b"], "if_chosen": [False, True]})
    >>> choice_sets(u)[["shown", "chosen"]].values.tolist()
    [[('a', 'b'), 'b']]
    """
    frame = as_frame(utterances, "utterances")
    on_invalid = check_option(on_invalid, ("raise", "drop"), "on_invalid")
    check_columns(frame, [interaction, rater, option, chosen], "columns")
    frame = _filter_turn(frame, turn, turn_column)
    sub = frame[[interaction, rater, option, chosen]]
    inter_codes, inter_labels = pd.factorize(sub[interaction], sort=False)
    option_codes, option_labels = pd.factorize(sub[option], sort=False)
    picked = sub[chosen].astype(bool).to_numpy()
    k, n_opt = len(inter_labels), max(len(option_labels), 1)
    pair = inter_codes.astype(np.int64) * n_opt + option_codes
    # distinct options per interaction, in display order (first appearance)
    _, first = np.unique(pair, return_index=True)
    first = np.sort(first)
    order = first[np.argsort(inter_codes[first], kind="stable")]
    shown_counts = np.bincount(inter_codes[order], minlength=k)
    chosen_pairs = np.unique(pair[picked])
    chosen_count = np.bincount(chosen_pairs // n_opt, minlength=k)
    chosen_option = np.full(k, -1, dtype=np.int64)
    chosen_option[chosen_pairs // n_opt] = chosen_pairs % n_opt
    valid = (chosen_count == 1) & (shown_counts >= 2)
    if not valid.all() and on_invalid == "raise":
        fail(
            ValidationError,
            "utterances",
            "some interactions do not have exactly one chosen option among >= 2 shown",
            bad=list(inter_labels[~valid]),
            fix='Fix the data or pass on_invalid="drop".',
        )
    labels = option_labels.to_numpy(dtype=object)
    shown = np.split(labels[option_codes[order]], np.cumsum(shown_counts)[:-1])
    first_row = np.full(k, -1, dtype=np.int64)
    first_row[inter_codes[::-1]] = np.arange(len(inter_codes))[::-1]
    raters = sub[rater].to_numpy(dtype=object)[first_row]
    keep = np.flatnonzero(valid)
    rows = [
        (raters[i], inter_labels[i], tuple(shown[i]), labels[chosen_option[i]]) for i in keep
    ]
    return pd.DataFrame(rows, columns=["rater", "interaction", "shown", "chosen"]).astype(
        {"shown": object}
    )
