"""Input validation at the public boundary: the one place inputs are checked and converted.

Public functions call these helpers once, on entry; kernels and solvers behind them see only numpy
arrays that are already known to be valid. Every failure raises a package error whose message
names the parameter, states the rule, shows the offending values (a count and up to five labels)
and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

import numpy as np
import pandas as pd

from estimators.errors import ColumnError, EquisampleError, ValidationError

__all__ = [
    "as_float_array",
    "as_frame",
    "as_int",
    "as_rng",
    "as_weights",
    "check_columns",
    "check_option",
    "check_positive",
    "check_probability",
    "describe_values",
    "fail",
]

_T = TypeVar("_T")
MAX_SHOWN = 5


def describe_values(values: Iterable[Any], *, limit: int = MAX_SHOWN) -> str:
    """Describe offending values as ``"3 values: 'a', 'b', 'c'"`` (a count and up to ``limit``)."""
    items = list(values)
    shown = ", ".join(repr(_plain(v)) for v in items[:limit])
    if len(items) == 1:
        return f"1 value: {shown}"
    more = f", first {limit}" if len(items) > limit else ""
    return f"{len(items)} values{more}: {shown}"


def _plain(value: Any) -> Any:
    """Numpy scalars print as plain Python values in messages."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def fail(
    error: type[EquisampleError],
    parameter: str,
    rule: str,
    *,
    bad: Iterable[Any] | None = None,
    fix: str | None = None,
) -> NoReturn:
    """Raise ``error`` with the house message: ``parameter: rule; got <values>. fix``."""
    message = f"{parameter}: {rule}"
    if bad is not None:
        message += f"; got {describe_values(bad)}"
    message += "."
    if fix:
        message += f" {fix}"
    raise error(message)


def check_option(value: Any, allowed: Sequence[_T], parameter: str) -> _T:
    """Return ``value`` if it is one of ``allowed`` (a ``Literal`` option), else raise."""
    if isinstance(value, Hashable) and value in allowed:
        return value  # type: ignore[return-value]
    options = ", ".join(repr(a) for a in allowed)
    fail(ValidationError, parameter, f"must be one of {options}", bad=[value])


