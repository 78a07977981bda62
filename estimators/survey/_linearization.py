"""Taylor-linearisation kernels: PSU totals, stratified with-replacement variance, calibration residuals.

Everything here works on numpy arrays (and scipy sparse matrices) that the public functions in
:mod:`estimators.survey` have already validated. The conventions follow R ``survey``
(``svyrecvar``/``onestage``/``onestrat``): PSUs are treated as drawn with replacement within strata,
with the first-stage finite-population correction ``f_h = (N_h - n_h) / N_h``, plus R's recursive
terms of the later stages of a multistage design (:func:`later_stage_covariance`); after calibration
the linearised variable is replaced by its residuals from the calibration model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from estimators._lib.validation import fail
from estimators.errors import DesignError
from estimators.survey._weighting_steps import WeightingStep

__all__ = [
    "LaterStage",
    "LonelyPsu",
    "RakingVariance",
    "later_stage_covariance",
    "psu_strata",
    "residualize",
    "stratified_covariance",
    "stratified_variances",
]

LonelyPsu = Literal["raise", "adjust", "certainty", "remove", "average"]
RakingVariance = Literal["greg", "backfit"]

#: R ``rake()`` variance convention: this many back-fitting sweeps over the margins.
BACKFIT_SWEEPS = 10


def psu_strata(strata_codes: np.ndarray, psu_codes: np.ndarray, n_psu: int) -> np.ndarray:
    """Stratum code of each PSU (PSUs are nested in strata)."""
    out = np.zeros(n_psu, dtype=np.int64)
    out[psu_codes] = strata_codes
    return out


def psu_totals(x: np.ndarray | sp.spmatrix, psu_codes: np.ndarray, n_psu: int) -> np.ndarray:
    """Column sums of ``x`` (n x k, dense or sparse) within each PSU: an (n_psu x k) array."""
    if sp.issparse(x):
        coo = sp.coo_matrix(x)
        k = coo.shape[1]
        flat = np.bincount(
            psu_codes[coo.row] * k + coo.col, weights=coo.data, minlength=n_psu * k
        )
        return flat.reshape(n_psu, k)
    x2 = x.reshape(len(x), -1)
    out = np.empty((n_psu, x2.shape[1]))
    for j in range(x2.shape[1]):
        out[:, j] = np.bincount(psu_codes, weights=x2[:, j], minlength=n_psu)
    return out


def stratified_covariance(
    totals: np.ndarray,
    strata_of_psu: np.ndarray,
    n_strata: int,
    population_psu: np.ndarray | None,
    lonely_psu: LonelyPsu,
    strata_labels: Sequence[Any],
    *,
    present: np.ndarray | None = None,
    psu_present: np.ndarray | None = None,
    domain_lonely: bool = False,
    weights: np.ndarray | None = None,
    psu_weights: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """With-replacement covariance of the PSU totals of a linearised variable.

    ``V = sum_h f_h n_h / (n_h - 1) sum_i (t_hi - tbar_h)(t_hi - tbar_h)^T`` with
    ``f_h = 1 - n_h / N_h`` (1 without fpc). Strata sampled completely (``f_h = 0``) contribute 0.
    A stratum with a single PSU is handled by ``lonely_psu`` as R's ``survey.lonely.psu``: ``raise``
    (R ``"fail"``), ``certainty`` and ``remove`` (contribute 0), ``adjust`` (the PSU total is taken as a
    deviation from zero, i.e. from the grand mean of a centred influence function) and ``average``
    (the lonely strata are left out and the sum of the others scaled by strata / strata left, so
    each lonely stratum counts as the average stratum). ``weights`` multiply each stratum's
    contribution (a later stage of a multistage design: the sampling fractions of the stages
    above); ``psu_weights`` each PSU's (Brewer's approximation for PPS without replacement:
    ``1 - pi_i``). ``groups`` (a code per stratum) are the units of the stage above at a later
    stage: ``average`` then counts strata and lonely strata within each group, as R's
    ``onestage`` does within each unit (default: one group, the whole design).

    ``present`` (strata x statistics, bool) says which strata have rows of each statistic's domain
    and ``psu_present`` how many PSUs (default: all strata, all PSUs). With ``domain_lonely`` (R
    ``survey.adjust.domain.lonely``), a stratum whose domain has one PSU out of several is treated
    as lonely for ``adjust`` (deviation from zero) and ``average`` (left out); R counts only the
    strata present in the domain for ``average``; a domain whose strata are all lonely gets a
    NaN variance there (R: 0 * strata / 0).
    """
    n_h = np.bincount(strata_of_psu, minlength=n_strata).astype(float)
    scale, adjusted = _stratum_scale(n_h, population_psu, lonely_psu, strata_labels)
    if weights is not None:  # a later stage: each "stratum" (PSU) weighted by its stage above
        scale = scale * weights
    k = totals.shape[1]
    sums = np.empty((n_strata, k))
    for j in range(k):
        sums[:, j] = np.bincount(strata_of_psu, weights=totals[:, j], minlength=n_strata)
    means = sums / np.maximum(n_h, 1.0)[:, None]
    means[adjusted] = 0.0
    weight = scale[strata_of_psu]
    if psu_weights is not None:  # PPS without replacement (Brewer): 1 - pi_i per PSU
        weight = weight * psu_weights
    if lonely_psu not in ("adjust", "average") or not (domain_lonely or lonely_psu == "average"):
        dev = totals - means[strata_of_psu]
        return (dev * weight[:, None]).T @ dev
    certain = _certain(n_h, population_psu)
    if present is None:
        present = np.repeat((n_h > 0)[:, None], k, axis=1)
    if psu_present is None:
        psu_present = np.repeat(n_h[:, None], k, axis=1)
    one_in_domain = np.zeros((n_strata, k), dtype=bool)
    if domain_lonely:
        one_in_domain = (n_h > 1)[:, None] & (psu_present == 1) & ~certain[:, None]
    if lonely_psu == "adjust":
        means[one_in_domain] = 0.0
        dev = totals - means[strata_of_psu]
        return (dev * weight[:, None]).T @ dev
    lonely = ((n_h == 1) & ~certain)[:, None] | one_in_domain
    excluded = lonely & present
    if groups is None:
        group = np.zeros(n_strata, dtype=np.int64)
        n_present = present.sum(axis=0, keepdims=True)
        n_kept = n_present - excluded.sum(axis=0, keepdims=True)
    else:
        group = groups
        n_groups = int(group.max(initial=-1)) + 1
        n_present = np.zeros((n_groups, k))
        n_kept = np.zeros((n_groups, k))
        np.add.at(n_present, group, present.astype(float))
        np.add.at(n_kept, group, (present & ~excluded).astype(float))
    # a group whose strata are all lonely has no variance estimate: NaN, as R (0 * H / 0);
    # a group with no stratum in the domain (a later stage) is not visited by R: 0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.where(n_kept > 0, n_present / np.maximum(n_kept, 1), np.nan))
    if groups is not None:
        root[n_present == 0] = 0.0
    dev = (totals - means[strata_of_psu]) * (~excluded)[strata_of_psu]
    dev = dev * root[group[strata_of_psu]]
    return (dev * weight[:, None]).T @ dev


@dataclass(frozen=True)
class LaterStage:
    """Stage ``s >= 2`` of a multistage design: units sampled within strata of the units above.

    Attributes
    ----------
    number : int
        The stage's number (2, 3, ...), for messages.
    units : ndarray
        Code (0..K-1) of each row's unit at this stage; units are nested in the units above.
    strata_of_unit : ndarray
        Stratum code (0..S-1) of each unit; strata are nested in the units of the stage above.
    parent_of_stratum : ndarray
        Code of the unit of the stage above that holds each stratum.
    population : ndarray or None
        Population size of each stratum (``N``: units in the population of that stratum); None: no
        finite-population correction given, so the design's variance stops at the stage above
        (its units are taken as ultimate clusters).
    """

    number: int
    units: np.ndarray
    strata_of_unit: np.ndarray
    parent_of_stratum: np.ndarray
    population: np.ndarray | None

    @property
    def n_units(self) -> int:
        return self.strata_of_unit.size

    @property
    def n_strata(self) -> int:
        return self.parent_of_stratum.size

    @property
    def sample_sizes(self) -> np.ndarray:
        """Number of sampled units in each stratum (float)."""
        return np.bincount(self.strata_of_unit, minlength=self.n_strata).astype(float)


class _StageLabels:
    """Message labels of a later stage's strata, built only when a message needs one."""

    def __init__(self, stage: LaterStage) -> None:
        self._stage = stage

    def __getitem__(self, i: int) -> str:
        parent = int(self._stage.parent_of_stratum[i])
        return f"stage {self._stage.number}: stratum {int(i)} within unit {parent} of stage " \
            f"{self._stage.number - 1}"


