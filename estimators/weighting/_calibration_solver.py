"""Newton's method on the Lagrange multipliers of generalised calibration (Deville & Särndal 1992).

The kernel sees only numpy arrays: ``X`` (m, p), one row per *unit* (an observed cell of the
categorical weighting columns, or a distinct (cell, numeric values) combination), the unit base
weights ``D`` (m, R) for R sets of base weights at once, and the targets ``T`` (p,). It finds
multipliers ``lambda`` (p, R) so that the calibrated weights ``w_k = D_k g(x_k' lambda)`` meet
``sum_k w_k x_k = T``.

Each method is a calibration function ``g(u)`` (the inverse derivative of the distance), bounded
to ``[lower, upper]``, with ``g(0) = 1`` and ``g'(0) = 1``:

* ``linear``: ``g(u) = clip(1 + u, L, U)`` (truncated linear, GREG when unbounded);
* ``raking``: ``g(u) = clip(exp(u), L, U)`` (bounded raking / multiplicative);
* ``logit``: ``g(u) = L + (U - L) expit(A u + log((1 - L) / (U - 1)))`` with
  ``A = (U - L) / ((U - 1)(1 - L))``, the logit parametrisation of Deville & Särndal (1992), which
  R ``survey::cal.logit`` also uses.

The calibration equations are the gradient of the convex dual function
``Phi(lambda) = sum_k D_k G(x_k' lambda) - lambda' T`` with ``G' = g`` and ``G(0) = 0``; Newton
steps (pseudo-inverse of the Hessian, as clamped units make it singular) are damped by an Armijo
backtracking line search on ``Phi``, so the iteration cannot diverge where a solution exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import expit

__all__ = [
    "CalibrationDistance",
    "NewtonOutcome",
    "independent_columns",
    "solve_multipliers",
    "weighted_gram",
]

Method = Literal["linear", "raking", "logit"]

ARMIJO = 1e-4
MAX_HALVINGS = 40


@dataclass(frozen=True)
class CalibrationDistance:
    """The calibration function ``g`` of one method with its bounds (``-inf``/``inf`` = none).

    ``lower`` and ``upper`` are numbers, or arrays of shape (m, 1) with one bound per unit (they
    broadcast against ``u`` of shape (m, R)).
    """

    method: Method
    lower: float | np.ndarray = -np.inf
    upper: float | np.ndarray = np.inf

    @property
    def bounded(self) -> bool:
        return bool(np.isfinite(self.lower).any() or np.isfinite(self.upper).any())

    @property
    def per_unit(self) -> bool:
        """Whether the bounds are given unit by unit."""
        return np.ndim(self.lower) > 0 or np.ndim(self.upper) > 0

    def _logit_constants(self) -> tuple:
        lo, up = self.lower, self.upper
        a = (up - lo) / ((up - 1.0) * (1.0 - lo))
        c0 = np.log((1.0 - lo) / (up - 1.0))
        return lo, up, a, c0

    def g(self, u: np.ndarray) -> np.ndarray:
        """Calibration factor ``g(u)``."""
        if self.method == "linear":
            return np.clip(1.0 + u, self.lower, self.upper)
        if self.method == "raking":
            with np.errstate(over="ignore"):
                return np.clip(np.exp(u), self.lower, self.upper)
        lo, up, a, c0 = self._logit_constants()
        return lo + (up - lo) * expit(a * u + c0)

    def dg(self, u: np.ndarray) -> np.ndarray:
        """Derivative ``g'(u)`` (0 where a bound is active)."""
        if self.method == "linear":
            v = 1.0 + u
            return ((v > self.lower) & (v < self.upper)).astype(np.float64)
        if self.method == "raking":
            with np.errstate(over="ignore"):
                e = np.exp(u)
            return np.where((e > self.lower) & (e < self.upper), e, 0.0)
        lo, up, a, c0 = self._logit_constants()
        s = expit(a * u + c0)
        return (up - lo) * a * s * (1.0 - s)

    def antiderivative(self, u: np.ndarray) -> np.ndarray:
        """``G(u) = integral of g from 0 to u`` (the dual objective's per-unit term)."""
        if self.method == "linear":
            v = 1.0 + u
            vc = np.clip(v, self.lower, self.upper)
            return 0.5 * (vc * vc - 1.0) + vc * (v - vc)
        if self.method == "raking":
            with np.errstate(over="ignore", divide="ignore"):
                vc = np.clip(np.exp(u), self.lower, self.upper)
                tc = np.log(vc)
            out = (vc - 1.0) + vc * (u - tc)
            return np.where(np.isfinite(vc), out, np.inf)
        lo, up, a, c0 = self._logit_constants()
        return lo * u + (up - lo) / a * (np.logaddexp(0.0, a * u + c0) - np.logaddexp(0.0, c0))


