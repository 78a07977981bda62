"""Invariants of the weighting engine (hypothesis): targets are met, labels and row order do not
matter, integer weights equal replicated rows, scaling targets scales weights, inputs are left
alone, and two independent algorithms (IPF ``rake`` and Newton ``calibrate(method="raking")``)
agree to 1e-10.

Targets are always made from some positive "true" weights ``w* = d * exp(e)``, ``|e| <= 0.5``, so
every problem has a solution, strictly inside g in (0.5, 2) (which the logit cases use as bounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import estimators as est

LOGIT_BOUNDS = (0.5, 2.0)
# The package default: well above the ~1e-12 floor that double precision leaves Newton on
# ill-conditioned auxiliary matrices (there calibrate raises rather than claim convergence).
TOL = 1e-10


@dataclass
class Case:
    frame: pd.DataFrame
    base: np.ndarray
    truth: np.ndarray

    def margin(self, column: str) -> dict[Any, float]:
        sums = pd.Series(self.truth, index=self.frame.index).groupby(self.frame[column]).sum()
        return {k: float(v) for k, v in sums.items()}

    def joint(self, columns: tuple[str, str]) -> dict[Any, float]:
        sums = pd.Series(self.truth, index=self.frame.index).groupby(
            [self.frame[c] for c in columns]
        ).sum()
        return {tuple(k): float(v) for k, v in sums.items()}

    def numeric(self, column: str) -> float:
        return float(self.truth @ self.frame[column].to_numpy())

    def totals(self, *, numeric: bool = True) -> dict[Any, Any]:
        out: dict[Any, Any] = {"a": self.margin("a"), "b": self.margin("b")}
        if numeric:
            out["z"] = self.numeric("z")
        return out


@st.composite
def cases(draw: st.DrawFn, *, integer_weights: bool = False) -> Case:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 60))
    levels_a = draw(st.integers(2, 4))
    levels_b = draw(st.integers(2, 3))
    rng = np.random.default_rng(seed)

    def column(k: int) -> np.ndarray:
        codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        return rng.permutation(codes)

    frame = pd.DataFrame(
        {
            "a": np.array(["a0", "a1", "a2", "a3"])[column(levels_a)],
            "b": np.array(["b0", "b1", "b2"])[column(levels_b)],
            "z": rng.integers(1, 30, n).astype(float),
        },
        index=pd.Index(rng.permutation(n) * 7 + 3, name="row"),
    )
    if integer_weights:
        base = rng.integers(1, 4, n).astype(float)
    else:
        base = rng.uniform(0.5, 5.0, n)
    truth = base * np.exp(rng.uniform(-0.5, 0.5, n))
    return Case(frame, base, truth)


def _fit(case: Case, method: str, **kwargs: Any) -> est.WeightingResult:
    bounds = LOGIT_BOUNDS if method == "logit" else None
    return est.calibrate(
        case.frame, case.totals(), method=method, bounds=bounds, weights=case.base, tol=TOL,
        **kwargs,
    )


@given(cases(), st.sampled_from(["linear", "raking", "logit"]))
def test_calibrated_totals_equal_targets(case: Case, method: str) -> None:
    fit = _fit(case, method)
    assert fit.converged
    assert fit.max_margin_error <= TOL
    w = fit.weights
    for column in ("a", "b"):
        got = w.groupby(case.frame[column]).sum()
        for label, target in case.margin(column).items():
            assert abs(got[label] - target) <= 1e-9 * target
    assert abs(float(w @ case.frame["z"]) - case.numeric("z")) <= 1e-9 * case.numeric("z")
    if method == "logit":
        assert LOGIT_BOUNDS[0] < fit.g.min() and fit.g.max() < LOGIT_BOUNDS[1]


@given(cases(), st.sampled_from(["linear", "raking", "logit"]), st.integers(0, 2**32 - 1))
def test_row_order_and_labels_do_not_matter(case: Case, method: str, seed: int) -> None:
    fit = _fit(case, method)
    order = np.random.default_rng(seed).permutation(len(case.frame))
    shuffled = Case(
        case.frame.iloc[order].set_axis([f"r{i}" for i in range(len(order))]),
        case.base[order],
        case.truth[order],
    )
    again = _fit(shuffled, method)
    assert again.weights.index.equals(shuffled.frame.index)
    np.testing.assert_allclose(again.weights.to_numpy(), fit.weights.to_numpy()[order], rtol=1e-9)


@given(cases(integer_weights=True), st.sampled_from(["linear", "raking", "logit"]))
def test_integer_weights_equal_replicated_rows(case: Case, method: str) -> None:
    fit = _fit(case, method)
    copies = case.base.astype(int)
    rows = np.repeat(np.arange(len(case.frame)), copies)
    replicated = Case(
        case.frame.iloc[rows].reset_index(drop=True), np.ones(rows.size), case.truth[rows] / copies[rows]
    )
    bounds = LOGIT_BOUNDS if method == "logit" else None
    again = est.calibrate(
        replicated.frame, case.totals(), method=method, bounds=bounds, tol=TOL
    )
    per_row = np.bincount(rows, weights=again.weights.to_numpy(), minlength=len(case.frame))
    np.testing.assert_allclose(per_row, fit.weights.to_numpy(), rtol=1e-9)


@given(cases(), st.sampled_from(["linear", "raking"]), st.floats(0.1, 50.0))
def test_scaling_targets_scales_weights(case: Case, method: str, factor: float) -> None:
    """Unbounded linear and raking: an intercept is in the span, so c T gives c w."""
    fit = _fit(case, method)
    scaled_totals = {
        "a": {k: v * factor for k, v in case.margin("a").items()},
        "b": {k: v * factor for k, v in case.margin("b").items()},
        "z": case.numeric("z") * factor,
    }
    again = est.calibrate(case.frame, scaled_totals, method=method, weights=case.base, tol=TOL)
    np.testing.assert_allclose(again.weights.to_numpy(), factor * fit.weights.to_numpy(), rtol=1e-9)


@given(cases(), st.sampled_from(["linear", "raking", "logit"]))
def test_inputs_are_not_mutated(case: Case, method: str) -> None:
    frame_before = case.frame.copy()
    base_before = case.base.copy()
    totals = case.totals()
    totals_before = {k: (dict(v) if isinstance(v, dict) else v) for k, v in totals.items()}
    bounds = LOGIT_BOUNDS if method == "logit" else None
    design = est.SurveyDesign(case.frame, weights=case.base)
    est.calibrate(design, totals, method=method, bounds=bounds, tol=TOL)
    pd.testing.assert_frame_equal(case.frame, frame_before)
    np.testing.assert_array_equal(case.base, base_before)
    np.testing.assert_array_equal(design.weight_array, base_before)
    assert totals == totals_before


@given(cases(), st.booleans())
def test_rake_agrees_with_raking_calibration(case: Case, joint: bool) -> None:
    """Two independent algorithms, IPF and Newton on the multipliers, reach the same weights."""
    if joint:
        frame = case.frame.assign(z_band=np.where(case.frame["z"] > 15, "high", "low"))
        truth = pd.Series(case.truth, index=case.frame.index)
        margins: dict[Any, Any] = {
            ("a", "b"): case.joint(("a", "b")),
            "z_band": {k: float(v) for k, v in truth.groupby(frame["z_band"]).sum().items()},
        }
    else:
        frame = case.frame
        margins = {"a": case.margin("a"), "b": case.margin("b")}
    ipf = est.rake(frame, margins, weights=case.base, tol=1e-13, max_iter=100_000)
    newton = est.calibrate(frame, margins, method="raking", weights=case.base, tol=1e-13)
    assert ipf.converged and newton.converged
    np.testing.assert_allclose(ipf.weights.to_numpy(), newton.weights.to_numpy(), rtol=1e-10)
