"""``equisample quotas``: integer quota cells from an embedded census table or your own table."""

from __future__ import annotations

import argparse

from estimators.datasets._census import census
from sampling.cli._io import read_table, write_table
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
    parser.add_argument(
        "--variables",
        default=None,
        help="comma-separated quota variables (default: age,sex,ethnicity with --country; "
        "every variable of the table with --table)",
    )
    parser.add_argument("--n", type=int, required=True, help="sample size")
    parser.add_argument("--method", default="hamilton", choices=QUOTA_METHODS)
    parser.add_argument("--minimum", type=int, default=None, help="places per populated cell")
    parser.add_argument("--age-bands", default="standard", choices=("standard", "prolific"))
    parser.add_argument("--year", type=int, default=None, help="census year (UK: 2021 or 2011)")
    parser.add_argument("--non-interlocked", action="store_true", help="quotas per margin only")
    parser.add_argument("--seed-table", help="margins-only --table: a joint seed table to rake")
    parser.add_argument("--normalize", action="store_true", help="rescale shares that do not sum to 1")
    parser.add_argument("--out", required=True, help="output table (.csv, .parquet or .json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    variables = (
        None if args.variables is None else [v.strip() for v in args.variables.split(",") if v.strip()]
    )
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
    write_table(plan.to_frame(), args.out)
    return 0
