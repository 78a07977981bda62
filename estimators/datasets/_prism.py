"""Loading the PRISM Alignment Dataset (survey, conversations, utterances) into tidy frames.

PRISM (Kirk et al. 2024) ships three tables: ``survey`` (one row per participant, with nested
fields such as ``ethnicity = {"simplified": ..., ...}``), ``conversations`` (one row per
conversation with a nested ``conversation_history``) and ``utterances`` (one row per rated model
response). They come as JSON Lines in the project repository and as Parquet on Hugging Face;
CSV exports are also common. :func:`load_prism` reads any of these, flattens nested survey fields
to ``<field>_<subfield>`` columns (``ethnicity_simplified``, the names PRISM's own notebooks use)
and returns them as a :class:`PrismData` result.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import check_option, fail
from estimators.errors import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PrismData", "load_prism", "read_prism_table", "utterances_from_conversations"]

TableName = Literal["survey", "conversations", "utterances"]
_TABLES: tuple[TableName, ...] = ("survey", "conversations", "utterances")
_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


@dataclass(frozen=True)
class PrismData(Result):
    """The PRISM tables as tidy frames.

    Attributes
    ----------
    survey : DataFrame
        One row per participant; nested fields flattened to ``<field>_<subfield>`` columns.
    conversations : DataFrame or None
        One row per conversation (``conversation_history`` kept as a list of dicts).
    utterances : DataFrame
        One row per rated model response (``user_id, conversation_id, interaction_id, turn,
        model_name, score, if_chosen, ...``). Built from ``conversations`` when the utterances
        file is absent.
    source : str
        Where the tables were read from.

    Examples
    --------
    >>> data = load_prism()
    >>> len(data.survey), len(data.utterances)
    (48, 738)
    >>> "user_id" in data.conversations.columns
    True
    """

    survey: pd.DataFrame
    conversations: pd.DataFrame | None
    utterances: pd.DataFrame
    source: str

    def ratings(self, *, turn: int | None = 0, with_survey: bool = True) -> pd.DataFrame:
        """Rated responses (optionally only one ``turn``), joined to the survey by ``user_id``.

        The join is a left join on the utterances: every rating is kept, and survey columns that
        clash with utterance columns get a ``_survey`` suffix.
        """
        utt = self.utterances
        if turn is not None and "turn" in utt.columns:
            utt = utt.loc[utt["turn"].to_numpy() == turn]
        if not with_survey:
            return utt.reset_index(drop=True)
        return utt.merge(self.survey, on="user_id", how="left", suffixes=("", "_survey"))

    def to_frame(self) -> pd.DataFrame:
        rows = [("survey", len(self.survey), self.survey.shape[1])]
        if self.conversations is not None:
            rows.append(("conversations", len(self.conversations), self.conversations.shape[1]))
        rows.append(("utterances", len(self.utterances), self.utterances.shape[1]))
        return pd.DataFrame(rows, columns=["table", "rows", "columns"])

    def _summary_title(self) -> str:
        return "PRISM data"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        utt = self.utterances
        yield "source", self.source
        yield "participants", int(self.survey["user_id"].nunique())
        if "model_name" in utt.columns:
            yield "models", int(utt["model_name"].nunique())
        if "interaction_id" in utt.columns:
            yield "interactions", int(utt["interaction_id"].nunique())

    def plot(self, ax: Axes | None = None) -> Axes:
        """Histogram of the 1-100 scores of the rated responses."""
        ax = get_axes(ax)
        ax.hist(self.utterances["score"].dropna().to_numpy(dtype=float), bins=20)
        ax.set_xlabel("score")
        ax.set_ylabel("rated responses")
        ax.set_title("PRISM scores")
        return ax


def _find_file(folder: Path, table: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = folder / f"{table}{suffix}"
        if candidate.exists():
            return candidate
    hits = sorted(p for p in folder.glob(f"{table}*") if p.suffix in _SUFFIXES)
    return hits[0] if hits else None


def _parse_nested(value: Any) -> Any:
    """Turn a JSON / Python-literal string holding a dict or list into that object."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return value
    return value


