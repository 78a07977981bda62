"""Budget allocation across groups from learning curves: ``allocate`` and ``AllocationPlan``.

Given fitted learning curves ``err_g(n) = a_g n^(-b_g) + c_g`` and per-sample costs, choose group
sizes under a budget to optimise a function of the group errors (Cai et al. 2022). Separable
objectives go through the exact KKT core (:mod:`sampling.allocation._core`); custom or coupled
objectives through a scaled cvxpy model that is verified by its KKT residual afterwards.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, frozen_instance, get_axes
from estimators._lib.validation import as_float_array, check_option, check_positive, fail
from estimators.errors import ExtrapolationWarning, InfeasibleError, ValidationError
from sampling.allocation import _core as core
from sampling.allocation._cvxpy_path import solve_cvxpy
from sampling.allocation._integer import (
    integer_box,
    integer_budget,
    integer_local_search,
    integer_maximin,
    power_curve_terms,
)
from sampling.allocation._learning_curves import LearningCurves

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["AllocationPlan", "allocate"]

Objective = Literal["utilitarian", "population", "maximin", "pnorm", "alpha_fair", "target"]
OBJECTIVES = ("utilitarian", "population", "maximin", "pnorm", "alpha_fair", "target")
NO_CAP = np.inf
# interior-point solutions are accurate to ~sqrt(gap) in n; the cvxpy path verifies to this
CVXPY_KKT_TOL = 1e-4
# a predicted error whose standard error (delta method) is at least this share of it is
# "poorly determined" and the plan built on it unstable
UNSTABLE_RELATIVE_SE = 0.5
# defaults of the settings that only some objectives use (a changed value is checked for use)
DEFAULT_P, DEFAULT_ALPHA, DEFAULT_TIE_BREAK, DEFAULT_QUANTILE = 2.0, 1.0, "leximin", 0.9
DEFAULT_TOL, DEFAULT_EXTRAPOLATION_LIMIT = 1e-9, 4.0


@dataclass(frozen=True, eq=False)
class AllocationPlan(Result):
    """A recruitment plan: group sizes, their cost, predicted errors and solver certificates.

    The per-group attributes are pandas Series indexed by group, built on first access.

    Attributes
    ----------
    n : pandas.Series
        Planned total size per group (int when ``integer=True``), including ``current_n``.
    n_continuous : pandas.Series
        The continuous optimum the integer plan was rounded from.
    recruit : pandas.Series
        New samples to collect per group, ``n - current_n``.
    cost : float
        Cost of the new samples, ``sum costs * recruit``.
    budget : float or None
        The budget the plan was made for.
    predicted_error : pandas.Series
        Learning-curve error at ``n`` per group.
    objective : str
        Objective name (``"custom"`` for a callable).
    objective_value, objective_value_continuous : float
        Objective at ``n`` and at ``n_continuous``.
    rounding_cost : float
        ``objective_value - objective_value_continuous`` (>= 0 up to rounding for minimised
        objectives; for ``"target"`` the extra cost of whole samples).
    kkt_residual : float
        Relative KKT residual of the continuous solution (stationarity, sign conditions at bounds,
        budget and box feasibility).
    status : str
        ``"optimal"`` only when the continuous point verifies (residual <= tolerance) and the
        integer step is exact; otherwise a descriptive status such as ``"inaccurate"``.
    active_set : pandas.Series
        ``"lower"``, ``"upper"`` or ``"free"`` per group at the continuous optimum.
    multiplier : float
        Budget multiplier ``lambda`` (or the common error level for maximin).
    solver : str
        ``"kkt"`` (exact core) or ``"cvxpy"``.
    integer_status : str
        What the integer step proved (``"not requested"`` for continuous plans).
    costs, current_n : pandas.Series
        Cost per new sample and samples already collected, per group.
    pilot_max_n : pandas.Series
        Largest pilot sample size per group behind the learning curve (NaN when the curves
        came without pilot sizes).
    extrapolation : pandas.Series
        ``n / pilot_max_n``: how far beyond the pilot data the plan relies on the fitted curve
        (values above 1 are extrapolations).
    groups : pandas.Index
        Group labels, in the order of the curves.
    uncertainty : pandas.DataFrame or None
        Per-group quantiles of ``n`` and predicted error across learning-curve bootstrap replicates.
    """

    groups: pd.Index = field(repr=False)
    _arrays: Mapping[str, np.ndarray] = field(repr=False)
    integer: bool
    cost: float
    budget: float | None
    objective: str
    objective_value: float
    objective_value_continuous: float
    rounding_cost: float
    kkt_residual: float
    status: str
    multiplier: float
    solver: str
    integer_status: str = "not requested"
    uncertainty: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def _of(cls, **values: Any) -> AllocationPlan:
        """``AllocationPlan(**values)`` (every field, by name) built in one step (a fifth of the
        public call at ten groups is the frozen ``__init__``)."""
        return frozen_instance(cls, **values)

    def _series(self, key: str, name: str, dtype: Any = None) -> pd.Series:
        arr = self._arrays[key]
        return pd.Series(arr if dtype is None else arr.astype(dtype), index=self.groups,
                         name=name, copy=False)

    @cached_property
    def n(self) -> pd.Series:
        """Planned total size per group (int when ``integer=True``), including ``current_n``."""
        return self._series("n", "n", np.int64 if self.integer else None)

    @cached_property
    def n_continuous(self) -> pd.Series:
        """The continuous optimum the integer plan was rounded from."""
        return self._series("n_continuous", "n_continuous")

    @cached_property
    def recruit(self) -> pd.Series:
        """New samples to collect per group, ``n - current_n``."""
        rec = self._arrays["recruit"]
        whole = self.integer and bool(np.all(np.abs(rec - np.round(rec)) < 1e-9))
        return pd.Series(np.round(rec).astype(np.int64) if whole else rec, index=self.groups,
                         name="recruit", copy=False)

    @cached_property
    def predicted_error(self) -> pd.Series:
        """Learning-curve error at ``n`` per group."""
        return self._series("predicted_error", "predicted_error")

    @cached_property
    def active_set(self) -> pd.Series:
        """``"lower"``, ``"upper"``, ``"fixed"`` or ``"free"`` per group at the continuous optimum."""
        low, up = self._arrays["at_lower"], self._arrays["at_upper"]
        active = np.where(low & up, "fixed", np.where(low, "lower", np.where(up, "upper", "free")))
        return pd.Series(active, index=self.groups, name="active")

    @cached_property
    def costs(self) -> pd.Series:
        """Cost per new sample, per group."""
        return self._series("costs", "cost_per_sample")

    @cached_property
    def current_n(self) -> pd.Series:
        """Samples already collected per group."""
        return self._series("current_n", "current_n")

    @cached_property
    def pilot_max_n(self) -> pd.Series:
        """Largest pilot sample size per group (NaN when unknown)."""
        pilot = self._arrays["pilot_max_n"]
        return pd.Series(np.full(len(self.groups), np.nan) if pilot is None else pilot,
                         index=self.groups, name="pilot_max_n")

    @cached_property
    def extrapolation(self) -> pd.Series:
        """``n / pilot_max_n`` per group (NaN when the pilot sizes are unknown)."""
        return (self.n.astype(float) / self.pilot_max_n).rename("extrapolation")

    def __repr__(self) -> str:
        sizes = self.n.iloc[:8].to_dict()
        more = f", ... ({len(self.groups)} groups)" if len(self.groups) > 8 else ""
        return (f"AllocationPlan(objective={self.objective!r}, status={self.status!r}, "
                f"cost={self.cost!r}, budget={self.budget!r}, n={sizes}{more})")

    def to_frame(self) -> pd.DataFrame:
        """One row per group: n, recruit, n_continuous, cost per sample, spend, predicted error,
        active bound, the largest pilot n and extrapolation factor (when the curves know their
        pilot sizes) and the uncertainty quantiles (when computed)."""
        out = pd.DataFrame({
            "n": self.n, "recruit": self.recruit, "n_continuous": self.n_continuous,
            "current_n": self.current_n, "cost_per_sample": self.costs,
            "spend": self.costs * self.recruit, "predicted_error": self.predicted_error,
            "active": self.active_set,
        })
        if self._arrays["pilot_max_n"] is not None:
            out["pilot_max_n"] = self.pilot_max_n
            out["extrapolation"] = self.extrapolation
        if self.uncertainty is not None:
            out = out.join(self.uncertainty)
        return out

    def _summary_title(self) -> str:
        return f"Allocation plan ({self.objective})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "status", self.status
        yield "solver", self.solver
        yield "budget", self.budget if self.budget is not None else "none"
        yield "cost", self.cost
        yield "objective value", self.objective_value
        yield "objective value (continuous)", self.objective_value_continuous
        yield "rounding cost", self.rounding_cost
        yield "KKT residual (relative)", self.kkt_residual
        yield "integer step", self.integer_status

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bars of planned group sizes with the predicted error on a second axis."""
        ax = get_axes(ax)
        labels = [str(g) for g in self.n.index]
        x = np.arange(len(labels))
        ax.bar(x, self.current_n.to_numpy(float), color="lightgrey", label="already collected")
        ax.bar(x, self.recruit.to_numpy(float), bottom=self.current_n.to_numpy(float),
               label="to recruit")
        ax.set_xticks(x, labels, rotation=45 if len(labels) > 6 else 0)
        ax.set_xlabel("group")
        ax.set_ylabel("planned sample size n")
        ax2 = ax.twinx()
        ax2.plot(x, self.predicted_error.to_numpy(float), "o-", color="black", label="error")
        ax2.set_ylabel("predicted error")
        ax.set_title(f"Allocation plan: {self.objective}, cost {self.cost:.4g}")
        ax.legend(loc="upper left", fontsize="small")
        return ax




