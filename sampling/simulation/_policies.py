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
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from estimators._lib.validation import as_float_array, check_columns, fail
from estimators.errors import ValidationError
from sampling.allocation import AdaptiveAllocator, allocate
from sampling.quotas import QuotaTracker, design_quotas
from sampling.selection import sensitivity_sample

__all__ = [
    "AdaptivePolicy",
    "AllocationPolicy",
    "ConveniencePolicy",
    "Draw",
    "EqualPolicy",
    "Policy",
    "PolicyContext",
    "ProportionalPolicy",
    "QuotaPolicy",
    "SensitivityPolicy",
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

    Examples
    --------
    >>> import pandas as pd
    >>> from sampling import policy_context
    >>> ctx = policy_context(pd.DataFrame({"g": ["a", "b", "b"]}), groups="g")
    >>> ctx.size, ctx.group_codes.tolist()
    (3, [0, 1, 1])
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

    @cached_property
    def group_order(self) -> np.ndarray:
        """Positions of the population sorted by group (stable): group g's members are
        ``group_order[starts[g]:starts[g + 1]]`` with ``starts`` the cumulative group sizes."""
        return np.argsort(self.group_codes, kind="stable")


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

    Examples
    --------
    >>> import numpy as np
    >>> from sampling import Draw
    >>> draw = Draw(np.array([0, 5]), np.array([10.0, 10.0]), cost=2.0)
    >>> draw.indices.tolist(), draw.stratified
    ([0, 5], False)
    """

    indices: np.ndarray
    design_weights: np.ndarray
    cost: float
    stratified: bool = False


@runtime_checkable
class Policy(Protocol):
    """What :func:`sampling.simulate_policies` needs from a sampling policy.

    Examples
    --------
    A policy that always recruits the first ``budget`` people:

    >>> import numpy as np
    >>> from sampling import Draw, Policy
    >>> class FirstComers:
    ...     name = "first comers"
    ...     def draw(self, context, budget, rng):
    ...         taken = np.arange(int(budget))
    ...         return Draw(taken, np.full(taken.size, context.size / taken.size), float(budget))
    >>> isinstance(FirstComers(), Policy)
    True
    """

    name: str

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Spend at most ``budget`` recruiting from ``context``; return the sample."""
        ...


# --- helpers ------------------------------------------------------------------------------------
def take_within_budget(order: np.ndarray, unit_costs: np.ndarray, budget: float) -> np.ndarray:
    """The longest prefix of ``order`` whose total cost is within ``budget``."""
    spent = np.cumsum(unit_costs[order])
    return order[: int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))]


def earliest_within_budget(keys: np.ndarray, unit_costs: np.ndarray, budget: float) -> np.ndarray:
    """``take_within_budget(np.argsort(keys, kind="stable"), ...)`` without sorting everyone.

    No more than ``budget / min(cost) + 1`` people can fit, so only the smallest keys up to that
    rank (and every key tied with the last of them) are sorted, by key and then position: the same
    order as a stable sort of all keys, restricted to the people who can be reached.
    """
    n = keys.size
    reachable = int(budget * (1 + 1e-12) / float(unit_costs.min())) + 1 if n else 0
    if reachable >= n:
        return take_within_budget(np.argsort(keys, kind="stable"), unit_costs, budget)
    boundary = np.partition(keys, reachable - 1)[reachable - 1]
    candidates = np.flatnonzero(keys <= boundary)
    order = candidates[np.lexsort((candidates, keys[candidates]))]
    return take_within_budget(order, unit_costs, budget)


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
    order = context.group_order
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
    >>> from sampling.simulation import SimpleRandomPolicy
    >>> from sampling.simulation import policy_context
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
    >>> from sampling.simulation import ConveniencePolicy
    >>> from sampling.simulation import policy_context
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
        taken = np.sort(earliest_within_budget(arrival, context.unit_costs, budget))
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
    >>> from sampling.simulation import ProportionalPolicy
    >>> from sampling.simulation import policy_context
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
    >>> from sampling.simulation import EqualPolicy
    >>> from sampling.simulation import policy_context
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


def _group_counts(values: Any, context: PolicyContext, parameter: str) -> np.ndarray:
    """Per-group integer counts (a Series/mapping by group label) aligned to the context's groups."""
    series = pd.Series(values)
    missing = [g for g in context.group_labels if g not in series.index]
    if missing:
        fail(ValidationError, parameter, "has no count for some groups", bad=missing)
    counts = np.array([series[g] for g in context.group_labels], dtype=float)
    return np.minimum(np.round(counts).astype(np.int64), context.group_sizes)


