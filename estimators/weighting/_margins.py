"""Weighting targets: parse margins and totals in every accepted form, check them against the data.

Accepted forms (``margins`` of ``rake``, ``totals`` of ``calibrate``, ``population`` of
``poststratify``):

* one-way margins ``{"sex": {"female": 0.51, "male": 0.49}}`` as shares (summing to 1) or counts;
  the inner mapping may also be a ``pd.Series`` indexed by category;
* joint margins with a tuple key ``{("age", "sex"): {("18-24", "female"): ..., ...}}``;
* a long DataFrame with columns ``variable``, ``category``, ``target`` (a joint margin has a tuple in
  ``variable`` and tuples in ``category``; a numeric total has a missing ``category``);
* numeric totals ``{"income": 1.2e9}`` (``calibrate`` only).

:func:`parse_targets` checks the structure of the targets alone. :func:`build_problem` then checks
them against the data (unknown columns, missing values, categories present on one side only, zero
targets, population totals) and returns a :class:`WeightingProblem`: the observed-cell table of the
weighting columns, the base weights, and every margin as target counts over its categories with a
cell -> category map. Every failure is a :class:`~estimators.MarginError` (or
:class:`~estimators.ColumnError`) raised before any iteration starts.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import check_columns, check_option, check_positive, fail
from estimators.errors import MarginError, ValidationError
from estimators.weighting._cells import CellTable, ColumnCodes, factorize_column, group_codes

__all__ = [
    "MISSING_LEVEL",
    "MarginTargets",
    "ParsedTargets",
    "ResolvedMargin",
    "WeightingProblem",
    "build_problem",
    "margin_name",
    "parse_targets",
]

MISSING_LEVEL = "(missing)"
"""The category label that missing values get with ``on_missing="level"``."""

SHARE_TOLERANCE = 1e-6
"""A margin whose targets sum to 1 within this is read as shares; otherwise as counts."""

OnMissing = Literal["raise", "level", "drop"]
OnEmptyCategory = Literal["raise", "drop"]
OnTotalMismatch = Literal["raise", "normalize"]


def margin_name(columns: Sequence[Hashable]) -> str:
    """Display name of a margin: ``"sex"`` or ``"age x sex"`` for a joint margin."""
    return " x ".join(str(c) for c in columns)


@dataclass(frozen=True)
class MarginTargets:
    """One categorical margin as given: its columns, category labels and target values."""

    columns: tuple[Hashable, ...]
    labels: tuple[Hashable, ...]
    values: np.ndarray

    @property
    def name(self) -> str:
        return margin_name(self.columns)

    @property
    def is_shares(self) -> bool:
        return abs(float(self.values.sum()) - 1.0) <= SHARE_TOLERANCE


@dataclass(frozen=True)
class ParsedTargets:
    """Categorical margins and numeric totals, structurally valid but not yet checked against data."""

    margins: tuple[MarginTargets, ...]
    numeric: tuple[tuple[Hashable, float], ...] = ()

    @property
    def columns(self) -> list[Hashable]:
        """Every categorical weighting column, in first-mentioned order."""
        out: list[Hashable] = []
        for m in self.margins:
            out += [c for c in m.columns if c not in out]
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _target_values(labels: Sequence[Hashable], raw: Sequence[Any], where: str, parameter: str) -> np.ndarray:
    values = np.empty(len(raw))
    bad: list[Any] = []
    for i, (label, v) in enumerate(zip(labels, raw)):
        try:
            values[i] = float(v)
        except (TypeError, ValueError):
            bad.append(f"{label}: {v!r}")
            continue
        if not math.isfinite(values[i]) or values[i] < 0:
            bad.append(f"{label}: {v!r}")
    if bad:
        fail(
            MarginError,
            parameter,
            f"targets of margin {where!r} must be finite non-negative numbers",
            bad=bad,
            fix="Give a share or a count (>= 0) for every category.",
        )
    return values


def _one_margin(key: Any, spec: Any, parameter: str) -> MarginTargets:
    columns = tuple(key) if isinstance(key, tuple) else (key,)
    name = margin_name(columns)
    if len(columns) == 0 or len(set(columns)) != len(columns):
        fail(MarginError, parameter, "a joint margin must name distinct columns", bad=[key])
    if isinstance(spec, pd.Series):
        labels = list(spec.index)
        raw = list(spec.to_numpy())
    elif isinstance(spec, Mapping):
        labels = list(spec.keys())
        raw = list(spec.values())
    else:
        fail(
            MarginError,
            parameter,
            f"margin {name!r} must map categories to targets (a dict or a Series)",
            bad=[type(spec).__name__],
            fix='Write e.g. {"sex": {"female": 0.51, "male": 0.49}}.',
        )
    if not labels:
        fail(MarginError, parameter, f"margin {name!r} has no categories", bad=[key])
    if len(columns) > 1:
        bad_keys = [lab for lab in labels if not (isinstance(lab, tuple) and len(lab) == len(columns))]
        if bad_keys:
            fail(
                MarginError,
                parameter,
                f"categories of the joint margin {name!r} must be tuples of {len(columns)} labels",
                bad=bad_keys,
                fix="Key each joint cell by a tuple, e.g. {('18-24', 'female'): 0.06, ...}.",
            )
    seen: set[Any] = set()
    dups = [lab for lab in labels if lab in seen or seen.add(lab)]  # type: ignore[func-returns-value]
    if dups:
        fail(MarginError, parameter, f"margin {name!r} repeats categories", bad=dups)
    values = _target_values(labels, raw, name, parameter)
    if values.sum() <= 0:
        fail(MarginError, parameter, f"targets of margin {name!r} sum to zero", bad=[key])
    return MarginTargets(columns, tuple(labels), values)


def _from_long_frame(frame: pd.DataFrame, parameter: str) -> dict[Any, Any]:
    required = ["variable", "category", "target"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        fail(
            MarginError,
            parameter,
            "a margins table needs the columns variable, category, target",
            bad=missing,
            fix=f"It has {list(frame.columns)}; rename the columns.",
        )
    out: dict[Any, Any] = {}
    for variable, category, target in frame[required].itertuples(index=False, name=None):
        if isinstance(variable, list):
            variable = tuple(variable)
        if isinstance(category, list):
            category = tuple(category)
        if not isinstance(category, tuple) and pd.isna(category):
            if variable in out:
                fail(MarginError, parameter, "a numeric total is given twice or mixed with categories",
                     bad=[variable])
            out[variable] = target
            continue
        inner = out.setdefault(variable, {})
        if not isinstance(inner, dict):
            fail(MarginError, parameter, "a numeric total is mixed with categories", bad=[variable])
        if category in inner:
            fail(MarginError, parameter, f"margin {variable!r} repeats categories", bad=[category])
        inner[category] = target
    return out


def parse_targets(
    targets: Any, *, parameter: str = "margins", allow_numeric: bool = False
) -> ParsedTargets:
    """Check the structure of margins (and numeric totals) and return them in one internal form.

    Parameters
    ----------
    targets : dict or DataFrame
        See the module docstring for the accepted forms.
    parameter : str
        Name used in error messages.
    allow_numeric : bool
        Whether numeric totals (``{"income": 1.2e9}``) are accepted (``calibrate``).

    Examples
    --------
    >>> p = parse_targets({"sex": {"f": 0.5, "m": 0.5}, ("age", "sex"): {("a", "f"): 10.0}})
    >>> [m.name for m in p.margins], p.margins[0].is_shares
    (['sex', 'age x sex'], True)
    """
    if isinstance(targets, pd.DataFrame):
        targets = _from_long_frame(targets, parameter)
    if not isinstance(targets, Mapping):
        fail(
            ValidationError,
            parameter,
            "must be a dict of margins or a DataFrame with columns variable, category, target",
            bad=[type(targets).__name__],
        )
    if not targets:
        fail(MarginError, parameter, "must contain at least one margin", bad=["<empty>"])
    margins: list[MarginTargets] = []
    numeric: list[tuple[Hashable, float]] = []
    for key, spec in targets.items():
        if _is_number(spec):
            if not allow_numeric:
                fail(
                    MarginError,
                    parameter,
                    "numeric totals are not categorical margins",
                    bad=[key],
                    fix="Use calibrate(...) for numeric totals, or give category targets here.",
                )
            if isinstance(key, tuple):
                fail(MarginError, parameter, "a numeric total names one column", bad=[key])
            value = float(spec)
            if not math.isfinite(value):
                fail(MarginError, parameter, f"the total of {key!r} must be finite", bad=[spec])
            numeric.append((key, value))
            continue
        margins.append(_one_margin(key, spec, parameter))
    if not margins and not numeric:
        fail(MarginError, parameter, "must contain at least one margin", bad=["<empty>"])
    _refuse_ambiguous_sums(margins, parameter)
    return ParsedTargets(tuple(margins), tuple(numeric))


AMBIGUOUS_SUMS = (0.8, 1.2)
"""Targets summing to 1 within SHARE_TOLERANCE are shares; a sum in this band otherwise is refused."""


def _refuse_ambiguous_sums(margins: Sequence[MarginTargets], parameter: str) -> None:
    """Shares and counts are told apart by their sum: 1 (within ``SHARE_TOLERANCE``) means shares.

    A sum near 1 but not within the tolerance (rounded shares summing to 0.99, or shares with a
    missing category) would otherwise be read as counts of a population of about one person, so
    the whole weighted total would shrink to it; it is refused instead of guessed.
    """
    low, high = AMBIGUOUS_SUMS
    ambiguous = [
        f"{m.name}: {float(m.values.sum()):.6g}"
        for m in margins
        if not m.is_shares and low <= float(m.values.sum()) <= high
    ]
    if ambiguous:
        fail(
            MarginError,
            parameter,
            f"targets of {len(ambiguous)} margin(s) sum to nearly but not exactly 1, so whether "
            "they are shares or counts is ambiguous",
            bad=ambiguous,
            fix="Give shares that sum to 1 (divide each margin by its sum) or counts of the "
            "population (multiply the shares by the population size).",
        )


# ---------------------------------------------------------------------------------------------
# Checking targets against data


@dataclass(frozen=True, eq=False)
class ResolvedMargin:
    """A margin checked against the data: target counts per category and the cell -> category map."""

    columns: tuple[Hashable, ...]
    labels: tuple[Hashable, ...]
    targets: np.ndarray
    cell_category: np.ndarray
    given_as: Literal["shares", "counts"]

    @property
    def name(self) -> str:
        return margin_name(self.columns)

    @property
    def n_categories(self) -> int:
        return len(self.labels)

    def category_sums(self, cell_values: np.ndarray) -> np.ndarray:
        """Sum per-cell values (shape (C,) or (C, R)) over this margin's categories."""
        if cell_values.ndim == 1:
            return np.bincount(self.cell_category, weights=cell_values, minlength=self.n_categories)
        out = np.zeros((self.n_categories, cell_values.shape[1]))
        np.add.at(out, self.cell_category, cell_values)
        return out


