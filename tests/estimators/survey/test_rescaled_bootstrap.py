"""Preston's rescaled bootstrap (``method="mrb"``) against its closed form.

R's ``as.svrepdesign(type="mrbbootstrap")`` draws its half-samples with R's random numbers, so
the replicates cannot be equal; the outside truth is the closed form: over the random
half-samples the expected replicate variance of a total is the Taylor variance with fpc,
``(1 - f_h) n_h / (n_h - 1) sum_i (t_hi - tbar_h)^2`` (checked to 3% with 20,000 replicates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est

pytestmark = pytest.mark.reference

REF = Path(__file__).parent / "reference"
APISTRAT = pd.read_csv(REF / "variance_apistrat.csv", keep_default_na=False)
APICLUS1 = pd.read_csv(REF / "variance_apiclus1.csv", keep_default_na=False)


@pytest.mark.parametrize(
    "design",
    [
        est.SurveyDesign(APISTRAT, weights="pw", strata="stype", fpc="fpc"),
        est.SurveyDesign(APICLUS1, weights="pw", psu="dnum", fpc="fpc"),
        est.SurveyDesign(APICLUS1, weights="pw", psu="dnum"),
    ],
    ids=["strat_fpc", "clus1_fpc", "clus1"],
)
def test_rescaled_bootstrap_variance_is_the_taylor_variance_on_average(design) -> None:
    replicated = design.with_replicates("mrb", replicates=20_000, rng=7)
    taylor = est.total(design, "enroll").std_error[0] ** 2
    mrb = est.total(replicated, "enroll").std_error[0] ** 2
    assert abs(mrb / taylor - 1) < 0.03


def test_rescaled_bootstrap_keeps_half_of_each_stratum() -> None:
    design = est.SurveyDesign(APISTRAT, weights="pw", strata="stype", fpc="fpc")
    replicated = design.with_replicates("mrb", replicates=10, rng=1)
    factors = replicated._factors
    lam = np.sqrt(50 * (1 - 100 / 4421) / 50)  # elementary schools: 100 sampled of 4421
    elementary = (APISTRAT["stype"] == "E").to_numpy()
    block = factors[elementary]
    expected = np.where(block > 1, 1 + lam, 1 - lam)
    np.testing.assert_allclose(block, expected, rtol=1e-12)
    assert ((factors[elementary] > 1).sum(axis=0) == 50).all()
    assert replicated.scale == 1.0 and np.allclose(replicated.rscales, 1 / 9)
