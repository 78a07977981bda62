"""The command line's shared vocabulary: one flag per concept, one list convention, renamed flags.

Every command adds its shared flags through the functions below, so the same concept always has
the same spelling (see ``docs/cli.md``). Each shared flag is tagged with its concept
(``action.concept``), which the tests use to check that no concept has two spellings.

Lists are comma-separated and the flag may be repeated: ``--by age,sex`` is ``--by age --by sex``.
Old spellings stay for one release as hidden aliases: they work, print one warning line naming the
new flag, and do not appear in ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "CONCEPTS",
    "ListAction",
    "add_by",
    "add_confidence_level",
    "add_deprecated",
    "add_flag",
    "add_id",
    "add_n",
    "add_out",
    "add_quiet",
    "add_reps",
    "add_seed",
    "add_strata_psu",
    "add_weights",
    "check_required",
    "progress",
    "split_list",
]

CONCEPTS: dict[str, str] = {
    "person id column": "--id",
    "weights column": "--weights",
    "group column": "--by",
    "sample size": "--n",
    "replicate count": "--reps",
    "random seed": "--seed",
    "main output file": "--out",
    "quiet": "--quiet",
    "confidence level": "--confidence-level",
    "strata column": "--strata",
    "cluster (PSU) column": "--psu",
}
"""Concept -> the one flag that spells it in every command."""


def split_list(values: Iterable[str] | str | None) -> list[str]:
    """``["a,b", "c"]`` or ``"a,b,c"`` -> ``["a", "b", "c"]`` (blanks dropped)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


