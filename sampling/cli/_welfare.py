"""``equisample welfare``: welfare of each option (and an aggregation rule, and juries) from PRISM
files or long-format ratings."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd
from scipy.special import ndtri

from estimators._lib.validation import fail
from estimators.datasets._prism import load_prism
from estimators.errors import ColumnError, ValidationError
from estimators.survey._design import SurveyDesign
from estimators.welfare._aggregation import RULES, aggregate
from estimators.welfare._utility import utility_table
from estimators.welfare._welfare import SWF_NAMES, welfare
from estimators.welfare._who_decides import JuryPolicy, who_decides
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import (
    add_by,
    add_confidence_level,
    add_flag,
    add_id,
    add_out,
    add_quiet,
    add_reps,
    add_seed,
    add_strata_psu,
    add_weights,
    progress,
)

__all__ = ["register"]

PARAMETERS = {"rater": "--id", "option": "--option-column", "score": "--score-column",
              "n_draws": "--reps", "rng": "--seed", "ratings": "--ratings", "raters": "--raters",
              "raters_id": "--id", "pool": "--pool", "u": "--ratings"}

DEFAULT_COLUMNS = {"id": ("rater", "user_id"), "option_column": ("option", "model_name"),
                   "score_column": ("score",)}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "welfare",
        help="welfare of each option from PRISM files or long-format ratings",
        description="Build the rater x option utility table, evaluate a social welfare function "
        "per option (optionally by group and survey-weighted), add an aggregation rule's "
        "scores, and optionally simulate who decides with random juries. Rater-level columns "
        "(--by, --weights, --strata, --psu, --pool) are read from --raters or, when absent there, "
        "from the ratings file itself (they must then be constant within each rater).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prism", metavar="DIR", help="folder with PRISM survey/utterances files")
    source.add_argument("--ratings", metavar="LONG.csv",
                        help="long-format ratings, one row per rating: a rater id, an option and "
                        "a score column (named with --id, --option-column, --score-column)")
    parser.add_argument("--raters", metavar="RATERS.csv",
                        help="rater-level covariates for --ratings (weights, groups, pools), "
                        "matched on the --id column")
    add_id(parser, aliases=["--rater"],
           help="rater id column (default: rater, or user_id when there is no 'rater' column)")
    add_flag(parser, "--option-column", aliases=["--option"], metavar="COLUMN",
             help="option column (default: option, or model_name when there is no 'option')")
    add_flag(parser, "--score-column", aliases=["--score"], metavar="COLUMN",
             help="score column (default: score)")
    parser.add_argument("--on-missing", default="raise", choices=("raise", "drop"),
                        help="ratings with a missing rater, option or score (default: raise)")
    parser.add_argument("--aggregate", default="mean", choices=("mean", "choice_rate", "veto_rate"),
                        help="utility of a rater for an option (default mean score)")
    parser.add_argument("--turn", default="0",
                        help="keep only this turn when there is a 'turn' column (default 0; "
                        "'all' keeps every row)")
    parser.add_argument("--swf", default="utilitarian", choices=SWF_NAMES,
                        help="social welfare function (default utilitarian)")
    parser.add_argument("--eps", type=float, default=None, help="Atkinson inequality aversion")
    parser.add_argument("--power", type=float, default=None, help="power-mean exponent")
    add_weights(parser, help="rater-level survey weight column")
    add_by(parser, help="rater-level group column")
    add_strata_psu(parser, strata_help="rater-level strata column: design-based SEs",
                   psu_help="rater-level cluster (PSU) column: design-based SEs")
    add_confidence_level(parser)
    parser.add_argument("--rule", default=None, choices=RULES,
                        help="also add this aggregation rule's score and rank per option")
    parser.add_argument("--jury-size", type=int, default=None,
                        help="simulate juries of this size (who decides; needs --juries-out)")
    parser.add_argument("--pool", default=None, help="boolean rater column: who can sit on juries")
    add_reps(parser, default=1000, aliases=["--draws"], help="jury draws (default 1000)")
    add_seed(parser, help="random seed for the juries")
    add_flag(parser, "--juries-out", metavar="FILE",
             help="write the jury welfare distribution here (CSV/Parquet/JSON)")
    add_out(parser, "welfare table to write (CSV, Parquet or JSON)", required=True)
    add_quiet(parser)
    parser.set_defaults(func=run)


def _column(args: argparse.Namespace, key: str, ratings: pd.DataFrame, prism: bool) -> str:
    given = getattr(args, key)
    if given is not None:
        return str(given)
    names = DEFAULT_COLUMNS[key]
    if prism:
        return names[-1]
    for name in names:
        if name in ratings.columns:
            return name
    flag = "--" + key.replace("_", "-")
    fail(ColumnError, flag, f"no column named {' or '.join(names)} in the ratings",
         bad=[names[0]], fix=f"Name the column with {flag}; columns: {list(ratings.columns)[:10]}.")


def _rater_columns(ratings: pd.DataFrame, raters: pd.DataFrame | None, rater: str,
                   wanted: dict[str, str]) -> pd.DataFrame | None:
    """Rater-level covariates: --raters, plus columns of the ratings constant within each rater."""
    have = set() if raters is None else set(raters.columns)
    from_ratings = [c for c in dict.fromkeys(wanted) if c not in have and c in ratings.columns]
    for column, flag in wanted.items():
        if column not in have and column not in ratings.columns:
            where = ("is in neither --ratings nor --raters" if raters is not None else
                     "is not in --ratings (rater-level columns may also come from --raters)")
            fail(ColumnError, flag, f"names a column that {where}", bad=[column],
                 fix=f"Columns of --ratings: {list(ratings.columns)[:10]}.")
    if not from_ratings:
        return raters
    grouped = ratings.groupby(rater, sort=False)
    varying = [c for c in from_ratings if (grouped[c].nunique(dropna=False) > 1).any()]
    if varying:
        fail(ValidationError, ", ".join(wanted[c] for c in varying),
             "rater-level columns must be constant within each rater in the ratings file",
             bad=varying, fix="Give one row per rater in --raters instead.")
    extra = grouped[from_ratings].first().reset_index()
    if raters is None:
        return extra
    if rater not in raters.columns:
        fail(ColumnError, "--raters", f"needs the rater id column {rater!r} to add ratings columns",
             bad=[rater])
    return raters.merge(extra, on=rater, how="outer")


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    check_out_path(args.juries_out, "--juries-out")
    if args.jury_size is not None and not args.juries_out:
        fail(ValidationError, "--juries-out", "is needed with --jury-size",
             fix="Add --juries-out FILE.csv for the jury welfare distribution.")
    if args.by and len(args.by) != 1:
        fail(ValidationError, "--by", "takes one group column here", bad=args.by)
    by = args.by[0] if args.by else None
    turn = None if str(args.turn).lower() == "all" else _as_turn(args.turn)
    steps = progress(total=4 if args.jury_size else 3, desc="welfare", quiet=args.quiet)
    prism = bool(args.prism)
    if prism:
        data = load_prism(args.prism)
        ratings, raters = data.utterances, data.survey
        source = f"PRISM files in {args.prism}"
    else:
        ratings = read_table(args.ratings, "--ratings")
        raters = read_table(args.raters, "--raters") if args.raters else None
        source = str(args.ratings) + (f" and {args.raters}" if args.raters else "")
    rater = _column(args, "id", ratings, prism)
    option = _column(args, "option_column", ratings, prism)
    score = _column(args, "score_column", ratings, prism)
    wanted = {c: flag for flag, c in (("--pool", args.pool), ("--psu", args.psu),
                                      *(("--strata", s) for s in args.strata or []),
                                      ("--weights", args.weights), ("--by", by)) if c}
    if not prism:
        raters = _rater_columns(ratings, raters, rater, wanted)
    if turn is not None and "turn" not in ratings.columns:
        turn = None
    steps.update()
    u = utility_table(ratings, rater=rater, option=option, score=score,
                      aggregate=args.aggregate, turn=turn, raters=raters,
                      raters_id=rater if not prism else "user_id", on_missing=args.on_missing)
    design = None
    if args.strata or args.psu:
        if raters is None:
            fail(ValidationError, "--strata/--psu", "need rater-level data (--raters or --prism)",
                 bad=[*(args.strata or []), args.psu])
        design = SurveyDesign(raters, weights=args.weights, strata=args.strata or None,
                              psu=args.psu)
    result = welfare(u, swf=args.swf, eps=args.eps, power=args.power,
                     weights=None if design is not None else args.weights, by=by,
                     design=design)
    frame = result.to_frame()
    steps.update()
    if args.rule:
        agg = aggregate(u, rule=args.rule, weights=args.weights).to_frame()
        agg = agg.rename(columns={"score": f"{args.rule}_score", "rank": f"{args.rule}_rank"})
        frame = frame.merge(agg, on="option", how="left")
    steps.update()
    outputs = Outputs()
    outputs.table(frame, args.out)
    juries = None
    if args.jury_size is not None:
        res = who_decides(u, policy={f"jury_{args.jury_size}": JuryPolicy(args.jury_size,
                                                                           pool=args.pool)},
                          rule=args.rule or "mean_rating", swf=args.swf, eps=args.eps,
                          power=args.power, weights=None if design is not None else args.weights,
                          by=by, design=design, n_draws=args.reps, rng=args.seed)
        juries = res.to_frame().merge(
            res.winner_shares().pivot(index="policy", columns="option", values="share")
            .add_prefix("win_share_").reset_index(),
            on="policy",
        )
        outputs.table(juries, args.juries_out, "--juries-out")
        steps.update()
    steps.close()
    written = outputs.commit()
    say(args, *_summary(args, frame, juries, u, source, written))
    return 0


def _summary(args: argparse.Namespace, frame: pd.DataFrame, juries: pd.DataFrame | None, u: Any,
             source: str, written: list[Any]) -> list[str]:
    n_raters, n_options = u.values.shape
    lines = [f"equisample welfare: {n_raters} raters x {n_options} options from {source}; "
             f"{args.swf} welfare" + (f" by {args.by[0]}" if args.by else "")]
    z = float(ndtri(0.5 + args.confidence_level / 2))
    groups = "group" in frame.columns and frame["group"].notna().any()
    for label, part in (frame.groupby("group", sort=False) if groups else [("all", frame)]):
        part = part.dropna(subset=["welfare"])
        if part.empty:
            continue
        best = part.loc[part["welfare"].idxmax()]
        interval = ""
        if "std_error" in part.columns and pd.notna(best["std_error"]):
            se = float(best["std_error"])
            interval = (f", {args.confidence_level:.0%} interval [{best['welfare'] - z * se:.4g}, "
                        f"{best['welfare'] + z * se:.4g}]")
        lines.append(f"  best for {label}: {best['option']} ({best['welfare']:.4g}{interval})"[:100])
    if juries is not None:
        shares = juries.filter(like="win_share_").iloc[0].sort_values(ascending=False)
        top = ", ".join(f"{k.removeprefix('win_share_')} {v:.0%}" for k, v in shares.head(3).items())
        lines.append(f"  juries of {args.jury_size} ({args.reps} draws) choose: {top}"[:100])
    if frame.shape[1] > 6 or len(frame) > 12:
        lines.append(format_table(frame, max_rows=12, written_to=written[0]))
    lines.append("  wrote " + ", ".join(map(str, written)))
    return lines


def _as_turn(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        fail(ValidationError, "--turn", "must be an integer or 'all'", bad=[text])
