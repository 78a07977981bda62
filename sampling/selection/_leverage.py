"""Row importance scores for subset selection: leverage scores, Lewis weights, ell_p sensitivities.

* :func:`leverage_scores` — exact (one Gram pass, Cholesky, one blocked triangular-multiply pass) or
  sketched; ridge leverage; rank-deficient and ill-conditioned X via a sketch-preconditioned exact
  path; dense (float32 kept as float32), ``numpy.memmap``, ``scipy.sparse`` or a callable returning
  row blocks (two passes over data that do not fit in memory).
* :func:`lewis_weights` — ell_p Lewis weights by the (damped) fixed-point iteration with a real
  convergence test.
* :func:`root_leverage_scores`, :func:`lp_sensitivities` (exact, by linear programming, for small n),
  :func:`mixed_scores` (ell_2-augmented and uniform mixtures).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_float_array,
    as_int,
    as_rng,
    check_option,
    check_positive,
    fail,
)
from estimators.errors import ConvergenceError, ConvergenceWarning, ValidationError
from sampling.selection import _leverage_kernels as kernels
from sampling.selection._row_blocks import RowBlocks, as_row_blocks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "LewisWeights",
    "leverage_scores",
    "lewis_weights",
    "lp_sensitivities",
    "mixed_scores",
    "root_leverage_scores",
]

LeverageMethod = Literal["exact", "sketch"]
SketchKind = Literal["countsketch", "sparse_sign", "gaussian"]
_SKETCHES = ("countsketch", "sparse_sign", "gaussian")


def _sketch_kind(sketch: str | None, rows: RowBlocks) -> str:
    if sketch is None:
        return "countsketch" if rows.kind == "sparse" else "sparse_sign"
    return check_option(sketch, _SKETCHES, "sketch")


def _leverage(rows: RowBlocks, *, method: str = "exact", ridge: float = 0.0,
              sketch: str | None = None, sketch_size: int | None = None,
              projection_dim: int | None = None, rng: np.random.Generator,
              scale: np.ndarray | None = None) -> tuple[np.ndarray, kernels.Factor]:
    """Leverage scores of ``diag(scale) X`` and the factor they came from (kernel entry point)."""
    kind = _sketch_kind(sketch, rows)
    if method == "exact":
        factor = kernels.factor_for(rows, ridge=ridge, kind=kind, size=sketch_size, rng=rng,
                                    scale=scale)
        projection = None
    else:
        factor = kernels.sketch_factor(rows, kind=kind, size=sketch_size, rng=rng, scale=scale)
        projection = None
        if projection_dim is not None and projection_dim < factor.rank:
            projection = rng.standard_normal((factor.rank, projection_dim)) / np.sqrt(projection_dim)
    tau = kernels.row_norms(rows, factor, scale, projection)
    return tau, factor


def leverage_scores(
    X: Any,
    *,
    method: LeverageMethod = "exact",
    ridge: float = 0.0,
    block_size: int | None = None,
    sketch: SketchKind | None = None,
    sketch_size: int | None = None,
    projection_dim: int | None = None,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Statistical leverage scores ``tau_i = a_i^T (A^T A)^+ a_i`` of the rows of ``X``.

    Parameters
    ----------
    X : array-like (n, d), numpy.memmap, scipy.sparse matrix, list of row blocks, or callable
        The data matrix. float32 and float64 arrays are read block by block without a full copy.
        A list of 2-D blocks is streamed block by block (not stacked).
        A callable must return a fresh iterable of row blocks (each ``(rows, d)``) every time it is
        called; it is called once per pass (a peek at the first block, the Gram pass and the
        row-norm pass; two more passes on the preconditioned path), so out-of-core data are
        streamed and never held in memory.
    method : {"exact", "sketch"}
        ``"exact"``: one Gram pass ``G = X^T X`` (a single syrk for in-memory float64), Cholesky
        ``G = R^T R`` (of the column-equilibrated Gram matrix, so column units do not matter) and one
        blocked triangular-multiply pass (by ``R^{-1}``). If ``R`` is singular or its reciprocal
        condition number is below 1e-4 (ill-conditioned or rank-deficient X), a randomised
        preconditioned path is used instead: sketch ``S X``, pivoted QR ``S X P = Q R_s`` (numerical
        rank from the pivots), Cholesky of the Gram of ``Y = X P R_s^{-1}`` (condition ~ 1), then
        row norms; this is exact up to rounding, whatever the sketch's distortion. ``"sketch"``: one sketch
        pass and one row-norm pass with ``R_s`` only (no Gram); approximate, see Notes.
    ridge : float
        Ridge leverage ``a_i^T (A^T A + ridge I)^{-1} a_i`` when > 0 (exact method only).
    block_size : int, optional
        Rows per block in the passes (default: about 1 MiB of float64 per block).
    sketch : {"countsketch", "sparse_sign", "gaussian"}, optional
        Sketch for the preconditioner / sketch method. Default: CountSketch for sparse input, a
        sparse sign embedding (8 nonzeros per row) for dense input.
    sketch_size : int, optional
        Rows of the sketch, at least d (default ``20 d``; ``max(20 d, 2 d^2)`` for CountSketch),
        capped at n.
    projection_dim : int, optional
        ``method="sketch"`` only: Johnson–Lindenstrauss dimension k for the row norms of
        ``X R_s^{-1} Pi`` (n d k flops instead of n d^2).
    rng : None, int or numpy.random.Generator
        Randomness for the sketches.

    Returns
    -------
    numpy.ndarray
        float64 array of length n with values in [0, 1]; sums to rank(X) (exact, ridge 0).

    Notes
    -----
    ``tau_i = ||e_i^T X R^{-1}||_2^2`` for any ``R`` with ``X^T X = R^T R``. The Gram path's relative
    error is about ``eps * cond(X D)^2`` (D the column equilibration), at most about 2e-8 given the
    1e-4 limit; beyond it the preconditioned path is used.
    Sketch method: if ``S`` is an eps-subspace embedding of col(X), i.e.
    ``(1 - eps) ||Xx|| <= ||S X x|| <= (1 + eps) ||Xx||`` for all x, then the sketched score
    satisfies ``tau_i / (1 + eps)^2 <= tau~_i <= tau_i / (1 - eps)^2`` (deterministically, given
    eps). With the default ``20 d`` rows, eps is typically 0.2–0.4. A projection of dimension k
    multiplies each score by an independent chi-square(k)/k factor.

    References
    ----------
    Drineas, Magdon-Ismail, Mahoney & Woodruff (2012), Fast approximation of matrix coherence and
    statistical leverage, JMLR 13. Clarkson & Woodruff (2013), Low rank approximation and regression
    in input sparsity time, STOC. Fan, Guo & Lin (2021), A novel randomized XR-based preconditioned
    CholeskyQR algorithm, arXiv:2111.11148.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> tau = leverage_scores(X)
    >>> round(float(tau.sum()), 10)
    3.0
    >>> round(float(leverage_scores(np.hstack([X, X[:, :1]])).sum()), 8)   # rank 3
    3.0
    """
    method = check_option(method, ("exact", "sketch"), "method")
    ridge = check_positive(ridge, "ridge", allow_zero=True)
    if ridge and method != "exact":
        fail(ValidationError, "ridge", "is only supported with method='exact'", bad=[ridge])
    rows = as_row_blocks(X, block_size=block_size)
    if sketch_size is not None:
        # fewer sketch rows than columns could hide part of the column space
        sketch_size = as_int(sketch_size, "sketch_size", minimum=rows.d)
    if projection_dim is not None:
        if method != "sketch":
            fail(ValidationError, "projection_dim", "is only used with method='sketch'",
                 bad=[projection_dim])
        projection_dim = as_int(projection_dim, "projection_dim", minimum=1)
    tau, _ = _leverage(rows, method=method, ridge=ridge, sketch=sketch, sketch_size=sketch_size,
                       projection_dim=projection_dim, rng=as_rng(rng))
    return tau


