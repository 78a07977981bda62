"""``variance``: the population variance of a variable, estimated from the sample, with its SE."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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
    _stack,
)
from estimators.survey._linearization import LonelyPsu, RakingVariance

if TYPE_CHECKING:
    from estimators.survey._design import SurveyDesign
    from estimators.survey._replicates import ReplicateDesign

__all__ = ["variance"]


def variance(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable | list[Hashable],
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
    y : str or list of str
        Numeric column, or several: then every variance and covariance, the matrix read column
        by column as R (``labels`` gains ``variable`` and ``with`` columns), with their joint
        covariance.
    by, nan_policy, lonely_psu, raking_variance, deff, confidence_level, degrees_of_freedom, adjust_domain_lonely
        As for :func:`estimators.mean`.

    Returns
    -------
    Estimate
        ``statistic="variance"``.

    Notes
    -----
    ``S^2_d = n_d / (n_d - 1) * sum_i w_i 1_d(i) (y_i - ybar_d)^2 / sum_i w_i 1_d(i)`` (covariances:
    ``(y_i - ybar_d)(x_i - xbar_d)``). Taylor
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
    variables = list(y) if isinstance(y, list) else [y]
    prep = _prepare(design, list(dict.fromkeys(variables)), by, nan_policy)
    k = len(prep.labels)
    w = prep.weights
    inside = prep.domain >= 0
    dom = np.where(inside, prep.domain, 0)
    weight_in = np.where(inside, w, 0.0)
    mass = np.bincount(dom, weights=weight_in, minlength=k)
    counted = inside & (w != 0) if prep.replicate is None else inside
    n_d = np.bincount(dom[counted], minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_d > 1, n_d / (n_d - 1), np.nan)
    centred = {}
    for v in variables:
        xbar = np.bincount(dom, weights=weight_in * prep.columns[v], minlength=k) / mass
        centred[v] = np.where(inside, prep.columns[v] - xbar[dom], 0.0)
    # R's order: the covariance matrix read column by column
    pairs = [(a, b) for b in variables for a in variables]
    ones = np.ones(len(w))
    cores = [_core(prep.domain, k, centred[a] * centred[b] * factor[dom], ones) for a, b in pairs]
    core = cores[0] if len(cores) == 1 else _stack(cores)
    labels = prep.labels
    if isinstance(y, list):
        labels = pd.concat([prep.labels] * len(pairs), ignore_index=True)
        labels.insert(0, "with", np.repeat(np.asarray([str(b) for _, b in pairs], dtype=object), k))
        labels.insert(0, "variable", np.repeat(np.asarray([str(a) for a, _ in pairs], dtype=object), k))
    est, theta = _estimate_core(
        prep, core, statistic="variance", variable=", ".join(str(v) for v in variables),
        labels=labels, lonely_psu=lonely_psu, raking_variance=raking_variance, deff=deff,
        confidence_level=level, degrees_of_freedom=df_option,
        adjust_domain_lonely=adjust_domain_lonely,
    )
    if prep.replicate is None:
        return est
    # replicates: the weighted (co)variances recomputed (means included) on each replicate
    rep = prep.replicate
    den_core = _core(prep.domain, k, ones, ones)
    den = den_core.sparse(ones[den_core.rows])
    first = {}
    for v in variables:
        c = _core(prep.domain, k, centred[v], ones)
        first[v] = rep.replicate_estimates(c.sparse(c.a), den)
    blocks = []
    for a, b in pairs:
        c = _core(prep.domain, k, centred[a] * centred[b], ones)
        m_ab = rep.replicate_estimates(c.sparse(c.a), den)
        blocks.append(factor[:, None] * (m_ab - first[a] * first[b]))
    reps = np.vstack(blocks)
    centre = theta[:, None] if rep.mse else reps[:, rep.rscales > 0].mean(axis=1, keepdims=True)
    dev = reps - centre
    full = est.covariance is not None
    covariance = rep.scale * (dev * rep.rscales) @ dev.T if full else None
    new_variance = (np.clip(np.diag(covariance), 0.0, None) if covariance is not None
                    else np.clip(rep.scale * (dev * dev) @ rep.rscales, 0.0, None))
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
