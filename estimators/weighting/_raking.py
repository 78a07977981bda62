"""``rake``: iterative proportional fitting of survey weights to one-way and joint margins."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, check_option, check_positive, fail
from estimators.errors import ConvergenceError, ConvergenceWarning, InfeasibleError, ValidationError
from estimators.survey._weighting_steps import WeightingMethod, WeightingStep
from estimators.weighting._input import WeightingInput, resolve_input
from estimators.weighting._ipf import IPFOutcome, MarginArrays, ipf
from estimators.weighting._margins import (
    OnEmptyCategory,
    OnMissing,
    OnTotalMismatch,
    WeightingProblem,
    build_problem,
    parse_targets,
)
from estimators.weighting._result import WeightingResult

__all__ = ["rake"]

OnNonconvergence = Literal["raise", "warn"]


def check_bounds(bounds: Any, parameter: str = "bounds") -> tuple[float, float] | None:
    """``None`` or a pair ``(lower, upper)`` of bounds on g with ``0 <= lower < upper``."""
    if bounds is None:
        return None
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        fail(ValidationError, parameter, "must be a pair (lower, upper) of numbers", bad=[bounds])
    if not (0.0 <= lower < upper) or np.isnan(upper):
        fail(
            ValidationError,
            parameter,
            "bounds on g = w / d must satisfy 0 <= lower < upper",
            bad=[bounds],
            fix="E.g. bounds=(0.5, 3.0); use float('inf') for no upper bound.",
        )
    return lower, upper


def kernel_margins(problem: WeightingProblem) -> list[MarginArrays]:
    return [MarginArrays.build(m.cell_category, m.targets) for m in problem.margins]


def check_bounded_feasible(problem: WeightingProblem, bounds: tuple[float, float]) -> None:
    """Each category alone must be reachable: ``L * D_k <= t_k <= U * D_k`` (D = base total)."""
    lower, upper = bounds
    bad: list[str] = []
    need_low, need_high = 1.0, 1.0
    for m in problem.margins:
        valid = m.cell_category >= 0
        base = np.bincount(m.cell_category[valid], weights=problem.cell_base[valid],
                           minlength=m.n_categories)
        ratio = m.targets / base
        need_low = min(need_low, float(ratio.min()))
        need_high = max(need_high, float(ratio.max()))
        for k in np.flatnonzero((ratio < lower * (1 - 1e-12)) | (ratio > upper * (1 + 1e-12))):
            bad.append(f"{m.name}={m.labels[k]} (needs g = {ratio[k]:.6g})")
    if bad:
        fail(
            InfeasibleError,
            "bounds",
            f"no weights with g in [{lower:g}, {upper:g}] can meet these targets",
            bad=bad,
            fix=f"Widen the bounds to at least ({need_low:.6g}, {need_high:.6g}) or merge categories.",
        )


def trace_frame(problem: WeightingProblem, trace: np.ndarray) -> pd.DataFrame:
    """Misfit trace as a DataFrame: rows = iteration (0 = before), columns = margin names."""
    names = [m.name for m in problem.margins]
    # plain (object) labels: an Arrow-backed string index costs more to build than the table
    return pd.DataFrame(trace, columns=pd.Index(names, name="margin", dtype=object),
                        index=pd.RangeIndex(len(trace), name="iteration"))


def report_nonconvergence(
    how: str, what: str, n_iter: int, error: float, tol: float, hint: str
) -> None:
    message = (
        f"{what} did not converge: max relative margin error {error:.3g} > tol {tol:g} after "
        f"{n_iter} iterations. {hint}"
    )
    if how == "raise":
        raise ConvergenceError(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def cell_reweighter(
    problem: WeightingProblem,
    solve: Callable[[np.ndarray], np.ndarray],
) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a cell-level solver ``solve(cell_base (C, R)) -> g (C, R)`` into ``reweight(base (n, R))``."""
    cells = problem.cells
    included = problem.included

    def reweight(base: np.ndarray) -> np.ndarray:
        arr = np.asarray(base, dtype=np.float64)
        one = arr.ndim == 1
        if one:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != problem.n_rows:
            fail(ValidationError, "base", f"must have shape (n, R) with n = {problem.n_rows}",
                 bad=[f"shape {np.shape(base)}"])
        if not included.all():
            arr = np.where(included[:, None], arr, 0.0)
        cell_base = cells.sum_rows(arr)
        g = solve(cell_base)
        out = arr * cells.gather(g, fill=0.0)
        return out[:, 0] if one else out

    return reweight


