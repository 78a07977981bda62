"""The common arm of a policy simulation in plain numpy: no data frame, no design object.

Most arms of :func:`~sampling.simulate_policies` draw a few hundred people, rake them (or not) to
one-way population shares and take weighted means with Taylor standard errors. Building a pandas
frame and a ``SurveyDesign`` for each of thousands of such arms costs far more than the arithmetic,
so this module does the same arithmetic on integer codes prepared once per simulation: the cell
table of the sample, iterative proportional fitting by the package's own kernel
(the same sweeps, tolerance and iteration limit as ``rake``'s kernel), the
GREG residuals of the linearised means (:func:`estimators.survey._linearization.residualize`) and
the stratified with-replacement variance. Anything outside that common case — a category missing
from the sample, non-convergence, a stratum with one person, trimming, other reweighting methods or
options — returns None and the arm runs through the full ``rake`` / ``SurveyDesign`` path, which
also produces the error or warning the user would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estimators.survey._linearization import residualize, stratified_covariance
from estimators.survey._weighting_steps import WeightingStep

__all__ = ["ArmResult", "FastWeighting", "fast_weighting", "weigh_arm"]

# the defaults of estimators.rake, which the full path uses
_TOL = 1e-10
_MAX_ITER = 1000
_SHARE_TOLERANCE = 1e-9
_HANDLED_OPTIONS = frozenset({"on_empty_category"})
_EMPTY_CATEGORY_CHOICES = frozenset({"raise", "drop"})


@dataclass(frozen=True, eq=False)
class FastWeighting:
    """Population codes of the weighting variables and their target shares, prepared once."""

    codes: np.ndarray  # (N, V) category code of every person for every variable
    sizes: tuple[int, ...]  # categories per variable
    shares: tuple[np.ndarray, ...]  # target share per category, per variable
    drop_empty: bool = False  # on_empty_category="drop": a category nobody drew is left out


@dataclass(frozen=True, eq=False)
class ArmResult:
    """Final weights and the design-based standard error of each option's weighted mean."""

    weights: np.ndarray
    std_errors: np.ndarray | None


def fast_weighting(
    population: pd.DataFrame,
    variables: tuple[str, ...],
    margins: dict[str, dict[Any, float]],
    trim: Any,
    weighting_options: dict[str, Any],
) -> FastWeighting | None:
    """Codes and shares for the numpy path, or None when the simulation's settings need the full
    weighting functions (trimming, options other than ``on_empty_category``, margins given as
    counts or not covering every category of the population)."""
    if trim or set(weighting_options) - _HANDLED_OPTIONS or set(margins) != set(variables):
        return None
    empty_rule = weighting_options.get("on_empty_category", "raise")
    if empty_rule not in _EMPTY_CATEGORY_CHOICES:
        return None
    codes = np.empty((len(population), len(variables)), dtype=np.int64)
    sizes, shares = [], []
    for v, var in enumerate(variables):
        targets = margins[var]
        share = np.array([float(s) for s in targets.values()])
        if abs(share.sum() - 1.0) > _SHARE_TOLERANCE or (share <= 0).any():
            return None
        categorical = pd.Categorical(population[var], categories=list(targets))
        if (categorical.codes < 0).any():
            return None
        codes[:, v] = categorical.codes
        sizes.append(len(targets))
        shares.append(share)
    return FastWeighting(codes, tuple(sizes), tuple(shares), drop_empty=empty_rule == "drop")


def weigh_arm(
    method: str,
    prepared: FastWeighting | None,
    indices: np.ndarray,
    design_weights: np.ndarray,
    strata: np.ndarray | None,
    y: np.ndarray,
    design_se: bool,
) -> ArmResult | None:
    """Weights (and design SEs of the k weighted means of ``y``) for one drawn sample, or None
    when the full path must run (see the module notes)."""
    d = np.asarray(design_weights, dtype=np.float64)
    steps: list[WeightingStep] = []
    if method == "none":
        w = d
    elif method == "rake" and prepared is not None:
        raked = _rake(prepared, indices, d)
        if raked is None:
            return None
        w, step = raked
        steps.append(step)
    else:
        return None
    if not design_se:
        return ArmResult(w, None)
    se = _mean_std_errors(w, y, steps, strata)
    return None if se is None else ArmResult(w, se)


