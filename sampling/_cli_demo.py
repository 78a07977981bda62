"""``equisample demo``: rake a seeded, biased synthetic feedback sample to embedded census margins."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from estimators._validation import as_int, as_rng
from estimators.datasets import census, census_margins
from estimators.rake import rake
from estimators.weighting_result import WeightingResult

__all__ = ["biased_sample", "register", "run_demo"]

VARIABLES = ("age", "sex", "ethnicity")


def biased_sample(
    n: int = 1500, *, country: str = "uk", rng: Any = 2024
) -> pd.DataFrame:
    """A synthetic feedback sample drawn from the census cells with an online-panel bias.

    Cells of the embedded age x sex x ethnicity census table are drawn with probability
    proportional to ``share * bias``, where the bias favours younger people (x2.5 for the
    youngest band down to x0.4 for the oldest), women (x1.3) and the largest ethnic group
    (x1.2). Each row gets a 1-5 rating whose mean rises with age, so the unweighted mean is
    off. Deterministic for a given seed.
    """
    generator = as_rng(rng)
    table = census(country, list(VARIABLES))
    ages = list(dict.fromkeys(table["age"]))
    age_bias = dict(zip(ages, np.linspace(2.5, 0.4, len(ages))))
    largest = table.groupby("ethnicity")["count"].sum().idxmax()
    bias = (
        table["age"].map(age_bias).to_numpy()
        * np.where(table["sex"].str.lower().str.startswith("f"), 1.3, 1.0)
        * np.where(table["ethnicity"] == largest, 1.2, 1.0)
    )
    p = table["share"].to_numpy() * bias
    cells = generator.choice(len(table), size=n, p=p / p.sum())
    sample = table.iloc[cells][list(VARIABLES)].reset_index(drop=True)
    age_rank = sample["age"].map({a: i for i, a in enumerate(ages)}).to_numpy()
    mean = 2.6 + 0.3 * age_rank
    rating = np.clip(np.rint(generator.normal(mean, 1.0)), 1, 5).astype(int)
    sample["rating"] = rating
    sample.insert(0, "participant_id", [f"p{i:05d}" for i in range(n)])
    return sample


def run_demo(n: int = 1500, *, country: str = "uk", seed: int = 2024) -> tuple[pd.DataFrame, WeightingResult]:
    """Build the biased sample and rake it to the census age, sex and ethnicity margins."""
    sample = biased_sample(n, country=country, rng=seed)
    margins = census_margins(country, list(VARIABLES))
    fit = rake(sample, margins, population_total=float(census(country, ["sex"])["count"].sum()))
    return sample, fit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="rake a biased synthetic sample to census margins and print the diagnostics",
        description="Draw a seeded synthetic feedback sample with an online-panel bias from the "
        "embedded census table, rake it to the census age, sex and ethnicity margins, and print "
        "the weighting diagnostics and the mean rating before and after weighting.",
    )
    parser.add_argument("--rows", type=int, default=1500, help="sample size (default 1500)")
    parser.add_argument("--country", choices=("uk", "us"), default="uk",
                        help="census to rake to (default uk: England and Wales 2021)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    n = as_int(args.rows, "--rows", minimum=50)
    sample, fit = run_demo(n, country=args.country, seed=args.seed)
    w = fit.weights.to_numpy()
    raw_mean = float(sample["rating"].mean())
    weighted_mean = float(np.dot(w, sample["rating"]) / w.sum())
    out = sys.stdout
    out.write(
        f"equisample demo: {n} synthetic participants (biased towards young, female and majority "
        f"respondents) raked to {args.country.upper()} census margins of age, sex and ethnicity\n\n"
    )
    out.write(fit.summary(max_rows=60) + "\n\n")
    out.write(f"mean rating, unweighted : {raw_mean:.4f}\n")
    out.write(f"mean rating, raked      : {weighted_mean:.4f}\n")
    return 0
