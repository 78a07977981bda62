"""``adjust_to_reference``: reweight a sample to look like a unit-level reference sample."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, as_rng, check_option, check_positive, fail
from estimators.errors import ConvergenceError, DataWarning, InfeasibleError, ValidationError
from estimators.survey._weighting_steps import WeightingStep
from estimators.weighting._balance import BalanceResult, covariate_balance
from estimators.weighting._covariates import (
    CovariateSpec,
    design_matrix,
    level_codes,
    level_indicators,
    prepare_covariates,
)
from estimators.weighting._input import WeightingInput, resolve_input
from estimators.weighting._propensity import (
    FitOutcome,
    cap_weights,
    cbps_fit,
    cross_validate_penalty,
    logistic_fit,
    standardize,
)
from estimators.weighting._result import WeightingResult

__all__ = ["ReferenceWeightingResult", "adjust_to_reference"]

AdjustMethod = Literal["ipw", "cbps", "entropy", "rake", "poststratify"]

#: ridge penalties tried by cross-validation (on standardised columns), largest first: ten per
#: decade, so that the one-standard-error rule is not decided by the spacing of the grid
DEFAULT_PENALTIES = np.logspace(0, -5, 51)

#: ipw and cbps: no weight above this multiple of the mean weight (see the Notes)
DEFAULT_MAX_WEIGHT_RATIO = 5.0


@dataclass(frozen=True, eq=False)
class ReferenceWeightingResult(WeightingResult):
    """A :class:`WeightingResult` from :func:`~estimators.adjust_to_reference`, with the model.

    Everything of :class:`WeightingResult`, plus :meth:`balance` (covariate balance before and
    after), :meth:`mean` (a mean whose standard error includes the reference's sampling error) and
    the attributes below.

    Attributes
    ----------
    covariates : tuple
        The covariates adjusted on.
    penalty : float or None
        The ridge penalty of the membership model (``ipw``; chosen by cross-validation when asked).
    cv_table : DataFrame or None
        Cross-validated deviance per penalty (``penalty="cv"``).
    coefficients : Series or None
        Membership-model coefficients (``ipw``, ``cbps``) on the standardised columns: the
        intercept and one per model column, for P(sample | x).
    balance_factory, reference_parts
        Internal: what :meth:`balance` and :meth:`mean` need.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import adjust_to_reference
    >>> smp = pd.DataFrame({"sex": ["f", "m", "m", "m"], "y": [1.0, 2.0, 3.0, 4.0]})
    >>> ref = pd.DataFrame({"sex": ["f", "f", "m", "m"]})
    >>> fit = adjust_to_reference(smp, ref, covariates=["sex"], method="rake")
    >>> fit.weights.tolist(), round(float(fit.mean("y").estimate[0]), 4)
    ([2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666], 2.0)
    """

    covariates: tuple[Any, ...] = ()
    penalty: float | None = None
    cv_table: pd.DataFrame | None = field(default=None, repr=False)
    coefficients: pd.Series | None = field(default=None, repr=False)
    balance_factory: Callable[[np.ndarray], BalanceResult] | None = field(default=None, repr=False)
    reference_parts: tuple[np.ndarray, np.ndarray, Callable[[], Any]] | None = field(
        default=None, repr=False
    )

    def balance(self) -> BalanceResult:
        """Covariate balance of the sample against the reference, before and after weighting."""
        if self.balance_factory is None:  # pragma: no cover - always set by adjust_to_reference
            fail(ValidationError, "balance", "is not available for this result")
        return self.balance_factory(self.weights.to_numpy())

    def mean(self, y: Any, *, design: Any = None, include_reference: bool = True,
             **options: Any) -> Any:
        """Weighted mean of ``y`` whose standard error also counts the reference's sampling error.

        Parameters
        ----------
        y : str
            A numeric column of the sample.
        design : SurveyDesign or ReplicateDesign, optional
            The design giving the sample part of the variance: :attr:`design` (Taylor, default) or
            a replicate design made from it (``replicate_design(fit.design, ...)``).
        include_reference : bool
            Add the variance that comes from estimating the reference totals (default). With
            ``False`` this is ``design.mean(y)``.
        **options
            Passed to ``design.mean`` (e.g. ``confidence_level``).

        Returns
        -------
        Estimate
            As ``design.mean(y)``, with ``std_error`` and ``covariance`` enlarged by the reference
            part and ``variance_method`` suffixed ``"+reference"``.

        Notes
        -----
        The weights reproduce (exactly for ``entropy``, ``rake``, ``poststratify`` and uncapped
        just-identified ``cbps``; approximately for ``ipw``) the reference's weighted means ``xbar_R`` of the model columns
        ``x`` (intercept included), so the weighted mean is, to first order,
        ``B' xbar_R`` with ``B`` the weighted least-squares coefficients of ``y`` on ``x`` in the
        sample. Its variance from the reference is therefore the reference design's variance of
        the weighted mean of ``z_j = x_j' B`` (Taylor: ``t_j (z_j - zbar) / sum t`` summed by PSU
        within strata, the reference's own weighting steps projected out). The sample and the
        reference are independent, so the two parts add.
        """
        import dataclasses

        base = (self.design if design is None else design).mean(y, **options)
        if not include_reference or self.reference_parts is None:
            return base
        if base.estimate.size != 1:
            fail(ValidationError, "options", "the reference part is for one overall mean (no by=)",
                 bad=[base.estimate.size])
        xs, xr, reference_design = self.reference_parts
        values = self.base_design().data[y].to_numpy(dtype=np.float64, na_value=np.nan)
        w = self.weights.to_numpy()
        ok = np.isfinite(values) & (w > 0)
        root = np.sqrt(w[ok])
        coef, *_ = np.linalg.lstsq(xs[ok] * root[:, None], values[ok] * root, rcond=None)
        extra = _reference_mean_variance(reference_design(), xr @ coef)
        variance = base.std_error**2 + extra
        ratio = np.where(base.std_error > 0, variance / np.maximum(base.std_error**2, 1e-300), 1.0)
        return dataclasses.replace(
            base,
            std_error=np.sqrt(variance),
            covariance=base.covariance + extra,
            deff=base.deff * ratio,
            deff_without_replacement=base.deff_without_replacement * ratio,
            deff_with_replacement=base.deff_with_replacement * ratio,
            variance_method=f"{base.variance_method}+reference",
            _interval=None,
        )

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        facts = list(super()._summary_facts())
        if self.penalty is not None:
            facts.append(("membership model penalty", self.penalty))
        return facts


def _reference_mean_variance(design: Any, z: np.ndarray) -> float:
    """Taylor variance of the weighted mean of ``z`` under the reference's design."""
    from estimators.survey._linearization import (
        psu_strata,
        psu_totals,
        residualize,
        stratified_covariance,
    )

    t = np.asarray(design.weight_array, dtype=np.float64)
    total = t.sum()
    u = (t * (z - (t @ z) / total) / total)[:, None]
    if design.weighting_steps:
        u = residualize(u, design.weighting_steps, "greg")
    n_psu = design.n_psu
    totals = psu_totals(u, design.psu_codes, n_psu)
    strata_of_psu = psu_strata(design.strata_codes, design.psu_codes, n_psu)
    population = None
    if design.fpc_population is not None:
        population = np.full(design.n_strata, np.inf)
        population[design.strata_codes] = design.fpc_population
    cov = stratified_covariance(totals, strata_of_psu, design.n_strata, population, "adjust",
                                list(design.strata_labels))
    return float(cov[0, 0])


def _rewrap(
    inner: WeightingResult,
    source: WeightingInput,
    method: str,
    *,
    base_weights: np.ndarray | None = None,
    base_design: Callable[[], Any] | None = None,
    **extra: Any,
) -> ReferenceWeightingResult:
    """The inner fit's weights and step on the caller's frame and design."""
    index = source.frame.index
    base = np.asarray(source.base_weights if base_weights is None else base_weights)
    return ReferenceWeightingResult(
        weights=pd.Series(inner.weights.to_numpy(), index=index, name="weight"),
        base_weights=pd.Series(base, index=index, name="base_weight"),
        method=method,
        converged=inner.converged,
        n_iter=inner.n_iter,
        max_margin_error=inner.max_margin_error,
        trace=inner.trace,
        step_factory=lambda: inner.step,
        base_design=base_design or source.make_design,
        tol=inner.tol,
        dropped_rows=pd.Index([index[i] for i in np.flatnonzero(
            inner.weights.index.isin(inner.dropped_rows))]),
        dropped_categories=inner.dropped_categories,
        problem=inner.problem,
        **extra,
    )


def _check_spread(specs: list[CovariateSpec], labels: list[tuple[str, str]],
                  xs: np.ndarray, xr: np.ndarray) -> None:
    pooled = np.vstack([xs, xr])
    flat = [f"{c}={lv}" if lv else c for (c, lv), sd in zip(labels, pooled.std(axis=0)) if sd == 0]
    if flat:
        fail(ValidationError, "covariates", "have a column with the same value in every row of "
             "both samples (it cannot be adjusted on)", bad=flat,
             fix="Drop the constant covariate.")


def _totals_error(w: np.ndarray, xs: np.ndarray, target: np.ndarray) -> float:
    got = w @ xs
    scale = np.where(np.abs(target) > 0, np.abs(target), 1.0)
    return float(np.max(np.abs(got - target) / scale)) if len(target) else 0.0


# Quantile groups of numeric covariates by method when bins="auto" (absent: used as they are).
DEFAULT_BINS: dict[str, int] = {"cbps": 10, "rake": 5, "poststratify": 5}

def adjust_to_reference(
    sample: Any,
    reference: Any,
    *,
    covariates: Any,
    method: AdjustMethod = "ipw",
    weights: Any = None,
    reference_weights: Any = None,
    penalty: float | Literal["cv"] = "cv",
    penalties: Any = None,
    cv_folds: int = 10,
    cv_rule: Literal["min", "1se"] = "1se",
    bins: int | Literal["auto"] | None = "auto",
    equal_class_totals: bool = True,
    over_identified: bool = False,
    moments: Literal[1, 2] = 1,
    max_weight_ratio: float | None = DEFAULT_MAX_WEIGHT_RATIO,
    trim: dict[str, Any] | None = None,
    rng: Any = 0,
) -> ReferenceWeightingResult:
    """Reweight a sample so its covariates look like those of a reference sample.

    Parameters
    ----------
    sample : DataFrame or SurveyDesign
        The sample to weight (e.g. opt-in raters). A design's weights are the base weights.
    reference : DataFrame or SurveyDesign
        A unit-level reference sample (e.g. a probability survey's microdata); a design's weights
        (or ``reference_weights``) are its weights.
    covariates : list of str
        Columns of both frames to adjust on. Non-numeric columns (strings, categoricals,
        booleans) are categorical; numeric columns are used as they are or binned (``bins``).
        Missing values form a level ``"(missing)"`` (categorical) or an indicator (numeric,
        missing values filled with 0).
    method : {"ipw", "cbps", "entropy", "rake", "poststratify"}
        ``"ipw"``: inverse propensity weights from a logistic membership model;
        ``"cbps"``: covariate-balancing propensity scores; ``"entropy"``: entropy balancing on the
        means (``moments=2``: and variances of numeric covariates); ``"rake"``: raking to the
        reference's weighted margins; ``"poststratify"``: to its weighted joint cells.
    weights : str, array-like or None
        Base weights of the sample when it is a DataFrame (default 1).
    reference_weights : str, array-like or None
        Weights of the reference when it is a DataFrame (default 1).
    penalty : float or "cv"
        Ridge penalty of the ``ipw`` membership model on standardised columns (0 = maximum
        likelihood); ``"cv"`` (default) chooses it from ``penalties`` by ``cv_folds``-fold
        cross-validation of the weighted deviance.
    penalties : array-like, optional
        Penalties tried by cross-validation (default 51 values from 1 to 1e-5, ten per decade,
        log-spaced).
    cv_folds : int
        Folds for cross-validation.
    cv_rule : {"min", "1se"}
        Pick the largest penalty whose cross-validated deviance is within one standard error of
        the smallest (default, glmnet's ``lambda.1se``, as ``balance``), or the penalty with the
        smallest deviance (less shrinkage: better balance, larger design effect).
    bins : int, "auto" or None
        Cut numeric covariates into this many quantile groups of the pooled values; None uses
        them as they are. ``"auto"`` (default): as they are for ``ipw`` and ``entropy``, 10
        groups for ``cbps`` (balancing the shares of the groups balances the covariate's
        distribution, not only its mean: a just-identified CBPS on a raw covariate matches its
        mean only, which leaves the bias of a selection that runs through, e.g., the log of
        income; ``balance`` bins numeric covariates into 10 quantile groups for CBPS too),
        5 groups for ``rake`` and ``poststratify``, which always bin numeric covariates.
    equal_class_totals : bool
        Give the reference the sample's total weight in the membership fit (as the package
        ``balance`` does). Matters only for penalised fits.
    over_identified : bool
        ``cbps``: add the logistic score equations to the balance equations (GMM).
    moments : {1, 2}
        ``entropy``: balance means (1) or means and variances of numeric covariates (2).
    max_weight_ratio : float or None
        ``ipw`` and ``cbps``: cap each unit's adjustment ``w_i / d_i`` at this multiple of its
        mean (weighted by ``d``), so that with equal base weights no weight exceeds
        ``max_weight_ratio`` times the mean weight (default 5; ``None``: no cap). See the Notes.
    trim : dict, optional
        Trim the weights afterwards: keyword arguments of :func:`~estimators.trim`, e.g.
        ``{"upper": 20, "bound_type": "mean_multiple"}``.
    rng : int, Generator or None
        Randomness for the cross-validation folds (default seed 0, reproducible).

    Returns
    -------
    ReferenceWeightingResult
        A :class:`WeightingResult` (weights summing to the reference's weight total, ``design``
        recording the step, ``design_effect``...) with ``balance()`` (a
        :class:`BalanceResult`), and for the propensity methods ``penalty``, ``cv_table`` and
        ``coefficients``.

    Notes
    -----
    **ipw.** Stack the sample (``y = 1``, fitting weights ``d``) and the reference (``y = 0``,
    weights ``t``, times ``sum d / sum t`` with ``equal_class_totals``) and fit
    ``logit p(x) = x'beta`` on an intercept plus the standardised covariate columns (first level
    of each categorical left out), minimising ``(1 / sum s) sum_i s_i loss_i + (lambda / 2)
    sum_j beta_j^2`` (intercept unpenalised; statsmodels GLM). The weights are
    ``w_i = d_i (1 - p_i) / p_i``, scaled so ``sum w = sum t``. The default penalty is the largest
    of 51 values (ten per decade, so that the grid's spacing does not decide it) whose 10-fold
    cross-validated deviance is within one standard error of the smallest (glmnet's
    ``lambda.1se``).

    **The cap (ipw, cbps).** The odds ``f_i = (1 - p_i) / p_i`` are largest where the logistic
    model extrapolates: the few sample units that look least like the rest of the sample, often
    in the tail of a numeric covariate, where a linear term makes ``exp(-x'beta)`` grow fastest.
    A handful of them can carry much of the Kish design effect ``n sum w^2 / (sum w)^2``. With
    ``max_weight_ratio = k`` the adjustments are replaced by ``min(f_i, c)``, ``c`` solving
    ``c = k sum_i d_i min(f_i, c) / sum_i d_i`` (so the rule holds for the capped adjustments
    themselves), before scaling to the reference total. Capping the adjustment rather than the
    weight leaves the design weights alone, and replicate designs apply the same rule to each
    replicate's re-fitted adjustments. It trades a little bias (the capped units are
    under-represented) for variance, as trimming does (Potter 1990; Lee, Lessler and Stuart
    2011); the penalty shrinks every coefficient, the cap only the extreme odds. Five times the
    mean is a common trimming rule in survey weighting, and ``balance`` trims at 20 times the
    mean weight. With the cap the ``cbps`` weights reproduce the reference's means only
    approximately.

    **cbps.** The just-identified CBPS of Imai and Ratkovic (2014) for weighting to a reference
    chooses ``beta`` so that the odds-weighted sample matches the reference on every model column:
    ``sum_S d_i exp(-x_i'beta) x_i = c sum_R t_j x_j``. This is entropy balancing on the same
    columns (Zhao and Percival 2017), solved here by Newton steps on its convex dual (scipy);
    ``over_identified`` adds the likelihood score (two-step GMM).

    **entropy.** Entropy balancing (Hainmueller 2012): ``calibrate(method="raking")`` to the
    reference's weighted totals of the model columns (and of the squared numeric columns with
    ``moments=2``).

    **rake / poststratify.** :func:`~estimators.rake` to the reference's weighted margins of each
    covariate, or :func:`~estimators.poststratify` to its weighted joint cells; numeric covariates
    in quantile groups of the pooled values.

    **Variance.** The design's Taylor variance projects on the model columns (the GREG residual of
    a calibration to the reference totals: exact for ``entropy`` and uncapped just-identified
    ``cbps``, the usual approximation for ``ipw`` and when the cap binds); replicate designs re-run
    the step on every replicate (the propensity model is re-fitted with the chosen penalty and the
    cap applied again). Both treat the reference totals as
    fixed; ``fit.mean(y)`` adds the reference's own sampling error (the reference design's
    variance of the weighted mean of the fitted values ``x'B``), with either design.

    References
    ----------
    Imai, K. and Ratkovic, M. (2014). Covariate balancing propensity score. *JRSS B* 76,
    243-263. Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling
    weights. *Proc. Survey Research Methods Section, ASA*, 225-230. Lee, B. K., Lessler, J. and
    Stuart, E. A. (2011). Weight trimming and propensity score weighting. *PLoS ONE* 6, e18174. Hainmueller, J. (2012). Entropy balancing for causal effects. *Political Analysis*
    20, 25-46. Zhao, Q. and Percival, D. (2017). Entropy balancing is doubly robust. *J. Causal
    Inference* 5. Sarig, T., Galili, T. and Eilat, R. (2023). balance - a Python package for
    balancing biased data samples. arXiv:2307.06024.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from estimators import adjust_to_reference
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"sex": rng.choice(["f", "m"], 400), "age": rng.uniform(18, 80, 400)})
    >>> smp = pd.DataFrame({"sex": rng.choice(["f", "m"], 300, p=[0.7, 0.3]),
    ...                     "age": rng.uniform(18, 60, 300)})
    >>> fit = adjust_to_reference(smp, ref, covariates=["sex", "age"], method="entropy")
    >>> round(float(fit.weights.sum()), 6), round(fit.balance().mean_asmd, 8)
    (400.0, 0.0)
    """
    method = check_option(method, ("ipw", "cbps", "entropy", "rake", "poststratify"), "method")
    cv_rule = check_option(cv_rule, ("min", "1se"), "cv_rule")
    moments = check_option(moments, (1, 2), "moments")
    cv_folds = as_int(cv_folds, "cv_folds", minimum=2)
    if bins == "auto":
        bins = DEFAULT_BINS.get(method)
    elif bins is not None:
        bins = as_int(bins, "bins", minimum=2)
    if isinstance(penalty, str):
        check_option(penalty, ("cv",), "penalty")
    else:
        penalty = check_positive(penalty, "penalty", allow_zero=True)
    if max_weight_ratio is not None:
        max_weight_ratio = check_positive(max_weight_ratio, "max_weight_ratio")
        if not max_weight_ratio > 1:
            fail(ValidationError, "max_weight_ratio", "must be above 1 (the mean weight itself)",
                 bad=[max_weight_ratio], fix="Use a number above 1, or None for no cap.")
    if method not in ("ipw", "cbps") and max_weight_ratio != DEFAULT_MAX_WEIGHT_RATIO:
        fail(ValidationError, "max_weight_ratio",
             f"is used only by method='ipw' and 'cbps', so with method={method!r} it would be "
             "ignored", bad=[max_weight_ratio],
             fix="Drop max_weight_ratio=, or use trim= to trim these weights.")
    generator = as_rng(rng)
    source = resolve_input(sample, weights, "sample")
    ref = resolve_input(reference, reference_weights, "reference")
    d = np.asarray(source.base_weights, dtype=np.float64)
    t = np.asarray(ref.base_weights, dtype=np.float64)
    if not (t > 0).any():
        fail(ValidationError, "reference_weights", "must have at least one positive weight",
             bad=[0.0])
    if not (d > 0).any():
        fail(ValidationError, "weights", "must have at least one positive weight", bad=[0.0])
    use_bins = bins if method not in ("rake", "poststratify") else (bins or DEFAULT_BINS[method])
    specs = prepare_covariates(source.frame, ref.frame, covariates, bins=use_bins)
    ref_total = float(t.sum())

    def balance_factory(w: np.ndarray) -> BalanceResult:
        return covariate_balance(source.frame if source.design is None else source.design,
                                 ref.frame, covariates=[s.name for s in specs], weights=w,
                                 reference_weights=t)

    def reference_design() -> Any:
        from estimators.survey._design import SurveyDesign

        return ref.design if ref.design is not None else SurveyDesign(ref.frame, weights=t)

    common: dict[str, Any] = {"covariates": tuple(s.name for s in specs),
                              "balance_factory": balance_factory}
    if method in ("rake", "poststratify"):
        common["reference_parts"] = (*_cell_matrices(method, source.frame, ref.frame, specs),
                                     reference_design)
        result = _by_cells(method, source, specs, t, ref, d, ref_total, common)
    else:
        xs, labels = design_matrix(source.frame, specs)
        xr, _ = design_matrix(ref.frame, specs)
        _check_spread(specs, labels, xs, xr)
        if method == "entropy" and moments == 2:
            xs, xr = _with_second_moments(xs, xr, labels, t)
        common["reference_parts"] = (np.column_stack([np.ones(len(xs)), xs]),
                                     np.column_stack([np.ones(len(xr)), xr]), reference_design)
        if method == "entropy":
            result = _entropy(source, xs, xr, t, d, common)
        else:
            result = _propensity(
                method, source, xs, xr, labels, d, t,
                penalty=penalty, penalties=penalties, cv_folds=cv_folds, cv_rule=cv_rule,
                equal_class_totals=equal_class_totals, over_identified=over_identified,
                max_weight_ratio=max_weight_ratio, rng=generator, common=common,
            )
    if trim is not None:
        result = _trimmed(result, trim, source, common)
    return result


def _trimmed(result: ReferenceWeightingResult, options: dict[str, Any],
             source: WeightingInput, common: dict[str, Any]) -> ReferenceWeightingResult:
    from estimators.weighting._trimming import trim as trim_fit

    if not isinstance(options, dict):
        fail(ValidationError, "trim", "must be a dict of trim() options",
             bad=[type(options).__name__], fix="E.g. trim={'upper': 20, "
             "'bound_type': 'mean_multiple'}.")
    trimmed = trim_fit(result, **options)
    extra = {k: getattr(result, k) for k in ("penalty", "cv_table", "coefficients")}
    return _rewrap(trimmed, source, "trim", base_weights=result.weights.to_numpy(),
                   base_design=lambda: result.design, **common, **extra)


def _propensity(
    method: str,
    source: WeightingInput,
    xs: np.ndarray,
    xr: np.ndarray,
    labels: list[tuple[str, str]],
    d: np.ndarray,
    t: np.ndarray,
    *,
    penalty: float | str,
    penalties: Any,
    cv_folds: int,
    cv_rule: str,
    equal_class_totals: bool,
    over_identified: bool,
    max_weight_ratio: float | None,
    rng: np.random.Generator,
    common: dict[str, Any],
) -> ReferenceWeightingResult:
    def class_weights(base: np.ndarray) -> np.ndarray:
        """Fitting weights of the reference rows (scaled to the sample's total if asked)."""
        return t * (base.sum() / t.sum()) if equal_class_totals else t

    sr = class_weights(d)
    zs, zr, _, _ = standardize(xs, xr, d, sr)
    cv_table = None
    chosen: float | None = None
    if method == "ipw":
        if penalty == "cv":
            grid = DEFAULT_PENALTIES if penalties is None else np.asarray(penalties, dtype=float)
            if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or (grid < 0).any():
                fail(ValidationError, "penalties", "must be a non-empty list of numbers >= 0",
                     bad=[penalties])
            chosen, cv_table = cross_validate_penalty(zs, zr, d, sr, penalties=grid,
                                                      n_folds=cv_folds, rule=cv_rule, rng=rng)
        else:
            chosen = float(penalty)
        lam = float(chosen)

        def fit_beta(base: np.ndarray, start: np.ndarray | None = None) -> FitOutcome:
            return logistic_fit(zs, zr, base, class_weights(base), penalty=lam, start=start,
                                check_separation=True)
    else:
        ml = logistic_fit(zs, zr, d, sr, penalty=0.0, check_separation=False)

        def fit_beta(base: np.ndarray, start: np.ndarray | None = None) -> FitOutcome:
            init = ml.beta if start is None else start
            return cbps_fit(zs, zr, base, class_weights(base), over_identified=over_identified,
                            start=init)

    outcome = fit_beta(d)
    beta = outcome.beta
    eta_s, eta_r = zs[d > 0] @ beta, zr[t > 0] @ beta
    if eta_r.max() < eta_s.min():
        warnings.warn(
            "adjust_to_reference: the fitted membership scores of the sample and the reference do "
            "not overlap (the covariates separate them), so the weights extrapolate; check "
            "covariate_balance and consider coarser covariates.",
            DataWarning,
            stacklevel=3,
        )

    def to_weights(base: np.ndarray, b: np.ndarray) -> np.ndarray:
        odds = np.exp(-np.clip(zs @ b, -700, 700))
        if max_weight_ratio is not None:
            odds = cap_weights(odds, max_weight_ratio, base)
        w = base * odds
        total = w.sum()
        return w * (t.sum() / total) if total > 0 else w

    w = to_weights(d, beta)
    if not np.all(np.isfinite(w)):
        fail(ValidationError, "covariates", "the membership model gives non-finite weights",
             bad=["inf"], fix="Use a penalty or fewer covariates.")
    target = t @ np.column_stack([np.ones(len(xr)), xr])
    error = _totals_error(w, np.column_stack([np.ones(len(xs)), xs]), target)
    model_matrix = np.column_stack([np.ones(len(xs)), xs])

    def reweight(base: np.ndarray) -> np.ndarray:
        arr = np.asarray(base, dtype=np.float64)
        one = arr.ndim == 1
        arr = arr[:, None] if one else arr
        out = np.empty_like(arr)
        for r in range(arr.shape[1]):
            col = arr[:, r]
            out[:, r] = to_weights(col, fit_beta(col, beta).beta)
        return out[:, 0] if one else out

    options = {"penalty": chosen, "equal_class_totals": equal_class_totals,
               "max_weight_ratio": max_weight_ratio,
               "over_identified": over_identified if method == "cbps" else None,
               "columns": [f"{c}={lv}" if lv else c for c, lv in labels]}

    def make_step() -> WeightingStep:
        return WeightingStep(
            method=method,
            base_weights=d, weights=w, model_matrix=model_matrix, reweight=reweight,
            options=options,
        )

    index = source.frame.index
    names = ["(intercept)"] + [f"{c}={lv}" if lv else c for c, lv in labels]
    trace = pd.DataFrame({"max_relative_total_error": [error]})
    trace.index.name = "iteration"
    return ReferenceWeightingResult(
        weights=pd.Series(w, index=index, name="weight"),
        base_weights=pd.Series(d, index=index, name="base_weight"),
        method=method,
        converged=outcome.converged,
        n_iter=outcome.n_iter,
        max_margin_error=error,
        trace=trace,
        step_factory=make_step,
        base_design=source.make_design,
        tol=0.0,
        penalty=chosen,
        cv_table=cv_table,
        coefficients=pd.Series(beta, index=names, name="coefficient"),
        **common,
    )


def _with_second_moments(
    xs: np.ndarray, xr: np.ndarray, labels: list[tuple[str, str]], t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add ``(x - mean_R)^2`` columns for the numeric covariates (variances about the reference
    mean)."""
    numeric = [j for j, (_, lv) in enumerate(labels) if lv == ""]
    if not numeric:
        return xs, xr
    mean_r = (t @ xr[:, numeric]) / t.sum()
    return (np.hstack([xs, (xs[:, numeric] - mean_r) ** 2]),
            np.hstack([xr, (xr[:, numeric] - mean_r) ** 2]))


def _cell_matrices(
    method: str, sample: pd.DataFrame, reference: pd.DataFrame, specs: list[CovariateSpec]
) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrices (sample, reference) of the levels raked on, or of the joint cells."""
    if method == "rake":
        xs = np.hstack([level_indicators(sample[s.name], s) for s in specs])
        xr = np.hstack([level_indicators(reference[s.name], s) for s in specs])
        return xs, xr
    cs = np.column_stack([level_codes(sample[s.name], s) for s in specs])
    cr = np.column_stack([level_codes(reference[s.name], s) for s in specs])
    cells, inverse = np.unique(np.vstack([cs, cr]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    onehot = np.zeros((len(inverse), len(cells)))
    onehot[np.arange(len(inverse)), inverse] = 1.0
    return onehot[: len(cs)], onehot[len(cs):]


def _entropy(
    source: WeightingInput,
    xs_all: np.ndarray,
    xr_all: np.ndarray,
    t: np.ndarray,
    d: np.ndarray,
    common: dict[str, Any],
) -> ReferenceWeightingResult:
    from estimators.weighting._calibration import calibrate

    names = [f"x{j}" for j in range(xs_all.shape[1])]
    frame = pd.DataFrame(xs_all, columns=names)
    frame["(one)"] = 1.0
    totals = dict(zip(names, (t @ xr_all).tolist()))
    totals["(one)"] = float(t.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        try:
            inner = calibrate(frame, totals, method="raking", weights=d, max_iter=200)
        except (InfeasibleError, ConvergenceError) as exc:
            fail(
                InfeasibleError,
                "method",
                "entropy balancing cannot reproduce the reference's means: the reference lies "
                "outside what positive weights on the sample can reach "
                f"({str(exc).split(';')[0]})",
                bad=["entropy"],
                fix="Use fewer or coarser covariates (bins=...), or method='ipw' with a penalty.",
            )
    return _rewrap(inner, source, "entropy", **common)


def _by_cells(
    method: str,
    source: WeightingInput,
    specs: list[CovariateSpec],
    t: np.ndarray,
    ref: WeightingInput,
    d: np.ndarray,
    ref_total: float,
    common: dict[str, Any],
) -> ReferenceWeightingResult:
    from estimators.weighting._poststratification import poststratify
    from estimators.weighting._raking import rake

    names = [str(s.name) for s in specs]
    def labelled(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {n: np.asarray(s.level_labels, dtype=object)[level_codes(frame[s.name], s)]
                for n, s in zip(names, specs)}

    frame = pd.DataFrame(labelled(source.frame))
    rcodes = labelled(ref.frame)
    if method == "rake":
        margins = {}
        for n, s in zip(names, specs):
            totals = pd.Series(t).groupby(rcodes[n]).sum()
            margins[n] = {lv: float(totals[lv]) for lv in s.level_labels}
        inner = rake(frame, margins, weights=d)
    else:
        rframe = pd.DataFrame(rcodes)
        rframe["count"] = t
        population = rframe.groupby(names, sort=True)["count"].sum().reset_index()
        sample_cells = set(map(tuple, frame[names].drop_duplicates().to_numpy().tolist()))
        ref_cells = set(map(tuple, population[names].to_numpy().tolist()))
        missing = sample_cells - ref_cells
        if missing:
            fail(ValidationError, "covariates",
                 "some cells of the sample never occur in the reference",
                 bad=[", ".join(map(str, c)) for c in sorted(missing)],
                 fix="Use fewer covariates or bins, or method='rake'.")
        empty = ref_cells - sample_cells
        if empty:
            fail(ValidationError, "covariates",
                 "some cells of the reference have no sample rows (post-stratification cannot "
                 "represent them)",
                 bad=[", ".join(map(str, c)) for c in sorted(empty)],
                 fix="Use fewer covariates or bins, or method='rake'.")
        inner = poststratify(frame, population, cells=names, weights=d)
    del ref_total
    return _rewrap(inner, source, method, **common)

