"""Where a :class:`~sampling.QuotaTracker` keeps its state on disk.

Two formats, one interface:

* :class:`SqliteStore` (any path not ending in ``.json``): one SQLite database that any number of
  processes open at once. Every decision is one ``BEGIN IMMEDIATE`` transaction (the write lock is
  taken before the tracker reads the counts it decides on, so two processes can never both take
  the last place); a decision writes one participant row and one event row, never the whole state.
  Each tracker keeps an in-memory copy and catches up by reading the events other processes
  appended since its last transaction, so a decision costs O(1) plus the events it missed.
* :class:`JsonStore` (paths ending in ``.json``): the portable JSON document, rewritten after
  every change under an exclusive lock on its directory, so concurrent processes stay correct too
  (but every decision costs a whole-file rewrite).

Durability. SQLite runs in WAL mode with ``synchronous=FULL``: the write-ahead log is flushed to
disk (fsync) at every commit, so an acceptance that was reported to a participant survives a power
cut, not only a crash of the process (``NORMAL`` is crash-safe but may lose the last commits on
power loss, and a lost acceptance re-opens a place that a real person already holds). JSON files
are written to a temporary file beside the target, flushed with fsync, renamed into place and the
directory entry flushed. New files are created readable by their owner only (0600): the state holds
person-level data. SQLite creates its ``-wal`` and ``-shm`` companions with the database's mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: JSON stores serve one process at a time
    fcntl = None  # type: ignore[assignment]

from estimators._lib.validation import fail
from estimators.errors import ValidationError

__all__ = ["JsonStore", "SqliteStore", "detect_format", "open_store", "validate_state", "write_private"]

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT = 60.0  # seconds a process waits for the write lock before giving up
SYNCHRONOUS = "FULL"  # fsync the write-ahead log at every commit (see the module notes)
SCHEMA_VERSION = 1
Event = tuple[str, "str | None", "dict[str, Any] | None"]

_DAMAGED = "Restore the file from a copy (QuotaTracker.save / to_json), or start a new store."


def detect_format(path: Path) -> Literal["sqlite", "json"]:
    """The format of an existing, non-empty store from its first bytes; else from the suffix."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        head = b""
    if head == SQLITE_HEADER:
        return "sqlite"
    if head:
        return "json"
    return "json" if path.suffix.lower() == ".json" else "sqlite"


