"""``equisample track``: run arrivals through a quota tracker; write the decision log and status."""

from __future__ import annotations

import argparse
import os

import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ColumnError, ValidationError
from sampling.cli._io import Outputs, check_out_path, format_table, read_table, say
from sampling.cli._options import add_flag, add_id, add_out, add_quiet
from sampling.quotas._tracker import Decision, DesignChangeError, QuotaTracker, change_labels

__all__ = ["register"]

EVENTS = ("offer", "reserve", "confirm", "release")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "track",
        help="accept or reject arrivals against quotas",
        description="Offer each row of ARRIVALS to the quotas in order. Optional columns: 'id' "
        "(person id) and 'event' (offer, reserve, confirm, release; default offer). With --state "
        "every decision is written to a store that concurrent runs can share; an existing store "
        "is resumed when it was made for the same --quotas (--migrate moves it to new quotas).",
    )
    parser.add_argument("--quotas", required=True, help="quota table written by `equisample quotas`")
    parser.add_argument("--arrivals", required=True, help="CSV/Parquet of arriving people")
    add_out(parser, "decision log to write, one row per arrival (.csv, .parquet or .json; "
            "readable by its owner only: it lists people)", required=True, aliases=("--log",))
    add_flag(parser, "--status-out", aliases=("--status",), metavar="FILE",
             help="status table to write: target, filled and open places per cell")
    parser.add_argument(
        "--state",
        help="state store (resumed when it exists): a SQLite database, e.g. STATE.db, that "
        "several runs may share at once; a path ending .json keeps the portable JSON document",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="when --state was made for other quotas, move it to --quotas (everyone keeps their "
        "place; refused if a new target is below the places held)",
    )
    add_id(parser, help="column of person ids (default: 'id' when present)",
           aliases=("--id-column",))
    add_quiet(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    check_out_path(args.status_out, "--status-out")
    arrivals = read_table(args.arrivals, "--arrivals", allow_empty=True)
    quotas = read_table(args.quotas, "--quotas")
    if args.migrate and not args.state:
        fail(ValidationError, "--migrate", "applies only to an existing --state store", bad=["--migrate"],
             fix="Add --state PATH, or drop --migrate.")
    if not args.state:
        tracker = QuotaTracker(quotas)
    else:
        QuotaTracker(quotas)  # errors in the quota table are reported as such, before the store
        try:
            tracker = QuotaTracker(quotas, autosave=args.state,
                                   on_design_change="migrate" if args.migrate else "raise")
        except DesignChangeError as exc:
            assert exc.changes is not None
            fail(ValidationError, "--quotas",
                 "differ from the quotas the --state store was made for",
                 bad=change_labels(exc.changes),
                 fix="Pass --migrate to move the store to the new quotas (everyone keeps their "
                 "place), or use another --state path.")
        except ValidationError as exc:
            raise ValidationError(f"--state: {exc}") from exc
    if tracker.migration is not None:
        say(args, f"equisample track: moved {args.state} to the new quotas "
            f"({len(tracker.migration)} change{'' if len(tracker.migration) == 1 else 's'}):",
            format_table(tracker.migration, max_rows=12))
    if args.id is not None and args.id not in arrivals.columns:
        fail(ColumnError, "--id", "names a column that is not in the arrivals",
             bad=[args.id], fix=f"Columns: {list(arrivals.columns)}.")
    id_column = "id" if args.id is None else args.id
    has_id = id_column in arrivals.columns
    absent = [v for v in tracker.variables if v not in arrivals.columns]
    if absent:
        fail(ColumnError, "--arrivals", "lacks quota variables, so every arrival would be rejected",
             bad=absent, fix=f"Columns: {list(arrivals.columns)}.")
    if "event" in arrivals.columns:
        events = arrivals["event"].fillna("offer").astype(str).str.strip().str.lower()
        bad = sorted(set(events) - set(EVENTS))
        if bad:
            fail(ValidationError, "--arrivals", f"column 'event' must be one of {', '.join(EVENTS)}", bad=bad)
    else:
        events = pd.Series("offer", index=arrivals.index)
    try:
        with tracker.batch():  # the log is written after the run: flush the store to disk once
            records = _run_events(tracker, arrivals, events, id_column if has_id else None)
        columns = ["row", "event", "person_id", "accepted", "status", "reason", "cell"]
        log = pd.DataFrame(records, columns=columns)
        status = tracker.status()
        outputs = Outputs()
        outputs.table(log, args.out)
        if args.status_out:
            outputs.table(status, args.status_out, "--status-out")
        # the log lists people by id and categories: new files are readable by their owner only
        mask = os.umask(0o077)
        try:
            written = outputs.commit()
        finally:
            os.umask(mask)
    finally:
        tracker.close()
    _summary(args, log, status, written)
    return 0


def _summary(args: argparse.Namespace, log: pd.DataFrame, status: pd.DataFrame,
             written: list) -> None:
    offers = log[log["event"].isin(["offer", "reserve"])]
    accepted = int(offers["accepted"].sum())
    lines = [f"equisample track: {len(log)} arrivals from {args.arrivals}"
             + (f" against the store {args.state}" if args.state else ""),
             f"  accepted {accepted}, rejected {len(offers) - accepted} of {len(offers)} offers"]
    cells = status[status["level"] == "cell"] if "level" in status.columns else status
    shown = [c for c in ("category", "target", "filled", "open", "percent_complete")
             if c in cells.columns]
    if shown:
        lines.append("  by cell (accepted so far / target, places still open):")
        lines.append(format_table(cells[shown], max_rows=10,
                                  written_to=args.status_out or None))
    lines.append("  wrote " + ", ".join(map(str, written)))
    say(args, *lines)


def _run_events(
    tracker: QuotaTracker, arrivals: pd.DataFrame, events: pd.Series, id_column: str | None
) -> list[dict[str, object]]:
    records = []
    for row_number, (index, row) in enumerate(arrivals.iterrows(), start=1):
        pid = row[id_column] if id_column is not None and not pd.isna(row[id_column]) else None
        pid = None if pid is None else str(pid)
        event = events[index]
        if event in ("confirm", "release"):
            if pid is None:
                fail(ValidationError, "--arrivals", f"row {row_number}: {event} needs an id", bad=[row_number])
            try:
                decision = tracker.confirm(pid) if event == "confirm" else tracker.release(pid)
            except ValidationError as exc:  # an unknown id is logged, not fatal
                decision = Decision(False, str(exc), pid, None, "rejected")
        else:
            decision = tracker.offer(row, person_id=pid, reserve=event == "reserve")
        records.append({"row": row_number, "event": event, **decision.to_dict()})
    return records
