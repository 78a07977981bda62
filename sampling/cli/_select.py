"""``equisample select``: choose which rows (items, people) to label by sensitivity sampling."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ColumnError, ValidationError
from sampling.cli._io import Outputs, check_out_path, check_report_path, read_table, say
from sampling.cli._options import add_flag, add_n, add_out, add_quiet, add_seed
from sampling.selection._sensitivity import sensitivity_sample

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``select`` subcommand."""
    parser = subparsers.add_parser(
        "select",
        help="choose a weighted subset of rows (leverage / Lewis / sensitivity sampling)",
        description="Choose about N rows of an embedding or feature matrix with exact inclusion "
        "probabilities; writes one line per selected row (row, stratum, probability, weight, "
        "row_scale, certainty, times_drawn). With --design poisson (the default) every row is "
        "kept independently, so N is the expected size and the realised size varies around it; "
        "systematic and pivotal designs select exactly N rows; multinomial makes N draws with "
        "replacement (a row may be drawn more than once).",
    )
    parser.add_argument("embeddings", help="features: .npy (2-D, memory-mapped), .parquet or .csv "
                        "(numeric columns, or a column holding one embedding vector per row)")
    add_n(parser, required=True, aliases=["--m"],
          help="sample size, total over strata (with --design poisson: the expected size)")
    parser.add_argument("--method", default="leverage",
                        choices=["leverage", "root_leverage", "lewis", "sensitivity", "uniform"])
    parser.add_argument("--p", type=float, default=2.0, help="the ell_p norm to preserve (default 2)")
    parser.add_argument("--design", default="poisson",
                        choices=["poisson", "systematic", "pivotal", "multinomial"])
    add_flag(parser, "--strata", default=None, concept="strata column", metavar="COLUMN|FILE",
             help="a column of the table, or a .csv/.parquet file with one label per row "
                        "(one column, or a column named 'stratum' or 'group')")
    parser.add_argument("--allocation", default="proportional",
                        choices=["proportional", "equal", "floor"])
    parser.add_argument("--floor-constant", type=float, default=20.0,
                        help="c in the per-stratum floor c d ln d (allocation 'floor')")
    parser.add_argument("--uniform-mix", type=float, default=0.0,
                        help="share of sampling mass spread uniformly (bounds every weight)")
    add_flag(parser, "--columns", action="list", default=None, metavar="COLUMN[,COLUMN]",
             help="feature columns (tables only; default: every column except the --strata "
             "column, and all of them must be numeric or hold one vector per row)")
    add_seed(parser)
    add_out(parser, "selected rows to write (.csv, .parquet or .json)", required=True)
    add_flag(parser, "--report-out", aliases=["--report"], metavar="FILE.json",
             help="also write a JSON report: the achieved guarantee and the per-stratum table")
    add_quiet(parser)
    parser.set_defaults(func=run)


PARAMETERS = {"m": "--n", "rng": "--seed", "features": "EMBEDDINGS", "embeddings": "EMBEDDINGS",
              "strata": "--strata"}


