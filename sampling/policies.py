"""Sampling policies for :func:`sampling.simulate_policies`: how a budget becomes a sample.

A policy is any object with a ``name`` and a ``draw(context, budget, rng) -> Draw`` method
(:class:`Policy`). ``context`` is a :class:`PolicyContext` (the population as arrays: group codes,
group sizes, per-person costs, the frame itself for policies that need columns); ``draw`` returns
the positions of the people recruited, their design (base) weights and the money spent.

The policies here are frozen dataclasses, so they pickle (they travel to Dask workers) and compare
by value.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from estimators._errors import ValidationError
from estimators._validation import as_float_array, check_columns, fail

__all__ = [
    "ConveniencePolicy",
    "Draw",
    "EqualPolicy",
    "Policy",
    "PolicyContext",
    "ProportionalPolicy",
    "SimpleRandomPolicy",
]


@dataclass(frozen=True, eq=False)
class PolicyContext:
    """The population as a policy sees it (read-only arrays plus the frame).

    Attributes
    ----------
    population : DataFrame
        The caller's population frame (never mutated).
    group_codes : ndarray of int, shape (N,)
        Group (stratum) code 0..G-1 of each person.
    group_labels : tuple
        Label of each group code.
    group_sizes : ndarray of int, shape (G,)
        Number of people per group.
    group_costs : ndarray of float, shape (G,)
        Cost of recruiting one person of each group.
    unit_costs : ndarray of float, shape (N,)
        Cost of recruiting each person (``group_costs[group_codes]``).
    """

    population: pd.DataFrame
    group_codes: np.ndarray
    group_labels: tuple[Hashable, ...]
    group_sizes: np.ndarray
    group_costs: np.ndarray
    unit_costs: np.ndarray

    @property
    def size(self) -> int:
        """Number of people in the population."""
        return int(self.group_codes.shape[0])


@dataclass(frozen=True, eq=False)
class Draw:
    """One recruited sample: who (positions into the population), with which weights, at what cost.

    Attributes
    ----------
    indices : ndarray of int
        Positions (0..N-1) of the people recruited, no repeats.
    design_weights : ndarray of float
        Base weights of those people: ``1 / pi`` for probability designs; ``N / n`` for
        non-probability samples (to be corrected by reweighting).
    cost : float
        Money spent (recruitment cost of the people taken).
    stratified : bool
        Whether the sample was drawn independently within the groups (the groups are then strata
        of the design used for variance estimation).
    """

    indices: np.ndarray
    design_weights: np.ndarray
    cost: float
    stratified: bool = False


@runtime_checkable
class Policy(Protocol):
    """What :func:`sampling.simulate_policies` needs from a sampling policy."""

    name: str

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Spend at most ``budget`` recruiting from ``context``; return the sample."""
        ...


# --- helpers ------------------------------------------------------------------------------------
def take_within_budget(order: np.ndarray, unit_costs: np.ndarray, budget: float) -> np.ndarray:
    """The longest prefix of ``order`` whose total cost is within ``budget``."""
    spent = np.cumsum(unit_costs[order])
    return order[: int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))]


def integer_counts(target: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float) -> np.ndarray:
    """Round continuous group counts down, then add people by largest remainder within budget.

    Counts are capped at ``caps`` (the group sizes); the rounding never exceeds ``budget``.
    """
    target = np.minimum(target, caps)
    counts = np.floor(target + 1e-9).astype(np.int64)
    remainder = target - counts
    left = budget - float(costs @ counts)
    for g in np.argsort(-remainder, kind="stable"):
        if remainder[g] <= 1e-9:
            break
        if counts[g] < caps[g] and costs[g] <= left + 1e-9:
            counts[g] += 1
            left -= costs[g]
    return counts


def stratified_draw(context: PolicyContext, counts: np.ndarray, rng: np.random.Generator) -> Draw:
    """Simple random samples of ``counts[g]`` people within each group; weights ``N_g / n_g``."""
    chosen: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    order = np.argsort(context.group_codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(context.group_sizes)))
    for g, n_g in enumerate(counts):
        if n_g <= 0:
            continue
        members = order[starts[g] : starts[g + 1]]
        picked = rng.choice(members, size=int(n_g), replace=False)
        chosen.append(np.sort(picked))
        weights.append(np.full(int(n_g), context.group_sizes[g] / n_g))
    if not chosen:
        return Draw(np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, stratified=True)
    indices = np.concatenate(chosen)
    cost = float(context.unit_costs[indices].sum())
    return Draw(indices, np.concatenate(weights), cost, stratified=True)


def _propensities(spec: Any, context: PolicyContext, by: str | None, parameter: str) -> np.ndarray:
    """Per-person positive response propensities from a column name or a mapping by group."""
    frame = context.population
    if spec is None:
        return np.ones(context.size)
    if isinstance(spec, str):
        check_columns(frame, [spec], parameter)
        return as_float_array(frame[spec].to_numpy(), parameter, positive=True)
    if isinstance(spec, Mapping):
        if by is None:
            labels = pd.Series(np.asarray(context.group_labels, dtype=object)[context.group_codes])
        else:
            check_columns(frame, [by], "by")
            labels = pd.Series(frame[by].to_numpy())
        values = labels.map(dict(spec))
        missing = labels[values.isna()].unique()
        if len(missing):
            fail(
                ValidationError,
                parameter,
                "has no propensity for some groups",
                bad=list(missing),
                fix="Give a positive propensity for every group label.",
            )
        return as_float_array(values.to_numpy(dtype=float), parameter, positive=True)
    fail(
        ValidationError,
        parameter,
        "must be None, a column name or a mapping from group label to propensity",
        bad=[type(spec).__name__],
    )