def as_frame(data: Any, parameter: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a DataFrame with unique index labels; never copies or reorders."""
    if not isinstance(data, pd.DataFrame):
        fail(
            ValidationError,
            parameter,
            "must be a pandas DataFrame",
            bad=[type(data).__name__],
            fix="Wrap arrays with pd.DataFrame(...) and name the columns.",
        )
    if not data.index.is_unique:
        dup = data.index[data.index.duplicated()].unique()
        fail(
            ValidationError,
            parameter,
            "index labels must be unique (weights are aligned to them)",
            bad=list(dup),
            fix="Call data.reset_index(drop=True) or make the index unique first.",
        )
    return data


def check_columns(frame: pd.DataFrame, columns: Iterable[Hashable], parameter: str) -> list[Hashable]:
    """Return ``columns`` as a list after checking each is a column of ``frame``."""
    cols = list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        available = describe_values(list(frame.columns), limit=8)
        fail(
            ColumnError,
            parameter,
            "names columns that are not in the data",
            bad=missing,
            fix=f"Available columns ({available}).",
        )
    if frame.columns.is_unique:
        return cols
    duplicated = set(frame.columns[frame.columns.duplicated()])
    ambiguous = [c for c in dict.fromkeys(cols) if c in duplicated]
    if ambiguous:
        fail(
            ColumnError,
            parameter,
            "names columns that appear more than once in the data, so which one to use is ambiguous",
            bad=ambiguous,
            fix="Rename or drop the duplicated columns (e.g. df.loc[:, ~df.columns.duplicated()]).",
        )
    return cols


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def as_float_array(
    values: Any,
    parameter: str,
    *,
    ndim: int | None = 1,
    length: int | None = None,
    finite: bool = True,
    nonnegative: bool = False,
    positive: bool = False,
    copy: bool = False,
) -> np.ndarray:
    """Convert to a float64 array and check shape and value rules.

    float32 input is kept as float32 only when callers ask for it elsewhere; here the result is always
    float64 (converted once, at the boundary).
    """
    try:
        arr = np.array(values, dtype=np.float64, copy=copy) if copy else np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        fix = "Pass numbers (int or float); convert strings with pd.to_numeric first."
        try:  # name the values that are not numbers (error path only)
            flat = np.asarray(values, dtype=object).reshape(-1)
        except (TypeError, ValueError):
            flat = np.empty(0, dtype=object)
        bad_pos = [i for i, v in enumerate(flat) if not _is_number(v)]
        if bad_pos:
            fail(
                ValidationError,
                parameter,
                f"must be numeric; {len(bad_pos)} of {flat.size} values are not",
                bad=[f"position {i}: {flat[i]!r}" for i in bad_pos[:5]],
                fix=fix,
            )
        fail(ValidationError, parameter, "must be numeric", bad=[type(values).__name__], fix=fix)
    if ndim is not None and arr.ndim != ndim:
        fail(ValidationError, parameter, f"must be {ndim}-dimensional", bad=[f"shape {arr.shape}"])
    if length is not None and arr.shape[0] != length:
        fail(
            ValidationError,
            parameter,
            f"must have length {length} (one value per row)",
            bad=[f"length {arr.shape[0]}"],
        )
    if arr.size and (finite or positive or nonnegative) and arr.dtype == np.float64:
        # one min / max pair decides the common case (NaN propagates through both); the checks
        # below name the offending values only when something is wrong
        flat = arr.reshape(-1)
        low, high = np.minimum.reduce(flat), np.maximum.reduce(flat)
        if ((not finite or (low > -np.inf and high < np.inf))
                and (not positive or low > 0) and (not nonnegative or low >= 0)):
            return arr
    if finite and arr.size and not np.isfinite(arr).all():
        bad_pos = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
        fail(
            ValidationError,
            parameter,
            f"must be finite (no NaN or inf); {bad_pos.size} are not",
            bad=[f"position {int(i)}: {arr.reshape(-1)[i]}" for i in bad_pos[:MAX_SHOWN]],
            fix="Impute or remove those values explicitly before calling.",
        )
    if positive and arr.size and (arr <= 0).any():
        bad_pos = np.flatnonzero(arr.reshape(-1) <= 0)
        fail(
            ValidationError,
            parameter,
            f"must be strictly positive; {bad_pos.size} are not",
            bad=[f"position {int(i)}: {arr.reshape(-1)[i]}" for i in bad_pos[:MAX_SHOWN]],
        )
    if nonnegative and arr.size and (arr < 0).any():
        bad_pos = np.flatnonzero(arr.reshape(-1) < 0)
        fail(
            ValidationError,
            parameter,
            f"must be non-negative; {bad_pos.size} are negative",
            bad=[f"position {int(i)}: {arr.reshape(-1)[i]}" for i in bad_pos[:MAX_SHOWN]],
        )
    return arr


def as_weights(
    weights: Any,
    frame: pd.DataFrame,
    parameter: str = "weights",
    *,
    positive: bool = False,
) -> np.ndarray:
    """Resolve base weights to a float64 array aligned with ``frame``'s rows.

    ``None`` means 1 for every row; a string names a column of ``frame``; a Series is aligned on the
    index (every row of ``frame`` must have a weight); anything else is taken positionally.
    Weights must be finite and non-negative (``positive=True``: strictly positive).
    """
    n = len(frame)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        check_columns(frame, [weights], parameter)
        values: Any = frame[weights].to_numpy()
    elif isinstance(weights, pd.Series):
        if not weights.index.equals(frame.index):
            missing = frame.index.difference(weights.index)
            if len(missing):
                fail(
                    ValidationError,
                    parameter,
                    "a weights Series must have a value for every row label of the data",
                    bad=list(missing),
                    fix="Align it first, e.g. weights.reindex(data.index).",
                )
            weights = weights.reindex(frame.index)
        values = weights.to_numpy()
    else:
        values = weights
    return as_float_array(
        values, parameter, ndim=1, length=n, nonnegative=not positive, positive=positive
    )


def as_int(value: Any, parameter: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer (bool excluded) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            fail(ValidationError, parameter, "must be an integer", bad=[value])
    value = int(value)
    if minimum is not None and value < minimum:
        fail(ValidationError, parameter, f"must be >= {minimum}", bad=[value])
    if maximum is not None and value > maximum:
        fail(ValidationError, parameter, f"must be <= {maximum}", bad=[value])
    return value


def check_positive(value: Any, parameter: str, *, allow_zero: bool = False) -> float:
    """Check that ``value`` is a finite positive (or non-negative) real number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        fail(ValidationError, parameter, "must be a real number", bad=[value])
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        rule = "must be finite and >= 0" if allow_zero else "must be finite and > 0"
        fail(ValidationError, parameter, rule, bad=[value])
    return x


def check_probability(value: Any, parameter: str, *, open_interval: bool = True) -> float:
    """Check that ``value`` lies in (0, 1) (or [0, 1] with ``open_interval=False``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        fail(ValidationError, parameter, "must be a real number in (0, 1)", bad=[value])
    ok = 0 < x < 1 if open_interval else 0 <= x <= 1
    if not ok:
        rule = "must lie strictly between 0 and 1" if open_interval else "must lie in [0, 1]"
        fail(ValidationError, parameter, rule, bad=[value])
    return x


def as_rng(rng: Any, parameter: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from ``None``, an int seed, a SeedSequence or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng < 0:
            fail(ValidationError, parameter, "a seed must be >= 0", bad=[rng])
        return np.random.default_rng(rng)
    fail(
        ValidationError,
        parameter,
        "must be None, an int seed, a numpy SeedSequence or a numpy Generator",
        bad=[type(rng).__name__],
        fix="Use rng=np.random.default_rng(seed); global seeds are never used.",
    )


def check_labels_known(
    labels: Collection[Any], known: Collection[Any], parameter: str, *, what: str, fix: str
) -> None:
    """Raise when some of ``labels`` are not in ``known``."""
    known_set = set(known)
    unknown = [v for v in labels if v not in known_set]
    if unknown:
        fail(ValidationError, parameter, f"contains {what}", bad=unknown, fix=fix)
