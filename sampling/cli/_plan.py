"""``equisample plan``: fit learning curves to pilot errors and allocate a recruitment budget."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from estimators._lib.validation import check_columns, fail
from estimators.errors import ValidationError
from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import OBJECTIVES, allocate
from sampling.cli._io import read_table, write_table

__all__ = ["register"]


def _per_group(value: str | None, parameter: str, column: str) -> float | pd.Series | None:
    """A number, or a CSV/Parquet table with columns ``group`` and ``column``."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    table = read_table(value, parameter)
    check_columns(table, ["group", column], parameter)
    if table["group"].duplicated().any():
        fail(ValidationError, parameter, "lists a group more than once",
             bad=list(table["group"][table["group"].duplicated()]))
    return pd.Series(table[column].to_numpy(), index=table["group"].to_numpy())


def _run(args: argparse.Namespace) -> int:
    pilot = read_table(args.pilot, "pilot")
    curves = fit_learning_curves(pilot, group=args.group, n=args.n, error=args.error,
                                 space=args.space)
    costs = _per_group(args.costs, "--costs", "cost")
    plan = allocate(
        curves,
        budget=args.budget,
        costs=1.0 if costs is None else costs,
        objective=args.objective,
        population_shares=_per_group(args.population, "--population", "share"),
        min_n=_per_group(args.min_n, "--min-n", "min_n"),
        max_n=_per_group(args.max_n, "--max-n", "max_n"),
        current_n=_per_group(args.current_n, "--current-n", "current_n"),
        targets=_per_group(args.targets, "--targets", "target"),
        integer=not args.continuous,
        p=args.p,
        alpha=args.alpha,
    )
    frame = plan.to_frame()
    frame.index.name = "group"
    if args.out:
        write_table(frame.reset_index(), args.out)
    if not args.quiet:
        sys.stdout.write(plan.summary() + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    p = subparsers.add_parser(
        "plan",
        help="fit group learning curves to pilot errors and allocate a recruitment budget",
        description="Fit err = a n^-b + c per group to PILOT (columns group, n, error) and choose "
        "how many samples to recruit per group under a budget. Per-group options take a number "
        "or a CSV/Parquet table with columns group and the named value column.",
    )
    p.add_argument("pilot", help="pilot errors: CSV or Parquet with group, n, error columns")
    p.add_argument("--budget", type=float, help="budget for new samples (not needed for target)")
    p.add_argument("--costs", help="cost per sample: a number or a table with group, cost")
    p.add_argument("--objective", default="utilitarian", choices=OBJECTIVES)
    p.add_argument("--population", help="table with group, share (for --objective population)")
    p.add_argument("--min-n", dest="min_n", help="number or table with group, min_n")
    p.add_argument("--max-n", dest="max_n", help="number or table with group, max_n (pool size)")
    p.add_argument("--current-n", dest="current_n",
                   help="number or table with group, current_n (already collected)")
    p.add_argument("--targets", help="error target: number or table with group, target")
    p.add_argument("--p", type=float, default=2.0, help="p for --objective pnorm")
    p.add_argument("--alpha", type=float, default=1.0, help="alpha for --objective alpha_fair")
    p.add_argument("--space", default="log", choices=("log", "linear"),
                   help="fit residuals on the log or linear error scale")
    p.add_argument("--group", default="group", help="group column of PILOT")
    p.add_argument("--n", default="n", help="sample-size column of PILOT")
    p.add_argument("--error", default="error", help="error column of PILOT")
    p.add_argument("--continuous", action="store_true", help="do not round to whole samples")
    p.add_argument("--out", help="write the plan table (.csv, .parquet or .json)")
    p.add_argument("--quiet", action="store_true", help="do not print the summary")
    p.set_defaults(func=_run)
