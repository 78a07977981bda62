"""Shared test configuration: headless plots, no BLAS oversubscription, hypothesis profiles."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")

import pytest
from hypothesis import HealthCheck, settings

# "ci" (the default) is derandomised so a test run is reproducible; "explore" searches randomly
# with more examples (HYPOTHESIS_PROFILE=explore) to hunt for new counterexamples.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def pooled_pilot():
    """Exact pooled learning curves ``a n^-b + d total^-beta + c`` of two groups, 5 x 3 points
    each (Rolf et al. 2021's transfer form): x (2, .6, .05, 1, .4), y (1, .4, .1, 3, .5)."""
    import pandas as pd

    rows = []
    for g, (a, b, c, d, beta) in {"x": (2, 0.6, 0.05, 1.0, 0.4),
                                  "y": (1, 0.4, 0.1, 3.0, 0.5)}.items():
        for ng in [20, 40, 80, 160, 320]:
            for tot in [400, 1600, 6400]:
                rows.append({"group": g, "n": ng, "total": tot,
                             "error": a * ng**-b + d * tot**-beta + c})
    return pd.DataFrame(rows)
