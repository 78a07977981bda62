"""bethel_allocation vs SamplingStrata's bethel() (Chromy's algorithm in R), to 1e-10 relative.

Reference values: tests/sampling/allocation/reference/allocation_bethel.R -> allocation_bethel.json (SamplingStrata's
R/Bethel.r sourced on the developer machine; CI does not need R). SamplingStrata states CV targets
on domain totals; each (variable, domain level) becomes one constraint here, with the standard
deviations set to zero outside the domain and ``V = (CV * Y_d)^2``.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sampling import bethel_allocation

pytestmark = pytest.mark.reference

REFERENCE = json.loads((Path(__file__).parent / "reference" / "allocation_bethel.json").read_text())


def _constraints(strata: pd.DataFrame, errors: pd.DataFrame):
    n_var = sum(c.startswith("CV") for c in errors.columns)
    std_devs, targets = {}, {}
    for _, row in errors.iterrows():
        domain = strata[row["DOM"]]
        for level in sorted(domain.unique()):
            inside = (domain == level).to_numpy()
            for j in range(1, n_var + 1):
                key = f"y{j}_{row['DOM']}_{level}"
                std_devs[key] = np.where(inside, strata[f"S{j}"], 0.0)
                total = float((strata["N"] * strata[f"M{j}"])[inside].sum())
                targets[key] = (row[f"CV{j}"] * total) ** 2
    return pd.DataFrame(std_devs), targets


@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_bethel_equals_samplingstrata(case):
    ref = REFERENCE["cases"][case]
    strata, errors = pd.DataFrame(ref["strata"]), pd.DataFrame(ref["errors"])
    std_devs, targets = _constraints(strata, errors)
    res = bethel_allocation(strata["N"].to_numpy(float), std_devs, target_variances=targets,
                            costs=strata["COST"].to_numpy(float), estimate="total", tol=1e-13)
    assert res.status == "optimal"
    want = np.asarray(ref["n"], dtype=float)
    np.testing.assert_allclose(res.n_continuous.to_numpy(), want, rtol=1e-10)
    # the take-all stratum of the "take_all" case is the one SamplingStrata censuses
    np.testing.assert_array_equal(res.take_all.to_numpy(), want == strata["N"].to_numpy())
