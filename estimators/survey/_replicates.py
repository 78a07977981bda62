"""Replicate-weight variance: jackknife (JK1, JKn), BRR, Fay's BRR, Rao–Wu bootstrap, user-supplied.

A :class:`ReplicateDesign` pairs a :class:`~estimators.SurveyDesign` with R sets of replicate
*base* weights. Every estimate re-runs the design's whole weighting chain (rake, calibrate,
post-stratify, trim: each recorded :class:`~estimators.survey._weighting_steps.WeightingStep`'s vectorised
``reweight``) on all replicates at once, so the replicate variance includes the weighting.
Replicate weights are stored compressed (one row per PSU) when they are generated here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import linalg

from estimators._lib.validation import (
    as_float_array,
    as_int,
    as_rng,
    check_columns,
    check_option,
    fail,
)
from estimators.errors import DesignError, ValidationError
from estimators.survey import _estimation
from estimators.survey._protocol import Design, TaylorDesign
from estimators.survey._weighting_steps import WeightingStep

if TYPE_CHECKING:
    from estimators.survey._design import SurveyDesign

__all__ = ["ReplicateDesign", "ReplicateMethod", "hadamard", "replicate_design"]

ReplicateMethod = Literal["jk1", "jkn", "brr", "fay", "bootstrap", "mrb"]
_METHODS: tuple[ReplicateMethod, ...] = ("jk1", "jkn", "brr", "fay", "bootstrap", "mrb")
UserMethod = Literal[
    "jk1", "jkn", "brr", "fay", "bootstrap", "successive_difference", "acs", "other"
]
_USER_METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "successive_difference", "acs", "other")

#: replicate weights are processed in column chunks of about this many matrix cells (memory bound)
_CHUNK_CELLS = 16_000_000


class ReplicateDesign(Design):
    """A survey design with replicate weights; estimates re-run the weighting chain per replicate.

    Build one with :func:`replicate_design` (or ``SurveyDesign.with_replicates``) from a design's strata
    and PSUs, or with :meth:`from_weights` from replicate weights you already have. Pass it to
    :func:`~estimators.mean` and friends (or call ``.mean(...)`` etc. on it).

    Attributes
    ----------
    design : SurveyDesign
        The full-sample design (with its weighting steps).
    method : str
        ``"jk1"``, ``"jkn"``, ``"brr"``, ``"fay"``, ``"bootstrap"``, ``"successive_difference"``,
        ``"acs"`` or ``"other"``.
    scale : float
        Overall variance multiplier.
    rscales : ndarray, shape (R,)
        Per-replicate multipliers.
    mse : bool
        Centre replicate deviations at the full-sample estimate (True) or at the replicates' mean.

    Notes
    -----
    ``V(theta) = scale * sum_r rscales_r (theta_r - c)^2`` with ``c`` the mean of the replicate
    estimates (``mse=False``, R's default) or the full-sample estimate (``mse=True``).

    References
    ----------
    Wolter, K. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer.
    """

    __slots__ = ("_combined", "_degf", "_factors", "_index", "design", "method", "mse", "rscales", "scale")

    def __init__(
        self,
        design: SurveyDesign,
        factors: np.ndarray,
        index: np.ndarray,
        *,
        method: str,
        scale: float,
        rscales: np.ndarray,
        mse: bool,
        combined: bool,
    ) -> None:
        self.design = design
        self._factors = factors
        self._index = index
        self.method = method
        self.scale = float(scale)
        self.rscales = np.asarray(rscales, dtype=float)
        self.mse = bool(mse)
        self._combined = combined
        self._degf: int | None = None

    # -- construction from user weights -----------------------------------------------------------
    @classmethod
    def from_weights(
        cls,
        design: SurveyDesign,
        replicate_weights: Any,
        *,
        method: UserMethod = "other",
        scale: float | None = None,
        rscales: Any = None,
        mse: bool | None = None,
        combined_weights: bool = True,
        fay_rho: float | None = None,
    ) -> ReplicateDesign:
        """A replicate design from replicate weights you already have (e.g. published with a survey).

        Parameters
        ----------
        design : SurveyDesign
            The full-sample design (its weights are the full-sample weights).
        replicate_weights : list of column names, 2-D array (n x R) or DataFrame
            The replicate weights (``combined_weights=True``: the weights themselves, as published)
            or multipliers of the design's base weights (``combined_weights=False``).
        method : str
            Sets the default ``scale``/``rscales``/``mse`` as R ``svrepdesign``: ``jk1``
            ``(R-1)/R``; ``bootstrap`` ``1/(R-1)``; ``brr`` ``1/R``; ``successive_difference``
            ``4/R`` with ``mse=True``; ``acs`` ``4/80`` with ``mse=True``; ``jkn`` and ``other`` need
            ``scale``/``rscales``.
        scale, rscales, mse : optional
            Override the defaults.
        combined_weights : bool
            Whether the replicate weights already include the sampling weights (R's default).
        fay_rho : float, optional
            For ``method="fay"``: the default scale becomes ``1 / (R (1 - rho)^2)``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from estimators import SurveyDesign, ReplicateDesign
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4]})
        >>> reps = np.array([[0, 4 / 3, 4 / 3, 4 / 3], [4 / 3, 0, 4 / 3, 4 / 3],
        ...                  [4 / 3, 4 / 3, 0, 4 / 3], [4 / 3, 4 / 3, 4 / 3, 0]])
        >>> rd = ReplicateDesign.from_weights(SurveyDesign(df), reps, method="jk1")
        >>> round(float(rd.mean("y").std_error[0]), 6)
        0.645497
        """
        if not isinstance(design, TaylorDesign):
            fail(ValidationError, "design", "must be a SurveyDesign", bad=[type(design).__name__])
        method = check_option(method, _USER_METHODS, "method")
        n = design.n
        if isinstance(replicate_weights, (list, tuple)) and all(
            isinstance(c, Hashable) and not isinstance(c, (list, tuple, np.ndarray)) for c in replicate_weights
        ):
            cols = check_columns(design.data, list(replicate_weights), "replicate_weights")
            matrix = design.data[cols].to_numpy(dtype=float)
        elif isinstance(replicate_weights, pd.DataFrame):
            matrix = replicate_weights.to_numpy(dtype=float)
        else:
            matrix = np.asarray(replicate_weights, dtype=float)
        if matrix.ndim != 2 or matrix.shape[0] != n:
            fail(
                ValidationError,
                "replicate_weights",
                f"must be a 2-D array with one row per observation ({n} rows)",
                bad=[f"shape {matrix.shape}"],
                fix="Pass an (n x R) array, a DataFrame with n rows, or a list of weight columns.",
            )
        matrix = as_float_array(matrix, "replicate_weights", ndim=2, nonnegative=True)
        R = matrix.shape[1]
        if R < 2:
            fail(ValidationError, "replicate_weights", "needs at least 2 replicates", bad=[R])
        defaults: dict[str, tuple[float | None, bool]] = {
            "jk1": ((R - 1) / R, False),
            "bootstrap": (1 / (R - 1), False),
            "brr": (1 / R, False),
            "fay": (None if fay_rho is None else 1 / (R * (1 - float(fay_rho)) ** 2), False),
            "successive_difference": (4 / R, True),
            "acs": (4 / 80, True),
            "jkn": (1.0, False),
            "other": (None, False),
        }
        default_scale, default_mse = defaults[method]
        if scale is None:
            if default_scale is None:
                fail(
                    ValidationError,
                    "scale",
                    f"must be given for method={method!r}",
                    fix="For Fay's BRR with rho: scale = 1 / (R * (1 - rho)**2).",
                )
            scale = default_scale
        scale_value = float(scale)
        if rscales is None:
            rs = np.ones(R)
        else:
            rs = as_float_array(rscales, "rscales", nonnegative=True)
            if rs.shape[0] != R:
                fail(
                    ValidationError,
                    "rscales",
                    f"must have one value per replicate ({R})",
                    bad=[f"length {rs.shape[0]}"],
                )
        return cls(
            design,
            matrix,
            np.arange(n),
            method=method,
            scale=scale_value,
            rscales=rs,
            mse=default_mse if mse is None else bool(mse),
            combined=bool(combined_weights),
        )

    # -- replicate weights ------------------------------------------------------------------------
    @property
    def n_replicates(self) -> int:
        return int(self._factors.shape[1])

    def _base_weights(self) -> np.ndarray:
        steps = self.design.weighting_steps
        if steps:
            return np.asarray(steps[0].base_weights, dtype=float)
        return np.asarray(self.design.weight_array, dtype=float)

    def replicate_weights(self, columns: slice | None = None) -> np.ndarray:
        """Final replicate weights (n x R), after re-running the weighting chain on each replicate."""
        cols = slice(None) if columns is None else columns
        block = self._factors[self._index, cols]
        base = block if self._combined else self._base_weights()[:, None] * block
        for step in self.design.weighting_steps:
            if step.reweight is None:
                fail(
                    DesignError,
                    "design",
                    f"the weighting step {step.method!r} cannot be re-run on replicate weights",
                    fix="Weight with estimators.rake / calibrate / poststratify / trim, which record it.",
                )
            base = np.asarray(step.reweight(base), dtype=float)
        return base

    def _chunks(self, rows: int) -> list[slice]:
        R = self.n_replicates
        size = max(1, _CHUNK_CELLS // max(rows, 1))
        return [slice(s, min(s + size, R)) for s in range(0, R, size)]

    def replicate_estimates(self, numerator: sp.csr_matrix, denominator: sp.csr_matrix | None) -> np.ndarray:
        """Replicate estimates ``(S_a W) / (S_b W)`` (k x R) of a ratio of linear statistics.

        ``S_a``, ``S_b`` are (k x n) sparse matrices (``S_b`` None: totals). When the replicates are
        PSU multipliers and every weighting step acts by cells (rake, post-stratify), rows are
        collapsed once to *atoms* (PSU x weighting cell): the base cell totals of every replicate are
        a sparse (cells x atoms) product, each step re-rakes the (cells x R) table, and the
        estimates are (k x atoms) @ (atoms x R) products, never an (n x R) pass. Otherwise the
        row-level replicate weights are built in column chunks and every step's ``reweight`` is run.
        """
        atoms = self._atoms()
        if atoms is None:
            parts = []
            for c in self._chunks(self.design.n):
                W = self.replicate_weights(c)
                parts.append(_replicate_statistic(numerator, denominator, W))
            return np.concatenate(parts, axis=1)
        row_atom, atom_psu, steps = atoms
        d0 = self._base_weights()
        n_atoms = len(atom_psu)
        collapse = sp.csr_matrix(
            (d0, (np.arange(len(d0)), row_atom)), shape=(len(d0), n_atoms)
        )  # (n x atoms): base weight of each row in its atom
        num_atoms = (numerator @ collapse).tocsr()
        den_atoms = None if denominator is None else (denominator @ collapse).tocsr()
        atom_base = np.asarray(collapse.sum(axis=0)).ravel()
        parts = []
        for c in self._chunks(n_atoms):
            rho = self._factors[atom_psu, c]  # multiplier of each atom's base weight
            for cell_of_atom, n_cells, solve in steps:
                cell_sum = sp.csr_matrix(
                    (atom_base, (cell_of_atom, np.arange(n_atoms))), shape=(n_cells, n_atoms)
                )
                g = solve(np.asarray(cell_sum @ rho))
                rho = rho * g[cell_of_atom]
            parts.append(_replicate_statistic(num_atoms, den_atoms, rho))
        return np.concatenate(parts, axis=1)

    def _atoms(self) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, int, Callable]]] | None:
        """Rows collapsed to (replicate unit x weighting cells) atoms, with each step's cell
        solver; or None. The replicate units are the PSUs (``mrb`` with later stages: the units of
        the last stage it perturbs)."""
        if self._combined or (self.method != "mrb"
                              and not np.array_equal(self._index, self.design.psu_codes)):
            return None
        solvers = []
        for step in self.design.weighting_steps:
            solver = _cell_solver(step)
            if solver is None:
                return None
            solvers.append(solver)
        row_atom = _combine_codes([self._index] + [cells for cells, _, _ in solvers])
        n_atoms = int(row_atom.max(initial=-1)) + 1
        first = np.zeros(n_atoms, dtype=np.int64)
        first[row_atom[::-1]] = np.arange(len(row_atom))[::-1]
        atom_psu = self._index[first]
        steps = [(cells[first], n_cells, solve) for cells, n_cells, solve in solvers]
        return row_atom, atom_psu, steps

    def _estimation_parts(self) -> tuple[TaylorDesign, ReplicateDesign]:
        return self.design, self

    def _linear_covariance(
        self,
        core: Any,
        values: np.ndarray,
        theta: np.ndarray,
        lonely_psu: Any,
        raking_variance: Any,
        *,
        full: bool = True,
        domain_lonely: bool = False,
    ) -> tuple[np.ndarray, str]:
        """Replicate covariance of the ratio-of-totals statistics of ``core`` (see covariance)."""
        numerator = core.sparse(core.a)
        denominator = None if core.b is None else core.sparse(core.b)
        return self.covariance(numerator, denominator, theta, full=full), self.method

    def covariance(
        self,
        numerator: sp.csr_matrix,
        denominator: sp.csr_matrix | None,
        theta: np.ndarray,
        *,
        full: bool = True,
    ) -> np.ndarray:
        """Replicate covariance ``scale * sum_r rscales_r (theta_r - c)(theta_r - c)^T``.

        With ``full=False`` only its diagonal (the variances), as a vector.
        """
        reps = self.replicate_estimates(numerator, denominator)  # (k, R)
        if not np.isfinite(reps).all():
            bad = np.flatnonzero(~np.isfinite(reps).all(axis=0))
            fail(
                DesignError,
                "design",
                "some replicates give no estimate (e.g. a domain with zero weight in a replicate)",
                bad=[f"replicate {int(r)}" for r in bad],
                fix="Use larger domains or a jackknife; bootstrap replicates can empty small domains.",
            )
        if self.mse:
            centre = np.asarray(theta)[:, None]
        else:
            use = self.rscales > 0
            centre = reps[:, use].mean(axis=1, keepdims=True)
        dev = reps - centre
        if not full:
            return self.scale * (dev * dev) @ self.rscales
        return self.scale * (dev * self.rscales) @ dev.T

    @property
    def degrees_of_freedom(self) -> int:
        """Rank of the replicate weights minus one (R ``degf`` for replicate designs)."""
        if self._degf is None:
            f = self._factors
            gram = f.T @ f
            vals = np.linalg.eigvalsh(gram)
            rank = int((vals > vals.max() * 1e-10).sum())
            self._degf = rank - 1
        return self._degf

    def domain_degrees_of_freedom(self, domain: np.ndarray, k: int) -> np.ndarray:
        """Rank of the replicate weights of the rows of each domain ``0..k-1``, minus one
        (R ``degf`` of the subset replicate design, as ``svyby`` gives ``svyquantile``).

        Without weighting steps the rank is that of the replicate multipliers of the rows' PSUs
        (or rows); after weighting, of the final replicate weights of those rows (for designs
        with more than 16 million rows x replicates, of the multipliers, to bound memory).
        """
        steps = self.design.weighting_steps
        small = self.design.n * self.n_replicates <= _CHUNK_CELLS
        full = self.replicate_weights() if (steps and small) else None
        out = []
        domain = np.asarray(domain, dtype=np.int64)
        for j in range(k):
            rows = np.flatnonzero((domain == j) & (self.design.weight_array > 0))
            if full is not None:
                block = full[rows]
            else:
                block = self._factors[np.unique(self._index[rows])]
            out.append(_rank(block) - 1)
        return np.asarray(out, dtype=float)

    # -- thin estimator methods ---------------------------------------------------------------------
    def mean(self, y: Hashable, **options: Any) -> Any:
        """:func:`estimators.mean` on this replicate design."""
        return _estimation.mean(self, y, **options)

    def total(self, y: Hashable, **options: Any) -> Any:
        """:func:`estimators.total` on this replicate design."""
        return _estimation.total(self, y, **options)

    def proportion(self, y: Hashable, **options: Any) -> Any:
        """:func:`estimators.proportion` on this replicate design."""
        return _estimation.proportion(self, y, **options)

    def ratio(self, numerator: Hashable, denominator: Hashable, **options: Any) -> Any:
        """:func:`estimators.ratio` on this replicate design."""
        return _estimation.ratio(self, numerator, denominator, **options)

    def quantile(self, y: Hashable, quantiles: Any = 0.5, **options: Any) -> Any:
        """:func:`estimators.quantile` on this replicate design."""
        return _estimation.quantile(self, y, quantiles, **options)

    def __repr__(self) -> str:
        return (
            f"ReplicateDesign(method={self.method!r}, replicates={self.n_replicates}, "
            f"scale={self.scale:.6g}, design={self.design!r})"
        )


def _rank(matrix: np.ndarray, tol: float = 1e-5) -> int:
    """Numerical rank with R ``qr(..., tol = 1e-5)``'s relative tolerance (pivoted QR)."""
    if matrix.size == 0:
        return 0
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape[0] > 4 * matrix.shape[1]:  # tall: the Gram matrix's eigenvalues are cheaper
        values = np.linalg.eigvalsh(matrix.T @ matrix)
        return int((values > tol**2 * values.max(initial=0.0)).sum()) if values.size else 0
    r = linalg.qr(np.asarray(matrix, dtype=float), mode="r", pivoting=True)[0]
    diag = np.abs(np.diag(r))
    if diag.size == 0 or diag[0] == 0:
        return 0
    return int((diag > tol * diag[0]).sum())


