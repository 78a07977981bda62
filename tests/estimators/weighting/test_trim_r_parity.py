"""``trim`` equals R survey's ``trimWeights`` on its man-page example (outside truth).

Reference: ``reference/trim_r_parity.R`` (R 4.2.2, survey 4.1.1) wrote ``trim_r_parity.json``:
the calibrated apiclus1 weights, ``trimWeights(lower=20, upper=45)`` with ``strict=FALSE`` and
``strict=TRUE``, and ``svymean(~api99+api00+stype)`` on each. Tolerances: 1e-8 relative on
weights and means, 1e-7 on standard errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est

pytestmark = pytest.mark.reference

REFERENCE = Path(__file__).parent / "reference"
CASE = json.loads((REFERENCE / "trim_r_parity.json").read_text())
DATA = pd.read_csv(REFERENCE / "weighting_apiclus1.csv", keep_default_na=False)


def _relative(ours: np.ndarray, theirs: list[float]) -> float:
    reference = np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(np.asarray(ours) - reference) / np.abs(reference)))


def _calibrated() -> est.WeightingResult:
    design = est.SurveyDesign(DATA, weights="pw", psu="dnum", fpc="fpc")
    totals = {"stype": CASE["totals"]["stype"], "api99": float(CASE["totals"]["api99"])}
    return est.calibrate(design, totals, method="linear")


def _means(design: est.SurveyDesign) -> tuple[np.ndarray, np.ndarray]:
    parts = [est.mean(design, "api99"), est.mean(design, "api00"), est.proportion(design, "stype")]
    return (np.concatenate([p.estimate for p in parts]),
            np.concatenate([p.std_error for p in parts]))


@pytest.mark.parametrize(
    ("key", "strict"), [("calibrated", None), ("trimmed", False), ("trimmed_strict", True)]
)
def test_trim_weights_and_means_equal_r(key: str, strict: bool | None) -> None:
    fit = _calibrated()
    if strict is not None:
        fit = est.trim(fit, lower=CASE["lower"], upper=CASE["upper"], strict=strict)
    assert _relative(fit.weights.to_numpy(), CASE[key]["weights"]) < 1e-8
    means, ses = _means(fit.design)
    assert _relative(means, CASE[key]["mean"]) < 1e-8
    # calibrated variables have an SE of rounding size (1e-14): compared on the scale of the mean
    reference_se = np.asarray(CASE[key]["mean_se"])
    zero = reference_se < 1e-10 * np.abs(means)
    assert _relative(ses[~zero], reference_se[~zero]) < 1e-7
    assert (ses[zero] < 1e-10 * np.abs(means[zero])).all()


def test_trim_of_design_equals_trim_of_fit() -> None:
    fit = _calibrated()
    a = est.trim(fit, lower=20, upper=45, strict=True).weights
    b = est.trim(fit.design, lower=20, upper=45, strict=True).weights
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=0)


def test_trim_fit_with_numeric_total_reports_every_margin() -> None:
    trimmed = est.trim(_calibrated(), lower=20, upper=45)
    assert list(trimmed.trace.columns) == ["stype", "api99"]
    assert np.isfinite(trimmed.trace.to_numpy()).all()


def test_freeze_rule_keeps_trimmed_weights_at_their_bound() -> None:
    fit = _calibrated()
    frozen = est.trim(fit, lower=20, upper=45, strict=True, strict_rule="freeze").weights
    recursive = est.trim(fit, lower=20, upper=45, strict=True).weights
    assert frozen.between(20, 45).all() and recursive.between(20 - 1e-9, 45 + 1e-9).all()
    assert not np.allclose(frozen.to_numpy(), recursive.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(frozen.sum(), recursive.sum(), rtol=1e-12)


def test_strict_rule_is_validated() -> None:
    with pytest.raises(est.ValidationError, match="strict_rule"):
        est.trim(_calibrated(), upper=45, strict=True, strict_rule="sometimes")