def root_leverage_scores(X: Any, *, p: float = 1.0, **options: Any) -> np.ndarray:
    """Root-leverage scores ``tau_i^(p/2)`` (sampling scores for ell_p, 1 <= p < 2).

    Parameters
    ----------
    X : array-like (n, d)
        Data matrix (anything :func:`leverage_scores` accepts).
    p : float
        The ell_p norm, 0 < p <= 2.
    **options
        Passed to :func:`leverage_scores`.

    Returns
    -------
    numpy.ndarray
        ``tau_i^(p/2)``; for p <= 2 an upper bound on the ell_p sensitivity of row i.

    Notes
    -----
    For p <= 2, ``|a_i^T x|^p <= (tau_i ||Ax||_2^2)^(p/2) <= tau_i^(p/2) ||Ax||_p^p``, so the root
    leverage bounds the sensitivity. Woodruff & Yasuda show root-leverage sampling needs about
    ``d`` (up to logs) samples for 1 <= p < 2.

    References
    ----------
    Woodruff & Yasuda (2023), Sharper bounds for ell_p sensitivity sampling, ICML.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> bool(np.all(root_leverage_scores(X, p=1) >= leverage_scores(X)))
    True
    """
    p = _check_p(p, upper=2.0, inclusive=True)
    return leverage_scores(X, **options) ** (p / 2.0)


