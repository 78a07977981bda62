"""The cell collapse: rows -> observed cells of the weighting columns, and back.

Raking, post-stratification, calibration on categorical margins, replicate re-weighting and
quota tracking all work on the table of *observed* cells of a few categorical columns, not on
rows. This module builds that table once:

1. factorise each weighting column (pandas Categorical: its codes are used as they are; other
   columns: ``pd.factorize``), missing values get code -1;
2. combine the column codes into one integer key per row (mixed radix) and keep only the keys
   that occur (the observed cells; the dense product of all levels is never materialised as a
   cell table, and when the key space is large the keys are compressed by hashing instead);
3. sum row values per cell with ``np.bincount`` and gather cell values back to rows with one
   indexing pass.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["CellTable", "ColumnCodes", "factorize_column", "group_codes"]

# Mixed-radix keys index a lookup table of this many entries at most (8 bytes each); larger key
# spaces are compressed with a hash-based factorisation instead.
DENSE_KEY_LIMIT = 1 << 20


@dataclass(frozen=True)
class ColumnCodes:
    """Integer codes of one column: ``codes[i]`` in ``0..len(labels)-1``, or -1 where missing."""

    codes: np.ndarray
    labels: pd.Index

    @property
    def n_levels(self) -> int:
        return len(self.labels)

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of the rows whose value is missing."""
        return self.codes < 0

    @property
    def has_missing(self) -> bool:
        """Whether any value is missing (one reduction, no mask)."""
        return bool(self.codes.size) and int(self.codes.min()) < 0


