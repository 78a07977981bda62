"""``contrast``: linear and nonlinear functions of estimates, with their covariance."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import check_probability, fail
from estimators.errors import DesignError, ValidationError
from estimators.survey._estimation import Estimate

__all__ = ["contrast"]

# relative step of the central differences that give a nonlinear contrast's gradient
_STEP = 1e-5


def _gradient(function: Callable[[np.ndarray], Any], theta: np.ndarray, name: Any) -> np.ndarray:
    """Gradient of a scalar function by central differences (Richardson-extrapolated)."""
    grad = np.empty(theta.size)
    for j in range(theta.size):
        h = _STEP * max(abs(theta[j]), 1e-8)
        parts = []
        for step in (h, h / 2):
            up, down = theta.copy(), theta.copy()
            up[j] += step
            down[j] -= step
            parts.append((_scalar(function, up, name) - _scalar(function, down, name)) / (2 * step))
        grad[j] = (4 * parts[1] - parts[0]) / 3
    return grad


def _scalar(function: Callable[[np.ndarray], Any], theta: np.ndarray, name: Any) -> float:
    value = np.asarray(function(theta), dtype=float)
    if value.size != 1:
        fail(ValidationError, "coefficients", f"the function for {name!r} must return one number",
             bad=[f"{value.size} values"])
    return float(value.reshape(-1)[0])


def contrast(
    estimate: Estimate,
    coefficients: Mapping[Any, Any],
    *,
    confidence_level: float | None = None,
) -> Estimate:
    """Linear or nonlinear functions of the estimates, with the delta-method covariance (R ``svycontrast``).

    Parameters
    ----------
    estimate : Estimate
        Estimates with a covariance matrix (e.g. ``total(design, ["api00", "enroll"])`` or
        ``total(design, "enroll", by="stype")``).
    coefficients : mapping
        One entry per contrast, named by its key: a sequence of one coefficient per estimate
        (linear: ``sum_j c_j theta_j``), or a function of the vector of estimates returning a
        number (nonlinear, e.g. ``lambda t: t[0] / t[2]``).
    confidence_level : float, optional
        Level of the intervals (default: the estimate's).

    Returns
    -------
    Estimate
        ``statistic="contrast"``, labels in a ``contrast`` column, the covariance ``L V L^T``.

    Notes
    -----
    Linear: ``theta' = L theta``, ``V' = L V L^T``. Nonlinear: ``theta' = f(theta)``, ``L`` the
    gradient of ``f`` at ``theta`` (central differences with Richardson extrapolation, relative
    step 1e-5), ``V' = L V L^T`` (the delta method). Degrees of freedom are the smallest of the
    estimates'.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 3.3 (the delta method). Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, contrast, total
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "g": list("aabbcc")})
    >>> t = total(SurveyDesign(df), "y", by="g")
    >>> c = contrast(t, {"all": [1, 1, 1], "a_share": lambda v: v[0] / v.sum()})
    >>> [round(float(v), 4) for v in c.estimate]
    [21.0, 0.1429]
    """
    if not isinstance(estimate, Estimate):
        fail(ValidationError, "estimate", "must be an Estimate", bad=[type(estimate).__name__])
    if estimate.covariance is None:
        fail(DesignError, "estimate", "has no covariance matrix (too many estimates)",
             bad=[len(estimate.estimate)], fix="Estimate fewer domains at once.")
    if not isinstance(coefficients, Mapping) or not coefficients:
        fail(ValidationError, "coefficients", "must be a non-empty mapping of name -> "
             "coefficients or function", bad=[type(coefficients).__name__],
             fix="E.g. {'difference': [1, -1]} or {'ratio': lambda t: t[0] / t[1]}.")
    theta = np.asarray(estimate.estimate, dtype=float)
    k = theta.size
    rows, values = [], []
    for name, spec in coefficients.items():
        if callable(spec):
            values.append(_scalar(spec, theta.copy(), name))
            rows.append(_gradient(spec, theta, name))
        else:
            c = np.asarray(spec, dtype=float).ravel()
            if c.size != k:
                fail(ValidationError, "coefficients",
                     f"{name!r} needs one coefficient per estimate ({k})", bad=[c.size])
            values.append(float(c @ theta))
            rows.append(c)
    L = np.vstack(rows)
    covariance = L @ estimate.covariance @ L.T
    m = len(values)
    nan = np.full(m, np.nan)
    finite = np.asarray(estimate.degrees_of_freedom, dtype=float)
    return Estimate(
        statistic="contrast",
        variable=estimate.variable,
        labels=pd.DataFrame({"contrast": list(coefficients.keys())}),
        estimate=np.asarray(values),
        std_error=np.sqrt(np.clip(np.diag(covariance), 0.0, None)),
        deff=nan,
        deff_without_replacement=nan,
        deff_with_replacement=nan,
        deff_kind=estimate.deff_kind,
        kish_deff=nan,
        effective_sample_size=nan,
        n=np.full(m, int(np.max(estimate.n, initial=0))),
        covariance=covariance,
        variance_method=estimate.variance_method,
        degrees_of_freedom=np.full(m, float(np.min(finite, initial=np.inf))),
        confidence_level=estimate.confidence_level if confidence_level is None
        else check_probability(confidence_level, "confidence_level"),
    )
