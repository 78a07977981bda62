"""``replicate_estimate``: the replicate standard error of any statistic of (weights, data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import check_probability, fail
from estimators.errors import DesignError, ValidationError
from estimators.survey._estimation import Estimate
from estimators.survey._replicates import ReplicateDesign

__all__ = ["replicate_estimate"]


def _as_vector(value: Any, where: str) -> np.ndarray:
    out = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if out.size == 0:
        fail(ValidationError, "statistic", f"returned no value {where}", bad=[value])
    return out


def replicate_estimate(
    design: ReplicateDesign,
    statistic: Callable[[np.ndarray, pd.DataFrame], Any],
    *,
    names: Any = None,
    confidence_level: float = 0.95,
) -> Estimate:
    """Any statistic of the weights and data, with its replicate standard error (R ``withReplicates``).

    Parameters
    ----------
    design : ReplicateDesign
        Its weighting steps (rake, calibrate, post-stratify, trim) are re-run on every replicate
        before ``statistic`` sees the replicate's weights.
    statistic : callable
        ``statistic(weights, data)`` returning a number or a 1-D array of numbers, with
        ``weights`` an array aligned to the rows of ``data`` (the design's data frame).
    names : sequence of str, optional
        Labels of the values (default ``0, 1, ...``).
    confidence_level : float
        Level of the normal intervals in ``to_frame()``.

    Returns
    -------
    Estimate
        ``statistic="replicate"``; ``covariance`` is the replicate covariance. Design effects,
        Kish factors and counts are not defined for an arbitrary statistic and are NaN / 0.

    Notes
    -----
    ``theta = statistic(w, data)``, ``theta_r = statistic(w_r, data)`` for the final replicate
    weights ``w_r``, and ``V = scale * sum_r rscales_r (theta_r - c)(theta_r - c)^T`` with ``c`` the
    mean of the replicates (or ``theta`` when the design has ``mse=True``).

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3 and appendix C. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, replicate_estimate
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "psu": [1, 1, 2, 2, 3, 3]})
    >>> rd = SurveyDesign(df, psu="psu").with_replicates("jk1")
    >>> e = replicate_estimate(rd, lambda w, d: (w * d["y"]).sum() / w.sum())
    >>> round(float(e.estimate[0]), 6), round(float(e.std_error[0]), 6)
    (3.5, 1.154701)
    """
    if not isinstance(design, ReplicateDesign):
        fail(ValidationError, "design", "must be a ReplicateDesign", bad=[type(design).__name__],
             fix="Build one with design.with_replicates('jk1') or ReplicateDesign.from_weights.")
    if not callable(statistic):
        fail(ValidationError, "statistic", "must be a function of (weights, data)",
             bad=[type(statistic).__name__])
    level = check_probability(confidence_level, "confidence_level")
    data = design.design.data
    theta = _as_vector(statistic(np.array(design.design.weight_array), data), "for the full sample")
    replicates = np.empty((theta.size, design.n_replicates))
    for chunk in design._chunks(design.design.n):
        weights = design.replicate_weights(chunk)
        for j, r in enumerate(range(chunk.start, chunk.stop)):
            value = _as_vector(statistic(weights[:, j], data), f"for replicate {r}")
            if value.size != theta.size:
                fail(DesignError, "statistic",
                     f"returned {value.size} values for replicate {r} but {theta.size} for the "
                     "full sample", bad=[r])
            replicates[:, r] = value
    if design.mse:
        centre = theta[:, None]
    else:
        centre = replicates[:, design.rscales > 0].mean(axis=1, keepdims=True)
    dev = replicates - centre
    covariance = design.scale * (dev * design.rscales) @ dev.T
    k = theta.size
    labels = pd.DataFrame({"value": list(range(k)) if names is None else list(names)})
    if len(labels) != k:
        fail(ValidationError, "names", f"must have one name per value ({k})", bad=[len(labels)])
    nan = np.full(k, np.nan)
    return Estimate(
        statistic="replicate",
        variable=getattr(statistic, "__name__", "statistic"),
        labels=labels,
        estimate=theta,
        std_error=np.sqrt(np.clip(np.diag(covariance), 0.0, None)),
        deff=nan,
        deff_without_replacement=nan,
        deff_with_replacement=nan,
        deff_kind="with_replacement",
        kish_deff=nan,
        effective_sample_size=nan,
        n=np.zeros(k, dtype=np.int64),
        covariance=covariance,
        variance_method=design.method,
        degrees_of_freedom=np.full(k, np.inf),
        confidence_level=level,
    )
