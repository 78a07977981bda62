"""``equisample simulate``: compare sampling policies on a population (a file or the synthetic one)."""

from __future__ import annotations

import argparse
from typing import Any

from estimators._lib.validation import as_int, fail
from estimators.datasets._synthetic import SYNTHETIC_OPTIONS, synthetic_population
from estimators.errors import ValidationError
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import add_by, add_flag, add_out, add_quiet, add_reps, add_seed
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


def _policies(names: list[str], propensity: str | None, quota_variables: list[str]) -> list[Any]:
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown or not names:
        fail(ValidationError, "--policies",
             f"must be a comma-separated list of {', '.join(POLICY_NAMES)}",
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


PARAMETERS = {"groups": "--by", "n_reps": "--reps", "rng": "--seed", "budget": "--budget",
              "options": "--options", "reweighting": "--reweighting", "population": "POPULATION",
              "weighting_variables": "--weighting-variables", "propensity": "--propensity",
              "variables": "--quota-variables"}

COMPACT = ["policy", "budget", "reweighting", "welfare", "regret", "best_chosen", "rmse",
           "worst_group_rmse", "coverage_design"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="compare sampling policies by simulation (welfare, bias, RMSE, coverage, cost)",
        description="Run recruit -> reweight -> decide -> evaluate many times on a population with "
        "known utilities, for several sampling policies, budgets and reweighting methods, and write "
        "the summary with Monte Carlo standard errors. Without POPULATION a synthetic UK population "
        "drawn from the embedded census is used. A progress bar shows on a terminal (not with "
        "--quiet); the main columns are printed and the whole table written to --out.",
    )
    parser.add_argument("population", nargs="?", help="population table (CSV or Parquet): one row "
                        "per person, group attributes and one utility column per option")
    add_flag(parser, "--options", action="list", metavar="COLUMN[,COLUMN]",
             help="utility columns (default: the synthetic population's model_a..model_d)")
    add_by(parser, default=["age"], aliases=["--groups"],
           help="group column whose worst-off group is reported (default age)")
    add_flag(parser, "--policies", action="list",
             default=["convenience", "simple_random", "proportional", "equal"],
             help=f"policies among {', '.join(POLICY_NAMES)} (default: all but quota)")
    parser.add_argument("--propensity", default=None, metavar="COLUMN",
                        help="column of opt-in propensities for the convenience and quota "
                        "policies (default: 'propensity' for the synthetic population)")
    add_flag(parser, "--quota-variables", action="list", default=[], metavar="VAR[,VAR]",
             help="quota variables (for the quota policy)")
    add_flag(parser, "--budget", action="list", item_type=float, default=[100.0],
             metavar="B[,B]", help="budgets to compare (default 100)")
    add_reps(parser, default=100, help="replicates per arm (default 100)")
    add_flag(parser, "--reweighting", action="list", default=["none", "rake"],
             help="methods among none, poststratify, rake, calibrate (default none,rake)")
    add_flag(parser, "--weighting-variables", action="list", default=None, metavar="VAR[,VAR]",
             help="columns to reweight on (default: the --by column)")
    parser.add_argument("--rating-sd", type=float, default=0.0,
                        help="Gaussian rating noise (default 0: people report their utilities)")
    add_seed(parser, default=1)
    add_out(parser, "summary table to write (CSV, Parquet or JSON)", required=True)
    add_flag(parser, "--replicates-out", aliases=["--replicates"], metavar="FILE",
             help="also write the per-replicate table")
    add_quiet(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    check_out_path(args.replicates_out, "--replicates-out")
    if len(args.by) != 1:
        fail(ValidationError, "--by", "takes one group column here", bad=args.by)
    if args.population:
        population = read_table(args.population, "POPULATION")
        options = list(args.options or [])
        if not options:
            fail(ValidationError, "--options", "name the utility columns of the population",
                 bad=["<empty>"], fix="e.g. --options model_a,model_b")
        propensity = args.propensity
        source = str(args.population)
    else:
        population = synthetic_population(rng=args.seed)
        options = list(args.options or SYNTHETIC_OPTIONS)
        propensity = args.propensity or "propensity"
        source = "the synthetic UK population"
    policies = _policies(list(args.policies), propensity, list(args.quota_variables))
    reps = as_int(args.reps, "--reps", minimum=2)
    arms = len(policies) * len(args.budget) * len(args.reweighting)
    sim = simulate_policies(
        population,
        policies,
        options=options,
        groups=args.by[0],
        budget=list(args.budget),
        n_reps=reps,
        reweighting=list(args.reweighting),  # type: ignore[arg-type]
        weighting_variables=args.weighting_variables or None,
        weighting_options=(
            {"on_empty_category": "drop"} if set(args.reweighting) - {"none"} else None
        ),
        outcome_model=GaussianRatings(sd=args.rating_sd) if args.rating_sd > 0 else None,
        rng=args.seed,
        progress=not args.quiet,
    )
    frame = sim.to_frame()
    outputs = Outputs()
    outputs.table(frame, args.out)
    if args.replicates_out:
        outputs.table(sim.to_frame("replicates"), args.replicates_out, "--replicates-out")
    written = outputs.commit()
    compact = frame[[c for c in COMPACT if c in frame.columns]]
    failed = int(frame["n_failed"].sum()) if "n_failed" in frame.columns else 0
    lines = [f"equisample simulate: {len(population)} people from {source}",
             f"  {arms} arms ({len(policies)} policies x {len(args.budget)} budgets x "
             f"{len(args.reweighting)} reweightings), {reps} replicates each",
             format_table(compact, max_rows=20, written_to=written[0], digits=3)]
    if "welfare" in frame.columns and frame["welfare"].notna().any():
        top = float(frame["welfare"].max())
        tied = frame[frame["welfare"] >= top - 1e-9 * max(1.0, abs(top))]
        best = tied.iloc[0]
        arm = f"{best['policy']} / {best['reweighting']} at budget {best['budget']:g}"
        se = float(best.get("welfare_mc_se", float("nan")))
        if len(tied) > 1:
            lines.append(f"  highest welfare {top:.4g}, reached by {len(tied)} of {len(frame)} "
                         f"arms (e.g. {arm})"[:100])
        else:
            lines.append(f"  highest welfare: {arm} ({top:.4g} +/- {se:.2g} Monte Carlo SE)")
    if failed:
        lines.append(f"  {failed} replicates failed (column n_failed)")
    lines.append("  wrote " + ", ".join(map(str, written))
                 + f" (the full table: {frame.shape[1]} columns, with Monte Carlo SEs)")
    say(args, *lines)
    return 0