class ListAction(argparse.Action):
    """A comma-separated list; repeating the flag extends it (``--y a,b --y c``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, item_type: Callable[[str], Any] = str,
                 **kwargs: Any) -> None:
        self.item_type = item_type
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        words = [values] if isinstance(values, str) else list(values)
        if len(words) > 1:
            _warn(f"{option_string} takes a comma-separated list; write {option_string} "
                  f"{','.join(words)} (space-separated values will stop working in the next "
                  "release)")
        items = []
        for part in split_list(words):
            try:
                items.append(self.item_type(part))
            except (TypeError, ValueError):
                parser.error(f"argument {self.option_strings[0]}: invalid value {part!r} "
                             f"(expected a comma-separated list of {_type_name(self.item_type)})")
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:
            current = []
        setattr(namespace, self.dest, [*current, *items])


def _type_name(kind: Callable[[str], Any]) -> str:
    return {float: "numbers", int: "whole numbers"}.get(kind, "names")  # type: ignore[call-overload]


def _warn(text: str) -> None:
    sys.stderr.write(f"equisample: warning: {text}\n")


class _Renamed(argparse.Action):
    """A hidden old spelling: warns once, naming the new flag, then acts as the new flag."""

    def __init__(self, option_strings: Sequence[str], dest: str, target: argparse.Action,
                 **kwargs: Any) -> None:
        self.target = target
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        new = self.target.option_strings[0] if self.target.option_strings else self.target.dest
        _warn(f"{option_string} is now {new}; the old name will be removed in the next release")
        self.target(parser, namespace, values, new)


def add_flag(parser: Any, flag: str, *, aliases: Sequence[str] = (), concept: str | None = None,
             required: bool = False, **kwargs: Any) -> argparse.Action:
    """Add ``flag`` (plus hidden, warning ``aliases``); returns its action.

    ``required`` is checked after parsing (:func:`check_required`) so that an old spelling also
    satisfies it.
    """
    if kwargs.get("action") == "list":
        kwargs["action"] = ListAction
        kwargs.setdefault("metavar", "A,B")
    action = parser.add_argument(flag, required=required and not aliases, **kwargs)
    action.concept = concept  # type: ignore[attr-defined]
    if required and aliases:
        _required(parser).append(action)
    if aliases:
        extra: dict[str, Any] = {"nargs": action.nargs}
        if action.nargs == 0:
            pass
        elif not isinstance(action, ListAction):
            extra.update(type=action.type, choices=action.choices)
        for old in aliases:
            parser.add_argument(old, dest=action.dest, action=_Renamed, target=action,
                                help=argparse.SUPPRESS, default=argparse.SUPPRESS, **extra)
    return action


class _Deprecated(argparse.Action):
    """A hidden old flag with no one-to-one new spelling: stores its value and prints ``note``."""

    def __init__(self, option_strings: Sequence[str], dest: str, note: str, **kwargs: Any) -> None:
        self.note = note
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        _warn(f"{option_string} {self.note}; the old flag will be removed in the next release")
        setattr(namespace, self.dest, values)


def add_deprecated(parser: Any, flag: str, *, note: str, **kwargs: Any) -> argparse.Action:
    """A hidden old flag (``note`` says what to write instead), stored under its own name."""
    return parser.add_argument(flag, action=_Deprecated, note=note, help=argparse.SUPPRESS,
                               **kwargs)


def _required(parser: Any) -> list[argparse.Action]:
    # argparse sub-parsers and mutually exclusive groups share the container's parser
    owner = getattr(parser, "_container", parser)
    if not hasattr(owner, "_equisample_required"):
        owner._equisample_required = []
        owner.set_defaults(_parser=owner)
    return owner._equisample_required  # type: ignore[no-any-return]


def check_required(args: argparse.Namespace) -> None:
    """After parsing: the flags added with ``required=True`` were given (new or old spelling)."""
    parser = getattr(args, "_parser", None)
    if parser is None:
        return
    missing = [a.option_strings[0] for a in parser._equisample_required
               if getattr(args, a.dest, None) in (None, [])]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")


# ----------------------------------------------------------------------------- the shared flags
def add_quiet(parser: Any) -> argparse.Action:
    return add_flag(parser, "--quiet", concept="quiet", action="store_true",
                    help="print no summary or progress (warnings and errors still print)")


def add_out(parser: Any, help: str, *, required: bool = False, default: Any = None,
            aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--out", concept="main output file", required=required,
                    default=default, metavar="FILE", help=help, aliases=aliases)


def add_seed(parser: Any, *, default: int | None = None, help: str | None = None) -> argparse.Action:
    text = help or "random seed (default: a fresh random state)" if default is None else \
        help or f"random seed (default {default})"
    return add_flag(parser, "--seed", concept="random seed", type=int, default=default, help=text)


def add_reps(parser: Any, *, default: int, help: str, aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--reps", concept="replicate count", type=int, default=default,
                    metavar="R", help=help, aliases=aliases)


def add_n(parser: Any, *, help: str, required: bool = False, default: int | None = None,
          aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--n", concept="sample size", type=int, default=default,
                    required=required, metavar="N", help=help, aliases=aliases)


def add_id(parser: Any, *, help: str, default: str | None = None,
           aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--id", concept="person id column", default=default, metavar="COLUMN",
                    help=help, aliases=aliases)


def add_weights(parser: Any, *, help: str = "column of survey (base) weights (default: all 1)",
                aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--weights", concept="weights column", metavar="COLUMN", help=help,
                    aliases=aliases)


def add_by(parser: Any, *, help: str, default: Any = None,
           aliases: Sequence[str] = ()) -> argparse.Action:
    return add_flag(parser, "--by", concept="group column", action="list", default=default,
                    metavar="COLUMN[,COLUMN]", help=help, aliases=aliases)


def add_strata_psu(parser: Any, *, strata_help: str = "stratum column(s)",
                   psu_help: str = "cluster (PSU) column, e.g. the person id when people rate "
                   "many items") -> None:
    add_flag(parser, "--strata", concept="strata column", action="list",
             metavar="COLUMN[,COLUMN]", help=strata_help)
    add_flag(parser, "--psu", concept="cluster (PSU) column", metavar="COLUMN", help=psu_help)


def add_confidence_level(parser: Any) -> argparse.Action:
    return add_flag(parser, "--confidence-level", concept="confidence level", type=float,
                    default=0.95, metavar="LEVEL", help="for the intervals (default 0.95)")


# ----------------------------------------------------------------------------- progress bars
def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
             quiet: bool = False) -> Any:
    """A tqdm progress bar on standard error; silent with ``--quiet`` or when stderr is no terminal."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=quiet or not sys.stderr.isatty(),
                file=sys.stderr, leave=False, dynamic_ncols=True)
