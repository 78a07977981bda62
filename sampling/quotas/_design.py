"""Census-representative quotas: a census table (joint or margins) in, integer quotas out.

``design_quotas`` accepts the tidy output of :func:`estimators.datasets.census`, a user's joint table
of counts or shares, or margins only (a ``{variable: {category: value}}`` mapping or a long frame
with ``variable, category`` columns). From margins only the joint table is estimated by iterative
proportional fitting of a seed table (raking, :func:`estimators.rake`) or, without a seed, by
independence. Quotas are then apportioned per cell (interlocked) or per margin (non-interlocked).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators import rake
from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_float_array, as_int, check_columns, check_option, fail
from estimators.errors import DataWarning, InfeasibleError, MarginError, ValidationError
from sampling.quotas._apportionment import (
    METHODS,
    ApportionmentMethod,
    _apportion_array,
    _check_minimum,
)
from sampling.quotas._controlled_rounding import controlled_round

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["QuotaPlan", "design_quotas"]

QuotaMethod = Literal[ApportionmentMethod, "controlled"]
QUOTA_METHODS: tuple[str, ...] = (*METHODS, "controlled")
VALUE_COLUMNS = ("count", "share", "target")
NON_VARIABLE_COLUMNS = frozenset(
    {"count", "share", "target", "exact", "quota", "deviation", "relative_deviation", "weight"}
)
SHARE_TOLERANCE = 1e-6
CELL_SEPARATOR = "|"


@dataclass(frozen=True)
class QuotaPlan(Result):
    """Integer recruitment quotas and how far they are from exact proportions.

    Attributes
    ----------
    n : int
        Total sample size; the quotas sum to it (per variable for non-interlocked quotas).
    variables : tuple of str
        Quota variables, in order.
    method : str
        Apportionment method used.
    interlocked : bool
        True: one quota per joint cell; False: one quota per category of each variable.
    minimum : int
        Places guaranteed to every populated cell (category, when not interlocked).
    cells : DataFrame
        One row per joint cell: the variables, ``share`` (census share of the cell), ``exact``
        (``n * share``) and, when interlocked, ``quota`` and ``deviation`` (quota - exact).
    margins : DataFrame
        One row per variable and category: ``variable, category, share, exact, quota, deviation``
        (for interlocked quotas, the margins implied by the cell quotas).
    joint_source : str
        Where the joint shares came from: ``"table"``, ``"raking"`` (margins fitted to a seed
        table) or ``"independence"`` (product of the margins).

    Examples
    --------
    >>> from estimators.datasets import census
    >>> uk = census("uk", ["sex"])
    >>> plan = design_quotas(uk, n=101, method="hamilton")
    >>> int(plan.quotas.sum()), plan.to_frame().shape[0]
    (101, 2)
    """

    n: int
    variables: tuple[str, ...]
    method: str
    interlocked: bool
    minimum: int
    cells: pd.DataFrame
    margins: pd.DataFrame
    joint_source: str

    @property
    def quotas(self) -> pd.Series:
        """Integer quotas: indexed by cell (interlocked) or by (variable, category)."""
        if self.interlocked:
            index = pd.MultiIndex.from_frame(self.cells[list(self.variables)])
            return pd.Series(self.cells["quota"].to_numpy(), index=index, name="quota")
        index = pd.MultiIndex.from_frame(self.margins[["variable", "category"]])
        return pd.Series(self.margins["quota"].to_numpy(), index=index, name="quota")

    @property
    def empty_populated(self) -> pd.DataFrame:
        """Rows of :meth:`to_frame` with a positive census share but a quota of 0."""
        frame = self.to_frame()
        return frame[(frame["share"] > 0) & (frame["quota"] == 0)]

    def to_frame(self) -> pd.DataFrame:
        """Cells with quotas (interlocked) or margins with quotas (non-interlocked)."""
        return (self.cells if self.interlocked else self.margins).copy()

    def deviation_summary(self) -> pd.DataFrame:
        """Max and total absolute deviation from exact, for cells and for margins."""
        rows = []
        if self.interlocked:
            d = self.cells["deviation"].abs()
            rows.append(("cells", len(d), float(d.max()), float(d.sum())))
        for var, group in self.margins.groupby("variable", sort=False):
            d = group["deviation"].abs()
            rows.append((f"margin {var}", len(d), float(d.max()), float(d.sum())))
        return pd.DataFrame(rows, columns=["level", "count", "max_abs_deviation", "sum_abs_deviation"])

    def _summary_title(self) -> str:
        kind = "interlocked" if self.interlocked else "non-interlocked (margins)"
        return f"QuotaPlan: {kind} quotas by {self.method}"

    def _summary_facts(self) -> list[tuple[str, Any]]:
        facts: list[tuple[str, Any]] = [
            ("n", self.n),
            ("variables", " x ".join(self.variables)),
            ("method", self.method),
            ("minimum per cell", self.minimum),
            ("joint shares from", self.joint_source),
        ]
        if self.interlocked:
            d = self.cells["deviation"].abs()
            facts += [
                ("cells", len(self.cells)),
                ("populated cells with quota 0", len(self.empty_populated)),
                ("max |quota - exact| per cell", float(d.max())),
                ("sum |quota - exact| over cells", float(d.sum())),
            ]
        facts.append(("max |quota - exact| per margin", float(self.margins["deviation"].abs().max())))
        return facts

    def plot(self, ax: Axes | None = None) -> Axes:
        """Quota (bars) against the exact proportional quota (points), per cell or category."""
        ax = get_axes(ax, figsize=(max(6.0, 0.18 * len(self.to_frame())), 4.0))
        frame = self.to_frame()
        if self.interlocked:
            labels = frame[list(self.variables)].astype(str).agg(CELL_SEPARATOR.join, axis=1)
        else:
            labels = frame["variable"].astype(str) + "=" + frame["category"].astype(str)
        positions = np.arange(len(frame))
        ax.bar(positions, frame["quota"], color="#9ecae1", label="quota")
        ax.plot(positions, frame["exact"], "o", color="#d62728", markersize=3, label="exact")
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
        ax.set_ylabel("places")
        ax.set_title(f"Quotas ({self.method}, n = {self.n}) vs exact proportions")
        ax.legend()
        return ax


# --------------------------------------------------------------------------- input handling


def _check_value_column(frame: pd.DataFrame, value: str | None, parameter: str) -> str:
    if value is not None:
        check_columns(frame, [value], "value")
        return value
    for candidate in VALUE_COLUMNS:
        if candidate in frame.columns:
            return candidate
    fail(
        MarginError,
        parameter,
        "needs a column of counts or shares named 'count', 'share' or 'target'",
        bad=list(frame.columns),
        fix="Rename the column or pass value='<column>'.",
    )


def _values(raw: Any, parameter: str) -> np.ndarray:
    if isinstance(raw, pd.Series) and isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "iuf":
        numbers = raw.to_numpy()
    else:
        numbers = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy()
    return as_float_array(numbers, parameter, nonnegative=True)


def _check_total(total: float, is_share: bool, normalize: bool, parameter: str) -> None:
    if total <= 0:
        fail(MarginError, parameter, "values must not all be zero", bad=[total])
    if is_share and not normalize and abs(total - 1.0) > SHARE_TOLERANCE:
        fail(
            MarginError,
            parameter,
            f"shares must sum to 1 (within {SHARE_TOLERANCE:g})",
            bad=[round(total, 10)],
            fix="Fix the table, or pass normalize=True to rescale the shares to sum to 1.",
        )


# the dtype ``astype(str)`` gives (pandas' string dtype, or object before pandas 3)
STR_DTYPE = pd.Series(["a"], dtype=object).astype(str).dtype


def _strings(values: np.ndarray) -> Any:
    return pd.array(values, dtype=STR_DTYPE)


@dataclass(frozen=True)
class _Cells:
    """Joint cells: per variable, each cell's code into the sorted labels (strings), and shares."""

    variables: list[str]
    codes: list[np.ndarray]
    labels: list[np.ndarray]
    share: np.ndarray

    def frame(self) -> pd.DataFrame:
        columns = {v: _strings(lab[c]) for v, c, lab in zip(self.variables, self.codes, self.labels)}
        return pd.DataFrame({**columns, "share": self.share})


