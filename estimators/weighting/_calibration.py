"""``calibrate``: generalised calibration (Deville & Särndal 1992) to categorical and numeric totals."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estimators._lib.validation import as_int, check_option, check_positive, fail
from estimators.errors import (
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    InfeasibleError,
    MarginError,
    ValidationError,
)
from estimators.survey._weighting_steps import WeightingStep
from estimators.weighting._calibration_feasibility import check_bounds
from estimators.weighting._calibration_solver import (
    CalibrationDistance,
    independent_columns,
    solve_multipliers,
    weighted_gram,
)
from estimators.weighting._input import WeightingInput, resolve_input
from estimators.weighting._margins import WeightingProblem, build_problem, parse_targets
from estimators.weighting._result import WeightingResult

__all__ = ["calibrate"]

CalibrationMethod = Literal["linear", "raking", "logit"]
METHODS: tuple[CalibrationMethod, ...] = ("linear", "raking", "logit")
ROUNDOFF = 1e-12
"""Relative disagreement below which dependent totals count as consistent, whatever ``tol``."""


# ---------------------------------------------------------------------------------------------
# Inputs


Bound = float | np.ndarray
"""A bound on g: one number, or an array (n,) with one bound per row."""


def _bound_side(value: Any, side: str, n: int) -> Bound:
    """One side of ``bounds``: None (no bound), a number, or one number (or None) per row."""
    if value is None:
        return -math.inf if side == "lower" else math.inf
    if np.ndim(value) == 0 and not isinstance(value, (str, bytes)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            fail(ValidationError, "bounds", f"the {side} bound must be a number", bad=[value])
        if math.isnan(v):
            fail(ValidationError, "bounds", f"the {side} bound must not be NaN", bad=[value])
        return v
    if isinstance(value, (str, bytes)):
        fail(ValidationError, "bounds", f"the {side} bound must be a number", bad=[value])
    none = -math.inf if side == "lower" else math.inf
    if isinstance(value, (list, tuple)) or getattr(getattr(value, "dtype", None), "kind", "") == "O":
        value = [none if v is None else v for v in value]  # None: no bound for that row
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        fail(ValidationError, "bounds", f"the {side} bounds per row must be numbers",
             bad=[type(value).__name__])
    if arr.size != n:
        fail(
            ValidationError,
            "bounds",
            f"the {side} bounds per row must have one value per row of the data",
            bad=[f"{arr.size} values for {n} rows"],
            fix="Give one number for every row, or a single number for all rows.",
        )
    if np.isnan(arr).any():
        fail(ValidationError, "bounds", f"the {side} bounds per row must not be NaN",
             bad=[int(i) for i in np.flatnonzero(np.isnan(arr))])
    return arr


def _parse_bounds(
    bounds: Any, method: str, base_weights: np.ndarray, bounds_on: str
) -> tuple[Bound, Bound]:
    """``None`` or ``(lower, upper)`` -> bounds on g (numbers, or arrays with one per row).

    Either side may be None (no bound), a number, or one number per row. With
    ``bounds_on="weights"`` they bound the weights themselves and are divided by the base weight
    of each row (rows with base weight 0 keep the value as given, as R's ``bounds.const``).
    """
    n = len(base_weights)
    if isinstance(bounds, dict) and set(bounds) <= {"lower", "upper"}:
        bounds = (bounds.get("lower"), bounds.get("upper"))  # R's list(lower =, upper =)
    if bounds is None:
        lower, upper = -math.inf, math.inf
    else:
        if (isinstance(bounds, (str, bytes, dict)) or not hasattr(bounds, "__len__")
                or len(bounds) != 2):
            fail(
                ValidationError,
                "bounds",
                "must be None or a pair (lower, upper) of bounds on g = w / d",
                bad=[bounds],
                fix="Write e.g. bounds=(0.5, 2.0); use None for a side without a bound.",
            )
        lower = _bound_side(bounds[0], "lower", n)
        upper = _bound_side(bounds[1], "upper", n)
    if bounds_on == "weights":
        d = np.asarray(base_weights, dtype=np.float64)
        safe = np.where(d > 0, d, 1.0)
        lower = np.where(d > 0, lower / safe, lower)
        upper = np.where(d > 0, upper / safe, upper)
    per_row = np.ndim(lower) > 0 or np.ndim(upper) > 0
    bad = np.flatnonzero(~(np.broadcast_to(lower, (n,)) < np.broadcast_to(upper, (n,))))
    if per_row and bad.size:
        fail(
            ValidationError,
            "bounds",
            "every row's lower bound must be smaller than its upper bound",
            bad=[f"row {i}: ({np.broadcast_to(lower, (n,))[i]:g}, "
                 f"{np.broadcast_to(upper, (n,))[i]:g})" for i in bad],
        )
    if not per_row and not lower < upper:
        fail(
            ValidationError,
            "bounds",
            "the lower bound must be smaller than the upper bound",
            bad=[tuple(bounds)],
        )
    if method == "logit":
        lo_all = np.broadcast_to(lower, (max(n, 1),))
        up_all = np.broadcast_to(upper, (max(n, 1),))
        ok = np.isfinite(lo_all) & np.isfinite(up_all) & (lo_all < 1.0) & (up_all > 1.0)
        if not ok.all():
            fail(
                ValidationError,
                "bounds",
                'method="logit" needs finite bounds with lower < 1 < upper',
                bad=[bounds] if not per_row else [
                    f"row {i}: ({lo_all[i]:g}, {up_all[i]:g})" for i in np.flatnonzero(~ok)],
                fix="Logit calibration keeps every g = w / d strictly inside (lower, upper); "
                "write e.g. bounds=(0.5, 2.0), or use method='raking' for no bounds.",
            )
    if method == "raking":  # exp(u) > 0: a lower bound <= 0 never binds
        if per_row:
            lower = np.where(np.broadcast_to(lower, (n,)) <= 0.0, -math.inf, lower)
        elif lower <= 0.0:
            lower = -math.inf
    if per_row:
        lower = np.array(np.broadcast_to(lower, (n,)), dtype=np.float64)
        upper = np.array(np.broadcast_to(upper, (n,)), dtype=np.float64)
    return lower, upper


def _row_values(value: Any, frame: pd.DataFrame, parameter: str) -> np.ndarray:
    """A column name or one value per row -> ndarray (n,)."""
    if isinstance(value, str) or (np.ndim(value) == 0 and value in frame.columns):
        if value not in frame.columns:
            fail(ValidationError, parameter, "names a column that is not in the data",
                 bad=[value], fix="Give a column name of the data or one value per row.")
        arr = frame[value].to_numpy()
    else:
        arr = np.asarray(value).ravel()
    if arr.size != len(frame):
        fail(ValidationError, parameter, "must have one value per row of the data",
             bad=[f"{arr.size} values for {len(frame)} rows"],
             fix="Give a column name of the data or one value per row.")
    return arr


def _parse_variance(variance: Any, frame: pd.DataFrame) -> np.ndarray | None:
    """Positive finite variances of the calibration model, one per row (None: constant)."""
    if variance is None:
        return None
    raw = _row_values(variance, frame, "variance")
    try:
        v = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        fail(ValidationError, "variance", "must be numbers", bad=[type(variance).__name__])
    bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad.size:
        fail(
            ValidationError,
            "variance",
            "must be positive and finite in every row (g depends on x / variance)",
            bad=[f"row {frame.index[i]!r}: {v[i]!r}" for i in bad],
            fix="Fill or remove those rows, or add a small positive constant.",
        )
    return v


def _parse_aggregate(aggregate: Any, source: WeightingInput) -> np.ndarray | None:
    """Integer codes of the groups (clusters) within which g must be constant."""
    if aggregate is None:
        return None
    frame = source.frame
    if (isinstance(aggregate, str) and aggregate == "psu" and aggregate not in frame.columns
            and source.design is not None):
        return np.asarray(source.design.psu_codes, dtype=np.intp)
    raw = _row_values(aggregate, frame, "aggregate")
    missing = pd.isna(raw)
    if missing.any():
        fail(ValidationError, "aggregate", "has missing values",
             bad=[frame.index[i] for i in np.flatnonzero(missing)],
             fix="Every row must belong to a group (e.g. its cluster).")
    return pd.factorize(raw)[0].astype(np.intp)


def _parse_trim(trim: Any) -> tuple[float, float] | None:
    if trim is None:
        return None
    if isinstance(trim, (str, bytes)) or not hasattr(trim, "__len__") or len(trim) != 2:
        fail(ValidationError, "trim", "must be None or a pair (lower, upper) of bounds on g",
             bad=[trim], fix="Write e.g. trim=(2/3, 1.5); use None for a side without a bound.")
    values = []
    for side, value in zip(("lower", "upper"), trim):
        if value is None:
            values.append(-math.inf if side == "lower" else math.inf)
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        values.append(v)
    lo, hi = values
    if not lo < hi:  # also catches NaN
        fail(ValidationError, "trim", "needs numbers with lower < upper", bad=[tuple(trim)],
             fix="Write e.g. trim=(2/3, 1.5).")
    return lo, hi


def _trim_g(g: np.ndarray, d: np.ndarray, trim: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Clip g (m, R) to ``trim``; spread the weight removed over the other units in proportion
    to their base weight ``d`` (m, R) by one additive shift of their g (R ``calibrate(trim=)``).

    Returns the trimmed g and, per column, whether any unit was left inside the range to receive
    the excess (when none is, g is only clipped).
    """
    lo, hi = trim
    clipped = np.clip(g, lo, hi)
    outside = (g < lo) | (g > hi)
    removed = ((g - clipped) * d).sum(axis=0)
    receiving = (d * ~outside).sum(axis=0)
    ok = receiving > 0
    shift = np.where(outside.any(axis=0) & ok, removed / np.where(ok, receiving, 1.0), 0.0)
    return np.where(outside, clipped, clipped + shift), ok | ~outside.any(axis=0)


# ---------------------------------------------------------------------------------------------
# The unit table: rows collapsed to cells of the categorical columns x distinct numeric values


class _Units:
    """Rows collapsed to units with identical auxiliary values (g depends on x only)."""

    def __init__(self, problem: WeightingProblem) -> None:
        cells = problem.cells
        if problem.margins:
            row_cell = np.asarray(cells.row_cells(), dtype=np.intp)
            n_cells = cells.n_cells
        else:  # numeric totals only: one cell holding every included row
            row_cell = np.where(problem.included, 0, -1).astype(np.intp)
            n_cells = 1
        included = row_cell >= 0
        blocks = []
        for m in problem.margins:
            ind = np.zeros((n_cells, m.n_categories))
            ok = m.cell_category >= 0
            ind[np.flatnonzero(ok), m.cell_category[ok]] = 1.0
            blocks.append(ind)
        cell_x = np.hstack(blocks) if blocks else np.zeros((n_cells, 0))
        if problem.numeric:
            numeric = np.column_stack([values for _, _, values in problem.numeric])
            unit_inc = _combine_codes(
                [row_cell[included]] + [numeric[included, j] for j in range(numeric.shape[1])]
            )
            n_units = int(unit_inc.max(initial=-1)) + 1
            first = np.empty(n_units, dtype=np.intp)
            inc_rows = np.flatnonzero(included)
            first[unit_inc[::-1]] = inc_rows[::-1]  # any row of the unit represents it
            self.x = np.hstack([cell_x[row_cell[first]], numeric[first]])
            self.row_unit = np.full(len(row_cell), -1, dtype=np.intp)
            self.row_unit[inc_rows] = unit_inc
        else:
            self.x = cell_x
            self.row_unit = np.asarray(row_cell, dtype=np.intp)
        self.n_units = self.x.shape[0]
        self.included = included
        self._indicator: sp.csr_matrix | None = None

    @classmethod
    def from_rows(
        cls, x_rows: np.ndarray, included: np.ndarray, extras: list[np.ndarray]
    ) -> _Units:
        """Units of identical (auxiliary row, per-row options) among the included rows.

        Used when g depends on more than the categorical cells and numeric values: bounds or
        variances given per row, or auxiliary values averaged within clusters.
        """
        self = cls.__new__(cls)
        inc_rows = np.flatnonzero(included)
        columns = [x_rows[inc_rows, j] for j in range(x_rows.shape[1])]
        columns += [np.asarray(e)[inc_rows] for e in extras]
        if not columns or inc_rows.size == 0:
            unit_inc = np.zeros(inc_rows.size, dtype=np.intp)
        else:
            unit_inc = _combine_codes(columns)
        n_units = int(unit_inc.max(initial=-1)) + 1
        first = np.empty(n_units, dtype=np.intp)
        first[unit_inc[::-1]] = inc_rows[::-1]
        self.x = np.ascontiguousarray(x_rows[first], dtype=np.float64)
        self.row_unit = np.full(len(included), -1, dtype=np.intp)
        self.row_unit[inc_rows] = unit_inc
        self.first_row = first
        self.n_units = n_units
        self.included = np.asarray(included, dtype=bool)
        self._indicator = None
        return self

    @property
    def indicator(self) -> sp.csr_matrix:
        """Sparse (units x rows) membership matrix, built on first use (replicate sums)."""
        if self._indicator is None:
            rows = np.flatnonzero(self.included)
            self._indicator = sp.csr_matrix(
                (np.ones(rows.size), (self.row_unit[rows], rows)),
                shape=(self.n_units, len(self.included)),
            )
        return self._indicator

    def sum_rows(self, values: np.ndarray) -> np.ndarray:
        """Sum row values (n,) or (n, R) per unit."""
        if values.ndim == 1:
            inc = self.included
            return np.bincount(self.row_unit[inc], weights=values[inc], minlength=self.n_units)
        return np.asarray(self.indicator @ values)

    def gather(self, unit_values: np.ndarray) -> np.ndarray:
        """Unit values (m,) or (m, R) back to rows (0 for rows outside every unit)."""
        out = unit_values[np.where(self.included, self.row_unit, 0)]
        if out.ndim == 1:
            return np.where(self.included, out, 0.0)
        return np.where(self.included[:, None], out, 0.0)


def _combine_codes(columns: list[np.ndarray]) -> np.ndarray:
    """One code (0..K-1) per distinct row of ``columns``: factorise each, combine pairwise."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for values in columns:
        codes, uniques = pd.factorize(values)
        key = key * np.int64(len(uniques)) + codes
        key = pd.factorize(key)[0].astype(np.int64)  # compress: keys never overflow
    return key.astype(np.intp)


def _constraint_labels(problem: WeightingProblem) -> tuple[list[str], list[str]]:
    """Display name of every constraint, and the margin (trace column) it belongs to."""
    names: list[str] = []
    groups: list[str] = []
    for m in problem.margins:
        for label in m.labels:
            shown = " x ".join(str(v) for v in label) if isinstance(label, tuple) else str(label)
            names.append(f"{m.name}={shown}")
            groups.append(m.name)
    for column, _, _ in problem.numeric:
        names.append(str(column))
        groups.append(str(column))
    return names, groups


def _check_consistent(
    gram: np.ndarray, targets: np.ndarray, scale: np.ndarray, keep: np.ndarray,
    names: list[str], tol: float,
) -> None:
    """Totals of linearly dependent constraints must agree with those they depend on."""
    dropped = np.setdiff1d(np.arange(gram.shape[0]), keep)
    if dropped.size == 0:
        return
    # x_dropped = x_keep @ coef (weighted least squares), solved on the unit-diagonal Gram matrix
    root = np.sqrt(np.where(np.diag(gram) > 0, np.diag(gram), 1.0))
    unit = gram / root[:, None] / root[None, :]
    coef_unit = np.linalg.lstsq(unit[np.ix_(keep, keep)], unit[np.ix_(keep, dropped)], rcond=None)[0]
    coef = coef_unit / root[keep][:, None] * root[dropped][None, :]
    implied = targets[keep] @ coef
    gap = np.abs(implied - targets[dropped]) / scale[dropped]
    bad = np.flatnonzero(gap > max(tol, ROUNDOFF))
    if bad.size:
        fail(
            MarginError,
            "totals",
            "some totals contradict the others (their auxiliary variables are linear "
            "combinations of other constraints in this sample, but the targets are not)",
            bad=[
                f"{names[dropped[i]]}: target {targets[dropped[i]]:.10g}, implied "
                f"{implied[i]:.10g}"
                for i in bad
            ],
            fix="Make the totals agree (e.g. every categorical margin summing to the same "
            "population total) or remove the redundant one.",
        )


def _suggest(low: float, high: float) -> tuple[float, float]:
    """Round a feasible g-range outward to 2 decimals, strictly containing it."""
    lo = math.floor(low * 100.0) / 100.0
    hi = math.ceil(high * 100.0) / 100.0
    if lo >= low - 1e-12:
        lo -= 0.01
    if hi <= high + 1e-12:
        hi += 0.01
    return round(lo, 2), round(hi, 2)


def _raise_infeasible(
    report: Any, names: list[str], targets: np.ndarray, lower: Any, upper: Any, method: str
) -> None:
    unmet = np.argsort(-np.abs(report.relative_shortfall))
    unmet = [j for j in unmet if abs(report.relative_shortfall[j]) > 1e-9]
    bad = [f"{names[j]}: target {targets[j]:.8g}, closest reachable {report.closest[j]:.8g}" for j in unmet]
    if np.ndim(lower) > 0 or np.ndim(upper) > 0:
        fail(
            InfeasibleError,
            "bounds",
            "no weights with every g = w / d within its row's bounds meet every total; "
            "unmet totals (target vs closest reachable within the bounds)",
            bad=bad,
            fix="Widen the bounds of some rows (those of the categories named), or pass "
            "trim= with bounds that calibration can meet.",
        )
    shown_lower = f"{lower:g}" if math.isfinite(lower) else "-inf"
    shown_upper = f"{upper:g}" if math.isfinite(upper) else "inf"
    if report.narrowest_range is None:
        fix = (
            "No non-negative weights meet these totals at all; check the totals, or use "
            "method='linear' (which allows negative weights) without bounds."
        )
    else:
        low, high = (v + 0.0 if abs(v) > 1e-12 else 0.0 for v in report.narrowest_range)
        sl, sh = _suggest(low, high)
        if method != "linear":
            sl = max(sl, 0.0)
        fix = (
            f"The narrowest range of g that meets every total is [{low:.6g}, {high:.6g}]; "
            f"widen the bounds to contain it, e.g. bounds=({sl:g}, {sh:g}) "
            f"(command line: --bounds {sl:g} {sh:g})."
        )
    fail(
        InfeasibleError,
        "bounds",
        f"no weights with g = w / d in [{shown_lower}, {shown_upper}] meet every total; "
        "unmet totals (target vs closest reachable within the bounds)",
        bad=bad,
        fix=fix,
    )


# ---------------------------------------------------------------------------------------------
# The public function


def calibrate(
    data: Any,
    totals: Any,
    *,
    method: CalibrationMethod = "linear",
    bounds: tuple[float | None, float | None] | None = None,
    weights: Any = None,
    bounds_on: Literal["g", "weights"] = "g",
    aggregate: Any = None,
    variance: Any = None,
    trim: tuple[float | None, float | None] | None = None,
    within: Any = None,
    stage_weights: Any = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
    on_missing: Literal["raise", "level", "drop"] = "raise",
    on_empty_category: Literal["raise", "drop"] = "raise",
    on_total_mismatch: Literal["raise", "normalize"] = "raise",
    population_total: float | None = None,
    total_tolerance: float = 1e-6,
) -> WeightingResult:
    """Calibrate weights to categorical margins and numeric totals (generalised calibration).

    Finds weights ``w_k = d_k g_k`` as close as possible to the base weights ``d`` in the chosen
    distance, such that the weighted totals of the auxiliary variables equal the targets:
    one indicator per category of every categorical margin (one-way or joint) and one column per
    numeric total.

    Parameters
    ----------
    data : SurveyDesign or DataFrame
        The sample. A design's weights are the base weights; a DataFrame gets ``weights``.
    totals : dict or DataFrame
        Categorical margins as for :func:`~estimators.rake` (shares or counts, joint margins with
        tuple keys) plus numeric totals ``{"income": 1.2e9}``; or a long DataFrame with columns
        ``variable``, ``category``, ``target`` (a numeric total has a missing category). Margins
        given as shares are multiplied by the population total (the total of the count margins,
        else ``population_total``, else the sum of the base weights).
    method : {"linear", "raking", "logit"}
        The distance: ``"linear"`` (chi-square; GREG weights, may be negative without bounds),
        ``"raking"`` (multiplicative; g > 0) or ``"logit"`` (g strictly inside the bounds).
    bounds : (lower, upper), optional
        Bounds on ``g = w / d``; ``None`` for a side means no bound. Each side is one number for
        every row or an array with one bound per row (R's ``bounds = list(lower=, upper=)``;
        a dict ``{"lower": ..., "upper": ...}`` is read the same way).
        Logit needs both, finite, with ``lower < 1 < upper`` (its distance is defined around
        ``g = 1``); for linear and raking they may exclude 1 (e.g. base weights of 1 and
        population counts). Bounds that no weights can meet raise
        :class:`~estimators.InfeasibleError`, naming the unmet totals and (for bounds common to
        every row) a feasible range.
    weights : str, array-like or None
        Base weights when ``data`` is a DataFrame (column name, values, or None for 1).
    bounds_on : {"g", "weights"}
        ``"weights"``: ``bounds`` bound the calibrated weights themselves, and are divided by each
        row's base weight (R's ``bounds.const = TRUE``).
    aggregate : str, array-like or None
        Groups (e.g. clusters) within which ``g`` must be constant: a column name, one label per
        row, or ``"psu"`` for the PSUs of a design. The auxiliary values of each row are replaced
        by their mean within its group, so rows of a cluster that had equal base weights keep
        equal weights (R's ``aggregate.stage`` / ``aggregate.index``; Vanderhoeft 2001).
    variance : str, array-like or None
        Variances ``v_k > 0`` of a heteroscedastic calibration model (a column name or one value
        per row): ``g_k = F(x_k' lambda / v_k)``, i.e. unit ``k`` enters the distance with weight
        ``v_k``. For linear calibration, ``variance`` equal to a numeric auxiliary variable gives
        the ratio estimator (R's ``variance=``).
    trim : (lower, upper), optional
        After calibration, clip ``g`` to this range and spread the weight removed over the other
        rows in proportion to their base weight (one additive shift of their ``g``, so a few may
        end slightly outside the range); the totals then hold only approximately
        (``max_margin_error`` reports the misfit after trimming). R's ``calibrate(trim=)``;
        replicate weights are trimmed the same way.
    within : str, array-like or None
        First-stage clusters (a column name or one label per row) to calibrate *within*, when
        totals are known for the sampled clusters only (R's ``stage = 1``; Särndal's case C).
        ``totals`` then maps each cluster label to that cluster's totals, and the conditional
        weights ``d_k / d_1c`` of each cluster are calibrated (unbounded linear, with
        ``variance`` if given) to them. The between-cluster variance is left as it is: the
        recorded step projects nothing at population level, and replicates (which multiply whole
        clusters) keep each row's ``g``. On a design with later stages (``psu=[...]`` with an
        fpc per stage) each cluster's contribution to those stages is computed on the residuals
        of its own calibration, as R's default multistage variance does.
    stage_weights : str, array-like or None
        With ``within``: the first-stage weights ``d_1c = 1 / pi_1c`` (constant within clusters).
    tol : float
        Convergence: every total met to ``|sum w x - T| / |T| <= tol``.
    max_iter : int
        Newton iterations at most.
    on_nonconvergence : {"raise", "warn"}
        Not converged within ``max_iter``: raise :class:`~estimators.ConvergenceError`, or warn
        with :class:`~estimators.ConvergenceWarning` and return ``converged=False``.
    on_missing, on_empty_category, on_total_mismatch, population_total, total_tolerance
        How missing values, target categories without sample and disagreeing margin totals are
        handled, as in :func:`~estimators.rake`.

    Returns
    -------
    WeightingResult
        ``weights`` on the caller's index, ``design`` (recording a
        :class:`~estimators.survey._weighting_steps.WeightingStep` whose ``reweight`` re-calibrates R
        replicate columns at once), ``converged``, ``n_iter``, ``max_margin_error``,
        ``diagnostics()``, Kish design effect, g-range.

    Notes
    -----
    Minimise ``sum_k d_k G(w_k / d_k)`` subject to ``sum_k w_k x_k = T`` (Deville & Särndal
    1992). The solution is ``w_k = d_k F(x_k' lambda)`` where the multipliers solve
    ``sum_k d_k F(x_k' lambda) x_k = T``, with

    * linear: ``F(u) = 1 + u``, so ``lambda = (sum_k d_k x_k x_k')^{-1} (T - sum_k d_k x_k)``
      (the GREG weights);
    * raking: ``F(u) = exp(u)``;
    * logit with bounds ``(L, U)``: ``F(u) = (L (U-1) + U (1-L) e^{A u}) / (U - 1 + (1-L) e^{A u})``
      with ``A = (U - L) / ((U - 1)(1 - L))``, so ``L < g < U``;
    * bounds on linear and raking truncate ``F`` to ``[L, U]``.

    The equations are solved by Newton's method on ``lambda`` with a backtracking line search on
    the convex dual, over the table of distinct auxiliary rows (observed cells of the
    categorical columns, times distinct numeric values), never over the n x p row matrix.
    Redundant constraints (e.g. the intercept implied by every categorical margin) are removed
    by an incremental Cholesky factorisation of their weighted Gram matrix, after checking
    their targets agree. When Newton does not converge, a linear
    program on the same table decides whether any ``g`` in ``[L, U]`` (and ``g >= 0`` for
    raking and logit) meets the totals: if none does, :class:`~estimators.InfeasibleError` names
    the unmet totals and the narrowest feasible range of ``g``. The
    weights equal R ``survey::calibrate(..., calfun=method, bounds=...)`` (tested to 1e-8
    relative on the ``api`` data); unlike R, bounds are never reinterpreted after rescaling.
    The options ``bounds`` per row, ``bounds_on``, ``aggregate``, ``variance`` and ``trim``
    equal R's ``bounds = list(...)``, ``bounds.const``, ``aggregate.stage`` / ``aggregate.index``,
    ``variance`` and ``trim`` (weights, JK1 replicate weights and standard errors tested against
    R survey 4.1.1 on the ``api`` data). With per-row options the equations are solved over the
    distinct rows of (auxiliary values, bounds, variance) instead of the cells.

    References
    ----------
    Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling.
    *Journal of the American Statistical Association* 87(418), 376-382.
    Deville, J.-C., Särndal, C.-E. and Sautory, O. (1993). Generalized raking procedures in
    survey sampling. *JASA* 88(423), 1013-1020.
    Vanderhoeft, C. (2001). Generalised calibration at Statistics Belgium. Statistics Belgium
    Working Paper 3.

    Examples
    --------
    >>> import pandas as pd
    >>> import estimators as est
    >>> df = pd.DataFrame({"sex": ["f", "f", "m", "m", "m"],
    ...                    "income": [10.0, 20.0, 15.0, 30.0, 25.0]})
    >>> fit = est.calibrate(df, {"sex": {"f": 50, "m": 50}, "income": 2000.0})
    >>> round(float(fit.weights.sum()), 6), round(float(fit.weights @ df["income"]), 6)
    (100.0, 2000.0)
    >>> fit = est.calibrate(df, {"sex": {"f": 50, "m": 50}, "income": 2000.0},
    ...                     weights=[20.0] * 5, method="logit", bounds=(0.5, 1.5))
    >>> fit.converged, bool(fit.g.between(0.5, 1.5).all())
    (True, True)

    Weights constant within clusters, and a bound on one row's weight:

    >>> df["cluster"] = [1, 1, 2, 2, 3]
    >>> fit = est.calibrate(df, {"income": 2200.0}, weights=[20.0] * 5, aggregate="cluster")
    >>> bool(fit.weights[0] == fit.weights[1]), bool(fit.weights[2] == fit.weights[3])
    (True, True)
    >>> round(float(fit.weights @ df["income"]), 6)
    2200.0
    >>> fit = est.calibrate(df, {"sex": {"f": 50, "m": 50}, "income": 2000.0},
    ...                     weights=[20.0] * 5, bounds=(None, [21.0] + [None] * 4),
    ...                     bounds_on="weights")
    >>> round(float(fit.weights[0]), 6), round(float(fit.weights @ df["income"]), 6)
    (21.0, 2000.0)
    """
    method = check_option(method, METHODS, "method")
    bounds_on = check_option(bounds_on, ("g", "weights"), "bounds_on")
    trim_range = _parse_trim(trim)
    solver = _SolverOptions(
        tol=check_positive(tol, "tol"),
        max_iter=as_int(max_iter, "max_iter", minimum=1),
        on_nonconvergence=check_option(on_nonconvergence, ("raise", "warn"),
                                       "on_nonconvergence"),
    )
    source = resolve_input(data, weights)
    if within is not None:
        if bounds is not None or trim_range is not None or aggregate is not None or method != "linear":
            fail(
                ValidationError,
                "within",
                "calibration within first-stage clusters is unbounded linear (GREG) "
                "calibration, without bounds, trim or aggregate",
                bad=[f"method={method!r}, bounds={bounds!r}, trim={trim!r}, "
                     f"aggregate={aggregate!r}"],
                fix="Drop those options (as R's calibrate(..., stage = 1), which uses the "
                "linear calibration function only).",
            )
        return _calibrate_within(
            source, totals, within, stage_weights, _parse_variance(variance, source.frame),
            solver, on_missing=on_missing, on_empty_category=on_empty_category,
        )
    lower, upper = _parse_bounds(bounds, method, source.base_weights, bounds_on)
    variance_rows = _parse_variance(variance, source.frame)
    groups = _parse_aggregate(aggregate, source)
    parsed = parse_targets(totals, parameter="totals", allow_numeric=True)
    problem = build_problem(
        source.frame,
        parsed,
        source.base_weights,
        parameter="totals",
        population_total=population_total,
        on_missing=on_missing,
        on_empty_category=on_empty_category,
        on_total_mismatch=on_total_mismatch,
        total_tolerance=total_tolerance,
    )
    layout = _layout(problem, method, lower, upper, variance_rows, groups)
    units = layout.units
    distance = CalibrationDistance(method, layout.lower, layout.upper)
    system = _CalibrationSystem.build(problem, units, solver.tol, q=layout.q)
    start = _start(system.x_solve, system.unit_base, distance, layout.q)
    fit = _solve(system, distance, solver, start)
    if not fit.converged:
        _report_nonconvergence(fit, system, distance, solver)
    if trim_range is not None:
        trimmed, ok = _trim_g(fit.unit_g[:, None], system.unit_base[:, None], trim_range)
        if not ok[0]:
            fail(
                ValidationError,
                "trim",
                "every calibrated g lies outside the trimming range, so no weight is left to "
                "take up what trimming removes",
                bad=[f"g in [{fit.unit_g.min():.6g}, {fit.unit_g.max():.6g}], trim {trim_range}"],
                fix="Widen trim so that it contains some of the calibrated g.",
            )
        unit_g = trimmed[:, 0]
        misfit = system.misfit(unit_g)
        fit = replace(fit, unit_g=unit_g, misfit=misfit,
                      max_error=float(misfit.max(initial=0.0)))
    weights_out = problem.base_weights * units.gather(fit.unit_g)
    index = source.frame.index
    _warn_negative(weights_out, index)
    return _result(problem, source, system, distance, solver, start, layout, fit, weights_out,
                   trim_range)


def _calibrate_within(
    source: WeightingInput,
    totals: Any,
    within: Any,
    stage_weights: Any,
    variance_rows: np.ndarray | None,
    solver: _SolverOptions,
    *,
    on_missing: str,
    on_empty_category: str,
) -> WeightingResult:
    """GREG calibration of each first-stage cluster to its own totals (Särndal's case C).

    In cluster ``c`` with first-stage weight ``d_1c``, the conditional weights ``d_k / d_1c`` are
    calibrated to the cluster's totals ``T_c``; the final weights are ``d_k g_k``.
    """
    frame = source.frame
    labels = _row_values(within, frame, "within")
    if pd.isna(labels).any():
        fail(ValidationError, "within", "has missing values",
             bad=[frame.index[i] for i in np.flatnonzero(pd.isna(labels))],
             fix="Every row must belong to a first-stage cluster.")
    if stage_weights is None:
        fail(ValidationError, "stage_weights", "is needed with within= (the first-stage "
             "weights 1 / pi_1 of the clusters)", bad=[None],
             fix="Pass stage_weights= (a column name or one value per row).")
    stage = np.asarray(_row_values(stage_weights, frame, "stage_weights"), dtype=np.float64)
    if not (np.isfinite(stage) & (stage > 0)).all():
        fail(ValidationError, "stage_weights", "must be positive and finite",
             bad=[f"row {frame.index[i]!r}: {stage[i]!r}"
                  for i in np.flatnonzero(~(np.isfinite(stage) & (stage > 0)))])
    if not isinstance(totals, dict):
        fail(ValidationError, "totals", "with within=, must map each cluster to its totals",
             bad=[type(totals).__name__],
             fix="Write e.g. totals={district: {'api99': 12345.0}, ...}.")
    codes, uniques = pd.factorize(labels)
    missing = [u for u in uniques if u not in totals]
    if missing:
        fail(ValidationError, "totals", "has no totals for some clusters of within=",
             bad=missing, fix="Give totals for every sampled first-stage cluster.")
    base = np.asarray(source.base_weights, dtype=np.float64)
    g_rows = np.ones(len(frame))
    models: list[tuple[np.ndarray, Any]] = []  # each cluster's rows and auxiliary matrix
    converged, n_iter, max_error = True, 0, 0.0
    for c, label in enumerate(uniques):
        rows = np.flatnonzero(codes == c)
        if np.ptp(stage[rows]) > 1e-9 * stage[rows].max():
            fail(ValidationError, "stage_weights", "must be constant within each cluster",
                 bad=[label])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # negative weights: warned once below
            fit = calibrate(
                frame.iloc[rows], totals[label], weights=base[rows] / stage[rows],
                variance=None if variance_rows is None else variance_rows[rows],
                tol=solver.tol, max_iter=solver.max_iter,
                on_nonconvergence=solver.on_nonconvergence, on_missing=on_missing,
                on_empty_category=on_empty_category,
            )
        g_rows[rows] = fit.g.to_numpy()
        models.append((rows, fit.step.model_matrix))
        converged &= fit.converged
        n_iter = max(n_iter, fit.n_iter)
        max_error = max(max_error, fit.max_margin_error)
    weights_out = base * g_rows
    _warn_negative(weights_out, frame.index)
    n = len(frame)

    def reweight(replicate_base: np.ndarray) -> np.ndarray:
        # replicates multiply whole first-stage clusters: the conditional weights, hence g,
        # are unchanged
        arr = np.asarray(replicate_base, dtype=np.float64)
        return arr * (g_rows if arr.ndim == 1 else g_rows[:, None])

    def step_factory() -> WeightingStep:
        return WeightingStep(
            method="linear",
            base_weights=base,
            weights=weights_out,
            # no population-level projection: calibrating inside the sampled clusters leaves the
            # between-cluster (ultimate-cluster) variance as it is
            model_matrix=np.zeros((n, 1)),
            reweight=reweight,
            options={"method": "linear", "within": labels, "stage_weights": stage,
                     "tol": solver.tol, "max_iter": solver.max_iter,
                     # for the later stages of a multistage variance (R's stage-1 calibration)
                     "within_models": tuple(models), "within_variance": variance_rows},
        )

    index = frame.index
    return WeightingResult(
        weights=pd.Series(weights_out, index=index, name="weight"),
        base_weights=pd.Series(base, index=index, name="base_weight"),
        method="linear",
        converged=bool(converged),
        n_iter=n_iter,
        max_margin_error=max_error,
        trace=pd.DataFrame(index=pd.RangeIndex(0, name="iteration")),
        step_factory=step_factory,
        base_design=source.make_design,
        tol=solver.tol,
    )


@dataclass(frozen=True)
class _Layout:
    """The units the equations are solved on, with their bounds and variance factors, and the
    model matrix recorded for the variance."""

    units: _Units
    lower: Any
    upper: Any
    q: np.ndarray | None
    model_matrix: Any  # None: the problem's own (built when the step is first asked for)
    variance_rows: np.ndarray | None
    projection_weights: np.ndarray | None
    aggregated: bool


def _group_means(values: np.ndarray, groups: np.ndarray, included: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (n, k) replaced by their unweighted mean within each group
    (included rows only; other rows keep their values)."""
    out = np.array(values, dtype=np.float64, copy=True)
    inc = np.flatnonzero(included)
    codes = groups[inc]
    n_groups = int(codes.max(initial=-1)) + 1
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    for j in range(out.shape[1]):
        sums = np.bincount(codes, weights=out[inc, j], minlength=n_groups)
        out[inc, j] = (sums / np.maximum(counts, 1.0))[codes]
    return out


def _warn_unequal_within_groups(
    base: np.ndarray, groups: np.ndarray, included: np.ndarray
) -> None:
    """The cluster means reproduce the totals only when base weights are equal within clusters."""
    d = np.asarray(base, dtype=np.float64)[included]
    codes = groups[included]
    n_groups = int(codes.max(initial=-1)) + 1
    high = np.full(n_groups, -np.inf)
    low = np.full(n_groups, np.inf)
    np.maximum.at(high, codes, d)
    np.minimum.at(low, codes, d)
    unequal = np.flatnonzero(high - low > 1e-9 * np.maximum(np.abs(high), 1e-300))
    if unequal.size:
        warnings.warn(
            f"aggregate: base weights differ within {unequal.size} groups; g is made constant "
            "within each group from the group means of the auxiliary values, so the totals of "
            "the original values are met only approximately (as R's aggregate.index).",
            DataWarning,
            stacklevel=4,
        )


def _layout(
    problem: WeightingProblem,
    method: str,
    lower: Bound,
    upper: Bound,
    variance_rows: np.ndarray | None,
    groups: np.ndarray | None,
) -> _Layout:
    """Collapse rows to units: by cells and numeric values, or (when bounds or variances are
    given per row, or g must be constant within clusters) by distinct rows of the auxiliary
    values and those options."""
    units = _Units(problem)
    per_row = np.ndim(lower) > 0 or np.ndim(upper) > 0
    if not (per_row or variance_rows is not None or groups is not None):
        return _Layout(units, lower, upper, None, None, None, None, False)
    mm = problem.model_matrix()
    x_rows = mm.toarray() if sp.issparse(mm) else np.asarray(mm, dtype=np.float64)
    included = units.included
    unbounded = not (np.isfinite(lower).any() or np.isfinite(upper).any())
    if groups is not None:
        _warn_unequal_within_groups(problem.base_weights, groups, included)
        x_rows = _group_means(x_rows, groups, included)
        if variance_rows is not None and method == "linear" and unbounded:
            # the GREG (unbounded linear) weights use the cluster mean of the variances
            variance_rows = _group_means(variance_rows[:, None], groups, included)[:, 0]
    extras = [np.asarray(b) for b in (lower, upper) if np.ndim(b) > 0]
    if variance_rows is not None:
        extras.append(variance_rows)
    units = _Units.from_rows(x_rows, included, extras)
    first = units.first_row
    lower_u = np.asarray(lower)[first][:, None] if np.ndim(lower) > 0 else lower
    upper_u = np.asarray(upper)[first][:, None] if np.ndim(upper) > 0 else upper
    q = None if variance_rows is None else 1.0 / variance_rows[first]
    projection = None
    if variance_rows is not None and method == "linear" and unbounded:
        projection = problem.base_weights / variance_rows
    return _Layout(
        units=units, lower=lower_u, upper=upper_u, q=q,
        model_matrix=x_rows if groups is not None else mm,
        variance_rows=variance_rows, projection_weights=projection,
        aggregated=groups is not None,
    )


# ---------------------------------------------------------------------------------------------
# Steps of calibrate: the constraint system, the Newton solve, the checks, the result


@dataclass(frozen=True)
class _SolverOptions:
    """Newton's stopping rule and what to do when it is not met."""

    tol: float
    max_iter: int
    on_nonconvergence: str = "raise"


@dataclass(frozen=True)
class _CalibrationSystem:
    """The calibration equations on the unit table: auxiliary values, base weight per unit,
    targets and their misfit scale; the linearly independent columns, rescaled, are solved."""

    x: np.ndarray
    unit_base: np.ndarray
    targets: np.ndarray
    scale: np.ndarray
    names: list[str]
    groups: list[str]
    keep: np.ndarray
    x_solve: np.ndarray
    t_solve: np.ndarray
    s_solve: np.ndarray
    q: np.ndarray | None = None

    @classmethod
    def build(
        cls, problem: WeightingProblem, units: _Units, tol: float, q: np.ndarray | None = None
    ) -> _CalibrationSystem:
        """Targets in constraint order; redundant constraints removed after checking that
        their totals agree with the others."""
        unit_base = units.sum_rows(problem.base_weights)
        names, groups = _constraint_labels(problem)
        targets = np.concatenate(
            [*(m.targets for m in problem.margins), np.array([t for _, t, _ in problem.numeric])]
        ).astype(np.float64)
        x = units.x
        abs_total = np.abs(x).T @ unit_base
        scale = np.where(np.abs(targets) > 0, np.abs(targets),
                         np.where(abs_total > 0, abs_total, 1.0))
        gram = weighted_gram(x, unit_base)
        keep = independent_columns(gram)
        _check_consistent(gram, targets, scale, keep, names, tol)
        column_scale = np.abs(x[:, keep]).max(axis=0, initial=0.0)
        column_scale = np.where(column_scale > 0, column_scale, 1.0)
        return cls(
            x=x, unit_base=unit_base, targets=targets, scale=scale, names=names, groups=groups,
            keep=keep, x_solve=x[:, keep] / column_scale, t_solve=targets[keep] / column_scale,
            s_solve=scale[keep] / column_scale, q=q,
        )

    def misfit(self, unit_g: np.ndarray) -> np.ndarray:
        """Relative misfit of every total (dependent ones included) at ``g``."""
        return np.abs(self.targets - self.x.T @ (self.unit_base * unit_g)) / self.scale


@dataclass(frozen=True)
class _Fit:
    """Newton's outcome: g per unit, iterations, misfits and the per-iteration trace."""

    unit_g: np.ndarray
    n_iter: int
    misfit: np.ndarray
    max_error: float
    converged: bool
    trace: np.ndarray


def _solve(
    system: _CalibrationSystem,
    distance: CalibrationDistance,
    solver: _SolverOptions,
    start: np.ndarray | None,
) -> _Fit:
    """Newton on the independent constraints until every total, dependent ones included,
    meets ``tol``."""
    tol, max_iter = solver.tol, solver.max_iter
    x_solve, t_solve, s_solve = system.x_solve, system.t_solve, system.s_solve
    unit_base = system.unit_base
    outcome = solve_multipliers(
        x_solve, unit_base[:, None], t_solve, distance, scale=s_solve, tol=tol,
        max_iter=max_iter, start=start, q=system.q,
    )
    n_iter, traces = outcome.n_iter, [outcome.trace_by_constraint]
    solver_tol = tol
    while True:
        unit_g = outcome.g[:, 0]
        misfit_all = system.misfit(unit_g)
        max_error = float(misfit_all.max(initial=0.0))
        if not (outcome.converged[0] and max_error > max(tol, ROUNDOFF)) or n_iter >= max_iter:
            break
        # The solved (independent) totals meet tol, but a redundant total implied by them (e.g.
        # the last category of a second margin) sums their misfits against a smaller target.
        # Continue Newton from here with a proportionally tighter tolerance on the solved ones.
        tightened = solver_tol * 0.5 * max(tol, ROUNDOFF) / max_error
        if tightened < 1e-3 * ROUNDOFF:
            break
        solver_tol = tightened
        outcome = solve_multipliers(
            x_solve, unit_base[:, None], t_solve, distance, scale=s_solve, tol=solver_tol,
            max_iter=max_iter - n_iter, start=outcome.multipliers[:, 0], q=system.q,
        )
        n_iter += outcome.n_iter
        traces.append(outcome.trace_by_constraint[1:])
    if not np.isfinite(unit_g).all():  # pragma: no cover - the line search keeps g finite
        fail(ConvergenceError, "totals", "calibration produced non-finite weights",
             bad=[distance.method])
    converged = bool(outcome.converged[0]) and max_error <= max(tol, ROUNDOFF)
    return _Fit(unit_g, n_iter, misfit_all, max_error, converged, np.vstack(traces))


def _report_nonconvergence(
    fit: _Fit, system: _CalibrationSystem, distance: CalibrationDistance, solver: _SolverOptions
) -> None:
    """Infeasible bounds are an :class:`InfeasibleError`; otherwise raise or warn as asked."""
    method = distance.method
    if distance.bounded or method != "linear":
        # Did Newton fail because no g within the bounds (or no positive g) meets the totals?
        positive = system.unit_base > 0

        def on_positive(bound: Any) -> Any:
            return np.asarray(bound).ravel()[positive] if np.ndim(bound) > 0 else bound

        report = check_bounds(
            system.x[positive], system.unit_base[positive], system.targets, system.scale,
            lower=on_positive(distance.lower), upper=on_positive(distance.upper),
            nonnegative=method != "linear",
        )
        if not report.feasible:
            _raise_infeasible(report, system.names, system.targets, distance.lower,
                              distance.upper, method)
    worst = np.argsort(-fit.misfit)[:5]
    message = (
        f"totals: {method} calibration did not converge in {fit.n_iter} Newton "
        f"iterations (max relative misfit {fit.max_error:.3g} > tol {solver.tol:g}); worst "
        "totals: "
        + ", ".join(f"{system.names[j]} ({fit.misfit[j]:.3g})" for j in worst)
        + ". Increase max_iter, loosen tol or widen the bounds; or pass "
        'on_nonconvergence="warn" to get the weights anyway.'
    )
    if solver.on_nonconvergence == "raise":
        raise ConvergenceError(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def _warn_negative(weights_out: np.ndarray, index: pd.Index) -> None:
    negative = np.flatnonzero(weights_out < 0)
    if negative.size:
        warnings.warn(
            f"weights: linear calibration gave {negative.size} negative weights (rows "
            f"{', '.join(repr(index[i]) for i in negative[:5])}{', ...' if negative.size > 5 else ''}); "
            "fit.design needs non-negative weights. Pass bounds=(0, None) (truncated linear), "
            "or use method='raking' or 'logit', to keep every weight positive.",
            DataWarning,
            stacklevel=3,
        )


def _result(
    problem: WeightingProblem,
    source: WeightingInput,
    system: _CalibrationSystem,
    distance: CalibrationDistance,
    solver: _SolverOptions,
    start: np.ndarray | None,
    layout: _Layout,
    fit: _Fit,
    weights_out: np.ndarray,
    trim: tuple[float, float] | None,
) -> WeightingResult:
    """The weighting result, recording a step whose ``reweight`` re-calibrates replicates."""
    method = distance.method
    base = problem.base_weights
    index = source.frame.index
    groups = system.groups
    trace = _trace_frame(fit.trace, [groups[j] for j in system.keep], groups)
    units = layout.units
    options: dict[str, Any] = {
        "method": method,
        "bounds": (distance.lower, distance.upper),
        "tol": solver.tol,
        "max_iter": solver.max_iter,
        "constraints": system.names,
    }
    if distance.per_unit:
        options["bounds"] = tuple(
            units.gather(np.broadcast_to(b, (units.n_units, 1))[:, 0]) for b in
            (distance.lower, distance.upper)
        )
    if layout.aggregated:
        options["aggregate"] = True
    if layout.variance_rows is not None:
        options["variance"] = layout.variance_rows
    if layout.projection_weights is not None:
        # GREG weights with variances v: the residuals of the variance come from the fit
        # weighted by d / v (R's regcalibrate), not by d
        options["projection_weights"] = layout.projection_weights
    if trim is not None:
        options["trim"] = trim
    reweight = _make_reweight(units, system.x_solve, system.t_solve, system.s_solve, distance,
                              solver.tol, solver.max_iter, start, system.q, trim)

    def step_factory() -> WeightingStep:
        return WeightingStep(
            method=method,
            base_weights=base,
            weights=weights_out,
            model_matrix=(problem.model_matrix() if layout.model_matrix is None
                          else layout.model_matrix),
            margin_codes=problem.row_margin_codes(),
            reweight=reweight,
            options=options,
        )

    return WeightingResult(
        weights=pd.Series(weights_out, index=index, name="weight"),
        base_weights=pd.Series(base, index=index, name="base_weight"),
        method=method,
        converged=fit.converged,
        n_iter=fit.n_iter,
        max_margin_error=fit.max_error,
        trace=trace,
        step_factory=step_factory,
        base_design=source.make_design,
        tol=solver.tol,
        dropped_rows=problem.dropped_rows,
        dropped_categories=problem.dropped_categories,
        problem=problem,
    )

def _start(
    x: np.ndarray, d: np.ndarray, distance: CalibrationDistance, q: np.ndarray | None = None
) -> np.ndarray | None:
    """Multipliers to start from: 0 (g = 1) unless the bounds exclude 1, then g near their middle."""
    m = x.shape[0]
    lower = np.broadcast_to(np.asarray(distance.lower, dtype=np.float64).ravel(), (m,))
    upper = np.broadcast_to(np.asarray(distance.upper, dtype=np.float64).ravel(), (m,))
    if ((lower <= 1.0) & (1.0 <= upper)).all():
        return None
    lo_ok, up_ok = np.isfinite(lower), np.isfinite(upper)
    with np.errstate(invalid="ignore"):
        centre = np.where(
            lo_ok & up_ok, 0.5 * (lower + upper),
            np.where(lo_ok, 2.0 * np.abs(lower), np.where(up_ok, 0.5 * upper, 1.0)),
        )
    centre = np.where((lower <= 1.0) & (1.0 <= upper), 1.0, centre)
    with np.errstate(divide="ignore", invalid="ignore"):
        u0 = centre - 1.0 if distance.method == "linear" else np.log(centre)
    u0 = np.where(np.isfinite(u0), u0, 0.0)
    if q is not None:
        u0 = u0 / q
    sw = np.sqrt(d)
    lam, *_ = np.linalg.lstsq(x * sw[:, None], u0 * sw, rcond=None)
    return lam


def _trace_frame(trace: np.ndarray, kept_groups: list[str], groups: list[str]) -> pd.DataFrame:
    """Per iteration, the max relative misfit of each margin / numeric total (solved columns)."""
    columns: dict[str, np.ndarray] = {}
    for j, grp in enumerate(kept_groups):
        col = trace[:, j]
        columns[grp] = np.maximum(columns[grp], col) if grp in columns else col
    order = list(dict.fromkeys(groups))
    frame = pd.DataFrame({g: columns.get(g, np.zeros(trace.shape[0])) for g in order})
    frame.index.name = "iteration"
    return frame


def _make_reweight(
    units: _Units,
    x_solve: np.ndarray,
    t_solve: np.ndarray,
    s_solve: np.ndarray,
    distance: CalibrationDistance,
    tol: float,
    max_iter: int,
    start: np.ndarray | None,
    q: np.ndarray | None = None,
    trim: tuple[float, float] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The vectorised re-calibration of R sets of base weights (replicate variance), with the
    same per-unit bounds, variances, clusters and trimming as the full-sample weights."""
    method = distance.method

    def reweight(base: np.ndarray) -> np.ndarray:
        arr = np.asarray(base, dtype=np.float64)
        one = arr.ndim == 1
        cols = arr[:, None] if one else arr
        unit_d = units.sum_rows(cols)
        outcome = solve_multipliers(
            x_solve, unit_d, t_solve, distance, scale=s_solve, tol=tol, max_iter=max_iter,
            start=start, q=q,
        )
        failed = int((~outcome.converged).sum())
        if failed:
            warnings.warn(
                f"reweight: {method} calibration of {failed} of {cols.shape[1]} sets of base "
                f"weights did not converge in {max_iter} Newton iterations (max relative misfit "
                f"{float(outcome.relative_misfit.max()):.3g}); their weights meet the totals only "
                "approximately.",
                ConvergenceWarning,
                stacklevel=2,
            )
        g = outcome.g
        if trim is not None:
            g, _ = _trim_g(g, unit_d, trim)
        out = cols * units.gather(g)
        return out[:, 0] if one else out

    return reweight

