"""calibrate: closed forms, options, the replicate reweight, and one test per error message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est


@pytest.fixture
def tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {"sex": ["f", "f", "m", "m"], "z": [1.0, 3.0, 2.0, 4.0]}, index=["a", "b", "c", "d"]
    )


# -- closed forms --------------------------------------------------------------------------------


def test_linear_calibration_closed_form(tiny: pd.DataFrame) -> None:
    """GREG by hand: x = (f, m, z), d = 1, T = (4, 6, 25).

    sum d x x' = [[2, 0, 4], [0, 2, 6], [4, 6, 30]], T - sum d x = (2, 4, 15), so
    lambda = (1.5, 2.75, -0.25) and g = 1 + x' lambda = (2.25, 1.75, 3.25, 2.75).
    """
    fit = est.calibrate(tiny, {"sex": {"f": 4, "m": 6}, "z": 25.0}, method="linear")
    assert fit.weights.index.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(fit.weights.to_numpy(), [2.25, 1.75, 3.25, 2.75], rtol=1e-14)
    assert fit.converged and fit.n_iter == 1


@pytest.mark.parametrize("method", ["linear", "raking", "logit"])
def test_one_margin_is_poststratification(tiny: pd.DataFrame, method: str) -> None:
    """With one categorical margin every distance gives g = N_c / (sum of d in c)."""
    d = np.array([1.0, 3.0, 2.0, 2.0])
    bounds = (0.1, 10.0) if method == "logit" else None
    fit = est.calibrate(tiny, {"sex": {"f": 8, "m": 6}}, method=method, weights=d, bounds=bounds)
    np.testing.assert_allclose(fit.g.to_numpy(), [2.0, 2.0, 1.5, 1.5], rtol=1e-12)


def test_truncated_linear_closed_form() -> None:
    """Linear calibration to one total with an upper bound, by hand.

    d = 1, z = (1, 2, 3), T = 11, U = 2. Unbounded: 6 + 14 l = 11, g = 1 + 5 z / 14 puts row 3 at
    2.07 > 2. Clamping row 3 at 2: (1 + l) + 2 (1 + 2 l) + 3 * 2 = 11 gives l = 0.4, so
    g = (1.4, 1.8, 2.0), and row 3 stays clamped (1 + 3 l = 2.2 > 2).
    """
    df = pd.DataFrame({"z": [1.0, 2.0, 3.0]})
    fit = est.calibrate(df, {"z": 11.0}, method="linear", bounds=(None, 2.0))
    np.testing.assert_allclose(fit.g.to_numpy(), [1.4, 1.8, 2.0], rtol=1e-12)
    assert fit.converged


def test_bounds_may_exclude_one_for_linear_and_raking(tiny: pd.DataFrame) -> None:
    """Base weights of 1 with population counts: g is near N / n, far from 1."""
    totals = {"sex": {"f": 400, "m": 600}, "z": 2500.0}
    for method in ("linear", "raking"):
        fit = est.calibrate(tiny, totals, method=method, bounds=(150, 350))
        assert fit.converged
        assert 150 - 1e-9 <= fit.g.min() and fit.g.max() <= 350 + 1e-9
        assert float(fit.weights @ tiny["z"]) == pytest.approx(2500.0, rel=1e-10)


# -- inputs and outputs ---------------------------------------------------------------------------


def test_design_input_records_step_and_replicate_reweight(tiny: pd.DataFrame) -> None:
    design = est.SurveyDesign(tiny.assign(w=[1.0, 2.0, 1.0, 2.0]), weights="w")
    totals = {"sex": {"f": 4, "m": 6}, "z": 25.0}
    fit = est.calibrate(design, totals, method="raking")
    step = fit.design.weighting_steps[-1]
    assert step.method == "raking"
    np.testing.assert_allclose(step.weights, fit.weights.to_numpy())
    assert step.model_matrix.shape == (4, 3)
    replicates = np.array([[1.0, 2.0, 0.5], [2.0, 1.0, 1.0], [1.0, 1.0, 3.0], [2.0, 2.0, 1.0]])
    together = step.reweight(replicates)
    for r in range(replicates.shape[1]):
        alone = est.calibrate(tiny, totals, method="raking", weights=replicates[:, r])
        np.testing.assert_allclose(together[:, r], alone.weights.to_numpy(), rtol=1e-10)


def test_long_frame_totals_with_numeric_row(tiny: pd.DataFrame) -> None:
    long = pd.DataFrame(
        {"variable": ["sex", "sex", "z"], "category": ["f", "m", None], "target": [4, 6, 25.0]}
    )
    fit = est.calibrate(tiny, long)
    np.testing.assert_allclose(fit.weights.to_numpy(), [2.25, 1.75, 3.25, 2.75], rtol=1e-14)
    table = fit.diagnostics()
    assert table["variable"].tolist() == ["sex", "sex", "z"]
    assert fit.trace.columns.tolist() == ["sex", "z"]


def test_dropped_rows_get_weight_zero(tiny: pd.DataFrame) -> None:
    df = pd.concat([tiny, pd.DataFrame({"sex": [None], "z": [5.0]}, index=["e"])])
    fit = est.calibrate(df, {"sex": {"f": 4, "m": 6}, "z": 25.0}, on_missing="drop")
    assert fit.weights["e"] == 0.0
    np.testing.assert_allclose(fit.weights.iloc[:4].to_numpy(), [2.25, 1.75, 3.25, 2.75])


def test_shares_use_population_total(tiny: pd.DataFrame) -> None:
    fit = est.calibrate(tiny, {"sex": {"f": 0.4, "m": 0.6}}, population_total=10)
    np.testing.assert_allclose(fit.weights.to_numpy(), [2.0, 2.0, 3.0, 3.0])


def test_caller_frame_untouched(tiny: pd.DataFrame) -> None:
    before = tiny.copy()
    est.calibrate(tiny, {"sex": {"f": 4, "m": 6}, "z": 25.0}, method="logit", bounds=(0.5, 5))
    pd.testing.assert_frame_equal(tiny, before)


# -- errors: one test per message -------------------------------------------------------------------


def test_unknown_method(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"method: must be one of 'linear', 'raking', 'logit'"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, method="ranking")


def test_bounds_not_a_pair(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"bounds: must be None or a pair \(lower, upper\)"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, bounds=(0.5, 1.0, 2.0))


def test_bound_not_a_number(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"bounds: the upper bound must be a number"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, bounds=(0.5, "two"))


def test_bound_nan(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"bounds: the lower bound must not be NaN"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, bounds=(float("nan"), 2.0))


def test_bounds_reversed(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"lower bound must be smaller than the upper"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, bounds=(2.0, 0.5))


@pytest.mark.parametrize("bounds", [None, (0.5, None), (1.2, 3.0)])
def test_logit_needs_finite_bounds_around_one(tiny: pd.DataFrame, bounds: object) -> None:
    with pytest.raises(est.ValidationError, match=r'method="logit" needs finite bounds with lower < 1 < upper'):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, method="logit", bounds=bounds)


def test_contradicting_totals(tiny: pd.DataFrame) -> None:
    df = tiny.assign(one=1.0)
    with pytest.raises(est.MarginError, match=r"totals: some totals contradict the others.*'one: target 11"):
        est.calibrate(df, {"sex": {"f": 4, "m": 6}, "one": 11.0})


def test_infeasible_bounds_name_totals_and_suggest_range(tiny: pd.DataFrame) -> None:
    with pytest.raises(
        est.InfeasibleError,
        match=r"bounds: no weights with g = w / d in \[0\.9, 1\.1\] meet every total.*'sex=m: target 6"
        r".*narrowest range of g that meets every total is \[1, 3\]; widen the bounds to contain it, "
        r"e\.g\. bounds=\([\d.]+, [\d.]+\) \(command line: --bounds [\d.]+ [\d.]+\)",
    ):
        est.calibrate(tiny, {"sex": {"f": 2, "m": 6}}, method="raking", bounds=(0.9, 1.1))


def test_no_positive_weights_meet_totals() -> None:
    """z total below what any positive weights give with these counts: raking cannot."""
    df = pd.DataFrame({"sex": ["f", "f", "m", "m"], "z": [1.0, 3.0, 2.0, 4.0]})
    with pytest.raises(est.InfeasibleError, match=r"No non-negative weights meet these totals at all"):
        est.calibrate(df, {"sex": {"f": 2, "m": 2}, "z": 1.0}, method="raking", bounds=(0.5, 2.0))


def test_unbounded_raking_infeasible_is_infeasible_error() -> None:
    """Without bounds, raking's g > 0 can still be impossible; found after Newton gives up."""
    df = pd.DataFrame({"sex": ["f", "f", "m", "m"], "z": [1.0, 3.0, 2.0, 4.0]})
    with pytest.raises(est.InfeasibleError, match=r"no weights with g = w / d in \[-inf, inf\]"):
        est.calibrate(df, {"sex": {"f": 2, "m": 2}, "z": 1.0}, method="raking", max_iter=30)