def _factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 where missing) into the sorted distinct labels of a string column."""
    return pd.factorize(column.to_numpy(), sort=True)


def _is_str(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan


@functools.cache
def _segment_sums() -> bool:
    """Whether pandas' groupby-sum adds up groups with sorted ids segment by segment.

    pandas 3.1 does (``np.add.reduceat``), earlier versions use compensated summation for every
    grouping; decided once on values where the two differ in the last bit.
    """
    values = np.array([0.637, 0.27, 0.041, 0.017, 0.813, 0.913])
    by_pandas = pd.Series(values).groupby(np.zeros(values.size, dtype=np.intp)).sum().to_numpy()
    return bool(by_pandas[0] == np.add.reduceat(values, [0])[0])


def _group_sum(ids: np.ndarray, values: np.ndarray, ngroups: int) -> np.ndarray:
    """Per-group sums of ``values`` (every group present), added up as pandas' groupby-sum does.

    Group ids that never decrease are summed segment by segment (``np.add.reduceat``) where pandas
    does so; otherwise by compensated (Kahan) summation in row order, so the last bits agree with
    ``groupby().sum()`` (and with quotas designed by earlier versions of this function).
    """
    if ids.size == ngroups:
        out = np.empty(ngroups)
        out[ids] = values
        return out
    step = np.diff(ids)
    if not (step < 0).any() and _segment_sums():
        return np.add.reduceat(values, np.flatnonzero(np.concatenate(([1], step))))
    total = [0.0] * ngroups
    carry = [0.0] * ngroups
    for g, v in zip(ids.tolist(), values.tolist()):
        y = v - carry[g]
        t = total[g] + y
        carry[g] = t - total[g] - y
        total[g] = t
    return np.array(total)


def _cell_ids(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows -> (cell id in lexicographic order of the codes, first row of each cell, cells)."""
    if math.prod(sizes) < 2**62:
        key = np.ravel_multi_index(codes, sizes)
    else:
        key = codes[0].astype(np.int64)
        for code, size in zip(codes[1:], sizes[1:]):
            if (int(key.max()) + 1) * size >= 2**62:
                key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            key = key * size + code
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.empty(key.size, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ids = np.empty(key.size, dtype=np.intp)
    ids[order] = np.cumsum(new) - 1
    first = order[new]
    return ids, first, first.size


def _joint_from_frame(
    frame: pd.DataFrame,
    variables: Sequence[str] | None,
    value: str | None,
    values: str,
    normalize: bool,
) -> _Cells:
    """Joint table -> cells (labels compared as strings, sorted) with their shares."""
    column = _check_value_column(frame, value, "table")
    if variables is None:
        variables = [c for c in frame.columns if c not in NON_VARIABLE_COLUMNS and c != column]
    variables = [str(v) for v in variables]
    check_columns(frame, variables, "variables")
    if not variables:
        fail(MarginError, "variables", "the table has no variable columns", bad=list(frame.columns))
    codes, labels = [], []
    missing: np.ndarray | None = None
    for var in variables:
        col = frame[var]
        if not _is_str(col.dtype):
            na = col.isna().to_numpy()
            missing = na if missing is None else missing | na
            col = col.astype(str)
        code, uniques = _factorize(col)
        codes.append(code)
        labels.append(uniques)
        na = code < 0
        missing = na if missing is None else missing | na
    assert missing is not None
    if missing.any():
        fail(
            MarginError,
            "table",
            f"variable columns must not be missing; {int(missing.sum())} rows are",
            bad=list(frame.index[missing]),
        )
    amounts = _values(frame[column], f"table[{column!r}]")
    is_share = values == "shares" or (values == "auto" and column == "share")
    _check_total(float(amounts.sum()), is_share, normalize, f"table[{column!r}]")
    ids, first, ncells = _cell_ids(codes, [len(lab) for lab in labels])
    share = _group_sum(ids, amounts, ncells)
    return _Cells(variables, [code[first] for code in codes], labels, share / share.sum())


def _cells_of_frame(cells: pd.DataFrame, variables: list[str]) -> _Cells:
    codes, labels = [], []
    for var in variables:
        code, uniques = _factorize(cells[var])
        codes.append(code)
        labels.append(uniques)
    return _Cells(variables, codes, labels, cells["share"].to_numpy())


def _margins_from_input(
    table: Any, variables: Sequence[str] | None, value: str | None, values: str, normalize: bool
) -> dict[str, pd.Series]:
    """Margins-only input -> {variable: Series(category -> share)} in the requested order."""
    raw: dict[str, dict[str, float]] = {}
    if isinstance(table, Mapping):
        for var, cats in table.items():
            if not isinstance(cats, Mapping):
                fail(
                    MarginError,
                    "table",
                    "a margins mapping must map each variable to {category: value}",
                    bad=[var],
                )
            raw[str(var)] = {str(c): v for c, v in cats.items()}
    else:
        column = _check_value_column(table, value, "table")
        for var, group in table.groupby("variable", sort=False):
            raw[str(var)] = dict(zip(group["category"].astype(str), group[column]))
    chosen = list(raw) if variables is None else [str(v) for v in variables]
    unknown = [v for v in chosen if v not in raw]
    if unknown:
        fail(
            MarginError,
            "variables",
            "names variables that are not in the margins",
            bad=unknown,
            fix=f"Available: {', '.join(raw)}.",
        )
    out: dict[str, pd.Series] = {}
    totals = {}
    for var in chosen:
        amounts = _values(list(raw[var].values()), f"table[{var!r}]")
        is_share = values == "shares" or (values == "auto" and bool((amounts <= 1.0).all()))
        _check_total(float(amounts.sum()), is_share, normalize, f"table[{var!r}]")
        totals[var] = float(amounts.sum())
        out[var] = pd.Series(amounts / amounts.sum(), index=list(raw[var].keys()), name=var)
    spread = max(totals.values()) - min(totals.values())
    if not normalize and spread > SHARE_TOLERANCE * max(totals.values()):
        fail(
            MarginError,
            "table",
            "margins of different variables must have the same total",
            bad=[f"{v}: {t:g}" for v, t in totals.items()],
            fix="Correct the margins, or pass normalize=True to rescale each to shares.",
        )
    return out


def _is_margins(table: Any) -> bool:
    if isinstance(table, Mapping):
        return True
    return "variable" in table.columns and "category" in table.columns


def _joint_from_margins(
    margins: dict[str, pd.Series], seed_table: Any, value: str | None
) -> tuple[pd.DataFrame, str]:
    """Estimate the joint shares over the full product of the margins' categories."""
    variables = list(margins)
    product = pd.DataFrame(
        list(itertools.product(*(margins[v].index for v in variables))), columns=variables
    )
    if seed_table is None:
        share = np.ones(len(product))
        for var in variables:
            share = share * margins[var].reindex(product[var]).to_numpy()
        product["share"] = share
        return product, "independence"
    if not isinstance(seed_table, pd.DataFrame):
        fail(ValidationError, "seed_table", "must be a DataFrame of seed counts", bad=[type(seed_table).__name__])
    seed = _joint_from_frame(seed_table, variables, value, "counts", True).frame()
    for var in variables:
        extra = sorted(set(seed[var]) - set(margins[var].index))
        lacking = sorted(set(margins[var].index) - set(seed[var]))
        if extra or lacking:
            fail(
                MarginError,
                "seed_table",
                f"categories of {var!r} must match the margins",
                bad=[*(f"not in margins: {c}" for c in extra), *(f"not in seed: {c}" for c in lacking)],
            )
    seed = product.merge(seed, on=variables, how="left")
    seed["share"] = seed["share"].fillna(0.0)
    positive = seed["share"].to_numpy() > 0
    fitted = _rake_seed(seed.loc[positive].reset_index(drop=True), margins)
    share = np.zeros(len(seed))
    share[positive] = fitted
    seed["share"] = share / share.sum()
    return seed, "raking"


def _rake_seed(seed: pd.DataFrame, margins: dict[str, pd.Series]) -> np.ndarray:
    """Iterative proportional fitting = raking the seed cells (base weights = seed shares)."""
    for var, shares in margins.items():
        empty = [c for c in shares.index[shares.to_numpy() > 0] if not (seed[var] == c).any()]
        if empty:
            fail(
                InfeasibleError,
                "seed_table",
                f"has no positive cell for categories of {var!r} with a positive margin",
                bad=empty,
            )
    targets = {var: {c: float(s) for c, s in shares.items() if s > 0} for var, shares in margins.items()}
    keep = np.ones(len(seed), dtype=bool)
    for var, shares in margins.items():
        zero = set(shares.index[shares.to_numpy() == 0])
        keep &= ~seed[var].isin(zero).to_numpy()
    frame = seed.loc[keep, list(margins)].reset_index(drop=True)
    fit = rake(frame, targets, weights=seed.loc[keep, "share"].to_numpy())
    out = np.zeros(len(seed))
    out[keep] = np.asarray(fit.weights, dtype=float)
    return out


# --------------------------------------------------------------------------- the public function


def _frame(columns: dict[str, Any], names: Any, rows: int) -> pd.DataFrame:
    """A frame from finished columns (1-d numpy or pandas arrays of length ``rows``).

    The columns need no conversion: they are handed to pandas as its blocks (numpy columns of one
    dtype stacked into one block, each pandas array a block of its own) through
    ``pandas.api.internals.create_dataframe_from_blocks`` where pandas has it (3.0 on), and to
    the constructor otherwise, which infers nothing new from them.
    """
    arrays = list(columns.values())
    index = pd.RangeIndex(rows)
    try:
        from pandas.api.internals import create_dataframe_from_blocks
    except ImportError:  # pragma: no cover - pandas before 3.0
        return pd.DataFrame(dict(zip(pd.Index(names), arrays)), index=index, copy=False)
    blocks: list[tuple[Any, np.ndarray]] = []
    numeric: dict[np.dtype, list[int]] = {}
    for i, array in enumerate(arrays):
        if isinstance(array, np.ndarray):
            numeric.setdefault(array.dtype, []).append(i)
        else:
            blocks.append((array, np.array([i])))
    for where in numeric.values():
        blocks.append((np.stack([arrays[i] for i in where]), np.array(where)))
    return create_dataframe_from_blocks(blocks, index=index, columns=pd.Index(names))


def _frames(
    cells: _Cells, cell_values: dict[str, np.ndarray], margin_values: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells frame (variables, then ``cell_values``) and the margins frame, built once.

    Every string (labels, and the column names) goes into one string array, sliced per column.
    """
    sizes = [len(lab) for lab in cells.labels]
    ncells = cells.share.size
    cell_names = [*cells.variables, *cell_values]
    margin_names = ["variable", "category", *margin_values]
    pieces = [lab[c] for c, lab in zip(cells.codes, cells.labels)]
    pieces += [np.repeat(np.array(cells.variables, dtype=object), sizes), *cells.labels]
    pieces.append(np.array(cell_names + margin_names, dtype=object))
    strings = _strings(np.concatenate(pieces))
    cut = np.cumsum([0, *(ncells for _ in cells.variables), sum(sizes), sum(sizes), len(cell_names)])
    part = [strings[a:b] for a, b in itertools.pairwise(cut)]
    nvar = len(cells.variables)
    cell_frame = _frame({**dict(zip(cells.variables, part[:nvar])), **cell_values}, part[-1], ncells)
    margin_frame = _frame(
        {"variable": part[nvar], "category": part[nvar + 1], **margin_values},
        strings[cut[-1] :],
        sum(sizes),
    )
    return cell_frame, margin_frame


def design_quotas(
    table: Any,
    *,
    n: int,
    variables: Sequence[str] | None = None,
    method: QuotaMethod = "hamilton",
    interlocked: bool = True,
    minimum: int | None = None,
    seed_table: pd.DataFrame | None = None,
    value: str | None = None,
    values: Literal["auto", "counts", "shares"] = "auto",
    normalize: bool = False,
    on_infeasible: Literal["raise", "warn"] = "raise",
) -> QuotaPlan:
    """Integer quotas per census cell (interlocked) or per category (non-interlocked) summing to n.

    Parameters
    ----------
    table : DataFrame or mapping
        One of: a joint table with one column per variable and a ``count`` or ``share`` column
        (e.g. :func:`estimators.datasets.census` output, or a user's CSV read into a frame; rows of
        the same cell are added up, variables not asked for are summed over); a long margins frame
        with columns ``variable, category`` and ``count``/``share``/``target``; or a mapping
        ``{variable: {category: value}}`` (e.g. :func:`estimators.datasets.census_margins`).
    n : int
        Sample size.
    variables : sequence of str, optional
        Quota variables (default: every variable of ``table``).
    method : str
        An :func:`~sampling.apportion` method, or ``"controlled"``: controlled rounding of the
        whole table, so that every cell and every one- and two-way margin is within floor/ceil of
        its exact value (:func:`~sampling.controlled_round`).
    interlocked : bool
        True: a quota per joint cell. False: a quota per category of each variable (each
        variable's quotas sum to ``n``); the joint shares are kept for the tracker's
        completability check.
    minimum : int, optional
        Places every populated cell (category) gets; default 0, or 1 for
        ``"minimum_then_proportional"``. Not available with ``"controlled"``.
    seed_table : DataFrame, optional
        Margins-only input: a joint table of seed counts whose association is kept while it is
        raked to the margins (IPF). Without it the joint is the product of the margins.
    value : str, optional
        Name of the counts/shares column (default: ``count``, ``share`` or ``target``).
    values : {"auto", "counts", "shares"}
        Whether the values are counts or shares. ``"auto"``: a column named ``share`` (or margins
        whose values are all <= 1) are shares, anything else counts.
    normalize : bool
        Shares must sum to 1 and margins must share one total unless this is True, in which case
        they are rescaled.
    on_infeasible : {"raise", "warn"}
        ``"controlled"`` with three or more variables: when no rounding keeps every two-way margin
        within floor/ceil, raise, or warn and control the one-way margins only.

    Returns
    -------
    QuotaPlan
        Quotas, exact quotas and deviations per cell and per margin.

    Warns
    -----
    DataWarning
        When a populated cell (category) gets a quota of 0.

    Notes
    -----
    Exact quotas are :math:`x_c = n\\,p_c` for cell shares :math:`p_c`; quotas :math:`a_c` are
    integers with :math:`\\sum_c a_c = n` and deviations :math:`a_c - x_c`. Margin deviations are
    :math:`\\sum_{c \\in g} a_c - n\\,p_g`. From margins only, the joint is
    :math:`p_c \\propto s_c \\prod_v \\alpha_{v, c_v}` with seed :math:`s` and factors
    :math:`\\alpha` fitted by IPF (Deming and Stephan 1940), i.e. raking the seed cells.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency
    table when the expected marginal totals are known. *Ann. Math. Statist.* 11(4), 427-444.
    Balinski, M. L. and Young, H. P. (2001). *Fair Representation*. Brookings.

    Examples
    --------
    >>> from estimators.datasets import census
    >>> from sampling import design_quotas
    >>> uk = census("uk", ["age", "sex", "ethnicity"], age_bands="prolific")
    >>> plan = design_quotas(uk, n=300, method="minimum_then_proportional")
    >>> int(plan.quotas.sum()), int(plan.quotas.min()), len(plan.quotas)
    (300, 1, 50)
    """
    method = check_option(method, QUOTA_METHODS, "method")
    values = check_option(values, ("auto", "counts", "shares"), "values")
    on_infeasible = check_option(on_infeasible, ("raise", "warn"), "on_infeasible")
    n = as_int(n, "n", minimum=1)
    if not isinstance(table, (pd.DataFrame, Mapping)):
        fail(
            ValidationError,
            "table",
            "must be a DataFrame (joint table or long margins) or a {variable: {category: value}} mapping",
            bad=[type(table).__name__],
        )
    if isinstance(variables, str):
        variables = [variables]
    if _is_margins(table):
        margins = _margins_from_input(table, variables, value, values, normalize)
        joint, joint_source = _joint_from_margins(margins, seed_table, value)
        cells = _cells_of_frame(joint, list(margins))
    else:
        cells = _joint_from_frame(table, variables, value, values, normalize)
        joint_source = "table"
        if seed_table is not None:
            fail(
                ValidationError,
                "seed_table",
                "is only used with margins-only input (the table already gives the joint)",
                bad=["seed_table"],
            )
    var_list = cells.variables
    share = cells.share
    exact = n * share
    if method == "controlled" and minimum:
        fail(ValidationError, "minimum", 'is not supported with method="controlled"', bad=[minimum],
             fix='Use method="minimum_then_proportional" or a divisor method with minimum.')
    values_of_cells: dict[str, np.ndarray] = {"share": share, "exact": exact}
    margin_share = np.concatenate(
        [_group_sum(c, share, len(lab)) for c, lab in zip(cells.codes, cells.labels)]
    )
    if interlocked:
        quota = _interlocked_quotas(cells, n, method, minimum, on_infeasible)
        m = _effective_minimum(share, n, method, minimum)
        values_of_cells["quota"] = quota
        values_of_cells["deviation"] = quota - exact
        margin_quota = np.concatenate([
            np.bincount(c, weights=quota, minlength=len(lab)).astype(np.int64)
            for c, lab in zip(cells.codes, cells.labels)
        ])
        empty = (share > 0) & (quota == 0)
    else:
        m = 0
        quotas = []
        kind = "hamilton" if method == "controlled" else method
        stop = 0
        for lab in cells.labels:
            start, stop = stop, stop + len(lab)
            w = margin_share[start:stop]
            m = _check_minimum(w, n, kind, minimum)
            quotas.append(_apportion_array(w, n, kind, m))
        margin_quota = np.concatenate(quotas)
        empty = (margin_share > 0) & (margin_quota == 0)
    margin_exact = n * margin_share
    cells_frame, margins_frame = _frames(cells, values_of_cells, {
        "share": margin_share,
        "exact": margin_exact,
        "quota": margin_quota,
        "deviation": margin_quota - margin_exact,
    })
    plan = QuotaPlan(
        n=n,
        variables=tuple(var_list),
        method=method,
        interlocked=bool(interlocked),
        minimum=int(m),
        cells=cells_frame,
        margins=margins_frame,
        joint_source=joint_source,
    )
    if empty.any():
        what = "cells" if interlocked else "categories"
        rows = np.flatnonzero(empty)
        if interlocked:
            labels = [CELL_SEPARATOR.join(lab[c[i]] for c, lab in zip(cells.codes, cells.labels)) for i in rows]
        else:
            names = [(v, c) for v, lab in zip(var_list, cells.labels) for c in lab]
            labels = [f"{names[i][0]}={names[i][1]}" for i in rows]
        warnings.warn(
            f"{len(rows)} populated {what} get a quota of 0 with method={method!r} at n={n} "
            f"(e.g. {', '.join(labels[:5])}); use minimum=1 or method='minimum_then_proportional' "
            "to give every cell a place.",
            DataWarning,
            stacklevel=2,
        )
    return plan


def _effective_minimum(share: np.ndarray, n: int, method: str, minimum: int | None) -> int:
    if method == "controlled":
        return 0
    return _check_minimum(share, n, method, minimum)


def _interlocked_quotas(
    cells: _Cells, n: int, method: str, minimum: int | None, on_infeasible: str
) -> np.ndarray:
    share = cells.share
    if method != "controlled":
        m = _check_minimum(share, n, method, minimum)
        return _apportion_array(share, n, method, m)
    dense = np.zeros([len(lab) for lab in cells.labels])
    dense[tuple(cells.codes)] = n * share
    rounded = controlled_round(dense, margins="all", on_infeasible=on_infeasible)  # type: ignore[arg-type]
    return np.asarray(rounded)[tuple(cells.codes)].astype(np.int64)
