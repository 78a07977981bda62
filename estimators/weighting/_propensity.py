"""Membership models of sample vs reference: logistic (ML, ridge, cross-validated) and CBPS.

Kernels only: they take the model matrices of the sample rows ``xs`` and of the reference rows
``xr`` (first column the intercept, the others standardised), the fitting weights of each side,
and return coefficients. ``p`` is always P(sample | x); the sample weights are
``d (1 - p) / p = d exp(-x'beta)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from estimators._lib.validation import fail
from estimators.errors import ConvergenceError, InfeasibleError

__all__ = [
    "FitOutcome",
    "cap_weights",
    "cbps_fit",
    "cross_validate_penalty",
    "logistic_fit",
    "standardize",
]

#: fitted sample probabilities this close to 0 or 1 mean the two samples are separated
SEPARATION_EPS = 1e-10


@dataclass(frozen=True)
class FitOutcome:
    """Coefficients on the standardised columns, iterations and whether the solver converged."""

    beta: np.ndarray
    n_iter: int
    converged: bool


def standardize(
    xs: np.ndarray, xr: np.ndarray, ws: np.ndarray, wr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre and scale the columns by their pooled weighted mean and sd; add an intercept.

    Returns the two matrices with the intercept first, and the centres and scales (so that the
    same transformation can be applied again). Columns with zero spread are refused by the caller
    before this point.
    """
    total = ws.sum() + wr.sum()
    centre = (ws @ xs + wr @ xr) / total
    var = (ws @ (xs - centre) ** 2 + wr @ (xr - centre) ** 2) / total
    scale = np.sqrt(var)
    scale = np.where(scale > 0, scale, 1.0)
    zs = np.column_stack([np.ones(len(xs)), (xs - centre) / scale])
    zr = np.column_stack([np.ones(len(xr)), (xr - centre) / scale])
    return zs, zr, centre, scale


def _stack(zs: np.ndarray, zr: np.ndarray, ss: np.ndarray, sr: np.ndarray):
    x = np.vstack([zs, zr])
    y = np.concatenate([np.ones(len(zs)), np.zeros(len(zr))])
    s = np.concatenate([ss, sr])
    return x, y, s


