"""How well one opinion distribution (e.g. a model's) represents another (e.g. a group's).

OpinionQA's representativeness (Santurkar et al. 2023) is one minus the mean, over questions, of
the 1-Wasserstein distance between the two answer distributions on the ordinal answer scale,
normalised by the scale's range. Jensen–Shannon similarity and total variation are reported
alongside. Group distributions are survey-weighted.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_frame, as_weights, check_columns, fail
from estimators.errors import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RepresentativenessResult", "answer_distribution", "representativeness"]


def answer_distribution(
    responses: pd.DataFrame,
    *,
    question: str = "question",
    answer: str = "answer",
    weights: Any = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Survey-weighted answer shares per question (and group).

    Parameters
    ----------
    responses : DataFrame
        One row per answer given.
    question, answer : str
        Columns with the question id and the answer.
    weights : str, Series or array, optional
        Survey weight of each row (default 1).
    by : str, optional
        Group column; shares are computed within each group.

    Returns
    -------
    DataFrame
        Columns ``question`` (+ ``group``), ``answer``, ``share`` (summing to 1 per question and
        group), ``n`` (rows).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"question": "q1", "answer": [1, 1, 2], "w": [1.0, 1.0, 2.0]})
    >>> answer_distribution(r, weights="w")["share"].tolist()
    [0.5, 0.5]
    """
    frame = as_frame(responses, "responses")
    cols = [question, answer] + ([by] if by else [])
    check_columns(frame, cols, "columns")
    if frame[cols].isna().any(axis=None):
        bad = frame.index[frame[cols].isna().any(axis=1).to_numpy()]
        fail(ValidationError, "responses", "question, answer and group must not be missing",
             bad=list(bad), fix="Drop unanswered rows first.")
    w = as_weights(weights, frame, "weights")
    keys = ([by] if by else []) + [question, answer]
    work = frame[keys].assign(_w=w, _n=1)
    grouped = work.groupby(keys, sort=True, observed=True)[["_w", "_n"]].sum().reset_index()
    totals = grouped.groupby(([by] if by else []) + [question])["_w"].transform("sum")
    out = grouped.assign(share=grouped["_w"] / totals).rename(columns={"_n": "n"})
    out = out.rename(columns={question: "question", answer: "answer"})
    if by:
        out = out.rename(columns={by: "group"})
    return out[(["question", "group"] if by else ["question"]) + ["answer", "share", "n"]]


@dataclass(frozen=True)
class RepresentativenessResult(Result):
    """Representativeness of a target distribution for each group.

    Attributes
    ----------
    table : DataFrame
        Per group: ``representativeness`` (OpinionQA R), ``jensen_shannon_similarity``,
        ``total_variation`` (means over questions), ``questions``.
    per_question : DataFrame
        The same three measures per question and group.

    Examples
    --------
    >>> import pandas as pd
    >>> model = pd.DataFrame({"question": "q", "answer": [1, 2, 3], "share": [0.5, 0.5, 0.0]})
    >>> people = pd.DataFrame({"question": "q", "answer": [1, 2, 3], "share": [0.0, 0.5, 0.5]})
    >>> res = representativeness(model, people)
    >>> res.to_frame()[["group", "representativeness", "total_variation"]].values.tolist()
    [['all', 0.5, 0.5]]
    """

    table: pd.DataFrame
    per_question: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _summary_title(self) -> str:
        return "Representativeness"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "groups", len(self.table)
        yield "questions", int(self.per_question["question"].nunique())

    def plot(self, ax: Axes | None = None) -> Axes:
        """Representativeness per group (bars)."""
        ax = get_axes(ax)
        ax.bar(range(len(self.table)), self.table["representativeness"].to_numpy())
        ax.set_xticks(range(len(self.table)), [str(g) for g in self.table["group"]], rotation=45,
                      ha="right")
        ax.set_ylabel("representativeness R")
        ax.set_ylim(0, 1)
        return ax


def _levels_for(q: Hashable, answers: Iterable[Any], levels: Any) -> list:
    if levels is None:
        seen = list(pd.unique(pd.Series(list(answers), dtype=object)))
        try:
            return sorted(seen)
        except TypeError:
            fail(ValidationError, "levels", "answers cannot be ordered automatically",
                 bad=[q], fix="Pass levels= (the ordinal answer scale).")
    scale = list(levels[q]) if isinstance(levels, Mapping) else list(levels)
    unknown = [a for a in answers if a not in set(scale)]
    if unknown:
        fail(ValidationError, "levels", f"question {q!r} has answers outside the scale",
             bad=unknown)
    return scale