def factorize_column(values: pd.Series | np.ndarray | Sequence[Any]) -> ColumnCodes:
    """Factorise one column into codes and labels, keeping pandas Categorical codes as they are.

    Categorical columns are not re-hashed: their codes (int8/int16) and categories are used
    directly, so unused categories appear in ``labels`` but in no row. Other columns are
    factorised in order of first appearance. Missing values get code -1.

    Examples
    --------
    >>> import pandas as pd
    >>> c = factorize_column(pd.Series(["b", "a", None, "b"]))
    >>> c.codes.tolist(), list(c.labels)
    ([0, 1, -1, 0], ['b', 'a'])
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return ColumnCodes(values.cat.codes.to_numpy(), pd.Index(values.cat.categories))
    codes, labels = pd.factorize(values, use_na_sentinel=True)
    return ColumnCodes(codes, labels if isinstance(labels, pd.Index) else pd.Index(labels))


@dataclass(frozen=True, eq=False)
class CellTable:
    """The observed cells of some categorical columns, with the row -> cell map.

    Build it with :meth:`from_codes`. ``n_cells`` cells are numbered ``0..n_cells-1``;
    ``cell_codes[j]`` holds the code (in column ``j``'s labels) of every cell, and
    ``row_counts`` the number of rows in each cell. Rows excluded with ``include=False`` belong to
    no cell: :meth:`sum_rows` ignores them and :meth:`gather` gives them ``fill``.

    The row -> cell map is stored as a mixed-radix key per row (``row_key``) and, when not every
    key value occurs, a lookup from key to cell (``key_to_cell``), so building the table costs one
    pass to form the keys and one ``np.bincount`` to find the observed ones.
    """

    columns: tuple[Hashable, ...]
    labels: tuple[pd.Index, ...]
    cell_codes: tuple[np.ndarray, ...]
    row_counts: np.ndarray
    row_key: np.ndarray
    key_to_cell: np.ndarray | None
    n_key: int
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_codes(
        cls,
        columns: Sequence[Hashable],
        codes: Sequence[ColumnCodes],
        *,
        include: np.ndarray | None = None,
        n_rows: int | None = None,
    ) -> CellTable:
        """Collapse rows to the observed cells of ``codes`` (no code may be -1 in included rows).

        With no columns every (included) row is in one cell; then ``n_rows`` gives the row count.
        """
        cols = tuple(columns)
        labels = tuple(c.labels for c in codes)
        sizes = [max(c.n_levels, 1) for c in codes]
        n = len(codes[0].codes) if codes else int(n_rows or 0)
        space = 1
        for s in sizes:
            space *= s
        dense = space <= max(DENSE_KEY_LIMIT, n)
        if dense:
            # the narrowest integer type that holds every key (and the extra key ``space``):
            # int16 keys for a few thousand cells cost a quarter of the memory traffic of intp
            key_type = np.int16 if space < 2**15 - 1 else (np.int32 if space < 2**31 - 1 else np.int64)
            if codes:
                key = codes[0].codes.astype(key_type)
                for c, s in zip(codes[1:], sizes[1:]):
                    key *= s
                    key += c.codes
            else:
                key = np.zeros(n, dtype=key_type)
        else:  # hash-compress after each step so keys never overflow
            key = np.zeros(n, dtype=np.int64)
            for c, s in zip(codes, sizes):
                key *= s
                key += c.codes
                key = pd.factorize(key)[0].astype(np.int64)
            space = int(key.max(initial=-1)) + 1
        if include is not None:
            key[~include] = space  # an extra key outside every cell
            counts = _chunked_bincount(key, None, space + 1)[:space]
        else:
            counts = _chunked_bincount(key, None, space)
        observed = np.flatnonzero(counts)
        if observed.size == space and include is None:
            key_to_cell = None
        else:
            key_to_cell = np.full(space + 1, -1, dtype=np.intp)
            key_to_cell[observed] = np.arange(observed.size)
        if dense:
            unravelled = np.unravel_index(observed, sizes) if sizes else ()
            cell_codes = tuple(np.asarray(u, dtype=np.intp) for u in unravelled)
        else:
            # any row of a cell carries the cell's codes
            cell_of_row = key_to_cell[key] if key_to_cell is not None else key
            rows = np.empty(observed.size, dtype=np.intp)
            inc = cell_of_row >= 0
            rows[cell_of_row[inc]] = np.flatnonzero(inc)
            cell_codes = tuple(np.asarray(c.codes[rows], dtype=np.intp) for c in codes)
        return cls(
            columns=cols,
            labels=labels,
            cell_codes=cell_codes,
            row_counts=counts[observed].astype(np.int64),
            row_key=key,
            key_to_cell=key_to_cell,
            n_key=space,
        )

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, columns: Sequence[Hashable], *, include: np.ndarray | None = None
    ) -> CellTable:
        """Factorise ``columns`` of ``frame`` and collapse to observed cells."""
        return cls.from_codes(columns, [factorize_column(frame[c]) for c in columns], include=include)

    # -- sizes ----------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        return int(self.row_counts.size)

    @property
    def n_rows(self) -> int:
        return int(self.row_key.size)

    # -- rows <-> cells -------------------------------------------------------------------
    def row_cells(self) -> np.ndarray:
        """Cell id of every row (-1 for excluded rows); computed once and cached."""
        if "row_cells" not in self._cache:
            if self.key_to_cell is None:
                self._cache["row_cells"] = self.row_key
            else:
                self._cache["row_cells"] = self.key_to_cell[self.row_key]
        return self._cache["row_cells"]

    def sum_rows(self, values: np.ndarray | None = None) -> np.ndarray:
        """Sum ``values`` (shape (n,) or (n, R); ``None`` = count rows) per cell."""
        if values is None:
            return self.row_counts.astype(np.float64)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            sums = _chunked_bincount(self.row_key, values, self.n_key + 1)
            return sums[: self.n_key] if self.key_to_cell is None else sums[self._observed()]
        return np.asarray(self.row_indicator() @ values)

    def _observed(self) -> np.ndarray:
        if "observed" not in self._cache:
            self._cache["observed"] = np.flatnonzero(self.key_to_cell[: self.n_key] >= 0)
        return self._cache["observed"]

    def gather(self, cell_values: np.ndarray, *, fill: float = 0.0) -> np.ndarray:
        """Spread per-cell values (shape (C,) or (C, R)) back to rows in one indexing pass."""
        cell_values = np.asarray(cell_values)
        if self.key_to_cell is None:
            return _chunked_take(cell_values, self.row_key)
        # compose key -> cell -> value into one table over keys, then index rows once
        by_key = np.empty((self.n_key + 1, *cell_values.shape[1:]), dtype=cell_values.dtype)
        by_key[...] = fill
        by_key[self._observed()] = cell_values
        return _chunked_take(by_key, self.row_key)

    def row_indicator(self) -> sp.csr_matrix:
        """Sparse (C, n) matrix with a 1 where row i is in cell c (excluded rows: no entry)."""
        if "indicator" not in self._cache:
            cells = self.row_cells()
            keep = cells >= 0
            rows = np.flatnonzero(keep)
            self._cache["indicator"] = sp.csr_matrix(
                (np.ones(rows.size), (cells[keep], rows)), shape=(self.n_cells, self.n_rows)
            )
        return self._cache["indicator"]

    def cell_frame(self) -> pd.DataFrame:
        """One row per observed cell: the column labels and the row count."""
        data = {
            col: lab.take(codes) if len(lab) else np.array([], dtype=object)
            for col, lab, codes in zip(self.columns, self.labels, self.cell_codes)
        }
        frame = pd.DataFrame(data)
        frame["n_rows"] = self.row_counts
        return frame


CHUNK_ROWS = 1 << 16
"""Rows per block in bincount / gather passes: narrow keys are widened to intp one block at a time,
so no n-sized index temporary is ever allocated."""


def _chunked_bincount(key: np.ndarray, weights: np.ndarray | None, length: int) -> np.ndarray:
    """``np.bincount(key, weights, minlength=length)`` in blocks (same result, small temporaries)."""
    n = key.size
    if n <= CHUNK_ROWS:
        return np.bincount(key, weights=weights, minlength=length)
    out = np.zeros(length, dtype=np.float64 if weights is not None else np.int64)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        w = None if weights is None else weights[start:stop]
        out += np.bincount(key[start:stop], weights=w, minlength=length)
    return out


def _chunked_take(table: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``table[key]`` (rows of a 1-D or 2-D table) written block by block into one output array."""
    n = key.size
    if n <= CHUNK_ROWS:
        return table[key]
    out = np.empty((n, *table.shape[1:]), dtype=table.dtype)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        np.take(table, key[start:stop], axis=0, out=out[start:stop])
    return out


def group_codes(cell_codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """Combine per-cell codes of a few columns into one group id per cell (0..G-1, observed only).

    Used to map cells to the categories of a joint margin. Returns ``(ids, n_groups)`` where the
    ids follow the mixed-radix order of the combined codes.

    Examples
    --------
    >>> import numpy as np
    >>> ids, g = group_codes([np.array([0, 0, 1, 1]), np.array([1, 1, 0, 1])], [2, 2])
    >>> ids.tolist(), g
    ([0, 0, 1, 2], 3)
    """
    if not cell_codes:
        return np.zeros(0, dtype=np.intp), 0
    key = np.zeros(len(cell_codes[0]), dtype=np.int64)
    for c, s in zip(cell_codes, sizes):
        key = key * max(int(s), 1) + c
    uniq, ids = np.unique(key, return_inverse=True)
    return ids.astype(np.intp).reshape(-1), int(uniq.size)
