"""allocate(): objectives, exact integers, infeasibility certificates, cvxpy path, uncertainty."""

import itertools
import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from estimators import InfeasibleError, ValidationError
from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import AllocationPlan, allocate

CURVES = pd.DataFrame({"a": [1.0, 2.0, 0.8], "b": [0.5, 0.4, 0.7], "c": [0.02, 0.05, 0.0]},
                      index=["x", "y", "z"])


def err(n, curves=CURVES):
    return curves["a"].to_numpy() * np.asarray(n, float) ** -curves["b"].to_numpy() + curves[
        "c"].to_numpy()


def test_utilitarian_closed_form_equal_exponents():
    curves = pd.DataFrame({"a": [1.0, 8.0], "b": [1.0, 1.0], "c": [0.0, 0.0]}, index=["p", "q"])
    plan = allocate(curves, budget=100, integer=False)
    # n_g proportional to sqrt(a_g): 1 : 2.828...
    want = 100 * np.sqrt([1.0, 8.0]) / np.sqrt([1.0, 8.0]).sum()
    np.testing.assert_allclose(plan.n_continuous.to_numpy(), want, rtol=1e-13)
    assert plan.status == "optimal" and plan.kkt_residual < 1e-13
    assert plan.solver == "kkt"


def test_population_weights_and_costs():
    plan = allocate(CURVES, budget=500, costs={"x": 1, "y": 2, "z": 4},
                    objective="population", population_shares={"x": 0.5, "y": 0.3, "z": 0.2},
                    integer=False)
    w = np.array([0.5, 0.3, 0.2])
    k = np.array([1.0, 2, 4])
    a, b = CURVES["a"].to_numpy(), CURVES["b"].to_numpy()
    n = plan.n_continuous.to_numpy()
    ratio = w * a * b * n ** (-b - 1) / k  # equal to lambda for every free group
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert float(k @ n) == pytest.approx(500, rel=1e-14)


def test_integer_equal_costs_equals_brute_force():
    budget = 30
    plan = allocate(CURVES, budget=budget, min_n=1)
    best, arg = np.inf, None
    for x, y in itertools.product(range(1, 29), range(1, 29)):
        z = budget - x - y
        if z < 1:
            continue
        v = err([x, y, z]).mean()
        if v < best - 1e-15:
            best, arg = v, (x, y, z)
    assert tuple(plan.n.tolist()) == arg
    assert plan.objective_value == pytest.approx(best, rel=1e-14)
    assert plan.rounding_cost >= -1e-15
    assert plan.integer_status == "optimal"


def test_integer_unequal_costs_equals_brute_force_milp():
    costs = {"x": 1.0, "y": 2.5, "z": 4.0}
    budget = 41.0
    plan = allocate(CURVES, budget=budget, costs=costs, min_n=1, max_n=20)
    k = np.array(list(costs.values()))
    best, arg = np.inf, None
    for n in itertools.product(range(1, 21), repeat=3):
        if k @ n <= budget + 1e-12:
            v = err(n).mean()
            if v < best - 1e-15:
                best, arg = v, n
    assert tuple(plan.n.tolist()) == arg
    assert plan.cost <= budget


def test_integer_maximin_unequal_costs_equals_brute_force():
    costs = {"x": 1.0, "y": 2.0, "z": 3.0}
    plan = allocate(CURVES, budget=40, costs=costs, objective="maximin", min_n=1, max_n=15)
    k = np.array(list(costs.values()))
    best = np.inf
    for n in itertools.product(range(1, 16), repeat=3):
        if k @ n <= 40 + 1e-12:
            best = min(best, err(n).max())
    assert plan.objective_value == pytest.approx(best, rel=1e-14)


