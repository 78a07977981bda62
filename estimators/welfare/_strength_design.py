"""Design-based covariance for strength models: the raters are the sampling units.

A rater-level :class:`~estimators.SurveyDesign` (one row per rater: weights, strata, PSUs, fpc
and the weighting steps that made the weights) or :class:`~estimators.ReplicateDesign` is linked to
the comparisons (or choices) through a rater id column. The estimate is the weighted
pseudo-maximum-likelihood fit, each comparison weighted by its rater's final weight.

Taylor designs: the covariance is the sandwich ``H^+ V H^+`` where ``V`` is the design covariance
of the per-rater score totals, computed by the design's own variance method (residuals on the
weighting steps, PSU totals, stratified with-replacement formula with fpc and lonely-PSU rules),
exactly as for the total of a rater-level variable. Replicate designs: the model is refitted on
every replicate's final weights (the weighting chain re-run), warm-started at the full-sample
estimate, and the replicate estimates are combined with the design's ``scale``, ``rscales`` and
``mse``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estimators._lib.validation import check_columns, fail
from estimators.errors import DesignError, ValidationError
from estimators.survey._design import SurveyDesign
from estimators.survey._estimation import _Core
from estimators.survey._replicates import ReplicateDesign
from estimators.welfare._bradley_terry import (
    fit_choices,
    fit_pairwise,
    fit_pairwise_batch,
    strongly_connected,
)

__all__ = [
    "ChoiceModel",
    "PairwiseModel",
    "RaterLink",
    "choice_scores",
    "link_raters",
    "pairwise_design_matrix",
    "pairwise_scores",
    "replicate_covariance",
    "replicate_draws",
    "taylor_covariance",
]


@dataclass(frozen=True)
class RaterLink:
    """A rater-level design matched to the rows of the preference data."""

    design: SurveyDesign  # the rater-level design (full-sample weights, structure, steps)
    replicate: ReplicateDesign | None
    rows: np.ndarray  # design row of each data row
    lonely_psu: str
    raking_variance: str

    @property
    def n(self) -> int:
        return self.design.n

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.design.weight_array, dtype=np.float64)

    def replicate_weights(self) -> np.ndarray:
        """Final replicate weights of the raters (n x R), the weighting chain re-run."""
        assert self.replicate is not None
        return np.asarray(self.replicate.replicate_weights(), dtype=np.float64)


def link_raters(
    design: Any, frame: pd.DataFrame, rater: Hashable | None, lonely_psu: str, raking_variance: str
) -> RaterLink:
    """Match each data row to its rater's design row (ids unique in the design, all known)."""
    if isinstance(design, ReplicateDesign):
        base, replicate = design.design, design
    elif isinstance(design, SurveyDesign):
        base, replicate = design, None
    else:
        fail(ValidationError, "design", "must be a rater-level SurveyDesign or ReplicateDesign",
             bad=[type(design).__name__])
    if rater is None:
        fail(ValidationError, "rater", "is needed with design= (the column holding each "
             "comparison's rater id)", bad=[None],
             fix='Pass rater="rater" (or the name of your rater id column).')
    check_columns(frame, [rater], "rater")
    data = base.data
    ids = pd.Index(data[rater] if rater in data.columns else data.index)
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()
        fail(ValidationError, "design", "must have one row per rater; some rater ids appear more "
             "than once", bad=list(dup),
             fix="Build the design from a table with one row per rater.")
    column = frame[rater]
    missing = column.isna().to_numpy()
    if missing.any():
        fail(ValidationError, "rater", "every comparison needs a rater id; some are missing",
             bad=list(frame.index[missing]),
             fix="Fill the rater ids, or drop those rows explicitly before fitting.")
    rows = ids.get_indexer(column)
    unknown = rows < 0
    if unknown.any():
        fail(ValidationError, "rater", "has rater ids that are not rows of the design",
             bad=list(pd.unique(column[unknown])),
             fix=f"Give every rater a row in the design (matched on its {rater!r} column, or "
             "its index when it has no such column).")
    return RaterLink(base, replicate, rows.astype(np.int64), lonely_psu, raking_variance)


# -- score totals per rater ------------------------------------------------------------------------
def pairwise_scores(
    theta: np.ndarray,
    winner: np.ndarray,
    loser: np.ndarray,
    outcome: np.ndarray,
    weight: np.ndarray,
    rows: np.ndarray,
    n: int,
) -> np.ndarray:
    """Per-rater weighted score totals (n x m) of the Bradley–Terry log-likelihood.

    A comparison of ``winner`` and ``loser`` with outcome ``y`` (1, or 1/2 for a tie) adds
    ``w (y - sigma(theta_w - theta_l))`` to its rater's ``winner`` entry and subtracts it from the
    ``loser`` entry.
    """
    m = len(theta)
    d = theta[winner] - theta[loser]
    s = weight * (outcome - 1.0 / (1.0 + np.exp(-d)))
    flat = np.bincount(rows * m + winner, weights=s, minlength=n * m)
    flat -= np.bincount(rows * m + loser, weights=s, minlength=n * m)
    return flat.reshape(n, m)