def _check_p(p: Any, *, upper: float, inclusive: bool) -> float:
    value = check_positive(p, "p")
    if value > upper or (value == upper and not inclusive):
        rule = f"must be <= {upper:g}" if inclusive else f"must be < {upper:g}"
        fail(ValidationError, "p", rule, bad=[p])
    return value


@dataclass(frozen=True)
class LewisWeights(Result):
    """ell_p Lewis weights and how the fixed-point iteration went.

    Attributes
    ----------
    weights : numpy.ndarray
        One weight per row; they sum to rank(X) at the fixed point.
    p : float
    n_iter : int
        Fixed-point iterations run (each is one Gram pass plus one row-norm pass).
    converged : bool
        ``residual <= tol``.
    residual : float
        ``max_i |T(w)_i / w_i - 1|`` at the last iterate (the map's relative change).
    tol : float
    error_bound : float
        Bound on ``max_i |log w_i - log w*_i|`` from contraction, ``residual / (1 - rate)`` (proven
        for p < 4; for p >= 4 it uses the local rate and is an estimate).

    Examples
    --------
    >>> import numpy as np
    >>> lw = lewis_weights(np.random.default_rng(1).standard_t(2, size=(200, 3)), p=1)
    >>> lw.p, lw.converged, lw.to_frame().shape
    (1.0, True, (200, 1))
    """

    weights: np.ndarray
    p: float
    n_iter: int
    converged: bool
    residual: float
    tol: float
    error_bound: float

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.weights if dtype is None else self.weights.astype(dtype)

    def __len__(self) -> int:
        return len(self.weights)

    def to_frame(self) -> pd.DataFrame:
        """One row per data row: ``lewis_weight``."""
        return pd.DataFrame({"lewis_weight": self.weights})

    def _summary_title(self) -> str:
        return f"ell_{self.p:g} Lewis weights"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        return [("rows", len(self.weights)), ("sum of weights", float(self.weights.sum())),
                ("iterations", self.n_iter), ("converged", self.converged),
                ("residual (max relative change)", self.residual), ("tolerance", self.tol)]

    def plot(self, ax: Axes | None = None) -> Axes:
        """Sorted weights on a log scale (heavy rows show as a steep tail)."""
        ax = get_axes(ax)
        w = np.sort(self.weights)[::-1]
        ax.plot(np.arange(1, w.size + 1), np.maximum(w, np.finfo(float).tiny))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rank of row")
        ax.set_ylabel(f"ell_{self.p:g} Lewis weight")
        ax.set_title(f"Lewis weights (sum {self.weights.sum():.4g}, {self.n_iter} iterations)")
        return ax