@dataclass(frozen=True, eq=False)
class WeightingProblem:
    """Everything a weighting kernel needs, validated: cells, base weights, margins, totals.

    Attributes
    ----------
    frame : DataFrame
        The caller's data (never modified).
    base_weights : ndarray (n,)
        Design weights; 0 for rows dropped with ``on_missing="drop"``.
    included : ndarray of bool (n,)
        False for rows dropped with ``on_missing="drop"``.
    cells : CellTable
        Observed cells of the weighting columns (included rows only).
    cell_base : ndarray (C,)
        Sum of base weights per cell.
    margins : tuple of ResolvedMargin
    numeric : tuple of (column, total, values (n,))
        Numeric totals with the column's values (0 on dropped rows).
    population_total : float
        The total every categorical margin sums to.
    dropped_rows : Index
        Labels of the rows dropped because of missing values.
    dropped_categories : tuple of (margin name, category)
        Target categories dropped with ``on_empty_category="drop"``.
    """

    frame: pd.DataFrame
    base_weights: np.ndarray
    included: np.ndarray
    cells: CellTable
    cell_base: np.ndarray
    margins: tuple[ResolvedMargin, ...]
    numeric: tuple[tuple[Hashable, float, np.ndarray], ...]
    population_total: float
    dropped_rows: pd.Index
    dropped_categories: tuple[tuple[str, Hashable], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.base_weights)

    def row_margin_codes(self) -> tuple[np.ndarray, ...]:
        """Per margin, the category code of every row (-1 for dropped rows)."""
        return tuple(
            self.cells.gather(m.cell_category, fill=-1).astype(np.intp) for m in self.margins
        )

    def model_matrix(self) -> Any:
        """Sparse (n, p) indicator matrix of all categories (then numeric columns), CSR."""
        import scipy.sparse as sp

        cells = self.cells.row_cells()
        keep = cells >= 0
        rows = np.flatnonzero(keep)
        blocks = []
        for m in self.margins:
            cat = m.cell_category[cells[keep]]
            blocks.append(
                sp.csr_matrix(
                    (np.ones(rows.size), (rows, cat)), shape=(self.n_rows, m.n_categories)
                )
            )
        for _, _, values in self.numeric:
            blocks.append(sp.csr_matrix(values.reshape(-1, 1)))
        return sp.hstack(blocks, format="csr")


