"""File input and output for the command line: CSV or Parquet in; CSV, Parquet or JSON out, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ValidationError

__all__ = ["atomic_write", "check_report_path", "read_table", "write_json", "write_table", "write_text"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _suffix(path: Path, parameter: str, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        fail(
            ValidationError,
            parameter,
            f"file type must be one of {', '.join(allowed)}",
            bad=[str(path)],
            fix="Rename the file or convert it.",
        )
    return suffix


def check_report_path(path: str | os.PathLike[str] | None, parameter: str = "--report") -> None:
    """A JSON report path must end in ``.json`` (checked before any work is done)."""
    if path is not None:
        _suffix(Path(path), parameter, (".json",))


def read_table(path: str | os.PathLike[str], parameter: str = "data", *,
               allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame (a clear error when missing, unreadable or,
    unless ``allow_empty``, without rows)."""
    p = Path(path)
    suffix = _suffix(p, parameter, TABLE_SUFFIXES)
    if not p.is_file():
        fail(ValidationError, parameter, "file does not exist", bad=[str(p)])
    try:
        table = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
    except ImportError as exc:
        fail(ValidationError, parameter, f"reading Parquet needs pyarrow ({exc})", bad=[str(p)],
             fix='pip install "equisample[io]"')
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        fail(ValidationError, parameter, f"could not be read ({exc})", bad=[str(p)])
    if len(table) == 0 and not allow_empty:
        fail(ValidationError, parameter, "the table has a header but no rows", bad=[str(p)],
             fix="Check that the file is the one you meant and that it was written completely.")
    return table


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp)`` on a temporary file beside ``path``, then rename it into place.

    A crash or error leaves any previous file at ``path`` untouched and no partial file behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        # mkstemp creates the file owner-only (0600); give it the mode a plain open() would
        # (or keep the mode of the file it replaces).
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write ``frame`` as CSV, Parquet or JSON (records), chosen by the file suffix, atomically."""
    p = Path(path)
    suffix = _suffix(p, "out", (*TABLE_SUFFIXES, ".json"))
    if suffix == ".csv":
        return atomic_write(p, lambda tmp: frame.to_csv(tmp, index=index))
    if suffix == ".json":
        data = frame.reset_index() if index else frame
        return atomic_write(p, lambda tmp: data.to_json(tmp, orient="records", indent=2))
    return atomic_write(p, lambda tmp: frame.to_parquet(tmp, index=index))


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write a JSON document atomically."""
    text = json.dumps(obj, indent=2, default=_json_default)
    return atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def check_out_path(path: str | os.PathLike[str] | None, flag: str = "--out", *,
                   allowed: tuple[str, ...] = (*TABLE_SUFFIXES, ".json")) -> None:
    """Check an output path's file type before any work is done."""
    if path is not None:
        _suffix(Path(path), flag, allowed)


class Outputs:
    """Files a command writes, held until the command has succeeded, then written together.

    Each file is first written to a temporary file beside its target; only when every one was
    written are they renamed into place. An error (in the command or while writing) leaves no new
    or partial file behind and every earlier file untouched.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Callable[[Path], None]]] = []

    def table(self, frame: pd.DataFrame, path: str | os.PathLike[str], flag: str = "--out", *,
              index: bool = False) -> None:
        p = Path(path)
        suffix = _suffix(p, flag, (*TABLE_SUFFIXES, ".json"))
        if suffix == ".csv":
            self._pending.append((p, lambda tmp: frame.to_csv(tmp, index=index)))
        elif suffix == ".json":
            data = frame.reset_index() if index else frame
            self._pending.append((p, lambda tmp: data.to_json(tmp, orient="records", indent=2)))
        else:
            self._pending.append((p, lambda tmp: frame.to_parquet(tmp, index=index)))

    def json(self, obj: Any, path: str | os.PathLike[str], flag: str = "--report-out") -> None:
        p = Path(path)
        _suffix(p, flag, (".json",))
        text = json.dumps(obj, indent=2, default=_json_default)
        self._pending.append((p, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8")))

    def commit(self) -> list[Path]:
        """Write every pending file; returns the paths written."""
        staged: list[tuple[Path, Path]] = []
        try:
            for target, writer in self._pending:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
                os.close(fd)
                staged.append((Path(name), target))
                try:
                    writer(Path(name))
                except ImportError as exc:
                    fail(ValidationError, "--out", f"writing Parquet needs pyarrow ({exc})",
                         bad=[str(target)], fix='pip install "equisample[io]" or write CSV.')
                try:
                    mode = target.stat().st_mode & 0o777
                except FileNotFoundError:
                    mode = 0o666 & ~_current_umask()
                os.chmod(name, mode)
            for tmp, target in staged:
                os.replace(tmp, target)
        finally:
            for tmp, _ in staged:
                if tmp.exists():
                    tmp.unlink()
        written = [target for target, _ in self._pending]
        self._pending = []
        return written


def say(args: Any, *lines: str) -> None:
    """Write summary lines on standard error (nothing with ``--quiet``)."""
    if getattr(args, "quiet", False):
        return
    import sys

    for line in lines:
        sys.stderr.write(f"{line}\n")


WIDTH = 100
"""Tables printed on the terminal fit this many columns."""


def format_table(frame: pd.DataFrame, *, max_rows: int = 12, width: int = WIDTH,
                 written_to: str | os.PathLike[str] | None = None, digits: int = 4) -> str:
    """``frame`` as text no wider than ``width``: leading columns that fit and the top rows.

    What is left out is said in a last line (and where the full table is, with ``written_to``).
    """
    shown = frame.head(max_rows)
    columns = list(frame.columns)

    def render(cols: list[Any]) -> str:
        return shown[cols].to_string(index=False, float_format=lambda x: f"{x:.{digits}g}",
                                     max_colwidth=24)

    keep = list(columns)
    text = render(keep)
    while len(keep) > 1 and max(len(line) for line in text.splitlines()) > width:
        keep.pop()
        text = render(keep)
    notes = []
    if len(frame) > len(shown):
        extra = len(frame) - len(shown)
        notes.append(f"{extra} more row{'s' if extra > 1 else ''}")
    if len(keep) < len(columns):
        hidden = columns[len(keep):]
        names = ", ".join(map(str, hidden[:4])) + (", ..." if len(hidden) > 4 else "")
        notes.append(f"{len(hidden)} more column{'s' if len(hidden) > 1 else ''} ({names})")
    if notes:
        where = f" in {written_to}" if written_to is not None else " (use --out to keep them)"
        text += f"\n... {' and '.join(notes)}{where}"[: width + 1]
    return text
