"""``variance``: the population variance of a variable, estimated from the sample, with its SE."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from estimators.survey._estimation import (
    ColumnSpec,
    DeffKind,
    DegreesOfFreedom,
    Estimate,
    NanPolicy,
    _check_degrees_of_freedom,
    _core,
    _estimate_core,
    _options,
    _prepare,
)
from estimators.survey._linearization import LonelyPsu, RakingVariance

if TYPE_CHECKING:
    from estimators.survey._design import SurveyDesign
    from estimators.survey._replicates import ReplicateDesign

__all__ = ["variance"]


def variance(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable,
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "infinite",
    adjust_domain_lonely: bool = False,
) -> Estimate:
    """The population variance of ``y`` (overall or per domain) with its standard error (R ``svyvar``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str
        Numeric column.
    by, nan_policy, lonely_psu, raking_variance, deff, confidence_level, degrees_of_freedom, adjust_domain_lonely
        As for :func:`estimators.mean`.

    Returns
    -------
    Estimate
        ``statistic="variance"``.

    Notes
    -----
    ``S^2_d = n_d / (n_d - 1) * sum_i w_i 1_d(i) (y_i - ybar_d)^2 / sum_i w_i 1_d(i)``. Taylor
    designs: the SE is that of the weighted mean of ``z_i = n_d / (n_d - 1) (y_i - ybar_d)^2``
    with ``ybar_d`` held fixed and ``n_d`` the rows with non-zero weight (R ``svyvar``). Replicate
    designs recompute ``ybar_d`` on every replicate, with ``n_d`` the rows of the domain (R
    ``svyvar`` on a replicate design).

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 2.4. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, variance
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6]})
    >>> round(float(variance(SurveyDesign(df), "y").estimate[0]), 6)
    3.5
    """
    lonely_psu, raking_variance, deff, level = _options(
        lonely_psu, raking_variance, deff, confidence_level
    )
    df_option = _check_degrees_of_freedom(degrees_of_freedom)
    prep = _prepare(design, [y], by, nan_policy)
    k = len(prep.labels)
    yv = prep.columns[y]
    w = prep.weights
    inside = prep.domain >= 0
    dom = np.where(inside, prep.domain, 0)
    weight_in = np.where(inside, w, 0.0)
    xbar = np.bincount(dom, weights=weight_in * yv, minlength=k) / np.bincount(
        dom, weights=weight_in, minlength=k
    )
    counted = inside & (w != 0) if prep.replicate is None else inside
    n_d = np.bincount(dom[counted], minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_d > 1, n_d / (n_d - 1), np.nan)
    centred = np.where(inside, yv - xbar[dom], 0.0)
    z = centred**2 * factor[dom]
    ones = np.ones(len(yv))
    core = _core(prep.domain, k, z, ones)
    est, theta = _estimate_core(
        prep, core, statistic="variance", variable=str(y), labels=prep.labels,
        lonely_psu=lonely_psu, raking_variance=raking_variance, deff=deff, confidence_level=level,
        degrees_of_freedom=df_option, adjust_domain_lonely=adjust_domain_lonely,
    )
    if prep.replicate is None:
        return est
    # replicates: the weighted variance recomputed (mean included) on each replicate's weights
    rep = prep.replicate
    first = _core(prep.domain, k, centred, ones)
    second = _core(prep.domain, k, centred**2, ones)
    den = first.sparse(ones[first.rows])
    m1 = rep.replicate_estimates(first.sparse(first.a), den)
    m2 = rep.replicate_estimates(second.sparse(second.a), den)
    reps = factor[:, None] * (m2 - m1**2)
    centre = theta[:, None] if rep.mse else reps[:, rep.rscales > 0].mean(axis=1, keepdims=True)
    dev = reps - centre
    covariance = rep.scale * (dev * rep.rscales) @ dev.T
    new_variance = np.clip(np.diag(covariance), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(est.std_error > 0, new_variance / est.std_error**2, np.nan)
    return replace(
        est,
        std_error=np.sqrt(new_variance),
        covariance=covariance,
        deff=est.deff * ratio,
        deff_without_replacement=est.deff_without_replacement * ratio,
        deff_with_replacement=est.deff_with_replacement * ratio,
    )