def finish(
    source: WeightingInput,
    problem: WeightingProblem,
    *,
    method: WeightingMethod,
    cell_g: np.ndarray,
    outcome_converged: bool,
    n_iter: int,
    trace: pd.DataFrame,
    tol: float,
    options: dict[str, Any],
    reweight: Callable[[np.ndarray], np.ndarray] | None,
) -> WeightingResult:
    """Gather cell g back to rows and build the result (the step and design are built lazily)."""
    base = problem.base_weights
    weights = problem.cells.gather(cell_g, fill=0.0)  # a new array: scaled in place
    weights *= base
    if not problem.included.all():
        weights[~problem.included] = 0.0
    frame = problem.frame
    max_error = float(trace.to_numpy()[-1].max()) if trace.shape[1] else 0.0

    def make_step() -> WeightingStep:
        return WeightingStep(
            method=method,
            base_weights=base,
            weights=weights,
            model_matrix=problem.model_matrix(),
            margin_codes=problem.row_margin_codes(),
            reweight=reweight,
            options=dict(options),
        )

    return WeightingResult(
        weights=pd.Series(weights, index=frame.index, name="weight", copy=False),
        base_weights=pd.Series(base, index=frame.index, name="base_weight", copy=False),
        method=method,
        converged=outcome_converged,
        n_iter=n_iter,
        max_margin_error=max_error,
        trace=trace,
        step_factory=make_step,
        base_design=source.make_design,
        tol=tol,
        dropped_rows=problem.dropped_rows,
        dropped_categories=problem.dropped_categories,
        problem=problem,
    )


