"""Properties of design-based estimates (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import estimators as est


@st.composite
def samples(draw):
    n_psu = draw(st.integers(4, 12))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_psu, max_size=n_psu))
    psu = np.repeat(np.arange(n_psu), sizes)
    n = len(psu)
    y = np.array(draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.floats(0.5, 4), min_size=n, max_size=n)))
    g = np.array(draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)))
    g[:2] = ["a", "b"]
    return pd.DataFrame({"y": y, "w": w, "psu": psu, "g": g})


@settings(max_examples=30)
@given(samples(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(frame, random):
    order = list(range(len(frame)))
    random.shuffle(order)
    shuffled = frame.iloc[order]
    a = est.SurveyDesign(frame, weights="w", psu="psu").mean("y", by="g")
    b = est.SurveyDesign(shuffled, weights="w", psu="psu").mean("y", by="g")
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-7, atol=1e-10)


@settings(max_examples=30)
@given(samples())
def test_jackknife_variance_of_a_total_equals_taylor(frame):
    d = est.SurveyDesign(frame, weights="w", psu="psu")
    np.testing.assert_allclose(
        d.with_replicates("jk1").total("y", by="g").std_error,
        d.total("y", by="g").std_error,
        rtol=1e-8, atol=1e-10,
    )


@settings(max_examples=30)
@given(samples(), st.floats(0.1, 10))
def test_scaling_weights_scales_totals_not_means(frame, c):
    d = est.SurveyDesign(frame, weights="w", psu="psu")
    scaled = est.SurveyDesign(frame.assign(w=frame.w * c), weights="w", psu="psu")
    np.testing.assert_allclose(scaled.mean("y").std_error, d.mean("y").std_error, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(scaled.total("y").estimate, c * d.total("y").estimate, rtol=1e-9, atol=1e-9)
