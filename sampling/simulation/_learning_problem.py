"""A synthetic multi-group learning problem for allocation experiments (numpy only).

Each group ``g`` has its own linear model ``y = x' beta_g + noise`` with ``x ~ N(0, I_{d_g})`` and
noise standard deviation ``sigma_g``; a ridge regression is fit on the group's own samples. The
test error (mean squared prediction error) is exact given the fitted coefficients,
``err_g = sigma_g^2 + ||beta_hat_g - beta_g||^2``, while the allocator only sees a noisy
validation estimate (``validation`` fresh points per evaluation), at nested prefixes of the data
collected so far (``evaluate_at`` fractions of ``n_g``: several learning-curve points per round, as
when a learning curve is measured by subsampling). Groups differ in difficulty (dimension
``d_g``), noise floor, cost and population share, so their learning curves differ; the true
curve is close to ``sigma_g^2 (1 + d_g / (n - d_g - 1))`` (:func:`expected_error`), which gives
the oracle plan (:func:`oracle_counts`).
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
    "expected_error",
    "oracle_counts",
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
    validation: int = 4000
    evaluate_at: tuple[float, ...] = (1.0,)


def expected_error(problem: LearningProblem, n: np.ndarray) -> np.ndarray:
    """Large-sample expected test MSE ``sigma^2 (1 + d / (n - d - 1))`` (least squares, n > d + 1).

    The true learning curves, used for the oracle plan.
    """
    d = np.asarray(problem.dims, dtype=float)
    s2 = np.asarray(problem.noise, dtype=float) ** 2
    n = np.asarray(n, dtype=float)
    return s2 * (1 + d / np.maximum(n - d - 1, 1e-9))


def oracle_counts(problem: LearningProblem, budget: float, *, p: float = 2.0) -> np.ndarray:
    """Offline plan on the true curves: minimise ``(sum s_g err_g^p)^(1/p)`` at cost ``budget``."""
    from scipy.optimize import minimize

    k, s = np.asarray(problem.costs), np.asarray(problem.shares)
    d = np.asarray(problem.dims, dtype=float)

    def sizes(z: np.ndarray) -> np.ndarray:
        w = np.exp(z)
        return w * budget / float(k @ w)

    def objective(z: np.ndarray) -> float:
        return float((s @ expected_error(problem, sizes(z)) ** p) ** (1 / p))

    best = minimize(objective, np.log(d + 5), method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 10000})
    n = np.floor(sizes(best.x)).astype(np.int64)
    return n


def default_problem() -> LearningProblem:
    """Three groups whose learning rates, costs and shares pull the allocation apart.

    ``majority`` (share 0.6, 20 features, cost 1) learns at a moderate rate, ``easy`` (share 0.3,
    2 features) is learnt from a few samples but costs 6 each, ``minority`` (share 0.1,
    40 features, cost 1) learns slowest. Equal allocation overspends on the expensive easy
    group; proportional allocation starves the slow-learning minority. Chosen on seeds 100-119.
    """
    return LearningProblem(
        groups=("majority", "easy", "minority"),
        dims=(20, 2, 40),
        noise=(0.5, 0.5, 0.5),
        costs=(1.0, 6.0, 1.0),
        shares=(0.6, 0.3, 0.1),
        evaluate_at=(0.25, 0.5, 0.75, 1.0),
    )


class _GroupData:
    def __init__(self, d: int, sigma: float, rng: np.random.Generator,
                 validation_rng: np.random.Generator):
        # separate streams: the training data of a seed do not depend on how often it is evaluated
        self.d, self.sigma, self.rng, self.validation_rng = d, sigma, rng, validation_rng
        self.beta = rng.normal(0, 1, d)
        self.X = np.empty((0, d))
        self.y = np.empty(0)

    def add(self, m: int) -> None:
        X = self.rng.normal(size=(m, self.d))
        y = X @ self.beta + self.rng.normal(0, self.sigma, m)
        self.X = np.vstack([self.X, X])
        self.y = np.concatenate([self.y, y])

    def fit(self, ridge: float, m: int | None = None) -> np.ndarray:
        X, y = (self.X, self.y) if m is None else (self.X[:m], self.y[:m])
        A = X.T @ X + ridge * np.eye(self.d)
        return np.linalg.solve(A, X.T @ y)

    def errors(self, ridge: float, validation: int, m: int | None = None) -> tuple[float, float]:
        """(exact test MSE, noisy validation MSE) of the fit on the first ``m`` samples."""
        bh = self.fit(ridge, m)
        exact = self.sigma**2 + float(np.sum((bh - self.beta) ** 2))
        Xv = self.validation_rng.normal(size=(validation, self.d))
        yv = Xv @ self.beta + self.validation_rng.normal(0, self.sigma, validation)
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
    ``policy(round, observed, current_n) -> counts`` (e.g. an ``AdaptiveAllocator``), or an
    integer array of total counts (a fixed plan such as :func:`oracle_counts`, spread evenly).
    Returns the exact final test errors per group, the population-weighted error, the worst
    group error, the final counts and the observation history.
    """
    rng = np.random.default_rng(seed)
    data = [_GroupData(d, s, *(np.random.default_rng(seq) for seq in
                                np.random.SeedSequence(int(rng.integers(2**63))).spawn(2)))
            for d, s in zip(problem.dims, problem.noise, strict=True)]
    k = np.asarray(problem.costs)
    per_round = budget / rounds
    n = np.zeros(len(data), dtype=np.int64)
    rows: list[dict[str, object]] = []
    spent = 0.0
    for r in range(rounds):
        if isinstance(policy, np.ndarray):  # a fixed total plan, spread over the rounds
            counts = policy * (r + 1) // rounds - policy * r // rounds
        elif policy == "equal":
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
            # learning-curve points: the fit on nested prefixes of the data collected so far
            sizes = sorted({max(1, round(f * n[g])) for f in problem.evaluate_at} if n[g] else [])
            for m in sizes:
                _, val = dg.errors(problem.ridge, problem.validation, int(m))
                rows.append({"group": problem.groups[g], "n": int(m), "error": val})
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