def _codes_for(
    frame: pd.DataFrame, column: Hashable, on_missing: str
) -> ColumnCodes:
    codes = factorize_column(frame[column])
    if on_missing == "level" and codes.has_missing:
        new = codes.codes.astype(np.int32 if codes.n_levels < 2**31 - 1 else np.int64)
        new[new < 0] = codes.n_levels
        labels = codes.labels.append(pd.Index([MISSING_LEVEL], dtype=object))
        codes = ColumnCodes(new, labels)
    return codes


def _match_labels(given: Sequence[Hashable], data_labels: Sequence[Hashable]) -> np.ndarray:
    """Position in ``given`` of each data label (-1 if absent)."""
    lookup = {lab: i for i, lab in enumerate(given)}
    return np.array([lookup.get(lab, -1) for lab in data_labels], dtype=np.intp)


def _plain(label: Any) -> Any:
    if isinstance(label, tuple):
        return tuple(_plain(x) for x in label)
    return label.item() if isinstance(label, np.generic) else label


def build_problem(
    frame: pd.DataFrame,
    parsed: ParsedTargets,
    base_weights: np.ndarray,
    *,
    parameter: str = "margins",
    population_total: float | None = None,
    on_missing: OnMissing = "raise",
    on_empty_category: OnEmptyCategory = "raise",
    on_total_mismatch: OnTotalMismatch = "raise",
    total_tolerance: float = 1e-6,
    unit_base: bool = False,
) -> WeightingProblem:
    """Check parsed targets against the data and build the cell-level weighting problem.

    Parameters
    ----------
    frame : DataFrame
        The data (already checked by ``as_frame``).
    parsed : ParsedTargets
        From :func:`parse_targets`.
    base_weights : ndarray (n,)
        Finite non-negative design weights (from ``as_weights``).
    population_total : float, optional
        Population size. Shares are multiplied by it; count margins must agree with it. Default:
        the total of the count margins if any, else the sum of the base weights.
    on_missing : {"raise", "level", "drop"}
        Missing values in a weighting column: an error; their own category labelled
        ``"(missing)"`` (which then needs a target); or drop those rows (weight 0, listed in
        ``dropped_rows``).
    on_empty_category : {"raise", "drop"}
        A target category with no sample (or only zero base weights): an error, or drop it and
        rescale the margin's other targets to keep its total (listed in ``dropped_categories``).
    on_total_mismatch : {"raise", "normalize"}
        Count margins whose totals differ by more than ``total_tolerance`` (relative): an error, or
        read every margin as shares of the population total (``population_total`` if given, else
        the total of the first count margin).
    total_tolerance : float
        Relative tolerance for totals to agree.
    unit_base : bool
        The caller guarantees every base weight is 1 (no weights given): cell totals are then
        the row counts, which saves one pass over the rows.

    Notes
    -----
    Target counts: a margin given as shares ``p_k`` (summing to 1 within 1e-6) gets
    ``T * p_k / sum(p)`` with ``T`` the population total; a margin given as counts ``c_k`` gets
    ``T * c_k / sum(c)`` too, which changes nothing beyond ``total_tolerance`` because count
    totals must agree with ``T`` within it (or, with ``normalize``, are read as shares).
    """
    rules = _TargetRules(
        on_missing=check_option(on_missing, ("raise", "level", "drop"), "on_missing"),
        on_empty_category=check_option(on_empty_category, ("raise", "drop"), "on_empty_category"),
        on_total_mismatch=check_option(on_total_mismatch, ("raise", "normalize"),
                                       "on_total_mismatch"),
        total_tolerance=check_positive(total_tolerance, "total_tolerance"),
    )
    if population_total is not None:
        population_total = check_positive(population_total, "population_total")
    columns = parsed.columns
    numeric_cols = [c for c, _ in parsed.numeric]
    check_columns(frame, [*columns, *numeric_cols], parameter)
    if len(frame) == 0:
        fail(ValidationError, "data", "has no rows to weight", bad=[f"shape {frame.shape}"],
             fix="Check the file or filter that produced the data.")

    rows = _rows_with_values(frame, columns, numeric_cols, base_weights, parameter,
                             rules.on_missing)
    cells = CellTable.from_codes(
        columns,
        [rows.codes[c] for c in columns],
        include=None if rows.included.all() else rows.included,
        n_rows=len(frame),
    )
    cell_base = cells.sum_rows(None if unit_base else rows.base)
    matched = [_match_margin(m, cells, cell_base, parameter, rules.on_empty_category)
               for m in parsed.margins]
    total = _population_total(parsed.margins, population_total, rows.base, parameter, rules)
    margins = tuple(_resolved_margin(m, match, total, parameter)
                    for m, match in zip(parsed.margins, matched))
    numeric = tuple(
        (c, t, np.where(rows.included, rows.numeric_values[c], 0.0)) for c, t in parsed.numeric
    )
    return WeightingProblem(
        frame=frame,
        base_weights=rows.base,
        included=rows.included,
        cells=cells,
        cell_base=cell_base,
        margins=margins,
        numeric=numeric,
        population_total=float(total),
        dropped_rows=rows.dropped_rows,
        dropped_categories=tuple(d for match in matched for d in match.dropped),
        options=rules.as_dict(),
    )


