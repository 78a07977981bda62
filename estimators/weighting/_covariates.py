"""Covariates shared by a sample and a reference: checks, levels and the numeric encodings.

Both :func:`~estimators.covariate_balance` and :func:`~estimators.adjust_to_reference` read the
same covariates from two frames. This module checks them once (present in both frames, same kind,
not all missing), fixes the levels of every categorical covariate (sorted, with ``"(missing)"``
last when either frame has missing values) and builds the numeric matrices the kernels use.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import check_columns, fail
from estimators.errors import ColumnError, ValidationError

__all__ = [
    "MISSING_LEVEL",
    "CovariateSpec",
    "design_matrix",
    "level_indicators",
    "prepare_covariates",
]

MISSING_LEVEL = "(missing)"
Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class CovariateSpec:
    """One covariate: its name, kind, levels (categorical) and whether any value is missing."""

    name: Hashable
    kind: Kind
    levels: tuple[Any, ...] = ()
    has_missing: bool = False
    bin_edges: np.ndarray | None = None

    @property
    def level_labels(self) -> list[str]:
        """Printable level names (``"(missing)"`` for the missing level; ``"(lo, hi]"`` for a
        quantile group of a binned numeric covariate)."""
        out = []
        for v in self.levels:
            if _is_missing_level(v):
                out.append(MISSING_LEVEL)
            elif self.bin_edges is not None:
                k = int(v)
                edges = self.bin_edges
                lo = f"{edges[k - 1]:.6g}" if k > 0 else "-inf"
                hi = f"{edges[k]:.6g}" if k < len(edges) else "inf"
                out.append(f"({lo}, {hi}]")
            else:
                out.append(str(v))
        return out


class _Missing:
    """Sentinel level for missing values (sorts last, prints as ``"(missing)"``)."""

    def __repr__(self) -> str:
        return MISSING_LEVEL


_MISSING = _Missing()


def _is_missing_level(value: Any) -> bool:
    return value is _MISSING


def _kind(series: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float, np.integer, np.floating)) else (1, str(value))


def prepare_covariates(
    sample: pd.DataFrame,
    reference: pd.DataFrame,
    covariates: Any,
    *,
    unmatched_levels: Literal["raise", "allow"] = "raise",
    bins: int | None = None,
    sample_weights: np.ndarray | None = None,
    reference_weights: np.ndarray | None = None,
) -> list[CovariateSpec]:
    """Check ``covariates`` against both frames and return one :class:`CovariateSpec` each.

    ``unmatched_levels="raise"`` refuses a categorical level seen in one frame but not the other
    (a weighting method cannot give weight to a level the sample lacks, nor match a level the
    reference lacks); ``"allow"`` keeps them (for balance diagnostics). With ``bins``, numeric
    covariates become categorical quantile groups of the pooled values (edges from both frames).
    """
    if isinstance(covariates, (str, bytes)) or not isinstance(covariates, Sequence):
        if isinstance(covariates, (str, bytes)):
            covariates = [covariates]
        else:
            try:
                covariates = list(covariates)
            except TypeError:
                fail(ValidationError, "covariates", "must be a list of column names",
                     bad=[type(covariates).__name__])
    names = list(covariates)
    if not names:
        fail(ValidationError, "covariates", "must name at least one column", bad=[names])
    if len(set(names)) != len(names):
        dup = sorted({str(c) for c in names if names.count(c) > 1})
        fail(ValidationError, "covariates", "names a column more than once", bad=dup)
    check_columns(sample, names, "covariates (in the sample)")
    check_columns(reference, names, "covariates (in the reference)")
    specs: list[CovariateSpec] = []
    for name in names:
        s, r = sample[name], reference[name]
        s_missing, r_missing = s.isna(), r.isna()
        empty = [side for side, m in (("sample", s_missing), ("reference", r_missing)) if m.all()]
        if empty:
            fail(
                ValidationError,
                "covariates",
                f"covariate {name!r} has no observed value in the {' and the '.join(empty)}",
                bad=[name],
                fix="Drop the covariate or fill its values.",
            )
        ks, kr = _kind(s), _kind(r)
        if ks != kr:
            fail(
                ColumnError,
                "covariates",
                f"covariate {name!r} is {ks} in the sample but {kr} in the reference "
                f"(dtypes {s.dtype} and {r.dtype})",
                bad=[name],
                fix="Convert the column to the same type in both frames (e.g. .astype(str) or "
                "pd.to_numeric).",
            )
        has_missing = bool(s_missing.any() or r_missing.any())
        if ks == "numeric" and bins is None:
            for side, series in (("sample", s), ("reference", r)):
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                if np.isinf(values).any():
                    fail(ValidationError, "covariates",
                         f"covariate {name!r} has infinite values in the {side}",
                         bad=[name], fix="Replace infinite values or bin the covariate.")
            specs.append(CovariateSpec(name, "numeric", (), has_missing))
            continue
        edges = None
        if ks == "numeric":
            edges = _quantile_edges(
                np.concatenate([s.to_numpy(dtype=np.float64, na_value=np.nan),
                                r.to_numpy(dtype=np.float64, na_value=np.nan)]),
                bins,
            )
            levels_s = set(_bin_labels(s, edges).dropna().unique())
            levels_r = set(_bin_labels(r, edges).dropna().unique())
        else:
            levels_s = set(s.dropna().unique())
            levels_r = set(r.dropna().unique())
        if unmatched_levels == "raise":
            only_s = sorted(levels_s - levels_r, key=_sort_key)
            only_r = sorted(levels_r - levels_s, key=_sort_key)
            what = "quantile groups (bins=)" if edges is not None else "levels"
            if edges is not None:  # name the value ranges, not the group numbers
                only_s = [_bin_text(int(i), edges) for i in only_s]
                only_r = [_bin_text(int(i), edges) for i in only_r]
            if only_s:
                fail(
                    ValidationError,
                    "covariates",
                    f"covariate {name!r} has {what} in the sample that never occur in the "
                    "reference",
                    bad=only_s,
                    fix="Use fewer quantile groups (bins=), or bins=None to use the covariate as "
                    "it is." if edges is not None else
                    "Recode them into levels the reference has (or drop those rows explicitly).",
                )
            if only_r:
                fail(
                    ValidationError,
                    "covariates",
                    f"covariate {name!r} has {what} in the reference that never occur in the "
                    "sample (no weighting can represent them)",
                    bad=only_r,
                    fix="Use fewer quantile groups (bins=), or bins=None to use the covariate as "
                    "it is." if edges is not None else
                    "Merge them with a neighbouring level in both frames.",
                )
        levels = sorted(levels_s | levels_r, key=_sort_key)
        if has_missing:
            if unmatched_levels == "raise" and s_missing.any() != r_missing.any():
                side = "sample" if s_missing.any() else "reference"
                other = "reference" if side == "sample" else "sample"
                fail(
                    ValidationError,
                    "covariates",
                    f"covariate {name!r} has missing values in the {side} but none in the {other}",
                    bad=[name],
                    fix="Fill the missing values, or drop those rows explicitly.",
                )
            levels.append(_MISSING)
        specs.append(CovariateSpec(name, "categorical", tuple(levels), has_missing, edges))
    return specs


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges of ``bins`` quantile groups of the observed pooled values (duplicates dropped)."""
    observed = values[~np.isnan(values)]
    inner = np.quantile(observed, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def _bin_text(group: int, edges: np.ndarray) -> str:
    """The value range of quantile group ``group`` (as :func:`_bin_labels` numbers them)."""
    low = f"{edges[group - 1]:.6g}" if group > 0 else "-inf"
    high = f"{edges[group]:.6g}" if group < len(edges) else "inf"
    return f"({low}, {high}]"


def _bin_labels(series: pd.Series, edges: np.ndarray) -> pd.Series:
    """Quantile-group number (0 = lowest) of each value; NaN stays NaN."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes = np.searchsorted(edges, values, side="left").astype(np.float64)
    codes[np.isnan(values)] = np.nan
    return pd.Series(codes, index=series.index)


def level_codes(series: pd.Series, spec: CovariateSpec) -> np.ndarray:
    """Integer code of each row's level in ``spec.levels`` (``-1`` for a level not listed)."""
    if spec.bin_edges is not None:
        series = _bin_labels(series, spec.bin_edges)
    missing = series.isna().to_numpy()
    present = [v for v in spec.levels if not _is_missing_level(v)]
    cat = pd.Categorical(series.where(~series.isna()), categories=present)
    codes = np.asarray(cat.codes, dtype=np.int64).copy()
    if spec.has_missing:
        codes[missing] = len(spec.levels) - 1
    return codes


def level_indicators(series: pd.Series, spec: CovariateSpec) -> np.ndarray:
    """One indicator column per level of ``spec`` (shape (n, levels))."""
    codes = level_codes(series, spec)
    out = np.zeros((len(series), len(spec.levels)))
    rows = np.flatnonzero(codes >= 0)
    out[rows, codes[rows]] = 1.0
    return out


def design_matrix(
    frame: pd.DataFrame, specs: Sequence[CovariateSpec], *, drop_first: bool = True
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Columns for a model on the covariates (no intercept) and their ``(covariate, level)`` labels.

    Categorical covariates give one indicator per level (the first level dropped when
    ``drop_first``); a numeric covariate gives its values (missing filled with 0) and, when it has
    missing values, an indicator ``(covariate, "(missing)")``.
    """
    columns: list[np.ndarray] = []
    labels: list[tuple[str, str]] = []
    for spec in specs:
        series = frame[spec.name]
        if spec.kind == "numeric":
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            miss = np.isnan(values)
            columns.append(np.where(miss, 0.0, values))
            labels.append((str(spec.name), ""))
            if spec.has_missing:
                columns.append(miss.astype(np.float64))
                labels.append((str(spec.name), MISSING_LEVEL))
            continue
        ind = level_indicators(series, spec)
        start = 1 if drop_first else 0
        for j in range(start, ind.shape[1]):
            columns.append(ind[:, j])
            labels.append((str(spec.name), spec.level_labels[j]))
    matrix = np.column_stack(columns) if columns else np.zeros((len(frame), 0))
    return matrix, labels