def choice_scores(
    theta: np.ndarray,
    sets: np.ndarray,
    mask: np.ndarray,
    chosen: np.ndarray,
    weight: np.ndarray,
    rows: np.ndarray,
    n: int,
) -> np.ndarray:
    """Per-rater weighted score totals (n x m) of the Luce choice log-likelihood.

    A choice of ``c`` from ``S`` adds ``w (e_c - p_S)`` with ``p_S`` the model choice
    probabilities over ``S``.
    """
    m = len(theta)
    safe = np.where(mask, sets, 0)
    t = np.where(mask, theta[safe], -np.inf)
    e = np.where(mask, np.exp(t - t.max(axis=1, keepdims=True)), 0.0)
    p = e / e.sum(axis=1, keepdims=True)
    flat = np.bincount(rows * m + chosen, weights=weight, minlength=n * m)
    keys = (rows[:, None] * m + safe)[mask]
    flat -= np.bincount(keys, weights=(weight[:, None] * p)[mask], minlength=n * m)
    return flat.reshape(n, m)


# -- variance --------------------------------------------------------------------------------------
def taylor_covariance(link: RaterLink, totals: np.ndarray) -> np.ndarray:
    """Design covariance of the weighted total of per-rater values ``totals`` (n x k).

    The values are already ``w_i z_i`` (weighted score totals); the design's own linearisation
    handles the weighting steps, PSUs, strata, fpc and lonely PSUs.
    """
    n, k = totals.shape
    core = _Core(
        rows=np.tile(np.arange(n, dtype=np.int64), k),
        cols=np.repeat(np.arange(k, dtype=np.int64), n),
        a=totals.T.ravel(),
        b=None,
        k=k,
        n=n,
        all_rows=k == 1,
    )
    cov, _ = link.design._linear_covariance(
        core, core.a, np.zeros(k), link.lonely_psu, link.raking_variance
    )
    return np.asarray(cov, dtype=np.float64)


def _centre(replicate: ReplicateDesign, reps: np.ndarray, theta: np.ndarray) -> np.ndarray:
    if replicate.mse:
        return np.asarray(theta, dtype=np.float64)
    use = replicate.rscales > 0
    return reps[use].mean(axis=0)


