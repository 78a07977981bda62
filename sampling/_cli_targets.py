"""Reading weighting targets (margins / totals) from files for the command line.

Three formats, chosen by the file suffix:

* ``.csv``: a long table with columns ``variable``, ``category``, ``target``; a numeric total has
  an empty ``category``; a joint margin writes its columns and each cell's labels joined by
  ``|`` (``variable = "age|sex"``, ``category = "18-24|female"``);
* ``.json`` / ``.yaml`` / ``.yml``: a mapping ``{variable: {category: target}}`` with numeric
  totals as ``{variable: number}`` and joint margins keyed ``"age|sex"`` with cells ``"18-24|female"``.

Category labels in a file are text, while data columns may hold numbers or booleans; each label
is converted to the type of its data column (``"1"`` matches the integer 1), so the package's
margin checks compare like with like. YAML is read without its yes/no -> boolean conversion, so
``Yes`` stays the text ``"Yes"``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators._errors import MarginError, ValidationError
from estimators._validation import fail

__all__ = ["JOINT_SEPARATOR", "read_targets"]

JOINT_SEPARATOR = "|"
TARGET_SUFFIXES = (".csv", ".json", ".yaml", ".yml")


def _load_yaml(path: Path, parameter: str) -> Any:
    try:
        import yaml
    except ImportError:
        fail(
            ValidationError,
            parameter,
            "reading YAML needs pyyaml",
            bad=[str(path)],
            fix='pip install "equisample[io]", or give the targets as CSV or JSON.',
        )

    class _TextLoader(yaml.SafeLoader):
        """SafeLoader without the YAML 1.1 yes/no/on/off -> boolean rule."""

    _TextLoader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)
    except yaml.YAMLError as exc:
        fail(ValidationError, parameter, f"is not valid YAML ({exc})", bad=[str(path)])


def _split(value: Any) -> Any:
    """``"a|b"`` -> ``("a", "b")``; anything else unchanged."""
    if isinstance(value, str) and JOINT_SEPARATOR in value:
        return tuple(part.strip() for part in value.split(JOINT_SEPARATOR))
    return value


def _from_csv(path: Path, parameter: str) -> dict[Any, Any]:
    try:
        frame = pd.read_csv(path, dtype={"variable": str, "category": str}, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        fail(ValidationError, parameter, f"could not be read ({exc})", bad=[str(path)])
    required = ["variable", "category", "target"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        fail(
            MarginError,
            parameter,
            "a targets CSV needs the columns variable, category, target",
            bad=missing,
            fix=f"It has {list(frame.columns)}; rename the columns.",
        )
    out: dict[Any, Any] = {}
    for variable, category, target in frame[required].itertuples(index=False, name=None):
        key = _split(str(variable).strip())
        try:
            value = float(target)
        except (TypeError, ValueError):
            fail(MarginError, parameter, f"target of {variable!r} is not a number", bad=[target])
        if str(category).strip() == "":
            if key in out:
                fail(MarginError, parameter, "a numeric total is given twice or mixed with categories",
                     bad=[variable])
            out[key] = value
            continue
        inner = out.setdefault(key, {})
        if not isinstance(inner, dict):
            fail(MarginError, parameter, "a numeric total is mixed with categories", bad=[variable])
        label = _split(str(category).strip())
        if label in inner:
            fail(MarginError, parameter, f"margin {variable!r} repeats categories", bad=[category])
        inner[label] = value
    return out


def _from_mapping(raw: Any, path: Path, parameter: str) -> dict[Any, Any]:
    if not isinstance(raw, Mapping):
        fail(
            MarginError,
            parameter,
            "must hold a mapping {variable: {category: target}} (numeric totals: {variable: number})",
            bad=[type(raw).__name__],
            fix=f"Check {path}.",
        )
    out: dict[Any, Any] = {}
    for variable, spec in raw.items():
        key = _split(variable)
        if isinstance(spec, Mapping):
            out[key] = {_split(k): v for k, v in spec.items()}
        else:
            out[key] = spec
    return out


def _coerce_label(label: Any, dtype: Any) -> Any:
    """Convert one text label to the type of the data column it must match."""
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    kind = getattr(dtype, "kind", "O")
    text = str(label)
    try:
        if kind in "iu":
            number = float(text)
            return int(number) if number.is_integer() else label
        if kind == "f":
            return float(text)
        if kind == "b":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            return label
    except ValueError:
        return label
    if kind in "OUS" or pd.api.types.is_string_dtype(dtype):
        if isinstance(label, float) and math.isfinite(label) and label.is_integer():
            return str(int(label))
        return text
    return label


def _coerce(targets: dict[Any, Any], frame: pd.DataFrame) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, spec in targets.items():
        if not isinstance(spec, Mapping):
            out[key] = spec
            continue
        columns: tuple[Hashable, ...] = key if isinstance(key, tuple) else (key,)
        dtypes = [frame[c].dtype if c in frame.columns else np.dtype(object) for c in columns]
        inner: dict[Any, Any] = {}
        for label, value in spec.items():
            if isinstance(key, tuple) and isinstance(label, tuple) and len(label) == len(columns):
                new_label: Any = tuple(_coerce_label(v, t) for v, t in zip(label, dtypes))
            else:
                new_label = _coerce_label(label, dtypes[0]) if not isinstance(key, tuple) else label
            inner[new_label] = value
        out[key] = inner
    return out


def read_targets(
    path: str | os.PathLike[str], frame: pd.DataFrame, parameter: str = "--totals"
) -> dict[Any, Any]:
    """Read margins / totals from a CSV, JSON or YAML file into the package's dict form.

    Labels are converted to the types of ``frame``'s columns (see the module notes).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TARGET_SUFFIXES:
        fail(ValidationError, parameter, f"file type must be one of {', '.join(TARGET_SUFFIXES)}",
             bad=[str(p)])
    if not p.is_file():
        fail(ValidationError, parameter, "file does not exist", bad=[str(p)])
    if suffix == ".csv":
        targets = _from_csv(p, parameter)
    elif suffix == ".json":
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            fail(ValidationError, parameter, f"is not valid JSON ({exc})", bad=[str(p)])
        targets = _from_mapping(raw, p, parameter)
    else:
        targets = _from_mapping(_load_yaml(p, parameter), p, parameter)
    if not targets:
        fail(MarginError, parameter, "holds no targets", bad=[str(p)])
    return _coerce(targets, frame)