def _rake(
    prepared: FastWeighting, indices: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, WeightingStep] | None:
    sample = prepared.codes[indices]
    key = np.ravel_multi_index(sample.T, prepared.sizes) if sample.shape[1] > 1 else sample[:, 0]
    cells, row_cell = np.unique(key, return_inverse=True)
    cell_codes = np.column_stack(np.unravel_index(cells, prepared.sizes)) if sample.shape[1] > 1 \
        else cells[:, None]
    cell_base = np.bincount(row_cell, weights=d, minlength=cells.size)
    if not (cell_base > 0).all():
        return None
    total = float(d.sum())
    targets, categories, kept = [], [], []
    for v, share in enumerate(prepared.shares):
        present = np.bincount(cell_codes[:, v], weights=cell_base, minlength=share.size) > 0
        if not present.all():
            if not prepared.drop_empty or not present.any():
                return None  # the full path raises (or records) the empty category
            # on_empty_category="drop": leave the category out, rescale the others' shares
            share = np.where(present, share, 0.0) / share[present].sum()
        compact = np.cumsum(present) - 1  # codes of the categories kept
        targets.append((share * total)[present])
        categories.append(compact[cell_codes[:, v]])
        kept.append(compact[sample[:, v]])
    g = _ipf_cells(cell_base, categories, targets)
    if g is None:
        return None
    w = d * g[row_cell]
    # the margin indicators as a small dense matrix (one column per category kept)
    sizes = [target.size for target in targets]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    indicators = np.zeros((len(d), int(sum(sizes))))
    rows = np.arange(len(d))
    for v, codes in enumerate(kept):
        indicators[rows, offsets[v] + codes] = 1.0
    step = WeightingStep(
        method="rake", base_weights=d, weights=w, model_matrix=indicators,
        margin_codes=tuple(kept),
    )
    return w, step


def _ipf_cells(
    cell_base: np.ndarray, categories: list[np.ndarray], targets: list[np.ndarray]
) -> np.ndarray | None:
    """g per cell by iterative proportional fitting: the same sweeps and stopping rule as
    :func:`estimators.weighting._ipf.ipf` (after each sweep over the margins, the largest relative
    error over all categories is at most ``rake``'s tolerance), for one column of cell totals whose
    categories all have positive base totals. None when it does not converge."""
    x = cell_base.copy()
    sizes = [t.size for t in targets]
    margins = list(zip(categories, targets, sizes))
    for _ in range(_MAX_ITER):
        for category, target, size in margins:
            x *= (target / np.bincount(category, weights=x, minlength=size))[category]
        # the last margin is met exactly after its own step: check the others
        if all(
            (np.abs(np.bincount(c, weights=x, minlength=s) - t) <= _TOL * t).all()
            for c, t, s in margins[:-1]
        ):
            return x / cell_base
    return None


def _mean_std_errors(
    w: np.ndarray, y: np.ndarray, steps: list[WeightingStep], strata: np.ndarray | None
) -> np.ndarray | None:
    """Taylor SEs of the weighted means (each person a PSU, strata if the draw was stratified)."""
    total = float(w.sum())
    theta = (w @ y) / total
    x = w[:, None] * (y - theta) / total
    if steps:
        x = residualize(x, steps, "greg")
    if strata is None:
        strata_of_psu = np.zeros(len(w), dtype=np.int64)
        n_strata = 1
    else:
        codes, labels = pd.factorize(strata, sort=True)
        strata_of_psu = codes.astype(np.int64)
        n_strata = len(labels)
        if (np.bincount(strata_of_psu, minlength=n_strata) < 2).any():
            return None  # a lonely stratum: the full path raises the design's error
    variance = np.diag(stratified_covariance(x, strata_of_psu, n_strata, None, "raise",
                                             list(range(n_strata))))
    return np.sqrt(np.clip(variance, 0.0, None))
