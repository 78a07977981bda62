"""Planning safety and strict arguments: allocate warns when a plan extrapolates a learning curve
or rests on poorly determined predicted errors, and every setting an objective (or method) does
not use is an error rather than ignored; per-group inputs are aligned by label, vectorised."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from estimators.errors import DataWarning, ExtrapolationWarning, ValidationError
from sampling import allocate, bethel_allocation, fit_learning_curves, neyman_allocation

# A pilot that stops at n = 100 (two evaluations at each of 10, 25, 50, 75, 100 per group).
# Truth: a n^-0.5 + c with c = 0.10, 0.15, 0.12 and a = 1.0, 3.0, 1.2; multiplicative noise
# (log-normal, sd 0.2; numpy default_rng(86)), rounded to 4 decimals. Group B's fitted asymptote
# is c = 0.43 +/- 0.44 (truth 0.15), and a maximin plan for 668 recruits puts all of them into B
# (7.7x its largest pilot n): the situation of the planning-safety report.
PILOT_N = [10, 10, 25, 25, 50, 50, 75, 75, 100, 100]
PILOT_ERRORS = {
    "A": [0.2994, 0.3956, 0.3431, 0.3467, 0.2054, 0.2674, 0.2332, 0.2203, 0.2091, 0.1528],
    "B": [1.0691, 1.0517, 1.0333, 0.764, 0.3517, 0.7285, 0.6957, 0.4929, 0.6363, 0.5399],
    "C": [0.5102, 0.361, 0.2916, 0.3615, 0.3031, 0.2916, 0.2136, 0.2076, 0.2602, 0.3192],
}


def _pilot() -> pd.DataFrame:
    return pd.DataFrame([(g, n, e) for g, errs in PILOT_ERRORS.items()
                         for n, e in zip(PILOT_N, errs, strict=True)],
                        columns=["group", "n", "error"])


@pytest.fixture(scope="module")
def curves():
    return fit_learning_curves(_pilot())


CURVES = pd.DataFrame({"a": [1.0, 2.0, 1.5], "b": [0.5, 0.4, 0.6], "c": [0.05, 0.1, 0.02]},
                      index=["x", "y", "z"])


# ----------------------------------------------------------------------------- planning safety
def test_the_report_example_warns_twice_and_records_the_extrapolation(curves):
    assert curves.params.loc["B", "c"] == pytest.approx(0.427, abs=0.01)
    assert curves.params.loc["B", "se_c"] == pytest.approx(0.436, abs=0.01)
    assert curves.params["pilot_max_n"].tolist() == [100.0, 100.0, 100.0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = allocate(curves, budget=668, current_n=100, objective="maximin")
    assert plan.recruit.to_dict() == {"A": 0, "B": 668, "C": 0}
    messages = [str(w.message) for w in caught if issubclass(w.category, ExtrapolationWarning)]
    assert len(messages) == 2
    assert "'B': n = 768 is 7.68x its largest pilot n 100" in messages[0]
    assert "uncertainty='bootstrap'" in messages[0] and "uncertainty='robust'" in messages[0]
    assert "'B': error 0.452 +/- 0.3 at n = 768 (asymptote c = 0.427 +/- 0.44)" in messages[1]
    assert issubclass(ExtrapolationWarning, DataWarning)
    assert plan.extrapolation.round(2).to_dict() == {"A": 1.0, "B": 7.68, "C": 1.0}
    frame = plan.to_frame()
    assert frame.loc["B", "pilot_max_n"] == 100.0
    assert frame.loc["B", "extrapolation"] == pytest.approx(7.68)


def test_unstable_warning_alone_when_the_limit_is_raised(curves):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        allocate(curves, budget=668, current_n=100, objective="maximin", extrapolation_limit=10)
    assert len(caught) == 1
    assert "determine poorly" in str(caught[0].message)


def test_no_warning_inside_the_pilot_range(curves):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = allocate(curves, budget=30, current_n=10, max_n=100)
    assert (plan.extrapolation <= 1).all()


def test_parameter_table_with_pilot_sizes_warns_and_without_does_not():
    table = CURVES.assign(pilot_max_n=[20.0, 20.0, 20.0])
    with pytest.warns(ExtrapolationWarning, match=r"beyond 4x their largest pilot sample size: 'y'"):
        plan = allocate(table, budget=600)
    assert plan.extrapolation["y"] > 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = allocate(CURVES, budget=600)
    assert plain.extrapolation.isna().all()
    assert plain.pilot_max_n.isna().all()
    assert "extrapolation" not in plain.to_frame().columns


def test_extrapolation_limit_needs_pilot_sizes():
    with pytest.raises(ValidationError, match="extrapolation_limit: needs curves that know"):
        allocate(CURVES, budget=100, extrapolation_limit=10)


def test_extrapolation_limit_below_one():
    table = CURVES.assign(pilot_max_n=100.0)
    with pytest.raises(ValidationError, match="extrapolation_limit: must be >= 1"):
        allocate(table, budget=100, extrapolation_limit=0.5)


def test_extrapolation_limit_infinite_turns_the_check_off():
    table = CURVES.assign(pilot_max_n=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        allocate(table, budget=100, extrapolation_limit=np.inf)


# ----------------------------------------------------------------------------- ignored settings
@pytest.mark.parametrize("objective", ["utilitarian", "maximin"])
def test_population_shares_with_an_objective_that_ignores_them(objective):
    with pytest.raises(ValidationError, match=rf"population_shares: is not used by "
                                              rf"objective='{objective}'"):
        allocate(CURVES, budget=100, objective=objective,
                 population_shares={"x": 0.5, "y": 0.3, "z": 0.2})


def test_population_shares_with_target():
    with pytest.raises(ValidationError, match="population_shares: is not used by "
                                              "objective='target'"):
        allocate(CURVES, objective="target", targets=0.3, population_shares=[0.2, 0.3, 0.5])


def test_population_shares_with_a_callable_objective():
    with pytest.raises(ValidationError, match="population_shares: is not used by the callable"):
        allocate(CURVES, budget=100, objective=lambda err, n: err[0],
                 population_shares=[0.2, 0.3, 0.5])


def test_p_with_maximin():
    with pytest.raises(ValidationError, match="p: is not used by objective='maximin'; only "
                                              "objective='pnorm' uses it"):
        allocate(CURVES, budget=100, objective="maximin", p=3.0)


def test_alpha_with_utilitarian():
    with pytest.raises(ValidationError, match="alpha: is not used by objective='utilitarian'"):
        allocate(CURVES, budget=100, alpha=2.0)


def test_targets_with_utilitarian():
    with pytest.raises(ValidationError, match="targets: is not used by objective='utilitarian'"):
        allocate(CURVES, budget=100, targets=0.2)


def test_tie_break_with_utilitarian():
    with pytest.raises(ValidationError, match="tie_break: is not used by objective='utilitarian'"):
        allocate(CURVES, budget=100, tie_break="none")


def test_tie_break_with_pooled_curves():
    rng = np.random.default_rng(0)
    rows = []
    for g, (a, b, c) in {"x": (1.0, 0.5, 0.05), "y": (2.0, 0.4, 0.1)}.items():
        for n in (20, 40, 80, 160, 320, 640):
            total = 3 * n
            rows.append((g, n, total, (a * n**-b + 0.5 * total**-0.3 + c)
                         * np.exp(rng.normal(0, 0.01))))
    pilot = pd.DataFrame(rows, columns=["group", "n", "total", "error"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        pooled = fit_learning_curves(pilot, pooled=True)
    with pytest.raises(ValidationError, match="tie_break: is not used with pooled curves"):
        allocate(pooled, budget=100, objective="maximin", tie_break="none")


def test_quantile_without_an_uncertainty_mode():
    with pytest.raises(ValidationError, match="quantile: is used only with uncertainty="):
        allocate(CURVES, budget=100, quantile=0.8)


def test_tol_with_target():
    with pytest.raises(ValidationError, match="tol: is not used by objective='target'"):
        allocate(CURVES, objective="target", targets=0.3, tol=1e-6)


def test_defaults_passed_explicitly_are_accepted():
    plan = allocate(CURVES, budget=100, objective="maximin", p=2.0, alpha=1.0, quantile=0.9,
                    tie_break="leximin")
    assert plan.status == "optimal"


@pytest.mark.parametrize(("name", "value"), [("power", 0.3), ("sizes", [10, 20, 30]),
                                             ("means", [1.0, 2.0, 3.0])])
def test_neyman_bankier_settings_with_another_method(name, value):
    with pytest.raises(ValidationError, match=rf"{name}: is used only by method='bankier'"):
        neyman_allocation([100, 200, 300], [1.0, 2.0, 3.0], n=30, **{name: value})


def test_neyman_optimal_with_n():
    with pytest.raises(ValidationError, match="method: 'optimal' allocates a budget or a variance"):
        neyman_allocation([100, 200, 300], [1.0, 2.0, 3.0], n=30, costs=[1.0, 2.0, 4.0],
                          method="optimal")


def test_bethel_both_targets():
    S = pd.DataFrame({"y1": [1.0, 2.0], "y2": [2.0, 1.0]})
    with pytest.raises(ValidationError, match="target_cvs: give target_variances or target_cvs, "
                                              "not both"):
        bethel_allocation([1000, 1000], S, target_variances={"y1": 0.5, "y2": 0.5},
                          target_cvs={"y1": 0.1, "y2": 0.1},
                          means=pd.DataFrame({"y1": [1.0, 1.0], "y2": [1.0, 1.0]}))


def test_bethel_means_with_variance_targets():
    S = pd.DataFrame({"y1": [1.0, 2.0], "y2": [2.0, 1.0]})
    with pytest.raises(ValidationError, match="means: is used only with target_cvs"):
        bethel_allocation([1000, 1000], S, target_variances={"y1": 0.5, "y2": 0.5},
                          means=pd.DataFrame({"y1": [1.0, 1.0], "y2": [1.0, 1.0]}))


def test_fit_total_column_without_pooling():
    with pytest.raises(ValidationError, match="total: names the total sample size column"):
        fit_learning_curves(_pilot(), total="N")


def test_fit_rng_without_bootstrap():
    with pytest.raises(ValidationError, match="rng: drives the bootstrap only"):
        fit_learning_curves(_pilot(), rng=0)


# ----------------------------------------------------------------------------- per-group inputs
def test_per_group_inputs_align_by_label_in_any_form():
    by_series = allocate(CURVES, budget=100, costs=pd.Series([2.0, 1.0, 3.0], index=["z", "x", "y"]))
    by_dict = allocate(CURVES, budget=100, costs={"x": 1.0, "y": 3.0, "z": 2.0})
    by_array = allocate(CURVES, budget=100, costs=[1.0, 3.0, 2.0])
    assert by_series.n.to_dict() == by_dict.n.to_dict() == by_array.n.to_dict()
    assert by_series.costs.to_dict() == {"x": 1.0, "y": 3.0, "z": 2.0}
    partial = allocate(CURVES, budget=100, min_n={"y": 30})
    assert partial.n["y"] >= 30 and partial.n["x"] >= 1


def test_per_group_duplicate_labels():
    with pytest.raises(ValidationError, match="costs: names a group more than once"):
        allocate(CURVES, budget=100, costs=pd.Series([1.0, 2.0, 3.0], index=["x", "x", "y"]))


def test_per_group_errors_name_groups():
    with pytest.raises(ValidationError, match=r"costs: must be finite; got 1 value: 'y'"):
        allocate(CURVES, budget=100, costs={"x": 1.0, "y": np.nan, "z": 1.0})
    with pytest.raises(ValidationError, match=r"min_n: must be strictly positive; got 1 value: 'z'"):
        allocate(CURVES, budget=100, min_n={"z": -1.0})
    with pytest.raises(ValidationError, match=r"costs: needs one value per group \(3\)"):
        allocate(CURVES, budget=100, costs=[1.0, 2.0])


def test_plan_series_are_typed_and_cached():
    plan = allocate(CURVES, budget=100)
    assert plan.n.dtype == np.int64 and plan.recruit.dtype == np.int64
    assert plan.n is plan.n
    assert plan.active_set.tolist() == ["free", "free", "free"]
    continuous = allocate(CURVES, budget=100, integer=False)
    assert continuous.n.dtype == np.float64
    assert "AllocationPlan(objective='utilitarian'" in repr(plan)


def test_maximin_level_below_float_resolution():
    # group B's curve (b at the fit's bound 10, a ~ 1e12) drops below its asymptote's next float
    # before the budget is spent: the level is that float and the rest goes to B
    steep = pd.DataFrame({"a": [2.7331317389945884, 1042865900771.3677, 0.6735146774661682],
                          "b": [0.966194896985565, 9.999999999997941, 0.2731477482361001],
                          "c": [0.1756002055165407, 0.3627385394561072, 5.727279893211005e-16]},
                         index=["A", "B", "C"])
    plan = allocate(steep, budget=668, current_n=100, objective="maximin", integer=False)
    assert plan.n_continuous.to_dict() == pytest.approx({"A": 100.0, "B": 768.0, "C": 100.0})
    assert plan.status == "optimal" and plan.kkt_residual <= 1e-12
    whole = allocate(steep, budget=668, current_n=100, objective="maximin")
    assert whole.n.to_dict() == {"A": 100, "B": 768, "C": 100}


def test_adaptive_allocator_refuses_settings_its_objective_ignores():
    import sampling as smp
    from estimators import ValidationError

    with pytest.raises(ValidationError, match="population_shares: is not used by objective='maximin'"):
        smp.AdaptiveAllocator(["a", "b"], batch_budget=10, objective="maximin",
                              population_shares={"a": 0.5, "b": 0.5})
