"""``equisample demo``: the whole loop on embedded data, written as a report folder.

The command runs the compact whole loop of :mod:`sampling.cli._demo_report` (plan, recruit,
reweight, evaluate, simulate) and prints where the report is. ``biased_sample`` / ``run_demo`` rake
a seeded, biased synthetic feedback sample to the embedded census margins: the reweighting step
on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, as_rng
from estimators.datasets._census import census, census_margins
from estimators.weighting._raking import rake
from estimators.weighting._result import WeightingResult

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
        help="run the whole loop on embedded data and write a report folder",
        description="Plan (learning-curve allocation, census quotas), recruit (a seeded opt-in "
        "sample from a synthetic population drawn from the embedded census), reweight (rake to the "
        "census margins, trim), evaluate (model scores with design-based standard errors, welfare "
        "of the chosen model per group) and simulate (sampling policies x reweighting, many times). "
        "Writes report.md, report.html, figures/*.png and tables/*.csv to --out and prints where.",
    )
    parser.add_argument("--rows", type=int, default=400, help="people recruited (default 400)")
    parser.add_argument("--country", choices=("uk", "us"), default="uk",
                        help="census to draw from and rake to (default uk: England and Wales 2021)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    parser.add_argument("--reps", type=int, default=40,
                        help="replicates per policy in the simulation step (default 40)")
    parser.add_argument("--out", default="equisample-report",
                        help="report folder (default ./equisample-report)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sampling.cli._demo_report import write_report

    n = as_int(args.rows, "--rows", minimum=100)
    reps = as_int(args.reps, "--reps", minimum=2)
    out = sys.stdout
    out.write(f"equisample demo: the whole loop on a synthetic {args.country.upper()} population "
              f"drawn from the embedded census (seed {args.seed})\n")
    start = time.perf_counter()

    def step(line: str) -> None:
        out.write(f"  [{time.perf_counter() - start:5.1f} s] {line}\n")
        out.flush()

    report = write_report(Path(args.out), country=args.country, n=n, reps=reps, seed=args.seed,
                          progress=step)
    folder = report.folder.resolve()
    for line in report.headline:
        out.write(f"  {line}\n")
    out.write(f"\nreport written to {folder}\n")
    out.write(f"  open {folder / 'report.html'} (or report.md); figures in {folder / 'figures'}, "
              f"tables in {folder / 'tables'}\n")
    return 0
