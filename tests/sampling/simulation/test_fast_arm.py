"""The numpy path of common simulation arms equals the full rake / SurveyDesign path."""

from __future__ import annotations

import numpy as np
import pytest

import estimators as est
import sampling as smp
from sampling.simulation import _fast_arm


@pytest.fixture(scope="module")
def population():
    return smp.synthetic_population(n=4000, rng=3)


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("method", ["none", "rake"])
def test_fast_arm_equals_rake_and_design_mean(population, method, stratified):
    variables = ("age", "sex", "ethnicity")
    margins = {v: population[v].value_counts(normalize=True).sort_index().to_dict() for v in variables}
    prepared = _fast_arm.fast_weighting(population, variables, margins, None, {})
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(population), 400, replace=False))
    d = rng.uniform(1, 3, idx.size)
    y = population.iloc[idx][list(smp.SYNTHETIC_OPTIONS)].to_numpy(float)
    strata = population["age"].to_numpy()[idx] if stratified else None
    fast = _fast_arm.weigh_arm(method, prepared, idx, d, strata, y, True)
    assert fast is not None
    sample = population.iloc[idx][list(variables)].reset_index(drop=True)
    for j in range(y.shape[1]):
        sample[f"_y{j}"] = y[:, j]
    if stratified:
        sample["_stratum"] = strata
    design = est.SurveyDesign(sample, weights=d, strata="_stratum" if stratified else None)
    if method == "rake":
        design = est.rake(design, margins).design
    np.testing.assert_allclose(fast.weights, design.weight_array, rtol=1e-12)
    se = [float(design.mean(f"_y{j}").std_error[0]) for j in range(y.shape[1])]
    np.testing.assert_allclose(fast.std_errors, se, rtol=1e-10)


def test_settings_the_numpy_path_leaves_to_the_full_path(population):
    margins = {"age": population["age"].value_counts(normalize=True).to_dict()}
    assert _fast_arm.fast_weighting(population, ("age",), margins, {"upper": 5}, {}) is None
    assert _fast_arm.fast_weighting(population, ("age",), margins, None, {"tol": 1e-6}) is None
    counts = {"age": population["age"].value_counts().to_dict()}
    assert _fast_arm.fast_weighting(population, ("age",), counts, None, {}) is None
    prepared = _fast_arm.fast_weighting(population, ("age",), margins, None, {})
    idx = np.flatnonzero(population["age"].to_numpy() == population["age"].iloc[0])[:50]
    y = np.ones((idx.size, 1))
    assert _fast_arm.weigh_arm("rake", prepared, idx, np.ones(idx.size), None, y, True) is None
    assert _fast_arm.weigh_arm("calibrate", prepared, idx, np.ones(idx.size), None, y, True) is None


def test_empty_category_dropped_as_rake_drops_it(population):
    variables = ("age", "ethnicity")
    margins = {v: population[v].value_counts(normalize=True).sort_index().to_dict() for v in variables}
    prepared = _fast_arm.fast_weighting(population, variables, margins, None,
                                        {"on_empty_category": "drop"})
    rare = population["ethnicity"].value_counts().index[-1]
    pool = np.flatnonzero(population["ethnicity"].to_numpy() != rare)
    idx = np.sort(np.random.default_rng(1).choice(pool, 300, replace=False))
    d = np.ones(idx.size)
    y = population.iloc[idx][list(smp.SYNTHETIC_OPTIONS)].to_numpy(float)
    fast = _fast_arm.weigh_arm("rake", prepared, idx, d, None, y, True)
    assert fast is not None
    sample = population.iloc[idx][list(variables)].reset_index(drop=True)
    for j in range(y.shape[1]):
        sample[f"_y{j}"] = y[:, j]
    fit = est.rake(est.SurveyDesign(sample, weights=d), margins, on_empty_category="drop")
    np.testing.assert_allclose(fast.weights, fit.weights.to_numpy(), rtol=1e-12)
    se = [float(fit.design.mean(f"_y{j}").std_error[0]) for j in range(y.shape[1])]
    np.testing.assert_allclose(fast.std_errors, se, rtol=1e-10)