def lewis_weights(
    X: Any,
    *,
    p: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 200,
    on_nonconvergence: Literal["raise", "warn"] = "raise",
    block_size: int | None = None,
    rng: int | np.random.Generator | None = None,
) -> LewisWeights:
    """ell_p Lewis weights of the rows of ``X`` (any p > 0) by a damped fixed-point iteration.

    Parameters
    ----------
    X : array-like (n, d), memmap, scipy.sparse matrix or callable returning row blocks
        Data matrix (see :func:`leverage_scores`).
    p : float
        p > 0. For p >= 4 the plain fixed-point map does not contract; the damped one is used (see
        Notes).
    tol : float
        Stop when ``max_i |T(w)_i / w_i - 1| <= tol`` where ``T`` is the Lewis map.
    max_iter : int
        Iteration limit.
    on_nonconvergence : {"raise", "warn"}
        Raise :class:`ConvergenceError`, or warn (:class:`ConvergenceWarning`) and return the last
        iterate with ``converged=False``.
    block_size : int, optional
        Rows per block in each pass.
    rng : None, int or Generator
        Only used if a preconditioned (sketched) pass is needed for ill-conditioned X.

    Returns
    -------
    LewisWeights
        ``.weights`` (also usable as an array), ``.n_iter``, ``.converged``, ``.residual``.

    Notes
    -----
    The Lewis weights are the fixed point of ``T(w)_i = (a_i^T (A^T W^(1 - 2/p) A)^{-1} a_i)^(p/2)``.
    With ``D = W^(1/2 - 1/p)``, ``a_i^T (A^T D^2 A)^{-1} a_i = tau_i(D A) / D_ii^2``, so one step is one
    leverage computation of a reweighted matrix. In log coordinates the Jacobian of ``T`` is
    ``(1 - p/2) Lambda^{-1} (P o P)`` (P the projection onto col(DA), Lambda its diagonal), a
    row-stochastic matrix times ``1 - p/2``: the plain iteration contracts by ``|1 - p/2|`` in the
    max norm (Cohen & Peng 2015), and its eigenvalues lie between 0 and ``1 - p/2``. We iterate
    ``log w <- (1 - alpha) log w + alpha log T(w)`` with ``alpha = 2 / (2 - |1 - p/2|)`` (p < 2) or
    ``2 / (2 + |1 - p/2|)`` (p > 2), whose local rate is ``c / (2 -+ c)`` with ``c = |1 - p/2|``
    (1/3 for p = 1 instead of 1/2; 1/3 for p = 4, 0.6 for p = 8). For p < 2, plain steps
    (``alpha = 1``) are taken in the first two iterations and whenever the residual did not shrink
    by 10%. For 2 < p < 4 the damped map contracts in the max norm by ``3c / (2 + c) < 1``; for
    p >= 4 the Jacobian's spectral radius is ``c / (2 + c) < 1`` at every point (local convergence)
    but no global contraction is proven, so the residual test is what certifies the result: the
    Lewis weights are unique, so weights returned with ``converged=True`` are them (to ``tol``),
    and an iteration that does not settle raises (or warns). The warm start is the leverage scores.
    At the fixed point the weights sum to rank(X).

    References
    ----------
    Cohen & Peng (2015), Lp row sampling by Lewis weights, STOC. Lewis (1978), Finite dimensional
    subspaces of L_p, Studia Math. 63.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).standard_t(2, size=(200, 3))
    >>> lw = lewis_weights(X, p=1)
    >>> lw.converged, round(float(lw.weights.sum()), 6)
    (True, 3.0)
    """
    p = check_positive(p, "p")
    tol = check_positive(tol, "tol")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    on_nonconvergence = check_option(on_nonconvergence, ("raise", "warn"), "on_nonconvergence")
    rows = as_row_blocks(X, block_size=block_size)
    weights, n_iter, residual, rate = _lewis(rows, p=p, tol=tol, max_iter=max_iter, rng=as_rng(rng))
    converged = residual <= tol
    bound = residual / (1.0 - rate) if rate < 1 else float("inf")
    if not converged:
        message = (f"lewis_weights: the fixed-point iteration did not reach tol={tol:g} in "
                   f"{n_iter} iterations (max relative change {residual:.3g}). "
                   "Raise max_iter or tol, or pass on_nonconvergence='warn'.")
        if on_nonconvergence == "raise":
            raise ConvergenceError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return LewisWeights(weights, float(p), n_iter, bool(converged), float(residual), tol, bound)