def test_nonconvergence_raises(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ConvergenceError, match=r"raking calibration did not converge in 1 Newton"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}, "z": 25.0}, method="raking", max_iter=1)


def test_nonconvergence_warns(tiny: pd.DataFrame) -> None:
    with pytest.warns(est.ConvergenceWarning, match=r"did not converge"):
        fit = est.calibrate(
            tiny, {"sex": {"f": 4, "m": 6}, "z": 25.0}, method="raking", max_iter=1,
            on_nonconvergence="warn",
        )
    assert not fit.converged
    assert fit.max_margin_error > fit.tol
    assert np.isfinite(fit.weights).all()


def test_bad_tol(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"tol: must be finite and > 0"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, tol=0)


def test_bad_max_iter(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"max_iter: must be >= 1"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, max_iter=0)


def test_bad_on_nonconvergence(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ValidationError, match=r"on_nonconvergence: must be one of 'raise', 'warn'"):
        est.calibrate(tiny, {"sex": {"f": 4, "m": 6}}, on_nonconvergence="ignore")


def test_numeric_total_column_not_numeric(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.MarginError, match=r"totals: numeric total column 'sex' is not numeric"):
        est.calibrate(tiny, {"sex": 3.0})


def test_unknown_total_column(tiny: pd.DataFrame) -> None:
    with pytest.raises(est.ColumnError, match=r"totals: names columns that are not in the data"):
        est.calibrate(tiny, {"income": 3.0})


