"""The profile-likelihood interval of R ``svyciprop(method = "likelihood")``, step by step.

R fits ``svyglm(y ~ 1, family = quasibinomial)``, profiles its deviance on a grid (``MASS``'s
``profile.glm``: steps of ``zmax / 5`` standard errors, at most 9 each way), interpolates the
signed root deviance with an FMM cubic spline (R ``spline``) and reads the interval off it
(R ``approx``), at a level widened by the design effect of the slope. This module reproduces those
steps on arrays.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["profile_interval"]

_MAX_STEPS = 10


def _fmm_coefficients(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forsythe, Malcolm and Moler's cubic spline (R ``spline(method = "fmm")``): b, c, d."""
    n = len(x)
    b = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    if n < 3:
        t = (y[1] - y[0]) / (x[1] - x[0])
        b[:] = t
        return b, c, d
    nm1 = n - 1
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, nm1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0] = -d[0]
    b[nm1] = -d[n - 2]
    c[0] = c[nm1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[nm1] = c[nm1] / b[nm1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[nm1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1])
    for i in range(nm1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[nm1] = 3.0 * c[nm1]
    d[nm1] = d[n - 2]
    return b, c, d


def _spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``spline(x, y)``: the FMM spline at ``3 n`` equally spaced points over ``range(x)``."""
    b, c, d = _fmm_coefficients(x, y)
    m = 3 * len(x)
    by = (x[-1] - x[0]) / (m - 1)
    u = x[0] + np.arange(m) * by
    u[-1] = x[-1]
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, len(x) - 1)
    dx = u - x[i]
    return u, y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _glm_intercept(y: np.ndarray, prior: np.ndarray) -> tuple[float, float]:
    """R ``glm.fit`` of a logistic intercept (IRLS, deviance tolerance 1e-8): the coefficient and
    the unscaled variance R reports, which uses the working weights of the last iteration."""
    mu = (prior * y + 0.5) / (prior + 1)
    eta = np.log(mu / (1 - mu))

    def deviance(m: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(y > 0, y * np.log(y / m), 0.0) + np.where(
                y < 1, (1 - y) * np.log((1 - y) / (1 - m)), 0.0)
        return float(2 * np.sum(prior * term))

    dev_old = deviance(mu)
    beta, unscaled = float(eta.mean()), np.nan
    for _ in range(25):
        mu_eta = np.maximum(np.exp(-np.abs(eta)) / (1 + np.exp(-np.abs(eta))) ** 2,
                            np.finfo(float).eps)
        good = (prior > 0) & (mu_eta != 0)
        z = eta[good] + (y - mu)[good] / mu_eta[good]
        working = prior[good] * mu_eta[good] ** 2 / (mu * (1 - mu))[good]
        beta = float(np.sum(working * z) / np.sum(working))
        unscaled = 1.0 / float(np.sum(working))
        eta = np.full(len(y), beta)
        mu = special.expit(eta)
        dev = deviance(mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            break
        dev_old = dev
    return beta, unscaled


def profile_interval(
    y: np.ndarray,
    w: np.ndarray,
    p: float,
    se_p: float,
    dispersion: float,
    df: float,
    level: float,
) -> tuple[float, float]:
    """R's likelihood interval for a proportion ``p`` from 0/1 ``y`` with design weights ``w``.

    ``se_p`` is the design-based SE of ``p``; ``dispersion`` the design-weighted variance of the
    Pearson residuals (R ``summary.svyglm``); ``df`` the degrees of freedom.
    """
    from scipy import stats  # loaded only when an interval needs it

    prior = w / w.mean()
    beta0, naive = _glm_intercept(y, prior)
    se_beta = se_p / (p * (1 - p))
    lam = se_beta**2 / naive
    quantile = stats.norm.ppf((1 - level) / 2) if not np.isfinite(df) else stats.t.ppf(
        (1 - level) / 2, df)
    alpha = stats.norm.cdf(quantile * np.sqrt(lam)) / 2
    zmax = np.sqrt(stats.f.isf(alpha, 1, len(y) - 1))
    step_size = zmax / 5

    def deviance(beta: float) -> float:
        log_mu = -np.logaddexp(0.0, -beta)
        log_rest = -np.logaddexp(0.0, beta)
        return float(-2.0 * np.sum(prior * (y * log_mu + (1 - y) * log_rest)))

    dev0 = deviance(beta0)
    zs, betas = [0.0], [beta0]
    for sign in (-1.0, 1.0):
        step, z = 0, 0.0
        while (step := step + 1) < _MAX_STEPS and abs(z) < zmax:
            b = beta0 + sign * step * step_size * se_beta
            zz = max((deviance(b) - dev0) / dispersion, 0.0)
            z = sign * np.sqrt(zz)
            zs.append(z)
            betas.append(b)
    order = np.argsort(zs, kind="stable")
    z_sorted = np.asarray(zs)[order]
    b_sorted = np.asarray(betas)[order]
    u, v = _spline(b_sorted, z_sorted)
    cutoff = np.array([stats.norm.ppf(2 * alpha), stats.norm.isf(2 * alpha)])
    inverse = np.argsort(v, kind="stable")
    ends = np.interp(cutoff, v[inverse], u[inverse], left=np.nan, right=np.nan)
    lower, upper = special.expit(ends)
    return float(lower), float(upper)
