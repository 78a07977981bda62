"""Kernels behind :mod:`sampling.selection`: Gram passes, sketches, factors and row-norm passes.

Everything here works on :class:`~sampling.selection._row_blocks.RowBlocks` and float64 arrays that are
already validated. A *factor* is a column selection plus a short chain of upper-triangular
matrices ``T_1, T_2, ...`` such that ``X[:, cols] T_1^{-1} T_2^{-1} ...`` has (nearly) orthonormal
columns spanning the column space of ``X``; leverage scores are its squared row norms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from estimators._lib.validation import fail
from estimators.errors import ConvergenceError, ValidationError
from sampling.selection._row_blocks import RowBlocks, locate_nonfinite

__all__ = [
    "Factor",
    "cholesky_factor",
    "factor_for",
    "gram",
    "preconditioned_factor",
    "row_norms",
    "sketch",
    "sketch_factor",
]

# Reciprocal condition number of the Cholesky factor below which the Gram path is not trusted:
# the relative error of Gram-based leverage grows like eps * cond(X)^2, so 1e-4 keeps it near 1e-8.
RCOND_LIMIT = 1e-4


@dataclass(frozen=True)
class Factor:
    """``X[:, cols] @ inv(T_1) @ inv(T_2) ...`` spans col(X) with orthonormal columns (exact paths)."""

    cols: np.ndarray | None
    triangles: tuple[np.ndarray, ...]
    path: str
    info: dict = field(default_factory=dict)
    inverse: np.ndarray | None = None  # T_1^{-1} when there is one well-conditioned triangle

    @classmethod
    def from_cholesky(cls, r: np.ndarray, path: str, column_scale: np.ndarray | None = None) -> Factor:
        """A single triangle ``R = R_s D^{-1}`` (``D = diag(column_scale)``, R_s well conditioned);
        also keep ``R^{-1} = D R_s^{-1}`` for one trmm per block."""
        r_s = r if column_scale is None else r * column_scale[None, :]
        inv, info = lapack.dtrtri(r_s, lower=0)
        if info != 0:
            return cls(None, (r,), path)
        inv = np.triu(inv)
        if column_scale is not None:
            inv = inv * column_scale[:, None]
        return cls(None, (r,), path, {}, inv)

    @property
    def rank(self) -> int:
        return self.triangles[0].shape[0]

    def apply(self, block: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Return ``Z`` (rank x rows, Fortran order) with ``Z.T = block[:, cols] T_1^{-1} ...``."""
        if sp.issparse(block):
            block = block.toarray()
        if self.cols is not None:
            block = block[:, self.cols]
        z = np.asfortranarray(block.T)
        if self.inverse is not None:
            return blas.dtrmm(1.0, self.inverse, z, side=0, lower=0, trans_a=1)
        overwrite = False
        for tri in self.triangles:
            z = blas.dtrsm(1.0, tri, z, side=0, lower=0, trans_a=1, overwrite_b=int(overwrite))
            overwrite = True
        return z

    def solve_coefficients(self, coordinates: np.ndarray) -> np.ndarray:
        """Map orthonormal-basis coordinates ``c`` (rank x k) to ``x`` in R^d with ``X x = Q c``."""
        x = np.array(coordinates, dtype=np.float64, order="F")
        for tri in reversed(self.triangles):
            x = sla.solve_triangular(tri, x, lower=False)
        return x


def gram(rows: RowBlocks, scale: np.ndarray | None = None) -> np.ndarray:
    """``X^T X`` (or ``X^T diag(scale^2) X``) in one pass; a single syrk for in-memory float64."""
    d = rows.d
    source = rows.source
    if (rows.kind == "dense" and scale is None and source.dtype == np.float64
            and not isinstance(source, np.memmap)
            and (source.flags.c_contiguous or source.flags.f_contiguous)):
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            g = source.T @ source
    else:
        g = np.zeros((d, d))
        with np.errstate(over="ignore", invalid="ignore"):
            for _, block in rows.blocks(scale):
                if sp.issparse(block):
                    g += (block.T @ block).toarray()
                else:
                    g += block.T @ block
    if not np.isfinite(g).all():
        locate_nonfinite(rows)
        fail(ValidationError, "X", "produced a non-finite Gram matrix (values too large)",
             fix="Rescale the columns (e.g. standardise) before calling.")
    return g


