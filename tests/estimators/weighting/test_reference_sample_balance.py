"""ASMD and maximum-likelihood propensity weights equal Meta's ``balance`` 0.23.0 (outside truth).

The values come from ``reference/reference_sample_balance_reference.py`` (balance 0.23.0, numpy
1.26.4, scikit-learn 1.3.2; versions in the JSON), run on two data sets: balance's own simulated
data (``load_data()``, exported with its synthetic design weights by
``reference_sample_export_balance_sim.py``) and an opt-in sample from a known population
(``reference_sample_make_optin.py``). Tolerances: per-level ASMD 1e-9 absolute; normalised
maximum-likelihood IPW weights 1e-6 relative (balance's fit is newton-cg at tol 1e-14).
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
BALANCE: dict[str, Any] = json.loads(
    (REFERENCE / "reference_sample_balance_reference.json").read_text()
)["datasets"]
ASMD_TOLERANCE = 1e-9
WEIGHT_TOLERANCE = 1e-6


def _data(name: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    if name == "balance_sim":
        return (
            pd.read_csv(REFERENCE / "reference_sample_balance_sim_sample.csv"),
            pd.read_csv(REFERENCE / "reference_sample_balance_sim_target.csv"),
            ["gender", "age_group", "income"],
        )
    return (
        pd.read_csv(REFERENCE / "reference_sample_optin_sample_weighted.csv"),
        pd.read_csv(REFERENCE / "reference_sample_optin_reference.csv"),
        ["age", "sex", "education", "income"],
    )


ASMD_CASES = [
    ("balance_sim", "unweighted", None, None),
    ("balance_sim", "sample_weights", "dw", None),
    ("balance_sim", "sample_and_target_weights", "dw", "dw"),
    ("optin", "unweighted", None, None),
    ("optin", "sample_weights", "sample_weight", None),
    ("optin", "sample_and_reference_weights", "sample_weight", "ref_weight"),
    ("optin", "sample_and_reference_unequal_weights", "sample_weight", "ref_weight_unequal"),
    ("optin", "reference_weights_only", None, "ref_weight"),
]


def _level(balance_level: str) -> str:
    """balance's ``[T.x]`` / ``[x]`` / ``[_NA]`` level names as ours (``x``, ``(missing)``)."""
    level = balance_level.strip("[]")
    level = level.removeprefix("T.")
    return "(missing)" if level == "_NA" else level


@pytest.mark.parametrize(("name", "mode", "weights", "reference_weights"), ASMD_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in ASMD_CASES])
def test_per_level_asmd_equals_balance(name, mode, weights, reference_weights):
    sample, reference, covariates = _data(name)
    expected = BALANCE[name]["asmd"][mode]["per_level"]
    bal = est.covariate_balance(sample, reference, covariates=covariates, weights=weights,
                                reference_weights=reference_weights)
    table = bal.to_frame()
    column = "asmd" if weights is None else "weighted_asmd"
    got = {(c, lv): v for c, lv, v in zip(table["covariate"], table["level"], table[column])}
    assert len(expected) >= 7
    for row in expected:
        key = (row["covariate"], _level(row["level"]) if row["level"] else "")
        assert got[key] == pytest.approx(row["value"], abs=ASMD_TOLERANCE), key


@pytest.mark.parametrize(("name", "config", "weights", "reference_weights"), [
    ("balance_sim", "unweighted", None, None),
    ("balance_sim", "sample_and_target_weights", "dw", "dw"),
    ("optin", "main__unweighted_sample__ref_weight", "sample_weight", "ref_weight"),
    ("optin", "weighted__sample_weight__ref_weight_unequal", "sample_weight",
     "ref_weight_unequal"),
])
def test_maximum_likelihood_ipw_weights_equal_balance(name, config, weights, reference_weights):
    sample, reference, covariates = _data(name)
    if config == "main__unweighted_sample__ref_weight":
        sample = pd.read_csv(REFERENCE / "reference_sample_optin_sample.csv")
        weights = None
    expected = BALANCE[name]["adjust"][config]["ipw_unpenalised_custom_lr"]
    # balance's maximum-likelihood run has its weight trimming off: so has this one
    fit = est.adjust_to_reference(sample, reference, covariates=covariates, method="ipw",
                                  penalty=0, max_weight_ratio=None, weights=weights,
                                  reference_weights=reference_weights)
    w = pd.Series(fit.weights.to_numpy(), index=sample["id"].to_numpy())
    want = pd.Series(expected["weights_normalised_sum1"], index=expected["ids"])
    got = (w / w.sum()).loc[want.index].to_numpy()
    np.testing.assert_allclose(got, want.to_numpy(), rtol=WEIGHT_TOLERANCE, atol=0)
    assert fit.design_effect == pytest.approx(expected["design_effect_balance"], rel=1e-6)
    # the weights sum to the reference's weight total, as balance's raw weights
    assert float(fit.weights.sum()) == pytest.approx(sum(expected["weights_raw"]), rel=1e-9)
