"""``equisample quotas``: integer quota cells from an embedded census table or your own table."""

from __future__ import annotations

import argparse

from estimators.datasets._census import census
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import add_flag, add_n, add_out, add_quiet
from sampling.quotas._design import QUOTA_METHODS, design_quotas

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quotas",
        help="design integer recruitment quotas from census tables",
        description="Apportion n places to census cells (interlocked) or to the categories of each "
        "variable (--non-interlocked), and write quota, exact quota and deviation per row.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--country", choices=("us", "uk"), help="use an embedded census table")
    source.add_argument("--table", help="your own CSV/Parquet table of counts or shares")
    add_flag(parser, "--variables", action="list", default=None, metavar="VAR[,VAR]",
             help="quota variables (default: age,sex,ethnicity with --country; every variable of "
             "the table with --table)")
    add_n(parser, required=True, help="sample size: places to apportion")
    parser.add_argument("--method", default="hamilton", choices=QUOTA_METHODS)
    parser.add_argument("--minimum", type=int, default=None, help="places per populated cell")
    parser.add_argument("--age-bands", default="standard", choices=("standard", "prolific"))
    parser.add_argument("--year", type=int, default=None, help="census year (UK: 2021 or 2011)")
    parser.add_argument("--non-interlocked", action="store_true", help="quotas per margin only")
    parser.add_argument("--seed-table", help="margins-only --table: a joint seed table to rake")
    parser.add_argument("--normalize", action="store_true", help="rescale shares that do not sum to 1")
    add_out(parser, "quota table to write (.csv, .parquet or .json)", required=True)
    add_quiet(parser)
    parser.set_defaults(func=run)


PARAMETERS = {"table": "--table", "seed_table": "--seed-table", "interlocked": "--non-interlocked"}


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    variables = args.variables or None
    if args.country:
        if variables is None:
            variables = ["age", "sex", "ethnicity"]
        table = census(args.country, variables, year=args.year, age_bands=args.age_bands)
    else:
        table = read_table(args.table, "--table")
    seed = read_table(args.seed_table, "--seed-table") if args.seed_table else None
    plan = design_quotas(
        table,
        n=args.n,
        variables=variables,
        method=args.method,
        interlocked=not args.non_interlocked,
        minimum=args.minimum,
        seed_table=seed,
        normalize=args.normalize,
    )
    frame = plan.to_frame()
    outputs = Outputs()
    outputs.table(frame, args.out)
    written = outputs.commit()
    source = (f"the embedded {args.country.upper()} census" if args.country else str(args.table))
    lines = [f"equisample quotas: {len(frame)} "
             f"{'cells' if not args.non_interlocked else 'margin categories'} from {source} "
             f"({', '.join(variables) if variables else 'every variable of the table'})"]
    if {"quota", "exact", "deviation"} <= set(frame.columns):
        worst = frame.loc[frame["deviation"].abs().idxmax()]
        label = ", ".join(str(worst[c]) for c in frame.columns
                          if c not in ("quota", "exact", "deviation", "share", "count"))[:60]
        lines.append(f"  n = {int(frame['quota'].sum())} places ({args.method}); largest "
                     f"deviation from the exact quota {float(worst['deviation']):+.3g} ({label})")
    lines.append(format_table(frame, max_rows=8, written_to=written[0]))
    lines.append("  wrote " + ", ".join(map(str, written)))
    say(args, *lines)
    return 0