def open_store(path: str | os.PathLike[str], *, create: bool) -> SqliteStore | JsonStore:
    p = Path(path)
    if not create and not p.is_file():
        fail(ValidationError, "path", "state file does not exist", bad=[str(p)])
    return SqliteStore(p) if detect_format(p) == "sqlite" else JsonStore(p)


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an existing file keeps its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def write_private(path: str | os.PathLike[str], text: str, *, sync: bool = True) -> Path:
    """Write ``text`` durably and atomically to ``path``, mode 0600.

    Temporary file beside the target (0600 from ``mkstemp``), fsync, rename over the target, fsync
    of the directory. An error leaves the previous file untouched and removes the temporary file.
    ``sync=False`` skips both fsyncs (the caller flushes later with :func:`fsync_path`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if sync:
        _fsync_directory(target.parent)
    return target


def fsync_path(path: Path) -> None:
    """Flush a file (if it exists) and its directory entry to disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete temporary files that an interrupted write of ``path`` left behind (under the lock)."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def parse_json(data: bytes | str, origin: str) -> Any:
    """``json.loads`` with package errors for bad bytes, bad syntax and runaway nesting."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(
                ValidationError,
                origin,
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                fix="A saved state is UTF-8 JSON. " + _DAMAGED,
            )
    if data.strip() == "":
        fail(ValidationError, origin, "is empty, not a saved QuotaTracker state", fix=_DAMAGED)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        fail(
            ValidationError,
            origin,
            f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})",
            bad=[data[:40]],
        )
    except RecursionError:
        fail(
            ValidationError,
            origin,
            "is JSON nested too deeply to be a saved QuotaTracker state",
            fix=_DAMAGED,
        )


class JsonStore:
    """The state as one JSON document, rewritten (durably, atomically) after every change."""

    kind = "json"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin = str(path)
        # the file this tracker last read or wrote, held open: every write replaces the file (a
        # new inode), and an inode held open cannot be reused, so "the path names another inode"
        # means exactly "someone wrote since" (mtimes are too coarse to tell)
        self._seen_fd: int | None = None
        self._lock_fd: int | None = None
        self._deferred = False
        self.stale = False

    # -- locking: an exclusive flock on the directory (the file itself is replaced by rename)
    def _lock(self, exclusive: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover
            return
        self._lock_fd = os.open(self.path.parent, os.O_RDONLY)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    def begin(self, *, write: bool = True) -> None:
        self._lock(exclusive=write)

    def end(self) -> None:
        self._unlock()

    def is_empty(self) -> bool:
        return not self.path.is_file() or self.path.stat().st_size == 0

    def prepare(self) -> None:
        """Called under the write lock when a tracker attaches: clear interrupted writes."""
        remove_stale_temporaries(self.path)

    def check(self) -> None:
        remove_stale_temporaries(self.path)

    def _see(self) -> int:
        """Hold the file now at the path open (under the lock); return its descriptor."""
        fd = os.open(self.path, os.O_RDONLY)
        if self._seen_fd is not None:
            os.close(self._seen_fd)
        self._seen_fd = fd
        return fd

    def _forget(self) -> None:
        if self._seen_fd is not None:
            os.close(self._seen_fd)
            self._seen_fd = None

    def read_state(self) -> Any:
        fd = self._see()
        with os.fdopen(os.dup(fd), "rb") as handle:
            return parse_json(handle.read(), self.origin)

    def changes(self) -> list[Event]:
        if self.stale:
            self.stale = False
            return [("reload", None, None)]
        if self.is_empty():
            fail(ValidationError, self.origin, "the state file was removed or emptied", fix=_DAMAGED)
        if self._seen_fd is None:
            return [("reload", None, None)]
        now, seen = self.path.stat(), os.fstat(self._seen_fd)
        if (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
            return [("reload", None, None)]
        return []

    def commit(self, events: list[Event], state: Callable[[], dict[str, Any]]) -> None:
        try:
            if events:
                write_private(self.path, json.dumps(state(), indent=1), sync=not self._deferred)
                self._see()
        finally:
            self._unlock()

    def rollback(self, *, stale: bool) -> None:
        if stale:
            self._forget()  # reload from the file at the next transaction
        self._unlock()

    def defer_sync(self, deferred: bool) -> None:
        self._deferred = deferred

    def flush(self) -> None:
        fsync_path(self.path)

    def close(self) -> None:
        self._forget()
        self._unlock()


class _Rows(list):  # type: ignore[type-arg]
    """Fetched rows of a statement, with the row id an INSERT created."""

    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        super().__init__(rows)
        self.lastrowid = lastrowid

    @property
    def first(self) -> Any:
        return self[0] if self else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS participants (
    person_id TEXT PRIMARY KEY,
    cell TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('filled', 'reserved'))
);
CREATE TABLE IF NOT EXISTS extra_cells (cell TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    person_id TEXT,
    payload TEXT
);
"""


