"""``equisample calibrate``: calibrate weights to categorical margins and numeric totals."""

from __future__ import annotations

import argparse
from typing import Any

from estimators._errors import ValidationError
from estimators._validation import fail
from estimators.calibrate import calibrate

from ._cli_io import read_table, write_json, write_table
from ._cli_targets import read_targets

__all__ = ["register", "run"]

DESCRIPTION = """\
Calibrate weights (Deville-Sarndal generalised calibration) so that weighted totals equal the
targets: categorical margins (shares or counts) and numeric totals.

TOTALS is a long CSV with columns variable, category, target (a numeric total has an empty
category; a joint margin joins its columns and labels with '|', e.g. variable 'age|sex',
category '18-24|female'), or a JSON/YAML mapping {variable: {category: target}, income: 1.2e9}.

The output is DATA with the calibrated weights added as a column (CSV, Parquet or JSON by suffix),
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
    parser.add_argument("data", metavar="DATA", help="sample rows (.csv or .parquet)")
    parser.add_argument("--totals", required=True, metavar="TOTALS",
                        help="targets (.csv long table, .json or .yaml)")
    parser.add_argument("--method", choices=["linear", "raking", "logit"], default="linear",
                        help="distance (default: linear)")
    parser.add_argument("--lower", type=float, default=None, metavar="L",
                        help="lower bound on g = weight / base weight")
    parser.add_argument("--upper", type=float, default=None, metavar="U",
                        help="upper bound on g = weight / base weight")
    parser.add_argument("--weights", default=None, metavar="COLUMN",
                        help="column of base (design) weights (default: 1 for every row)")
    parser.add_argument("--out", required=True, metavar="WEIGHTS",
                        help="output table: DATA plus the weight column (.csv, .parquet, .json)")
    parser.add_argument("--weight-column", default="weight", metavar="NAME",
                        help="name of the added weight column (default: weight)")
    parser.add_argument("--report", default=None, metavar="REPORT.json",
                        help="write convergence, design effect, g-range and margin fit as JSON")
    parser.add_argument("--tol", type=float, default=1e-10,
                        help="max relative misfit of every total (default: 1e-10)")
    parser.add_argument("--max-iter", type=int, default=100, help="Newton iterations at most")
    parser.add_argument("--on-missing", choices=["raise", "level", "drop"], default="raise",
                        help="missing values in weighting columns (default: raise)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status."""
    frame = read_table(args.data, "DATA")
    if args.weight_column in frame.columns:
        fail(
            ValidationError,
            "--weight-column",
            "names a column that DATA already has",
            bad=[args.weight_column],
            fix="Choose another name with --weight-column NAME.",
        )
    totals = read_targets(args.totals, frame, "--totals")
    bounds = None
    if args.lower is not None or args.upper is not None:
        bounds = (args.lower, args.upper)
    fit = calibrate(
        frame,
        totals,
        method=args.method,
        bounds=bounds,
        weights=args.weights,
        tol=args.tol,
        max_iter=args.max_iter,
        on_missing=args.on_missing,
    )
    out = frame.assign(**{args.weight_column: fit.weights.to_numpy()})
    write_table(out, args.out)
    if args.report:
        write_json(report(fit, args), args.report)
    return 0


def report(fit: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The JSON report: settings, convergence, weight summaries and the margin fit."""
    lower, upper = fit.g_range
    diagnostics = fit.diagnostics()
    diagnostics["category"] = diagnostics["category"].map(
        lambda c: " | ".join(map(str, c)) if isinstance(c, tuple) else str(c)
    )
    return {
        "command": "calibrate",
        "data": str(args.data),
        "totals": str(args.totals),
        "method": fit.method,
        "bounds": [args.lower, args.upper],
        "converged": bool(fit.converged),
        "iterations": int(fit.n_iter),
        "max_margin_error": float(fit.max_margin_error),
        "tol": float(fit.tol),
        "rows": len(fit.weights),
        "rows_dropped": len(fit.dropped_rows),
        "design_effect": fit.design_effect,
        "effective_sample_size": fit.effective_sample_size,
        "g_range": [lower, upper],
        "weight_ratio": fit.weight_ratio,
        "weight_quantiles": {str(q): float(v) for q, v in fit.weight_quantiles.items()},
        "margins": diagnostics.to_dict(orient="records"),
    }
