"""``equisample plan``: fit learning curves to pilot errors and allocate a recruitment budget."""

from __future__ import annotations

import argparse
import textwrap
import warnings

import pandas as pd

from estimators._lib.validation import check_columns, fail
from estimators.errors import ExtrapolationWarning, ValidationError
from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import OBJECTIVES, allocate
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import add_by, add_flag, add_out, add_quiet, add_reps, add_seed

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


PARAMETERS = {"df": "PILOT", "group": "--by", "n": "--n-column", "error": "--error-column",
              "population_shares": "--population", "integer": "--continuous", "rng": "--seed",
              "bootstrap": "--reps", "costs": "--costs", "min_n": "--min-n", "max_n": "--max-n",
              "current_n": "--current-n", "curves": "PILOT"}


def _curve_table(curves: object, plan: object, pilot_max: pd.Series) -> pd.DataFrame:
    """Fitted curves with standard errors, the planned size and how far it reaches past the pilot."""
    params = curves.params  # type: ignore[attr-defined]
    rows = []
    for group, row in params.iterrows():
        planned = float(plan.n.get(group, float("nan")))  # type: ignore[attr-defined]
        largest = float(pilot_max.get(group, float("nan")))
        reach = planned / largest if largest > 0 else float("nan")
        rows.append({
            "group": group,
            "a": f"{row['a']:.3g} +/- {row['se_a']:.2g}",
            "b": f"{row['b']:.3g} +/- {row['se_b']:.2g}",
            "c": f"{row['c']:.3g} +/- {row['se_c']:.2g}",
            "pilot_max_n": int(largest) if largest == largest else largest,
            "plan_n": round(planned) if planned == planned else planned,
            "x_pilot": round(reach, 1),
            "extrapolates": "yes" if reach > 1 else "no",
        })
    return pd.DataFrame(rows)


def _run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    if len(args.by) != 1:
        fail(ValidationError, "--by", "takes one group column here", bad=args.by)
    pilot = read_table(args.pilot, "PILOT")
    for flag, column in (("--by", args.by[0]), ("--n-column", args.n_column),
                         ("--error-column", args.error_column)):
        if column not in pilot.columns:
            fail(ValidationError, flag, "names a column that is not in PILOT", bad=[column],
                 fix=f"Columns of PILOT: {list(pilot.columns)[:10]}.")
    bootstrap = args.reps if args.uncertainty != "none" else 0
    curves = fit_learning_curves(pilot, group=args.by[0], n=args.n_column, error=args.error_column,
                                 space=args.space, bootstrap=bootstrap, rng=args.seed)
    costs = _per_group(args.costs, "--costs", "cost")
    with warnings.catch_warnings():
        # the command prints its own note on extrapolation (the curve table, with c +/- SE)
        warnings.simplefilter("ignore", ExtrapolationWarning)
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
            uncertainty=args.uncertainty,
        )
    frame = plan.to_frame()
    frame.index.name = "group"
    written = []
    if args.out:
        outputs = Outputs()
        outputs.table(frame.reset_index(), args.out)
        written = outputs.commit()
    pilot_max = curves.data.groupby("group")["n"].max()
    table = _curve_table(curves, plan, pilot_max)
    beyond = table[table["extrapolates"] == "yes"]
    budget = "" if plan.budget is None else f", budget {plan.budget:g}"
    lines = [
        f"equisample plan: {len(curves.data)} pilot points in {len(table)} groups from "
        f"{args.pilot}; fitted err = a n^-b + c ({args.space} scale)",
        f"  {args.objective} plan{budget}: cost {plan.cost:g}, {int(plan.recruit.sum())} new "
        f"samples, status {plan.status}, uncertainty {args.uncertainty}",
        format_table(table, max_rows=30, written_to=written[0] if written else None),
    ]
    if len(beyond):
        worst = beyond.loc[beyond["x_pilot"].idxmax()]
        lines += textwrap.wrap(
            f"the plan extrapolates the curves of {len(beyond)} group(s) past the largest pilot n "
            f"(up to x{worst['x_pilot']:g} for {worst['group']}): predicted errors there rest on "
            "the fitted asymptote c; a wide c +/- SE makes the plan unstable (try --uncertainty "
            "robust or bootstrap, or pilot at larger n)", width=100, initial_indent="  ",
            subsequent_indent="    ")
    lines.append("  wrote " + ", ".join(map(str, written)) if written
                 else "  (no file written: add --out)")
    say(args, *lines)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    p = subparsers.add_parser(
        "plan",
        help="fit group learning curves to pilot errors and allocate a recruitment budget",
        description="Fit err = a n^-b + c per group to PILOT (columns group, n, error) and choose "
        "how many samples to recruit per group under a budget. Per-group options take a number "
        "or a CSV/Parquet table with columns group and the named value column. Prints the fitted "
        "curves (a, b, c with standard errors) and how far the plan reaches past the largest "
        "pilot n of each group (x_pilot).",
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
    p.add_argument("--uncertainty", default="none", choices=("none", "bootstrap", "robust"),
                   help="plan against bootstrap refits of the curves (default none)")
    add_reps(p, default=200, help="bootstrap refits with --uncertainty (default 200)")
    add_seed(p, help="random seed for the bootstrap refits")
    add_by(p, default=["group"], aliases=["--group"], help="group column of PILOT (default group)")
    add_flag(p, "--n-column", default="n", aliases=["--n"], metavar="COLUMN",
             help="sample-size column of PILOT (default n)")
    add_flag(p, "--error-column", default="error", aliases=["--error"], metavar="COLUMN",
             help="error column of PILOT (default error)")
    p.add_argument("--continuous", action="store_true", help="do not round to whole samples")
    add_out(p, "write the plan table (.csv, .parquet or .json)")
    add_quiet(p)
    p.set_defaults(func=_run)