@dataclass(frozen=True)
class _TargetRules:
    """How strictly targets are checked against the data (see :func:`build_problem`)."""

    on_missing: str
    on_empty_category: str
    on_total_mismatch: str
    total_tolerance: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "on_missing": self.on_missing,
            "on_empty_category": self.on_empty_category,
            "on_total_mismatch": self.on_total_mismatch,
            "total_tolerance": self.total_tolerance,
        }


@dataclass(frozen=True)
class _Rows:
    """The weighting columns coded, and which rows take part after missing values."""

    codes: dict[Hashable, ColumnCodes]
    numeric_values: dict[Hashable, np.ndarray]
    included: np.ndarray
    base: np.ndarray
    dropped_rows: pd.Index


@dataclass(frozen=True)
class _MarginMatch:
    """A margin's categories matched to the cells: cell -> category, base weight per category,
    and the target categories dropped for having no sample."""

    cell_category: np.ndarray
    sample_base: np.ndarray
    dropped: list[tuple[str, Hashable]]


def _rows_with_values(
    frame: pd.DataFrame,
    columns: list[Hashable],
    numeric_cols: list[Hashable],
    base_weights: np.ndarray,
    parameter: str,
    on_missing: str,
) -> _Rows:
    """Code the weighting columns and apply ``on_missing`` to rows with missing values."""
    n = len(frame)
    codes = {c: _codes_for(frame, c, on_missing) for c in columns}
    na_rows = np.zeros(n, dtype=bool)
    na_columns: list[Hashable] = []
    for c, cc in codes.items():
        if cc.has_missing:
            na_rows |= cc.missing
            na_columns.append(c)
    numeric_values: dict[Hashable, np.ndarray] = {}
    for c in numeric_cols:
        values = _numeric_column(frame, c, parameter)
        miss = np.isnan(values)
        if miss.any():
            na_rows |= miss
            na_columns.append(c)
        numeric_values[c] = values
    numeric_na = [c for c in na_columns if c in numeric_values]
    if (na_columns and on_missing == "raise") or (numeric_na and on_missing == "level"):
        fail(
            MarginError,
            parameter,
            f"weighting columns have missing values in {int(na_rows.sum())} rows",
            bad=na_columns,
            fix='Fill them, or pass on_missing="level" (own category "(missing)", categorical '
            'columns only) or on_missing="drop" (those rows get weight 0).',
        )
    drop = on_missing == "drop" and bool(na_rows.any())
    included = ~na_rows if drop else np.broadcast_to(True, (n,))
    base = np.where(included, base_weights, 0.0) if drop else base_weights
    dropped_rows = frame.index[na_rows] if drop else frame.index[:0]
    if drop and not included.any():
        fail(MarginError, parameter, "every row has a missing weighting value", bad=na_columns)
    return _Rows(codes, numeric_values, included, base, dropped_rows)