def _lewis(rows: RowBlocks, *, p: float, tol: float, max_iter: int,
           rng: np.random.Generator) -> tuple[np.ndarray, int, float, float]:
    """Kernel: returns (weights, iterations, final residual, local contraction rate)."""
    tau, _ = _leverage(rows, rng=rng)
    if p == 2.0:
        return tau, 0, 0.0, 0.0
    c = abs(1.0 - p / 2.0)
    alpha_fast = 2.0 / (2.0 - c) if p < 2 else 2.0 / (2.0 + c)
    rate = c / (2.0 - c) if p < 2 else c / (2.0 + c)
    positive = tau > 0
    w = tau.copy()
    exponent = 0.5 - 1.0 / p
    residual_prev = np.inf
    residual = np.inf
    new = w
    for iteration in range(1, max_iter + 1):
        scale = np.zeros_like(w)
        scale[positive] = w[positive] ** exponent
        lev, _ = _leverage(rows, rng=rng, scale=scale)
        # a_i^T (A^T W^(1-2/p) A)^{-1} a_i = tau_i(D A) / d_i^2 with d_i^2 = w_i^(1 - 2/p)
        quad = np.maximum(lev[positive], np.finfo(float).tiny) / scale[positive] ** 2
        new = np.zeros_like(w)
        new[positive] = quad ** (p / 2.0)
        residual = float(np.max(np.abs(new[positive] / w[positive] - 1.0))) if positive.any() else 0.0
        if residual <= tol:
            return new, iteration, residual, rate
        if p < 2:
            # Over-relaxed step once the iterates settle; a plain (max-norm contracting) step in
            # the first two iterations and whenever the residual did not shrink by 10%.
            alpha = 1.0 if iteration <= 2 or residual > 0.9 * residual_prev else alpha_fast
        else:
            # Damped step (alpha < 1): the plain map diverges for p > 4.
            alpha = alpha_fast
        residual_prev = residual
        log_w = (1.0 - alpha) * np.log(w[positive]) + alpha * np.log(new[positive])
        w = np.zeros_like(w)
        w[positive] = np.exp(log_w)
    return new, max_iter, residual, max(rate, c)