# ----------------------------------------------------------------------------- helpers
@dataclass(slots=True)  # internal: plain slots are cheaper to build than frozen
class _Curves:
    """The curves as arrays aligned with ``groups``; ``pilot_max_n`` (largest pilot size per
    group) and ``covariance`` (G x 3 x 3, of ``(log a, b, c)``) when the curves carry them."""

    groups: pd.Index
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    pooled: Any
    pilot_max_n: np.ndarray | None
    covariance: np.ndarray | None


def _column(p: pd.DataFrame, name: str) -> np.ndarray:
    return _as_floats(p[name], f"curves.{name}")


def _abc(p: pd.DataFrame) -> np.ndarray:
    """Columns a, b, c as a (3, groups) float array: one conversion of the whole table when it
    is numeric (a pandas column lookup costs more than converting a small table), else by
    column."""
    columns = p.columns
    try:
        position = [columns.get_loc(name) for name in ("a", "b", "c")]  # columns, not groups
    except KeyError:
        missing = [col for col in ("a", "b", "c") if col not in columns]
        fail(ValidationError, "curves", "a parameter table needs columns a, b, c", bad=missing)
    if type(position[0]) is int and type(position[1]) is int and type(position[2]) is int:
        try:
            values = p.to_numpy(dtype=np.float64).T
        except (TypeError, ValueError):
            pass
        else:  # rows of a C-ordered (columns, groups) array are contiguous (what the kernel needs)
            if position == [0, 1, 2] and values.flags.c_contiguous:
                return values[:3]
            return values[position]
    return np.stack([_column(p, "a"), _column(p, "b"), _column(p, "c")])


def _curve_arrays(curves: Any) -> _Curves:
    covariance = None
    if isinstance(curves, LearningCurves):
        p = curves.params
        pooled = (p["d"].to_numpy(float), p["beta"].to_numpy(float)) if curves.pooled else None
        pilot_max_n = curves._pilot_max_n()
        covariance = curves._covariance_stack()
    elif isinstance(curves, pd.DataFrame):
        p = curves
        pooled = None
        pilot_max_n = _column(p, "pilot_max_n") \
            if len(p.columns) > 3 and "pilot_max_n" in p.columns else None
    else:
        fail(ValidationError, "curves",
             "must be LearningCurves or a DataFrame of a, b, c indexed by group",
             bad=[type(curves).__name__], fix="Fit them with fit_learning_curves(...).")
    groups = p.index
    if not groups.is_unique:
        fail(ValidationError, "curves", "group labels must be unique",
             bad=list(groups[groups.duplicated()]))
    abc = _abc(p)
    if abc.shape[1] == 0:
        fail(ValidationError, "curves", "has no groups", fix="Fit curves for at least one group.")
    if not _rows_pass(abc, _ABC_RULES):
        _check_values(abc[0], groups, "curves.a", positive=True, nonnegative=True, finite=True)
        _check_values(abc[1], groups, "curves.b", positive=True, nonnegative=True, finite=True)
        _check_values(abc[2], groups, "curves.c", positive=False, nonnegative=True, finite=True)
    a, b, c = abc
    return _Curves(groups, a, b, c, pooled, pilot_max_n, covariance)


_MIN, _MAX = np.minimum.reduce, np.maximum.reduce
# (positive, nonnegative, finite) of curves.a, curves.b, curves.c
_ABC_RULES = ((True, True, True), (True, True, True), (False, True, True))
# up to this many groups the value checks run on Python floats (a numpy reduction costs more than
# a Python pass over a few dozen floats); numpy reductions above
_PYTHON_CHECK_MAX = 32


def _filled(G: int, value: float) -> np.ndarray:
    """``np.full(G, value)`` (float64) with less call overhead."""
    out = np.empty(G)
    out.fill(value)
    return out


