"""The ``equisample`` command line (also ``python -m sampling``).

Each subcommand lives in its own module ``sampling._cli_<name>`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``. Any package error
is printed as one line on standard error and the process exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from estimators._errors import EquisampleError

__all__ = ["build_parser", "main"]

# One line per subcommand module; each adds its own parser.
COMMAND_MODULES: tuple[str, ...] = (
    "calibrate",
    "demo",
    "estimate",
    "rake",
    "quotas",
    "select",
    "simulate",
    "track",
    "welfare",
    "plan",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="equisample",
        description="Plan recruitment, reweight collected feedback, estimate with honest "
        "standard errors, and evaluate who decides.",
    )
    parser.add_argument("--version", action="version", version="equisample 0.1.0")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"sampling._cli_{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