def test_replicate_reweight_warns_when_a_set_cannot_converge(tiny: pd.DataFrame) -> None:
    fit = est.calibrate(tiny, {"sex": {"f": 4, "m": 6}, "z": 25.0}, method="raking")
    replicates = np.ones((4, 2))
    replicates[:2, 1] = 0.0  # no 'f' rows left in the second set: its 'f' total cannot be met
    with pytest.warns(est.ConvergenceWarning, match=r"reweight: raking calibration of 1 of 2 sets"):
        out = fit.step.reweight(replicates)
    assert np.isfinite(out).all()


def test_negative_linear_weights_warn() -> None:
    df = pd.DataFrame({"z": [1.0, 2.0, 3.0, 10.0]})
    with pytest.warns(est.DataWarning, match=r"weights: linear calibration gave 1 negative weights"):
        fit = est.calibrate(df, {"z": 2.0})
    assert (fit.weights < 0).sum() == 1
    bounded = est.calibrate(df, {"z": 2.0}, bounds=(0, None))
    assert (bounded.weights >= 0).all()
    assert float(bounded.weights @ df["z"]) == pytest.approx(2.0, rel=1e-10)


def test_overlapping_joint_and_one_way_totals() -> None:
    """A joint margin implies its one-way margins: the redundant constraints are detected (and
    checked to agree), the weights are those of the joint margin alone."""
    df = pd.DataFrame(
        {"a": ["x", "x", "y", "y", "y"], "b": ["p", "q", "p", "q", "q"], "z": [1.0, 2.0, 3.0, 4.0, 5.0]}
    )
    joint = {("x", "p"): 10.0, ("x", "q"): 20.0, ("y", "p"): 30.0, ("y", "q"): 40.0}
    alone = est.calibrate(df, {("a", "b"): joint, "z": 320.0}, method="raking")
    both = est.calibrate(
        df, {("a", "b"): joint, "a": {"x": 30.0, "y": 70.0}, "b": {"p": 40.0, "q": 60.0}, "z": 320.0},
        method="raking",
    )
    np.testing.assert_allclose(both.weights.to_numpy(), alone.weights.to_numpy(), rtol=1e-12)
    assert both.trace.columns.tolist() == ["a x b", "a", "b", "z"]


def test_redundant_total_meets_tol_too():
    """Regression: the solved (independent) totals met tol while an implied one (the last category
    of the second margin, dropped as redundant) did not, so calibrate raised ConvergenceError."""
    rng = np.random.default_rng(560)
    n, levels_a, levels_b = int(rng.integers(12, 61)), int(rng.integers(2, 5)), int(rng.integers(2, 4))

    def column(k: int) -> np.ndarray:
        return rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, n - k)]))

    frame = pd.DataFrame(
        {
            "a": np.array(["a0", "a1", "a2", "a3"])[column(levels_a)],
            "b": np.array(["b0", "b1", "b2"])[column(levels_b)],
            "z": rng.integers(1, 30, n).astype(float),
        }
    )
    base = rng.integers(1, 4, n).astype(float)
    truth = pd.Series(base * np.exp(rng.uniform(-0.5, 0.5, n)))
    rows = np.repeat(np.arange(n), base.astype(int))
    replicated = frame.iloc[rows].reset_index(drop=True)
    totals = {
        "a": truth.groupby(frame["a"]).sum().to_dict(),
        "b": truth.groupby(frame["b"]).sum().to_dict(),
        "z": float(truth @ frame["z"]),
    }
    fit = est.calibrate(replicated, totals, method="raking", tol=1e-10)
    assert fit.converged and fit.max_margin_error <= 1e-10
    got = fit.weights.groupby(replicated["b"]).sum()
    for label, target in totals["b"].items():
        assert abs(got[label] - target) <= 1e-9 * target
