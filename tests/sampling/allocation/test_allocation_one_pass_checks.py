"""allocate's one-pass checks of per-group inputs against per_group, input by input.

``_resolve_at_once`` checks plain numbers and float64 Series on the curves' groups together and
declines everything else (then ``per_group`` resolves and reports each input in turn). These
tests hold the two routes to the same plans, the same errors in the same order, and the same
rule (``_rows_pass`` against ``_check_values``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimators.errors import EquisampleError, ValidationError
from sampling import allocate
from sampling.allocation import _core as core
from sampling.allocation import _plan

GROUPS = pd.Index([f"g{i}" for i in range(6)])
CURVES = pd.DataFrame({"a": [1.0, 2.0, 1.5, 0.7, 3.0, 1.1], "b": [0.5, 0.4, 0.6, 0.3, 0.8, 0.5],
                       "c": [0.05, 0.1, 0.02, 0.0, 0.03, 0.07]}, index=GROUPS)
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e308]
# 1e308 stays out of the plans: population shares that large sum to inf, every weight becomes
# 0 and the pnorm solve searches for its bracket without end (on both routes)
REFUSED = SPECIAL[:-1]


def _rule_holds(row, rule) -> bool:
    positive, nonnegative, finite = rule
    try:
        _plan._check_values(row, pd.RangeIndex(row.size), "x", positive=positive,
                            nonnegative=nonnegative, finite=finite)
    except ValidationError:
        return False
    return True


@pytest.mark.filterwarnings("ignore:(invalid value|overflow) encountered:RuntimeWarning")
@settings(max_examples=400, deadline=None)
@given(G=st.sampled_from([1, 2, 5, 10, 32, 33, 100]), data=st.data())
def test_rows_pass_is_the_rule_of_check_values(G, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows, rules = [], []
    for _ in range(data.draw(st.integers(1, 5))):
        row = rng.uniform(0.1, 100, G)
        for _ in range(data.draw(st.integers(0, 2))):
            row[rng.integers(G)] = data.draw(st.sampled_from(SPECIAL))
        rows.append(row)
        rules.append(data.draw(st.sampled_from([(True, True, True), (False, True, True),
                                                (True, True, False), (False, False, True),
                                                (False, True, False)])))
    expected = all(_rule_holds(r, rule) for r, rule in zip(rows, rules, strict=True))
    got = _plan._rows_pass(rows, rules)
    overflow = any(np.isinf(np.sum(r)) and np.isfinite(r).all() for r in rows)
    # True only when every rule holds; False when one fails, or "not sure" when a finite row's
    # sum overflows (the caller then checks row by row)
    assert got == expected or (overflow and not got)
    assert _plan._rows_pass(np.array(rows), rules) == got


def _forms(values: np.ndarray):
    """The forms the one pass accepts: the same Index, an equal Index, numbers."""
    return [pd.Series(values, index=GROUPS), pd.Series(values, index=pd.Index(list(GROUPS))),
            float(values[0]), int(max(values[0], 1)), np.float64(values[0]), None]


def test_one_pass_gives_per_groups_arrays():
    rng = np.random.default_rng(3)
    for costs in _forms(rng.uniform(1, 5, 6))[:-1]:
        for min_n in _forms(rng.uniform(1, 10, 6)):
            for max_n in _forms(rng.uniform(20, 50, 6)):
                for current in _forms(rng.uniform(0, 5, 6)):
                    for shares in _forms(rng.uniform(0.1, 1, 6)):
                        got = _plan._resolve_at_once(GROUPS, costs, current, min_n, max_n,
                                                     shares)
                        assert got is not None
                        np.testing.assert_array_equal(got.costs, _plan.per_group(
                            costs, GROUPS, "costs", default=None, positive=True))
                        np.testing.assert_array_equal(got.min_n, _plan.per_group(
                            min_n, GROUPS, "min_n", default=1.0, positive=True))
                        np.testing.assert_array_equal(got.max_n, _plan.per_group(
                            max_n, GROUPS, "max_n", default=np.inf, positive=True,
                            finite=False))
                        if current is None:
                            assert got.current is None
                        else:
                            np.testing.assert_array_equal(got.current, _plan.per_group(
                                current, GROUPS, "current_n", default=0.0))
                        if shares is None:
                            assert got.shares is None
                        else:
                            np.testing.assert_array_equal(got.shares, _plan.per_group(
                                shares, GROUPS, "population_shares", default=None))


def test_one_pass_declines_what_per_group_must_resolve_or_refuse():
    ok = pd.Series(np.ones(6), index=GROUPS)
    declined = [
        pd.Series(np.ones(6), index=GROUPS[::-1]),  # aligned by label
        pd.Series(np.ones(5), index=GROUPS[:5]),  # partial
        pd.Series(np.ones(6, dtype=np.int64), index=GROUPS),  # converted
        pd.Series([1.0, None, 1, 1, 1, 1], index=GROUPS).astype("Float64"),  # missing
        {g: 1.0 for g in GROUPS}, np.ones(6), [1.0] * 6, "1", 10**400,
        pd.Series([1.0, np.nan, 1, 1, 1, 1], index=GROUPS),
        pd.Series([1.0, -1.0, 1, 1, 1, 1], index=GROUPS), np.nan, -np.inf, 0.0,
    ]
    for bad in declined:
        assert _plan._resolve_at_once(GROUPS, bad, None, None, None, None) is None
        assert _plan._resolve_at_once(GROUPS, ok, None, bad, None, None) is None
    assert _plan._resolve_at_once(GROUPS, None, None, None, None, None) is None  # required
    assert _plan._resolve_at_once(GROUPS, ok, None, None, np.inf, None) is not None  # no cap
    assert _plan._resolve_at_once(GROUPS, ok, 0.0, None, None, 0.0) is not None  # >= 0
    nullable = pd.Series(np.arange(1.0, 7.0), index=GROUPS).astype("Float64")  # as per_group
    np.testing.assert_array_equal(
        _plan._resolve_at_once(GROUPS, nullable, None, None, None, None).costs,
        _plan.per_group(nullable, GROUPS, "costs", default=None, positive=True))


def _value(kind: str, rng: np.random.Generator, low: float, high: float):
    values = rng.uniform(low, high, 6)
    if kind == "series":
        return pd.Series(values, index=GROUPS)
    if kind == "bad series":
        values[rng.integers(6)] = rng.choice(REFUSED)
        return pd.Series(values, index=GROUPS)
    if kind == "shuffled":
        return pd.Series(values, index=GROUPS).sample(frac=1.0, random_state=1)
    if kind == "number":
        return float(values[0])
    if kind == "bad number":
        return float(rng.choice(REFUSED))
    return None


def _outcome(**options):
    try:
        plan = allocate(CURVES, integer=False, **options)
    except EquisampleError as err:
        return type(err), str(err)
    return repr((plan.status, plan.cost, plan.objective_value, plan.kkt_residual,  # nan == nan
                 plan.n_continuous.tolist(), plan.costs.tolist(), plan.current_n.tolist()))


# mostly inputs that make a plan, some that are refused
KINDS = ["series", "series", "series", "shuffled", "number", "none", "bad series", "bad number"]


# zero population shares make numpy warn inside the pnorm solve (on both routes)
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), costs=st.sampled_from([k for k in KINDS if k != "none"]),
       current=st.sampled_from(KINDS), min_n=st.sampled_from(KINDS),
       max_n=st.sampled_from(KINDS), shares=st.sampled_from(KINDS),
       objective=st.sampled_from(["utilitarian", "population", "pnorm", "maximin"]),
       budget=st.sampled_from([300.0, 300.0, 1.0, None]))
def test_one_pass_and_per_group_give_the_same_plans_and_errors(
        seed, costs, current, min_n, max_n, shares, objective, budget):
    rng = np.random.default_rng(seed)
    options = dict(budget=budget, costs=_value(costs, rng, 0.5, 3), objective=objective,
                   current_n=_value(current, rng, 0, 5), min_n=_value(min_n, rng, 1, 10),
                   max_n=_value(max_n, rng, 5, 200),
                   population_shares=_value(shares, rng, 0.1, 1))
    fast = _outcome(**options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_plan, "_resolve_at_once", lambda *args: None)
        slow = _outcome(**options)
    assert fast == slow


def test_plan_of_is_the_constructor():
    plan = allocate(CURVES, budget=100, integer=False)
    values = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}
    built = _plan.AllocationPlan(**values)
    assert {f.name: getattr(built, f.name) for f in dataclasses.fields(built)} == values
    assert vars(built) == vars(_plan.AllocationPlan._of(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cost = 0.0
    with pytest.raises(TypeError, match="needs exactly the fields"):
        _plan.AllocationPlan._of(**{k: v for k, v in values.items() if k != "status"})


def test_core_solution_of_is_the_constructor():
    values = (np.ones(3), 0.5, 1e-15, np.zeros(3, bool), np.ones(3, bool), "optimal", 4, True)
    assert vars(core.CoreSolution._of(*values)) == vars(core.CoreSolution(*values))


def test_curve_columns_in_any_order_or_with_more_columns():
    base = allocate(CURVES, budget=100, integer=False).n_continuous
    for table in (CURVES[["c", "a", "b"]], CURVES.assign(pilot_max_n=1e6),
                  CURVES.assign(note="x"), CURVES[["b", "c", "a"]].assign(d=1)):
        plan = allocate(table, budget=100, integer=False)
        pd.testing.assert_series_equal(plan.n_continuous, base)
    a, b, c = _plan._abc(CURVES)
    assert a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous


@pytest.mark.parametrize("objective", ["utilitarian", "population", "pnorm", "maximin",
                                       "alpha_fair", "target"])
def test_one_pass_and_per_group_plans_agree_to_the_bit(objective):
    for seed in range(25):
        rng = np.random.default_rng(seed)
        lo = rng.uniform(10, 20, 6)  # every error below 1 there (alpha_fair)
        options = dict(costs=_value("series", rng, 0.5, 3), min_n=pd.Series(lo, index=GROUPS),
                       max_n=pd.Series(lo + rng.uniform(100, 300, 6), index=GROUPS),
                       current_n=_value(["series", "number", "none"][seed % 3], rng, 0, 1),
                       objective=objective)
        if objective == "target":
            options["targets"] = pd.Series(0.6, index=GROUPS)
        else:
            options["budget"] = float(options["costs"] @ lo) * rng.uniform(1.05, 3)
        if objective == "population":
            options["population_shares"] = _value("series", rng, 0.1, 1)
        fast = _outcome(**options)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_plan, "_resolve_at_once", lambda *args: None)
            slow = _outcome(**options)
        assert fast == slow
        assert isinstance(fast, str), fast  # a plan, not an error
