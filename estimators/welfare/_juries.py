"""Vectorised jury kernels: draw juries as integer index matrices, score options per jury.

A batch of ``B`` juries of size ``k`` is an int matrix ``J`` (B x k) of rater rows. Per-rater
contributions ``R`` (n x d) are summed per jury with one sparse product ``M @ R`` where ``M`` is
the (B x n) jury-membership count matrix, so duplicates (draws with replacement) count twice.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix

from estimators.errors import ConvergenceWarning
from estimators.welfare import _voting as voting
from estimators.welfare._bradley_terry import fit_pairwise, strongly_connected

__all__ = [
    "draw_juries",
    "jury_sums",
    "prism_loop",
    "rater_contributions",
    "scores_from_sums",
]

NO_EXPOSURE = -np.inf


def draw_juries(
    rng: np.random.Generator,
    n_draws: int,
    pool: np.ndarray,
    size: int,
    *,
    replace: bool,
    probabilities: np.ndarray | None,
) -> np.ndarray:
    """(n_draws x size) matrix of rater rows drawn from ``pool``."""
    if replace:
        if probabilities is None:
            return pool[rng.integers(0, pool.size, size=(n_draws, size))]
        cdf = np.cumsum(probabilities)
        cdf /= cdf[-1]
        picks = np.searchsorted(cdf, rng.random((n_draws, size)), side="right")
        return pool[np.minimum(picks, pool.size - 1)]
    # without replacement: the k smallest of random keys (Efraimidis–Spirakis keys when weighted)
    out = np.empty((n_draws, size), dtype=np.int64)
    chunk = max(1, 2_000_000 // max(pool.size, 1))
    for start in range(0, n_draws, chunk):
        b = min(chunk, n_draws - start)
        keys = rng.random((b, pool.size))
        if probabilities is not None:
            keys = -np.log(keys) / probabilities[None, :]
        part = np.argpartition(keys, size - 1, axis=1)[:, :size] if size < pool.size else (
            np.tile(np.arange(pool.size), (b, 1))
        )
        out[start : start + b] = pool[part]
    return out


def jury_sums(juries: np.ndarray, contributions: np.ndarray) -> np.ndarray:
    """Sum of per-rater contribution rows over each jury's members (with multiplicity)."""
    n_draws, size = juries.shape
    n = contributions.shape[0]
    membership = csr_matrix(
        (np.ones(juries.size), juries.ravel(), np.arange(0, juries.size + 1, size)),
        shape=(n_draws, n),
    )
    return np.asarray(membership @ contributions)


def rater_contributions(
    values: np.ndarray, rule: str, *, veto_threshold: float, borda: str, veto_table: bool
) -> np.ndarray:
    """Per-rater rows that the jury rule sums (NaN = not exposed)."""
    exposed = ~np.isnan(values)
    n, m = values.shape
    if rule in ("mean_rating", "choice_rate"):
        return np.hstack([np.where(exposed, values, 0.0), exposed.astype(float)])
    if rule == "veto":
        vetoed = np.where(exposed, values, 0.0) if veto_table else (exposed & (values <= veto_threshold))
        return np.hstack([np.asarray(vetoed, dtype=float), exposed.astype(float)])
    if rule == "borda":
        return np.vstack([voting.borda_points(values[s : s + 2048], borda)
                          for s in range(0, n, 2048)])
    if rule == "bradley_terry":
        # wins[a, b] (ties as half wins), flattened
        a = values[:, :, None]
        b = values[:, None, :]
        wins = (a > b).astype(float) + 0.5 * (a == b)
        idx = np.arange(m)
        wins[:, idx, idx] = 0.0
        return wins.reshape(n, m * m)
    # margin rules only need sign(u_a - u_b) for a < b (0 for ties or when either is unseen)
    upper_a, upper_b = np.triu_indices(m, k=1)
    diff = values[:, upper_a] - values[:, upper_b]
    return np.nan_to_num(np.sign(diff), nan=0.0)


