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
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import (
    add_by,
    add_confidence_level,
    add_flag,
    add_out,
    add_quiet,
    add_reps,
    add_seed,
    add_strata_psu,
    add_weights,
    progress,
)
from sampling.cli._rake import margin_columns, read_margins, string_columns

__all__ = ["register", "run"]

STATISTICS = ("mean", "total", "proportion", "quantile")
REPLICATES = ("jk1", "jkn", "brr", "fay", "bootstrap")


PARAMETERS = {"data": "DATA", "y": "--y", "quantiles": "--quantiles", "method": "--variance",
              "replicates": "--reps", "rng": "--seed", "margins": "--margins"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimates with design-based standard errors",
        description="Weighted means, totals, proportions or quantiles of one or more outcomes, "
        "overall or by domain, with design-based standard errors (Taylor linearisation, or "
        "replicate weights with --variance). With --margins the weights are first raked to the "
        "margins and the standard errors account for the raking. Prints the table (at most 100 "
        "columns wide) and writes it whole with --out (CSV, Parquet or JSON).",
    )
    parser.add_argument("data", help="sample table (CSV or Parquet), one row per observation")
    add_flag(parser, "--y", action="list", required=True, metavar="COLUMN[,COLUMN]",
             help="outcome column(s)")
    add_out(parser, "table to write (CSV, Parquet or JSON)")
    parser.add_argument("--statistic", choices=STATISTICS, default="mean", help="default: mean")
    add_flag(parser, "--quantiles", action="list", item_type=float, nargs="+", default=[0.5],
             metavar="P[,P]", help="probabilities for --statistic quantile (default 0.5)")
    add_by(parser, help="domain column(s): estimates per (joint) domain")
    add_weights(parser, help="weight column (default: all 1)")
    add_strata_psu(parser)
    parser.add_argument("--fpc", help="first-stage population size (or sampling fraction) column")
    parser.add_argument("--margins", help="rake the weights to these margins first (as `rake`)")
    add_flag(parser, "--variance", choices=("taylor", *REPLICATES), default="taylor",
             aliases=["--replicates"],
             help="taylor linearisation (default) or replicate weights: " + ", ".join(REPLICATES))
    add_reps(parser, default=200, aliases=["--n-replicates"],
             help="bootstrap replicates for --variance bootstrap (default 200)")
    add_seed(parser, help="random seed for bootstrap replicates")
    parser.add_argument("--nan-policy", choices=("raise", "omit"), default="raise",
                        help="missing outcome values: raise (default) or leave them out")
    parser.add_argument("--lonely-psu", choices=("raise", "adjust", "certainty", "remove"),
                        default="raise", help="strata with one PSU (default: raise)")
    add_confidence_level(parser)
    add_quiet(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    data = read_table(args.data, "DATA")
    margins = read_margins(args.margins, "--margins") if args.margins else None
    frame = string_columns(data, margin_columns(margins)) if margins else data
    design = SurveyDesign(frame, weights=args.weights, strata=args.strata or None, psu=args.psu,
                          fpc=args.fpc)
    if margins:
        design = rake(design, margins).design
    target: Any = design
    replicated = args.variance != "taylor"
    steps = progress(total=len(args.y) + replicated, desc="estimate",
                     quiet=args.quiet or len(args.y) + replicated < 2)
    if replicated:
        target = replicate_design(
            design, method=args.variance, replicates=args.reps, rng=args.seed,
            lonely_psu=args.lonely_psu,
        )
        steps.update()
    options = {
        "by": args.by or None,
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
        steps.update()
    steps.close()
    out = pd.concat(tables, ignore_index=True)
    written = []
    if args.out:
        outputs = Outputs()
        outputs.table(out, args.out)
        written = outputs.commit()
    if not args.quiet:
        shown = out.drop(columns="variance")  # said in the summary
        sys.stdout.write(format_table(shown, max_rows=40, written_to=args.out) + "\n")
    by = f" by {', '.join(args.by)}" if args.by else ""
    say(args,
        f"equisample estimate: read {len(data)} rows from {args.data}"
        + (f", raked to {args.margins}" if margins else ""),
        f"  {args.statistic} of {', '.join(args.y)}{by}: {len(out)} estimates"[:100],
        f"  {args.confidence_level:.0%} intervals, variance by "
        + ("Taylor linearisation" if args.variance == "taylor" else
           f"{args.variance} replicate weights"),
        "  wrote " + ", ".join(map(str, written)) if written else "  (no file written: add --out)")
    return 0
