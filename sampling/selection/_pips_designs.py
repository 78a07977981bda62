"""Unequal-probability (pi-ps) sampling designs with exact inclusion probabilities.

Kernels only: inputs are validated float64 arrays. ``inclusion_probabilities`` turns scores into
``pi_i = min(1, c q_i)`` with ``sum(pi) = m``; the draws take certainty units (``pi = 1``) directly
and sample the rest by Poisson, systematic (random order) or Deville–Tillé pivotal sampling, or draw
``m`` times with replacement (multinomial, Hansen–Hurwitz). Variance estimators match the designs.
"""

from __future__ import annotations

import numpy as np

from estimators._lib.validation import fail
from estimators.errors import InfeasibleError, ValidationError

__all__ = [
    "design_variance",
    "draw",
    "inclusion_probabilities",
]

_ONE = 1.0 - 1e-12  # probabilities above this are certainties (guards against rounding)


def inclusion_probabilities(q: np.ndarray, m: float) -> np.ndarray:
    """``pi_i = min(1, c q_i)`` with ``c`` chosen so that ``sum(pi) = m`` (certainties solved exactly).

    The number of certainty units ``k`` is the smallest ``k`` with ``(m - k) q_(k) < sum_{j >= k} q_(j)``
    over the scores sorted in decreasing order; then ``c = (m - k) / sum_{j >= k} q_(j)``.
    """
    n = q.size
    positive = int(np.count_nonzero(q > 0))
    if m > positive:
        fail(InfeasibleError, "m", f"exceeds the number of rows with a positive score ({positive})",
             bad=[m], fix="Lower m, or mix in uniform mass (uniform_mix > 0) so every row can be drawn.")
    pi = np.zeros(n)
    if m == positive:
        pi[q > 0] = 1.0
        return pi
    q = q / q.max()  # scale-free; avoids overflow of c for tiny scores
    order = np.argsort(-q, kind="stable")
    qs = q[order]
    suffix = np.cumsum(qs[::-1])[::-1]  # suffix[k] = sum_{j >= k} qs[j]
    ks = np.arange(min(int(np.ceil(m)), n))
    ok = (m - ks) * qs[ks] < suffix[ks]
    k = int(ks[np.argmax(ok)]) if ok.any() else int(np.ceil(m))
    c = (m - k) / suffix[k]
    pis = np.minimum(1.0, c * qs)
    pis[:k] = 1.0
    pi[order] = pis
    return pi


def draw(pi: np.ndarray, m: int, design: str, rng: np.random.Generator,
         q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw one sample; returns ``(sorted unit indices, times drawn)`` (times drawn is 1 except
    for the multinomial design)."""
    if design == "multinomial":
        p = q / q.sum()
        draws = rng.choice(p.size, size=m, replace=True, p=p)
        units, counts = np.unique(draws, return_counts=True)
        return units, counts.astype(np.int64)
    certain = pi >= _ONE
    fractional = np.flatnonzero((pi > 0) & ~certain)
    if design == "poisson":
        chosen = fractional[rng.random(fractional.size) < pi[fractional]]
    elif design == "systematic":
        chosen = _systematic(pi[fractional], rng, fractional)
    elif design == "pivotal":
        chosen = _pivotal(pi[fractional], rng, fractional)
    else:  # pragma: no cover - validated upstream
        raise ValueError(design)
    units = np.sort(np.concatenate([np.flatnonzero(certain), chosen]))
    return units, np.ones(units.size, dtype=np.int64)


def _systematic(pi: np.ndarray, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Systematic pi-ps sampling on a random order (Madow 1949; Goodman & Kish 1950)."""
    if pi.size == 0:
        return labels[:0]
    order = rng.permutation(pi.size)
    cum = np.cumsum(pi[order])
    total = cum[-1]
    size = int(np.rint(total))
    if abs(total - size) > 1e-6:
        fail(ValidationError, "m", "systematic sampling needs an integer expected size",
             bad=[float(total)])
    cum *= size / total  # remove rounding drift so the last boundary is exactly `size`
    points = rng.random() + np.arange(size)
    picks = np.searchsorted(cum, points, side="right")
    picks = np.minimum(picks, pi.size - 1)
    return labels[order[picks]]


def _pivotal(pi: np.ndarray, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Deville–Tillé (1998) ordered pivotal method on a random order (fixed size, exact pi)."""
    if pi.size == 0:
        return labels[:0]
    order = rng.permutation(pi.size)
    probs = pi[order].tolist()
    coins = rng.random(len(probs)).tolist()
    selected = np.zeros(len(probs), dtype=bool)
    current = 0  # index of the unit still undecided
    a = probs[0]
    for j in range(1, len(probs)):
        b = probs[j]
        u = coins[j]
        total = a + b
        if total < 1.0:
            # one of the two drops to 0, the other carries a + b
            if u < b / total:
                current, a = j, total  # unit `current` gets 0
            else:
                a = total  # unit j gets 0
        else:
            # one of the two is selected (1), the other carries a + b - 1
            rest = total - 1.0
            if u < (1.0 - b) / (2.0 - total):
                selected[current] = True
                current, a = j, rest
            else:
                selected[j] = True
                a = rest
    if a > 0.5:  # rounding leftover: the last undecided unit has probability ~0 or ~1
        selected[current] = True
    return labels[order[selected]]


def design_variance(values: np.ndarray, pi: np.ndarray, design: str, counts: np.ndarray,
                    draw_probabilities: np.ndarray | None, m: int) -> float:
    """Variance estimate of the expansion estimator ``sum y_i / pi_i`` (one stratum).

    Poisson: ``sum (1 - pi) (y / pi)^2`` (unbiased). Systematic / pivotal: Deville's (1993)
    approximation for fixed-size high-entropy designs,
    ``1 / (1 - sum a_k^2) sum (1 - pi_k) (y_k / pi_k - sum_l a_l y_l / pi_l)^2``,
    ``a_k = (1 - pi_k) / sum (1 - pi_l)``. Multinomial: Hansen–Hurwitz,
    ``1 / (m (m - 1)) sum_draws (y / p - Y_HH)^2``.
    """
    if design == "multinomial":
        if m < 2:
            return 0.0
        expanded = values / draw_probabilities
        est = float(np.sum(counts * expanded) / m)
        return float(np.sum(counts * (expanded - est) ** 2) / (m * (m - 1)))
    expanded = values / pi
    slack = 1.0 - pi
    if design == "poisson":
        return float(np.sum(slack * expanded**2))
    total_slack = slack.sum()
    if total_slack <= 0:
        return 0.0
    a = slack / total_slack
    centre = float(np.sum(a * expanded))
    denominator = 1.0 - float(np.sum(a**2))
    if denominator <= 0:
        return 0.0
    return float(np.sum(slack * (expanded - centre) ** 2) / denominator)
