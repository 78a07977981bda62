"""``equisample rake DATA --margins MARGINS --out WEIGHTS``: rake a table to margins from a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import MarginError, ValidationError
from estimators.weighting._margins import parse_targets
from estimators.weighting._raking import rake
from estimators.weighting._result import WeightingResult
from sampling.cli._io import (
    TABLE_SUFFIXES,
    Outputs,
    check_out_path,
    check_report_path,
    read_table,
    say,
)
from sampling.cli._options import add_flag, add_id, add_out, add_quiet, add_weights

__all__ = ["JOINT_SEPARATOR", "read_margins", "register", "result_report", "string_columns",
           "weights_table"]

JOINT_SEPARATOR = "|"
"""In margin files, a joint margin is written ``age|sex`` with categories ``18-24|female``."""


def _split(value: Any) -> Any:
    if isinstance(value, str) and JOINT_SEPARATOR in value:
        return tuple(part.strip() for part in value.split(JOINT_SEPARATOR))
    return value


def _as_label(value: Any) -> Any:
    """Category labels from files are compared as text (``1`` and ``"1"`` are the same)."""
    if isinstance(value, tuple):
        return tuple(_as_label(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _yaml_load(text: str) -> Any:
    """``yaml.safe_load`` without YAML 1.1's yes/no/on/off -> boolean rule (``Yes`` stays text)."""
    import yaml

    class _TextLoader(yaml.SafeLoader):
        pass

    _TextLoader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return yaml.load(text, Loader=_TextLoader)


def _from_records(records: list[Any], path: Path, parameter: str) -> pd.DataFrame:
    not_records = [r for r in records if not isinstance(r, dict)]
    if not_records:
        fail(MarginError, parameter,
             "a list of margins must hold {variable, category, target} records",
             bad=not_records, fix=f"Fix {path} or write {{variable: {{category: target}}}}.")
    return pd.DataFrame.from_records(records)


