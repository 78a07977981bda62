"""Sequential (adaptive) allocation: decide each recruitment batch from the errors seen so far.

:class:`AdaptiveAllocator` is a pure, seedable state machine: given everything observed so far
(per-group sizes and measured errors) and the sizes already collected, :meth:`next_batch` returns
the counts to recruit next. It refits the learning curves every round, keeps exploration floors,
and offers plug-in allocation on the fitted curves (Cai et al. 2022) or worst-group sampling
(Abernethy et al. 2022). The same object drives a simulator or a live recruitment platform.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_frame, check_columns, check_option, check_positive, fail
from estimators.errors import EquisampleError, EquisampleWarning, ValidationError
from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import (
    DEFAULT_ALPHA,
    DEFAULT_P,
    OBJECTIVES,
    allocate,
    check_objective_settings,
    per_group,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["AdaptiveAllocator", "Batch"]

Strategy = Literal["plugin", "worst_group"]


@dataclass(frozen=True)
class Batch(Result):
    """The next recruitment batch.

    Attributes
    ----------
    counts : pandas.Series
        New samples to recruit per group (int).
    cost : float
        ``sum costs * counts`` (<= the batch budget).
    mode : str
        ``"explore"`` (curves not identifiable yet: equal split), ``"plugin"``, ``"worst_group"``
        or ``"fallback"`` (a curve fit failed; equal split, reason in ``note``).
    round : int
    predicted_error : pandas.Series or None
        Fitted-curve error after the batch (plug-in mode).
    note : str
    """

    counts: pd.Series
    cost: float
    mode: str
    round: int
    predicted_error: pd.Series | None = field(default=None, repr=False)
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        """Counts (and predicted errors) per group."""
        out = pd.DataFrame({"counts": self.counts})
        if self.predicted_error is not None:
            out["predicted_error"] = self.predicted_error
        return out

    def _summary_title(self) -> str:
        return f"Adaptive batch, round {self.round} ({self.mode})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "cost", self.cost
        if self.note:
            yield "note", self.note

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bars of the batch counts."""
        ax = get_axes(ax)
        ax.bar([str(g) for g in self.counts.index], self.counts.to_numpy())
        ax.set_xlabel("group")
        ax.set_ylabel("samples to recruit")
        ax.set_title(f"Batch {self.round} ({self.mode})")
        return ax


