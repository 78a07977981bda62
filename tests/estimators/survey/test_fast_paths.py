"""The shortcuts for the commonest call (one estimate over every row of an unstratified design
with independent rows) give what the general code gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators import SurveyDesign
from estimators.survey import _estimation

FIELDS = ("estimate", "std_error", "deff_without_replacement", "deff_with_replacement",
          "kish_deff", "effective_sample_size", "n")


def _frame(seed: int, n: int, zeros: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 40.0, n)
    w[:zeros] = 0.0
    return pd.DataFrame({"y": rng.normal(10, 3, n) * rng.choice([1, 1e-3, 1e4]), "w": w,
                         "id": np.arange(n)})


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), zeros=st.integers(0, 1),
       statistic=st.sampled_from(["mean", "total"]))
def test_independent_rows_equal_one_psu_per_row(seed, n, zeros, statistic):
    """No psu given (the shortcut) and psu = one label per row (the general Taylor code)."""
    df = _frame(seed, n, zeros)
    fast = getattr(SurveyDesign(df, weights="w"), statistic)("y")
    general = getattr(SurveyDesign(df, weights="w", psu="id"), statistic)("y")
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(general, name), rtol=1e-10,
                                   atol=0, err_msg=name)
    np.testing.assert_allclose(fast.covariance, general.covariance, rtol=1e-10, atol=0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), zeros=st.integers(0, 3),
       statistic=st.sampled_from(["mean", "total", "ratio"]))
def test_whole_sample_srs_variances_equal_grouped_ones(seed, n, zeros, statistic):
    """The single-estimate sums of the SRS variances equal the grouped (bincount) ones."""
    df = _frame(seed, n, min(zeros, n - 1))
    w = df["w"].to_numpy()
    a = df["y"].to_numpy()
    b = None if statistic == "total" else (np.ones(n) if statistic == "mean" else
                                           np.abs(a) + 1.0)
    domain = np.zeros(n, dtype=np.int64)
    whole = _estimation._core(domain, 1, a, b)
    grouped = _estimation._Core(whole.rows, whole.cols, whole.a, whole.b, 1, n, all_rows=False,
                                b_is_one=whole.b_is_one)
    pieces = _estimation._pieces(whole, w)
    kind = "ratio" if statistic == "ratio" else statistic
    for fast, general in zip(_estimation._srs_variances(whole, pieces, kind),
                             _estimation._srs_variances(grouped, _estimation._pieces(grouped, w),
                                                        kind)):
        np.testing.assert_allclose(fast, general, rtol=1e-10, atol=1e-300)
