"""``equisample estimate DATA --y rating [--by group] --out EST.csv``: design-based estimates from a file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from estimators import survey
from estimators.survey._design import SurveyDesign
from estimators.survey._replicates import replicate_design
from estimators.weighting._raking import rake
from sampling.cli._io import read_table, write_table
from sampling.cli._rake import margin_columns, read_margins, string_columns

__all__ = ["register", "run"]

STATISTICS = ("mean", "total", "proportion", "quantile")
REPLICATES = ("jk1", "jkn", "brr", "fay", "bootstrap")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimates with design-based standard errors",
        description="Weighted means, totals, proportions or quantiles of one or more outcomes, "
        "overall or by domain, with design-based standard errors (Taylor linearisation, or "
        "replicate weights with --replicates). With --margins the weights are first raked to the "
        "margins and the standard errors account for the raking. Prints the table and writes it "
        "(CSV, Parquet or JSON).",
    )
    parser.add_argument("data", help="sample table (CSV or Parquet), one row per observation")
    parser.add_argument("--y", required=True, action="append", help="outcome column (repeatable)")
    parser.add_argument("--out", help="table to write (CSV, Parquet or JSON)")
    parser.add_argument("--statistic", choices=STATISTICS, default="mean", help="default: mean")
    parser.add_argument("--quantiles", type=float, nargs="+", default=[0.5],
                        help="probabilities for --statistic quantile (default 0.5)")
    parser.add_argument("--by", action="append", help="domain column (repeatable: joint domains)")
    parser.add_argument("--weights", help="weight column (default 1)")
    parser.add_argument("--psu", help="cluster column, e.g. participant_id when people rate many items")
    parser.add_argument("--strata", action="append", help="stratum column (repeatable)")
    parser.add_argument("--fpc", help="first-stage population size (or sampling fraction) column")
    parser.add_argument("--margins", help="rake the weights to these margins first (as `rake`)")
    parser.add_argument("--replicates", choices=REPLICATES,
                        help="replicate-weight variance instead of Taylor linearisation")
    parser.add_argument("--n-replicates", type=int, default=200, help="bootstrap replicates (200)")
    parser.add_argument("--seed", type=int, help="random seed for bootstrap replicates")
    parser.add_argument("--nan-policy", choices=("raise", "omit"), default="raise",
                        help="missing outcome values: raise (default) or leave them out")
    parser.add_argument("--lonely-psu", choices=("raise", "adjust", "certainty", "remove"),
                        default="raise", help="strata with one PSU (default: raise)")
    parser.add_argument("--confidence-level", type=float, default=0.95, help="default 0.95")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = read_table(args.data, "data")
    margins = read_margins(args.margins) if args.margins else None
    frame = string_columns(data, margin_columns(margins)) if margins else data
    design = SurveyDesign(frame, weights=args.weights, strata=args.strata, psu=args.psu, fpc=args.fpc)
    if margins:
        design = rake(design, margins).design
    target: Any = design
    if args.replicates:
        target = replicate_design(
            design, method=args.replicates, replicates=args.n_replicates, rng=args.seed,
            lonely_psu=args.lonely_psu,
        )
    options = {
        "by": args.by,
        "nan_policy": args.nan_policy,
        "lonely_psu": args.lonely_psu,
        "confidence_level": args.confidence_level,
    }
    tables = []
    for y in args.y:
        if args.statistic == "quantile":
            result = survey.quantile(target, y, args.quantiles, **options)
        else:
            result = getattr(survey, args.statistic)(target, y, **options)
        table = result.to_frame()
        table.insert(0, "variable", y)
        table.insert(1, "statistic", args.statistic)
        table["variance"] = result.variance_method
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    if args.out:
        write_table(out, args.out)
    if not args.quiet:
        with pd.option_context("display.max_rows", 200, "display.width", 160):
            sys.stdout.write(out.to_string(index=False, float_format=lambda x: f"{x:.6g}") + "\n")
    return 0