class AdaptiveAllocator:
    """Choose recruitment batches from the errors observed so far.

    Parameters
    ----------
    groups : sequence of labels
    costs : float, mapping or Series
        Cost per new sample by group.
    batch_budget : float
        Money spent per round.
    objective : str
        Objective of the plug-in plan (see :func:`sampling.allocate`), e.g. ``"maximin"``.
    strategy : {"plugin", "worst_group"}
        ``"plugin"`` solves the allocation problem on the refitted curves each round and recruits
        its integer batch; ``"worst_group"`` spends the batch on the group whose latest measured
        error is highest (Abernethy et al. 2022).
    exploration : float
        Share of every batch spread equally over the groups (a floor that keeps every curve
        learnable), in [0, 1).
    min_points : int
        Distinct sizes per group (>= 3; and at least 4 evaluations) before curves are fitted;
        until then every batch is an equal split (mode ``"explore"``).
    population_shares, max_n, p, alpha : passed to :func:`sampling.allocate`.
    rng : None, int or numpy.random.Generator seed material
        Used only to break ties in the equal split (rounding remainders), per round.

    Notes
    -----
    Plug-in rounds solve ``allocate(curves, budget=(1 - exploration) B_batch, current_n=n)`` —
    the already-collected sizes are free lower bounds, so the batch is the greedy marginal-gain
    -per-cost increment toward the optimum of the chosen objective.

    References
    ----------
    Cai, W. et al. (2022). Adaptive sampling strategies to construct equitable training datasets.
    FAccT. Abernethy, J. et al. (2022). Active sampling for min-max fairness. ICML.

    Examples
    --------
    >>> import pandas as pd
    >>> alloc = AdaptiveAllocator(["x", "y"], costs=1.0, batch_budget=20, rng=0)
    >>> first = alloc.next_batch(None, current_n={"x": 0, "y": 0})
    >>> first.mode, first.counts.to_dict()
    ('explore', {'x': 10, 'y': 10})
    """

    def __init__(
        self,
        groups: Iterable[Any],
        *,
        costs: Any = 1.0,
        batch_budget: float,
        objective: str = "maximin",
        strategy: Strategy = "plugin",
        exploration: float = 0.1,
        min_points: int = 3,
        population_shares: Any = None,
        max_n: Any = None,
        p: float = DEFAULT_P,
        alpha: float = DEFAULT_ALPHA,
        rng: Any = None,
    ) -> None:
        self.groups = pd.Index(list(groups))
        if len(self.groups) == 0 or not self.groups.is_unique:
            fail(ValidationError, "groups", "must be a non-empty list of unique labels")
        self.costs = per_group(costs, self.groups, "costs", default=None, positive=True)
        self.batch_budget = check_positive(batch_budget, "batch_budget")
        if self.batch_budget < float(self.costs.sum()):
            fail(ValidationError, "batch_budget",
                 "must buy at least one sample of every group per round (sum of costs)",
                 bad=[batch_budget])
        self.strategy = check_option(strategy, ("plugin", "worst_group"), "strategy")
        if not 0 <= exploration < 1:
            fail(ValidationError, "exploration", "must lie in [0, 1)", bad=[exploration])
        self.exploration = float(exploration)
        self.min_points = max(3, int(min_points))
        self.objective = check_option(objective, OBJECTIVES, "objective")
        check_objective_settings(self.objective, population_shares=population_shares, p=p,
                                 alpha=alpha)
        self.population_shares = population_shares
        self.max_n = max_n
        self.p, self.alpha = p, alpha
        self.seed = np.random.SeedSequence(rng if isinstance(rng, int) or rng is None else
                                           int(np.random.default_rng(rng).integers(2**63)))

    # ------------------------------------------------------------------
    def _equal_split(self, budget: float, round_: int) -> np.ndarray:
        """Equal counts per group within ``budget`` (remainder to random groups that fit)."""
        k = self.costs
        m = int(np.floor(budget / float(k.sum()) + 1e-12))
        counts = np.full(k.size, m, dtype=np.int64)
        left = budget - float(k @ counts)
        gen = np.random.default_rng(self.seed.spawn(round_ + 1)[-1])
        for j in gen.permutation(k.size):
            if k[j] <= left + 1e-12:
                counts[j] += 1
                left -= k[j]
        return counts

    def next_batch(self, observed: pd.DataFrame | None, *, current_n: Any, round: int = 0,
                   group: str = "group", n: str = "n", error: str = "error") -> Batch:
        """Counts to recruit next.

        Parameters
        ----------
        observed : pandas.DataFrame or None
            All evaluations so far: one row per (group, size, measured error).
        current_n : mapping, Series or float
            Samples collected so far per group.
        round : int
            Round number (seeds the tie-breaking).

        Returns
        -------
        Batch
        """
        cur = per_group(current_n, self.groups, "current_n", default=0.0)
        k = self.costs
        explore_budget = self.exploration * self.batch_budget
        ready = False
        if observed is not None and len(observed):
            obs = as_frame(observed, "observed")
            check_columns(obs, [group, n, error], "observed")
            by_group = obs.groupby(group)[n]
            distinct = by_group.nunique().reindex(self.groups).fillna(0)
            points = by_group.size().reindex(self.groups).fillna(0)
            # a curve a n^-b + c needs >= 3 distinct sizes and >= 4 points to be identified
            ready = bool(((distinct >= self.min_points) & (points >= 4)).all())
        if not ready:
            counts = self._equal_split(self.batch_budget, round)
            return Batch(pd.Series(counts, index=self.groups, name="counts"), float(k @ counts),
                         "explore", round)
        floor = self._equal_split(explore_budget, round) if explore_budget >= k.sum() else \
            np.zeros(k.size, dtype=np.int64)
        rest = self.batch_budget - float(k @ floor)
        if self.strategy == "worst_group":
            latest = obs.sort_values(n).groupby(group)[error].last().reindex(self.groups)
            j = int(np.argmax(latest.to_numpy()))
            counts = floor.copy()
            counts[j] += int(np.floor(rest / k[j] + 1e-12))
            return Batch(pd.Series(counts, index=self.groups, name="counts"), float(k @ counts),
                         "worst_group", round)
        try:
            # each round refits and re-plans: extrapolation warnings of one round's plan would
            # describe a plan that is never carried out beyond this batch
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EquisampleWarning)
                curves = fit_learning_curves(obs, group=group, n=n, error=error)
                plan = allocate(curves, budget=rest, costs=pd.Series(k, index=self.groups),
                                objective=self.objective,
                                population_shares=self.population_shares,
                                current_n=pd.Series(cur + floor, index=self.groups),
                                max_n=self.max_n, p=self.p, alpha=self.alpha, integer=True)
        except EquisampleError as exc:
            counts = self._equal_split(self.batch_budget, round)
            return Batch(pd.Series(counts, index=self.groups, name="counts"), float(k @ counts),
                         "fallback", round, note=str(exc))
        counts = floor + np.asarray(plan.recruit.reindex(self.groups).to_numpy(), dtype=np.int64)
        return Batch(pd.Series(counts, index=self.groups, name="counts"), float(k @ counts),
                     "plugin", round, predicted_error=plan.predicted_error)