def representativeness(
    target: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    levels: Sequence[Any] | Mapping[Hashable, Sequence[Any]] | None = None,
) -> RepresentativenessResult:
    """OpinionQA representativeness, Jensen–Shannon similarity and total variation.

    Parameters
    ----------
    target : DataFrame
        The distribution being judged (e.g. a model's answer shares): columns ``question``,
        ``answer``, ``share`` (as from :func:`answer_distribution`).
    groups : DataFrame
        Reference distributions, same columns plus optional ``group`` (one distribution per
        group and question; e.g. survey-weighted human answers).
    levels : sequence or mapping, optional
        The ordinal answer scale (one list for all questions, or per question). Default: the
        sorted answers seen.

    Returns
    -------
    RepresentativenessResult
        ``.to_frame()``: ``group``, ``representativeness``, ``jensen_shannon_similarity``,
        ``total_variation``, ``questions``.

    Notes
    -----
    For question :math:`q` with ordinal scale of :math:`K_q` levels at positions
    :math:`0, \\dots, K_q - 1` and answer distributions :math:`p, g`:
    :math:`WD_q = \\sum_{k} |F_p(k) - F_g(k)|` (1-Wasserstein on the positions), and
    :math:`R = 1 - \\frac{1}{|Q|} \\sum_q WD_q / (K_q - 1)`.
    Jensen–Shannon similarity :math:`1 - JSD_2(p, g)` with base-2 logarithms (so it lies in
    [0, 1]); total variation :math:`\\frac12 \\sum_k |p_k - g_k|`. Questions missing from the
    target are skipped for that group.

    References
    ----------
    Santurkar, S. et al. (2023). Whose opinions do language models reflect? ICML.
    Lin, J. (1991). Divergence measures based on the Shannon entropy. *IEEE Trans. Inf. Theory*.

    Examples
    --------
    >>> import pandas as pd
    >>> model = pd.DataFrame({"question": "q", "answer": [1, 2, 3], "share": [1.0, 0.0, 0.0]})
    >>> people = pd.DataFrame({"question": "q", "answer": [1, 2, 3], "share": [0.0, 0.0, 1.0]})
    >>> float(representativeness(model, people).to_frame()["representativeness"].iloc[0])
    0.0
    """
    tgt = as_frame(target, "target")
    grp = as_frame(groups, "groups")
    check_columns(tgt, ["question", "answer", "share"], "target")
    check_columns(grp, ["question", "answer", "share"], "groups")
    for name, frame in (("target", tgt), ("groups", grp)):
        shares = frame["share"].to_numpy(dtype=float)
        if not np.isfinite(shares).all() or (shares < 0).any():
            fail(ValidationError, name, "shares must be finite and non-negative",
                 bad=list(frame.index[~(np.isfinite(shares) & (shares >= 0))]))
    if "group" not in grp.columns:
        grp = grp.assign(group="all")
    target_q = {q: sub for q, sub in tgt.groupby("question", sort=False)}
    rows = []
    for (group, q), sub in grp.groupby(["group", "question"], sort=False):
        if q not in target_q:
            continue
        t_sub = target_q[q]
        scale = _levels_for(q, list(sub["answer"]) + list(t_sub["answer"]), levels)
        pos = {a: k for k, a in enumerate(scale)}
        p = np.zeros(len(scale))
        g = np.zeros(len(scale))
        np.add.at(p, [pos[a] for a in t_sub["answer"]], t_sub["share"].to_numpy(dtype=float))
        np.add.at(g, [pos[a] for a in sub["answer"]], sub["share"].to_numpy(dtype=float))
        if p.sum() <= 0 or g.sum() <= 0:
            fail(ValidationError, "share", f"question {q!r} has no positive share", bad=[group])
        p, g = p / p.sum(), g / g.sum()
        wd = float(np.abs(np.cumsum(p) - np.cumsum(g))[:-1].sum())
        span = max(len(scale) - 1, 1)
        mid = 0.5 * (p + g)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
            kl_g = np.where(g > 0, g * np.log2(g / mid), 0.0).sum()
        jsd = 0.5 * (kl_p + kl_g)
        rows.append({"group": group, "question": q, "wasserstein": wd,
                     "representativeness": 1.0 - wd / span,
                     "jensen_shannon_similarity": 1.0 - float(jsd),
                     "total_variation": 0.5 * float(np.abs(p - g).sum())})
    if not rows:
        fail(ValidationError, "groups", "shares no question with the target",
             bad=list(grp["question"].unique()))
    per_q = pd.DataFrame(rows)
    table = per_q.groupby("group", sort=False).agg(
        representativeness=("representativeness", "mean"),
        jensen_shannon_similarity=("jensen_shannon_similarity", "mean"),
        total_variation=("total_variation", "mean"),
        questions=("question", "nunique"),
    ).reset_index()
    return RepresentativenessResult(table, per_q)
