"""Boundary conversion of utility tables and rater-level arguments (weights, groups, pools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import as_float_array, fail
from estimators.errors import ValidationError
from estimators.welfare._utility import UtilityTable

__all__ = ["Utilities", "as_utilities", "rater_labels", "rater_values"]


@dataclass(frozen=True)
class Utilities:
    """A utility table as arrays: ``values`` (n x m, NaN = not exposed) and its labels."""

    values: np.ndarray
    options: pd.Index
    raters: pd.Index
    covariates: pd.DataFrame | None

    @property
    def exposed(self) -> np.ndarray:
        return ~np.isnan(self.values)


def as_utilities(u: Any, parameter: str = "u") -> Utilities:
    """Accept a :class:`UtilityTable`, a wide DataFrame (raters x options) or a Series."""
    covariates = None
    if isinstance(u, UtilityTable):
        frame = u.values
        covariates = u.raters
    elif isinstance(u, pd.DataFrame):
        frame = u
    elif isinstance(u, pd.Series):
        frame = u.to_frame(name=u.name if u.name is not None else "option")
    else:
        fail(
            ValidationError,
            parameter,
            "must be a UtilityTable or a wide DataFrame (raters x options)",
            bad=[type(u).__name__],
            fix="Build one with estimators.utility_table(ratings, rater=..., option=..., score=...).",
        )
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        fail(ValidationError, parameter, "needs at least one rater and one option",
             bad=[f"shape {frame.shape}"])
    if not frame.columns.is_unique:
        fail(ValidationError, parameter, "option (column) labels must be unique",
             bad=list(frame.columns[frame.columns.duplicated()]))
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        fail(ValidationError, parameter, "utilities must be numeric",
             bad=[str(t) for t in frame.dtypes.unique()])
    if np.isinf(values).any():
        fail(ValidationError, parameter, "utilities must be finite or NaN (not exposed)",
             bad=["inf"])
    return Utilities(values, frame.columns, frame.index, covariates)


def rater_values(
    spec: Any, util: Utilities, parameter: str, *, numeric: bool
) -> np.ndarray:
    """Resolve a per-rater argument: a covariate column name, a Series by rater, or an array."""
    n = util.values.shape[0]
    if isinstance(spec, str) and not (isinstance(spec, np.ndarray)):
        if util.covariates is None or spec not in util.covariates.columns:
            available = [] if util.covariates is None else list(util.covariates.columns)
            fail(
                ValidationError,
                parameter,
                "names a rater-level column that the utility table does not carry",
                bad=[spec],
                fix="Build the table with utility_table(..., raters=survey) or pass a Series "
                f"indexed by rater (available: {available[:8]}).",
            )
        values: Any = util.covariates[spec].to_numpy()
    elif isinstance(spec, pd.Series):
        missing = util.raters.difference(spec.index)
        if len(missing):
            fail(
                ValidationError,
                parameter,
                "a Series must have a value for every rater of the utility table",
                bad=list(missing),
                fix="Index it by rater id, with every rater present.",
            )
        values = spec.reindex(util.raters).to_numpy()
    else:
        values = np.asarray(spec)
        if values.ndim != 1 or values.shape[0] != n:
            fail(ValidationError, parameter, f"must have one value per rater ({n})",
                 bad=[f"shape {values.shape}"])
    if numeric:
        return as_float_array(values, parameter, length=n, nonnegative=True)
    labels = pd.Series(values)
    if labels.isna().any():
        bad = util.raters[labels.isna().to_numpy()]
        fail(ValidationError, parameter, "group labels must not be missing", bad=list(bad),
             fix="Fill them (e.g. 'unknown') or drop those raters first.")
    return values


def rater_labels(spec: Any, util: Utilities, parameter: str) -> tuple[np.ndarray, pd.Index]:
    """Group codes (0..G-1) and their labels for a ``by=`` argument."""
    values = rater_values(spec, util, parameter, numeric=False)
    codes, labels = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.int64), pd.Index(labels, name=spec if isinstance(spec, str) else "group")
