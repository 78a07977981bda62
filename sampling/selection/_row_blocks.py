"""Row blocks of a data matrix: the one place inputs to the leverage kernels are checked and sliced.

A :class:`RowBlocks` wraps a dense array (float32 or float64, in memory or a ``numpy.memmap``), a
``scipy.sparse`` matrix, or a callable that returns a fresh iterable of row blocks each time it is
called (for data that do not fit in memory). Kernels iterate ``blocks()`` once per pass and see only
float64 numpy arrays (or CSR matrices) of at most ``block_size`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estimators._lib.validation import fail
from estimators.errors import ValidationError

__all__ = ["RowBlocks", "as_row_blocks", "default_block_size"]

_BLOCK_BYTES = 2**20  # 1 MiB of float64 per block (fits in cache for the triangular multiply)


def default_block_size(d: int) -> int:
    """Rows per block so that one float64 block holds about 1 MiB (at least 256 rows)."""
    return max(256, _BLOCK_BYTES // (8 * max(d, 1)))


class RowBlocks:
    """Iterate a matrix by row blocks, converting each block to float64 (no full copies)."""

    def __init__(self, source: Any, kind: str, n: int | None, d: int, block_size: int | None):
        self.source = source
        self.kind = kind  # "dense" | "sparse" | "stream"
        self.n = n
        self.d = d
        self.block_size = int(block_size) if block_size else default_block_size(d)

    @property
    def in_memory(self) -> bool:
        return self.kind != "stream"

    def blocks(self, scale: np.ndarray | None = None) -> Iterator[tuple[int, Any]]:
        """Yield ``(start_row, block)``; ``scale`` multiplies row ``i`` by ``scale[i]``."""
        if self.kind == "stream":
            yield from self._stream_blocks(scale)
            return
        n, b = self.n or 0, self.block_size
        for start in range(0, n, b):
            block = self.source[start : start + b]
            if self.kind == "sparse":
                block = block.tocsr()
                if scale is not None:
                    block = sp.diags(scale[start : start + block.shape[0]]) @ block
            else:
                if block.dtype != np.float64:
                    block = block.astype(np.float64)
                if scale is not None:
                    block = block * scale[start : start + block.shape[0], None]
            yield start, block

    def _stream_blocks(self, scale: np.ndarray | None) -> Iterator[tuple[int, Any]]:
        try:
            iterable = self.source()
        except Exception as exc:  # the caller's generator failed: say where
            fail(ValidationError, "X", f"calling the block source failed ({exc})")
        start = 0
        for raw in iterable:
            block = _check_block(raw, self.d, start)
            rows = block.shape[0]
            if self.n is not None and start + rows > self.n:
                fail(ValidationError, "X", "the block source returned more rows on a later pass",
                     bad=[f"{start + rows} rows, first pass had {self.n}"],
                     fix="Return the same blocks on every call.")
            if scale is not None:
                block = (sp.diags(scale[start : start + rows]) @ block if sp.issparse(block)
                         else block * scale[start : start + rows, None])
            yield start, block
            start += rows
        if self.n is None:
            self.n = start
        elif start != self.n:
            fail(ValidationError, "X", "the block source returned a different number of rows on a "
                 "later pass", bad=[f"{start} rows, first pass had {self.n}"],
                 fix="Return the same blocks on every call.")


def _check_block(raw: Any, d: int, start: int) -> Any:
    if sp.issparse(raw):
        block = raw.tocsr().astype(np.float64, copy=False)
    else:
        block = np.asarray(raw)
        if block.dtype.kind not in "fiub":
            fail(ValidationError, "X", "every block must be numeric", bad=[str(block.dtype)])
        block = block.astype(np.float64, copy=False)
    if block.ndim != 2 or block.shape[1] != d:
        fail(ValidationError, "X", f"every block must be 2-dimensional with {d} columns",
             bad=[f"block at row {start} has shape {block.shape}"])
    return block


def as_row_blocks(X: Any, *, block_size: int | None = None, parameter: str = "X") -> RowBlocks:
    """Validate ``X`` (shape and type) and wrap it as :class:`RowBlocks`; never copies dense data.

    Dense float32 and float64 arrays (including memmaps) are kept as they are; other numeric dtypes
    and array-likes are converted to float64 once. Finiteness is checked by the kernels (a non-finite
    Gram matrix triggers :func:`locate_nonfinite`).
    """
    if block_size is not None and (isinstance(block_size, bool) or int(block_size) < 1):
        fail(ValidationError, "block_size", "must be a positive integer", bad=[block_size])
    if isinstance(X, Iterator):
        fail(ValidationError, parameter, "is a one-shot iterator, but leverage needs two or more "
             "passes over the rows", bad=[type(X).__name__],
             fix="Pass a callable that returns a fresh iterator of row blocks on every call.")
    if (isinstance(X, (list, tuple)) and X
            and all(sp.issparse(b) or np.ndim(b) == 2 for b in X)):
        blocks = list(X)  # a list of row blocks: re-iterable, streamed block by block
        X = lambda: iter(blocks)  # noqa: E731
    if callable(X) and not isinstance(X, np.ndarray):
        first = None
        for raw in X():
            first = raw
            break
        if first is None:
            fail(ValidationError, parameter, "the block source yielded no blocks",
                 fix="Return an iterable of (rows, d) arrays.")
        shape = np.shape(first) if not sp.issparse(first) else first.shape
        if len(shape) != 2:
            fail(ValidationError, parameter, "every block must be 2-dimensional", bad=[f"shape {shape}"])
        return RowBlocks(X, "stream", None, int(shape[1]), block_size)
    if sp.issparse(X):
        mat = X.tocsr()
        if mat.dtype != np.float64:
            mat = mat.astype(np.float64)
        n, d = mat.shape
        kind = "sparse"
        source: Any = mat
    else:
        if isinstance(X, pd.DataFrame):
            numeric = all(
                pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_complex_dtype(t)
                for t in X.dtypes
            )
            # nullable (Int64, Float64) and pyarrow numeric columns give an object array
            # through a bare to_numpy(); convert them to float64 (pd.NA -> NaN, caught below)
            arr = X.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else X.to_numpy()
        elif isinstance(X, Iterable) or hasattr(X, "__array__"):
            arr = X if isinstance(X, np.ndarray) else np.asarray(X)
        else:
            fail(ValidationError, parameter, "must be a 2-dimensional numeric array, a scipy.sparse "
                 "matrix or a callable returning row blocks", bad=[type(X).__name__])
        if arr.dtype.kind not in "fiub":
            fail(ValidationError, parameter, "must be numeric", bad=[str(arr.dtype)],
                 fix="Convert text columns (e.g. with pd.to_numeric) before calling.")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if arr.ndim != 2:
            fail(ValidationError, parameter, "must be 2-dimensional (rows x features)",
                 bad=[f"shape {arr.shape}"], fix="Use X.reshape(-1, 1) for a single feature.")
        n, d = arr.shape
        kind, source = "dense", arr
    if n == 0 or d == 0:
        fail(ValidationError, parameter, "must have at least one row and one column",
             bad=[f"shape {(n, d)}"])
    return RowBlocks(source, kind, int(n), int(d), block_size)


def locate_nonfinite(rows: RowBlocks, parameter: str = "X") -> None:
    """Raise a :class:`ValidationError` naming the rows holding NaN or inf (if any)."""
    bad: list[int] = []
    for start, block in rows.blocks():
        values = block.data if sp.issparse(block) else block
        if not np.isfinite(values).all():
            if sp.issparse(block):
                dense_rows = np.flatnonzero(~np.isfinite(block.toarray()).all(axis=1))
            else:
                dense_rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
            bad.extend(int(start + r) for r in dense_rows)
            if len(bad) >= 5:
                break
    if bad:
        fail(ValidationError, parameter, "must be finite (no NaN or inf)",
             bad=[f"row {r}" for r in bad],
             fix="Impute or drop those rows explicitly before calling.")


SourceCallable = Callable[[], Iterable[Any]]