def later_stage_covariance(
    stage_totals: Sequence[np.ndarray],
    stages: Sequence[LaterStage],
    fraction: np.ndarray,
    lonely_psu: LonelyPsu,
    *,
    presence: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    domain_lonely: bool = False,
) -> np.ndarray | None:
    """The stages after the first of R's multistage variance (``svyrecvar``), unrolled.

    R's recursion adds, for every sampled unit ``i`` of stage ``s - 1``, the variance of the
    stage-``s`` unit totals within ``i`` times the sampling fractions of ``i`` and of its
    ancestors. Unrolled, stage ``s`` adds

    ``sum_g F_g sum_(h in g) (1 - n_h / N_h) n_h / (n_h - 1) sum_j (t_hj - tbar_h)^2``

    over the units ``g`` of stage ``s - 1``, their strata ``h`` at stage ``s`` and the totals
    ``t_hj`` of the ``n_h`` sampled units ``j`` of ``h``, with ``F_g = prod_(r < s) n_r / N_r``
    along ``g``'s ancestry. Lonely units follow ``lonely_psu`` within each stratum and, for
    ``average``, within each unit ``g`` (R's ``onestage`` inside the recursion). The stages end
    at the first one without a population size.

    ``stage_totals`` holds the unit totals (units x statistics) of each stage, ``fraction`` the
    first-stage sampling fraction of each PSU and ``presence`` per stage the (strata x
    statistics) flags and unit counts of a domain (see :func:`stratified_covariance`). Returns
    None when no later stage has a population size.
    """
    cov = None
    for s, (stage, totals) in enumerate(zip(stages, stage_totals, strict=True)):
        if stage.population is None:
            break
        weights = fraction[stage.parent_of_stratum]
        present, psu_present = (None, None) if presence is None or presence[s] is None \
            else presence[s]
        term = stratified_covariance(
            totals, stage.strata_of_unit, stage.n_strata, stage.population, lonely_psu,
            _StageLabels(stage), present=present, psu_present=psu_present,  # type: ignore[arg-type]
            domain_lonely=domain_lonely, weights=weights, groups=stage.parent_of_stratum,
        )
        cov = term if cov is None else cov + term
        # the fraction of each unit of this stage: its stratum's n / N times its ancestors'
        own = stage.sample_sizes / stage.population
        fraction = (weights * own)[stage.strata_of_unit]
    return cov


