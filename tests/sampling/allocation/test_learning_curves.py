"""fit_learning_curves against base R nls (port, bounded) and closed forms."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimators import ColumnError, DataWarning, ValidationError
from sampling.allocation._learning_curves import LearningCurves, fit_learning_curves

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "allocation_learning_curves.json").read_text())


def _pilot() -> pd.DataFrame:
    rows = []
    for g, v in REF["groups"].items():
        rows += [{"group": g, "n": n, "error": e} for n, e in zip(v["n"], v["error"])]
    return pd.DataFrame(rows)


def test_matches_r_nls():
    curves = fit_learning_curves(_pilot())
    for g, v in REF["groups"].items():
        row = curves.params.loc[g]
        # deterministic optimiser on the same objective: parameters to 1e-6, SEs to 1e-4
        assert row["a"] == pytest.approx(v["a"], rel=1e-6)
        assert row["b"] == pytest.approx(v["b"], rel=1e-6)
        assert row["c"] == pytest.approx(v["c"], rel=1e-6)
        assert row["se_b"] == pytest.approx(v["se_b"], rel=1e-4)
        assert row["se_c"] == pytest.approx(v["se_c"], rel=1e-4)
        assert row["se_a"] == pytest.approx(v["a"] * v["se_log_a"], rel=1e-4)
        assert row["residual_scale"] == pytest.approx(v["residual_scale"], rel=1e-6)


def test_exact_curves_recovered_in_both_spaces():
    n = np.array([10, 20, 40, 80, 160, 320.0])
    df = pd.DataFrame({"g": ["a"] * 6, "size": n, "err": 3 * n**-0.7 + 0.02})
    for space in ("log", "linear"):
        cv = fit_learning_curves(df, group="g", n="size", error="err", space=space)
        np.testing.assert_allclose(cv.params.loc["a", ["a", "b", "c"]].to_numpy(float),
                                   [3, 0.7, 0.02], rtol=1e-7)
    assert cv.predict(1000, group="a") == pytest.approx(3 * 1000**-0.7 + 0.02, rel=1e-7)
    frame = cv.predict([10, 100])
    assert list(frame.columns) == ["a"] and frame.shape == (2, 1)


def test_caller_frame_untouched_and_order_kept():
    df = _pilot().sample(frac=1.0, random_state=1)
    before = df.copy()
    cv = fit_learning_curves(df)
    pd.testing.assert_frame_equal(df, before)
    assert cv.data.index.equals(df.index)


def test_bootstrap_replicates_and_bands():
    cv = fit_learning_curves(_pilot(), bootstrap=20, rng=3)
    assert cv.bootstrap_params["replicate"].nunique() == 20
    reps = cv.replicate_arrays()
    assert len(reps) == 20 and reps[0][0].shape == (3,)
    lo, hi = cv.prediction_interval([100, 5000], group="g1")
    mid = cv.predict(np.array([100, 5000.0]), group="g1")
    assert (lo <= mid * 1.05).all() and (hi >= mid * 0.95).all()
    again = fit_learning_curves(_pilot(), bootstrap=20, rng=3)
    pd.testing.assert_frame_equal(cv.bootstrap_params, again.bootstrap_params)
    no_boot = fit_learning_curves(_pilot())
    lo2, hi2 = no_boot.prediction_interval([100.0], group="g2")  # delta method
    assert lo2[0] < no_boot.predict(100.0, group="g2") < hi2[0]


def test_pooled_transfer_term(pooled_pilot):
    cv = fit_learning_curves(pooled_pilot, pooled=True)
    assert cv.pooled
    assert cv.params.loc["x", "b"] == pytest.approx(0.6, rel=1e-5)
    assert cv.params.loc["y", "beta"] == pytest.approx(0.5, rel=1e-5)
    assert cv.predict(100, group="x", total=1000) == pytest.approx(
        2 * 100**-0.6 + 1000**-0.4 + 0.05, rel=1e-6)
    with pytest.raises(ValidationError, match="pooled curves need the total sample size"):
        cv.predict(100, group="x")


def test_errors_and_warnings():
    df = _pilot()
    with pytest.raises(ColumnError, match="names columns that are not in the data"):
        fit_learning_curves(df, error="loss")
    short = df[df["n"] <= 50]
    with pytest.raises(ValidationError, match="too short for"):
        fit_learning_curves(short)
    bad = df.copy()
    bad.loc[0, "error"] = 0.0
    with pytest.raises(ValidationError, match="must be > 0 when space='log'"):
        fit_learning_curves(bad)
    up = df.copy()
    up["error"] = np.where(up["group"] == "g2", 0.1 + up["n"] * 1e-4, up["error"])
    with pytest.warns(DataWarning, match="does not decrease with n"):
        fit_learning_curves(up)
    with pytest.raises(ValidationError, match="does not decrease with n"):
        fit_learning_curves(up, on_nonmonotone="raise")
    with pytest.raises(ValidationError, match="space: must be one of"):
        fit_learning_curves(df, space="cubic")
    missing = df.copy()
    missing["group"] = missing["group"].astype(object)
    missing.loc[3, "group"] = None
    with pytest.raises(ValidationError, match="group labels must not be missing"):
        fit_learning_curves(missing)
    cv = fit_learning_curves(df)
    with pytest.raises(ValidationError, match="names groups without a fitted curve"):
        cv.predict(10, group="zzz")
    with pytest.raises(ValidationError, match="these curves have no bootstrap replicates"):
        cv.replicate_arrays()


def test_result_api():
    cv = fit_learning_curves(_pilot())
    assert isinstance(cv, LearningCurves)
    assert "Learning curves" in cv.summary()
    assert "<h4>" in cv.summary("html")
    ax = cv.plot()
    assert ax.get_xlabel() and ax.get_title()
