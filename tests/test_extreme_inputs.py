"""Inputs at the edges of what a function can do: a package error naming the problem, not a raw
exception or a silent inf / 0 / NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
import sampling as smp


def test_duplicated_columns_are_named():
    df = pd.DataFrame([[1.0, "f", 2.0], [2.0, "m", 1.0]], columns=["y", "sex", "y"])
    with pytest.raises(est.ColumnError, match="appear more than once in the data"):
        est.SurveyDesign(df).mean("y")


@pytest.mark.parametrize("value", [1e300, 1e-300])
def test_values_whose_squares_leave_the_float_range_are_refused(value):
    df = pd.DataFrame({"y": [value, 2 * value, 3 * value]})
    with pytest.raises(est.ValidationError, match=r"where variances \(squares of the values\) stay"):
        est.SurveyDesign(df).mean("y")


def test_neyman_without_strata():
    with pytest.raises(est.ValidationError, match="is empty: there are no strata"):
        smp.neyman_allocation({}, {}, n=10)


def test_neyman_population_beyond_the_float_range():
    with pytest.raises(est.ValidationError, match="squared sizes overflow the float range"):
        smp.neyman_allocation({"a": 1e300, "b": 1e300}, {"a": 1.0, "b": 2.0}, n=10)


def test_neyman_std_devs_beyond_the_float_range():
    with pytest.raises(est.ValidationError, match="must lie within"):
        smp.neyman_allocation({"a": 100, "b": 100}, {"a": 1e-300, "b": 1e-300}, n=10)


def test_allocate_with_an_empty_cost_mapping():
    curves = pd.DataFrame({"a": [1.0], "b": [0.5], "c": [0.1]}, index=["g"])
    with pytest.raises(est.ValidationError, match="has no value for some groups"):
        smp.allocate(curves, budget=10, costs={})


def test_simulate_policies_with_a_text_utility_column():
    population = smp.synthetic_population(n=500, rng=0).assign(model_a="x")
    with pytest.raises(est.ValidationError, match="must name numeric utility columns"):
        smp.simulate_policies(population, [smp.SimpleRandomPolicy()], options=["model_a"],
                              groups="age", budget=50, n_reps=2, rng=0)


def test_welfare_parameter_of_another_welfare_function_is_refused():
    u = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 2.0]})
    with pytest.raises(est.ValidationError, match="eps: is not used by swf='utilitarian'"):
        est.welfare(u, swf="utilitarian", eps=0.5)


def test_sensitivity_sample_lewis_settings_without_lewis_are_refused():
    X = np.random.default_rng(0).normal(size=(300, 3))
    with pytest.raises(est.ValidationError, match="are not used by method='leverage'"):
        smp.sensitivity_sample(X, 30, method="leverage", lewis_tol=1e-3, rng=0)


def test_sensitivity_sample_floor_constant_without_floor_is_refused():
    X = np.random.default_rng(0).normal(size=(300, 3))
    with pytest.raises(est.ValidationError, match="is used only with allocation='floor'"):
        smp.sensitivity_sample(X, 30, floor_constant=50, rng=0)


def test_sensitivity_sample_allocation_without_strata_is_refused():
    X = np.random.default_rng(0).normal(size=(300, 3))
    with pytest.raises(est.ValidationError, match="no strata were given"):
        smp.sensitivity_sample(X, 30, allocation="equal", rng=0)


_TWO_CURVES = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.5], "c": [0.0, 0.0]}, index=["x", "y"])


def test_allocate_refuses_population_shares_whose_sum_overflows():
    # the normalised weights were all 0 and the p-norm solve searched for a bracket forever
    with pytest.raises(est.ValidationError,
                       match=r"population_shares: sum beyond the floating-point range"):
        smp.allocate(_TWO_CURVES, budget=100, costs=1.0, objective="pnorm",
                     population_shares={"x": 1e308, "y": 1e308})


def test_allocate_refuses_a_total_spend_beyond_the_float_range():
    # the budget in total-spend units overflowed and the plan was "optimal" with NaN sizes
    with pytest.raises(est.ValidationError,
                       match=r"costs: times current_n plus the budget is beyond the "
                       r"floating-point range"):
        smp.allocate(_TWO_CURVES, budget=100, costs=1e308, current_n={"x": 5, "y": 5})