@dataclass(frozen=True)
class NewtonOutcome:
    """Multipliers and fit of a batch of calibrations (one column per set of base weights)."""

    multipliers: np.ndarray  # (p, R) on the scaled columns
    g: np.ndarray  # (m, R)
    relative_misfit: np.ndarray  # (R,) max over constraints
    n_iter: int
    converged: np.ndarray  # (R,) bool
    trace: np.ndarray  # (n_iter + 1,) max relative misfit over the batch after each iteration
    trace_by_constraint: np.ndarray  # (n_iter + 1, p) max over the batch, per constraint


def weighted_gram(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``sum_k d_k x_k x_k'`` (p, p), one BLAS product over the units."""
    return (x * d[:, None]).T @ x


def independent_columns(gram: np.ndarray, *, tol: float = 1e-10) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, from their weighted Gram matrix.

    Columns are taken in order (so later ones, e.g. a numeric total implied by the margins before
    it, are the ones reported as dependent): on the Gram matrix scaled to unit diagonal, a column
    is kept when its squared distance to the span of the kept columns exceeds ``tol`` (an
    incremental Cholesky factorisation of the kept block).
    """
    from scipy.linalg import solve_triangular

    diag = np.diag(gram)
    usable = np.flatnonzero(diag > 0)
    if usable.size == 0:
        return usable
    inv = 1.0 / np.sqrt(diag[usable])
    unit = gram[np.ix_(usable, usable)] * inv[:, None] * inv[None, :]
    kept: list[int] = []
    factor = np.zeros((usable.size, usable.size))
    for j in range(usable.size):
        r = len(kept)
        v = solve_triangular(factor[:r, :r], unit[kept, j], lower=True) if r else np.zeros(0)
        schur = unit[j, j] - float(v @ v)
        if schur > tol:
            factor[r, :r] = v
            factor[r, r] = np.sqrt(schur)
            kept.append(j)
    return usable[np.asarray(kept, dtype=np.intp)]


def _solve_batched(hessian: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``H_r step_r = rhs_r`` for every r; pseudo-inverse where ``H_r`` is singular."""
    try:
        step = np.linalg.solve(hessian, rhs[..., None])[..., 0]
        if np.isfinite(step).all():
            # reject near-singular solves: residual must be small
            resid = np.einsum("rpq,rq->rp", hessian, step) - rhs
            scale = np.abs(rhs).max(axis=1) + 1e-300
            if (np.abs(resid).max(axis=1) <= 1e-8 * scale).all():
                return step
    except np.linalg.LinAlgError:
        pass
    pinv = np.linalg.pinv(hessian, rcond=1e-12, hermitian=True)
    return np.einsum("rpq,rq->rp", pinv, rhs)


def solve_multipliers(
    x: np.ndarray,
    d: np.ndarray,
    targets: np.ndarray,
    distance: CalibrationDistance,
    *,
    scale: np.ndarray,
    tol: float,
    max_iter: int,
    start: np.ndarray | None = None,
    q: np.ndarray | None = None,
) -> NewtonOutcome:
    """Damped Newton on the dual of calibration for R sets of base weights at once.

    Parameters
    ----------
    x : ndarray (m, p)
        Auxiliary values per unit; columns linearly independent (see :func:`independent_columns`)
        and scaled to comparable magnitudes by the caller.
    d : ndarray (m, R)
        Base weight of each unit in each of the R problems.
    targets : ndarray (p,)
        Calibration totals on the same scale as ``x``.
    scale : ndarray (p,)
        Denominator of each constraint's relative misfit.
    tol : float
        Stop when every problem's max relative misfit is at most ``tol``.
    max_iter : int
        Newton iterations at most.
    start : ndarray (p,), optional
        Multipliers to start from (default 0, i.e. g = 1).
    q : ndarray (m,), optional
        Per-unit factor of the argument, ``g_k = g(q_k x_k' lambda)``: ``q_k = 1 / v_k`` for a
        heteroscedastic calibration model with variances ``v_k`` (default 1). The dual term of
        unit ``k`` is then ``D_k G(q_k x_k' lambda) / q_k``.
    """
    p = x.shape[1]
    n_rep = d.shape[1]
    lam = np.zeros((p, n_rep))
    if start is not None:
        lam += np.asarray(start, dtype=np.float64).reshape(p, 1)
    qc = None if q is None else np.asarray(q, dtype=np.float64)[:, None]

    def argument(lam_: np.ndarray) -> np.ndarray:
        return x @ lam_ if qc is None else qc * (x @ lam_)

    u = argument(lam)

    def objective(u_: np.ndarray, lam_: np.ndarray, d_: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            term = distance.antiderivative(u_)
            if qc is not None:
                term = term / qc
            val = (d_ * term).sum(axis=0) - targets @ lam_
        return np.where(np.isfinite(val), val, np.inf)

    g = distance.g(u)
    phi = objective(u, lam, d)
    misfit = targets[:, None] - x.T @ (d * g)
    rel = np.abs(misfit / scale[:, None]).max(axis=0) if p else np.zeros(n_rep)
    trace = [float(rel.max(initial=0.0))]
    by_constraint = [np.abs(misfit / scale[:, None]).max(axis=1, initial=0.0)]
    n_iter = 0
    while n_iter < max_iter and (rel > tol).any():
        n_iter += 1
        active = rel > tol
        dg = distance.dg(u[:, active])
        curvature = d[:, active] * dg if qc is None else d[:, active] * dg * qc
        hessian = np.stack([(x * c[:, None]).T @ x for c in curvature.T])
        step = _solve_batched(hessian, misfit[:, active].T).T  # (p, r)
        slope = -(misfit[:, active] * step).sum(axis=0)  # grad' step (grad = -misfit)
        t = np.ones(step.shape[1])
        lam_a, phi_a, rel_a, d_a = lam[:, active], phi[active], rel[active], d[:, active]
        new_lam = lam_a + step
        new_u = argument(new_lam)
        new_phi = objective(new_u, new_lam, d_a)
        for _ in range(MAX_HALVINGS):
            slack = 1e-12 * (np.abs(phi_a) + 1.0)
            ok = new_phi <= phi_a + ARMIJO * t * slope + slack
            if ok.all():
                break
            t = np.where(ok, t, t / 2)
            bad = ~ok
            new_lam[:, bad] = lam_a[:, bad] + t[bad] * step[:, bad]
            new_u[:, bad] = argument(new_lam[:, bad])
            new_phi[bad] = objective(new_u[:, bad], new_lam[:, bad], d_a[:, bad])
        new_g = distance.g(new_u)
        new_misfit = targets[:, None] - x.T @ (d_a * new_g)
        new_rel = np.abs(new_misfit / scale[:, None]).max(axis=0)
        # accept unless the step made things worse on both counts (roundoff near the solution)
        accept = (new_phi <= phi_a + 1e-12 * (np.abs(phi_a) + 1.0)) | (new_rel < rel_a)
        idx = np.flatnonzero(active)[accept]
        lam[:, idx] = new_lam[:, accept]
        u[:, idx] = new_u[:, accept]
        g[:, idx] = new_g[:, accept]
        phi[idx] = new_phi[accept]
        misfit[:, idx] = new_misfit[:, accept]
        rel[idx] = new_rel[accept]
        trace.append(float(rel.max(initial=0.0)))
        by_constraint.append(np.abs(misfit / scale[:, None]).max(axis=1, initial=0.0))
        if not accept.any():
            break  # no progress possible at this precision
    return NewtonOutcome(
        multipliers=lam,
        g=g,
        relative_misfit=rel,
        n_iter=n_iter,
        converged=rel <= tol,
        trace=np.asarray(trace),
        trace_by_constraint=np.asarray(by_constraint).reshape(len(trace), p),
    )