def lp_sensitivities(X: Any, *, p: float = 1.0, max_rows: int = 2000) -> np.ndarray:
    """Exact ell_p sensitivities ``s_i = sup_x |a_i^T x|^p / ||Ax||_p^p`` for small n (test oracle).

    Parameters
    ----------
    X : array-like (n, d)
        Dense data matrix with ``n <= max_rows``.
    p : {1, 2}
        p = 1: one linear program per row (scipy HiGHS); p = 2: closed form via the SVD.
    max_rows : int
        Refuse larger inputs (p = 1 solves n linear programs with n + d variables).

    Returns
    -------
    numpy.ndarray
        Sensitivities in [0, 1]; for p = 2 they equal the leverage scores.

    Notes
    -----
    p = 1: ``1 / s_i = min { ||A x||_1 : a_i^T x = 1 }``, the LP
    ``min sum_j t_j  s.t.  -t <= A x <= t,  a_i^T x = 1``. p = 2: ``s_i = ||U_i||^2`` with
    ``A = U S V^T`` the thin SVD (rank by the usual tolerance) — an algorithm independent of the
    Cholesky path of :func:`leverage_scores`.

    References
    ----------
    Langberg & Schulman (2010), Universal epsilon-approximators for integrals, SODA.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> [round(float(s), 6) for s in lp_sensitivities(X, p=1)]
    [0.5, 0.5, 0.5]
    """
    max_rows = as_int(max_rows, "max_rows", minimum=1)
    arr = as_float_array(X, "X", ndim=2)
    p_value = check_positive(p, "p")
    if p_value not in (1.0, 2.0):
        fail(ValidationError, "p", "must be 1 or 2 for exact sensitivities", bad=[p])
    n, d = arr.shape
    if n > max_rows:
        fail(ValidationError, "X", f"has too many rows for exact sensitivities (limit {max_rows})",
             bad=[n], fix="Use lewis_weights or root_leverage_scores for large n, or raise max_rows.")
    if p_value == 2.0:
        u, s, _ = np.linalg.svd(arr, full_matrices=False)
        tol = s.max(initial=0.0) * max(n, d) * np.finfo(float).eps
        u = u[:, s > tol]
        return np.einsum("ij,ij->i", u, u)
    from scipy.optimize import linprog

    out = np.zeros(n)
    cost = np.concatenate([np.zeros(d), np.ones(n)])
    eye = np.eye(n)
    a_ub = np.block([[arr, -eye], [-arr, -eye]])
    b_ub = np.zeros(2 * n)
    bounds = [(None, None)] * d + [(0, None)] * n
    for i in range(n):
        if not np.any(arr[i]):
            continue
        a_eq = np.concatenate([arr[i], np.zeros(n)])[None, :]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                      method="highs")
        if res.status != 0:
            raise ConvergenceError(f"lp_sensitivities: the linear program for row {i} failed "
                                   f"({res.message}).")
        out[i] = 1.0 / res.fun
    return out


def mixed_scores(
    scores: Any,
    *,
    leverage: Any = None,
    leverage_mix: float = 0.0,
    uniform_mix: float = 0.0,
) -> np.ndarray:
    """Sampling distribution mixing scores with leverage (ell_2 augmentation) and uniform mass.

    Parameters
    ----------
    scores : array-like (n,)
        Non-negative importance scores (not all zero).
    leverage : array-like (n,), optional
        Leverage scores; required when ``leverage_mix > 0``.
    leverage_mix, uniform_mix : float
        Shares of the mass given to leverage and to the uniform distribution (sum < 1).

    Returns
    -------
    numpy.ndarray
        ``q = (1 - a - b) s / sum(s) + a tau / sum(tau) + b / n``, a probability vector.

    Notes
    -----
    Mixing keeps every guarantee of each component up to a factor ``1 / share`` in the sample size;
    leverage augmentation is the ell_2 term of the p > 2 sampling schemes (Woodruff & Yasuda 2023),
    uniform mixing bounds every weight by ``n / (b m)``.

    References
    ----------
    Woodruff & Yasuda (2023), Sharper bounds for ell_p sensitivity sampling, ICML.

    Examples
    --------
    >>> [round(float(v), 3) for v in mixed_scores([3.0, 1.0], uniform_mix=0.5)]
    [0.625, 0.375]
    """
    s = as_float_array(scores, "scores", nonnegative=True)
    a = _check_share(leverage_mix, "leverage_mix")
    b = _check_share(uniform_mix, "uniform_mix")
    if a + b >= 1:
        fail(ValidationError, "leverage_mix + uniform_mix", "must be < 1", bad=[a + b])
    if s.sum() <= 0:
        fail(ValidationError, "scores", "must not all be zero", bad=[float(s.sum())])
    q = (1 - a - b) * s / s.sum()
    if a:
        if leverage is None:
            fail(ValidationError, "leverage", "is required when leverage_mix > 0", bad=[None])
        tau = as_float_array(leverage, "leverage", nonnegative=True, length=s.size)
        q = q + a * tau / tau.sum()
    if b:
        q = q + b / s.size
    return q


def _check_share(value: Any, parameter: str) -> float:
    x = check_positive(value, parameter, allow_zero=True)
    if x >= 1:
        fail(ValidationError, parameter, "must lie in [0, 1)", bad=[value])
    return x
