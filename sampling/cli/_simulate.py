"""``equisample simulate``: compare sampling policies on a population (a file or the synthetic one)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from estimators._lib.validation import as_int, fail
from estimators.datasets._synthetic import SYNTHETIC_OPTIONS, synthetic_population
from estimators.errors import ValidationError
from sampling.cli._io import read_table, write_table
from sampling.simulation._policies import (
    ConveniencePolicy,
    EqualPolicy,
    ProportionalPolicy,
    QuotaPolicy,
    SimpleRandomPolicy,
)
from sampling.simulation._simulate import GaussianRatings, simulate_policies

__all__ = ["POLICY_NAMES", "register"]

POLICY_NAMES = ("convenience", "simple_random", "proportional", "equal", "quota")


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _policies(names: list[str], propensity: str | None, quota_variables: list[str]) -> list[Any]:
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown or not names:
        fail(ValidationError, "--policies", f"must be a comma-separated list of {', '.join(POLICY_NAMES)}",
             bad=unknown or ["<empty>"])
    out: list[Any] = []
    for name in names:
        if name == "convenience":
            out.append(ConveniencePolicy(propensity=propensity))
        elif name == "simple_random":
            out.append(SimpleRandomPolicy())
        elif name == "proportional":
            out.append(ProportionalPolicy())
        elif name == "equal":
            out.append(EqualPolicy())
        else:
            if not quota_variables:
                fail(ValidationError, "--quota-variables", "the quota policy needs quota variables",
                     bad=["<empty>"], fix="e.g. --quota-variables age,sex")
            out.append(QuotaPolicy(quota_variables, propensity=propensity))
    return out


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="compare sampling policies by simulation (welfare, bias, RMSE, coverage, cost)",
        description="Run recruit -> reweight -> decide -> evaluate many times on a population with "
        "known utilities, for several sampling policies, budgets and reweighting methods, and write "
        "the summary with Monte Carlo standard errors. Without POPULATION a synthetic UK population "
        "drawn from the embedded census is used.",
    )
    parser.add_argument("population", nargs="?", help="population table (CSV or Parquet): one row "
                        "per person, group attributes and one utility column per option")
    parser.add_argument("--options", help="comma-separated utility columns (default: the synthetic "
                        "population's model_a..model_d)")
    parser.add_argument("--groups", default="age", help="group column (default age)")
    parser.add_argument("--policies", default="convenience,simple_random,proportional,equal",
                        help=f"comma-separated policies among {', '.join(POLICY_NAMES)}")
    parser.add_argument("--propensity", default=None, help="column of opt-in propensities for the "
                        "convenience and quota policies (default: 'propensity' for the synthetic population)")
    parser.add_argument("--quota-variables", default="", help="comma-separated quota variables")
    parser.add_argument("--budget", default="100", help="comma-separated budgets (default 100)")
    parser.add_argument("--reps", type=int, default=100, help="replicates per arm (default 100)")
    parser.add_argument("--reweighting", default="none,rake",
                        help="comma-separated: none, poststratify, rake, calibrate (default none,rake)")
    parser.add_argument("--weighting-variables", default=None,
                        help="comma-separated columns to reweight on (default: the group column)")
    parser.add_argument("--rating-sd", type=float, default=0.0,
                        help="Gaussian rating noise (default 0: people report their utilities)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, help="summary table (CSV, Parquet or JSON)")
    parser.add_argument("--replicates", default=None, help="optional per-replicate table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.population:
        population = read_table(args.population, "population")
        options = _split(args.options)
        if not options:
            fail(ValidationError, "--options", "name the utility columns of the population",
                 bad=["<empty>"], fix="e.g. --options model_a,model_b")
        propensity = args.propensity
    else:
        population = synthetic_population(rng=args.seed)
        options = _split(args.options) or list(SYNTHETIC_OPTIONS)
        propensity = args.propensity or "propensity"
    try:
        budgets = [float(b) for b in _split(args.budget)]
    except ValueError:
        fail(ValidationError, "--budget", "must be comma-separated numbers", bad=[args.budget])
    policies = _policies(_split(args.policies), propensity, _split(args.quota_variables))
    weighting = _split(args.weighting_variables) or None
    sim = simulate_policies(
        population,
        policies,
        options=options,
        groups=args.groups,
        budget=budgets,
        n_reps=as_int(args.reps, "--reps", minimum=2),
        reweighting=_split(args.reweighting),  # type: ignore[arg-type]
        weighting_variables=weighting,
        weighting_options=(
            {"on_empty_category": "drop"} if set(_split(args.reweighting)) - {"none"} else None
        ),
        outcome_model=GaussianRatings(sd=args.rating_sd) if args.rating_sd > 0 else None,
        rng=args.seed,
    )
    path = write_table(sim.to_frame(), args.out)
    if args.replicates:
        write_table(sim.to_frame("replicates"), args.replicates)
    sys.stdout.write(sim.summary() + f"\n\nsummary written to {path}\n")
    return 0