def _arrival_order(context: PolicyContext, propensity: Any, by: str | None, rng: np.random.Generator) -> np.ndarray:
    p = _propensities(propensity, context, by, "propensity")
    return np.argsort(rng.exponential(size=context.size) / p, kind="stable")


@dataclass(frozen=True)
class AllocationPolicy:
    """Stratified sampling with group sizes from learning-curve allocation (``sampling.allocate``).

    For each budget the plan ``allocate(curves, budget=budget, costs=<group costs>,
    objective=objective, max_n=<group sizes>, **options)`` gives the number of people per group; a
    simple random sample of that size is drawn within each group (weights ``N_g / n_g``).

    Parameters
    ----------
    curves : LearningCurves or DataFrame
        Fitted learning curves (``sampling.fit_learning_curves``) or a table with columns ``a, b, c``
        indexed by group label (the groups of the simulation).
    objective : str
        Allocation objective (``"utilitarian"``, ``"maximin"``, ``"population"``, ...).
    options : mapping, optional
        Further keyword arguments for ``allocate``.
    name : str
        Label in the results (default: ``"allocate (<objective>)"``).

    Notes
    -----
    The plan minimises :math:`\\Phi(\\mathrm{err}_1(n_1), \\dots, \\mathrm{err}_G(n_G))` subject to
    :math:`\\sum_g c_g n_g \\le B` with :math:`\\mathrm{err}_g(n) = a_g n^{-b_g} + c_g` (Cai et al. 2022).

    References
    ----------
    Cai, W. et al. (2022). Adaptive sampling strategies to construct equitable training datasets.
    *FAccT 2022*.

    Examples
    --------
    >>> import pandas as pd
    >>> from sampling.simulation import AllocationPolicy
    >>> curves = pd.DataFrame({"a": [1.0, 3.0], "b": [0.5, 0.5], "c": [0.0, 0.0]}, index=["a", "b"])
    >>> AllocationPolicy(curves, objective="maximin").name
    'allocate (maximin)'
    """

    curves: Any
    objective: str = "utilitarian"
    options: Mapping[str, Any] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"allocate ({self.objective})")

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Draw the stratified sample the allocation plan asks for."""
        costs = dict(zip(context.group_labels, context.group_costs))
        sizes = dict(zip(context.group_labels, context.group_sizes.astype(float)))
        plan = allocate(self.curves, budget=budget, costs=costs, objective=self.objective,
                        max_n=sizes, **dict(self.options or {}))
        return stratified_draw(context, _group_counts(plan.n, context, "curves"), rng)


_QUOTA_PLANS: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}


@dataclass(frozen=True)
class QuotaPolicy:
    """Census-quota sampling: fill integer quota cells from an opt-in arrival stream.

    For each budget, ``n = floor(budget / mean cost)`` places are apportioned to the cells of
    ``variables`` by ``sampling.design_quotas`` (from ``table``, or the population's own counts), and
    a ``sampling.QuotaTracker`` accepts arriving people (in order of their exponential arrival times
    with rate ``propensity``) while their cell is open, until the quotas are complete, the budget is
    spent or nobody is left. Rejected people cost ``screening_cost`` each. Design weights are
    ``N / n`` (a non-probability sample; reweight it).

    Parameters
    ----------
    variables : sequence of str
        Quota variables (columns of the population).
    propensity : str, mapping or None
        Response propensities of the arrival stream, as in :class:`ConveniencePolicy`.
    by : str, optional
        Column the propensity mapping refers to.
    table : DataFrame or mapping, optional
        Census table for ``design_quotas`` (default: the population's joint counts).
    method : str
        Apportionment method (``"hamilton"``, ``"webster"``, ``"controlled"``, ...).
    interlocked : bool
        Quotas per joint cell (True) or per category of each variable.
    screening_cost : float
        Cost of screening out one person whose cell is full.
    name : str
        Label in the results.

    References
    ----------
    Balinski, M. L. and Young, H. P. (2001). *Fair Representation*, 2nd ed. Brookings.

    Kirk, H. R. et al. (2024). The PRISM alignment dataset (census-representative quota samples).

    Examples
    --------
    >>> from sampling.simulation import QuotaPolicy
    >>> QuotaPolicy(["age", "sex"], propensity="propensity", method="webster").name
    'census quota'
    """

    variables: tuple[str, ...] | list[str]
    propensity: str | Mapping[Hashable, float] | None = None
    by: str | None = None
    table: Any = None
    method: str = "hamilton"
    interlocked: bool = True
    screening_cost: float = 0.0
    name: str = "census quota"

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Fill the quotas from the arrival stream within ``budget``."""
        variables = list(self.variables)
        frame = context.population
        check_columns(frame, variables, "variables")
        n = int(budget // float(context.unit_costs.mean()))
        if n < 1:
            return Draw(np.zeros(0, dtype=np.int64), np.zeros(0), 0.0)
        # the plan depends only on the settings, the table and n: design it once per budget (the
        # cache holds the frame and table themselves, so their ids cannot be reused while cached)
        key = (tuple(variables), self.method, self.interlocked, id(self.table), id(frame), n)
        entry = _QUOTA_PLANS.get(key)
        plan = entry[2] if entry is not None and entry[0] is frame and entry[1] is self.table else None
        if plan is None:
            table = self.table
            if table is None:
                table = frame.groupby(variables, observed=True, sort=True).size().rename("count").reset_index()
            plan = design_quotas(table, n=n, variables=variables, method=self.method, interlocked=self.interlocked)
            if len(_QUOTA_PLANS) >= 256:
                _QUOTA_PLANS.clear()
            _QUOTA_PLANS[key] = (frame, self.table, plan)
        tracker = QuotaTracker(plan)
        order = _arrival_order(context, self.propensity, self.by, rng)
        values = frame[variables].to_numpy(dtype=object)
        costs = context.unit_costs
        accepted: list[int] = []
        spent = 0.0
        closed: set[tuple[Any, ...]] = set()  # interlocked cells already known to be full
        complete = tracker.complete
        for i in order:
            if complete or spent + costs[i] > budget * (1 + 1e-12):
                break
            cell = tuple(values[i])
            if cell in closed:
                spent += self.screening_cost
                continue
            if tracker.offer(dict(zip(variables, cell)), person_id=str(i)).accepted:
                accepted.append(int(i))
                spent += float(costs[i])
                complete = tracker.complete
            else:
                spent += self.screening_cost
                if self.interlocked:
                    closed.add(cell)
        taken = np.sort(np.array(accepted, dtype=np.int64))
        weights = np.full(taken.size, context.size / taken.size) if taken.size else np.zeros(0)
        return Draw(taken, weights, spent)


@dataclass(frozen=True)
class SensitivityPolicy:
    """Sensitivity-sampled subset of people (``sampling.sensitivity_sample``) with exact weights.

    ``m = budget / mean cost`` people are chosen with inclusion probabilities proportional to their
    leverage (or Lewis weight, root leverage, ...) in the feature matrix ``features``, optionally
    within the simulation's groups; weights are Horvitz–Thompson ``1 / pi``.

    Parameters
    ----------
    features : sequence of str
        Numeric columns of the population (categorical columns are one-hot encoded).
    method : str
        ``"leverage"``, ``"root_leverage"``, ``"lewis"``, ``"sensitivity"`` or ``"uniform"``.
    p : float
        The :math:`\\ell_p` geometry to preserve.
    stratified : bool
        Sample within the simulation's groups (strata) with ``allocation``.
    allocation : str
        Allocation of ``m`` across strata (``"proportional"``, ``"equal"``, ``"floor"``).
    name : str
        Label in the results.

    Notes
    -----
    Poisson sampling with :math:`\\pi_i = \\min(1, c\\, q_i)`, :math:`\\sum_i \\pi_i = m`; the cost is
    random around the budget (expected people :math:`m`).

    References
    ----------
    Woodruff, D. P. and Yasuda, T. (2023). Sharper bounds for :math:`\\ell_p` sensitivity sampling.
    *ICML 2023*.

    Examples
    --------
    >>> from sampling.simulation import SensitivityPolicy
    >>> SensitivityPolicy(["age", "sex"], method="lewis", p=1.0).name
    'sensitivity (lewis)'
    """

    features: tuple[str, ...] | list[str]
    method: str = "leverage"
    p: float = 2.0
    stratified: bool = True
    allocation: str = "proportional"
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"sensitivity ({self.method})")

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Draw the subset."""
        frame = context.population
        check_columns(frame, list(self.features), "features")
        X = pd.get_dummies(frame[list(self.features)], drop_first=True, dtype=float).to_numpy(dtype=float)
        X = np.column_stack([np.ones(len(frame)), X])
        m = int(budget // float(context.unit_costs.mean()))
        strata = np.asarray(context.group_codes) if self.stratified else None
        sub = sensitivity_sample(X, m, method=self.method, p=self.p, strata=strata,
                                 allocation=self.allocation, report=False, rng=rng)
        indices = np.asarray(sub.indices, dtype=np.int64)
        weights = np.asarray(sub.weights, dtype=float)
        return Draw(indices, weights, float(context.unit_costs[indices].sum()),
                    stratified=self.stratified)


@dataclass(frozen=True)
class AdaptivePolicy:
    """Sequential stratified sampling driven by ``sampling.AdaptiveAllocator``.

    The budget is spent in ``rounds`` equal batches. After each batch the policy measures each
    group's error — the standard error of the group's mean ``outcomes`` so far,
    :math:`\\bar s_g / \\sqrt{n_g}` (mean over outcome columns of the sample SD) — and the allocator
    refits the learning curves and chooses the next batch (plug-in allocation for ``objective``,
    or worst-group sampling), with an exploration floor. People are drawn without replacement
    within groups; weights are ``N_g / n_g``.

    Parameters
    ----------
    outcomes : sequence of str
        Population columns the policy observes for the people it recruits (e.g. the options'
        utilities or a pilot measurement).
    rounds : int
        Number of batches (>= 4, so curves can be fitted after three rounds).
    objective : str
        Objective of the plug-in plans (``"maximin"``, ``"utilitarian"``, ...).
    strategy : {"plugin", "worst_group"}
        Plug-in allocation on refitted curves (Cai et al. 2022) or worst-group sampling
        (Abernethy et al. 2022).
    exploration : float
        Share of every batch spread equally over the groups.
    outcome_model : object, optional
        With ``observe(values, rng)`` (e.g. :class:`~sampling.GaussianRatings`): what the policy
        measures for each recruit (noisy ratings rather than the true ``outcomes``). Use the same
        model as the simulation so the policy sees what a real recruiter would.
    name : str
        Label in the results (default ``"adaptive (<strategy>)"``).

    References
    ----------
    Cai, W. et al. (2022). Adaptive sampling strategies to construct equitable training datasets.
    *FAccT 2022*.

    Abernethy, J. et al. (2022). Active sampling for min-max fairness. *ICML 2022*.

    Examples
    --------
    >>> from sampling.simulation import AdaptivePolicy
    >>> AdaptivePolicy(["model_a", "model_b"], rounds=5, strategy="worst_group").name
    'adaptive (worst_group)'
    """

    outcomes: tuple[str, ...] | list[str]
    rounds: int = 5
    objective: str = "maximin"
    strategy: str = "plugin"
    exploration: float = 0.1
    outcome_model: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"adaptive ({self.strategy})")

    def draw(self, context: PolicyContext, budget: float, rng: np.random.Generator) -> Draw:
        """Recruit batch by batch, letting the allocator choose each batch."""
        allocator_class = AdaptiveAllocator
        rounds = int(self.rounds)
        if rounds < 4:
            fail(ValidationError, "rounds", "must be >= 4 (curves are fitted after three rounds)", bad=[rounds])
        frame = context.population
        check_columns(frame, list(self.outcomes), "outcomes")
        values = frame[list(self.outcomes)].to_numpy(dtype=float)
        labels = list(context.group_labels)
        sizes = context.group_sizes
        allocator = allocator_class(
            labels,
            costs=dict(zip(labels, context.group_costs)),
            batch_budget=budget / rounds,
            objective=self.objective,
            strategy=self.strategy,
            exploration=self.exploration,
            max_n=dict(zip(labels, sizes.astype(float))),
            rng=int(rng.integers(2**62)),
        )
        order = context.group_order
        starts = np.concatenate(([0], np.cumsum(sizes)))
        queues = [rng.permutation(order[starts[g] : starts[g + 1]]) for g in range(len(labels))]
        taken = np.zeros(len(labels), dtype=np.int64)
        seen: list[np.ndarray] = [np.zeros((0, values.shape[1])) for _ in labels]
        observed: list[dict[str, Any]] = []
        for round_ in range(rounds):
            batch = allocator.next_batch(
                pd.DataFrame(observed) if observed else None,
                current_n=dict(zip(labels, taken.astype(float))),
                round=round_,
            )
            counts = batch.counts.reindex(labels).to_numpy(dtype=np.int64)
            new_taken = np.minimum(taken + counts, sizes)
            for g in range(len(labels)):
                fresh = values[queues[g][taken[g] : new_taken[g]]]
                if self.outcome_model is not None and len(fresh):
                    fresh = np.asarray(self.outcome_model.observe(fresh, rng), dtype=float)
                seen[g] = np.vstack([seen[g], fresh])
            taken = new_taken
            for g, label in enumerate(labels):
                if taken[g] >= 2:
                    error = float(seen[g].std(axis=0, ddof=1).mean() / np.sqrt(taken[g]))
                    observed.append({"group": label, "n": int(taken[g]), "error": max(error, 1e-12)})
        chosen = [np.sort(queues[g][: taken[g]]) for g in range(len(labels)) if taken[g] > 0]
        if not chosen:
            return Draw(np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, stratified=True)
        indices = np.concatenate(chosen)
        weights = np.concatenate(
            [np.full(taken[g], sizes[g] / taken[g]) for g in range(len(labels)) if taken[g] > 0]
        )
        return Draw(indices, weights, float(context.unit_costs[indices].sum()), stratified=True)
