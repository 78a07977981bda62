"""Weights equal R ``survey``'s on the ``api`` data (outside truth, 1e-8 relative).

The reference values come from ``tests/estimators/weighting/reference/weighting_api.R`` (R survey 4.1.1; versions are
recorded in ``weighting_api.json``). CI never runs R: it reads the committed JSON and CSV files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import estimators as est

pytestmark = pytest.mark.reference

REFERENCE = Path(__file__).parent / "reference"
RELATIVE_TOLERANCE = 1e-8
CASES: list[dict[str, Any]] = json.loads((REFERENCE / "weighting_api.json").read_text())["cases"]
DATA = {
    name: pd.read_csv(REFERENCE / f"weighting_{name}.csv", keep_default_na=False)
    for name in ("apistrat", "apiclus1")
}


def _cases(fun: str, *, status: str = "ok") -> list[Any]:
    return [
        pytest.param(c, id=c["name"])
        for c in CASES
        if c["fun"] == fun and c.get("r_status", "ok") == status
    ]


def _margin(spec: dict[str, Any]) -> tuple[Any, dict[Any, float]]:
    """A margin of the JSON (variables, levels, targets) as a key and a category -> target dict."""
    variables = spec["variables"]
    key = tuple(variables) if len(variables) > 1 else variables[0]
    targets = {
        (tuple(levels) if len(levels) > 1 else levels[0]): float(t)
        for levels, t in zip(spec["levels"], spec["targets"])
    }
    return key, targets


def _totals(case: dict[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = dict(_margin(m) for m in case["totals"]["categorical"])
    out.update({k: float(v) for k, v in case["totals"]["numeric"].items()})
    return out


def _max_relative_difference(ours: pd.Series, theirs: list[float]) -> float:
    reference = np.asarray(theirs, dtype=np.float64)
    return float(np.max(np.abs(ours.to_numpy() - reference) / np.abs(reference)))


@pytest.mark.parametrize("case", _cases("rake"))
def test_rake_equals_r(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    margins = dict(_margin(m) for m in case["margins"])
    fit = est.rake(data, margins, weights=case["design_weights"], tol=1e-13)
    assert fit.converged
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("case", _cases("rake"))
def test_raking_calibration_equals_r_rake(case: dict[str, Any]) -> None:
    """A second algorithm (Newton on the multipliers) reaches R's IPF fixed point too."""
    data = DATA[case["data"]]
    margins = dict(_margin(m) for m in case["margins"])
    fit = est.calibrate(data, margins, method="raking", weights=case["design_weights"], tol=1e-13)
    assert fit.converged
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("case", _cases("calibrate"))
def test_calibrate_equals_r(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    fit = est.calibrate(
        data,
        _totals(case),
        method=case["method"],
        bounds=case["bounds"],
        weights=case["design_weights"],
        tol=1e-13,
    )
    assert fit.converged
    assert fit.max_margin_error <= 1e-12
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE
    if case["bounds"] is not None:
        lower, upper = case["bounds"]
        g = fit.g.to_numpy()
        assert g.min() >= lower - 1e-12 and g.max() <= upper + 1e-12


@pytest.mark.parametrize("case", _cases("calibrate", status="error"))
def test_calibrate_infeasible_where_r_fails(case: dict[str, Any]) -> None:
    """R stops with "Calibration failed"; the LP proves the bounds infeasible and we say so."""
    data = DATA[case["data"]]
    with pytest.raises(est.InfeasibleError, match=r"no weights with g = w / d in \[0\.95, 1\.05\]"):
        est.calibrate(
            data, _totals(case), method=case["method"], bounds=case["bounds"],
            weights=case["design_weights"],
        )
    assert case["r_message"] == "Calibration failed"


def test_infeasible_suggestion_is_feasible() -> None:
    """The bounds the InfeasibleError suggests do calibrate (the LP's range is real)."""
    case = next(c for c in CASES if c["name"] == "calibrate_apiclus1_logit_infeasible")
    data = DATA[case["data"]]
    with pytest.raises(est.InfeasibleError) as info:
        est.calibrate(data, _totals(case), method="logit", bounds=(0.95, 1.05), weights="pw")
    suggested = str(info.value).split("bounds=(")[1].split(")")[0]
    lower, upper = (float(v) for v in suggested.split(","))
    fit = est.calibrate(data, _totals(case), method="logit", bounds=(lower, upper), weights="pw")
    assert fit.converged
    assert fit.g_range[0] > lower and fit.g_range[1] < upper


@pytest.mark.parametrize("case", _cases("poststratify"))
def test_poststratify_equals_r(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    key, targets = _margin(case["population"])
    fit = est.poststratify(
        data, {key: targets}, cells=case["cells"], weights=case["design_weights"]
    )
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("case", _cases("trim"))
def test_trim_equals_r_trim_weights(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    design = est.SurveyDesign(data, weights=case["design_weights"])
    fit = est.trim(
        design, lower=case["lower"], upper=case["upper"], redistribute="equal",
        strict=case["strict"],
    )
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("case", _cases("calibrate_replicates"))
def test_replicate_reweight_equals_r_svrep_calibrate(case: dict[str, Any]) -> None:
    """``WeightingStep.reweight`` re-calibrates JK1 replicate weights as R's
    ``calibrate(svrepdesign, ...)`` does, all 15 replicates at once."""
    data = DATA[case["data"]]
    fit = est.calibrate(
        data, _totals(case), method=case["method"], bounds=case["bounds"],
        weights=case["design_weights"], tol=1e-13,
    )
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE
    base = np.asarray(case["replicate_base_weights"], dtype=np.float64)
    ours = fit.design.weighting_steps[-1].reweight(base)
    assert ours.shape == (len(data), 15)
    _replicates_match(ours, case)


def _replicates_match(ours: np.ndarray, case: dict[str, Any]) -> None:
    theirs = np.asarray(case["replicate_weights"], dtype=np.float64)
    assert ours.shape == theirs.shape
    zero = theirs == 0
    np.testing.assert_array_equal(ours[zero], 0.0)
    assert np.max(np.abs(ours[~zero] - theirs[~zero]) / theirs[~zero]) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("case", _cases("rake_replicates"))
def test_rake_replicate_reweight_equals_r(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    margins = dict(_margin(m) for m in case["margins"])
    fit = est.rake(data, margins, weights=case["design_weights"], tol=1e-13)
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE
    base = np.asarray(case["replicate_base_weights"], dtype=np.float64)
    _replicates_match(fit.step.reweight(base), case)


@pytest.mark.parametrize("case", _cases("poststratify_replicates"))
def test_poststratify_replicate_reweight_equals_r(case: dict[str, Any]) -> None:
    data = DATA[case["data"]]
    key, targets = _margin(case["population"])
    fit = est.poststratify(data, {key: targets}, cells=case["cells"], weights=case["design_weights"])
    assert _max_relative_difference(fit.weights, case["weights"]) <= RELATIVE_TOLERANCE
    base = np.asarray(case["replicate_base_weights"], dtype=np.float64)
    _replicates_match(fit.step.reweight(base), case)