def test_maximin_equalises_and_tie_breaks():
    plan = allocate(CURVES, budget=300, objective="maximin", integer=False)
    e = plan.predicted_error.to_numpy()
    np.testing.assert_allclose(e, e.max(), rtol=1e-12)
    assert plan.cost == pytest.approx(300, rel=1e-14)
    # a capped slow group sets the maximum: leximin spends the rest on the others
    capped = allocate(CURVES, budget=300, objective="maximin", integer=False, max_n={"y": 40})
    assert capped.n_continuous["y"] == pytest.approx(40)
    assert capped.cost == pytest.approx(300, rel=1e-12)
    rest = capped.predicted_error.drop("y").to_numpy()
    np.testing.assert_allclose(rest, rest[0], rtol=1e-12)
    none = allocate(CURVES, budget=300, objective="maximin", integer=False, max_n={"y": 40},
                    tie_break="none")
    assert none.cost < 300
    util = allocate(CURVES, budget=300, objective="maximin", integer=False, max_n={"y": 40},
                    tie_break="utilitarian")
    assert util.cost == pytest.approx(300, rel=1e-12)
    assert util.predicted_error.max() == pytest.approx(capped.predicted_error.max(), rel=1e-12)


def test_maximin_matches_cvxpy_callable():
    core = allocate(CURVES, budget=200, objective="maximin", integer=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gen = allocate(CURVES, budget=200, objective=lambda e, n: cp.max(e), integer=False)
    assert gen.solver == "cvxpy"
    assert gen.objective_value == pytest.approx(core.objective_value, rel=1e-6)
    assert gen.status != "optimal" or gen.kkt_residual <= 1e-6


def test_custom_sum_objective_verified():
    core = allocate(CURVES, budget=200, integer=False)
    gen = allocate(CURVES, budget=200, objective=lambda e, n: cp.sum(e) / 3, integer=False)
    # interior-point accuracy: objective to ~gap, sizes to ~sqrt(gap) (flat optimum)
    assert gen.objective_value == pytest.approx(core.objective_value, rel=1e-9)
    assert gen.objective_value >= core.objective_value * (1 - 1e-12)
    np.testing.assert_allclose(gen.n_continuous, core.n_continuous, rtol=1e-5)
    assert gen.status == "optimal" and gen.kkt_residual <= 1e-4


def test_pnorm_and_alpha_fair_kkt():
    for objective, extra in (("pnorm", {"p": 3.0}), ("alpha_fair", {"alpha": 2.0})):
        plan = allocate(CURVES, budget=200, objective=objective, integer=False, min_n=10, **extra)
        assert plan.status == "optimal" and plan.kkt_residual < 1e-9
        gen = allocate(CURVES, budget=200, integer=False, min_n=10, objective=(
            (lambda e, n: cp.sum(cp.power(e, 3)) / 3) if objective == "pnorm"
            else (lambda e, n: cp.sum(cp.inv_pos(1 - e)) / 3)))
        np.testing.assert_allclose(plan.n_continuous, gen.n_continuous, rtol=1e-4)


def test_pnorm_tends_to_maximin():
    big = allocate(CURVES, budget=200, objective="pnorm", p=200.0, integer=False)
    mm = allocate(CURVES, budget=200, objective="maximin", integer=False)
    np.testing.assert_allclose(big.n_continuous, mm.n_continuous, rtol=0.05)


def test_target_attainment():
    plan = allocate(CURVES, objective="target", targets=0.15, integer=False)
    want = (CURVES["a"] / (0.15 - CURVES["c"])) ** (1 / CURVES["b"])
    np.testing.assert_allclose(plan.n_continuous, want, rtol=1e-13)
    whole = allocate(CURVES, objective="target", targets=0.15)
    assert (whole.predicted_error <= 0.15 + 1e-15).all()
    assert (whole.n == np.ceil(want - 1e-9).astype(int)).all()


def test_current_n_is_a_free_lower_bound():
    plan = allocate(CURVES, budget=100, current_n={"x": 50, "y": 0, "z": 10}, integer=True)
    assert (plan.n >= pd.Series({"x": 50, "y": 1, "z": 10})).all()
    assert plan.cost == pytest.approx(float(plan.recruit.sum()))
    assert plan.cost <= 100
    assert (plan.recruit == plan.n - plan.current_n).all()


def test_infeasibility_certificates():
    with pytest.raises(InfeasibleError, match=r"lower bounds alone cost .* > budget"):
        allocate(CURVES, budget=10, min_n=10)
    with pytest.raises(InfeasibleError, match="bounds cross"):
        allocate(CURVES, budget=10, min_n=10, max_n={"x": 2, "y": 10, "z": 10})
    with pytest.raises(InfeasibleError, match="at or below the group's asymptotic error"):
        allocate(CURVES, objective="target", targets={"x": 0.1, "y": 0.04, "z": 0.1})
    with pytest.raises(InfeasibleError, match="needs more than max_n"):
        allocate(CURVES, objective="target", targets=0.1, max_n=50)
    with pytest.raises(InfeasibleError, match="cheapest plan meeting every target costs"):
        allocate(CURVES, objective="target", targets=0.1, budget=10)


def test_validation_errors():
    with pytest.raises(ValidationError, match="budget: is required"):
        allocate(CURVES)
    with pytest.raises(ValidationError, match="objective: must be one of"):
        allocate(CURVES, budget=10, objective="best")
    with pytest.raises(ValidationError, match="population_shares: is required"):
        allocate(CURVES, budget=10, objective="population")
    with pytest.raises(ValidationError, match="names groups that have no learning curve"):
        allocate(CURVES, budget=10, costs={"x": 1, "y": 1, "z": 1, "w": 1})
    with pytest.raises(ValidationError, match="has no value for some groups"):
        allocate(CURVES, budget=10, costs={"x": 1})
    with pytest.raises(ValidationError, match="costs: must be strictly positive"):
        allocate(CURVES, budget=10, costs=0)
    with pytest.raises(ValidationError, match="p: must be >= 1"):
        allocate(CURVES, budget=10, objective="pnorm", p=0.5)
    with pytest.raises(ValidationError, match="every error must stay below 1"):
        allocate(CURVES * 10, budget=10, objective="alpha_fair")
    with pytest.raises(ValidationError, match="a parameter table needs columns a, b, c"):
        allocate(CURVES.drop(columns="c"), budget=10)
    with pytest.raises(ValidationError, match="must be LearningCurves or a DataFrame"):
        allocate([1, 2], budget=10)
    with pytest.raises(ValidationError, match="targets: is required"):
        allocate(CURVES, objective="target")
    with pytest.raises(ValidationError, match="needs curves fitted with bootstrap"):
        allocate(CURVES, budget=10, uncertainty="bootstrap")
    with pytest.raises(ValidationError, match="not convex under the DCP rules"):
        allocate(CURVES, budget=10, objective=lambda e, n: -cp.sum(e))
    with pytest.raises(ValidationError, match="must return a scalar cvxpy expression"):
        allocate(CURVES, budget=10, objective=lambda e, n: e)


def _pilot(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g, (a, b, c) in {"x": (1.0, 0.5, 0.02), "y": (2.0, 0.4, 0.05)}.items():
        for n in [20, 40, 80, 160, 320, 640]:
            rows.append({"group": g, "n": n, "error": (a * n**-b + c) * np.exp(rng.normal(0, .03))})
    return pd.DataFrame(rows)


def test_uncertainty_bootstrap_and_robust():
    cv = fit_learning_curves(_pilot(), bootstrap=15, rng=1)
    plan = allocate(cv, budget=400, uncertainty="bootstrap")
    u = plan.uncertainty
    assert {"n_median", "n_q0.90", "error_q0.90"} <= set(u.columns)
    assert (u["n_q0.10"] <= u["n_q0.90"]).all()
    robust = allocate(cv, budget=400, uncertainty="robust", objective="maximin")
    assert robust.cost <= 400 and robust.status.startswith(("optimal", "continuous"))
    assert "n_median" in robust.to_frame().columns


def test_pooled_curves_via_cvxpy(pooled_pilot):
    cv = fit_learning_curves(pooled_pilot, pooled=True)
    plan = allocate(cv, budget=1000, integer=False)
    assert plan.solver == "cvxpy"
    assert plan.cost == pytest.approx(1000, rel=1e-6)
    with pytest.raises(ValidationError, match="pooled curves support"):
        allocate(cv, budget=1000, objective="pnorm")


def test_plan_result_api():
    plan = allocate(CURVES, budget=100, current_n={"x": 10})
    assert isinstance(plan, AllocationPlan)
    frame = plan.to_frame()
    assert list(frame.columns[:3]) == ["n", "recruit", "n_continuous"]
    text = plan.summary()
    assert "KKT residual" in text and "rounding cost" in text
    ax = plan.plot()
    assert ax.get_ylabel() and ax.get_title()
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        plan.cost = 3
