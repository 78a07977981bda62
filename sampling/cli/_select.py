"""``equisample select``: choose which rows (items, people) to label by sensitivity sampling."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ColumnError, ValidationError
from sampling.cli._io import check_report_path, read_table, write_json, write_table
from sampling.selection._sensitivity import sensitivity_sample

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``select`` subcommand."""
    parser = subparsers.add_parser(
        "select",
        help="choose a weighted subset of rows (leverage / Lewis / sensitivity sampling)",
        description="Choose m rows of an embedding or feature matrix with exact inclusion "
        "probabilities; writes one line per selected row (row, stratum, probability, weight, "
        "row_scale, certainty, times_drawn).",
    )
    parser.add_argument("embeddings", help="features: .npy (2-D, memory-mapped), .parquet or .csv "
                        "(numeric columns, or a column holding one embedding vector per row)")
    parser.add_argument("--m", type=int, required=True, help="sample size (total over strata)")
    parser.add_argument("--method", default="leverage",
                        choices=["leverage", "root_leverage", "lewis", "sensitivity", "uniform"])
    parser.add_argument("--p", type=float, default=2.0, help="the ell_p norm to preserve (default 2)")
    parser.add_argument("--design", default="poisson",
                        choices=["poisson", "systematic", "pivotal", "multinomial"])
    parser.add_argument("--strata", default=None,
                        help="a column of the table, or a .csv/.parquet file with one label per row "
                        "(one column, or a column named 'stratum' or 'group')")
    parser.add_argument("--allocation", default="proportional",
                        choices=["proportional", "equal", "floor"])
    parser.add_argument("--floor-constant", type=float, default=20.0,
                        help="c in the per-stratum floor c d ln d (allocation 'floor')")
    parser.add_argument("--uniform-mix", type=float, default=0.0,
                        help="share of sampling mass spread uniformly (bounds every weight)")
    parser.add_argument("--columns", default=None,
                        help="comma-separated feature columns (tables only; default: all numeric)")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--out", required=True, help="output table (.csv, .parquet or .json)")
    parser.add_argument("--report", default=None,
                        help="optional JSON file with the achieved guarantee and per-stratum table")
    parser.set_defaults(func=run)


def _read_features(path: str, columns: str | None, strata: str | None) -> tuple[Any, Any]:
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
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
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
    check_report_path(args.report)
    features, labels = _read_features(args.embeddings, args.columns, args.strata)
    if args.strata is not None and labels is None:
        if Path(args.strata).suffix.lower() not in (".csv", ".parquet", ".pq"):
            fail(ColumnError, "--strata", "is neither a column of the table nor a .csv/.parquet "
                 "file", bad=[args.strata])
        labels = _read_strata(args.strata, int(np.shape(features)[0]))
    subset = sensitivity_sample(
        features, args.m, method=args.method, p=args.p, design=args.design, strata=labels,
        allocation=args.allocation, floor_constant=args.floor_constant,
        uniform_mix=args.uniform_mix, rng=args.seed,
    )
    write_table(subset.to_frame(), args.out)
    if args.report:
        write_json({
            "n": subset.n, "d": subset.d, "m": subset.m, "selected": int(subset.indices.size),
            "method": subset.method, "p": subset.p, "design": subset.design,
            "certainty_rows": int(subset.certainty.sum()),
            "kish_design_effect": subset.design_effect,
            "l2_distortion": subset.distortion,
            "l1_distortion_lower_bound": subset.l1_distortion_lower_bound,
            "strata": subset.stratum_table.replace({np.nan: None}).to_dict(orient="records"),
        }, args.report)
    sys.stdout.write(f"selected {subset.indices.size} of {subset.n} rows ({subset.method}, "
                     f"p={subset.p:g}, {subset.design}); ell_2 distortion "
                     f"{subset.distortion:.4g}; wrote {args.out}\n")
    return 0