def _numeric_column(frame: pd.DataFrame, column: Hashable, parameter: str) -> np.ndarray:
    """A numeric total's column as float64 (NaN where missing); infinite values are an error."""
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64,
                                                                       na_value=np.nan)
    except (TypeError, ValueError):
        fail(MarginError, parameter, f"numeric total column {column!r} is not numeric",
             bad=[column], fix="Convert it with pd.to_numeric, or give category targets instead.")
    if np.isinf(values).any():
        fail(MarginError, parameter, f"column {column!r} has infinite values", bad=[column])
    return values


def _margin_groups(cells: CellTable, m: MarginTargets) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """Per cell, the code of its category of ``m`` in the data; the data labels; which are
    present in the cells."""
    col_pos = {c: j for j, c in enumerate(cells.columns)}
    js = [col_pos[c] for c in m.columns]
    if len(js) == 1:
        j = js[0]
        group = cells.cell_codes[j]
        data_labels = [_plain(x) for x in cells.labels[j]]
        present = np.zeros(len(data_labels), dtype=bool)
        present[group] = True
        return group, data_labels, present
    group, n_groups = group_codes(
        [cells.cell_codes[j] for j in js], [len(cells.labels[j]) for j in js]
    )
    rep = np.empty(n_groups, dtype=np.intp)
    rep[group] = np.arange(group.size)
    data_labels = [
        tuple(_plain(cells.labels[j][cells.cell_codes[j][r]]) for j in js) for r in rep
    ]
    return group, data_labels, np.ones(n_groups, dtype=bool)


