"""Simulate a known population and draw a biased opt-in sample plus an SRS reference.

Needs only numpy and pandas. Deterministic (numpy PCG64 default_rng, fixed seed).

Outputs (next to this file):
  optin_population_summary.json  (not needed downstream; population margins)
  optin_sample.csv               id, age, sex, education, income, y
  optin_sample_weighted.csv      same rows + sample_weight (design weights, U[0.5, 2])
  optin_reference.csv            id, age, sex, education, income, y, ref_weight (=N/n),
                                 ref_weight_unequal (N/n * U[0.5,2] rescaled to sum N)
  optin_truth.json               population mean of y (and other population facts)
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

SEED = 20261207
N_POP = 200_000
N_REF = 3_000
TARGET_OPTIN_N = 2_000

OUT = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    rng = np.random.default_rng(SEED)

    # --- population -------------------------------------------------------
    age_levels = np.array(["18-29", "30-44", "45-64", "65+"])
    age_idx = rng.choice(4, size=N_POP, p=[0.20, 0.27, 0.33, 0.20])
    sex_levels = np.array(["female", "male"])
    sex_idx = (rng.random(N_POP) < 0.49).astype(int)  # 1 = male

    # education depends a little on age (older -> less college)
    edu_levels = np.array(["hs_or_less", "some_college", "ba_plus"])
    base = np.array([0.0, 0.0, 0.0])
    eta_sc = 0.1 - 0.10 * age_idx
    eta_ba = 0.2 - 0.20 * (age_idx == 3) + 0.1 * (age_idx == 1)
    logits = np.column_stack([np.zeros(N_POP), eta_sc, eta_ba]) + base
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    u = rng.random(N_POP)
    edu_idx = (u[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    edu_idx = np.minimum(edu_idx, 2)

    # income: lognormal, correlated with education (and mildly with age and sex)
    log_income = (
        10.3
        + 0.35 * edu_idx
        + np.array([-0.25, 0.05, 0.15, -0.10])[age_idx]
        + 0.08 * sex_idx
        + rng.normal(0.0, 0.55, N_POP)
    )
    income = np.exp(log_income) / 1000.0  # thousands

    # outcome depends on all covariates
    y = (
        40.0
        + np.array([0.0, 3.0, 6.0, 10.0])[age_idx]
        - 4.0 * sex_idx
        + np.array([0.0, 2.5, 6.0])[edu_idx]
        + 5.0 * (log_income - 10.3)
        + rng.normal(0.0, 8.0, N_POP)
    )

    pop = pd.DataFrame(
        {
            "id": np.arange(1, N_POP + 1),
            "age": age_levels[age_idx],
            "sex": sex_levels[sex_idx],
            "education": edu_levels[edu_idx],
            "income": income,
            "y": y,
        }
    )

    # --- opt-in sample: Bernoulli (Poisson) selection, logistic propensity -
    eta = (
        np.array([0.9, 0.3, -0.2, -0.8])[age_idx]
        + 0.35 * sex_idx
        + np.array([-0.6, 0.0, 0.6])[edu_idx]
        + 0.5 * (log_income - 10.3)
    )
    # calibrate intercept so that the expected sample size is TARGET_OPTIN_N
    lo, hi = -20.0, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(mid + eta)))).sum() > TARGET_OPTIN_N:
            hi = mid
        else:
            lo = mid
    intercept = (lo + hi) / 2
    p_sel = 1 / (1 + np.exp(-(intercept + eta)))
    selected = rng.random(N_POP) < p_sel
    sample = pop.loc[selected].reset_index(drop=True)

    sample_w = sample.copy()
    sample_w["sample_weight"] = rng.uniform(0.5, 2.0, len(sample_w))

    # --- simple random reference sample ----------------------------------
    ref_rows = np.sort(rng.choice(N_POP, size=N_REF, replace=False))
    ref = pop.iloc[ref_rows].reset_index(drop=True).copy()
    ref["ref_weight"] = N_POP / N_REF
    uw = rng.uniform(0.5, 2.0, N_REF)
    ref["ref_weight_unequal"] = uw / uw.sum() * N_POP

    sample.to_csv(os.path.join(OUT, "reference_sample_optin_sample.csv"), index=False)
    sample_w.to_csv(os.path.join(OUT, "reference_sample_optin_sample_weighted.csv"), index=False)
    ref.to_csv(os.path.join(OUT, "reference_sample_optin_reference.csv"), index=False)

    truth = {
        "seed": SEED,
        "N_population": N_POP,
        "population_mean_y": float(pop["y"].mean()),
        "population_mean_income": float(pop["income"].mean()),
        "population_margins": {
            c: {k: float(v) for k, v in pop[c].value_counts(normalize=True).sort_index().items()}
            for c in ["age", "sex", "education"]
        },
        "selection_model": {
            "form": "logit P(select) = a + b_age[age] + 0.35*male + b_edu[edu] + 0.5*(log(1000*income) - 10.3)",
            "a": intercept,
            "b_age": {"18-29": 0.9, "30-44": 0.3, "45-64": -0.2, "65+": -0.8},
            "b_edu": {"hs_or_less": -0.6, "some_college": 0.0, "ba_plus": 0.6},
            "expected_n": float(p_sel.sum()),
        },
        "n_sample": len(sample),
        "n_reference": N_REF,
        "sample_mean_y_unweighted": float(sample["y"].mean()),
        "reference_mean_y_unweighted": float(ref["y"].mean()),
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
    }
    with open(os.path.join(OUT, "reference_sample_optin_truth.json"), "w") as f:
        json.dump(truth, f, indent=2)
    print(json.dumps({k: truth[k] for k in ["population_mean_y", "n_sample", "sample_mean_y_unweighted", "reference_mean_y_unweighted"]}, indent=2))


if __name__ == "__main__":
    main()