def logistic_fit(
    zs: np.ndarray,
    zr: np.ndarray,
    ss: np.ndarray,
    sr: np.ndarray,
    *,
    penalty: float,
    start: np.ndarray | None = None,
    check_separation: bool = True,
) -> FitOutcome:
    """Weighted logistic regression of membership (1 = sample) with a ridge penalty.

    Minimises ``(1 / sum s) sum_i s_i loss_i(beta) + (penalty / 2) sum_{j >= 1} beta_j^2`` (the
    intercept is not penalised). ``penalty == 0``: statsmodels' GLM (IRLS); otherwise the GLM's
    log-likelihood, score and Hessian (statsmodels) minimised with scipy's trust-region Newton
    method to a gradient of 1e-10 (the same objective as ``fit_regularized(L1_wt=0)``, whose
    BFGS stops too early for weights accurate to 1e-6).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    x, y, s = _stack(zs, zr, ss, sr)
    keep = s > 0
    if not keep.all():
        x, y, s = x[keep], y[keep], s[keep]
    model = sm.GLM(y, x, family=sm.families.Binomial(), freq_weights=s / s.mean())
    if penalty == 0:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(start_params=start, tol=1e-13, maxiter=100)
            except Exception as exc:  # statsmodels raises on a singular or separated fit
                _separated(str(exc))
        separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
        beta = np.asarray(res.params, dtype=np.float64)
        eta = x @ beta
        if check_separation and (separated or _extreme(eta)):
            _separated("fitted membership probabilities reach 0 or 1")
        converged = bool(getattr(res, "converged", True))
        return FitOutcome(beta, int(getattr(res, "fit_history", {}).get("iteration", 0)), converged)
    lam = np.full(x.shape[1], float(penalty))
    lam[0] = 0.0
    nobs = float(len(y))

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        value = -model.loglike(beta, scale=1.0) / nobs + 0.5 * float(lam @ beta**2)
        grad = -model.score(beta, scale=1.0) / nobs + lam * beta
        return value, grad

    def hessian(beta: np.ndarray) -> np.ndarray:
        return -model.hessian(beta, scale=1.0) / nobs + np.diag(lam)

    init = np.zeros(x.shape[1]) if start is None else start
    res = optimize.minimize(objective, init, jac=True, hess=hessian, method="trust-exact",
                            options={"gtol": 1e-10, "maxiter": 200})
    beta = np.asarray(res.x, dtype=np.float64)
    return FitOutcome(beta, int(res.nit), bool(res.success))


def _extreme(eta: np.ndarray) -> bool:
    lim = np.log((1 - SEPARATION_EPS) / SEPARATION_EPS)
    return bool((np.abs(eta) > lim).any())


def _separated(detail: str) -> None:
    fail(
        InfeasibleError,
        "penalty",
        "the maximum-likelihood membership model does not exist: the covariates separate the "
        f"sample from the reference ({detail})",
        bad=[0],
        fix="Use a penalised fit (penalty='cv' or a number > 0), or merge the levels that only "
        "one sample has.",
    )


def cross_validate_penalty(
    zs: np.ndarray,
    zr: np.ndarray,
    ss: np.ndarray,
    sr: np.ndarray,
    *,
    penalties: np.ndarray,
    n_folds: int,
    rule: str,
    rng: np.random.Generator,
) -> tuple[float, pd.DataFrame]:
    """Choose the ridge penalty by K-fold cross-validated weighted deviance.

    Rows of both samples are dealt to folds by a random permutation (``rng``). For each penalty
    (largest first, warm-started) the model is fitted without each fold and the weighted mean
    deviance ``-2 sum s_i log L_i / sum s_i`` of the held-out fold recorded. ``rule="min"`` picks
    the penalty with the smallest mean; ``"1se"`` the largest penalty whose mean is within one
    standard error (sd over folds / sqrt(K)) of the smallest (glmnet's ``lambda.1se``).
    """
    x, y, s = _stack(zs, zr, ss, sr)
    n = len(y)
    folds = np.resize(np.arange(n_folds), n)[rng.permutation(n)]
    penalties = np.sort(np.asarray(penalties, dtype=np.float64))[::-1]
    dev = np.zeros((len(penalties), n_folds))
    for k in range(n_folds):
        train, test = folds != k, folds == k
        tr_s, tr_r = train[: len(zs)], train[len(zs):]
        start = None
        for j, lam in enumerate(penalties):
            fit = logistic_fit(zs[tr_s], zr[tr_r], ss[tr_s], sr[tr_r], penalty=float(lam),
                               start=start)
            start = fit.beta
            eta = x[test] @ fit.beta
            # -log L = log(1 + exp(eta)) - y eta, computed stably
            loss = np.logaddexp(0.0, eta) - y[test] * eta
            dev[j, k] = 2.0 * float(s[test] @ loss) / float(s[test].sum())
    mean = dev.mean(axis=1)
    se = dev.std(axis=1, ddof=1) / np.sqrt(n_folds)
    best = int(np.argmin(mean))
    if rule == "min":
        chosen = best
    else:
        ok = np.flatnonzero(mean <= mean[best] + se[best])
        chosen = int(ok.min())  # penalties are sorted largest first
    table = pd.DataFrame({"penalty": penalties, "cv_deviance": mean, "cv_std_error": se,
                          "chosen": np.arange(len(penalties)) == chosen})
    return float(penalties[chosen]), table


def cap_weights(factors: np.ndarray, ratio: float, base: np.ndarray | None = None) -> np.ndarray:
    """Cap adjustment factors at ``ratio`` times their base-weighted mean.

    Finds the cap ``c`` with ``c = ratio * sum_i d_i min(f_i, c) / sum_i d_i`` (the mean of the
    capped factors themselves, so the rule holds after capping) and returns ``min(f_i, c)``.
    With equal base weights ``d`` this caps the weights ``d_i f_i`` at ``ratio`` times their mean.
    Factors already within the cap are returned unchanged; rows with ``d_i = 0`` do not count.
    ``ratio`` must exceed 1.
    """
    f = np.asarray(factors, dtype=np.float64)
    d = np.ones_like(f) if base is None else np.asarray(base, dtype=np.float64)
    used = d > 0
    d_total = float(d[used].sum())
    if d_total <= 0 or f[used].max() <= ratio * float(d[used] @ f[used]) / d_total:
        return f
    order = np.argsort(-f[used], kind="stable")
    fs, ds = f[used][order], d[used][order]
    # with the m largest factors at c: c = ratio * (c D_m + rest_m) / D, D_m their base weight,
    # rest_m the base-weighted sum of the others  =>  c = ratio * rest_m / (D - ratio D_m)
    top = np.concatenate([[0.0], np.cumsum(ds)])
    rest = float(ds @ fs) - np.concatenate([[0.0], np.cumsum(ds * fs)])
    m = np.arange(1, len(fs))
    room = d_total - ratio * top[m]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(room > 0, ratio * rest[m] / room, np.inf)
    ok = np.flatnonzero((fs[m] <= c) & (c <= fs[m - 1]))
    cap = c[ok[0]] if ok.size else fs[0]
    return np.minimum(f, cap)


def cbps_fit(
    zs: np.ndarray,
    zr: np.ndarray,
    ss: np.ndarray,
    sr: np.ndarray,
    *,
    over_identified: bool,
    start: np.ndarray,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> FitOutcome:
    """Covariate-balancing propensity score (Imai and Ratkovic 2014) for reweighting to a reference.

    With ``p = expit(z'beta)`` = P(sample | z), the balance moments are
    ``m(beta) = (sum_S s_i exp(-z_i'beta) z_i - sum_R s_j z_j) / sum s``: the sample weighted by
    the odds of the reference matches the reference on every column of ``z`` (intercept
    included). Just identified: solve ``m(beta) = 0`` (Newton steps on the convex dual
    ``sum_S s_i exp(-z_i'beta) + beta' sum_R s_j z_j``). Over-identified: two-step GMM on the
    balance moments stacked with the logistic score ``sum_i s_i (y_i - p_i) z_i / sum s``, the
    weighting matrix being the inverse covariance of the per-row moment contributions at the
    just-identified solution; minimised with BFGS from that solution and from ``start`` (the
    maximum-likelihood fit), keeping the lower objective.
    """
    total = ss.sum() + sr.sum()
    target = sr @ zr

    def dual(beta: np.ndarray) -> tuple[float, np.ndarray]:
        e = ss * np.exp(-np.clip(zs @ beta, -700, 700))
        value = float(e.sum() + beta @ target) / total
        grad = (target - zs.T @ e) / total
        return value, grad

    def hess(beta: np.ndarray) -> np.ndarray:
        e = ss * np.exp(-np.clip(zs @ beta, -700, 700))
        return (zs.T * e) @ zs / total

    res = optimize.minimize(dual, start, jac=True, hess=hess, method="trust-exact",
                            options={"gtol": tol, "maxiter": max_iter})
    just = np.asarray(res.x, dtype=np.float64)
    grad_norm = float(np.max(np.abs(dual(just)[1])))
    if grad_norm > 1e-6:
        raise ConvergenceError(
            f"cbps: the balance equations were not solved (largest moment {grad_norm:.3g}); the "
            "reference may be outside the sample's covariate range. Use method='ipw' with a penalty."
        )
    if not over_identified:
        return FitOutcome(just, int(res.nit), grad_norm <= 1e-8)
    x, y, s = _stack(zs, zr, ss, sr)

    def contributions(beta: np.ndarray) -> np.ndarray:
        eta = x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        score = (s * (y - p))[:, None] * x
        bal = np.where(y == 1, s * np.exp(-np.clip(eta, -700, 700)), -s)[:, None] * x
        return np.hstack([score, bal])

    g0 = contributions(just)
    weight = np.linalg.pinv(g0.T @ g0)  # inverse covariance of the moment sums (scale-free)

    def objective(beta: np.ndarray) -> float:
        gbar = contributions(beta).sum(axis=0) / total
        return float(gbar @ weight @ gbar)

    best = None
    for init in (just, start):
        out = optimize.minimize(objective, init, method="BFGS", options={"gtol": 1e-9,
                                                                          "maxiter": 500})
        if best is None or out.fun < best.fun:
            best = out
    return FitOutcome(np.asarray(best.x, dtype=np.float64), int(best.nit), bool(best.success))
