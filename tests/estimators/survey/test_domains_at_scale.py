"""Domain estimation with many domains: variances in memory proportional to rows + domains.

Above ``FULL_COVARIANCE_MAX`` estimates only the variances are computed (from the non-zero PSU
totals); they must equal the diagonal of the full covariance, which is checked here by lowering
the threshold on designs small enough for both paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.survey import _estimation


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    n = 3_000
    strata = rng.integers(0, 6, n)
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "pick": rng.choice(["a", "b", "c"], n),
        "g": rng.integers(0, 40, n),
        "w": rng.uniform(1, 4, n),
        "s": strata,
        "p": strata * 1000 + rng.integers(0, 60, n),
        "fpc": 500.0 + strata * 10,
    })


def _both(design, call):
    full = call(design)
    limit = _estimation.FULL_COVARIANCE_MAX
    _estimation.FULL_COVARIANCE_MAX = 0
    try:
        variances_only = call(design)
    finally:
        _estimation.FULL_COVARIANCE_MAX = limit
    return full, variances_only


@pytest.mark.parametrize("options", [
    {},
    {"strata": "s"},
    {"strata": "s", "psu": "p"},
    {"strata": "s", "psu": "p", "fpc": "fpc"},
])
@pytest.mark.parametrize("statistic", ["mean", "total", "proportion"])
def test_variances_only_equal_the_covariance_diagonal(frame, options, statistic):
    design = est.SurveyDesign(frame, weights="w", **options)
    y = "pick" if statistic == "proportion" else "y"
    full, lean = _both(design, lambda d: getattr(d, statistic)(y, by="g"))
    assert full.covariance is not None and lean.covariance is None
    np.testing.assert_allclose(lean.std_error, full.std_error, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lean.estimate, full.estimate, rtol=1e-14)


def test_lonely_psu_adjust_in_both_paths(frame):
    lonely = frame.assign(s=np.where(frame.index == 0, 99, frame.s), p=np.arange(len(frame)))
    design = est.SurveyDesign(lonely, weights="w", strata="s", psu="p")
    full, lean = _both(design, lambda d: d.mean("y", by="g", lonely_psu="adjust"))
    np.testing.assert_allclose(lean.std_error, full.std_error, rtol=1e-12)


def test_replicate_variances_only(frame):
    design = est.SurveyDesign(frame, weights="w", strata="s", psu="p").with_replicates("jkn")
    full, lean = _both(design, lambda d: d.mean("y", by="g"))
    np.testing.assert_allclose(lean.std_error, full.std_error, rtol=1e-12)


def test_many_domains_do_not_build_dense_matrices():
    rng = np.random.default_rng(0)
    n, k = 20_000, 4_000
    df = pd.DataFrame({"y": rng.normal(size=n), "g": np.arange(n) % k, "w": rng.uniform(1, 2, n)})
    result = est.SurveyDesign(df, weights="w").mean("y", by="g")
    assert result.covariance is None
    assert len(result.estimate) == k
    assert np.isfinite(result.std_error).all()


def test_calibrated_design_with_too_many_domains_points_to_replicates(monkeypatch):
    from estimators.survey import _design

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=200), "g": np.arange(200) % 50,
                       "sex": rng.choice(["f", "m"], 200)})
    fit = est.rake(df, {"sex": {"f": 0.5, "m": 0.5}})
    monkeypatch.setattr(_design, "_DENSE_RESIDUAL_MAX", 1_000)
    with pytest.raises(est.DesignError, match="too many domains for the linearised variance"):
        fit.design.mean("y", by="g")
    replicated = fit.design.with_replicates("jk1").mean("y", by="g")
    assert np.isfinite(replicated.std_error).all()
