"""``equisample calibrate``: calibrate weights to categorical margins and numeric totals.

Reads targets and writes weights and the report with the same plumbing as ``equisample rake``
(:mod:`sampling.cli._rake`), so both commands accept the same files and options.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from estimators._lib.validation import fail
from estimators.errors import ValidationError
from estimators.weighting._calibration import calibrate
from sampling.cli._io import check_report_path, read_table, write_json
from sampling.cli._rake import (
    JOINT_SEPARATOR,
    add_common,
    margin_columns,
    read_margins,
    result_report,
    string_columns,
    write_weights,
)

__all__ = ["register", "run"]

DESCRIPTION = f"""\
Calibrate weights (Deville-Sarndal generalised calibration) so that weighted totals equal the
targets: categorical margins (shares or counts) and numeric totals.

TOTALS is a long table (CSV/Parquet with columns variable, category, target; a numeric total has
an empty category; a joint margin joins its columns and labels with '{JOINT_SEPARATOR}', e.g.
variable 'age{JOINT_SEPARATOR}sex', category '18-24{JOINT_SEPARATOR}female'), or YAML/JSON
{{variable: {{category: target}}, income: 1.2e9}}.

The output is DATA with the calibrated weights added as a column (or only --id and the weight),
written atomically. Bad input or non-convergence: one line on stderr and exit status 2.

example:
  equisample calibrate sample.csv --totals totals.csv --method raking --lower 0.5 --upper 2 \\
      --weights design_weight --out weighted.csv --report report.json
"""


def register(subparsers: Any) -> None:
    """Add the ``calibrate`` subcommand."""
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate weights to margins and numeric totals (linear, raking, logit)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.add_argument("--totals", required=True, metavar="TOTALS",
                        help="targets file (CSV/Parquet long table, YAML or JSON)")
    parser.add_argument("--method", choices=["linear", "raking", "logit"], default="linear",
                        help="distance (default: linear)")
    parser.add_argument("--lower", type=float, default=None, metavar="L",
                        help="lower bound on g = weight / base weight")
    parser.add_argument("--upper", type=float, default=None, metavar="U",
                        help="upper bound on g = weight / base weight")
    parser.add_argument("--tol", type=float, default=1e-10,
                        help="max relative misfit of every total (default: 1e-10)")
    parser.add_argument("--max-iter", type=int, default=100,
                        help="Newton iterations at most (default: 100)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status."""
    bounds: Any = None
    if args.lower is not None or args.upper is not None:
        if args.bounds is not None:
            fail(
                ValidationError,
                "--bounds",
                "give either --bounds LOWER UPPER or --lower / --upper, not both",
                bad=[args.bounds],
            )
        bounds = (args.lower, args.upper)
    elif args.bounds is not None:
        bounds = tuple(args.bounds)
    check_report_path(args.report)
    data = read_table(args.data, "data")
    totals = read_margins(args.totals, "totals")
    frame = string_columns(data, margin_columns(totals))
    fit = calibrate(
        frame,
        totals,
        method=args.method,
        bounds=bounds,
        weights=args.weights,
        tol=args.tol,
        max_iter=args.max_iter,
        population_total=args.population_total,
        on_missing=args.on_missing,
        on_empty_category=args.on_empty_category,
    )
    write_weights(fit, data, args)
    if args.report:
        write_json({"command": "calibrate", **result_report(fit)}, args.report)
    if not args.quiet:
        lo, hi = fit.g_range
        sys.stdout.write(
            f"calibrated {len(fit.weights)} rows ({fit.method}) in {fit.n_iter} Newton iterations: "
            f"max relative error {fit.max_margin_error:.3g}, g in [{lo:.4g}, {hi:.4g}], Kish deff "
            f"{fit.design_effect:.4g}; weights written to {args.out}\n"
        )
    return 0
