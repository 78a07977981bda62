"""trim: R trimWeights semantics, bound types, redistribution, trim-then-rerake cycles, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimators import (
    ConvergenceError,
    ConvergenceWarning,
    InfeasibleError,
    SurveyDesign,
    ValidationError,
    rake,
    trim,
)


def design(values) -> SurveyDesign:
    return SurveyDesign(pd.DataFrame({"w": values}), weights="w")


def test_equal_shares_closed_form() -> None:
    fit = trim(design([1.0, 2.0, 3.0, 10.0]), upper=6)
    assert np.allclose(fit.weights, [1 + 4 / 3, 2 + 4 / 3, 3 + 4 / 3, 6.0], rtol=1e-15)
    assert np.isclose(fit.weights.sum(), 16.0)


def test_proportional_keeps_ratios_of_the_untrimmed() -> None:
    fit = trim(design([1.0, 2.0, 3.0, 10.0]), upper=6, redistribute="proportional")
    w = fit.weights.to_numpy()
    assert np.allclose(w[:3] / w[0], [1, 2, 3]) and w[3] == 6.0 and np.isclose(w.sum(), 16.0)


def test_one_pass_may_leave_weights_outside_and_strict_repeats() -> None:
    d = design([1.0, 1.0, 1.0, 5.0, 5.0, 20.0])
    one = trim(d, upper=6)  # excess 14 shared by five rows: 5 -> 7.8 > 6
    assert not one.converged and np.isclose(one.weights.max(), 7.8)
    # R's recursion: each pass shares the excess among every row inside, bounds included,
    # so the weights approach [5, 5, 5, 6, 6, 6] geometrically
    strict = trim(d, upper=6, strict=True)
    assert strict.converged and strict.n_iter > 2
    assert np.allclose(strict.weights, [5, 5, 5, 6, 6, 6], rtol=1e-12)
    frozen = trim(d, upper=6, strict=True, strict_rule="freeze")  # 3.6 to the never trimmed
    assert frozen.converged and frozen.n_iter == 2
    assert np.allclose(frozen.weights, [5, 5, 5, 6, 6, 6])


def test_bound_types() -> None:
    w = np.array([1.0, 2.0, 3.0, 4.0, 30.0])
    d = design(w)
    assert np.allclose(trim(d, upper=2, bound_type="median_multiple").weights, [7, 8, 9, 10, 6])
    assert trim(d, upper=2, bound_type="mean_multiple").weights.iloc[4] == 16.0
    assert np.isclose(trim(d, upper=0.75, bound_type="quantile").weights.iloc[4], 4.0)
    low = trim(d, lower=2, upper=10)
    assert low.weights.min() >= 1.0 and np.isclose(low.weights.sum(), w.sum())


def test_trim_of_a_fit_reports_margin_misfit_and_recalibrate_restores_it() -> None:
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame({"a": rng.choice(list("xyz"), n, p=[0.5, 0.3, 0.2]),
                       "b": rng.choice(list("uv"), n, p=[0.6, 0.4]),
                       "d": rng.lognormal(0, 0.5, n)})
    margins = {"a": {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}, "b": {"u": 0.5, "v": 0.5}}
    fit = rake(df, margins, weights="d")
    cap = 3 * float(np.median(fit.weights))
    plain = trim(fit, upper=3, bound_type="median_multiple")
    assert plain.max_margin_error > 1e-3  # trimming moved the margins
    kept = trim(fit, upper=3, bound_type="median_multiple", recalibrate=True)
    assert kept.converged and kept.max_margin_error <= 1e-8
    assert kept.weights.max() <= cap * (1 + 1e-8)
    assert kept.trace.shape[0] == kept.n_iter + 1
    reps = kept.step.reweight(np.column_stack([fit.weights.to_numpy()] * 2))
    assert np.allclose(reps[:, 1], kept.weights.to_numpy())
    assert [s.method for s in kept.design.weighting_steps] == ["rake", "trim"]


def test_error_no_bounds() -> None:
    with pytest.raises(ValidationError, match="lower: give lower, upper or both"):
        trim(design([1.0, 2.0]))


def test_error_no_positive_weight() -> None:
    with pytest.raises(ValidationError, match="weights: has no positive weight to trim"):
        trim(design([0.0, 0.0]), upper=1)


def test_error_quantile_out_of_range() -> None:
    with pytest.raises(ValidationError, match="a quantile must be a number in \\[0, 1\\]"):
        trim(design([1.0, 2.0]), upper=5, bound_type="quantile")


def test_error_upper_below_lower() -> None:
    with pytest.raises(ValidationError, match="upper: must be above lower"):
        trim(design([1.0, 2.0]), lower=3, upper=2)


def test_error_trimming_failed() -> None:
    with pytest.raises(InfeasibleError, match="trimming failed: no weight inside"):
        trim(design([10.0, 10.0]), upper=5)


def test_error_wrong_input_type() -> None:
    with pytest.raises(ValidationError, match="fit_or_design: must be a WeightingResult or a SurveyDesign"):
        trim(pd.DataFrame({"w": [1.0]}), upper=1)


def test_error_recalibrate_needs_a_fit() -> None:
    with pytest.raises(ValidationError, match="recalibrate: needs a weighting fit"):
        trim(design([1.0, 2.0, 9.0]), upper=5, recalibrate=True)


def test_error_recalibrate_nonconvergence() -> None:
    df = pd.DataFrame({"a": ["x"] * 2 + ["y"] * 8})
    fit = rake(df, {"a": {"x": 0.5, "y": 0.5}})
    with pytest.raises(ConvergenceError, match="trim with recalibrate did not converge"):
        trim(fit, upper=1.5, recalibrate=True, max_cycles=5)
    with pytest.warns(ConvergenceWarning, match="trim with recalibrate did not converge"):
        out = trim(fit, upper=1.5, recalibrate=True, max_cycles=5, on_nonconvergence="warn")
    assert not out.converged
