"""``equisample adjust --sample S --reference R --covariates ... --out W``: weight to a reference sample."""

from __future__ import annotations

import argparse
import math
from typing import Any

import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ValidationError
from estimators.weighting._reference_sample import adjust_to_reference
from sampling.cli._io import Outputs, check_out_path, check_report_path, read_table, say
from sampling.cli._options import add_flag, add_id, add_out, add_quiet, add_seed, add_weights
from sampling.cli._rake import weights_table

__all__ = ["register", "run"]


def _penalty(text: str) -> float | str:
    if text == "cv":
        return "cv"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'cv' or a number >= 0, got {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be 'cv' or a number >= 0, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "adjust",
        help="weight a sample to look like a unit-level reference sample",
        description="Weight a sample (e.g. opt-in raters) so that its covariates look like those "
        "of a reference sample (e.g. a probability survey's microdata): inverse propensity "
        "weights (ipw), covariate-balancing propensity scores (cbps), entropy balancing, raking "
        "or post-stratification to the reference. Writes the weights and, with --report, a JSON "
        "report with the covariate balance before and after (ASMD per level, KS and EMD).",
    )
    parser.add_argument("--sample", required=True, help="sample table (CSV or Parquet)")
    parser.add_argument("--reference", required=True, help="reference table (CSV or Parquet)")
    add_flag(parser, "--covariates", action="list", required=True, metavar="COLUMN[,COLUMN]",
             help="covariates to balance, comma-separated (columns of both tables)")
    parser.add_argument("--method", choices=("ipw", "cbps", "entropy", "rake", "poststratify"),
                        default="ipw", help="weighting method (default ipw)")
    add_out(parser, "weights file to write (CSV, Parquet or JSON)", required=True)
    add_flag(parser, "--report-out", aliases=["--report"], metavar="FILE.json",
             help="also write a JSON report (balance before/after, design effect)")
    add_weights(parser, help="column of the sample's base (design) weights (default: all 1)")
    parser.add_argument("--reference-weights", help="column of the reference's weights; default 1")
    add_id(parser, help="person id column: write only it and the weight (default: all columns)")
    parser.add_argument("--weight-column", default="weight", help="name of the weight column written")
    parser.add_argument("--penalty", type=_penalty, default="cv",
                        help="ridge penalty of the propensity model: a number >= 0 (0: maximum "
                        "likelihood) or 'cv' (default: cross-validated)")
    parser.add_argument("--bins", type=int, help="cut numeric covariates into this many quantile "
                        "groups (default: as they are for ipw and entropy, 10 for cbps, 5 for "
                        "rake and poststratify)")
    parser.add_argument("--over-identified", action="store_true",
                        help="cbps: also balance the propensity score's own moment conditions")
    parser.add_argument("--moments", type=int, choices=(1, 2), default=1,
                        help="entropy: balance means (1) or means and variances (2)")
    parser.add_argument("--trim-mean-multiple", type=float, metavar="K",
                        help="trim weights above K times the mean weight")
    add_seed(parser, default=0, help="seed of the cross-validation folds (default 0)")
    add_quiet(parser)
    parser.set_defaults(func=run)


def balance_report(fit: Any) -> dict[str, Any]:
    bal = fit.balance()
    table = bal.to_frame()
    table = table.astype(object).where(pd.notna(table), None)
    return {
        "method": fit.method,
        "converged": fit.converged,
        "rows": len(fit.weights),
        "penalty": fit.penalty,
        "design_effect": fit.design_effect,
        "effective_sample_size": fit.effective_sample_size,
        "weight_ratio": fit.weight_ratio,
        "weight_total": float(fit.weights.sum()),
        "mean_asmd_before": bal.mean_asmd_before,
        "mean_asmd_after": bal.mean_asmd_after,
        "balance": table.to_dict(orient="records"),
    }


PARAMETERS = {"sample": "--sample", "reference": "--reference", "covariates": "--covariates",
              "reference_weights": "--reference-weights", "rng": "--seed"}


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    check_report_path(args.report_out, "--report-out")
    sample = read_table(args.sample, "--sample")
    reference = read_table(args.reference, "--reference")
    if args.bins is not None and args.bins < 2:
        fail(ValidationError, "--bins", "must be at least 2", bad=[args.bins])
    trim = None
    if args.trim_mean_multiple is not None:
        if not args.trim_mean_multiple > 1:
            fail(ValidationError, "--trim-mean-multiple", "must be above 1",
                 bad=[args.trim_mean_multiple])
        trim = {"upper": args.trim_mean_multiple, "bound_type": "mean_multiple", "strict": True}
    fit = adjust_to_reference(
        sample,
        reference,
        covariates=args.covariates,
        method=args.method,
        weights=args.weights,
        reference_weights=args.reference_weights,
        penalty=args.penalty,
        bins="auto" if args.bins is None else args.bins,
        over_identified=args.over_identified,
        moments=args.moments,
        trim=trim,
        rng=args.seed,
    )
    report = balance_report(fit)
    outputs = Outputs()
    outputs.table(weights_table(fit, sample, args), args.out)
    if args.report_out:
        outputs.json(report, args.report_out)
    written = outputs.commit()
    say(
        args,
        f"equisample adjust: {len(fit.weights)} sample rows from {args.sample}, "
        f"{len(reference)} reference rows from {args.reference}",
        f"  {fit.method} on {', '.join(map(str, args.covariates))}: mean ASMD "
        f"{report['mean_asmd_before']:.3g} -> {report['mean_asmd_after']:.3g}",
        f"  Kish design effect {fit.design_effect:.3g}, effective n "
        f"{fit.effective_sample_size:.0f} of {len(fit.weights)}",
        "  wrote " + ", ".join(map(str, written)),
    )
    return 0
