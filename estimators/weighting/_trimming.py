"""``trim``: cap extreme weights, redistribute the excess, and optionally re-rake to keep the margins."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, check_option, check_positive, fail
from estimators.errors import ConvergenceError, ConvergenceWarning, InfeasibleError, ValidationError
from estimators.survey._design import SurveyDesign
from estimators.survey._weighting_steps import WeightingStep
from estimators.weighting._result import WeightingResult, margin_diagnostics

__all__ = ["trim"]

BoundType = Literal["absolute", "mean_multiple", "median_multiple", "quantile"]
Redistribute = Literal["equal", "proportional"]
StrictRule = Literal["recursive", "freeze"]


def _resolve_bounds(
    w: np.ndarray, lower: Any, upper: Any, bound_type: str
) -> tuple[float, float]:
    if lower is None and upper is None:
        fail(ValidationError, "lower", "give lower, upper or both", bad=[None],
             fix="E.g. trim(fit, upper=5, bound_type='median_multiple').")
    positive = w[w > 0]
    if positive.size == 0:
        fail(ValidationError, "weights", "has no positive weight to trim", bad=[0.0])
    if bound_type == "quantile":
        lo = -np.inf if lower is None else float(np.quantile(positive, _prob(lower, "lower")))
        hi = np.inf if upper is None else float(np.quantile(positive, _prob(upper, "upper")))
    else:
        scale = {
            "absolute": 1.0,
            "mean_multiple": float(positive.mean()),
            "median_multiple": float(np.median(positive)),
        }[bound_type]
        lo = -np.inf if lower is None else check_positive(lower, "lower", allow_zero=True) * scale
        hi = np.inf if upper is None else check_positive(upper, "upper") * scale
    if not lo < hi:
        fail(ValidationError, "upper", "must be above lower", bad=[f"lower={lo:g}, upper={hi:g}"])
    return lo, hi


def _prob(value: Any, parameter: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        fail(ValidationError, parameter, "a quantile must be a number in [0, 1]", bad=[value])
    if not 0.0 <= x <= 1.0:
        fail(ValidationError, parameter, "a quantile must be a number in [0, 1]", bad=[value])
    return x


def trim_weights(
    w: np.ndarray,
    lower: float,
    upper: float,
    *,
    redistribute: str,
    strict: bool,
    max_passes: int,
    strict_rule: str = "recursive",
) -> tuple[np.ndarray, int]:
    """Trim columns of ``w`` (n, R) to ``[lower, upper]``; rows with weight 0 are left alone.

    One pass (R ``trimWeights`` semantics): weights outside are set to the bound; the total removed
    (or added) is shared by the rows that were inside, in equal absolute amounts (``"equal"``) or in
    proportion to their weights (``"proportional"``). ``strict`` repeats passes until every weight
    is inside (or nothing can absorb the excess): with ``strict_rule="recursive"`` each pass is R's
    pass again (``trimWeights`` calling itself), so weights already at a bound share later excess
    and are trimmed again; with ``"freeze"`` weights trimmed once stay at their bound and only
    never-trimmed rows absorb later excess. Returns the weights and the number of passes.
    """
    w = np.array(w, dtype=np.float64, copy=True)
    active = w > 0
    has_trimmed = np.zeros_like(active)
    freeze = strict_rule == "freeze"
    passes = 0
    while passes < max_passes:
        outside = active & ((w < lower) | (w > upper))
        if not outside.any():
            break
        passes += 1
        new = np.where(active, np.clip(w, lower, upper), 0.0)
        removed = (w - new).sum(axis=0)
        can = active & ~outside
        if freeze:
            can &= ~has_trimmed
        n_can = can.sum(axis=0)
        stuck = (n_can == 0) & outside.any(axis=0)
        if stuck.any():
            fail(
                InfeasibleError,
                "upper",
                f"trimming failed: no weight inside [{lower:g}, {upper:g}] is left to absorb the "
                "excess",
                bad=[f"column {int(j)}" for j in np.flatnonzero(stuck)],
                fix="Widen the bounds.",
            )
        if redistribute == "equal":
            share = np.where(n_can > 0, removed / np.maximum(n_can, 1), 0.0)
            new = np.where(can, new + share, new)
        else:
            base = np.where(can, new, 0.0).sum(axis=0)
            factor = np.where(base > 0, 1.0 + removed / np.where(base > 0, base, 1.0), 1.0)
            new = np.where(can, new * factor, new)
        w = new
        has_trimmed |= outside
        if not strict:
            break
    return w, passes


def trim(
    fit_or_design: WeightingResult | SurveyDesign,
    *,
    lower: float | None = None,
    upper: float | None = None,
    bound_type: BoundType = "absolute",
    redistribute: Redistribute = "equal",
    strict: bool = False,
    strict_rule: StrictRule = "recursive",
    recalibrate: bool = False,
    max_cycles: int = 50,
    tol: float = 1e-8,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
) -> WeightingResult:
    """Trim extreme weights to bounds, redistributing the excess; optionally re-rake to keep margins.

    Parameters
    ----------
    fit_or_design : WeightingResult or SurveyDesign
        A weighting fit (its margins are reported and can be kept) or a design (its weights).
    lower, upper : float, optional
        Bounds, read according to ``bound_type``. At least one is needed.
    bound_type : {"absolute", "mean_multiple", "median_multiple", "quantile"}
        Bounds are weight values; multiples of the mean or median positive weight; or quantile
        levels in [0, 1] of the positive weights. Computed once from the incoming weights.
    redistribute : {"equal", "proportional"}
        Share the trimmed excess among the untrimmed rows in equal absolute amounts (R
        ``survey::trimWeights``) or in proportion to their weights. Either keeps the weight total.
    strict : bool
        Repeat trimming passes until every weight is inside the bounds (R ``strict=TRUE``); with
        ``False`` one pass, as R's default, which may leave some weights outside.
    strict_rule : {"recursive", "freeze"}
        How ``strict`` repeats passes. ``"recursive"`` (default) is R's ``trimWeights(strict=TRUE)``,
        which calls itself: every pass shares the excess among all rows inside the bounds,
        including rows already at a bound, and trims again whatever that pushes outside.
        ``"freeze"``: a weight trimmed once stays at its bound and later excess goes only to rows
        never trimmed (fewer passes; the trimmed weights end exactly at the bounds).
    recalibrate : bool
        Trim-then-rerake cycles: after each trim, re-run the fit's weighting (same targets and
        options) from the trimmed weights, until the weights are inside the bounds and the margins
        are met within ``tol``, or ``max_cycles``. Needs a fit.
    max_cycles : int
        Maximum trim passes (``strict``) or trim-then-rerake cycles (``recalibrate``).
    tol : float
        Margin tolerance (relative) for ``recalibrate``; the bounds are checked with the same
        relative slack.
    on_nonconvergence : {"raise", "warn"}
        What to do when ``recalibrate`` cycles do not reach bounds and margins together.

    Returns
    -------
    WeightingResult
        ``max_margin_error`` is the final misfit to the fit's margins (0 for a design without
        margins), ``converged`` says whether every weight ends inside the bounds (and, with
        ``recalibrate``, the margins are met), ``n_iter`` counts passes or cycles.

    Notes
    -----
    Equal redistribution: with ``w'_i = min(max(w_i, L), U)`` and ``E = sum_i (w_i - w'_i)``, each
    of the ``m`` rows inside the bounds gets ``w'_i + E / m``; proportional: ``w'_i (1 + E / S)``
    with ``S`` their total. Trimming changes calibrated totals; ``recalibrate`` alternates trimming
    and raking, each of which keeps one set of constraints, until both hold.

    References
    ----------
    Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling weights.
    *Proc. Survey Research Methods Section, ASA*, 225-230. Lumley, T. (2010). *Complex
    Surveys*, sec. 7.5. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, trim
    >>> d = SurveyDesign(pd.DataFrame({"w": [1.0, 1.0, 1.0, 9.0]}), weights="w")
    >>> [float(w) for w in trim(d, upper=6).weights]
    [2.0, 2.0, 2.0, 6.0]
    """
    bound_type = check_option(
        bound_type, ("absolute", "mean_multiple", "median_multiple", "quantile"), "bound_type"
    )
    redistribute = check_option(redistribute, ("equal", "proportional"), "redistribute")
    strict_rule = check_option(strict_rule, ("recursive", "freeze"), "strict_rule")
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    max_cycles = as_int(max_cycles, "max_cycles", minimum=1)
    tol = check_positive(tol, "tol")
    if isinstance(fit_or_design, WeightingResult):
        fit: WeightingResult | None = fit_or_design
        w0 = fit_or_design.weights.to_numpy()
        index = fit_or_design.weights.index
        problem = fit_or_design.problem
        base_design: Callable[[], SurveyDesign] = lambda: fit_or_design.design  # noqa: E731
    elif isinstance(fit_or_design, SurveyDesign):
        fit = None
        w0 = np.asarray(fit_or_design.weight_array, dtype=np.float64)
        index = fit_or_design.data.index
        problem = None
        base_design = lambda: fit_or_design  # noqa: E731
    else:
        fail(ValidationError, "fit_or_design", "must be a WeightingResult or a SurveyDesign",
             bad=[type(fit_or_design).__name__])
    if recalibrate and (fit is None or fit.problem is None):
        fail(
            ValidationError,
            "recalibrate",
            "needs a weighting fit (from rake, calibrate or poststratify) whose margins it keeps",
            bad=[type(fit_or_design).__name__],
            fix="Pass the result of rake(...) instead of a design.",
        )
    lo, hi = _resolve_bounds(w0, lower, upper, bound_type)
    passes = max_cycles if strict else 1
    prior_reweight = fit.step.reweight if (recalibrate and fit is not None) else None

    # one trace column per margin and per numeric total, in the diagnostics' order
    names: list[str] = []
    if problem is not None:
        names = [str(v) for v in pd.unique(margin_diagnostics(problem, w0)["variable"])]

    def margin_error(w: np.ndarray) -> np.ndarray:
        if problem is None:
            return np.zeros(0)
        diag = margin_diagnostics(problem, w)
        worst = diag.groupby("variable", sort=False)["relative_error"].max()
        worst.index = worst.index.astype(str)
        return worst.reindex(names).to_numpy()

    def within(w: np.ndarray) -> np.ndarray:
        act = w > 0
        slack_lo = lo - tol * abs(lo) if np.isfinite(lo) else lo
        slack_hi = hi + tol * abs(hi) if np.isfinite(hi) else hi
        return ~(act & ((w < slack_lo) | (w > slack_hi))).any(axis=0)

    def apply(w: np.ndarray) -> tuple[np.ndarray, int, bool, list[np.ndarray]]:
        """Trim (and re-rake) columns of w (n, R); returns weights, cycles, converged, trace."""
        trace_rows: list[np.ndarray] = []
        if prior_reweight is None:
            out, n_pass = trim_weights(w, lo, hi, redistribute=redistribute, strict=strict,
                                       max_passes=passes, strict_rule=strict_rule)
            return out, n_pass, bool(within(out).all()), trace_rows
        current = w
        cycles = 0
        ok = False
        while cycles < max_cycles:
            cycles += 1
            trimmed, _ = trim_weights(current, lo, hi, redistribute=redistribute, strict=strict,
                                      max_passes=passes, strict_rule=strict_rule)
            current = prior_reweight(trimmed)
            if current.shape[1] == 1:
                trace_rows.append(margin_error(current[:, 0]))
            ok = bool(within(current).all())
            if ok and (current.shape[1] != 1 or trace_rows[-1].max(initial=0.0) <= tol):
                break
        return current, cycles, ok and (
            current.shape[1] != 1 or trace_rows[-1].max(initial=0.0) <= tol
        ), trace_rows

    weights2d, n_iter, converged, trace_rows = apply(w0[:, None])
    weights = weights2d[:, 0]
    rows = [margin_error(w0), *trace_rows]
    if not trace_rows:
        rows.append(margin_error(weights))
    trace = pd.DataFrame(np.vstack(rows) if names else np.zeros((len(rows), 0)),
                         columns=pd.Index(names, name="margin"))
    trace.index.name = "cycle"
    outside_final = int(((weights > 0) & ((weights < lo) | (weights > hi))).sum())
    max_error = float(trace.iloc[-1].max()) if names else 0.0
    if recalibrate and not converged:
        message = (
            f"trim with recalibrate did not converge in {n_iter} cycles: max relative margin "
            f"error {max_error:.3g} (tol {tol:g}), {outside_final} weights outside "
            f"[{lo:g}, {hi:g}]. Widen the bounds or raise max_cycles."
        )
        if on_nonconvergence == "raise":
            raise ConvergenceError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=2)

    def reweight(base: np.ndarray) -> np.ndarray:
        arr = np.asarray(base, dtype=np.float64)
        one = arr.ndim == 1
        out = apply(arr[:, None] if one else arr)[0]
        return out[:, 0] if one else out

    options = {
        "lower": lo,
        "upper": hi,
        "bound_type": bound_type,
        "redistribute": redistribute,
        "strict": strict,
        "strict_rule": strict_rule,
        "recalibrate": recalibrate,
        "max_cycles": max_cycles,
        "tol": tol,
    }

    def make_step() -> WeightingStep:
        return WeightingStep(
            method="trim",
            base_weights=w0,
            weights=weights,
            model_matrix=fit.step.model_matrix if (fit is not None and recalibrate) else None,
            margin_codes=fit.step.margin_codes if (fit is not None and recalibrate) else (),
            reweight=reweight,
            options=options,
        )

    return WeightingResult(
        weights=pd.Series(weights, index=index, name="weight"),
        base_weights=pd.Series(w0, index=index, name="base_weight"),
        method="trim",
        converged=converged,
        n_iter=n_iter,
        max_margin_error=max_error,
        trace=trace,
        step_factory=make_step,
        base_design=base_design,
        tol=tol,
        dropped_rows=fit.dropped_rows if fit is not None else pd.Index([]),
        dropped_categories=fit.dropped_categories if fit is not None else (),
        problem=problem,
    )