def replicate_covariance(
    replicate: ReplicateDesign, reps: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """``scale * sum_r rscales_r (theta_r - c)(theta_r - c)'`` as ``ReplicateDesign.covariance``.

    ``reps`` is (R x k); ``c`` is the replicates' mean (``mse=False``) or ``theta``.
    """
    dev = reps - _centre(replicate, reps, theta)
    return replicate.scale * (dev.T * replicate.rscales) @ dev


def replicate_draws(replicate: ReplicateDesign, reps: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Replicates rescaled to draws: ``theta + sqrt(R scale rscales_r) (theta_r - c)``.

    Their covariance about ``theta`` is the replicate covariance; for the bootstrap the factor is
    ``sqrt(R / (R - 1))``, i.e. the replicates themselves.
    """
    R = reps.shape[0]
    factor = np.sqrt(R * replicate.scale * replicate.rscales)
    return theta + factor[:, None] * (reps - _centre(replicate, reps, theta))


def pairwise_design_matrix(
    winner: np.ndarray, loser: np.ndarray, tie: np.ndarray, weight: np.ndarray, rows: np.ndarray,
    m: int, n: int,
) -> sp.csr_matrix:
    """(m*m x n) sparse matrix: wins of row-option over column-option per unit of rater weight.

    ``A @ w`` is the weighted win matrix (flattened) for rater weights ``w``; ``weight`` holds the
    per-comparison multiplier (domain membership).
    """
    full = np.where(tie, 0.5, 1.0) * weight
    keys = np.concatenate([winner * m + loser, (loser * m + winner)[tie]])
    cols = np.concatenate([rows, rows[tie]])
    vals = np.concatenate([full, 0.5 * weight[tie]])
    keep = vals != 0
    return sp.csr_matrix((vals[keep], (keys[keep], cols[keep])), shape=(m * m, n))


def fail_replicates(bad: np.ndarray, why: str) -> None:
    if bad.size:
        fail(DesignError, "design", f"some replicates give no estimate ({why})",
             bad=[f"replicate {int(r)}" for r in bad],
             fix="Use larger groups, a jackknife, or a ridge penalty (regularization=).")


# -- the two models, on their units (comparisons or choice events) --------------------------------
class PairwiseModel:
    """Bradley–Terry on comparisons: unit ``u`` is ``winner[u]`` vs ``loser[u]`` (``tie[u]``)."""

    def __init__(self, winner: np.ndarray, loser: np.ndarray, tie: np.ndarray, m: int) -> None:
        self.winner, self.loser, self.tie, self.m = winner, loser, tie, m
        self.outcome = np.where(tie, 0.5, 1.0)

    def wins(self, weight: np.ndarray) -> np.ndarray:
        m = self.m
        wins = np.bincount(self.winner * m + self.loser, weights=self.outcome * weight,
                           minlength=m * m).reshape(m, m)
        half = np.where(self.tie, 0.5 * weight, 0.0)
        wins += np.bincount(self.loser * m + self.winner, weights=half,
                            minlength=m * m).reshape(m, m)
        return wins

    def beats(self, weight: np.ndarray) -> np.ndarray:
        return self.wins(weight).T

    def fit(self, weight, alpha, tol, max_iter, theta0=None):
        return fit_pairwise(self.wins(weight), alpha=alpha, tol=tol, max_iter=max_iter,
                            theta0=theta0)

    def scores(self, theta, weight, rows, n):
        return pairwise_scores(theta, self.winner, self.loser, self.outcome, weight, rows, n)

    def replicates(self, theta, domain, rows, W, alpha, tol, max_iter):
        m, R = self.m, W.shape[1]
        A = pairwise_design_matrix(self.winner, self.loser, self.tie, domain, rows, m, W.shape[0])
        wins = np.asarray(A @ W).T.reshape(R, m, m)
        if alpha == 0:
            full = (self.wins(domain) > 0)
            changed = np.flatnonzero(((wins > 0) != full[None]).any(axis=(1, 2)))
            bad = np.array([r for r in changed if not strongly_connected(wins[r].T)], dtype=int)
            fail_replicates(bad, "their comparison graph is not strongly connected")
        reps, ok = fit_pairwise_batch(wins, theta, alpha=alpha, tol=tol, max_iter=max_iter)
        fail_replicates(np.flatnonzero(~ok), "Newton's method did not converge")
        return reps - reps.mean(axis=1, keepdims=True)


class ChoiceModel:
    """Luce / Plackett–Luce on top-1 choice events: ``chosen[u]`` from ``sets[u]`` (``mask``)."""

    def __init__(self, sets: np.ndarray, mask: np.ndarray, chosen: np.ndarray, m: int) -> None:
        self.sets, self.mask, self.chosen, self.m = sets, mask, chosen, m
        # identical (set, chosen) events are aggregated for the fit
        key = np.concatenate([np.sort(np.where(mask, sets, m), axis=1), chosen[:, None]], axis=1)
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        self.inverse = inverse.ravel()
        u_sets = uniq[:, :-1]
        self.u_mask = u_sets < m
        self.u_sets = np.where(self.u_mask, u_sets, 0)
        self.u_chosen = uniq[:, -1]

    def _aggregate(self, weight):
        agg = np.bincount(self.inverse, weights=weight, minlength=len(self.u_chosen))
        return agg > 0, agg

    def beats(self, weight: np.ndarray) -> np.ndarray:
        keep, agg = self._aggregate(weight)
        m = self.m
        sets, mask, chosen, w = self.u_sets[keep], self.u_mask[keep], self.u_chosen[keep], agg[keep]
        beats = np.zeros((m, m))
        for k in range(sets.shape[1]):
            on = mask[:, k] & (sets[:, k] != chosen)
            np.add.at(beats, (chosen[on], sets[on, k]), w[on])
        return beats

    def fit(self, weight, alpha, tol, max_iter, theta0=None):
        keep, agg = self._aggregate(weight)
        if not keep.any():
            fail(ValidationError, "data", "holds no choices with positive weight")
        return fit_choices(self.u_sets[keep], self.u_mask[keep], self.u_chosen[keep], agg[keep],
                           self.m, alpha=alpha, tol=tol, max_iter=max_iter, theta0=theta0)

    def scores(self, theta, weight, rows, n):
        return choice_scores(theta, self.sets, self.mask, self.chosen, weight, rows, n)

    def replicates(self, theta, domain, rows, W, alpha, tol, max_iter):
        R = W.shape[1]
        out = np.empty((R, self.m))
        disconnected, failed = [], []
        for r in range(R):
            weight = W[rows, r] * domain
            if alpha == 0 and not strongly_connected(self.beats(weight)):
                disconnected.append(r)
                continue
            fit = self.fit(weight, alpha, tol, max_iter, theta0=theta)
            if not fit.converged:
                failed.append(r)
            out[r] = fit.theta
        fail_replicates(np.asarray(disconnected, dtype=int),
                        "their comparison graph is not strongly connected")
        fail_replicates(np.asarray(failed, dtype=int), "Newton's method did not converge")
        return out - out.mean(axis=1, keepdims=True)
