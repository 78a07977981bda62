"""A synthetic multi-group learning problem for allocation experiments (numpy only).

Each group ``g`` has its own linear model ``y = x' beta_g + noise`` with ``x ~ N(0, I_{d_g})`` and
noise standard deviation ``sigma_g``; a ridge regression is fit on the group's own samples. The
test error (mean squared prediction error) is exact given the fitted coefficients,
``err_g = sigma_g^2 + ||beta_hat_g - beta_g||^2``, while the allocator only sees a noisy
validation estimate (``validation`` fresh points per evaluation). Groups differ in difficulty
(dimension ``d_g``), noise floor, cost and population share, so their learning curves differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "LearningProblem",
    "default_problem",
    "equal_counts",
    "proportional_counts",
    "run_policy",
]


@dataclass(frozen=True)
class LearningProblem:
    groups: tuple[str, ...]
    dims: tuple[int, ...]
    noise: tuple[float, ...]
    costs: tuple[float, ...]
    shares: tuple[float, ...]
    ridge: float = 1.0
    validation: int = 20000


def default_problem() -> LearningProblem:
    """Three groups: a large cheap easy group, a mid group, and a small hard group."""
    return LearningProblem(
        groups=("majority", "middle", "minority"),
        dims=(2, 10, 30),
        noise=(0.3, 0.3, 0.3),
        costs=(3.0, 1.0, 1.0),
        shares=(0.6, 0.3, 0.1),
    )


class _GroupData:
    def __init__(self, d: int, sigma: float, rng: np.random.Generator):
        self.d, self.sigma, self.rng = d, sigma, rng
        self.beta = rng.normal(0, 1, d)
        self.X = np.empty((0, d))
        self.y = np.empty(0)

    def add(self, m: int) -> None:
        X = self.rng.normal(size=(m, self.d))
        y = X @ self.beta + self.rng.normal(0, self.sigma, m)
        self.X = np.vstack([self.X, X])
        self.y = np.concatenate([self.y, y])

    def fit(self, ridge: float) -> np.ndarray:
        A = self.X.T @ self.X + ridge * np.eye(self.d)
        return np.linalg.solve(A, self.X.T @ self.y)

    def errors(self, ridge: float, validation: int) -> tuple[float, float]:
        """(exact test MSE, noisy validation MSE)."""
        bh = self.fit(ridge)
        exact = self.sigma**2 + float(np.sum((bh - self.beta) ** 2))
        Xv = self.rng.normal(size=(validation, self.d))
        yv = Xv @ self.beta + self.rng.normal(0, self.sigma, validation)
        return exact, float(np.mean((yv - Xv @ bh) ** 2))


def equal_counts(problem: LearningProblem, budget: float) -> np.ndarray:
    """Equal counts per group spending at most ``budget``."""
    k = np.asarray(problem.costs)
    return np.full(k.size, int(np.floor(budget / k.sum())))


def proportional_counts(problem: LearningProblem, budget: float) -> np.ndarray:
    """Counts proportional to the population shares spending at most ``budget``."""
    k, s = np.asarray(problem.costs), np.asarray(problem.shares)
    return np.floor(s * budget / float(s @ k)).astype(int)


def run_policy(
    problem: LearningProblem,
    policy: str | Callable[..., np.ndarray],
    *,
    budget: float,
    rounds: int,
    seed: int,
) -> dict[str, object]:
    """Collect data over ``rounds`` batches of ``budget / rounds`` and return final errors.

    ``policy`` is ``"equal"``, ``"proportional"`` (each batch split that way) or a callable
    ``policy(round, observed, current_n) -> counts`` (e.g. an ``AdaptiveAllocator``).
    Returns the exact final test errors per group, the population-weighted error, the worst
    group error, the final counts and the observation history.
    """
    rng = np.random.default_rng(seed)
    data = [_GroupData(d, s, np.random.default_rng(rng.integers(2**63)))
            for d, s in zip(problem.dims, problem.noise, strict=True)]
    k = np.asarray(problem.costs)
    per_round = budget / rounds
    n = np.zeros(len(data), dtype=np.int64)
    rows: list[dict[str, object]] = []
    spent = 0.0
    for r in range(rounds):
        if policy == "equal":
            counts = equal_counts(problem, per_round)
        elif policy == "proportional":
            counts = proportional_counts(problem, per_round)
        else:
            obs = pd.DataFrame(rows) if rows else None
            counts = np.asarray(policy(r, obs, pd.Series(n, index=list(problem.groups))),
                                dtype=np.int64)
        for g, m in enumerate(counts):
            if m > 0:
                data[g].add(int(m))
        n = n + counts
        spent += float(k @ counts)
        for g, dg in enumerate(data):
            if n[g] > 0:
                _, val = dg.errors(problem.ridge, problem.validation)
                rows.append({"group": problem.groups[g], "n": int(n[g]), "error": val})
    exact = np.array([dg.errors(problem.ridge, problem.validation)[0] for dg in data])
    shares = np.asarray(problem.shares)
    return {
        "errors": pd.Series(exact, index=list(problem.groups)),
        "overall": float(shares @ exact),
        "worst": float(exact.max()),
        "n": pd.Series(n, index=list(problem.groups)),
        "spent": spent,
        "history": pd.DataFrame(rows),
    }