def scores_from_sums(
    sums: np.ndarray, rule: str, m: int, positions: np.ndarray, *, regularization: float
) -> np.ndarray:
    """Per-jury option scores (higher wins) from summed contributions; -inf = no information."""
    n_draws = sums.shape[0]
    if rule in ("mean_rating", "choice_rate", "veto"):
        total, count = sums[:, :m], sums[:, m:]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        score = 1.0 - mean if rule == "veto" else mean
        return np.where(count > 0, score, NO_EXPOSURE)
    if rule == "borda":
        return sums
    if rule == "bradley_terry":
        wins = sums.reshape(n_draws, m, m)
        margins = wins - np.transpose(wins, (0, 2, 1))
    else:
        upper_a, upper_b = np.triu_indices(m, k=1)
        margins = np.zeros((n_draws, m, m))
        margins[:, upper_a, upper_b] = sums
        margins[:, upper_b, upper_a] = -sums
    if rule == "copeland":
        return np.sum(margins > 0, axis=2) - np.sum(margins < 0, axis=2).astype(float)
    if rule == "condorcet":
        # Condorcet winner scores 1, others 0; no winner -> every option ties (random pick)
        beaten_all = np.sum(margins > 0, axis=2) == m - 1
        return beaten_all.astype(float)
    if rule == "minimax":
        loss = np.where(margins > 0, margins, 0.0)
        return 0.0 - loss.max(axis=1)
    if rule == "schulze":
        # widest paths for blocks of juries at once (Floyd–Warshall over the option axis)
        out = np.empty((n_draws, m))
        idx = np.arange(m)
        for start in range(0, n_draws, 512):
            p = np.where(margins[start : start + 512] > 0, margins[start : start + 512], 0.0)
            for k in range(m):
                np.maximum(p, np.minimum(p[:, :, k : k + 1], p[:, k : k + 1, :]), out=p)
            p[:, idx, idx] = 0.0
            p_t = np.transpose(p, (0, 2, 1))
            beats = np.sum(p > p_t, axis=2)
            beaten = np.sum(p_t > p, axis=2)
            out[start : start + 512] = -beaten * (m + 1.0) + beats
        return out
    out = np.empty((n_draws, m))
    unconverged = 0
    for d in range(n_draws):
        if rule == "ranked_pairs":
            order = voting.ranked_pairs_order(margins[d], positions)
            out[d, order] = np.arange(m, 0, -1, dtype=float)
        else:  # bradley_terry
            w = wins[d]
            alpha = 0.0 if strongly_connected(w.T.copy()) else (regularization or 0.01)
            fit = fit_pairwise(w, alpha=alpha, tol=1e-9, max_iter=100)
            unconverged += not fit.converged
            seen = (w + w.T).sum(axis=1) > 0
            out[d] = np.where(seen, fit.theta, NO_EXPOSURE)
    if unconverged:
        warnings.warn(
            f"Bradley–Terry did not converge for {unconverged} of {n_draws} juries; their "
            "winners come from the last Newton iterate.",
            ConvergenceWarning,
            stacklevel=4,
        )
    return out


def pick_winners(
    scores: np.ndarray, rng: np.random.Generator, positions: np.ndarray, tie_break: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winner per jury, whether the top was tied, and whether no option had information."""
    top = scores.max(axis=1, keepdims=True)
    no_info = np.isneginf(top[:, 0])
    at_top = scores >= top
    tied = at_top.sum(axis=1) > 1
    if tie_break == "random":
        keys = rng.random(scores.shape) * at_top
        winners = np.argmax(keys, axis=1)
    else:  # "order": the first option in tie-break order
        keys = np.where(at_top, -positions[None, :].astype(float), -np.inf)
        winners = np.argmax(keys, axis=1)
    return winners, tied, no_info


def prism_loop(
    values: np.ndarray,
    pool: Sequence[int],
    size: int,
    n_draws: int,
    rule: str,
    py_rng: random.Random,
) -> np.ndarray:
    """PRISM's published procedure, call for call on a ``random.Random``: per draw, ``choices``
    a jury with replacement, score options by the jurors' ``np.nanmean`` (1 for ratings, 0 for
    choice rates, 1 for vetoes when no juror saw the option), then ``choice`` among the argmax
    set (always called, even for a single winner)."""
    m = values.shape[1]
    columns = [np.ascontiguousarray(values[:, j]) for j in range(m)]
    pool = list(pool)
    fallback = {"mean_rating": 1.0, "choice_rate": 0.0, "veto": 1.0}[rule]
    winners = np.empty(n_draws, dtype=np.int64)
    for d in range(n_draws):
        jury = py_rng.choices(pool, k=size)
        scores = []
        for j in range(m):
            col = columns[j][jury]
            if np.isnan(col).all():
                scores.append(fallback)
            else:
                mean = np.nanmean(col)
                scores.append(1 - mean if rule == "veto" else mean)
        best = max(scores)
        max_indices = [i for i, v in enumerate(scores) if v >= best]
        winners[d] = py_rng.choice(max_indices)
    return winners
