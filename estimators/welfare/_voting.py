"""Voting-rule kernels on numpy arrays: pairwise counts from utilities, positional and
margin-based rules. All are polynomial in the number of options ``m`` (at most O(m^4) for ranked
pairs) and are defined for any profile, including incoherent (cyclic) majorities.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "borda_points",
    "borda_scores",
    "condorcet_winner",
    "copeland_scores",
    "minimax_scores",
    "pairwise_counts",
    "ranked_pairs_order",
    "schulze_scores",
]


def pairwise_counts(values: np.ndarray, weights: np.ndarray, *, chunk: int = 4096) -> tuple[
    np.ndarray, np.ndarray
]:
    """``prefer[a, b] = sum_i w_i 1[u_ia > u_ib]`` and ``tied[a, b] = sum_i w_i 1[u_ia == u_ib]``
    over raters exposed to both ``a`` and ``b`` (NaN = not exposed)."""
    n, m = values.shape
    prefer = np.zeros((m, m))
    tied = np.zeros((m, m))
    for start in range(0, n, chunk):
        block = values[start : start + chunk]
        w = weights[start : start + chunk]
        a = block[:, :, None]
        b = block[:, None, :]
        prefer += np.einsum("i,iab->ab", w, (a > b).astype(np.float64))
        tied += np.einsum("i,iab->ab", w, (a == b).astype(np.float64))
    np.fill_diagonal(tied, 0.0)
    return prefer, tied


def borda_points(values: np.ndarray, variant: str) -> np.ndarray:
    """Borda points of every rater for every option, (n, m); NaN = unexposed.

    ``standard``: an exposed option scores the number of options strictly below it (unexposed
    options count as below every exposed one) plus half the exposed options tied with it;
    unexposed options score 0. ``truncated``: the same counting only exposed options.
    ``symmetric``: options strictly below minus options strictly above, with exposed above
    unexposed (the symmetric Borda score for truncated ballots).
    """
    exposed = ~np.isnan(values)
    m = values.shape[1]
    n_exposed = exposed.sum(axis=1, keepdims=True).astype(float)
    a = values[:, :, None]
    b = values[:, None, :]
    both = exposed[:, :, None] & exposed[:, None, :]
    below = np.sum(both & (a > b), axis=2).astype(float)  # exposed options below each option
    above = np.sum(both & (a < b), axis=2).astype(float)
    ties = np.sum(both & (a == b), axis=2) - 1.0
    if variant == "standard":
        pts = below + (m - n_exposed) + 0.5 * ties
    elif variant == "truncated":
        pts = below + 0.5 * ties
    else:  # symmetric
        return np.where(exposed, below + (m - n_exposed) - above, -n_exposed)
    return np.where(exposed, pts, 0.0)


def borda_scores(values: np.ndarray, weights: np.ndarray, variant: str) -> np.ndarray:
    """Weighted Borda scores: ``sum_i w_i points_i`` (see :func:`borda_points`)."""
    scores = np.zeros(values.shape[1])
    for start in range(0, values.shape[0], 2048):
        block = values[start : start + 2048]
        scores += weights[start : start + 2048] @ borda_points(block, variant)
    return scores


def copeland_scores(margins: np.ndarray) -> np.ndarray:
    """Wins minus losses in pairwise majority contests (ties score 0)."""
    return np.sum(margins > 0, axis=1).astype(float) - np.sum(margins < 0, axis=1)


def condorcet_winner(margins: np.ndarray) -> int | None:
    """The option with a positive margin against every other, or None."""
    m = margins.shape[0]
    wins = np.sum(margins > 0, axis=1)
    hit = np.flatnonzero(wins == m - 1)
    return int(hit[0]) if hit.size else None


def minimax_scores(margins: np.ndarray) -> np.ndarray:
    """Minus the largest margin by which any option beats this one (0 when it is unbeaten)."""
    loss = np.where(margins.T > 0, margins.T, 0.0)
    return 0.0 - loss.max(axis=1) if margins.shape[0] > 1 else np.zeros(1)


def schulze_scores(margins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strongest-path strengths (margins as link strengths), and for each option how many
    options it beats and is beaten by in path strength (winners are beaten by none)."""
    m = margins.shape[0]
    p = np.where(margins > 0, margins, 0.0)
    for k in range(m):
        p = np.maximum(p, np.minimum(p[:, k : k + 1], p[k : k + 1, :]))
    np.fill_diagonal(p, 0.0)
    beats = np.sum(p > p.T, axis=1).astype(float)
    beaten = np.sum(p.T > p, axis=1).astype(float)
    return p, beats, beaten


def ranked_pairs_order(margins: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Ranked pairs (Tideman) with a fixed tie-breaking order; returns options best first.

    Edges ``a -> b`` with margin >= 0 are taken by decreasing margin, ties between edges by the
    tie-break positions of ``a`` then ``b``; an edge is locked unless ``b`` already reaches ``a``.
    ``tie_break[k]`` is the position of option ``k`` (0 = preferred).
    """
    m = margins.shape[0]
    a_idx, b_idx = np.nonzero((margins >= 0) & ~np.eye(m, dtype=bool))
    order = np.lexsort((tie_break[b_idx], tie_break[a_idx], -margins[a_idx, b_idx]))
    reach = np.eye(m, dtype=bool)  # reach[x, y]: x reaches y via locked edges (or x == y)
    for e in order:
        a, b = int(a_idx[e]), int(b_idx[e])
        if reach[b, a] or reach[a, b]:
            continue
        reach |= np.outer(reach[:, a], reach[b, :])
    # every pair is now ordered: sort by how many options each one reaches
    dominated = reach.sum(axis=1)
    return np.lexsort((tie_break, -dominated))