def _match_margin(
    m: MarginTargets, cells: CellTable, cell_base: np.ndarray, parameter: str,
    on_empty_category: str,
) -> _MarginMatch:
    """Match a margin's target categories to the data: every populated category needs a
    positive target; a target category without sample is an error or dropped."""
    group, data_labels, present = _margin_groups(cells, m)
    pos = _match_labels(m.labels, data_labels)
    absent = [data_labels[i] for i in np.flatnonzero((pos < 0) & present)]
    if absent:
        what = "joint cells" if len(m.columns) > 1 else "categories"
        fail(
            MarginError,
            parameter,
            f"the data have {what} of {m.name!r} that have no target",
            bad=absent,
            fix="Add targets for them (0 is not allowed for populated categories), recode "
            "them into a category that has a target, or remove those rows explicitly. Labels "
            "are compared exactly (1 and '1' differ).",
        )
    cell_category = pos[group]
    sample_base = np.bincount(cell_category, weights=cell_base, minlength=len(m.labels))
    values = m.values
    zero_populated = [m.labels[k] for k in np.flatnonzero((values == 0) & (sample_base > 0))]
    if zero_populated:
        fail(
            MarginError,
            parameter,
            f"margin {m.name!r} has zero targets for categories that have sample rows",
            bad=zero_populated,
            fix="Raking cannot move weight to zero; remove those rows explicitly or give a "
            "positive target.",
        )
    empty = np.flatnonzero((values > 0) & (sample_base <= 0))
    if empty.size and on_empty_category == "raise":
        what = "joint cells" if len(m.columns) > 1 else "categories"
        fail(
            MarginError,
            parameter,
            f"margin {m.name!r} has target {what} with no sample (or only zero base weights)",
            bad=[m.labels[k] for k in empty],
            fix='Merge them with a neighbouring category, or pass on_empty_category="drop" '
            "to drop them and rescale the remaining targets.",
        )
    return _MarginMatch(cell_category, sample_base, [(m.name, m.labels[k]) for k in empty])