def _rows_pass(rows: np.ndarray | Sequence[np.ndarray],
               rules: Sequence[tuple[bool, bool, bool]]) -> bool:
    """Whether every row of values passes its rule ``(positive, nonnegative, finite)`` of
    :func:`_check_values` (rows of equal length). False may also mean "not sure" (a finite row
    whose float sum overflows): the caller then checks row by row, with the specific errors."""
    if len(rows[0]) <= _PYTHON_CHECK_MAX:
        for row, (positive, nonnegative, finite) in zip(rows, rules):
            values = row.tolist()
            total = sum(values)  # NaN when a value is NaN, infinite when a value is
            if not ((total - total == 0.0) if finite else total == total):  # finite / not NaN
                return False
            low = min(values)  # exact: no NaN
            if not (low > 0 if positive else low >= 0 if nonnegative else low > -math.inf):
                return False
        return True
    stacked = rows if isinstance(rows, np.ndarray) else np.array(rows)
    return all(_passes(low, high, *rule) for low, high, rule in zip(
        _MIN(stacked, axis=1).tolist(), _MAX(stacked, axis=1).tolist(), rules))


def _labels(groups: pd.Index, mask: np.ndarray) -> list[Any]:
    """The group labels where ``mask`` holds (error messages only)."""
    return list(groups[mask])


