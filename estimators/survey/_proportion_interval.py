"""``proportion_interval``: confidence intervals for a proportion that stay inside [0, 1]."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import special

from estimators._lib.validation import check_option, check_probability, fail
from estimators.errors import ValidationError
from estimators.survey import _estimation
from estimators.survey._estimation import ColumnSpec, Estimate, _core, _critical, _prepare
from estimators.survey._linearization import LonelyPsu, RakingVariance
from estimators.survey._profile_interval import profile_interval

if TYPE_CHECKING:
    from estimators.survey._design import SurveyDesign
    from estimators.survey._replicates import ReplicateDesign

__all__ = ["proportion_interval"]

IntervalMethod = Literal["logit", "likelihood", "xlogit", "asin", "beta", "mean"]
_METHODS: tuple[IntervalMethod, ...] = ("logit", "likelihood", "xlogit", "asin", "beta", "mean")


def proportion_interval(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable,
    *,
    method: IntervalMethod = "logit",
    by: ColumnSpec = None,
    confidence_level: float = 0.95,
    degrees_of_freedom: _estimation.DegreesOfFreedom | float = "domain",
    nan_policy: _estimation.NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
) -> Estimate:
    """A proportion with a confidence interval inside [0, 1] (R ``svyciprop``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str
        Column of 0/1 (or boolean) values: the proportion is its weighted mean.
    method : {"logit", "likelihood", "xlogit", "asin", "beta", "mean"}
        ``"logit"`` (default) and ``"xlogit"``: a symmetric interval for ``log(p / (1 - p))``
        mapped back (R's ``logit``, a survey-weighted logistic regression, and ``xlogit``, the
        delta method; they coincide for Taylor designs, while on a replicate design ``"logit"``
        takes the replicate variance of the replicates' ``logit(p_r)``, as R refits the model on
        each replicate). ``"asin"``: the same on ``asin(sqrt(p))``. ``"beta"``:
        Korn and Graubard's Clopper-Pearson interval with the effective sample size
        ``p (1 - p) / V`` scaled by ``(t_{n-1} / t_df)^2``. ``"mean"``: ``p -/+ t SE`` (may leave
        [0, 1]). ``"likelihood"``: R's profile-likelihood interval of the quasi-binomial model,
        at a level widened by the design effect (Taylor designs without weighting steps; R's
        grid and spline interpolation reproduced).
    by : str or list of str, optional
        Domains (each gets its own interval, as R ``svyby(..., svyciprop)``).
    confidence_level : float
    degrees_of_freedom : {"domain", "design", "infinite"} or float
        Degrees of freedom of the t quantile: each domain's design degrees of freedom (default,
        as R's ``df = degf(design)`` on the domain's subset design), the whole design's, normal
        quantiles, or a number. ``"beta"`` always uses the domain's rows and degrees of freedom
        in its effective-sample-size correction, as R.
    nan_policy, lonely_psu, raking_variance
        As for :func:`estimators.mean`.

    Returns
    -------
    Estimate
        ``estimate`` and ``std_error`` are the proportion and its design-based SE (those of
        :func:`estimators.mean`); the intervals (``to_frame()``, ``confidence_interval``) are the
        chosen method's.

    Notes
    -----
    With ``p`` the weighted mean, ``V`` its design variance and ``t`` the ``(1 + level) / 2``
    quantile of Student's t with ``df`` degrees of freedom:
    logit: ``expit(logit(p) -/+ t sqrt(V) / (p (1 - p)))``;
    asin: ``sin^2(asin(sqrt(p)) -/+ t sqrt(V) / (2 sqrt(p (1 - p))))``;
    beta: ``m = p (1 - p) / V * (t_{n-1} / t_{df})^2`` (``n`` rows in the domain), interval
    ``[B^{-1}(a/2; m p, m (1 - p) + 1), B^{-1}(1 - a/2; m p + 1, m (1 - p))]``.

    References
    ----------
    Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with small
    expected number of positive counts estimated from survey data. *Survey Methodology* 24,
    193-201. Lumley, T. (2010). *Complex Surveys*, sec. 2.5. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, proportion_interval
    >>> df = pd.DataFrame({"yes": [1, 0, 0, 1, 0, 0, 0, 1], "psu": [1, 1, 2, 2, 3, 3, 4, 4]})
    >>> est = proportion_interval(SurveyDesign(df, psu="psu"), "yes", method="logit")
    >>> round(float(est.estimate[0]), 3), [round(float(v), 3) for v in est.to_frame().iloc[0, 2:4]]
    (0.375, [0.099, 0.766])
    """
    method = check_option(method, _METHODS, "method")
    level = check_probability(confidence_level, "confidence_level")
    prep = _prepare(design, [y], by, nan_policy)
    values = prep.columns[y][prep.domain >= 0]
    if values.size and ((values < 0) | (values > 1)).any():
        bad = np.unique(values[(values < 0) | (values > 1)])
        fail(ValidationError, "y", "must hold 0/1 (or boolean) values for a proportion",
             bad=list(bad), fix="Pass an indicator column, e.g. df.assign(yes=df.answer == 'yes').")
    fit = _estimation.mean(
        design, y, by=by, nan_policy=nan_policy, lonely_psu=lonely_psu,
        raking_variance=raking_variance, confidence_level=level,
        degrees_of_freedom=degrees_of_freedom,
    )
    p = fit.estimate
    se = fit.std_error
    df = fit.degrees_of_freedom
    k = len(prep.labels)
    if method == "beta":
        source = prep.design if prep.replicate is None else prep.replicate
        domain_df = source.domain_degrees_of_freedom(prep.domain, k)
        if prep.replicate is None and prep.design.weighting_steps:
            rows = np.full(k, float(prep.design.n))  # R keeps every row of a calibrated design
        else:
            rows = np.bincount(prep.domain[prep.domain >= 0], minlength=k).astype(float)

    logit_se = None
    if method == "logit" and prep.replicate is not None:
        # R fits the logistic model on every replicate: the replicate variance of logit(p_r)
        rep = prep.replicate
        ones = np.ones(prep.design.n)
        core = _core(prep.domain, k, prep.columns[y], ones)
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = special.logit(rep.replicate_estimates(core.sparse(core.a), core.sparse(ones[core.rows])))
            centre = special.logit(p)[:, None] if rep.mse else reps[:, rep.rscales > 0].mean(
                axis=1, keepdims=True)
            logit_se = np.sqrt(rep.scale * ((reps - centre) ** 2) @ rep.rscales)

    if method == "likelihood" and (prep.replicate is not None or prep.design.weighting_steps):
        fail(ValidationError, "method",
             "'likelihood' is available for Taylor designs without weighting steps",
             bad=["likelihood"], fix="Use method='logit' (R gives no likelihood interval there).")

    def likelihood(lvl: float) -> tuple[np.ndarray, np.ndarray]:
        lows, highs = np.empty(k), np.empty(k)
        yv, wv = prep.columns[y], prep.weights
        for j in range(k):
            rows = prep.domain == j
            yd, wd = yv[rows], wv[rows]
            prior = wd / wd.mean()
            resid = (yd - p[j]) * np.sqrt(prior) / np.sqrt(p[j] * (1 - p[j]))
            n_nonzero = float((wd != 0).sum())
            centre = np.sum(wd * resid) / wd.sum()
            dispersion = (n_nonzero / (n_nonzero - 1)) * np.sum(wd * (resid - centre) ** 2) / wd.sum()
            lows[j], highs[j] = profile_interval(yd, wd, p[j], se[j], dispersion, df[j], lvl)
        return lows, highs

    def interval(lvl: float) -> tuple[np.ndarray, np.ndarray]:
        from scipy import stats  # loaded only when an interval needs it

        if method == "likelihood":
            return likelihood(lvl)
        crit = _critical(lvl, df)
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "mean":
                return p - crit * se, p + crit * se
            if method in ("logit", "xlogit"):
                centre = special.logit(p)
                half = crit * (se / (p * (1 - p)) if logit_se is None else logit_se)
                return special.expit(centre - half), special.expit(centre + half)
            if method == "asin":
                centre = np.arcsin(np.sqrt(p))
                half = crit * se / (2 * np.sqrt(p * (1 - p)))
                return np.sin(centre - half) ** 2, np.sin(centre + half) ** 2
            alpha = 1 - lvl
            ratio = stats.t.ppf(alpha / 2, rows - 1) / stats.t.ppf(alpha / 2, domain_df)
            m = p * (1 - p) / se**2 * ratio**2
            lower = stats.beta.ppf(alpha / 2, m * p, m * (1 - p) + 1)
            upper = stats.beta.ppf(1 - alpha / 2, m * p + 1, m * (1 - p))
            return lower, upper

    return replace(fit, _interval=interval)