def stratified_variances(
    psu: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    k: int,
    strata_of_psu: np.ndarray,
    n_strata: int,
    population_psu: np.ndarray | None,
    lonely_psu: LonelyPsu,
    strata_labels: Sequence[Any],
) -> np.ndarray:
    """The diagonal of :func:`stratified_covariance`, from entries, in O(entries + k) memory.

    Entry ``e`` adds ``values[e]`` to the total of PSU ``psu[e]`` for statistic ``cols[e]``. Per
    stratum and statistic, ``sum_i (t_hi - tbar_h)^2 = sum_i t_hi^2 - (sum_i t_hi)^2 / n_h`` over
    the stratum's PSUs (PSUs without an entry have total 0), so only the non-zero PSU totals are
    ever formed — many domains (e.g. 100,000 over 200,000 rows) cost what their rows cost.
    """
    n_h = np.bincount(strata_of_psu, minlength=n_strata).astype(float)
    scale, lonely = _stratum_scale(n_h, population_psu, lonely_psu, strata_labels)
    # non-zero PSU totals: unique (psu, statistic) keys
    key = psu.astype(np.int64) * k + cols
    keys, inverse = np.unique(key, return_inverse=True)
    totals = np.bincount(inverse, weights=values, minlength=keys.size)
    t_psu, t_col = np.divmod(keys, k)
    stratum = strata_of_psu[t_psu]
    cell = stratum * k + t_col
    sq = np.bincount(cell, weights=totals * totals, minlength=n_strata * k).reshape(n_strata, k) \
        if n_strata * k <= 50_000_000 else None
    if sq is None:  # very many strata x statistics: group the occupied cells only
        cells, cell_inverse = np.unique(cell, return_inverse=True)
        sq_c = np.bincount(cell_inverse, weights=totals * totals)
        sum_c = np.bincount(cell_inverse, weights=totals)
        h, j = np.divmod(cells, k)
        dev = sq_c - np.where(lonely[h], 0.0, sum_c**2 / np.maximum(n_h[h], 1.0))
        return np.bincount(j, weights=scale[h] * dev, minlength=k)
    sums = np.bincount(cell, weights=totals, minlength=n_strata * k).reshape(n_strata, k)
    centred = sums**2 / np.maximum(n_h, 1.0)[:, None]
    centred[lonely] = 0.0  # lonely_psu="adjust": deviation from zero
    return scale @ (sq - centred)


