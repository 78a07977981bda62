"""The ``equisample`` command line (also ``python -m sampling``).

Each subcommand lives in its own module ``sampling.cli._<name>`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``. The registry below
imports a command's module only when that command runs (``equisample --help`` imports none), so
starting one command never pays for the others. Any package error is printed as one line on
standard error and the process exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from estimators.errors import EquisampleError

__all__ = ["COMMANDS", "build_parser", "main"]


def _adjust() -> ModuleType:
    from sampling.cli import _adjust as module

    return module


def _calibrate() -> ModuleType:
    from sampling.cli import _calibrate as module

    return module


def _demo() -> ModuleType:
    from sampling.cli import _demo as module

    return module


def _estimate() -> ModuleType:
    from sampling.cli import _estimate as module

    return module


def _plan() -> ModuleType:
    from sampling.cli import _plan as module

    return module


def _quotas() -> ModuleType:
    from sampling.cli import _quotas as module

    return module


def _rake() -> ModuleType:
    from sampling.cli import _rake as module

    return module


def _select() -> ModuleType:
    from sampling.cli import _select as module

    return module


def _simulate() -> ModuleType:
    from sampling.cli import _simulate as module

    return module


def _track() -> ModuleType:
    from sampling.cli import _track as module

    return module


def _welfare() -> ModuleType:
    from sampling.cli import _welfare as module

    return module


# name -> (one-line summary shown by ``equisample --help``, loader of the command's module)
COMMANDS: dict[str, tuple[str, Callable[[], ModuleType]]] = {
    "adjust": ("weight a sample to look like a unit-level reference sample", _adjust),
    "calibrate": ("calibrate weights to margins and numeric totals (linear, raking, logit)", _calibrate),
    "demo": ("run the whole loop on embedded data and write a report folder", _demo),
    "estimate": ("estimates with design-based standard errors", _estimate),
    "rake": ("rake a sample to population margins", _rake),
    "quotas": ("design integer recruitment quotas from census tables", _quotas),
    "select": ("choose a weighted subset of rows (leverage / Lewis / sensitivity sampling)", _select),
    "simulate": ("compare sampling policies by simulation (welfare, bias, RMSE, coverage, cost)",
                 _simulate),
    "track": ("accept or reject arrivals against quotas", _track),
    "welfare": ("welfare of each option from PRISM files or long-format ratings", _welfare),
    "plan": ("fit group learning curves to pilot errors and allocate a recruitment budget", _plan),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser.

    With ``command`` (a registered name), only that command's module is imported and its full
    parser added; the others appear with their summary only. Without it, every command is loaded.
    """
    parser = argparse.ArgumentParser(
        prog="equisample",
        description="Plan recruitment, reweight collected feedback, estimate with honest "
        "standard errors, and evaluate who decides.",
    )
    parser.add_argument("--version", action="version", version="equisample 0.1.0")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, load) in COMMANDS.items():
        if command is None or name == command:
            load().register(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def _requested(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if any (the first registered word)."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = _requested(words)
    parser = build_parser(command) if command is not None else build_parser("")
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except EquisampleError as exc:
        sys.stderr.write(f"equisample {args.command}: error: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"equisample {args.command}: error: {exc}\n")
        return 2