def _combine_codes(codes: list[np.ndarray]) -> np.ndarray:
    """Codes 0..K-1 of the observed joint levels of several non-negative integer code arrays."""
    out = np.asarray(codes[0], dtype=np.int64)
    for c in codes[1:]:
        c = np.asarray(c, dtype=np.int64)
        out = out * (int(c.max(initial=0)) + 1) + c
        out = pd.factorize(out)[0].astype(np.int64)
    if len(codes) == 1:
        out = pd.factorize(out)[0].astype(np.int64)
    return out


def _cell_solver(step: WeightingStep) -> tuple[np.ndarray, int, Callable[[np.ndarray], np.ndarray]] | None:
    """For a step that acts by cells: (cell of each row, number of cells, g-solver on (C, R) totals).

    Post-stratification: ``g = N_c / B_c``. Raking: the engine's IPF kernel on the cell table with
    the step's options (tolerance, iterations, bounds); its targets are the step's achieved margin
    totals. Other steps (calibration with numeric totals, trimming) return None: they are re-run
    row by row through their own ``reweight``.
    """
    codes = [np.asarray(c, dtype=np.int64) for c in step.margin_codes]
    if not codes or any((c < 0).any() for c in codes) or step.reweight is None:
        return None
    w = np.asarray(step.weights, dtype=float)
    if step.method == "poststratify" and len(codes) == 1:
        cells = codes[0]
        n_cells = int(cells.max()) + 1
        targets = np.bincount(cells, weights=w, minlength=n_cells)

        def solve_post(cell_base: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(cell_base > 0, targets[:, None] / cell_base, 1.0)

        return cells, n_cells, solve_post
    if step.method != "rake":
        return None
    from estimators.weighting._ipf import MarginArrays, ipf

    cells = _combine_codes(codes)
    n_cells = int(cells.max()) + 1
    first = np.zeros(n_cells, dtype=np.int64)
    first[cells[::-1]] = np.arange(len(cells))[::-1]
    margins = [
        MarginArrays.build(c[first], np.bincount(c, weights=w, minlength=int(c.max()) + 1)) for c in codes
    ]
    options = step.options
    tol = float(options.get("tol", 1e-10))
    max_iter = int(options.get("max_iter", 1000))
    bounds = options.get("bounds")

    def solve_rake(cell_base: np.ndarray) -> np.ndarray:
        return ipf(cell_base, margins, tol=tol, max_iter=max_iter, bounds=bounds).g

    return cells, n_cells, solve_rake


# ==================================================================================================
# Generating replicate weights from a design
# ==================================================================================================
def hadamard(order: int) -> np.ndarray:
    """A Sylvester Hadamard matrix (entries +1/-1) of the smallest power-of-two order >= ``order``.

    Examples
    --------
    >>> hadamard(3).tolist()
    [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]
    """
    order = as_int(order, "order", minimum=1)
    H = np.ones((1, 1), dtype=np.int64)
    while H.shape[0] < order:
        H = np.block([[H, H], [H, -H]])
    return H


def _psu_structure(design: SurveyDesign) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stratum of each PSU, PSUs per stratum, first-stage sampling fraction per stratum)."""
    n_psu = design.n_psu
    strata_of_psu = np.zeros(n_psu, dtype=np.int64)
    strata_of_psu[design.psu_codes] = design.strata_codes
    n_h = np.bincount(strata_of_psu, minlength=design.n_strata)
    fraction = np.zeros(design.n_strata)
    if design.fpc_population is not None:
        pop = np.full(design.n_strata, np.inf)
        pop[design.strata_codes] = design.fpc_population
        fraction = n_h / pop
    return strata_of_psu, n_h, fraction


def replicate_design(
    design: SurveyDesign,
    *,
    method: ReplicateMethod = "jk1",
    replicates: int = 200,
    fay_rho: float = 0.3,
    lonely_psu: Literal["raise", "adjust", "certainty", "remove", "average"] = "raise",
    hadamard_matrix: Any = None,
    mse: bool = False,
    rng: Any = None,
) -> ReplicateDesign:
    """Replicate weights (JK1, JKn, BRR, Fay, Rao–Wu bootstrap) built from a design's strata and PSUs.

    Parameters
    ----------
    design : SurveyDesign
        Strata, PSUs and fpc define the replicates; its weighting steps are re-run on each. Of a
        multistage design, ``jk1``, ``jkn``, ``brr``, ``fay`` and ``bootstrap`` use the first
        stage and its fpc (as R, which drops the later fpcs), ``mrb`` every stage with an fpc.
    method : {"jk1", "jkn", "brr", "fay", "bootstrap", "mrb"}
        ``jk1``: delete-one-PSU jackknife for unstratified designs, ``scale = (1 - f)(n - 1)/n``
        (R ``as.svrepdesign(type="JK1")``, fpc included as R does). ``jkn``: stratified jackknife,
        ``rscales_h = (1 - f_h)(n_h - 1)/n_h``, scale 1. ``brr`` / ``fay``: balanced half-samples
        (exactly two PSUs per stratum) from a Hadamard matrix, multipliers 2 and 0 (Fay:
        ``2 - rho`` and ``rho``), ``scale = 1 / (R (1 - rho)^2)``. ``bootstrap``: Rao–Wu rescaling
        bootstrap drawing ``n_h - 1`` PSUs with replacement per stratum,
        ``multiplier = 1 - lambda + lambda n_h/(n_h - 1) m_hi`` with ``lambda = sqrt(1 - f_h)``
        (``lambda = 1`` without fpc, as R ``type="subbootstrap"``), ``scale = 1/(R - 1)``.
        ``mrb``: Preston's multistage rescaled bootstrap (R ``type="mrbbootstrap"``): at every
        stage with an fpc (the first stage only without fpc), half of the units of each stratum
        kept per replicate and rescaled, so that on average over the replicates the variance of
        a total is the multistage Taylor variance with the fpcs of every stage (see Notes).
    replicates : int
        Number of bootstrap (and ``mrb``) replicates.
    fay_rho : float
        Fay's perturbation factor in [0, 1) (method ``"fay"``).
    lonely_psu : {"raise", "adjust", "certainty", "remove", "average"}
        Single-PSU strata for ``jkn`` (as R ``jknweights``): raise, one replicate dropping the
        stratum rescaled ``H/(H-1)`` (``adjust``), no replicate (``certainty``/``remove``), or no
        replicate and ``scale`` = PSUs / replicates (``average``).
    hadamard_matrix : array, optional
        Your own Hadamard matrix (+1/-1 or two distinct values) for BRR, e.g. to reproduce
        published replicates, read as R ``brrweights(hadamard.matrix=)`` reads it: row ``1 + h``
        serves the ``h``-th stratum in the order of the strata labels as text, and in replicate
        ``r`` the first PSU of the stratum (in order of first appearance in the data) is left out
        where the entry equals the matrix's first entry ``H[0, 0]``. Default: Sylvester of the
        next power-of-two order > strata (first PSU in code order kept where the entry is +1).
    mse : bool
        Centre at the full-sample estimate instead of the replicates' mean.
    rng : None, int or numpy Generator
        Randomness for the bootstrap.

    Returns
    -------
    ReplicateDesign

    Notes
    -----
    Replicate multipliers are stored per PSU (n_psu x R; ``mrb`` with later stages: per unit of
    the last stage with an fpc). Estimates multiply the design's base weights by them and re-run
    every weighting step's vectorised ``reweight`` on the (n x R) block, in column chunks to bound
    memory.

    ``mrb`` (Preston 2009): at stage ``s``, in each stratum of ``n`` units (``N`` in the
    population, ``f = n / N``) and each replicate, ``m = floor(n / 2)`` units are kept at random;
    unit ``j`` adds ``c_j lambda (n / m 1[j kept] - 1)`` to the multiplier of its rows, with
    ``lambda = sqrt(F m (1 - f) / (n - m))``, ``F`` the product of the sampling fractions of the
    units above ``j`` and ``c_j`` the product of ``sqrt(n_r / m_r) 1[kept]`` over them (both 1 at
    the first stage). A stratum with a single unit adds nothing, for it nor below it (as R).

    References
    ----------
    Rao, J. N. K. and Wu, C. F. J. (1988). Resampling inference with complex survey data.
    *JASA* 83, 231–241. Rao, J. N. K., Wu, C. F. J. and Yue, K. (1992). Some recent work on
    resampling methods for complex surveys. *Survey Methodology* 18, 209–217.
    Judkins, D. R. (1990). Fay's method for variance estimation. *J. Official Statistics* 6, 223–239.
    Preston, J. (2009). Rescaled bootstrap for stratified multistage sampling. *Survey
    Methodology* 35, 227–234.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, replicate_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "psu": [1, 1, 2, 2, 3, 3]})
    >>> rd = replicate_design(SurveyDesign(df, psu="psu"), method="jk1")
    >>> rd.n_replicates, round(float(rd.mean("y").std_error[0]), 6)
    (3, 1.154701)

    Preston's bootstrap over both stages of a two-stage design (random; its variance of a total
    is the Taylor variance on average over the replicates):

    >>> two = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 6, 8, 7], "psu": [1, 1, 1, 1, 2, 2, 3, 3],
    ...                     "ssu": [1, 1, 2, 2, 1, 2, 1, 2], "N1": 6, "N2": 4})
    >>> d2 = SurveyDesign(two, psu=["psu", "ssu"], fpc=["N1", "N2"])
    >>> mrb = replicate_design(d2, method="mrb", replicates=4000, rng=1)
    >>> ratio = mrb.total("y").std_error[0] ** 2 / d2.total("y").std_error[0] ** 2
    >>> bool(abs(ratio - 1) < 0.1)
    True
    """
    if not isinstance(design, TaylorDesign):
        fail(ValidationError, "design", "must be a SurveyDesign", bad=[type(design).__name__])
    method = check_option(method, _METHODS, "method")
    lonely_psu = check_option(
        lonely_psu, ("raise", "adjust", "certainty", "remove", "average"), "lonely_psu"
    )
    strata_of_psu, n_h, fraction = _psu_structure(design)
    n_psu = design.n_psu
    labels = list(design.strata_labels)
    if method == "jk1":
        if design.n_strata > 1:
            fail(
                DesignError,
                "method",
                "'jk1' is for unstratified designs",
                bad=[f"{design.n_strata} strata"],
                fix="Use method='jkn' for a stratified design.",
            )
        n = n_psu
        if n < 2:
            fail(DesignError, "design", "the jackknife needs at least 2 PSUs", bad=[n])
        factors = np.full((n, n), n / (n - 1))
        np.fill_diagonal(factors, 0.0)
        scale = (1 - fraction[0]) * (n - 1) / n
        return ReplicateDesign(
            design, factors, design.psu_codes, method="jk1", scale=scale,
            rscales=np.ones(n), mse=mse, combined=False,
        )
    if method == "jkn":
        return _jkn(design, strata_of_psu, n_h, fraction, lonely_psu, labels, mse)
    if method in ("brr", "fay"):
        rho = 0.0 if method == "brr" else float(fay_rho)
        if not 0 <= rho < 1:
            fail(ValidationError, "fay_rho", "must lie in [0, 1)", bad=[fay_rho])
        return _brr(design, strata_of_psu, n_h, rho, hadamard_matrix, labels, mse, method)
    R = as_int(replicates, "replicates", minimum=2)
    if method == "mrb":
        return _rescaled_half_sample(design, strata_of_psu, n_h, fraction, R, as_rng(rng), mse)
    return _bootstrap(design, strata_of_psu, n_h, fraction, R, as_rng(rng), labels, mse)


def _rescaled_half_sample(
    design: SurveyDesign,
    strata_of_psu: np.ndarray,
    n_h: np.ndarray,
    fraction: np.ndarray,
    R: int,
    rng: np.random.Generator,
    mse: bool,
) -> ReplicateDesign:
    """Preston's multistage rescaled bootstrap (R ``mrbweights``) over every stage with an fpc.

    At each stage, in every stratum (within the units of the stage above) and replicate,
    ``m = floor(n / 2)`` of its ``n`` units are kept at random without replacement. Unit ``j``
    of stage ``s`` adds ``c_j (1 - lambda_s + lambda_s (n / m) 1[j kept]) - c_j`` to the
    multiplier of its rows, with ``lambda_s = sqrt(F_s m (1 - f_s) / (n - m))``, ``f_s = n / N``
    the stratum's sampling fraction, ``F_s`` the product of the sampling fractions of the
    units above it (1 at the first stage) and ``c_j`` the product of ``sqrt(n_r / m_r) 1[kept]``
    over its ancestors ``r`` (1 at the first stage). A stratum with one unit adds nothing, for
    its unit nor below it. ``scale = 1``, ``rscales = 1 / (R - 1)``.
    """
    levels = [(design.psu_codes, strata_of_psu, n_h.astype(float), fraction, np.ones(design.n_strata))]
    above = fraction[strata_of_psu]  # sampling fraction of each PSU
    for stage in design._fpc_stages():
        assert stage.population is not None
        cumulative = above[stage.parent_of_stratum]
        own = stage.sample_sizes / stage.population
        levels.append((stage.units, stage.strata_of_unit, stage.sample_sizes, own, cumulative))
        above = (cumulative * own)[stage.strata_of_unit]
    rows = levels[-1][0]
    carry = np.ones((int(levels[0][0].max(initial=-1)) + 1, R))
    parent = np.arange(carry.shape[0])
    factors = None
    for i, (units, strata, sizes, f, cumulative) in enumerate(levels):
        n_units = strata.size
        if i > 0:  # each unit of this stage inherits its parent unit's carry
            parent = np.zeros(n_units, dtype=np.int64)
            parent[units] = levels[i - 1][0]
            carry = carry[parent]
            factors = factors[parent]
        n = sizes[strata]
        m = np.floor(n / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(m > 0, np.sqrt(cumulative[strata] * m * np.maximum(1.0 - f[strata], 0.0)
                                          / (n - m)), 0.0)
        # m of the n units of each stratum kept: ranks of uniform keys within the stratum
        keys = strata[:, None] + rng.random((n_units, R))
        ranks = np.argsort(np.argsort(keys, axis=0, kind="stable"), axis=0, kind="stable")
        start = np.concatenate(([0], np.cumsum(np.bincount(strata, minlength=sizes.size))))
        kept = (ranks - start[strata][:, None]) < m[:, None]
        ratio = np.where(m > 0, n / np.maximum(m, 1.0), 0.0)
        term = carry * (lam[:, None] * (ratio[:, None] * kept - 1.0))
        factors = 1.0 + term if factors is None else factors + term
        carry = carry * (np.sqrt(ratio)[:, None] * kept)
    assert factors is not None
    return ReplicateDesign(
        design, factors, rows, method="mrb", scale=1.0,
        rscales=np.full(R, 1.0 / (R - 1)), mse=mse, combined=False,
    )


def _jkn(
    design: SurveyDesign,
    strata_of_psu: np.ndarray,
    n_h: np.ndarray,
    fraction: np.ndarray,
    lonely_psu: str,
    labels: list[Any],
    mse: bool,
) -> ReplicateDesign:
    H = design.n_strata
    lonely = np.flatnonzero((n_h == 1) & (fraction < 1))
    if lonely.size and lonely_psu == "raise":
        fail(
            DesignError,
            "lonely_psu",
            "some strata have only one PSU, so the stratified jackknife cannot drop it",
            bad=[labels[i] for i in lonely],
            fix="Collapse strata, or pass lonely_psu='adjust', 'average', 'certainty' or 'remove'.",
        )
    columns: list[np.ndarray] = []
    rscales: list[float] = []
    n_psu = len(strata_of_psu)
    for h in range(H):
        members = np.flatnonzero(strata_of_psu == h)
        nh = len(members)
        f = 1 - fraction[h]
        if f <= 0:  # census stratum: no variance, no replicates (R survey.drop.replicates)
            continue
        if nh == 1:
            if lonely_psu == "adjust":
                col = np.full(n_psu, H / (H - 1))
                col[members] = 0.0
                columns.append(col)
                rscales.append((H - 1) / H)
            continue
        for m in members:
            col = np.ones(n_psu)
            col[members] = nh / (nh - 1)
            col[m] = 0.0
            columns.append(col)
            rscales.append(f * (nh - 1) / nh)
    if not columns:
        fail(DesignError, "design", "every stratum was sampled completely: there is no sampling variance")
    # R jknweights: with "average", the missing replicates of lonely strata are made up for
    scale = n_psu / len(columns) if lonely_psu == "average" and len(columns) < n_psu else 1.0
    return ReplicateDesign(
        design, np.column_stack(columns), design.psu_codes, method="jkn", scale=scale,
        rscales=np.asarray(rscales), mse=mse, combined=False,
    )


def _brr(
    design: SurveyDesign,
    strata_of_psu: np.ndarray,
    n_h: np.ndarray,
    rho: float,
    hadamard_matrix: Any,
    labels: list[Any],
    mse: bool,
    method: str,
) -> ReplicateDesign:
    not_two = np.flatnonzero(n_h != 2)
    if not_two.size:
        fail(
            DesignError,
            "method",
            f"{method!r} needs exactly two PSUs in every stratum",
            bad=[f"{labels[i]}: {int(n_h[i])} PSUs" for i in not_two],
            fix="Pair PSUs into pseudo-strata of two, or use method='jkn' or 'bootstrap'.",
        )
    H = design.n_strata
    if hadamard_matrix is None:
        Hm = hadamard(H + 1)
    else:
        Hm = np.asarray(hadamard_matrix)
        values = np.unique(Hm)
        if Hm.ndim != 2 or Hm.shape[0] < H + 1 or values.size != 2:
            fail(
                ValidationError,
                "hadamard_matrix",
                f"must be a square two-valued matrix with at least strata + 1 = {H + 1} rows",
                bad=[f"shape {Hm.shape}, {values.size} distinct values"],
            )
        # R brrweights: the value of the matrix's first entry means "first PSU out"
        Hm = np.where(Hm == Hm.flat[0], -1, 1)
        if not np.array_equal(Hm @ Hm.T, Hm.shape[1] * np.eye(Hm.shape[0], dtype=Hm.dtype)):
            fail(ValidationError, "hadamard_matrix", "is not a Hadamard matrix (rows not orthogonal)")
    R = Hm.shape[1]
    n_psu = len(strata_of_psu)
    if hadamard_matrix is None:
        # first PSU of each stratum (in PSU code order) is "in" when H[1 + h, r] == +1
        stratum_row = strata_of_psu
        order = np.argsort(strata_of_psu, kind="stable")
    else:
        # as R brrweights: strata in the order of their labels as text, PSUs of a stratum in the
        # order they first appear in the data
        text = np.asarray([str(v) for v in labels], dtype=object)
        rank = np.empty(len(text), dtype=np.int64)
        rank[np.argsort(text, kind="stable")] = np.arange(len(text))
        stratum_row = rank[strata_of_psu]
        appearance = np.full(n_psu, len(design.psu_codes), dtype=np.int64)
        np.minimum.at(appearance, design.psu_codes, np.arange(len(design.psu_codes)))
        order = np.lexsort((appearance, stratum_row))
    first = np.zeros(n_psu, dtype=bool)
    first[order[0::2]] = True
    signs = Hm[1 + stratum_row, :]  # (n_psu, R)
    inside = np.where(first[:, None], signs > 0, signs < 0)
    factors = np.where(inside, 2.0 - rho, rho)
    return ReplicateDesign(
        design, factors, design.psu_codes, method=method, scale=1.0 / (R * (1 - rho) ** 2),
        rscales=np.ones(R), mse=mse, combined=False,
    )


def _bootstrap(
    design: SurveyDesign,
    strata_of_psu: np.ndarray,
    n_h: np.ndarray,
    fraction: np.ndarray,
    R: int,
    rng: np.random.Generator,
    labels: list[Any],
    mse: bool,
) -> ReplicateDesign:
    small = np.flatnonzero(n_h < 2)
    if small.size:
        fail(
            DesignError,
            "design",
            "the Rao–Wu bootstrap needs at least two PSUs in every stratum",
            bad=[labels[i] for i in small],
            fix="Collapse those strata with a neighbour.",
        )
    n_psu = len(strata_of_psu)
    factors = np.empty((n_psu, R))
    for h in range(design.n_strata):
        members = np.flatnonzero(strata_of_psu == h)
        nh = len(members)
        # n_h - 1 draws with replacement per replicate, counted per PSU in one bincount
        draws = rng.integers(0, nh, size=(R, nh - 1))
        draws *= R
        draws += np.arange(R)[:, None]
        counts = np.bincount(draws.ravel(), minlength=nh * R).reshape(nh, R)  # (nh, R), C order
        del draws
        lam = np.sqrt(max(1.0 - fraction[h], 0.0))
        block = counts * (lam * nh / (nh - 1))
        block += 1.0 - lam
        if nh == n_psu:
            factors = block
        else:
            factors[members] = block
    return ReplicateDesign(
        design, factors, design.psu_codes, method="bootstrap", scale=1.0 / (R - 1),
        rscales=np.ones(R), mse=mse, combined=False,
    )


def _replicate_statistic(numerator: Any, denominator: Any, weights: np.ndarray) -> np.ndarray:
    """Totals ``numerator @ W`` per replicate column, or their ratio to ``denominator @ W``."""
    num = np.asarray(numerator @ weights)
    if denominator is None:
        return num
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / np.asarray(denominator @ weights)
