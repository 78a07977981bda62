"""Learning curves are scale-equivariant: errors of magnitude 1e-20 or 1e20 fit like order-1 errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sampling as smp


@pytest.fixture
def pilot():
    rng = np.random.default_rng(5)
    sizes = np.array([10, 20, 40, 80, 160, 320])
    rows = []
    for g, (a, b, c) in {"x": (2.0, 0.5, 0.1), "y": (1.0, 0.3, 0.05)}.items():
        for n in sizes:
            rows.append({"group": g, "n": n, "error": (a * n**-b + c) * np.exp(rng.normal(0, 0.02))})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("scale", [1e20, 1e-20])
@pytest.mark.parametrize("space", ["log", "linear"])
def test_rescaled_errors_give_rescaled_curves(pilot, scale, space):
    ref = smp.fit_learning_curves(pilot, space=space).params
    fit = smp.fit_learning_curves(pilot.assign(error=pilot.error * scale), space=space).params
    for column in ("a", "c", "se_a", "se_c"):
        np.testing.assert_allclose(fit[column] / scale, ref[column], rtol=1e-6, atol=1e-12)
    for column in ("b", "se_b"):
        np.testing.assert_allclose(fit[column], ref[column], rtol=1e-6, atol=1e-12)
