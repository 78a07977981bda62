"""Newton solvers for Bradley–Terry (pairwise) and Luce / Plackett–Luce (choice-set) models.

Both log-likelihoods are concave in the log-strengths ``theta``; they are invariant to adding a
constant, so Newton steps are taken in the sum-zero subspace (``H + 11'/m`` is invertible there
and its solution of ``H d = g`` with ``1'g = 0`` keeps ``1'd = 0``). An optional ridge penalty
``alpha * ||theta||^2`` (the convention of ``choix``'s ``opt_*`` functions) makes the optimum
finite when the comparison graph is not strongly connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["Fit", "fit_choices", "fit_pairwise", "fit_pairwise_batch", "strongly_connected"]


@dataclass(frozen=True)
class Fit:
    theta: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool
    gradient_norm: float


def strongly_connected(beats: np.ndarray) -> bool:
    """``beats[i, j] > 0`` when ``i`` beat ``j`` at least once (ties count both ways)."""
    m = beats.shape[0]
    if m <= 1:
        return True
    n_comp, _ = connected_components(csr_matrix(beats > 0), directed=True, connection="strong")
    return bool(n_comp == 1)


def _newton(m, value_grad_hess, alpha, tol, max_iter, scale, theta0=None) -> Fit:
    theta = np.zeros(m) if theta0 is None else np.array(theta0, dtype=np.float64)
    ones = np.full((m, m), 1.0 / m)
    f, g, h = value_grad_hess(theta)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        # penalised objective (to maximise): f - alpha ||theta||^2
        grad = g - 2.0 * alpha * theta
        hess = h + 2.0 * alpha * np.eye(m)  # h is the negative Hessian of f
        if np.max(np.abs(grad)) <= tol * scale:
            converged = True
            break
        step = np.linalg.solve(hess + ones if alpha == 0 else hess, grad)
        obj = f - alpha * theta @ theta
        t = 1.0
        while True:
            cand = theta + t * step
            cand = cand - cand.mean() if alpha == 0 else cand
            f_new, g_new, h_new = value_grad_hess(cand)
            if f_new - alpha * cand @ cand >= obj - 1e-12 * abs(obj) or t < 1e-10:
                break
            t *= 0.5
        theta, f, g, h = cand, f_new, g_new, h_new
    else:
        grad = g - 2.0 * alpha * theta
        converged = bool(np.max(np.abs(grad)) <= tol * scale)
    hess = h + 2.0 * alpha * np.eye(m)
    center = np.eye(m) - ones
    if m == 1:
        cov = np.zeros((1, 1))
    elif alpha == 0:
        cov = center @ np.linalg.pinv(hess + ones) @ center
    else:
        cov = np.linalg.pinv(hess)
    grad = g - 2.0 * alpha * theta
    return Fit(theta, cov, float(f), n_iter, converged, float(np.max(np.abs(grad))))


def fit_pairwise(
    wins: np.ndarray, *, alpha: float, tol: float, max_iter: int, theta0: np.ndarray | None = None
) -> Fit:
    """Maximise ``sum_ij wins[i, j] * log sigmoid(theta_i - theta_j)`` (minus the penalty)."""
    m = wins.shape[0]
    totals = wins + wins.T
    won = wins.sum(axis=1)

    def value_grad_hess(theta):
        diff = theta[:, None] - theta[None, :]
        log_p = -np.logaddexp(0.0, -diff)  # log sigmoid(diff)
        f = float(np.sum(wins * log_p))
        p = np.exp(log_p)
        g = won - np.sum(totals * p, axis=1)
        q = totals * p * (1.0 - p)
        np.fill_diagonal(q, 0.0)
        h = np.diag(q.sum(axis=1)) - q  # negative Hessian (a weighted Laplacian)
        return f, g, h

    scale = max(float(wins.sum()), 1.0)
    return _newton(m, value_grad_hess, alpha, tol, max_iter, scale, theta0)


def fit_choices(
    sets: np.ndarray,
    mask: np.ndarray,
    chosen: np.ndarray,
    weights: np.ndarray,
    m: int,
    *,
    alpha: float,
    tol: float,
    max_iter: int,
    theta0: np.ndarray | None = None,
) -> Fit:
    """Luce choice model: ``sum_e w_e (theta_{c_e} - log sum_{s in S_e} exp theta_s)``.

    ``sets`` is an (E, K) matrix of option codes padded where ``mask`` is False; ``chosen`` holds
    the chosen option codes.
    """
    safe = np.where(mask, sets, 0)
    chosen_count = np.bincount(chosen, weights=weights, minlength=m)
    flat_pairs = (safe[:, :, None] * m + safe[:, None, :])
    pair_mask = mask[:, :, None] & mask[:, None, :]
    flat_pairs = flat_pairs[pair_mask]

    def value_grad_hess(theta):
        t = np.where(mask, theta[safe], -np.inf)
        top = t.max(axis=1, keepdims=True)
        e = np.where(mask, np.exp(t - top), 0.0)
        denom = e.sum(axis=1, keepdims=True)
        p = e / denom
        log_norm = (top + np.log(denom))[:, 0]
        f = float(np.dot(weights, theta[chosen] - log_norm))
        wp = weights[:, None] * p
        g = chosen_count - np.bincount(safe[mask], weights=wp[mask], minlength=m)
        outer = (wp[:, :, None] * p[:, None, :])[pair_mask]
        h = -np.bincount(flat_pairs, weights=outer, minlength=m * m).reshape(m, m)
        h[np.diag_indices(m)] += np.bincount(safe[mask], weights=wp[mask], minlength=m)
        return f, g, h

    scale = max(float(weights.sum()), 1.0)
    return _newton(m, value_grad_hess, alpha, tol, max_iter, scale, theta0)


def fit_pairwise_batch(
    wins: np.ndarray, theta0: np.ndarray, *, alpha: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method on many win matrices at once (replicates), warm-started at ``theta0``.

    ``wins`` has shape (R, m, m); returns the (R, m) estimates and a boolean (R,) array telling
    which fits met the gradient tolerance. Each fit takes the same damped Newton steps as
    :func:`fit_pairwise` (step halving until the penalised log-likelihood does not decrease).
    """
    R, m, _ = wins.shape
    totals = wins + np.swapaxes(wins, 1, 2)
    won = wins.sum(axis=2)
    scale = np.maximum(wins.sum(axis=(1, 2)), 1.0)
    ones = np.full((m, m), 1.0 / m)

    def parts(theta, rows):
        diff = theta[:, :, None] - theta[:, None, :]
        log_p = -np.logaddexp(0.0, -diff)
        f = np.einsum("rij,rij->r", wins[rows], log_p) - alpha * np.einsum("ri,ri->r", theta, theta)
        p = np.exp(log_p)
        g = won[rows] - np.einsum("rij,rij->ri", totals[rows], p) - 2.0 * alpha * theta
        return f, g, p

    theta = np.broadcast_to(np.asarray(theta0, dtype=np.float64), (R, m)).copy()
    every = np.arange(R)
    f, g, p = parts(theta, every)
    done = np.max(np.abs(g), axis=1) <= tol * scale
    for _ in range(max_iter):
        active = np.flatnonzero(~done)
        if active.size == 0:
            break
        q = totals[active] * p[active] * (1.0 - p[active])
        q[:, np.arange(m), np.arange(m)] = 0.0
        hess = -q
        hess[:, np.arange(m), np.arange(m)] += q.sum(axis=2) + 2.0 * alpha
        if alpha == 0:
            hess += ones
        step = np.linalg.solve(hess, g[active][:, :, None])[:, :, 0]
        t = np.ones(active.size)
        pending = np.arange(active.size)
        while pending.size:
            rows = active[pending]
            cand = theta[rows] + t[pending, None] * step[pending]
            if alpha == 0:
                cand -= cand.mean(axis=1, keepdims=True)
            f_new, g_new, p_new = parts(cand, rows)
            ok = (f_new >= f[rows] - 1e-12 * np.abs(f[rows])) | (t[pending] < 1e-10)
            accepted = rows[ok]
            theta[accepted], f[accepted], g[accepted] = cand[ok], f_new[ok], g_new[ok]
            p[accepted] = p_new[ok]
            t[pending[~ok]] *= 0.5
            pending = pending[~ok]
        done = np.max(np.abs(g), axis=1) <= tol * scale
    return theta, done