def _as_floats(values: Any, parameter: str) -> np.ndarray:
    """float64 array of ``values`` (pandas missing values become NaN); package error otherwise."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    if isinstance(values, pd.Series) and values.dtype == np.float64:
        return values.to_numpy()
    try:
        if isinstance(values, (pd.Series, pd.Index)):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        plain = values.to_numpy(dtype=object) if isinstance(values, (pd.Series, pd.Index)) \
            else values
        return as_float_array(plain, parameter, ndim=None, finite=False)


def per_group(values: Any, groups: pd.Index, parameter: str, *, default: float | None,
              positive: bool = False, nonnegative: bool = True, finite: bool = True) -> np.ndarray:
    """Resolve a scalar, mapping, Series or array to a float array aligned with ``groups``.

    A Series or mapping is matched to the groups by label (vectorised: ``get_indexer``); labels
    that are not groups are an error, and groups without a value get ``default`` (an error when
    ``default`` is None). An array needs one value per group, in the order of ``groups``.
    """
    if values is None:
        if default is None:
            fail(ValidationError, parameter, "is required")
        return np.full(len(groups), float(default))
    if not isinstance(values, pd.Series) and isinstance(values, Mapping):
        values = pd.Series(values, dtype=object if len(values) == 0 else None)
    if isinstance(values, pd.Series):
        index = values.index
        raw = values.to_numpy()
        if raw.dtype != np.float64:
            raw = _as_floats(values, parameter)
        if index is groups or index.equals(groups):
            arr = raw
        else:
            if not index.is_unique:
                fail(ValidationError, parameter, "names a group more than once",
                     bad=list(index[index.duplicated()]),
                     fix="Give one value per group.")
            unknown = groups.get_indexer(index) < 0
            if unknown.any():
                fail(ValidationError, parameter, "names groups that have no learning curve",
                     bad=_labels(index, unknown), fix="Use the group labels of the curves.")
            pos = index.get_indexer(groups)
            missing = pos < 0
            if missing.any() and default is None:
                fail(ValidationError, parameter, "has no value for some groups",
                     bad=_labels(groups, missing), fix="Give a value for every group.")
            arr = raw[np.where(missing, 0, pos)] if raw.size else np.zeros(len(groups))
            if missing.any():
                arr = np.where(missing, default, arr)
    elif np.ndim(values) == 0:
        value = float(_as_floats(values, parameter))
        ok = (value > 0 if positive else value >= 0 if nonnegative else value > -np.inf) and (
            not finite or value < np.inf)
        if not ok:
            _check_values(np.array([value]), pd.Index([value]), parameter, positive=positive,
                          nonnegative=nonnegative, finite=finite)
        return np.full(len(groups), value)
    else:
        arr = _as_floats(values, parameter)
        G = len(groups)
        if arr.ndim != 1 or arr.shape[0] != G:
            fail(ValidationError, parameter, f"needs one value per group ({G})",
                 bad=[f"shape {arr.shape}"],
                 fix="Pass a Series or mapping indexed by group, or one value per group.")
    _check_values(arr, groups, parameter, positive=positive, nonnegative=nonnegative,
                  finite=finite)
    return arr


def _check_values(arr: np.ndarray, groups: pd.Index, parameter: str, *, positive: bool,
                  nonnegative: bool, finite: bool) -> None:
    """Two reductions (NaN propagates through min and max); the specific message is built only
    when something is wrong."""
    if arr.size == 0:
        return
    low = _MIN(arr)
    ok = (low > 0 if positive else low >= 0 if nonnegative else low > -np.inf) and (
        not finite or _MAX(arr) < np.inf)
    if ok:
        return
    nonfinite = np.isnan(arr) | (np.isinf(arr) if finite else np.isneginf(arr))
    if nonfinite.any():
        fail(ValidationError, parameter,
             "must be finite" if finite else "must not be NaN or -inf",
             bad=_labels(groups, nonfinite))
    if positive:
        fail(ValidationError, parameter, "must be strictly positive",
             bad=_labels(groups, ~(arr > 0)))
    fail(ValidationError, parameter, "must be non-negative", bad=_labels(groups, arr < 0))


def _passes(low: float, high: float, positive: bool, nonnegative: bool, finite: bool) -> bool:
    """The rule of :func:`_check_values` on the smallest and largest value."""
    return (low > 0 if positive else low >= 0 if nonnegative else low > -np.inf) and (
        not finite or high < np.inf)


# the rules (positive, nonnegative, finite) by which _budget_box and _objective_of check the
# per-group inputs of allocate through per_group
_POSITIVE_FINITE = (True, True, True)  # costs, min_n
_NONNEGATIVE_FINITE = (False, True, True)  # current_n, population_shares
_POSITIVE = (True, True, False)  # max_n (no cap: inf)
_FLOAT64 = np.dtype(np.float64)


def _float64_values(series: pd.Series) -> np.ndarray | None:
    """A float64 Series' values as ``to_numpy()`` gives them (a read-only view of the data);
    None for any other dtype. Reads pandas' backing array directly when it is a float64 ndarray:
    ``to_numpy()``'s generality costs three times as much, about what checking the values
    costs at ten groups. Other backings go through ``to_numpy()``."""
    raw = getattr(series, "_values", None)  # pandas' backing array (private: checked here)
    if type(raw) is np.ndarray and raw.dtype == _FLOAT64 and raw.ndim == 1:
        view = raw.view()
        view.flags.writeable = False
        return view
    raw = series.to_numpy()
    return raw if raw.dtype == _FLOAT64 else None


@dataclass(slots=True)
class _Resolved:
    """Per-group inputs resolved and checked in one pass (``None`` for an input not given)."""

    costs: np.ndarray
    current: np.ndarray | None
    min_n: np.ndarray
    max_n: np.ndarray
    shares: np.ndarray | None


def _resolve_at_once(groups: pd.Index, costs: Any, current_n: Any, min_n: Any, max_n: Any,
                     population_shares: Any) -> _Resolved | None:
    """The per-group inputs of the common call, resolved and checked together.

    Each input must be None, a real number, or a float64 Series indexed by exactly ``groups``
    (the same Index, or an equal one); the Series' values are checked together
    (:func:`_rows_pass`). Returns the arrays (the values :func:`per_group` gives) when every
    input has that form and passes its rule; None otherwise, and then ``per_group`` resolves
    each input in turn and raises its specific error. Nothing is raised here, so the errors
    and their order are ``per_group``'s.
    """
    given = ((costs, _POSITIVE_FINITE, None), (current_n, _NONNEGATIVE_FINITE, None),
             (min_n, _POSITIVE_FINITE, 1.0), (max_n, _POSITIVE, NO_CAP),
             (population_shares, _NONNEGATIVE_FINITE, None))
    out: list[np.ndarray | None] = []
    rows, rules = [], []
    for values, rule, default in given:
        if values is None:
            out.append(None if default is None else _filled(len(groups), default))
        elif isinstance(values, pd.Series):
            index = values.index
            if not (index is groups or index.equals(groups)):
                return None
            raw = _float64_values(values)
            if raw is None:
                return None
            out.append(raw)
            rows.append(raw)
            rules.append(rule)
        elif isinstance(values, (float, int)):
            try:
                value = float(values)
            except OverflowError:
                return None
            if not _passes(value, value, *rule):
                return None
            out.append(_filled(len(groups), value))
        else:
            return None
    if out[0] is None or (rows and not _rows_pass(rows, rules)):  # costs=None: "is required"
        return None
    return _Resolved(*out)


def _errors(a, b, c, n, pooled=None) -> np.ndarray:
    e = a * n ** (-b) + c
    if pooled is not None:
        e = e + pooled[0] * float(np.sum(n)) ** (-pooled[1])
    return e


def _objective_value(kind: str, err: np.ndarray, w: np.ndarray, p: float, alpha: float,
                     costs: np.ndarray, recruit: np.ndarray, custom: Any = None) -> float:
    if kind in ("utilitarian", "population"):
        return float(np.dot(w, err))
    if kind == "maximin":
        return float(err.max())
    if kind == "pnorm":
        return float((w @ err**p) ** (1.0 / p))
    if kind == "alpha_fair":  # reported as welfare (higher is better)
        u = 1.0 - err
        return float(w @ np.log(u)) if alpha == 1.0 else float(w @ (u ** (1 - alpha)) / (1 - alpha))
    if kind == "target":
        return float(costs @ recruit)
    return float("nan") if custom is None else float(custom)


# ----------------------------------------------------------------------------- public API
def allocate(
    curves: LearningCurves | pd.DataFrame,
    *,
    budget: float | None = None,
    costs: Any = 1.0,
    objective: Objective | Callable[..., Any] = "utilitarian",
    population_shares: Any = None,
    min_n: Any = None,
    max_n: Any = None,
    current_n: Any = None,
    integer: bool = True,
    p: float = DEFAULT_P,
    alpha: float = DEFAULT_ALPHA,
    targets: Any = None,
    tie_break: Literal["leximin", "utilitarian", "none"] = DEFAULT_TIE_BREAK,
    uncertainty: Literal["none", "bootstrap", "robust"] = "none",
    quantile: float = DEFAULT_QUANTILE,
    extrapolation_limit: float = DEFAULT_EXTRAPOLATION_LIMIT,
    tol: float = DEFAULT_TOL,
) -> AllocationPlan:
    """Choose group sample sizes under a budget from learning curves.

    Parameters
    ----------
    curves : LearningCurves or pandas.DataFrame
        Fitted curves, or a table with columns ``a, b, c`` indexed by group.
    budget : float
        Money (or effort) available for NEW samples. Optional for ``objective="target"``.
    costs : float, mapping or Series
        Cost per new sample, per group (> 0).
    objective : str or callable
        ``"utilitarian"`` (mean group error), ``"population"`` (population-share weighted mean),
        ``"maximin"`` (worst group error, then ``tie_break``), ``"pnorm"`` (``(sum w err^p)^(1/p)``),
        ``"alpha_fair"`` (maximise ``sum w U_alpha(1 - err)``), ``"target"`` (cheapest plan with
        ``err_g <= targets_g``), or a callable ``objective(error, n) -> cvxpy expression`` to
        minimise (solved by the scaled cvxpy path).
    population_shares : mapping or Series, optional
        Weights for ``"population"`` (required) and for ``"pnorm"``/``"alpha_fair"`` (default
        equal). Normalised to sum to one. An error with any other objective.
    min_n, max_n : float, mapping or Series, optional
        Box bounds on the total group size (default 1 and no cap; ``max_n`` is e.g. pool size).
    current_n : float, mapping or Series, optional
        Samples already collected per group: lower bounds that cost nothing.
    integer : bool
        Return whole samples. Built-in objectives get a proven integer optimum (``integer_status
        "optimal"``): for equal costs the largest marginal gains, found by an exact search; for
        unequal costs, Lagrangian reduced-cost fixing narrows each group to a window that provably
        holds every integer optimum, then an exact dynamic programme (costs that are integers
        after scaling by a power of ten) or a 0/1 MILP (HiGHS, zero gap) over the windows.
        Maximin finds the smallest affordable worst error by bisection on the floating-point
        numbers (proof: the plan at the next smaller level costs more than the budget), then
        applies ``tie_break``. Group sizes above 2**53 are refused. Callable
        objectives and pooled curves get a greedy fill plus 1-exchange local search
        (``"heuristic (local optimum; gap to the continuous bound <= X)"``).
    p, alpha : float
        Parameters of ``"pnorm"`` (p >= 1) and ``"alpha_fair"`` (alpha > 0); a value other than
        the default with another objective is an error (it would have no effect).
    targets : float, mapping or Series
        Error targets for ``"target"`` (an error with other objectives).
    tie_break : {"leximin", "utilitarian", "none"}
        How ``"maximin"`` spends budget left when a capped group sets the worst error. Integer
        plans: ``"none"`` keeps the cheapest plan reaching the optimal level; ``"utilitarian"``
        spends the rest to minimise the sum of errors (exactly); ``"leximin"`` is the exact
        leximin plan with equal costs and the same as ``"utilitarian"`` with unequal costs.
        Only ``"maximin"`` with unpooled curves uses it.
    uncertainty : {"none", "bootstrap", "robust"}
        ``"bootstrap"`` re-solves for each bootstrap replicate of the curves and reports quantiles;
        ``"robust"`` also plans for the ``quantile`` of each group's curve across replicates.
    quantile : float
        Upper quantile used by the uncertainty summaries and ``"robust"`` (only there).
    extrapolation_limit : float
        Warn (:class:`~estimators.errors.ExtrapolationWarning`) when a group's planned ``n`` is
        more than this multiple of its largest pilot sample size (``np.inf``: never). Needs
        curves that know their pilot sizes (``LearningCurves``, or a table with a
        ``pilot_max_n`` column). The factors are in ``plan.extrapolation``.
    tol : float
        Relative KKT tolerance below which the status may read ``"optimal"`` (the cvxpy path
        uses ``max(tol, 1e-4)``: interior-point sizes are accurate to about the square root of
        the duality gap). Not used by ``"target"`` (closed form).

    Returns
    -------
    AllocationPlan

    Raises
    ------
    InfeasibleError
        With a certificate: lower bounds cost more than the budget, bounds cross, a target is at
        or below a group's asymptote ``c_g`` or needs more than ``max_n``.
    ValidationError
        Bad inputs, or a setting the chosen objective does not use (``population_shares`` with
        ``"utilitarian"``, ``p`` with ``"maximin"``, ...): it would be ignored silently.

    Warns
    -----
    ExtrapolationWarning
        When the plan puts a group beyond ``extrapolation_limit`` times its largest pilot size,
        or relies on a predicted error whose standard error (delta method from the fit's
        covariance) is at least half the error itself (``uncertainty="none"`` only): such
        plans move with small changes in the pilot data. The message names the groups and
        points to ``uncertainty="bootstrap"`` / ``"robust"``.

    Notes
    -----
    The separable problems
    ``min sum_g w_g phi(a_g n_g^(-b_g) + c_g)  s.t.  sum_g k_g (n_g - n0_g) <= B,  l_g <= n_g <= u_g``
    have the KKT solution ``n_g = clip((w_g a_g b_g phi'/(lambda k_g))^(1/(b_g+1)), l_g, u_g)``;
    the exact core finds ``lambda`` by a safeguarded root-find on ``log lambda``. Maximin solves
    ``sum_g k_g clip(((t - c_g)/a_g)^(-1/b_g)) = B`` for the common level ``t``.

    References
    ----------
    Cai, W. et al. (2022). Adaptive sampling strategies to construct equitable training datasets.
    FAccT. Rolf, E. et al. (2021). Representation matters. ICML.
    Fisher, M. L. (1981). The Lagrangian relaxation method for solving integer programming
    problems. Management Science 27(1). Hochbaum, D. S. and Shanthikumar, J. G. (1990). Convex
    separable optimization is not much harder than linear optimization. J. ACM 37(4).

    Examples
    --------
    >>> import pandas as pd
    >>> curves = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.5], "c": [0.0, 0.0]},
    ...                       index=["x", "y"])
    >>> plan = allocate(curves, budget=100, costs=1.0)
    >>> plan.n.to_dict(), round(plan.cost, 6), plan.status
    ({'x': 39, 'y': 61}, 100.0, 'optimal')
    >>> allocate(curves, budget=100, objective="maximin", integer=False).n_continuous.round(6).to_dict()
    {'x': 20.0, 'y': 80.0}
    >>> unequal = allocate(curves, budget=100, costs={"x": 1.0, "y": 2.5})
    >>> unequal.n.to_dict(), unequal.integer_status, unequal.rounding_cost >= 0
    ({'x': 30, 'y': 28}, 'optimal', True)
    """
    cv = _curve_arrays(curves)
    groups, a, b, c, pooled = cv.groups, cv.a, cv.b, cv.c, cv.pooled
    custom = objective if callable(objective) else None
    kind = "custom" if custom is not None else check_option(objective, OBJECTIVES, "objective")
    tie_break = check_option(tie_break, ("leximin", "utilitarian", "none"), "tie_break")
    uncertainty = check_option(uncertainty, ("none", "bootstrap", "robust"), "uncertainty")
    _check_settings_used(kind, pooled, population_shares, p, alpha, targets, tie_break,
                         uncertainty, quantile, extrapolation_limit, tol, cv.pilot_max_n)
    resolved = _resolve_at_once(groups, costs, current_n, min_n, max_n, population_shares)
    box = _budget_box(groups, kind, budget, costs, current_n, min_n, max_n, resolved)
    goal = _objective_of(kind, custom, groups, a, b, c, box, pooled, population_shares, p, alpha,
                         tie_break, None if resolved is None else resolved.shares)
    solve = _Solver(goal, box, pooled, targets, groups, tol)
    reps = None if uncertainty == "none" else _replicates(curves, uncertainty)
    plan_curves = (a, b, c)
    if uncertainty == "robust":
        # plan against the upper quantile of each group's error curve across replicates:
        # refit (a, b, c) to that pointwise quantile curve on the plausible range of n.
        plan_curves = _robust_curves(reps, box.lower, box.upper, box.total, box.costs, quantile)
    sol = solve(*plan_curves)
    continuous = _plan_value(goal, plan_curves, pooled, box, sol.n)
    n_final, integer_status = sol.n, "not requested"
    if integer:
        n_final, integer_status = _integer_plan(goal, plan_curves, pooled, box, sol.n)
    unc = None if reps is None else _replicate_summary(reps, solve, groups, box.current, pooled,
                                                       quantile)
    plan = _plan_result(groups, goal, box, pooled, plan_curves, sol, continuous, n_final,
                        integer, integer_status, unc, cv.pilot_max_n)
    if cv.pilot_max_n is not None or cv.covariance is not None:
        _warn_if_unreliable(cv, plan, extrapolation_limit, uncertainty)
    return plan


# ----------------------------------------------------------------------------- steps of allocate
_USED_BY = {
    "population_shares": ("population", "pnorm", "alpha_fair"),
    "p": ("pnorm",),
    "alpha": ("alpha_fair",),
    "targets": ("target",),
    "tie_break": ("maximin",),
}


def check_objective_settings(kind: str, *, population_shares: Any = None, p: float = DEFAULT_P,
                             alpha: float = DEFAULT_ALPHA, targets: Any = None,
                             tie_break: str = DEFAULT_TIE_BREAK) -> None:
    """A setting that objective ``kind`` does not use is an error, never ignored silently."""
    given = {
        "population_shares": population_shares is not None,
        "p": p != DEFAULT_P,
        "alpha": alpha != DEFAULT_ALPHA,
        "targets": targets is not None,
        "tie_break": tie_break != DEFAULT_TIE_BREAK,
    }
    for name, used_by in _USED_BY.items():
        if given[name] and kind not in used_by:
            users = ", ".join(repr(u) for u in used_by)
            what = "the callable objective" if kind == "custom" else f"objective={kind!r}"
            fail(ValidationError, name, f"is not used by {what}; only objective={users} uses "
                 "it, so it would be ignored", bad=[_shown(name, population_shares, p, alpha,
                                                             targets, tie_break)],
                 fix=f"Drop {name}= or choose an objective that uses it.")


def _check_settings_used(kind, pooled, population_shares, p, alpha, targets, tie_break,
                         uncertainty, quantile, extrapolation_limit, tol, pilot_max_n) -> None:
    """A setting the chosen objective or mode does not use is an error, never ignored silently."""
    check_objective_settings(kind, population_shares=population_shares, p=p, alpha=alpha,
                             targets=targets, tie_break=tie_break)
    given = {"tie_break": tie_break != DEFAULT_TIE_BREAK}
    if given["tie_break"] and pooled is not None:
        fail(ValidationError, "tie_break", "is not used with pooled curves (their maximin plan "
             "is solved by cvxpy without a tie-break), so it would be ignored", bad=[tie_break],
             fix="Drop tie_break= or fit unpooled curves.")
    if quantile != DEFAULT_QUANTILE and uncertainty == "none":
        fail(ValidationError, "quantile", "is used only with uncertainty='bootstrap' or "
             "'robust'; with uncertainty='none' it would be ignored", bad=[quantile],
             fix="Drop quantile= or set uncertainty='bootstrap' or 'robust'.")
    if tol != DEFAULT_TOL and kind == "target":
        fail(ValidationError, "tol", "is not used by objective='target' (its plan is in closed "
             "form), so it would be ignored", bad=[tol], fix="Drop tol=.")
    if extrapolation_limit != DEFAULT_EXTRAPOLATION_LIMIT:
        limit = check_positive(extrapolation_limit, "extrapolation_limit") \
            if extrapolation_limit != np.inf else np.inf
        if limit < 1:
            fail(ValidationError, "extrapolation_limit", "must be >= 1 (a multiple of the largest "
                 "pilot sample size)", bad=[extrapolation_limit])
        if pilot_max_n is None:
            fail(ValidationError, "extrapolation_limit", "needs curves that know their pilot "
                 "sample sizes; these have none, so it would be ignored",
                 fix="Pass LearningCurves from fit_learning_curves, or add a pilot_max_n "
                 "column to the parameter table.")


def _shown(name, population_shares, p, alpha, targets, tie_break) -> Any:
    value = {"population_shares": population_shares, "p": p, "alpha": alpha,
             "targets": targets, "tie_break": tie_break}[name]
    return value if np.ndim(value) == 0 and not isinstance(value, Mapping) else \
        f"{type(value).__name__} of {len(value)} values"


def _warn_if_unreliable(cv: _Curves, plan: AllocationPlan, limit: float,
                        uncertainty: str) -> None:
    """ExtrapolationWarning for groups planned beyond ``limit`` x their largest pilot size, and
    (without an uncertainty mode) for predicted errors the pilot data determine poorly."""
    groups = cv.groups
    n = np.asarray(plan._arrays["n"], dtype=float)
    modes = ("plan with uncertainty='bootstrap' to see how n moves across bootstrap refits of "
             "the curves, or uncertainty='robust' to plan for the upper quantile of each curve "
             "(both need fit_learning_curves(..., bootstrap=200))")
    if cv.pilot_max_n is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = n / cv.pilot_max_n
        far = np.flatnonzero(factor > limit)
        if far.size:
            far = far[np.argsort(-factor[far], kind="stable")]
            shown = "; ".join(
                f"{groups[g]!r}: n = {n[g]:.6g} is {factor[g]:.3g}x its largest pilot n "
                f"{cv.pilot_max_n[g]:.6g}" for g in far[:5])
            more = f" (and {far.size - 5} more)" if far.size > 5 else ""
            warnings.warn(ExtrapolationWarning(
                f"allocate: the plan extrapolates the learning curves of {far.size} group(s) "
                f"beyond {limit:g}x their largest pilot sample size: {shown}{more}. The errors "
                "predicted there rest on the fitted curve alone (see plan.extrapolation and "
                f"curves.plot()). Collect pilot data at larger n, or {modes}. "
                "extrapolation_limit= sets the multiple."), stacklevel=3)
    if cv.covariance is None or uncertainty != "none":
        return
    a, b, c = cv.a, cv.b, cv.c
    power = a * n ** (-b)
    grad = np.stack([power, -power * np.log(n), np.ones_like(n)], axis=1)
    sd = np.sqrt(np.maximum(np.einsum("gi,gij,gj->g", grad, cv.covariance, grad), 0.0))
    err = power + c
    shaky = np.flatnonzero(sd >= UNSTABLE_RELATIVE_SE * err)
    if shaky.size:
        shaky = shaky[np.argsort(-(sd[shaky] / err[shaky]), kind="stable")]
        se_c = np.sqrt(np.maximum(cv.covariance[:, 2, 2], 0.0))
        shown = "; ".join(
            f"{groups[g]!r}: error {err[g]:.3g} +/- {sd[g]:.2g} at n = {n[g]:.6g} "
            f"(asymptote c = {c[g]:.3g} +/- {se_c[g]:.2g})" for g in shaky[:5])
        more = f" (and {shaky.size - 5} more)" if shaky.size > 5 else ""
        warnings.warn(ExtrapolationWarning(
            f"allocate: the plan rests on predicted errors the pilot data determine poorly "
            f"(standard error >= {UNSTABLE_RELATIVE_SE:g} x the error) for {shaky.size} "
            f"group(s): {shown}{more}. Small changes in the pilot data can move this plan; "
            f"{modes}."), stacklevel=3)


@dataclass(slots=True)
class _BudgetBox:
    """Costs, bounds and budget, per group: ``sum k (n - current) <= budget``, ``lower <= n <=
    upper``; ``total`` is the budget in total-n units (``None`` without a budget)."""

    costs: np.ndarray
    current: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    budget: float | None
    total: float | None


@dataclass(slots=True)
class _Goal:
    """The objective and its settings: group weights, p, alpha, the transform of the exact
    core, the maximin tie-break, and the callable of a custom objective."""

    kind: str
    custom: Callable[..., Any] | None
    w: np.ndarray
    p: float
    alpha: float
    transform: core.Transform
    tie_break: str


def _budget_box(groups: pd.Index, kind: str, budget: Any, costs: Any, current_n: Any,
                min_n: Any, max_n: Any, resolved: _Resolved | None = None) -> _BudgetBox:
    """Per-group costs and bounds; bounds must not cross; a budget unless ``"target"``.
    ``resolved``: the per-group inputs already resolved and checked (:func:`_resolve_at_once`)."""
    if resolved is not None:
        k, mn, mx = resolved.costs, resolved.min_n, resolved.max_n
        cur = resolved.current if resolved.current is not None else np.zeros(k.shape[0])
    else:
        k = per_group(costs, groups, "costs", default=None, positive=True)
        G = k.shape[0]
        cur = per_group(current_n, groups, "current_n", default=0.0) if current_n is not None \
            else np.zeros(G)
        mn = per_group(min_n, groups, "min_n", default=1.0, positive=True)
        mx = per_group(max_n, groups, "max_n", default=NO_CAP, positive=True, finite=False) \
            if max_n is not None \
            else np.full(G, NO_CAP)
    lo = np.maximum(mn, cur) if current_n is not None else mn.copy()  # min_n > 0 = cur
    hi = mx
    crossing = lo > hi
    if np.count_nonzero(crossing):
        fail(InfeasibleError, "max_n",
             "bounds cross: max_n is below max(min_n, current_n) for some groups (certificate: "
             "no n satisfies both bounds)", bad=_labels(groups, crossing),
             fix="Raise max_n or lower min_n for those groups.")
    if kind != "target":
        if budget is None:
            fail(ValidationError, "budget", "is required for this objective")
    B = check_positive(budget, "budget", allow_zero=True) if budget is not None else None
    # budget in total-n units
    with np.errstate(over="ignore"):  # an overflow is refused just below
        B_total = None if B is None else (B + float(k @ cur) if current_n is not None else B)
    if B_total is not None and not B_total < np.inf:
        fail(ValidationError, "costs",
             "times current_n plus the budget is beyond the floating-point range (the plan is "
             "solved on the total spend, already-collected units included)",
             bad=[f"budget {B:.6g} + costs @ current_n = {B_total}"],
             fix="Express costs in larger units (e.g. thousands) so the total spend stays below "
             "about 1e300.")
    return _BudgetBox(k, cur, lo, hi, B, B_total)


def _objective_of(kind, custom, groups, a, b, c, box, pooled, population_shares, p, alpha,
                  tie_break, shares=None) -> _Goal:
    """Check the objective's settings against the curves and bounds (``shares``: the population
    shares already resolved and checked, see :func:`_resolve_at_once`)."""
    G = a.shape[0]
    if pooled is not None and kind not in ("utilitarian", "population", "maximin", "custom"):
        fail(ValidationError, "objective", "pooled curves support utilitarian, population, "
             "maximin or a callable objective", bad=[kind])
    if kind == "population" or (population_shares is not None and kind in ("pnorm", "alpha_fair")):
        if population_shares is None:
            fail(ValidationError, "population_shares", "is required for objective='population'")
        w = shares if shares is not None else per_group(population_shares, groups,
                                                         "population_shares", default=None)
        with np.errstate(over="ignore"):  # an overflow is refused just below
            total = float(np.add.reduce(w))
        if not total < np.inf:
            fail(ValidationError, "population_shares",
                 "sum beyond the floating-point range, so the shares cannot be normalised",
                 bad=[f"sum of {w.size} values = {total}"],
                 fix="Give shares (summing to 1) or population counts below about 1e300.")
        if total <= 0:
            fail(ValidationError, "population_shares", "must not all be zero")
        w = w / total
    else:
        w = _filled(G, 1.0 / G)
    if kind == "pnorm" and not p >= 1:
        fail(ValidationError, "p", "must be >= 1 (the p-norm is convex only then)", bad=[p])
    if kind == "alpha_fair":
        check_positive(alpha, "alpha")
        f_lo = a * box.lower ** (-b) + c
        if (f_lo >= 1).any():
            fail(ValidationError, "objective",
                 "alpha_fair uses utility 1 - error, so every error must stay below 1; at min_n "
                 "these groups are at or above 1", bad=list(groups[f_lo >= 1]),
                 fix="Raise min_n or use errors on a 0-1 scale.")
    transform = core.Transform("power", float(p)) if kind == "pnorm" else core.Transform(
        "alpha_fair", float(alpha)) if kind == "alpha_fair" else core.IDENTITY
    return _Goal(kind, custom, w, p, alpha, transform, tie_break)


@dataclass(slots=True)
class _Solver:
    """The continuous solve for one set of curves (the plan's, or a bootstrap replicate's)."""

    goal: _Goal
    box: _BudgetBox
    pooled: Any
    targets: Any
    groups: pd.Index
    tol: float

    @property
    def uses_cvxpy(self) -> bool:
        return self.goal.custom is not None or self.pooled is not None

    def __call__(self, a_, b_, c_) -> core.CoreSolution:
        goal, box, tol = self.goal, self.box, self.tol
        if goal.kind == "target":
            return _solve_target(a_, b_, c_, box.costs, box.lower, box.upper, self.targets,
                                 self.groups, box.total, box.current)
        if self.uses_cvxpy:
            objective = goal.custom if goal.custom is not None else (
                "maximin" if goal.kind == "maximin" else "sum")
            return solve_cvxpy(a_, b_, c_, goal.w, box.costs, box.total, box.lower, box.upper,
                               objective, pooled=self.pooled, tol=max(tol, CVXPY_KKT_TOL))
        if goal.kind == "maximin":
            return core.solve_maximin(a_, b_, c_, box.costs, box.total, box.lower, box.upper,
                                      tie_break=goal.tie_break, tol=tol)
        return core.solve_budget(a_, b_, c_, goal.w, box.costs, box.total, box.lower, box.upper,
                                 goal.transform, tol=tol)


def _replicates(curves: Any, uncertainty: str) -> Any:
    """The bootstrap replicates of the curves, when the uncertainty summaries need them."""
    if uncertainty == "none":
        return None
    if not isinstance(curves, LearningCurves) or curves.bootstrap_params is None:
        fail(ValidationError, "uncertainty", "needs curves fitted with bootstrap > 0",
             fix="fit_learning_curves(..., bootstrap=200).")
    return curves.replicate_arrays()


def _plan_value(goal: _Goal, plan_curves, pooled, box: _BudgetBox,
                n: np.ndarray) -> tuple[np.ndarray, float]:
    """Predicted group errors at ``n`` and the objective value reported for them."""
    a_, b_, c_ = plan_curves
    err = _errors(a_, b_, c_, n, pooled)
    custom_val = None
    if goal.custom is not None:
        custom_val = _custom_value(goal.custom, err, n)
    value = _objective_value(goal.kind, err, goal.w, goal.p, goal.alpha, box.costs,
                             n - box.current, custom_val)
    return err, value


def _integer_plan(goal: _Goal, plan_curves, pooled, box: _BudgetBox, n_cont: np.ndarray):
    """Whole group sizes and their status (see :func:`_round_plan`)."""
    a_plan, b_plan, c_plan = plan_curves
    value_of = None
    if goal.custom is not None or pooled is not None:
        def value_of(n_int, a_=a_plan, b_=b_plan, c_=c_plan):
            e = _errors(a_, b_, c_, n_int.astype(float), pooled)
            if goal.custom is not None:
                return _custom_value(goal.custom, e, n_int.astype(float))
            value = _objective_value(goal.kind, e, goal.w, goal.p, goal.alpha, box.costs,
                                     n_int - box.current)
            return -value if goal.kind == "alpha_fair" else value  # minimised

    return _round_plan(goal.kind, a_plan, b_plan, c_plan, goal.w, goal.transform, box.costs,
                       box.total, box.lower, box.upper, n_cont, goal.tie_break, value_of)


def _plan_result(groups, goal, box, pooled, plan_curves, sol, continuous, n_final, integer,
                 integer_status, unc, pilot_max_n) -> AllocationPlan:
    """The plan: sizes, recruits, cost, errors, objective values, status and active set;
    ``continuous`` is ``(errors, objective value)`` at the continuous optimum."""
    obj_cont = continuous[1]
    err, obj = continuous if n_final is sol.n else _plan_value(goal, plan_curves, pooled, box,
                                                                n_final)
    n_final = np.asarray(n_final, dtype=float)
    recruit = np.subtract(n_final, box.current)
    sign = -1.0 if goal.kind == "alpha_fair" else 1.0
    rounding = sign * (obj - obj_cont)
    status = sol.status
    if integer and integer_status != "optimal" and status == "optimal":
        status = f"continuous optimal; integer {integer_status}"
    arrays = {
        "n": n_final, "n_continuous": np.asarray(sol.n, dtype=float), "recruit": recruit,
        "predicted_error": err, "at_lower": sol.at_lower, "at_upper": sol.at_upper,
        "costs": box.costs, "current_n": box.current, "pilot_max_n": pilot_max_n,
    }
    return AllocationPlan._of(
        groups=groups,
        _arrays=arrays,
        integer=bool(integer),
        cost=float(np.dot(box.costs, recruit)),
        budget=box.budget,
        objective=goal.kind,
        objective_value=obj,
        objective_value_continuous=obj_cont,
        rounding_cost=float(rounding),
        kkt_residual=float(sol.kkt_residual),
        status=status,
        multiplier=float(sol.multiplier),
        solver="cvxpy" if (goal.custom is not None or pooled is not None) else "kkt",
        integer_status=integer_status,
        uncertainty=unc,
    )


def _custom_value(objective, err, n) -> float:
    import cvxpy as cp

    val = objective(cp.Constant(err), cp.Constant(n))
    return float(cp.Expression.cast_to_const(val).value)


def _solve_target(a, b, c, k, lo, hi, targets, groups, B_total, cur) -> core.CoreSolution:
    if targets is None:
        fail(ValidationError, "targets", "is required for objective='target'")
    e = per_group(targets, groups, "targets", default=None, positive=True)
    below = e <= c
    if below.any():
        fail(InfeasibleError, "targets",
             "some targets are at or below the group's asymptotic error c_g (certificate: "
             "a n^-b + c > c >= target for every n)", bad=_labels(groups, below),
             fix="Raise those targets above curves.params['c'].")
    need = np.exp(-np.log((e - c) / a) / b)
    over = need > hi * (1 + 1e-12)
    if over.any():
        fail(InfeasibleError, "targets",
             "reaching these targets needs more than max_n (certificate: err(max_n) > target)",
             bad=_labels(groups, over), fix="Relax the targets or raise max_n.")
    n = np.maximum(need, lo)
    spent = float(k @ n)
    if B_total is not None and spent > B_total * (1 + 1e-12):
        fail(InfeasibleError, "budget",
             f"the cheapest plan meeting every target costs {spent - float(k @ cur):.10g}, more "
             f"than the budget {B_total - float(k @ cur):.10g} (certificate: each group needs at "
             "least (a/(target - c))^(1/b) samples)", fix="Raise the budget or relax targets.")
    at_lo = n <= lo
    return core.CoreSolution(n, 0.0, 0.0, at_lo, np.zeros_like(at_lo), "optimal", 0, False)


def _round_plan(kind, a, b, c, w, transform, k, B_total, lo, hi, n_cont, tie_break, value_of):
    if kind == "target":
        return integer_box(np.maximum(np.ceil(n_cont - 1e-9), lo), hi, lower="targets")[0], \
            "optimal"
    # integer range capped by what the budget can buy (refused beyond 2**53, never wrapped)
    lo_i, hi_i = integer_box(lo, hi, k, B_total)
    if value_of is not None:
        return _local_search_plan(value_of, k, B_total, lo_i, hi_i, n_cont)
    if kind == "maximin":
        sol = integer_maximin(power_curve_terms(a, b, c), k, B_total, lo_i, hi_i, n_cont,
                              tie_break=tie_break)
        return sol.n, sol.status
    F = power_curve_terms(a, b, c, w, transform)
    sol = integer_budget(F, k, B_total, lo_i, hi_i, n_cont)
    return sol.n, sol.status


def _local_search_plan(value_of, k, B_total, lo_i, hi_i, n_cont):
    """Heuristic integer step for custom objectives and pooled curves (see _integer_allocation)."""
    bound = value_of(np.asarray(n_cont, float))
    n, _evals, local = integer_local_search(value_of, k, B_total, lo_i, hi_i, n_cont)
    gap = max(value_of(n) - bound, 0.0)
    what = "local optimum" if local else "evaluation limit reached"
    return n, f"heuristic ({what}; gap to the continuous bound <= {gap:.3g})"


def _robust_curves(reps, lo, hi, B_total, k, quantile):
    """Per group, fit ``a n^-b + c`` to the pointwise ``quantile`` of the replicate curves."""
    from scipy.optimize import least_squares

    A = np.stack([r[0] for r in reps])
    Bm = np.stack([r[1] for r in reps])
    C = np.stack([r[2] for r in reps])
    G = A.shape[1]
    out = np.empty((3, G))
    for g in range(G):
        top = hi[g] if np.isfinite(hi[g]) else max(B_total / k[g], 2 * lo[g])
        grid = np.geomspace(lo[g], max(top, lo[g] * 1.01), 40)
        curves = A[:, g, None] * grid[None, :] ** (-Bm[:, g, None]) + C[:, g, None]
        q = np.quantile(curves, quantile, axis=0)
        x0 = np.array([np.log(np.median(A[:, g])), np.median(Bm[:, g]), np.median(C[:, g])])

        def res(th, grid=grid, q=q):
            return np.log(np.exp(th[0]) * grid ** (-th[1]) + th[2]) - np.log(q)

        sol = least_squares(res, x0, bounds=([-np.inf, 1e-8, 0], [np.inf, 10, q.max()]))
        out[:, g] = np.exp(sol.x[0]), sol.x[1], sol.x[2]
    return out[0], out[1], out[2]


def _replicate_summary(reps, solve, groups, cur, pooled, quantile) -> pd.DataFrame:
    ns, errs = [], []
    for a_r, b_r, c_r in reps:
        try:
            s = solve(a_r, b_r, c_r)
        except InfeasibleError:
            continue
        ns.append(s.n)
        errs.append(_errors(a_r, b_r, c_r, s.n, pooled))
    if not ns:
        fail(InfeasibleError, "uncertainty", "every bootstrap replicate is infeasible")
    N, E = np.stack(ns), np.stack(errs)
    lo_q = 1 - quantile
    return pd.DataFrame({
        f"n_q{lo_q:.2f}": np.quantile(N, lo_q, axis=0),
        "n_median": np.median(N, axis=0),
        f"n_q{quantile:.2f}": np.quantile(N, quantile, axis=0),
        "error_median": np.median(E, axis=0),
        f"error_q{quantile:.2f}": np.quantile(E, quantile, axis=0),
        "replicates": len(ns),
    }, index=groups)
