"""``equisample demo``: the whole loop on embedded data, written as a report folder.

The command runs the compact whole loop of :mod:`sampling.cli._demo_report` (plan, recruit,
reweight, evaluate, simulate) and prints where the report is. ``biased_sample`` / ``run_demo`` rake
a seeded, biased synthetic feedback sample to the embedded census margins: the reweighting step
on its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, as_rng, fail
from estimators.datasets._census import census, census_margins
from estimators.errors import ValidationError
from estimators.weighting._raking import rake
from estimators.weighting._result import WeightingResult
from sampling.cli._io import say
from sampling.cli._options import add_n, add_out, add_quiet, add_reps, add_seed

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
    add_n(parser, default=400, aliases=["--rows"],
          help="people recruited, at least 100 (default 400)")
    parser.add_argument("--country", choices=("uk", "us"), default="uk",
                        help="census to draw from and rake to (default uk: England and Wales 2021)")
    add_seed(parser, default=2024)
    add_reps(parser, default=40, help="replicates per policy in the simulation step, at least 2 "
             "(default 40)")
    add_out(parser, "report folder (default ./equisample-report); replaced only when the demo "
            "succeeds", default="equisample-report")
    add_quiet(parser)
    parser.set_defaults(func=run)


PARAMETERS = {"n": "--n", "reps": "--reps", "seed": "--seed", "country": "--country"}


def run(args: argparse.Namespace) -> int:
    from sampling.cli._demo_report import write_report

    n = as_int(args.n, "--n", minimum=100)
    reps = as_int(args.reps, "--reps", minimum=2)
    target = Path(args.out)
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                     and not (target / "report.md").exists())):
        fail(ValidationError, "--out", "exists and is not an equisample report folder",
             bad=[str(target)], fix="Choose a new folder name with --out.")
    say(args, f"equisample demo: the whole loop on a synthetic {args.country.upper()} population "
        f"from the embedded census (seed {args.seed})")
    start = time.perf_counter()

    def step(line: str) -> None:
        say(args, f"  [{time.perf_counter() - start:5.1f} s] {line}")

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)
    try:
        report = write_report(staging, country=args.country, n=n, reps=reps, seed=args.seed,
                              progress=step)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    folder = target.resolve()
    say(args, *(wrapped for line in report.headline
                for wrapped in textwrap.wrap(line, 100, initial_indent="  ",
                                             subsequent_indent="    ")))
    say(args, f"  wrote {folder}",
        "  open report.html there (or report.md); figures in figures/, tables in tables/")
    return 0
