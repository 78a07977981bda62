"""The ``equisample`` command line (also ``python -m sampling``).

Each subcommand lives in its own module ``sampling.cli._<name>`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``. The registry below
imports a command's module only when that command runs (``equisample --help`` imports none), so
starting one command never pays for the others.

Exit status: 0 success, 2 bad input (any package error, unreadable file or bad flag: one
``error:`` line on standard error naming flags, no traceback), 1 internal error (a bug: one line;
``EQUISAMPLE_DEBUG=1`` shows the traceback). Warnings print as one line each. Summaries and
progress go to standard error; ``--quiet`` silences them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from estimators.errors import EquisampleError
from sampling.cli._options import check_required

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
    parser.epilog = ("Run 'equisample COMMAND --help' for a command's flags. Exit status: 0 "
                     "success, 2 bad input (one 'error:' line naming the flag), 1 internal error. "
                     "Summaries and progress go to standard error; --quiet silences them.")
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


def _flag_names(parser: argparse.ArgumentParser, command: str | None) -> dict[str, str]:
    """Library parameter name -> the flag that sets it (for messages raised by the package)."""
    names: dict[str, str] = {}
    sub = _subparser(parser, command)
    if sub is not None:
        for action in sub._actions:
            if action.option_strings and action.help is not argparse.SUPPRESS:
                names.setdefault(action.dest, action.option_strings[0])
    if command in COMMANDS:
        names.update(getattr(COMMANDS[command][1](), "PARAMETERS", {}))
    return names


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


_NOTHING = re.compile(r";? got 1 value: None\.?")


def translate(message: str, flags: dict[str, str]) -> str:
    """A package message in command-line words: ``minimum=1`` -> ``--minimum 1``, ``m:`` ->
    ``--n:``, on one line, without "got 1 value: None"."""
    text = " ".join(str(message).split())
    text = _NOTHING.sub(".", text).replace("..", ".")

    def keyword(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in flags:
            return match.group(0)
        rest = match.string[match.end():match.end() + 1]
        return flags[name] if rest in ("", " ", ".", ",", ";", ")") else f"{flags[name]} "

    def backticked(match: re.Match[str]) -> str:
        name = match.group(1)
        return flags.get(name, match.group(0))

    text = re.sub(r"(?<![\w.-])([A-Za-z_][A-Za-z0-9_]*)=(?!=)(\s?)", keyword, text)
    text = re.sub(r"`([A-Za-z_][A-Za-z0-9_]*)`", backticked, text)
    text = re.sub(r"(--[\w-]+) \(([-+.\deE]+, *[-+.\deE]+)\)",
                  lambda m: f"{m.group(1)} {m.group(2).replace(' ', '')}", text)
    head = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\]| \([^)]*\))?:", text)
    if head and head.group(1) in flags:
        text = flags[head.group(1)] + text[len(head.group(1)):]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 internal error)."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = _requested(words)
    parser = build_parser(command) if command is not None else build_parser("")
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    check_required(args)
    name = f"equisample {args.command}"
    flags = _flag_names(parser, command)
    previous = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        sys.stderr.write(f"{name}: warning: {translate(str(message), flags)}\n")

    warnings.showwarning = show
    try:
        return int(args.func(args) or 0)
    except (EquisampleError, OSError, UnicodeError) as exc:
        sys.stderr.write(f"{name}: error: {translate(str(exc), flags)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{name}: interrupted; nothing was written\n")
        return 130
    except Exception as exc:  # a bug, not a user mistake: one line, traceback on request
        if os.environ.get("EQUISAMPLE_DEBUG"):
            raise
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(f"{name}: internal error: {detail} (please report it; set "
                         "EQUISAMPLE_DEBUG=1 to see the traceback)\n")
        return 1
    finally:
        warnings.showwarning = previous