# --- policies -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimpleRandomPolicy:
    """Simple random sampling without replacement until the budget is spent.

    People are taken in a uniformly random order while the running cost stays within the budget;
    design weights are ``N / n``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sampling.policies import SimpleRandomPolicy
    >>> from sampling.simulate import policy_context
    >>> pop = pd.DataFrame({"group": ["a"] * 6 + ["b"] * 4})
    >>> draw = SimpleRandomPolicy().draw(policy_context(pop, groups="group"), 5, np.random.default_rng(0))
    >>> len(draw.indices), float(draw.design_weights[0])
    (5, 2.0)
    """

    name: str = "simple random"

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Draw a simple random sample within ``budget``."""
        taken = np.sort(take_within_budget(rng.permutation(context.size), context.unit_costs, budget))
        n = taken.size
        weights = np.full(n, context.size / n) if n else np.zeros(0)
        return Draw(taken, weights, float(context.unit_costs[taken].sum()))


@dataclass(frozen=True)
class ConveniencePolicy:
    """Convenience (opt-in) sampling: people arrive with unequal response propensities.

    Each person's arrival time is exponential with rate equal to their propensity, and people are
    recruited in order of arrival until the budget is spent (successive sampling proportional to
    propensity, as an opt-in panel or crowd-work platform fills). The sample is not a probability
    sample: design weights are ``N / n`` for everyone and must be corrected by reweighting.

    Parameters
    ----------
    propensity : str, mapping or None
        A column of the population with positive propensities, or a mapping from group label to
        propensity (groups from ``by``, or the simulation's ``groups`` column); ``None`` = equal.
    by : str, optional
        Column whose labels the ``propensity`` mapping refers to.
    name : str
        Label in the results.

    Notes
    -----
    Arrival times :math:`T_i = E_i / p_i` with :math:`E_i \\sim \\text{Exp}(1)`; the first :math:`n`
    arrivals are a successive-sampling (Rosén 1997) sample with size measure :math:`p_i`.

    References
    ----------
    Rosén, B. (1997). On sampling with probability proportional to size. *Journal of Statistical
    Planning and Inference* 62, 159–191.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sampling.policies import ConveniencePolicy
    >>> from sampling.simulate import policy_context
    >>> pop = pd.DataFrame({"group": ["a"] * 50 + ["b"] * 50})
    >>> policy = ConveniencePolicy(propensity={"a": 9.0, "b": 1.0})
    >>> draw = policy.draw(policy_context(pop, groups="group"), 20, np.random.default_rng(0))
    >>> int((draw.indices < 50).sum()) > 10
    True
    """

    propensity: str | Mapping[Hashable, float] | None = None
    by: str | None = None
    name: str = "convenience"

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Recruit the earliest arrivals within ``budget``."""
        p = _propensities(self.propensity, context, self.by, "propensity")
        arrival = rng.exponential(size=context.size) / p
        taken = np.sort(take_within_budget(np.argsort(arrival, kind="stable"), context.unit_costs, budget))
        n = taken.size
        weights = np.full(n, context.size / n) if n else np.zeros(0)
        return Draw(taken, weights, float(context.unit_costs[taken].sum()))


@dataclass(frozen=True)
class ProportionalPolicy:
    """Stratified simple random sampling with counts proportional to group sizes.

    Notes
    -----
    With group sizes :math:`N_g` and costs :math:`c_g`, the continuous allocation is
    :math:`n_g = B N_g / \\sum_h N_h c_h`; counts are rounded down and the leftover budget goes to
    the largest remainders. Design weights are :math:`N_g / n_g` (Cochran 1977, §5.3).

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., ch. 5. Wiley.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sampling.policies import ProportionalPolicy
    >>> from sampling.simulate import policy_context
    >>> pop = pd.DataFrame({"group": ["a"] * 80 + ["b"] * 20})
    >>> draw = ProportionalPolicy().draw(policy_context(pop, groups="group"), 10, np.random.default_rng(0))
    >>> int((draw.indices < 80).sum()), int((draw.indices >= 80).sum())
    (8, 2)
    """

    name: str = "proportional"

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Draw a proportionally allocated stratified sample within ``budget``."""
        sizes = context.group_sizes.astype(float)
        target = budget * sizes / float(sizes @ context.group_costs)
        counts = integer_counts(target, context.group_costs, context.group_sizes, budget)
        return stratified_draw(context, counts, rng)


@dataclass(frozen=True)
class EqualPolicy:
    """Stratified simple random sampling with the same number of people per group.

    Notes
    -----
    :math:`n_g = B / \\sum_h c_h` (capped at :math:`N_g`), rounded as in
    :class:`ProportionalPolicy`; design weights :math:`N_g / n_g`.

    References
    ----------
    Cai, W. et al. (2022). Adaptive sampling strategies to construct equitable training datasets.
    *FAccT 2022* (equal allocation as a baseline).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sampling.policies import EqualPolicy
    >>> from sampling.simulate import policy_context
    >>> pop = pd.DataFrame({"group": ["a"] * 80 + ["b"] * 20})
    >>> draw = EqualPolicy().draw(policy_context(pop, groups="group"), 10, np.random.default_rng(0))
    >>> int((draw.indices < 80).sum()), int((draw.indices >= 80).sum())
    (5, 5)
    """

    name: str = "equal"

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Draw an equally allocated stratified sample within ``budget``."""
        g = len(context.group_labels)
        target = np.full(g, budget / float(context.group_costs.sum()))
        counts = integer_counts(target, context.group_costs, context.group_sizes, budget)
        return stratified_draw(context, counts, rng)