def rake(
    data: Any,
    margins: Any,
    *,
    weights: Any = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    bounds: Sequence[float] | None = None,
    population_total: float | None = None,
    on_nonconvergence: OnNonconvergence = "raise",
    on_missing: OnMissing = "raise",
    on_empty_category: OnEmptyCategory = "raise",
    on_total_mismatch: OnTotalMismatch = "raise",
    total_tolerance: float = 1e-6,
) -> WeightingResult:
    """Rake weights to one-way and joint margins by iterative proportional fitting.

    Parameters
    ----------
    data : SurveyDesign or DataFrame
        The sample. A design's weights are the base (design) weights; with a DataFrame, give them
        with ``weights`` (default 1 for every row). The frame is never modified or reordered.
    margins : dict or DataFrame
        Targets per category, as shares (summing to 1) or counts: ``{"sex": {"female": 0.51,
        "male": 0.49}}``; joint margins with a tuple key ``{("age", "sex"): {("18-24", "female"):
        ..., ...}}``; or a long DataFrame with columns ``variable``, ``category``, ``target``.
    weights : str, array-like or None
        Base weights when ``data`` is a DataFrame (a column name or values aligned to the rows).
    tol : float
        Convergence tolerance on the max relative margin error ``max_k |sum_k w - t_k| / t_k``
        over every category of every margin, checked after each sweep.
    max_iter : int
        Maximum number of sweeps over all margins.
    bounds : (float, float), optional
        Bounds ``(L, U)`` on ``g = w / d``. Then the weights solve the calibration problem with the
        raking distance restricted to ``L <= g <= U`` (bounded raking); without bounds, plain IPF.
    population_total : float, optional
        Population size: shares are scaled to it and count margins must agree with it. Default:
        the total of the count margins, or the sum of the base weights if all are shares.
    on_nonconvergence : {"raise", "warn"}
        Raise :class:`ConvergenceError` (default) or warn and return the last weights (with
        ``converged=False``).
    on_missing : {"raise", "level", "drop"}
        Missing values in a weighting column: error; own category ``"(missing)"``; or drop the
        rows (weight 0, listed in ``dropped_rows``).
    on_empty_category : {"raise", "drop"}
        A target category with no sample: error, or drop it and rescale the margin's other
        targets (listed in ``dropped_categories``).
    on_total_mismatch : {"raise", "normalize"}
        Count margins with different totals: error, or read them all as shares.
    total_tolerance : float
        Relative tolerance within which count totals must agree.

    Returns
    -------
    WeightingResult
        ``weights`` (Series on the caller's index), ``design`` (a new design recording the raking
        step, for variance estimation), ``converged``, ``n_iter``, ``max_margin_error``,
        ``trace``, ``diagnostics()``, Kish ``design_effect`` and ``effective_sample_size``.

    Notes
    -----
    Rows are collapsed to the observed cells ``c`` of the weighting columns (base total ``d_c``).
    Each sweep visits the margins in turn and multiplies every cell by ``t_k / s_k``, where
    ``s_k = sum_{c in k} x_c`` is the current total of its category ``k`` in that margin. The
    final weight of row ``i`` in cell ``c`` is ``w_i = d_i * x_c / d_c``, so design weights that
    vary within a cell keep their ratios, exactly as R ``survey::rake`` (which post-stratifies on
    each margin in turn). The fixed point is the raking-ratio calibration estimator (Deville and
    Särndal, 1992), the minimiser of ``sum_i d_i (g_i log g_i - g_i + 1)`` subject to the margins.
    With ``bounds``, each margin step solves ``sum_{c in k} d_c clip(exp(u_c + delta_k), L, U) =
    t_k`` for ``delta_k`` (the same minimiser restricted to ``L <= g <= U``).

    The recorded step's ``reweight(base)`` rakes R columns of base weights at once on the
    cells x R table with the same targets (replicate variance); a category with no weight in a
    column is dropped there and its margin's other targets rescaled to keep the margin total.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency
    table when the expected marginal totals are known. *Ann. Math. Statist.* 11, 427-444.
    Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling. *JASA*
    87, 376-382. Lumley, T. (2010). *Complex Surveys*, ch. 7. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import rake
    >>> df = pd.DataFrame({"sex": ["f", "f", "m", "m", "m"], "age": ["y", "o", "y", "o", "o"]})
    >>> fit = rake(df, {"sex": {"f": 0.5, "m": 0.5}, "age": {"y": 0.5, "o": 0.5}})
    >>> fit.converged, [round(float(w), 4) for w in fit.weights]
    (True, [1.4645, 1.0355, 1.0355, 0.7322, 0.7322])
    """
    source = resolve_input(data, weights)
    tol = check_positive(tol, "tol")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    bounds_pair = check_bounds(bounds)
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    parsed = parse_targets(margins, parameter="margins", allow_numeric=False)
    problem = build_problem(
        source.frame,
        parsed,
        source.base_weights,
        parameter="margins",
        population_total=population_total,
        on_missing=on_missing,
        on_empty_category=on_empty_category,
        on_total_mismatch=on_total_mismatch,
        total_tolerance=total_tolerance,
        unit_base=source.unit_base,
    )
    if bounds_pair is not None:
        check_bounded_feasible(problem, bounds_pair)
    kmargins = kernel_margins(problem)

    def solve(cell_base: np.ndarray) -> IPFOutcome:
        return ipf(cell_base, kmargins, tol=tol, max_iter=max_iter, bounds=bounds_pair)

    outcome = solve(problem.cell_base)
    trace = trace_frame(problem, outcome.trace)
    if not outcome.converged:
        hint = (
            "Widen the bounds or raise max_iter."
            if bounds_pair is not None
            else "Check for margins that contradict each other (e.g. joint and one-way margins "
            "with different totals, or sparse cells), or raise max_iter."
        )
        report_nonconvergence(
            on_nonconvergence, "raking", outcome.n_iter, float(outcome.trace[-1].max()), tol, hint
        )
    options = {
        "tol": tol,
        "max_iter": max_iter,
        "bounds": bounds_pair,
        "population_total": problem.population_total,
        **problem.options,
    }
    return finish(
        source,
        problem,
        method="rake",
        cell_g=outcome.g[:, 0],
        outcome_converged=outcome.converged,
        n_iter=outcome.n_iter,
        trace=trace,
        tol=tol,
        options=options,
        reweight=cell_reweighter(problem, lambda cb: solve(cb).g),
    )
