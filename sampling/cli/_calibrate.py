"""``equisample calibrate``: calibrate weights to categorical margins and numeric totals.

Reads targets and writes weights and the report with the same plumbing as ``equisample rake``
(:mod:`sampling.cli._rake`), so both commands accept the same files and options.
"""

from __future__ import annotations

import argparse
from typing import Any

from estimators._lib.validation import fail
from estimators.errors import ValidationError
from estimators.weighting._calibration import calibrate
from sampling.cli._io import Outputs, check_out_path, check_report_path, read_table, say
from sampling.cli._options import add_deprecated
from sampling.cli._rake import (
    JOINT_SEPARATOR,
    add_common,
    check_bounds,
    margin_columns,
    read_margins,
    result_report,
    string_columns,
    summary_lines,
    weights_table,
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
  equisample calibrate sample.csv --totals totals.csv --method raking --bounds 0.5,2 \\
      --weights design_weight --out weighted.csv --report-out report.json
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
    add_deprecated(parser, "--lower", type=float, default=None,
                   note="is now the first number of --bounds LOWER,UPPER")
    add_deprecated(parser, "--upper", type=float, default=None,
                   note="is now the second number of --bounds LOWER,UPPER")
    parser.add_argument("--tol", type=float, default=1e-10,
                        help="max relative misfit of every total (default: 1e-10)")
    parser.add_argument("--max-iter", type=int, default=100,
                        help="Newton iterations at most (default: 100)")
    parser.set_defaults(func=run)


PARAMETERS = {"data": "DATA", "totals": "--totals", "margins": "--totals", "targets": "--totals"}


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status."""
    bounds: Any = check_bounds(args.bounds)
    if args.lower is not None or args.upper is not None:
        if bounds is not None:
            fail(ValidationError, "--bounds", "give --bounds LOWER,UPPER only (not also the old "
                 "--lower / --upper)", bad=args.bounds)
        bounds = (args.lower, args.upper)
    check_out_path(args.out)
    check_report_path(args.report_out, "--report-out")
    data = read_table(args.data, "DATA")
    totals = read_margins(args.totals, "--totals")
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
    outputs = Outputs()
    outputs.table(weights_table(fit, data, args), args.out)
    if args.report_out:
        outputs.json({"command": "calibrate", **result_report(fit)}, args.report_out)
    written = outputs.commit()
    say(args, *summary_lines("calibrate", fit, data, args, totals, args.totals, written))
    return 0