class SqliteStore:
    """The state as rows of a SQLite database shared by every process that opens the path."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin = str(path)
        self.seq = 0  # the last event this process has applied
        self.stale = False  # True after a failed transaction: reload everything next time
        _create_private(path)
        try:
            # used by one thread at a time: the tracker serialises its transactions with a lock
            self.connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            self._damaged(exc)
        try:
            mode = self.connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            self._damaged(exc)
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without shared memory
            self.connection.close()
            fail(
                ValidationError,
                self.origin,
                f"cannot be shared: SQLite refused write-ahead logging (journal mode {mode!r})",
                fix="Put the store on a local file system.",
            )

    def _damaged(self, exc: BaseException) -> None:
        fail(
            ValidationError,
            self.origin,
            f"is not a readable quota store (SQLite: {exc})",
            fix=_DAMAGED,
        )

    def _execute(self, sql: str, parameters: Any = (), *, many: bool = False) -> _Rows:
        """Run one statement and fetch its rows; SQLite errors become package errors."""
        try:
            if many:
                cursor = self.connection.executemany(sql, parameters)
            else:
                cursor = self.connection.execute(sql, parameters)
            return _Rows(cursor.fetchall(), cursor.lastrowid)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise TimeoutError(
                    f"{self.origin}: another process held the quota store for more than "
                    f"{BUSY_TIMEOUT:.0f} s"
                ) from exc
            self._damaged(exc)
        except sqlite3.DatabaseError as exc:
            self._damaged(exc)
        raise AssertionError  # pragma: no cover

    def begin(self, *, write: bool = True) -> None:
        self._execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def end(self) -> None:
        self._execute("COMMIT")

    def is_empty(self) -> bool:
        found = self._execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).first
        if found is None:
            return True
        return self._execute("SELECT 1 FROM meta WHERE key = 'state'").first is None

    def prepare(self) -> None:
        """Called under the write lock when a tracker attaches: check the file, add the schema."""
        if not self.is_empty():
            self.check()
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._execute(statement)

    def check(self) -> None:
        """SQLite's own consistency check of the file (pages, indexes)."""
        problems = [row[0] for row in self._execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            fail(
                ValidationError,
                self.origin,
                "is a damaged SQLite file (quick_check found problems)",
                bad=problems,
                fix=_DAMAGED,
            )

    def read_state(self) -> Any:
        """The state in the JSON layout (validated by the tracker), as of this transaction."""
        tables = {
            row[0]
            for row in self._execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        missing = {"meta", "participants", "extra_cells", "events"} - tables
        if missing:
            fail(
                ValidationError,
                self.origin,
                "is a SQLite file but not a quota store (tables missing)",
                bad=sorted(missing),
                fix=_DAMAGED,
            )
        meta = dict(self._execute("SELECT key, value FROM meta"))
        if "state" not in meta:
            fail(ValidationError, self.origin, "is an empty quota store (no state recorded)", fix=_DAMAGED)
        state = parse_json(meta["state"], f"{self.origin}: meta['state']")
        if not isinstance(state, dict):
            return state
        if "next_number" in meta:
            try:
                state["next_number"] = int(meta["next_number"])
            except ValueError:
                state["next_number"] = meta["next_number"]
        extra = [
            parse_json(row[0], f"{self.origin}: extra_cells")
            for row in self._execute("SELECT cell FROM extra_cells ORDER BY rowid")
        ]
        if extra and isinstance(state.get("allowed"), list):
            state["allowed"] = state["allowed"] + [c for c in extra if c not in state["allowed"]]
        state["participants"] = [
            {"person_id": pid, "cell": parse_json(cell, f"{self.origin}: participants[{pid!r}]"),
             "status": status}
            for pid, cell, status in self._execute(
                "SELECT person_id, cell, status FROM participants ORDER BY rowid"
            )
        ]
        last = self._execute("SELECT MAX(seq) FROM events").first[0]
        self.seq = int(last or 0)
        self.stale = False
        return state

    def changes(self) -> list[Event]:
        if self.stale:
            return [("reload", None, None)]
        rows = self._execute(
            "SELECT seq, kind, person_id, payload FROM events WHERE seq > ? ORDER BY seq", (self.seq,)
        )
        events: list[Event] = []
        for seq, kind, pid, payload in rows:
            self.seq = int(seq)
            if kind == "reload":
                events = [("reload", None, None)]  # a full reload covers everything before it
                continue
            events.append((kind, pid, None if payload is None else parse_json(payload, self.origin)))
        if events and events[0][0] == "reload":
            # events after the reload are already in the tables the reload reads
            return [("reload", None, None)]
        return events

    def commit(self, events: list[Event], state: Callable[[], dict[str, Any]]) -> None:
        try:
            inserted = None
            for kind, pid, payload in events:
                if kind == "offer":
                    assert payload is not None
                    self._execute(
                        "INSERT INTO participants (person_id, cell, status) VALUES (?, ?, ?)",
                        (pid, json.dumps(payload["cell"]), payload["status"]),
                    )
                    self._execute(
                        "INSERT INTO meta (key, value) VALUES ('next_number', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (str(payload["next_number"]),),
                    )
                    if payload.get("new_cell"):
                        self._execute(
                            "INSERT OR IGNORE INTO extra_cells (cell) VALUES (?)",
                            (json.dumps(payload["cell"]),),
                        )
                elif kind == "confirm":
                    self._execute(
                        "UPDATE participants SET status = 'filled' WHERE person_id = ?", (pid,)
                    )
                elif kind == "release":
                    self._execute("DELETE FROM participants WHERE person_id = ?", (pid,))
                elif kind == "reload":
                    self._write_all(state())
                inserted = self._execute(
                    "INSERT INTO events (kind, person_id, payload) VALUES (?, ?, ?)",
                    (kind, pid, None if payload is None or kind == "reload" else json.dumps(payload)),
                )
            self._execute("COMMIT")
        except BaseException:
            self.rollback(stale=True)
            raise
        if inserted is not None:
            self.seq = int(inserted.lastrowid or self.seq)

    def _write_all(self, state: dict[str, Any]) -> None:
        header = {k: v for k, v in state.items() if k not in ("participants", "next_number")}
        self._execute("DELETE FROM meta")
        self._execute("DELETE FROM participants")
        self._execute("DELETE FROM extra_cells")
        self._execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (str(state["format"]),))
        self._execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._execute("INSERT INTO meta (key, value) VALUES ('state', ?)", (json.dumps(header),))
        self._execute(
            "INSERT INTO meta (key, value) VALUES ('next_number', ?)", (str(state["next_number"]),)
        )
        self._execute(
            "INSERT INTO participants (person_id, cell, status) VALUES (?, ?, ?)",
            [(p["person_id"], json.dumps(p["cell"]), p["status"]) for p in state["participants"]],
            many=True,
        )

    def defer_sync(self, deferred: bool) -> None:
        """Commit without fsync (``synchronous=NORMAL``) until :meth:`flush`; still crash-safe."""
        self._execute(f"PRAGMA synchronous={'NORMAL' if deferred else SYNCHRONOUS}")

    def flush(self) -> None:
        """Make every commit so far durable: fsync the database and its write-ahead log."""
        fsync_path(self.path)
        fsync_path(self.path.with_name(self.path.name + "-wal"))

    def rollback(self, *, stale: bool) -> None:
        if stale:
            self.stale = True  # the in-memory copy holds the failed change: reload it next time
        if self.connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.connection.close()


# ---------------------------------------------------------------------------- state validation
FORMAT = "equisample.QuotaTracker"
STATUSES = ("filled", "reserved")


def _brief(value: Any) -> Any:
    """A value fit for an error message: containers summarised (never a deep repr)."""
    if isinstance(value, (dict, list)):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, str) and len(value) > 40:
        return value[:37] + "..."
    return value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_state(state: Any, origin: str) -> dict[str, Any]:
    """Check a saved tracker state before it is used; raise a package error naming the entry.

    Checks the schema (keys and types), that targets are non-negative whole numbers, that every
    category, cell and participant is known, that statuses are ``filled`` or ``reserved``, that
    ``n`` agrees with the targets, and that no cell or margin holds more people than its target.
    Returns the state with a ``design`` entry (derived from the targets for version-1 files).
    """

    def bad(where: str, rule: str, value: Any = None, *, show: bool = True) -> None:
        fail(
            ValidationError,
            f"{origin}: state{where}",
            rule,
            bad=[_brief(value)] if show else None,
            fix="The state was edited or damaged. " + _DAMAGED,
        )

    if not isinstance(state, dict) or state.get("format") != FORMAT:
        fail(ValidationError, origin, "is not a saved QuotaTracker state", bad=[_brief(state)])
    if state.get("version") not in (1, 2):
        bad("['version']", "must be 1 or 2 (a newer equisample may have written it)", state.get("version"))
    types = {
        "variables": list,
        "interlocked": bool,
        "method": str,
        "n": int,
        "categories": dict,
        "targets": list,
        "check_completability": bool,
        "next_number": int,
        "participants": list,
    }
    missing = [key for key in (*types, "allowed") if key not in state]
    if missing:
        fail(
            ValidationError,
            f"{origin}: state",
            "lacks required entries",
            bad=missing,
            fix="The state was edited or damaged. " + _DAMAGED,
        )
    names = {list: "a list", bool: "true or false", str: "a string", int: "a whole number",
             dict: "an object"}
    for key, kind in types.items():
        value = state[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            bad(f"[{key!r}]", f"must be {names[kind]}", value)
    variables = state["variables"]
    if not variables or not all(isinstance(v, str) for v in variables) or len(set(variables)) != len(variables):
        bad("['variables']", "must be a non-empty list of distinct names", variables)
    categories = state["categories"]
    if list(categories) != variables:
        bad("['categories']", "must list the categories of each variable, in order", list(categories))
    for v, cats in categories.items():
        if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats) or len(set(cats)) != len(cats):
            bad(f"['categories'][{v!r}]", "must be a list of distinct category labels", cats)
    known = {v: set(c) for v, c in categories.items()}
    interlocked = state["interlocked"]

    def check_cell(cell: Any, where: str) -> tuple[str, ...]:
        if not isinstance(cell, list) or len(cell) != len(variables) or not all(isinstance(c, str) for c in cell):
            bad(where, f"must list one category for each of {', '.join(variables)}", cell)
        unknown = [f"{v}={c!r}" for v, c in zip(variables, cell) if c not in known[v]]
        if unknown:
            bad(where, "names unknown categories", ", ".join(unknown))
        return tuple(cell)

    targets: dict[tuple[str, ...], int] = {}
    for i, entry in enumerate(state["targets"]):
        where = f"['targets'][{i}]"
        if not isinstance(entry, list) or len(entry) != 3:
            bad(where, "must be [key, target, share]", entry)
        key, target, share = entry
        if interlocked:
            key = check_cell(key, where + "[0]")
        else:
            if not isinstance(key, list) or len(key) != 2 or not all(isinstance(k, str) for k in key):
                bad(where + "[0]", "must be [variable, category]", key)
            if key[0] not in known or key[1] not in known[key[0]]:
                bad(where + "[0]", "names an unknown variable or category", "=".join(key))
            key = tuple(key)
        if not _whole(target) or target < 0:
            bad(where + "[1]", "target must be a non-negative whole number", target)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not share >= 0 or share == float("inf"):
            bad(where + "[2]", "share must be a non-negative number", share)
        if key in targets:
            bad(where + "[0]", "repeats a cell listed earlier", "|".join(key))
        targets[key] = target
    if not targets:
        bad("['targets']", "must list at least one target", state["targets"])
    if not interlocked:
        listed = {(v, c) for v in variables for c in categories[v]}
        if set(targets) != listed:
            bad("['targets']", "must give one margin target per category", len(targets))
    n = state["n"]
    if interlocked and n != sum(targets.values()):
        bad("['n']", f"must equal the sum of the cell targets ({sum(targets.values())})", n)
    if not interlocked:
        sums = {v: sum(t for k, t in targets.items() if k[0] == v) for v in variables}
        if any(s != n for s in sums.values()):
            fail(
                ValidationError,
                f"{origin}: state['n']",
                f"must equal every variable's margin total (n is {n})",
                bad=[f"{v}: {s}" for v, s in sums.items()],
                fix="The state was edited or damaged. " + _DAMAGED,
            )
    allowed = state["allowed"]
    if allowed is not None:
        if not isinstance(allowed, list):
            bad("['allowed']", "must be null or a list of cells", allowed)
        for i, cell in enumerate(allowed):
            check_cell(cell, f"['allowed'][{i}]")
    if state["next_number"] < 1:
        bad("['next_number']", "must be a positive whole number", state["next_number"])
    held = dict.fromkeys(targets, 0)
    seen: set[str] = set()
    for i, record in enumerate(state["participants"]):
        where = f"['participants'][{i}]"
        if not isinstance(record, dict):
            bad(where, "must be an object with person_id, cell and status", record)
        absent = [k for k in ("person_id", "cell", "status") if k not in record]
        if absent:
            bad(where, "lacks " + ", ".join(absent), record)
        pid = record["person_id"]
        if not isinstance(pid, str):
            bad(where + "['person_id']", "must be a string", pid)
        if pid in seen:
            bad(where + "['person_id']", "repeats a person listed earlier", pid)
        seen.add(pid)
        if record["status"] not in STATUSES:
            bad(where + "['status']", "must be 'filled' or 'reserved'", record["status"])
        cell = check_cell(record["cell"], where + "['cell']")
        keys = [cell] if interlocked else list(zip(variables, cell))
        for key in keys:
            if key not in held:
                bad(where + "['cell']", "is not a cell of the quotas", "|".join(cell))
            held[key] += 1
    over = [f"{'|'.join(k) if interlocked else '='.join(k)}: {h} held, target {targets[k]}"
            for k, h in held.items() if h > targets[k]]
    if over:
        fail(
            ValidationError,
            f"{origin}: state['participants']",
            f"hold more places than the targets allow in {len(over)} "
            f"{'cells' if interlocked else 'margins'}",
            bad=over,
            fix="The state was edited or damaged. " + _DAMAGED,
        )
    design = state.get("design")
    if design is None:
        design = {
            "variables": variables,
            "interlocked": interlocked,
            "targets": [[list(k), t] for k, t in targets.items()],
            "allowed": None if allowed is None else sorted(allowed),
            "check_completability": state["check_completability"],
        }
    else:
        check_design(design, f"{origin}: state['design']")
    return {**state, "design": design}


def check_design(design: Any, where: str) -> None:
    """The recorded quota design: the same layout as a state's variables and targets."""
    ok = (
        isinstance(design, dict)
        and isinstance(design.get("variables"), list)
        and all(isinstance(v, str) for v in design["variables"])
        and isinstance(design.get("interlocked"), bool)
        and isinstance(design.get("targets"), list)
        and all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], list)
            and all(isinstance(c, str) for c in e[0]) and _whole(e[1]) and e[1] >= 0
            for e in design["targets"]
        )
        and (design.get("allowed") is None or isinstance(design.get("allowed"), list))
        and isinstance(design.get("check_completability"), bool)
    )
    if not ok:
        fail(
            ValidationError,
            where,
            "must record variables, interlocked, targets [[key, whole number >= 0], ...], "
            "allowed and check_completability",
            bad=[_brief(design)],
            fix="The state was edited or damaged. " + _DAMAGED,
        )