def _population_total(
    margins: Sequence[MarginTargets],
    population_total: float | None,
    base: np.ndarray,
    parameter: str,
    rules: _TargetRules,
) -> float:
    """The total every margin is put on; count margins must agree with it (or are normalised)."""
    count_totals = [(m.name, float(m.values.sum())) for m in margins if not m.is_shares]
    if population_total is not None:
        total = population_total
    elif count_totals:
        total = count_totals[0][1]
    else:
        total = float(base.sum())
    tolerance = rules.total_tolerance
    mismatched = [
        f"{name}: {t:.10g}" for name, t in count_totals if abs(t - total) > tolerance * total
    ]
    if mismatched and rules.on_total_mismatch == "raise":
        fail(
            MarginError,
            parameter,
            f"count margins disagree on the population total ({total:.10g}) beyond a relative "
            f"tolerance of {tolerance:g}",
            bad=mismatched,
            fix='Give shares, fix the counts, or pass on_total_mismatch="normalize" to read every '
            "margin as shares of the population total.",
        )
    return total


def _resolved_margin(
    m: MarginTargets, match: _MarginMatch, total: float, parameter: str
) -> ResolvedMargin:
    """Target counts on the population total, without the categories that have no sample."""
    cell_category = match.cell_category
    # shares, and counts that agree within the tolerance, are put on exactly the same total
    scale = total / float(m.values.sum())
    targets = m.values * scale
    keep = (targets > 0) & (match.sample_base > 0)
    # categories that are empty on both sides (target 0, no sample) are simply left out
    if not keep.all():
        kept_total = float(targets[keep].sum())
        margin_total = float(targets.sum())
        if kept_total <= 0:
            fail(MarginError, parameter, f"margin {m.name!r} has no category left", bad=[m.name])
        targets = targets[keep] * (margin_total / kept_total)
        new_pos = np.full(len(m.labels), -1, dtype=np.intp)
        new_pos[keep] = np.arange(int(keep.sum()))
        cell_category = new_pos[cell_category]
        labels = tuple(lab for lab, k in zip(m.labels, keep) if k)
    else:
        labels = m.labels
    return ResolvedMargin(
        columns=m.columns,
        labels=labels,
        targets=np.asarray(targets, dtype=np.float64),
        cell_category=np.asarray(cell_category, dtype=np.intp),
        given_as="shares" if m.is_shares else "counts",
    )
