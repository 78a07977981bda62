"""``equisample track``: run arrivals through a quota tracker; write the decision log and status."""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ColumnError, ValidationError
from sampling.cli._io import read_table, write_table
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
    parser.add_argument("--log", required=True, help="decision log output (.csv/.parquet/.json)")
    parser.add_argument("--status", required=True, help="status table output")
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
    parser.add_argument("--id-column", default=None, help="column holding person ids (default: 'id' when present)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        sys.stderr.write(
            f"equisample track: moved {args.state} to the new quotas "
            f"({len(tracker.migration)} change{'' if len(tracker.migration) == 1 else 's'}):\n"
            f"{tracker.migration.to_string(index=False)}\n"
        )
    if args.id_column is not None and args.id_column not in arrivals.columns:
        fail(ColumnError, "--id-column", "names a column that is not in the arrivals",
             bad=[args.id_column], fix=f"Columns: {list(arrivals.columns)}.")
    id_column = "id" if args.id_column is None else args.id_column
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
        # the log lists people by id and categories: a new log file is readable by its owner only
        mask = os.umask(0o077)
        try:
            write_table(pd.DataFrame(records, columns=columns), args.log)
        finally:
            os.umask(mask)
        write_table(tracker.status(), args.status)
    finally:
        tracker.close()
    return 0


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
