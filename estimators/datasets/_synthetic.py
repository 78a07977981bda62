"""A synthetic population drawn from an embedded census table, for simulations, examples and the demo."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, as_rng, check_option
from estimators.datasets._census import census

__all__ = ["SYNTHETIC_OPTIONS", "synthetic_population"]

SYNTHETIC_OPTIONS: tuple[str, ...] = ("model_a", "model_b", "model_c", "model_d")

# Utility model per option: base, age slope (per unit of scaled age, young -1 .. old +1),
# female shift, ethnic-minority shift. model_a pleases young white men (who opt in most);
# model_b is best for the population as a whole.
_UTILITY = np.array(
    [
        [62.0, -9.0, -5.0, -7.0],
        [61.0, 4.0, 3.0, 4.0],
        [58.0, 0.0, 0.0, 0.0],
        [55.0, 9.0, 1.0, -3.0],
    ]
)


def synthetic_population(
    n: int = 20_000,
    *,
    country: Literal["uk", "us"] = "uk",
    noise_sd: float = 8.0,
    rng: Any = None,
) -> pd.DataFrame:
    """Draw a synthetic adult population from an embedded census table, with utilities and propensities.

    People are drawn from the census age x sex x ethnicity cells in proportion to their counts.
    Each person has a utility (1-100) for four options and a response propensity of an opt-in panel
    (young people, men and the majority ethnic group opt in more; a young-man interaction the one-way
    margins cannot fully explain).

    Parameters
    ----------
    n : int
        Number of people.
    country : {"uk", "us"}
        Census table to draw from (:func:`estimators.datasets.census`).
    noise_sd : float
        Standard deviation of person-level utility noise.
    rng : None, int or Generator
        Seed.

    Returns
    -------
    DataFrame
        Columns ``age``, ``sex``, ``ethnicity``, ``model_a`` ... ``model_d`` (utilities) and
        ``propensity`` (positive; relative opt-in propensity).

    Notes
    -----
    With scaled age :math:`a \\in [-1, 1]`, female indicator :math:`f` and minority indicator
    :math:`m`, utility :math:`u_{ik} = \\beta_{k0} + \\beta_{k1} a_i + \\beta_{k2} f_i + \\beta_{k3} m_i +
    \\varepsilon_{ik}` clipped to [1, 100]; propensity
    :math:`p_i = \\exp(-1.2 a_i - 0.4 f_i - 0.8 m_i + 0.6\\, 1\\{a_i < 0, f_i = 0\\})`.

    References
    ----------
    Kirk, H. R. et al. (2024). The PRISM alignment dataset (who-decides case study design).

    Examples
    --------
    >>> from sampling import synthetic_population
    >>> pop = synthetic_population(n=1000, rng=0)
    >>> pop.shape, sorted(pop["sex"].unique())
    ((1000, 8), ['Female', 'Male'])
    """
    n = as_int(n, "n", minimum=1)
    country = check_option(country, ("uk", "us"), "country")
    generator = as_rng(rng)
    table = census(country, ["age", "sex", "ethnicity"])
    cell = generator.choice(len(table), size=n, p=table["share"].to_numpy())
    people = table.iloc[cell][["age", "sex", "ethnicity"]].reset_index(drop=True)
    people = people.astype({"age": object, "sex": object, "ethnicity": object})
    ages = sorted(table["age"].unique())
    age_code = pd.Categorical(people["age"], categories=ages).codes.astype(float)
    age = 2.0 * age_code / (len(ages) - 1) - 1.0
    female = (people["sex"] == "Female").to_numpy(dtype=float)
    majority = "White" if country == "uk" else "White non-Hispanic"
    minority = (people["ethnicity"] != majority).to_numpy(dtype=float)
    design = np.column_stack([np.ones(n), age, female, minority])
    utilities = design @ _UTILITY.T + generator.normal(0.0, noise_sd, size=(n, len(SYNTHETIC_OPTIONS)))
    utilities = np.clip(utilities, 1.0, 100.0)
    for k, name in enumerate(SYNTHETIC_OPTIONS):
        people[name] = utilities[:, k]
    young_man = ((age < 0) & (female == 0)).astype(float)
    people["propensity"] = np.exp(-1.2 * age - 0.4 * female - 0.8 * minority + 0.6 * young_man)
    return people