def read_margins(path: str | Path, parameter: str = "margins") -> dict[Any, Any]:
    """Read margins from a long CSV/Parquet table (variable, category, target), YAML or JSON.

    YAML/JSON hold either ``{variable: {category: target}}`` or a list of
    ``{variable, category, target}`` records. Joint margins are written ``age|sex`` with
    categories ``18-24|female``. Numeric totals (``calibrate``) have an empty category (tables) or
    a number instead of a mapping (YAML/JSON).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        if not p.is_file():
            fail(ValidationError, parameter, "file does not exist", bad=[str(p)])
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            fail(ValidationError, parameter, f"is not UTF-8 text (byte {exc.start}: "
                 f"{exc.object[exc.start:exc.start + 1]!r})", bad=[str(p)],
                 fix="Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT).")
        try:
            if suffix == ".json":
                raw = json.loads(text)
            else:
                raw = _yaml_load(text)
        except ImportError:
            fail(ValidationError, parameter, "reading YAML needs pyyaml", bad=[str(p)],
                 fix='pip install "equisample[io]" or use JSON/CSV.')
        except Exception as exc:  # parse errors of either library
            detail = " ".join(str(exc).split())  # parser messages span lines; keep one
            fail(ValidationError, parameter, f"could not be parsed ({detail})", bad=[str(p)])
        if isinstance(raw, list):
            frame = _from_records(raw, p, parameter)
        elif isinstance(raw, dict):
            out: dict[Any, Any] = {}
            for key, spec in raw.items():
                if isinstance(spec, dict):
                    out[_split(key)] = {_as_label(_split(c)): t for c, t in spec.items()}
                else:
                    out[_split(key)] = spec
            return out
        else:
            fail(MarginError, parameter, "must hold a mapping or a list of records",
                 bad=[type(raw).__name__])
    else:
        if suffix not in TABLE_SUFFIXES:
            fail(ValidationError, parameter,
                 f"file type must be one of {', '.join((*TABLE_SUFFIXES, '.yaml', '.yml', '.json'))}",
                 bad=[str(p)], fix="Rename the file or convert it.")
        frame = read_table(p, parameter)
    missing = [c for c in ("variable", "category", "target") if c not in frame.columns]
    if missing:
        fail(MarginError, parameter, "a margins table needs the columns variable, category, target",
             bad=missing, fix=f"It has {list(frame.columns)}.")
    frame = frame.assign(
        variable=[_split(v) for v in frame["variable"]],
        category=[
            None if (not isinstance(c, tuple) and pd.isna(c)) else _as_label(_split(c))
            for c in frame["category"]
        ],
    )
    return _frame_to_dict(frame, parameter)


def _frame_to_dict(frame: pd.DataFrame, parameter: str = "margins") -> dict[Any, Any]:
    parsed = parse_targets(frame, parameter=parameter, allow_numeric=True)
    out: dict[Any, Any] = {}
    for m in parsed.margins:
        key = m.columns if len(m.columns) > 1 else m.columns[0]
        out[key] = dict(zip(m.labels, m.values.tolist()))
    out.update(dict(parsed.numeric))
    return out


def string_columns(frame: pd.DataFrame, columns: list[Any]) -> pd.DataFrame:
    """A copy of ``frame`` whose ``columns`` hold text labels (missing values stay missing)."""
    out = frame.copy(deep=False)
    for c in columns:
        if c not in out.columns:
            continue
        col = out[c]
        if pd.api.types.is_float_dtype(col) and np.all(np.isnan(col) | (np.mod(col, 1) == 0)):
            col = col.astype("Int64")
        out[c] = col.astype("string").astype(object).where(col.notna(), None)
    return out


def margin_columns(margins: dict[Any, Any]) -> list[Any]:
    cols: list[Any] = []
    for key, spec in margins.items():
        if isinstance(spec, dict):
            cols += [c for c in (key if isinstance(key, tuple) else (key,)) if c not in cols]
    return cols


def result_report(fit: WeightingResult) -> dict[str, Any]:
    """The JSON report of a weighting fit."""
    diag = fit.diagnostics()
    diag["category"] = diag["category"].map(
        lambda c: JOINT_SEPARATOR.join(map(str, c)) if isinstance(c, tuple) else str(c)
    )
    lo, hi = fit.g_range
    return {
        "method": fit.method,
        "converged": fit.converged,
        "n_iter": fit.n_iter,
        "max_margin_error": fit.max_margin_error,
        "tol": fit.tol,
        "rows": len(fit.weights),
        "rows_dropped": [str(x) for x in fit.dropped_rows],
        "categories_dropped": [[m, str(c)] for m, c in fit.dropped_categories],
        "design_effect": fit.design_effect,
        "effective_sample_size": fit.effective_sample_size,
        "weight_ratio": fit.weight_ratio,
        "g_range": [lo, hi],
        "weight_quantiles": {str(k): float(v) for k, v in fit.weight_quantiles.items()},
        "diagnostics": diag.to_dict(orient="records"),
    }


def weights_table(fit: WeightingResult, data: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """DATA with the weight column added, or only --id and the weight."""
    name = args.weight_column
    if args.id:
        if args.id not in data.columns:
            fail(ValidationError, "--id", "names a column that is not in the data", bad=[args.id],
                 fix=f"Columns: {list(data.columns)[:10]}.")
        out = pd.DataFrame({args.id: data[args.id].to_numpy(), name: fit.weights.to_numpy()})
    else:
        out = data.copy(deep=False)
        if name in out.columns:
            fail(ValidationError, "--weight-column", "already is a column of the data", bad=[name],
                 fix="Choose another name with --weight-column.")
        out[name] = fit.weights.to_numpy()
    return out


def check_bounds(bounds: list[float] | None) -> tuple[float, float] | None:
    if bounds is None:
        return None
    if len(bounds) != 2:
        fail(ValidationError, "--bounds", "needs two numbers, LOWER,UPPER", bad=bounds,
             fix="e.g. --bounds 0.3,3")
    return (bounds[0], bounds[1])


def summary_lines(command: str, fit: WeightingResult, data: pd.DataFrame, args: argparse.Namespace,
                  targets: dict[Any, Any], source: str, written: list[Any]) -> list[str]:
    """The closing summary of rake and calibrate."""
    margins = sum(1 for spec in targets.values() if isinstance(spec, dict))
    numeric = len(targets) - margins
    cells = sum(len(spec) for spec in targets.values() if isinstance(spec, dict))
    what = f"{margins} margins ({cells} categories)" + (f" and {numeric} numeric totals"
                                                         if numeric else "")
    lo, hi = fit.g_range
    w = fit.weights.to_numpy()
    lines = [
        f"equisample {command}: read {len(data)} rows from {args.data}",
        f"  and {what} from {source}",
        f"  {fit.method} fit in {fit.n_iter} iterations, max relative error "
        f"{fit.max_margin_error:.2g} (tolerance {fit.tol:.2g})",
        f"  weights {w.min():.4g} to {w.max():.4g} (g = weight / base weight in [{lo:.3g}, "
        f"{hi:.3g}])",
        f"  Kish design effect {fit.design_effect:.3g}, effective n "
        f"{fit.effective_sample_size:.0f} of {len(w)}",
    ]
    if len(fit.dropped_rows) or len(fit.dropped_categories):
        lines.append(f"  left out: {len(fit.dropped_rows)} rows, {len(fit.dropped_categories)} "
                     "target categories (see --on-missing / --on-empty-category)")
    lines.append("  wrote " + ", ".join(map(str, written)))
    return lines


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="sample table (CSV or Parquet), one row per respondent/rating")
    add_out(parser, "weights file to write (CSV, Parquet or JSON)", required=True)
    add_flag(parser, "--report-out", aliases=["--report"], metavar="FILE.json",
             help="also write a JSON report (convergence, diagnostics, design effect)")
    add_weights(parser, help="column of base (design) weights (default: all 1)")
    add_id(parser, help="person id column: write only it and the weight (default: all columns)")
    parser.add_argument("--weight-column", default="weight",
                        help="name of the weight column written (default weight)")
    parser.add_argument("--population-total", type=float, help="population size shares refer to")
    parser.add_argument("--on-missing", choices=("raise", "level", "drop"), default="raise",
                        help="missing values in a weighting column (default: raise)")
    parser.add_argument("--on-empty-category", choices=("raise", "drop"), default="raise",
                        help="target categories with no sample (default: raise)")
    add_flag(parser, "--bounds", action="list", item_type=float, nargs="+", metavar="LOWER,UPPER",
             help="bounds on g = weight / base weight, e.g. 0.3,3")
    add_quiet(parser)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rake",
        help="rake a sample to population margins",
        description="Rake a sample to population margins by iterative proportional fitting. "
        "MARGINS is a long table (CSV/Parquet with columns variable, category, target) or "
        "YAML/JSON ({variable: {category: target}}); targets are shares or counts; joint margins "
        f"are written 'age{JOINT_SEPARATOR}sex' with categories '18-24{JOINT_SEPARATOR}female'.",
    )
    add_common(parser)
    parser.add_argument("--margins", required=True, help="margins file (CSV, Parquet, YAML, JSON)")
    parser.add_argument("--tol", type=float, default=1e-10,
                        help="max relative margin error to stop at (default 1e-10)")
    parser.add_argument("--max-iter", type=int, default=1000, help="max sweeps (default 1000)")
    parser.set_defaults(func=run)


PARAMETERS = {"data": "DATA", "margins": "--margins", "targets": "--margins"}


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    check_report_path(args.report_out, "--report-out")
    bounds = check_bounds(args.bounds)
    data = read_table(args.data, "DATA")
    margins = read_margins(args.margins, "--margins")
    frame = string_columns(data, margin_columns(margins))
    fit = rake(
        frame,
        margins,
        weights=args.weights,
        tol=args.tol,
        max_iter=args.max_iter,
        bounds=bounds,
        population_total=args.population_total,
        on_missing=args.on_missing,
        on_empty_category=args.on_empty_category,
    )
    outputs = Outputs()
    outputs.table(weights_table(fit, data, args), args.out)
    if args.report_out:
        outputs.json(result_report(fit), args.report_out)
    written = outputs.commit()
    say(args, *summary_lines("rake", fit, data, args, margins, args.margins, written))
    return 0