def _flatten_nested(frame: pd.DataFrame, *, keep: Iterable[str] = ()) -> pd.DataFrame:
    """Expand dict-valued columns into ``<column>_<key>`` columns (one level, recursively)."""
    keep_set = set(keep)
    frame = frame.rename(columns=lambda c: c.replace(".", "_") if isinstance(c, str) else c)
    out: dict[str, Any] = {}
    for column in frame.columns:
        series = frame[column]
        if column in keep_set or not (
            pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        ):
            out[column] = series
            continue
        parsed = series.map(_parse_nested)
        is_dict = parsed.map(lambda v: isinstance(v, Mapping))
        if not bool(is_dict.any()):
            out[column] = parsed
            continue
        expanded = pd.DataFrame(
            [dict(v) if isinstance(v, Mapping) else {} for v in parsed], index=frame.index
        )
        expanded = _flatten_nested(expanded)
        for sub in expanded.columns:
            out[f"{column}_{sub}"] = expanded[sub]
    return pd.DataFrame(out, index=frame.index)


def read_prism_table(path: str | Path, table: TableName) -> pd.DataFrame:
    """Read one PRISM table from a JSON Lines, JSON, Parquet or CSV file.

    Parameters
    ----------
    path : str or Path
        The file.
    table : {"survey", "conversations", "utterances"}
        Which table it holds (decides how nested fields are treated).

    Returns
    -------
    DataFrame
        ``survey``: nested fields flattened to ``<field>_<subfield>``; ``conversations``:
        ``conversation_history`` parsed to a list of dicts; ``utterances``: as stored, with
        ``if_chosen`` as bool.

    Examples
    --------
    >>> from estimators.datasets import prism_sample_path
    >>> survey = read_prism_table(prism_sample_path() / "survey.jsonl", "survey")
    >>> "ethnicity_simplified" in survey.columns
    True
    """
    table = check_option(table, _TABLES, "table")
    path = Path(path)
    if not path.exists():
        fail(ValidationError, "path", "file does not exist", bad=[str(path)])
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype=False)
    elif suffix == ".json":
        try:
            frame = pd.read_json(path, dtype=False)
        except ValueError:
            frame = pd.read_json(path, lines=True, dtype=False)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        fail(
            ValidationError,
            "path",
            "must end in .jsonl, .json, .parquet or .csv",
            bad=[str(path)],
        )
    if table == "survey":
        return _flatten_nested(frame)
    if table == "conversations":
        frame = frame.copy()
        if "conversation_history" in frame.columns:
            frame["conversation_history"] = frame["conversation_history"].map(_as_list)
        return frame
    frame = frame.rename(columns=lambda c: c.replace(".", "_") if isinstance(c, str) else c)
    if "if_chosen" in frame.columns:
        frame = frame.assign(if_chosen=_as_bool(frame["if_chosen"]))
    return frame


