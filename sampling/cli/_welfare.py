"""``equisample welfare``: welfare of each option (and an aggregation rule, and juries) from PRISM
files or long-format ratings."""

from __future__ import annotations

import argparse

from estimators._lib.validation import fail
from estimators.datasets._prism import load_prism
from estimators.errors import ValidationError
from estimators.survey._design import SurveyDesign
from estimators.welfare._aggregation import RULES, aggregate
from estimators.welfare._utility import utility_table
from estimators.welfare._welfare import SWF_NAMES, welfare
from estimators.welfare._who_decides import JuryPolicy, who_decides
from sampling.cli._io import read_table, write_table

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "welfare",
        help="welfare of each option from PRISM files or long-format ratings",
        description="Build the rater x option utility table, evaluate a social welfare function "
        "per option (optionally by group and survey-weighted), add an aggregation rule's "
        "scores, and optionally simulate who decides with random juries.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prism", metavar="DIR", help="folder with PRISM survey/utterances files")
    source.add_argument("--ratings", metavar="LONG.csv", help="long ratings: rater, option, score")
    parser.add_argument("--raters", metavar="RATERS.csv",
                        help="rater-level covariates for --ratings (weights, groups, pools)")
    parser.add_argument("--rater", default="user_id", help="rater id column (default user_id)")
    parser.add_argument("--option", default="model_name", help="option column")
    parser.add_argument("--score", default="score", help="score column")
    parser.add_argument("--on-missing", default="raise", choices=("raise", "drop"),
                        help="ratings with a missing rater, option or score (default: raise)")
    parser.add_argument("--aggregate", default="mean", choices=("mean", "choice_rate", "veto_rate"),
                        help="utility of a rater for an option (default mean score)")
    parser.add_argument("--turn", default="0",
                        help="keep only this turn (default 0; 'all' keeps every row)")
    parser.add_argument("--swf", default="utilitarian", choices=SWF_NAMES,
                        help="social welfare function (default utilitarian)")
    parser.add_argument("--eps", type=float, default=None, help="Atkinson inequality aversion")
    parser.add_argument("--power", type=float, default=None, help="power-mean exponent")
    parser.add_argument("--weights", default=None, help="rater-level survey weight column")
    parser.add_argument("--by", default=None, help="rater-level group column")
    parser.add_argument("--strata", default=None,
                        help="rater-level strata column: design-based SEs via SurveyDesign")
    parser.add_argument("--psu", default=None,
                        help="rater-level cluster (PSU) column: design-based SEs via SurveyDesign")
    parser.add_argument("--rule", default=None, choices=RULES,
                        help="also add this aggregation rule's score and rank per option")
    parser.add_argument("--jury-size", type=int, default=None,
                        help="simulate juries of this size (who decides)")
    parser.add_argument("--pool", default=None, help="boolean rater column: who can sit on juries")
    parser.add_argument("--draws", type=int, default=1000, help="jury draws (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the juries")
    parser.add_argument("--juries-out", default=None,
                        help="write the jury welfare distribution here (CSV/Parquet/JSON)")
    parser.add_argument("--out", required=True, help="output table (CSV, Parquet or JSON)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    turn = None if str(args.turn).lower() == "all" else _as_turn(args.turn)
    if args.prism:
        data = load_prism(args.prism)
        ratings, raters = data.utterances, data.survey
        raters_id = "user_id"
    else:
        ratings = read_table(args.ratings, "ratings")
        raters = read_table(args.raters, "raters") if args.raters else None
        raters_id = args.rater
    if turn is not None and "turn" not in ratings.columns:
        turn = None
    u = utility_table(ratings, rater=args.rater, option=args.option, score=args.score,
                      aggregate=args.aggregate, turn=turn, raters=raters, raters_id=raters_id,
                      on_missing=args.on_missing)
    design = None
    if args.strata or args.psu:
        if raters is None:
            fail(ValidationError, "--strata/--psu", "need rater-level data (--raters or --prism)",
                 bad=[args.strata or args.psu])
        design = SurveyDesign(raters, weights=args.weights, strata=args.strata, psu=args.psu)
    result = welfare(u, swf=args.swf, eps=args.eps, power=args.power,
                     weights=None if design is not None else args.weights, by=args.by,
                     design=design)
    frame = result.to_frame()
    if args.rule:
        agg = aggregate(u, rule=args.rule, weights=args.weights).to_frame()
        agg = agg.rename(columns={"score": f"{args.rule}_score", "rank": f"{args.rule}_rank"})
        frame = frame.merge(agg, on="option", how="left")
    write_table(frame, args.out)
    if args.jury_size is not None:
        if not args.juries_out:
            fail(ValidationError, "--juries-out", "is needed with --jury-size", bad=[None])
        res = who_decides(u, policy={f"jury_{args.jury_size}": JuryPolicy(args.jury_size,
                                                                           pool=args.pool)},
                          rule=args.rule or "mean_rating", swf=args.swf, eps=args.eps,
                          power=args.power, weights=args.weights, n_draws=args.draws,
                          rng=args.seed)
        out = res.to_frame().merge(
            res.winner_shares().pivot(index="policy", columns="option", values="share")
            .add_prefix("win_share_").reset_index(),
            on="policy",
        )
        write_table(out, args.juries_out)
    return 0


def _as_turn(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        fail(ValidationError, "--turn", "must be an integer or 'all'", bad=[text])