def _read_features(path: str, columns: list[str] | None, strata: str | None) -> tuple[Any, Any]:
    """Return (features, strata labels or None) from a .npy file or a table."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        if not p.is_file():
            fail(ValidationError, "embeddings", "file does not exist", bad=[str(p)])
        try:
            features = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            fail(ValidationError, "embeddings", f"could not be read as a .npy array ({exc})",
                 bad=[str(p)])
        if columns:
            fail(ValidationError, "--columns", "only applies to tables, not .npy files",
                 bad=[columns])
        return features, None
    table = read_table(p, "embeddings")
    label_column = None
    if strata is not None and strata in table.columns:
        label_column = strata
    elif strata is not None and Path(strata).suffix.lower() not in (".csv", ".parquet", ".pq"):
        fail(ColumnError, "--strata", "is neither a column of the table nor a .csv/.parquet file",
             bad=[strata], fix=f"Columns of the table: {list(table.columns)}.")
    if columns:
        wanted = list(columns)
        missing = [c for c in wanted if c not in table.columns]
        if missing:
            fail(ColumnError, "--columns", "names columns that are not in the table", bad=missing)
    else:
        wanted = [c for c in table.columns if c != label_column]
    frame = table[wanted]
    pieces: list[np.ndarray] = []
    text: list[Any] = []
    for column in wanted:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            pieces.append(values.to_numpy(dtype=np.float64)[:, None])
        elif len(values) and isinstance(values.iloc[0], (list, tuple, np.ndarray)):
            try:  # an embedding stored as one list/array per row (common in Parquet)
                pieces.append(np.vstack([np.asarray(v, dtype=np.float64) for v in values]))
            except (TypeError, ValueError):
                text.append(column)
        else:
            text.append(column)
    if text:
        fail(ValidationError, "embeddings", "has non-numeric feature columns", bad=text,
             fix="Choose the feature columns with --columns, or pass the label column as --strata.")
    labels = table[label_column] if label_column is not None else None
    return np.hstack(pieces), labels


def _read_strata(strata: str, n: int) -> pd.Series:
    table = read_table(strata, "--strata")
    if table.shape[1] == 1:
        labels = table.iloc[:, 0]
    else:
        named = [c for c in ("stratum", "group") if c in table.columns]
        if not named:
            fail(ColumnError, "--strata", "file has several columns but none named 'stratum' or "
                 "'group'", bad=list(table.columns))
        labels = table[named[0]]
    if len(labels) != n:
        fail(ValidationError, "--strata", f"file must have one label per row of the embeddings ({n})",
             bad=[f"{len(labels)} rows"])
    return labels


def run(args: argparse.Namespace) -> int:
    """Run ``equisample select``."""
    check_out_path(args.out)
    check_report_path(args.report_out, "--report-out")
    features, labels = _read_features(args.embeddings, args.columns, args.strata)
    if args.strata is not None and labels is None:
        if Path(args.strata).suffix.lower() not in (".csv", ".parquet", ".pq"):
            fail(ColumnError, "--strata", "is neither a column of the table nor a .csv/.parquet "
                 "file", bad=[args.strata])
        labels = _read_strata(args.strata, int(np.shape(features)[0]))
    subset = sensitivity_sample(
        features, args.n, method=args.method, p=args.p, design=args.design, strata=labels,
        allocation=args.allocation, floor_constant=args.floor_constant,
        uniform_mix=args.uniform_mix, rng=args.seed,
    )
    outputs = Outputs()
    outputs.table(subset.to_frame(), args.out)
    if args.report_out:
        outputs.json({
            "n": subset.n, "d": subset.d, "m": subset.m, "selected": int(subset.indices.size),
            "method": subset.method, "p": subset.p, "design": subset.design,
            "certainty_rows": int(subset.certainty.sum()),
            "kish_design_effect": subset.design_effect,
            "l2_distortion": subset.distortion,
            "l1_distortion_lower_bound": subset.l1_distortion_lower_bound,
            "strata": subset.stratum_table.replace({np.nan: None}).to_dict(orient="records"),
        }, args.report_out)
    written = outputs.commit()
    size = (f"{subset.indices.size} rows (Poisson: {args.n} expected, the size is random)"
            if subset.design == "poisson" else f"{subset.indices.size} rows")
    strata = "" if labels is None else f" in {subset.stratum_table.shape[0]} strata"
    say(args,
        f"equisample select: read {subset.n} rows x {subset.d} features from {args.embeddings}",
        f"  selected {size}{strata}",
        f"  by {subset.method} sampling (p = {subset.p:g}, {subset.design} design)",
        f"  ell_2 distortion {subset.distortion:.3g}, Kish design effect "
        f"{subset.design_effect:.3g}, {int(subset.certainty.sum())} rows taken with certainty",
        "  wrote " + ", ".join(map(str, written)))
    return 0