def _certain(n_h: np.ndarray, population_psu: np.ndarray | None) -> np.ndarray:
    """Strata sampled completely (finite-population correction below 1e-7, as R)."""
    if population_psu is None:
        return np.zeros(n_h.size, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isinf(population_psu), 1.0, (population_psu - n_h) / population_psu)
    return f < 1e-7


def _stratum_scale(
    n_h: np.ndarray,
    population_psu: np.ndarray | None,
    lonely_psu: LonelyPsu,
    strata_labels: Sequence[Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Per-stratum factor ``f_h n_h / (n_h - 1)`` and the lonely strata whose deviations are taken
    from zero (``lonely_psu="adjust"``); raises for lonely strata under ``lonely_psu="raise"``."""
    n_strata = n_h.size
    if population_psu is None:
        f = np.ones(n_strata)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isinf(population_psu), 1.0, (population_psu - n_h) / population_psu)
    certain = f < 1e-7
    lonely = (n_h == 1) & ~certain
    if lonely.any() and lonely_psu == "raise":
        fail(
            DesignError,
            "lonely_psu",
            "some strata have only one PSU, so their variance cannot be estimated",
            bad=[strata_labels[i] for i in np.flatnonzero(lonely)],
            fix="Collapse those strata with a neighbour, or pass lonely_psu='adjust', "
            "'average', 'certainty' or 'remove' (as R's options(survey.lonely.psu=...)).",
        )
    scale = np.zeros(n_strata)
    many = (n_h > 1) & ~certain
    scale[many] = f[many] * n_h[many] / (n_h[many] - 1.0)
    adjusted = np.zeros(n_strata, dtype=bool)
    if lonely_psu == "adjust":
        scale[lonely] = f[lonely]
        adjusted = lonely
    return scale, adjusted


# -- calibration residuals -------------------------------------------------------------------------


def _indicator_matrix(codes: Sequence[np.ndarray]) -> sp.csr_matrix:
    """Stacked indicator columns of the given per-row category codes (one block per margin)."""
    blocks = []
    for c in codes:
        c = np.asarray(c, dtype=np.int64)
        n = len(c)
        m = int(c.max(initial=-1)) + 1
        rows = np.flatnonzero(c >= 0)  # -1: a row left out of the weighting step
        blocks.append(sp.csr_matrix((np.ones(rows.size), (rows, c[rows])), shape=(n, m)))
    return sp.hstack(blocks, format="csr")


def _model_matrix(step: WeightingStep) -> Any:
    if step.model_matrix is not None:
        mm = step.model_matrix
        return sp.csr_matrix(mm) if sp.issparse(mm) else np.asarray(mm, dtype=float)
    if step.margin_codes:
        return _indicator_matrix(step.margin_codes)
    fail(
        DesignError,
        "design",
        f"the weighting step {step.method!r} carries neither a model matrix nor margin codes, "
        "so its effect on the variance is unknown",
        fix="Record model_matrix or margin_codes on the WeightingStep.",
    )


def _greg_residualize(x: np.ndarray, step: WeightingStep) -> np.ndarray:
    """R's calibration convention: ``x <- x - w_s * X beta`` with ``beta`` from a ``d``-weighted fit.

    As R's ``qr.resid(qr(X sqrt(d)), x / (g sqrt(d))) * g sqrt(d)``, where ``d`` are the step's input
    weights, ``w_s = g d`` its output weights. For a single step ``x = w z`` this is
    ``w (z - X beta_d)`` with ``beta_d`` the ``d``-weighted least-squares fit: the GREG residual.
    Dense model matrices use a pivoted QR (numerically as R); large sparse indicator matrices use
    the (well-conditioned) normal equations on the cell table.
    """
    X = _model_matrix(step)
    # linear calibration with variance= projects with the weights d / v (R's calibrate)
    d = np.asarray(step.options.get("projection_weights", step.base_weights), dtype=float)
    w = np.asarray(step.weights, dtype=float)
    g = np.where(d > 0, w / np.where(d > 0, d, 1.0), 1.0)
    n, p = X.shape
    if sp.issparse(X) and n * p > _DENSE_QR_CELLS:
        xg = x / g[:, None]
        gram = (X.T @ X.multiply(d[:, None]).tocsr()).toarray()
        beta = _solve_symmetric(gram, np.asarray(X.T @ xg))
        return x - w[:, None] * np.asarray(X @ beta)
    dense = X.toarray() if sp.issparse(X) else X
    root = np.sqrt(d)
    a = dense * root[:, None]
    scale = g * root
    u = np.where(scale[:, None] > 0, x / np.where(scale > 0, scale, 1.0)[:, None], 0.0)
    q, r, _ = linalg.qr(a, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-7 * diag.max(initial=0.0)).sum())
    q = q[:, :rank]
    resid = u - q @ (q.T @ u)
    return resid * scale[:, None]


#: model matrices with at most this many cells are residualised with a pivoted QR (as R)
_DENSE_QR_CELLS = 2_000_000


def _solve_symmetric(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """A solution of ``gram @ beta = rhs`` for a symmetric PSD (possibly singular) ``gram``.

    Collinear indicator blocks (every category of several margins) make ``gram`` singular; any
    solution gives the same fitted values, so the minimum-norm one from an eigendecomposition is used.
    """
    vals, vecs = np.linalg.eigh(gram)
    keep = vals > vals.max(initial=0.0) * 1e-12
    inv = np.zeros_like(vals)
    inv[keep] = 1.0 / vals[keep]
    return vecs @ (inv[:, None] * (vecs.T @ rhs))


def _backfit_residualize(x: np.ndarray, step: WeightingStep) -> np.ndarray:
    """R ``rake()``'s convention: back-fit unweighted cell means of ``x / w`` over the margins.

    ``BACKFIT_SWEEPS`` sweeps of ``x <- x - w * ave(x / w, margin)`` over the margins in order, as R's
    ``svyrecvar`` does for a design made by ``rake()``.
    """
    w = np.asarray(step.weights, dtype=float)
    safe = np.where(w > 0, w, 1.0)
    x = x.copy()
    for _ in range(BACKFIT_SWEEPS):
        for raw in step.margin_codes:
            raw = np.asarray(raw, dtype=np.int64)
            m = int(raw.max(initial=-1)) + 1
            codes = np.where(raw >= 0, raw, m)  # rows left out of the raking: an extra, unused cell
            counts = np.bincount(codes, minlength=m + 1).astype(float)
            counts[m] = np.inf
            ratio = np.where(w[:, None] > 0, x / safe[:, None], 0.0)
            for j in range(x.shape[1]):
                cell_mean = np.bincount(codes, weights=ratio[:, j], minlength=m + 1) / np.maximum(counts, 1)
                x[:, j] -= w * cell_mean[codes]
    return x


def residualize(
    x: np.ndarray, steps: Sequence[WeightingStep], raking_variance: RakingVariance
) -> np.ndarray:
    """Replace the linearised variable ``x = w z`` (n x k) by its calibration residuals, step by step.

    Steps are applied oldest first, as R applies ``design$postStrata``. Plain ``trim`` steps (no
    model) leave the linearisation unchanged (as R's ``trimWeights``); trim-then-recalibrate steps
    project on their calibration model. ``rake`` steps use the GREG projection on the
    margin indicators (``raking_variance="greg"``, the same as ``calibrate(method="raking")``) or R
    ``rake()``'s back-fitting (``"backfit"``).
    """
    for step in steps:
        if step.method == "trim" and step.model_matrix is None and not step.margin_codes:
            continue  # plain trimming (R trimWeights): no calibration model to project on
        if step.method == "rake" and raking_variance == "backfit":
            if not step.margin_codes:
                fail(
                    DesignError,
                    "raking_variance",
                    "'backfit' needs the margin codes of the raking step",
                    fix="Use raking_variance='greg'.",
                )
            x = _backfit_residualize(x, step)
        else:
            x = _greg_residualize(x, step)
    return x


def within_cluster_residuals(x: np.ndarray, steps: Sequence[WeightingStep]) -> np.ndarray:
    """``x`` (n, k) for the stages below the first after calibrations *within* first-stage
    clusters (``calibrate(within=)``, R ``calibrate(..., stage = 1)``).

    As R's ``multistage``: the between-cluster variance uses ``x`` as it is (each cluster's
    totals are fixed by its own calibration, not by the sample), and each cluster's contribution
    to the later stages uses the residuals of that cluster's calibration,
    ``x_c <- qr.resid(qr(X_c sqrt(d_c / d_1c) / sigma_c), x_c / w_c) w_c`` with
    ``w_c = w sigma_c`` (``w`` the calibrated weights, ``d / d_1`` the conditional weights the
    cluster was calibrated from, ``sigma^2`` the ``variance=`` values, 1 by default).
    Without such a step ``x`` is returned unchanged.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, section 7.4; R survey's ``regcalibrate`` and
    ``multistage`` (the stage-wise residuals).
    """
    out = x
    for step in steps:
        models = step.options.get("within_models")
        if not models:
            continue
        out = np.array(out, dtype=np.float64, copy=True)
        d1 = np.asarray(step.options["stage_weights"], dtype=np.float64)
        sigma2 = step.options.get("within_variance")
        sigma = np.ones(len(d1)) if sigma2 is None else np.sqrt(np.asarray(sigma2, dtype=float))
        d, w = step.base_weights, step.weights
        for rows, model in models:
            matrix = model.toarray() if sp.issparse(model) else np.asarray(model, dtype=float)
            a = matrix * (np.sqrt(d[rows] / d1[rows]) / sigma[rows])[:, None]
            scale = w[rows] * sigma[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(scale[:, None] != 0, out[rows] / scale[:, None], 0.0)
            coef = np.linalg.lstsq(a, v, rcond=None)[0]
            out[rows] = (v - a @ coef) * scale[:, None]
    return out