def _as_list(value: Any) -> list[dict[str, Any]]:
    value = _parse_nested(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return [dict(v) for v in value] if isinstance(value, (list, tuple)) else []


def _as_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    return series.map(lambda v: v if isinstance(v, (bool, np.bool_)) else mapping.get(str(v).lower()))


def utterances_from_conversations(conversations: pd.DataFrame) -> pd.DataFrame:
    """Long table of rated model responses built from the nested ``conversation_history``.

    One row per model turn with ``user_id, conversation_id, interaction_id (<conversation>_t<turn>),
    utterance_id, turn, within_turn_id, model_name, score, if_chosen``.

    Examples
    --------
    >>> from estimators.datasets import prism_sample_path
    >>> conv = read_prism_table(prism_sample_path() / "conversations.jsonl", "conversations")
    >>> len(utterances_from_conversations(conv))
    738
    """
    rows: list[dict[str, Any]] = []
    for conv_id, user_id, conv_type, history in zip(
        conversations["conversation_id"],
        conversations["user_id"],
        conversations.get("conversation_type", pd.Series([None] * len(conversations))),
        conversations["conversation_history"].map(_as_list),
    ):
        for entry in history:
            if entry.get("role") != "model":
                continue
            turn = int(entry.get("turn", 0))
            within = entry.get("within_turn_id")
            interaction = f"{conv_id}_t{turn}"
            rows.append(
                {
                    "user_id": user_id,
                    "conversation_id": conv_id,
                    "interaction_id": interaction,
                    "utterance_id": f"{interaction}_u{within}",
                    "within_turn_id": within,
                    "conversation_type": conv_type,
                    "turn": turn,
                    "model_name": entry.get("model_name"),
                    "model_provider": entry.get("model_provider"),
                    "score": entry.get("score"),
                    "if_chosen": bool(entry.get("if_chosen", False)),
                }
            )
    return pd.DataFrame(rows)


def load_prism(
    path: str | Path | None = None,
    *,
    survey: str | Path | None = None,
    conversations: str | Path | None = None,
    utterances: str | Path | None = None,
) -> PrismData:
    """Load PRISM's survey, conversations and utterances tables.

    Parameters
    ----------
    path : str or Path, optional
        A folder holding ``survey.*``, ``conversations.*`` and ``utterances.*`` (``.jsonl``,
        ``.json``, ``.parquet`` or ``.csv``). ``None`` loads the embedded PRISM-schema synthetic
        sample (:func:`estimators.datasets.prism_sample_path`).
    survey, conversations, utterances : str or Path, optional
        Explicit file paths; they override what is found in ``path``. The survey is required;
        utterances are built from conversations when only those are given.

    Returns
    -------
    PrismData
        ``.survey`` (nested fields flattened to ``<field>_<subfield>``, e.g.
        ``ethnicity_simplified``, ``location_reside_country``), ``.conversations``,
        ``.utterances``; ``.ratings(turn=0)`` joins ratings to the survey.

    Notes
    -----
    Flattening is one rule for all nested fields: a dict-valued column ``c`` with key ``k``
    becomes the column ``c_k`` (dotted names in CSV exports, ``c.k``, are renamed the same way),
    matching the names PRISM's analysis notebooks create with ``pd.json_normalize``.

    References
    ----------
    Kirk, H. R. et al. (2024). The PRISM Alignment Dataset: What Participatory, Representative
    and Individualised Human Feedback Reveals About the Subjective and Multicultural Alignment of
    Large Language Models. NeurIPS Datasets and Benchmarks.

    Examples
    --------
    >>> data = load_prism()
    >>> int(data.survey["user_id"].nunique()), len(data.utterances)
    (48, 738)
    >>> sorted(data.utterances["turn"].unique().tolist())[:2]
    [0, 1]
    """
    if path is None and survey is None:
        from estimators.datasets._census import prism_sample_path

        path = prism_sample_path()
    folder = Path(path) if path is not None else None
    if folder is not None and not folder.is_dir():
        fail(
            ValidationError,
            "path",
            "must be a folder holding the PRISM files",
            bad=[str(folder)],
            fix="Pass the folder, or the files via survey=, conversations=, utterances=.",
        )
    files: dict[str, Path | None] = {}
    for name, explicit in (
        ("survey", survey),
        ("conversations", conversations),
        ("utterances", utterances),
    ):
        files[name] = Path(explicit) if explicit is not None else (
            _find_file(folder, name) if folder is not None else None
        )
    if files["survey"] is None:
        fail(
            ValidationError,
            "path",
            "no survey file found (survey.jsonl, .json, .parquet or .csv)",
            bad=[str(folder)],
            fix="Point path= at the folder with PRISM's files or pass survey=.",
        )
    if files["utterances"] is None and files["conversations"] is None:
        fail(
            ValidationError,
            "path",
            "neither an utterances nor a conversations file was found",
            bad=[str(folder)],
            fix="PRISM ratings live in utterances.* (or conversations.*); pass one of them.",
        )
    survey_frame = read_prism_table(files["survey"], "survey")
    conv_frame = (
        read_prism_table(files["conversations"], "conversations")
        if files["conversations"] is not None
        else None
    )
    if files["utterances"] is not None:
        utt_frame = read_prism_table(files["utterances"], "utterances")
    else:
        utt_frame = utterances_from_conversations(conv_frame)  # type: ignore[arg-type]
    source = str(folder) if folder is not None else str(files["survey"].parent)
    return PrismData(survey_frame, conv_frame, utt_frame, source)