def cholesky_factor(g: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Equilibrated Cholesky: ``(R, column_scale)`` with ``g = R^T R`` and ``R_s = R D`` (``D`` =
    ``diag(column_scale)``, unit diagonal of ``D g D``) well conditioned; ``None`` when ``g`` is not
    positive definite or ``R_s`` is too ill-conditioned for the Gram path.

    Leverage is invariant under column scaling, so only the conditioning of the equilibrated
    matrix matters (bad column units alone never force the slower preconditioned path).
    """
    diag = np.diag(g)
    if not np.all(diag > 0):
        return None
    column_scale = 1.0 / np.sqrt(diag)
    a = g * column_scale[:, None] * column_scale[None, :]
    try:
        r_s = sla.cholesky(a, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    rcond, info = lapack.dtrcon(r_s, norm="1", uplo="U", diag="N")
    if info != 0 or not np.isfinite(rcond) or rcond < RCOND_LIMIT:
        return None
    return np.ascontiguousarray(r_s / column_scale[None, :]), column_scale


def sketch(rows: RowBlocks, size: int, kind: str, rng: np.random.Generator,
           scale: np.ndarray | None = None) -> np.ndarray:
    """Return ``S X`` for a ``size``-row sketch ``S`` applied block by block (one pass).

    ``countsketch``: each row goes to one random bucket with a random sign (Clarkson & Woodruff 2013);
    ``sparse_sign``: each row goes to ``min(8, size)`` buckets with signs scaled by ``1/sqrt(8)``;
    ``gaussian``: dense N(0, 1/size) entries.
    """
    d = rows.d
    out = np.zeros((size, d))
    zeta = 1 if kind == "countsketch" else min(8, size)
    for _, block in rows.blocks(scale):
        b = block.shape[0]
        if kind == "gaussian":
            s_block = rng.standard_normal((size, b)) / np.sqrt(size)
            out += s_block @ block
            continue
        buckets = rng.integers(0, size, size=(b, zeta))
        signs = rng.choice(np.array([-1.0, 1.0]), size=(b, zeta)) / np.sqrt(zeta)
        cols = np.repeat(np.arange(b), zeta)
        s_block = sp.csr_matrix((signs.ravel(), (buckets.ravel(), cols)), shape=(size, b))
        prod = s_block @ block
        out += prod.toarray() if sp.issparse(prod) else prod
    return out


def _pivoted_r(sx: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Pivoted QR of a small matrix: the first ``rank`` pivot columns and their R block."""
    r, piv = sla.qr(sx, mode="r", pivoting=True, check_finite=False)
    r = r[0] if isinstance(r, tuple) else r
    diag = np.abs(np.diag(r))
    if diag.size == 0 or diag[0] == 0:
        fail(ValidationError, "X", f"has no nonzero row ({what} is zero)",
             fix="Leverage scores need at least one nonzero row.")
    tol = max(sx.shape) * np.finfo(float).eps * diag[0] * 10
    rank = int(np.sum(diag > tol))
    cols = np.sort(piv[:rank])
    # Re-factor the selected columns in natural order so that cols is sorted.
    r_sel = sla.qr(sx[:, cols], mode="r", check_finite=False)[0]
    r_sel = r_sel[:rank, :rank]
    signs = np.sign(np.diag(r_sel))
    signs[signs == 0] = 1.0
    return cols, np.ascontiguousarray(r_sel * signs[:, None])


def default_sketch_size(n: int, d: int, kind: str) -> int:
    if kind == "countsketch":
        size = max(20 * d, 2 * d * d)
    else:
        size = 20 * d
    return int(min(n, size))


def sketch_factor(rows: RowBlocks, *, kind: str, size: int | None, rng: np.random.Generator,
                  scale: np.ndarray | None = None) -> Factor:
    """Sketch-and-pivoted-QR factor ``(cols, R_s)``: ``X[:, cols] R_s^{-1}`` is well conditioned."""
    n = rows.n if rows.n is not None else _count_rows(rows)
    size = default_sketch_size(n, rows.d, kind) if size is None else int(size)
    if size >= n and rows.in_memory:
        sx = _dense_copy(rows, scale)  # small data: factor X itself (no randomness needed)
        kind_used = "none (n <= sketch size)"
    else:
        sx = sketch(rows, size, kind, rng, scale)
        kind_used = kind
    if not np.isfinite(sx).all():
        locate_nonfinite(rows)
    cols, r = _pivoted_r(sx, "its sketch")
    cols_out = None if cols.size == rows.d else cols
    return Factor(cols_out, (r,), "sketch", {"sketch": kind_used, "sketch_size": int(sx.shape[0])})


def preconditioned_factor(rows: RowBlocks, *, kind: str, size: int | None,
                          rng: np.random.Generator, scale: np.ndarray | None = None) -> Factor:
    """Exact factor for ill-conditioned or rank-deficient X: sketch, pivoted QR, then Cholesky of the
    preconditioned Gram ``(X R_s^{-1})^T (X R_s^{-1})`` (randomised preconditioned Cholesky-QR)."""
    first = sketch_factor(rows, kind=kind, size=size, rng=rng, scale=scale)
    rank = first.rank
    g_y = np.zeros((rank, rank))
    for _, block in rows.blocks(scale):
        z = first.apply(block)
        g_y += z @ z.T
    try:
        r2 = sla.cholesky(g_y, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        raise ConvergenceError(
            "X: the sketch did not capture the column space (preconditioned Gram not positive "
            "definite). Pass a larger sketch_size or sketch='gaussian'."
        ) from None
    info = dict(first.info)
    info["preconditioned_condition"] = float(np.linalg.cond(r2))
    return Factor(first.cols, (first.triangles[0], np.ascontiguousarray(r2)), "preconditioned", info)


def factor_for(rows: RowBlocks, *, ridge: float, kind: str, size: int | None,
               rng: np.random.Generator, scale: np.ndarray | None = None) -> Factor:
    """Exact factor: Gram + Cholesky when well conditioned, else the preconditioned path."""
    g = gram(rows, scale)
    if ridge:
        try:
            r = sla.cholesky(g + ridge * np.eye(g.shape[0]), lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            fail(ValidationError, "ridge", "is too small for this X (X^T X + ridge I is not "
                 "numerically positive definite)", bad=[ridge], fix="Use a larger ridge.")
        return Factor.from_cholesky(np.ascontiguousarray(r), "ridge-cholesky")
    found = cholesky_factor(g)
    if found is not None:
        return Factor.from_cholesky(found[0], "cholesky", found[1])
    return preconditioned_factor(rows, kind=kind, size=size, rng=rng, scale=scale)


def row_norms(rows: RowBlocks, factor: Factor, scale: np.ndarray | None = None,
              projection: np.ndarray | None = None) -> np.ndarray:
    """Squared row norms of ``X[:, cols] T^{-1}`` (times ``projection`` when given), one pass."""
    out = np.empty(rows.n) if rows.n is not None else None
    parts: list[np.ndarray] = []
    for start, block in rows.blocks(scale):
        z = factor.apply(block)
        if projection is not None:
            z = projection.T @ z
        norms = np.einsum("ij,ij->j", z, z)
        if out is not None:
            out[start : start + norms.size] = norms
        else:
            parts.append(norms)
    return out if out is not None else np.concatenate(parts)


def _dense_copy(rows: RowBlocks, scale: np.ndarray | None) -> np.ndarray:
    pieces = [b.toarray() if sp.issparse(b) else b for _, b in rows.blocks(scale)]
    return np.vstack(pieces)


def _count_rows(rows: RowBlocks) -> int:
    for _ in rows.blocks():
        pass
    return int(rows.n or 0)
