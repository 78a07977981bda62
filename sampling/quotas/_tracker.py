"""Live quota tracking: accept or reject arrivals, hold places for people still in progress.

:class:`QuotaTracker` keeps the quota targets and who has filled or reserved each place. It never
over-fills a cell or margin, and for non-interlocked (margin) quotas it accepts a person only when
the remaining margin quotas can still be filled together by people from the cells that exist
(a transportation feasibility problem), so fieldwork never dead-ends.

With ``autosave`` the tracker is a view of a store on disk (``sampling.quotas._store``) that any
number of trackers, threads and processes share: each decision is one transaction that first
catches up with the others' decisions, so places are never over-filled or lost.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from estimators._lib.results import frozen_instance, get_axes
from estimators._lib.validation import as_int, check_option, fail
from estimators.errors import InfeasibleError, MarginError, ValidationError
from sampling.quotas._apportionment import _priority_key
from sampling.quotas._design import CELL_SEPARATOR, NON_VARIABLE_COLUMNS, QuotaPlan
from sampling.quotas._store import (
    FORMAT,
    Event,
    JsonStore,
    SqliteStore,
    open_store,
    parse_json,
    validate_state,
    write_private,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Decision", "QuotaTracker"]

STATE_VERSION = 2
Key = tuple[str, ...]


class DesignChangeError(ValidationError):
    """A store was opened with quotas other than the ones it was made for (and no migration)."""

    changes: pd.DataFrame | None = None


def change_labels(changes: pd.DataFrame) -> list[str]:
    return [f"{r.name}: {_show(r.old)} -> {_show(r.new)}" for r in changes.itertuples(index=False)]


@dataclass(frozen=True)
class Decision:
    """The answer to an arrival: accepted or not, why, and where the person was counted.

    Attributes
    ----------
    accepted : bool
        True when the person took a place (filled, or reserved for later confirmation).
    reason : str
        ``"accepted"``, ``"reserved"``, ``"confirmed"``, ``"released"`` or why the person was
        rejected (missing or unknown attribute, full cell or margin, completability, duplicate id).
    person_id : str or None
        The identifier the place is held under (generated when none was given).
    cell : tuple of str or None
        The person's categories, one per quota variable (None when they could not be read).
    status : {"filled", "reserved", "released", "rejected"}
        Where the person stands after this decision.

    Examples
    --------
    >>> import pandas as pd
    >>> tracker = QuotaTracker(pd.DataFrame({"sex": ["Female", "Male"], "quota": [1, 1]}))
    >>> decision = tracker.offer({"sex": "Female"})
    >>> decision.accepted, decision.cell, decision.status
    (True, ('Female',), 'filled')
    """

    accepted: bool
    reason: str
    person_id: str | None
    cell: tuple[str, ...] | None
    status: Literal["filled", "reserved", "released", "rejected"]

    def __bool__(self) -> bool:
        return self.accepted

    def to_dict(self) -> dict[str, Any]:
        """A flat record, e.g. for a decision log."""
        return {
            "person_id": self.person_id,
            "accepted": self.accepted,
            "status": self.status,
            "reason": self.reason,
            "cell": CELL_SEPARATOR.join(self.cell) if self.cell else "",
        }


def _accepted(reason: str, person_id: str, cell: Key, status: str) -> Decision:
    """``Decision(True, reason, person_id, cell, status)`` in one step (``offer``'s hot path)."""
    return frozen_instance(Decision, accepted=True, reason=reason, person_id=person_id, cell=cell,
                           status=status)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _label(value: Any) -> str:
    """Category labels compare as strings; integral floats read from CSV lose their '.0'."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


class QuotaTracker:
    """Track recruitment against quotas as participants arrive.

    Parameters
    ----------
    quotas : QuotaPlan or DataFrame
        A :class:`~sampling.QuotaPlan`, or its ``to_frame()`` (e.g. read back from the CSV that
        ``equisample quotas`` writes): cells with one column per variable and a ``quota`` (or
        ``target``) column, or margins with ``variable, category, quota`` columns.
    allowed_cells : DataFrame or iterable of tuples, optional
        Non-interlocked quotas: the combinations of categories that people can have (default: the
        cells with a positive census share in the plan, or every combination for a frame).
    check_completability : bool
        Non-interlocked quotas: reject a person whose acceptance would leave margin quotas that no
        set of future people (from ``allowed_cells``) can fill exactly. On by default.
    autosave : str or path, optional
        Keep the state in a store at this path, written in the same transaction as every decision,
        so a crash loses no accepted participant. Every tracker opened on the path (in this or any
        other process, e.g. web workers) is a view of one store: decisions are serialised by the
        store's write lock, so the quotas are never over-filled and nobody accepted is lost. A
        path ending in ``.json`` keeps the portable JSON document (rewritten after every change);
        any other path is a SQLite database (one row per decision; use it when several processes
        share the quotas or the sample is large). When the path already holds a store made for
        the same quotas, the tracker joins it; see ``on_design_change`` otherwise. Files are
        created readable by their owner only (0600): they hold person-level data.
    on_design_change : {"raise", "migrate"}
        What to do when ``autosave`` holds a store made for different quotas: ``"raise"`` an
        error listing the changes (default), or ``"migrate"`` the store to the new quotas, keeping
        every person's place (refused when a new target is below the places already held). The
        changes are in :attr:`migration`.

    Attributes
    ----------
    migration : DataFrame or None
        After a migration, one row per change (``level``: ``"cell"``, ``"margin"`` or
        ``"design"``; ``name``; ``old``; ``new``; ``held``: places filled or reserved there).

    Notes
    -----
    Interlocked: a person in cell :math:`c` is accepted iff :math:`f_c + r_c < t_c` (filled,
    reserved, target). Non-interlocked: iff every margin of the person has room and the remaining
    needs :math:`R_{v,k} = t_{v,k} - f_{v,k} - r_{v,k}` after acceptance admit an integer
    :math:`y \\ge 0` over the allowed cells with :math:`\\sum_{c: c_v = k} y_c = R_{v,k}` for every
    variable :math:`v` and category :math:`k` (checked with ``scipy.optimize.milp``; with every
    combination allowed it always holds, because the margins share one total). Reserved places
    count as taken until confirmed or released.

    With a store, every offer, confirmation, release and resize takes the store's write lock
    (SQLite ``BEGIN IMMEDIATE``, or an exclusive lock for a JSON file), applies the decisions other
    trackers made since this one last looked, decides, and writes the change before releasing the
    lock; so decisions on one store are serialised and each sees all earlier ones. A SQLite store
    writes one row per decision; a JSON file is rewritten whole. A loaded state is checked (schema,
    whole non-negative targets, known cells and statuses, ``n`` against the targets, no cell over
    its target) and a damaged one raises :class:`~estimators.ValidationError` naming the entry.

    References
    ----------
    Causey, B. D., Cox, L. H. and Ernst, L. R. (1985). Applications of transportation theory to
    statistical problems. *JASA* 80(392), 903-909.

    Examples
    --------
    >>> import pandas as pd
    >>> from sampling import QuotaTracker
    >>> quotas = pd.DataFrame({"sex": ["Female", "Male"], "quota": [1, 1]})
    >>> tracker = QuotaTracker(quotas)
    >>> tracker.offer({"sex": "Female"}).accepted, tracker.offer({"sex": "Female"}).reason
    (True, 'cell full: sex=Female (target 1)')
    >>> tracker.offer({"age": "30"}).reason
    'missing attribute: sex'

    A store that several processes share (each opens the same path):

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "quotas.db")
    >>> first = QuotaTracker(quotas, autosave=path)
    >>> second = QuotaTracker.load(path)
    >>> first.offer({"sex": "Male"}).accepted, second.offer({"sex": "Male"}).reason
    (True, 'cell full: sex=Male (target 1)')
    """

    def __init__(
        self,
        quotas: QuotaPlan | pd.DataFrame,
        *,
        allowed_cells: pd.DataFrame | Iterable[tuple[Any, ...]] | None = None,
        check_completability: bool = True,
        autosave: str | os.PathLike[str] | None = None,
        on_design_change: Literal["raise", "migrate"] = "raise",
    ) -> None:
        on_design_change = check_option(on_design_change, ("raise", "migrate"), "on_design_change")
        self.autosave: Path | None = None
        self._store: SqliteStore | JsonStore | None = None
        self._lock = threading.RLock()
        self.migration: pd.DataFrame | None = None
        if isinstance(quotas, QuotaPlan):
            self._from_plan(quotas)
        elif isinstance(quotas, pd.DataFrame):
            self._from_frame(quotas)
        else:
            fail(
                ValidationError,
                "quotas",
                "must be a QuotaPlan or a quota table (DataFrame)",
                bad=[type(quotas).__name__],
            )
        if allowed_cells is not None:
            self.allowed = self._read_allowed(allowed_cells)
        self.check_completability = bool(check_completability)
        self.participants: dict[str, dict[str, Any]] = {}
        self.next_number = 1
        self._recount()
        if not self.interlocked and self.check_completability and not self._feasible(self._open()):
            fail(
                InfeasibleError,
                "quotas",
                "the margin quotas cannot be filled together by people from the allowed cells",
                bad=[f"{len(self.allowed or [])} allowed cells"],
                fix="Check allowed_cells, or use interlocked quotas.",
            )
        self.design = self._design()
        if autosave is not None:
            self._attach(Path(autosave), on_design_change=on_design_change)

    # ------------------------------------------------------------------ construction
    def _from_plan(self, plan: QuotaPlan) -> None:
        self.variables = list(plan.variables)
        self.interlocked = plan.interlocked
        self.method = plan.method
        self.n = plan.n
        margins = plan.margins
        self.categories = {
            v: [str(c) for c in margins.loc[margins["variable"] == v, "category"]] for v in self.variables
        }
        self.allowed: list[Key] | None = None
        if self.interlocked:
            cells = plan.cells
            keys = [tuple(str(x) for x in row) for row in cells[self.variables].itertuples(index=False)]
            self.targets = dict(zip(keys, (int(q) for q in cells["quota"])))
            self.shares = dict(zip(keys, (float(s) for s in cells["share"])))
        else:
            keys = [(str(v), str(c)) for v, c in zip(margins["variable"], margins["category"])]
            self.targets = dict(zip(keys, (int(q) for q in margins["quota"])))
            self.shares = dict(zip(keys, (float(s) for s in margins["share"])))
            cells = plan.cells[plan.cells["share"] > 0]
            allowed = [tuple(str(x) for x in row) for row in cells[self.variables].itertuples(index=False)]
            full = math.prod(len(c) for c in self.categories.values())
            self.allowed = None if len(allowed) == full else allowed

    def _from_frame(self, frame: pd.DataFrame) -> None:
        column = next((c for c in ("quota", "target") if c in frame.columns), None)
        if column is None:
            fail(
                MarginError,
                "quotas",
                "a quota table needs a 'quota' (or 'target') column",
                bad=list(frame.columns),
                fix="Use the table written by design_quotas(...).to_frame() or `equisample quotas`.",
            )
        raw = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.round(raw))
        if bad.any():
            fail(
                ValidationError,
                f"quotas[{column!r}]",
                "must be non-negative whole numbers",
                bad=[frame[column].iloc[i] for i in np.flatnonzero(bad)],
            )
        targets = raw.astype(np.int64)
        self.method = "webster"
        self.allowed = None
        if {"variable", "category"} <= set(frame.columns):
            self.interlocked = False
            keys = [(str(v), _label(c)) for v, c in zip(frame["variable"], frame["category"])]
            self.variables = list(dict.fromkeys(k[0] for k in keys))
            self.categories = {v: [k[1] for k in keys if k[0] == v] for v in self.variables}
            totals = {v: int(sum(t for k, t in zip(keys, targets) if k[0] == v)) for v in self.variables}
            if len(set(totals.values())) > 1:
                fail(
                    MarginError,
                    "quotas",
                    "every variable's margin quotas must sum to the same n",
                    bad=[f"{v}: {t}" for v, t in totals.items()],
                )
            self.n = next(iter(totals.values()))
        else:
            self.interlocked = True
            self.variables = [str(c) for c in frame.columns if c not in NON_VARIABLE_COLUMNS]
            if not self.variables:
                fail(MarginError, "quotas", "a cell quota table needs variable columns", bad=list(frame.columns))
            keys = [tuple(_label(x) for x in row) for row in frame[self.variables].itertuples(index=False)]
            self.categories = {
                v: list(dict.fromkeys(k[i] for k in keys)) for i, v in enumerate(self.variables)
            }
            self.n = int(targets.sum())
        if len(set(keys)) != len(keys):
            dup = [k for k in keys if keys.count(k) > 1]
            fail(MarginError, "quotas", "each cell (category) must appear once", bad=list(dict.fromkeys(dup)))
        self.targets = dict(zip(keys, (int(t) for t in targets)))
        if "share" in frame.columns:
            share = pd.to_numeric(frame["share"], errors="coerce").to_numpy(dtype=float)
            wrong = ~np.isfinite(share) | (share < 0)
            if wrong.any():
                fail(
                    ValidationError,
                    "quotas['share']",
                    "must be non-negative numbers",
                    bad=[frame["share"].iloc[i] for i in np.flatnonzero(wrong)],
                    fix="Drop the column to derive shares from the quotas.",
                )
            self.shares = dict(zip(keys, (float(x) for x in share)))
        else:
            self.shares = {k: t / max(self.n, 1) for k, t in self.targets.items()}

    def _read_allowed(self, allowed: Any) -> list[Key]:
        if isinstance(allowed, pd.DataFrame):
            rows = [tuple(_label(x) for x in r) for r in allowed[self.variables].itertuples(index=False)]
        else:
            rows = [tuple(_label(x) for x in r) for r in allowed]
        for row in rows:
            if len(row) != len(self.variables) or any(
                c not in self.categories[v] for v, c in zip(self.variables, row)
            ):
                fail(
                    ValidationError,
                    "allowed_cells",
                    f"each cell must give a known category of {', '.join(self.variables)} in order",
                    bad=[row],
                )
        return list(dict.fromkeys(rows))

    # ------------------------------------------------------------------ counting
    def _keys_of(self, cell: Key) -> list[Key]:
        if self.interlocked:
            return [cell]
        return [(v, c) for v, c in zip(self.variables, cell)]

    def _recount(self) -> None:
        self.filled = dict.fromkeys(self.targets, 0)
        self.reserved = dict.fromkeys(self.targets, 0)
        for record in self.participants.values():
            counter = self.filled if record["status"] == "filled" else self.reserved
            for key in self._keys_of(tuple(record["cell"])):
                counter[key] += 1
        self._prepare_lookups()

    def _prepare_lookups(self) -> None:
        """Per variable, the labels a person's attribute can match as given (non-blank strings).

        Also forgets whether the open margin quotas are known to be fillable (``_margins_ok``):
        with every combination of categories allowed, they are iff no open quota is negative and
        every variable's open quotas add up to the same number. An accepted offer keeps that true,
        so it is checked once, not at every offer.
        """
        self._lookup = [
            (v, frozenset(c for c in self.categories[v] if c.strip() != "")) for v in self.variables
        ]
        self._margins_ok: bool | None = None

    def _open(self) -> dict[Key, int]:
        return {k: t - self.filled[k] - self.reserved[k] for k, t in self.targets.items()}

    def _feasible(self, remaining: Mapping[Key, int], extra: Key | None = None) -> bool:
        """Can future people from the allowed cells (plus ``extra``) fill ``remaining`` exactly?"""
        if any(r < 0 for r in remaining.values()):
            return False
        totals = {v: sum(remaining[(v, c)] for c in self.categories[v]) for v in self.variables}
        if len(set(totals.values())) > 1:
            return False
        if self.allowed is None or next(iter(totals.values())) == 0:
            return True
        pool = self.allowed if extra is None or extra in self.allowed else [*self.allowed, extra]
        cells = [c for c in pool if all(remaining[(v, x)] > 0 for v, x in zip(self.variables, c))]
        keys = list(remaining)
        position = {k: i for i, k in enumerate(keys)}
        rows, cols = [], []
        for j, cell in enumerate(cells):
            for v, x in zip(self.variables, cell):
                rows.append(position[(v, x)])
                cols.append(j)
        if not cells:
            return False
        need = np.array([remaining[k] for k in keys], dtype=float)
        a = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(keys), len(cells)))
        result = milp(
            np.zeros(len(cells)),
            constraints=[LinearConstraint(a, need, need)],
            integrality=np.ones(len(cells)),
            bounds=Bounds(np.zeros(len(cells)), np.full(len(cells), np.inf)),
        )
        return bool(result.success)

    # ------------------------------------------------------------------ arrivals
    def _read_person(self, person: Any) -> tuple[Key | None, str]:
        if isinstance(person, pd.Series):
            person = person.to_dict()
        if not isinstance(person, Mapping):
            fail(ValidationError, "person", "must be a mapping or Series of attributes", bad=[type(person).__name__])
        missing = [v for v in self.variables if v not in person or _is_missing(person[v])]
        if missing:
            return None, f"missing attribute{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        cell = tuple(_label(person[v]) for v in self.variables)
        unknown = [f"{v}={c!r}" for v, c in zip(self.variables, cell) if c not in self.categories[v]]
        if unknown:
            return None, f"unknown categor{'ies' if len(unknown) > 1 else 'y'}: {', '.join(unknown)}"
        return cell, ""

    def _cell_of(self, person: Mapping[str, Any]) -> Key | None:
        """The person's cell when every attribute is a known label as given; None otherwise."""
        cell = []
        for var, known in self._lookup:
            value = person.get(var)
            if value.__class__ is not str or value not in known:
                return None
            cell.append(value)
        return tuple(cell)

    def offer(self, person: Any, *, person_id: str | None = None, reserve: bool = False) -> Decision:
        """Offer an arriving person; accepted people take a place (or hold one, ``reserve=True``).

        Parameters
        ----------
        person : mapping or Series
            The person's categories, one per quota variable (other keys are ignored).
        person_id : str, optional
            Identifier to record the person under (needed later to confirm or release a
            reservation); generated (``"p1"``, ``"p2"``, ...) when omitted.
        reserve : bool
            Hold the place provisionally until :meth:`confirm` or :meth:`release`.

        Returns
        -------
        Decision
            ``accepted`` and the ``reason`` (rejections never raise).
        """
        if person.__class__ is not dict:
            if isinstance(person, pd.Series):
                person = person.to_dict()
            if not isinstance(person, Mapping):
                fail(ValidationError, "person", "must be a mapping or Series of attributes", bad=[type(person).__name__])
        pid = None if person_id is None else str(person_id)
        with self._lock:
            if self._store is None:  # in memory: no transaction, no change record
                decision = self._decide(person, pid, reserve)
                if decision.accepted:
                    self._accept(decision)
                return decision
        with self._transaction() as events:
            decision = self._decide(person, pid, reserve)
            if decision.accepted:
                new_cell = self._accept(decision)
                events.append(("offer", decision.person_id, {
                    "cell": list(decision.cell),
                    "status": decision.status,
                    "next_number": self.next_number,
                    "new_cell": new_cell,
                }))
        return decision

    def _decide(self, person: Mapping[str, Any], pid: str | None, reserve: bool) -> Decision:
        participants = self.participants
        if pid is not None and pid in participants:
            return Decision(False, f"duplicate person id: {pid!r} already holds a place", pid, None, "rejected")
        cell = self._cell_of(person)
        if cell is None:
            cell, problem = self._read_person(person)
            if cell is None:
                return Decision(False, problem, pid, None, "rejected")
        targets, filled, reserved = self.targets, self.filled, self.reserved
        interlocked = self.interlocked
        keys = [cell] if interlocked else list(zip(self.variables, cell))
        for key in keys:
            target = targets.get(key)
            if target is None:
                label = ", ".join(f"{v}={c}" for v, c in zip(self.variables, cell))
                return Decision(False, f"no quota for cell: {label}", pid, cell, "rejected")
            if target - filled[key] - reserved[key] <= 0:
                if interlocked:
                    label = ", ".join(f"{v}={c}" for v, c in zip(self.variables, cell))
                    reason = f"cell full: {label} (target {target})"
                else:
                    reason = f"margin full: {key[0]}={key[1]} (target {target})"
                return Decision(False, reason, pid, cell, "rejected")
        if not interlocked and self.check_completability:
            if self.allowed is None:
                # every key of the person has room, so the quotas left after acceptance are
                # fillable iff the open ones are (each variable's total falls by one)
                if self._margins_ok is None:
                    self._margins_ok = self._feasible(self._open())
                feasible = self._margins_ok
            else:
                after = self._open()
                for key in keys:
                    after[key] -= 1
                feasible = self._feasible(after, extra=cell)
            if not feasible:
                return Decision(
                    False,
                    "would make the remaining margin quotas impossible to fill together",
                    pid,
                    cell,
                    "rejected",
                )
        if pid is None:
            number = self.next_number
            pid = f"p{number}"
            while pid in participants:
                number += 1
                pid = f"p{number}"
            self.next_number = number + 1
        if reserve:
            return _accepted("reserved", pid, cell, "reserved")
        return _accepted("accepted", pid, cell, "filled")

    def _accept(self, decision: Decision) -> bool:
        """Record an accepted decision of this tracker (see ``_apply_offer``)."""
        assert decision.person_id is not None and decision.cell is not None
        known = self._margins_ok
        new_cell = self._apply_offer(decision.person_id, decision.cell, decision.status, self.next_number)
        if known and self.allowed is None:
            self._margins_ok = True  # decided above: the quotas left stay fillable
        return new_cell

    def _apply_offer(self, pid: str, cell: Key, status: str, next_number: int) -> bool:
        """Record an accepted person; True when their cell was not among the allowed cells."""
        new_cell = self.allowed is not None and cell not in self.allowed
        if new_cell:
            # people with these categories evidently exist: count on the cell from now on, so
            # releasing this person's reservation later cannot strand the remaining quotas
            self.allowed.append(cell)  # type: ignore[union-attr]
        self.participants[pid] = {
            "cell": list(cell),
            "status": status,
            "attributes": dict(zip(self.variables, cell)),
        }
        counter = self.reserved if status == "reserved" else self.filled
        if self.interlocked:
            counter[cell] += 1
        else:
            for key in zip(self.variables, cell):
                counter[key] += 1
        next_number = int(next_number)
        if next_number > self.next_number:
            self.next_number = next_number
        self._margins_ok = None
        return new_cell

    def _apply_confirm(self, pid: str) -> None:
        record = self.participants[pid]
        self._margins_ok = None
        record["status"] = "filled"
        for key in self._keys_of(tuple(record["cell"])):
            self.reserved[key] -= 1
            self.filled[key] += 1

    def _apply_release(self, pid: str) -> None:
        record = self.participants.pop(pid)
        self._margins_ok = None
        for key in self._keys_of(tuple(record["cell"])):
            self.reserved[key] -= 1

    def reserve(self, person: Any, *, person_id: str | None = None) -> Decision:
        """Hold a place for a person who has started but not finished (``offer(..., reserve=True)``)."""
        return self.offer(person, person_id=person_id, reserve=True)

    def _reservation(self, person_id: str) -> dict[str, Any]:
        record = self.participants.get(str(person_id))
        if record is None or record["status"] != "reserved":
            state = "holds no place" if record is None else "is already confirmed"
            fail(
                ValidationError,
                "person_id",
                f"has no open reservation (the id {state})",
                bad=[person_id],
                fix="Confirm or release only ids returned by reserve().",
            )
        return record

    def confirm(self, person_id: str) -> Decision:
        """Turn a reservation into a filled place (the person completed)."""
        pid = str(person_id)
        with self._transaction() as events:
            record = self._reservation(pid)
            self._apply_confirm(pid)
            events.append(("confirm", pid, None))
        return Decision(True, "confirmed", pid, tuple(record["cell"]), "filled")

    def release(self, person_id: str) -> Decision:
        """Give a reserved place back (the person dropped out)."""
        pid = str(person_id)
        with self._transaction() as events:
            record = self._reservation(pid)
            self._apply_release(pid)
            events.append(("release", pid, None))
        return Decision(False, "released", pid, tuple(record["cell"]), "released")

    # ------------------------------------------------------------------ reporting
    @property
    def complete(self) -> bool:
        """True when every target is filled (reservations do not count)."""
        with self._lock:
            self.refresh()
            return all(self.filled[k] >= t for k, t in self.targets.items())

    def status(self) -> pd.DataFrame:
        """Target, filled, reserved, open and percent complete per cell, margin and in total.

        Columns ``level`` (``"cell"``, ``"margin"``, ``"total"``), ``variable``, ``category``
        (cells: categories joined by ``|``), ``target``, ``filled``, ``reserved``, ``open``,
        ``percent_complete`` (100 x filled / target; 100 for a target of 0). With a store, the
        figures include every process's decisions up to now.
        """
        with self._lock:
            self.refresh()
            return self._status()

    def _status(self) -> pd.DataFrame:
        rows = []
        if self.interlocked:
            name = " x ".join(self.variables)
            for key, t in self.targets.items():
                rows.append(("cell", name, CELL_SEPARATOR.join(key), t, self.filled[key], self.reserved[key]))
            for i, v in enumerate(self.variables):
                for c in self.categories[v]:
                    ks = [k for k in self.targets if k[i] == c]
                    rows.append((
                        "margin", v, c,
                        sum(self.targets[k] for k in ks),
                        sum(self.filled[k] for k in ks),
                        sum(self.reserved[k] for k in ks),
                    ))
        else:
            for (v, c), t in self.targets.items():
                rows.append(("margin", v, c, t, self.filled[(v, c)], self.reserved[(v, c)]))
        held = {"filled": 0, "reserved": 0}
        for record in self.participants.values():
            held[record["status"]] += 1
        rows.append(("total", "", "", self.n, held["filled"], held["reserved"]))
        frame = pd.DataFrame(rows, columns=["level", "variable", "category", "target", "filled", "reserved"])
        frame["open"] = frame["target"] - frame["filled"] - frame["reserved"]
        target = frame["target"].to_numpy(dtype=float)
        filled = frame["filled"].to_numpy(dtype=float)
        frame["percent_complete"] = np.where(target > 0, 100.0 * filled / np.where(target > 0, target, 1), 100.0)
        return frame

    def plot(self, ax: Axes | None = None) -> Axes:
        """Fill progress: filled and reserved against target, per cell (or margin)."""
        frame = self.status()
        frame = frame[frame["level"] == ("cell" if self.interlocked else "margin")]
        labels = frame["category"] if self.interlocked else frame["variable"] + "=" + frame["category"]
        ax = get_axes(ax, figsize=(6.0, max(3.0, 0.16 * len(frame))))
        y = np.arange(len(frame))
        ax.barh(y, frame["target"], color="#eeeeee", edgecolor="#999999", label="target")
        ax.barh(y, frame["filled"], color="#3182bd", label="filled")
        ax.barh(y, frame["reserved"], left=frame["filled"], color="#9ecae1", label="reserved")
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("participants")
        total = self.status().iloc[-1]
        ax.set_title(f"Quota fill: {int(total['filled'])} of {self.n} ({total['percent_complete']:.0f}%)")
        ax.legend(loc="lower right")
        return ax

    # ------------------------------------------------------------------ resizing
    def resize(self, n: int) -> None:
        """Change the sample size mid-fieldwork, moving targets monotonically.

        Growing adds places one at a time to the cell (category) with the highest Webster
        priority :math:`w / (t + 1/2)` (shares :math:`w`, current targets :math:`t`), so no target
        ever falls; shrinking removes places from the lowest :math:`w / (t - 1/2)` among cells
        whose target exceeds the places already filled or reserved, so nobody accepted loses a
        place. Non-interlocked quotas are resized per variable and must stay jointly fillable.
        """
        n = as_int(n, "n", minimum=1)
        with self._transaction() as events:
            self._margins_ok = None
            held = sum(1 for _ in self.participants)
            if n < held:
                fail(
                    InfeasibleError,
                    "n",
                    f"cannot be below the {held} participants already accepted or reserved",
                    bad=[n],
                )
            old = dict(self.targets)
            groups = [list(self.targets)] if self.interlocked else [
                [(v, c) for c in self.categories[v]] for v in self.variables
            ]
            try:
                for keys in groups:
                    self._resize_group(keys, n)
            except BaseException:
                self.targets = old
                raise
            if not self.interlocked and self.check_completability and not self._feasible(self._open()):
                self.targets = old
                fail(
                    InfeasibleError,
                    "n",
                    "the resized margin quotas could not be filled together from the allowed cells",
                    bad=[n],
                    fix="Choose another n, or set targets by hand.",
                )
            self.n = n
            events.append(("reload", None, None))

    def _resize_group(self, keys: list[Key], n: int) -> None:
        weights = {k: Fraction(self.shares.get(k, 0.0)) for k in keys}
        current = sum(self.targets[k] for k in keys)
        if n > current:
            heap = [
                _priority_key("webster", weights[k], self.targets[k], i)
                for i, k in enumerate(keys)
                if weights[k] > 0
            ]
            if not heap:
                fail(InfeasibleError, "n", "no cell has a positive share to grow", bad=[n])
            heapq.heapify(heap)
            for _ in range(n - current):
                i = heapq.heappop(heap)[3]
                self.targets[keys[i]] += 1
                heapq.heappush(heap, _priority_key("webster", weights[keys[i]], self.targets[keys[i]], i))
        for _ in range(current - n):
            candidates = [
                (weights[k] / Fraction(2 * self.targets[k] - 1, 2), weights[k], -i, k)
                for i, k in enumerate(keys)
                if self.targets[k] > self.filled[k] + self.reserved[k]
            ]
            *_, k = min(candidates)
            self.targets[k] -= 1

    # ------------------------------------------------------------------ persistence
    def _design(self) -> dict[str, Any]:
        """The quota design a store is made for (compared when another tracker opens it)."""
        return {
            "variables": list(self.variables),
            "interlocked": self.interlocked,
            "targets": [[list(k), t] for k, t in self.targets.items()],
            "allowed": None if self.allowed is None else sorted(list(c) for c in self.allowed),
            "check_completability": self.check_completability,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": STATE_VERSION,
            "variables": self.variables,
            "interlocked": self.interlocked,
            "method": self.method,
            "n": self.n,
            "categories": self.categories,
            "targets": [[list(k), t, self.shares.get(k, 0.0)] for k, t in self.targets.items()],
            "allowed": None if self.allowed is None else [list(c) for c in self.allowed],
            "check_completability": self.check_completability,
            "next_number": self.next_number,
            "design": self.design,
            "participants": [
                {"person_id": pid, **record} for pid, record in self.participants.items()
            ],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        """Take over a state checked by ``validate_state``."""
        self.variables = list(state["variables"])
        self.interlocked = state["interlocked"]
        self.method = state["method"]
        self.n = state["n"]
        self.categories = {v: list(c) for v, c in state["categories"].items()}
        self.targets = {tuple(k): int(t) for k, t, _ in state["targets"]}
        self.shares = {tuple(k): float(s) for k, _, s in state["targets"]}
        self.allowed = None if state["allowed"] is None else [tuple(c) for c in state["allowed"]]
        self.check_completability = state["check_completability"]
        self.next_number = state["next_number"]
        self.design = state["design"]
        self.participants = {
            record["person_id"]: {
                "cell": list(record["cell"]),
                "status": record["status"],
                "attributes": dict(zip(self.variables, record["cell"])),
            }
            for record in state["participants"]
        }
        self._recount()

    def _check_restored(self, origin: str) -> None:
        """A saved state is always completable (offers that would strand it are refused)."""
        if not self.interlocked and self.check_completability and not self._feasible(self._open()):
            fail(
                ValidationError,
                f"{origin}: state['allowed']",
                "the allowed cells cannot fill the open margin quotas together, which no saved "
                "tracker can reach",
                bad=[f"{len(self.allowed or [])} allowed cells"],
                fix="The state was edited or damaged. Restore the file from a copy.",
            )

    @classmethod
    def _blank(cls) -> QuotaTracker:
        tracker = cls.__new__(cls)
        tracker.autosave = None
        tracker._store = None
        tracker._lock = threading.RLock()
        tracker.migration = None
        return tracker

    def __getstate__(self) -> dict[str, Any]:
        # a copy sent to another process re-opens the store by its path (a new connection)
        return {k: v for k, v in self.__dict__.items() if k not in ("_store", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare_lookups()
        self._lock = threading.RLock()
        self._store = None
        if self.autosave is not None:
            self._store = open_store(self.autosave, create=False)
            self._store.stale = True  # catch up in full at the first transaction

    @contextmanager
    def _transaction(self) -> Iterator[list[Event]]:
        """One store transaction: take the write lock, catch up, decide, write what changed."""
        events: list[Event] = []
        with self._lock:  # one decision at a time per tracker, whatever the threads
            store = self._store
            if store is None:
                yield events
                return
            store.begin()
            try:
                self._catch_up()
                yield events
            except BaseException:
                store.rollback(stale=bool(events))
                raise
            store.commit(events, self._state)

    def _catch_up(self) -> None:
        """Apply the decisions other trackers on the store made since this one last looked."""
        store = self._store
        assert store is not None
        try:
            self._apply_changes(store)
        except BaseException:
            store.stale = True  # whatever was read is not applied: read everything next time
            raise

    def _apply_changes(self, store: SqliteStore | JsonStore) -> None:
        for kind, pid, payload in store.changes():
            try:
                if kind == "offer":
                    assert pid is not None and payload is not None
                    self._apply_offer(pid, tuple(payload["cell"]), payload["status"], payload["next_number"])
                elif kind == "confirm":
                    self._apply_confirm(str(pid))
                elif kind == "release":
                    self._apply_release(str(pid))
                else:
                    raise KeyError(kind)
            except (KeyError, TypeError, AssertionError):
                self._restore(validate_state(store.read_state(), store.origin))
                return

    def refresh(self) -> None:
        """Bring this tracker up to date with decisions made through other trackers on its store.

        Decisions, :meth:`status` and :attr:`complete` do this themselves; call it before reading
        attributes such as ``filled`` directly.
        """
        with self._lock:
            store = self._store
            if store is None:
                return
            store.begin(write=False)
            try:
                self._catch_up()
            finally:
                store.end()

    def _attach(self, path: Path, *, on_design_change: str, imported: bool = False) -> None:
        """Create the store at ``path`` from this tracker, or join (or migrate) the one there."""
        store = open_store(path, create=True)
        events: list[Event] = []
        try:
            store.begin()
            try:
                store.prepare()
                if store.is_empty():
                    events.append(("reload", None, None))
                elif imported:
                    fail(
                        ValidationError,
                        "autosave",
                        "already holds a quota store",
                        bad=[str(path)],
                        fix="Open it with QuotaTracker.load(path), or import into a new path.",
                    )
                else:
                    stored = validate_state(store.read_state(), store.origin)
                    changes = self._design_changes(stored)
                    if changes.empty:
                        self._restore(stored)
                        self._check_restored(store.origin)
                    elif on_design_change == "raise":
                        try:
                            fail(
                                DesignChangeError,
                                "autosave",
                                f"{path} holds a quota store made for different quotas",
                                bad=change_labels(changes),
                                fix="Pass on_design_change='migrate' to move the store to the new "
                                "quotas (everyone keeps their place), open it with "
                                "QuotaTracker.load(path) to keep its quotas, or use a new path.",
                            )
                        except DesignChangeError as exc:
                            exc.changes = changes
                            raise
                    else:
                        self._migrate(stored, changes, path)
                        events.append(("reload", None, None))
            except BaseException:
                store.rollback(stale=False)
                raise
            store.commit(events, self._state)
        except BaseException:
            store.close()
            raise
        self._store = store
        self.autosave = path

    def _held(self, state: dict[str, Any]) -> dict[Key, int]:
        held: dict[Key, int] = {}
        for record in state["participants"]:
            cell = tuple(record["cell"])
            keys = [cell] if state["interlocked"] else list(zip(state["variables"], cell))
            for key in keys:
                held[key] = held.get(key, 0) + 1
        return held

    def _design_changes(self, stored: dict[str, Any]) -> pd.DataFrame:
        """What differs between the design a store was made for and this tracker's."""
        old, new = stored["design"], self.design
        rows: list[tuple[str, str, Any, Any, int]] = []
        for name in ("variables", "interlocked", "check_completability"):
            if old[name] != new[name]:
                rows.append(("design", name, old[name], new[name], 0))

        def cells(allowed: Any) -> Any:
            return None if allowed is None else sorted(tuple(c) for c in allowed)

        if cells(old["allowed"]) != cells(new["allowed"]):
            count = [None if a is None else f"{len(a)} cells" for a in (old["allowed"], new["allowed"])]
            rows.append(("design", "allowed_cells", count[0] or "all", count[1] or "all", 0))
        held = self._held(stored)
        before = {tuple(k): t for k, t in old["targets"]}
        after = {tuple(k): t for k, t in new["targets"]}
        for key in dict.fromkeys([*before, *after]):
            if before.get(key) != after.get(key):
                interlocked = new["interlocked"] if key in after else old["interlocked"]
                name = CELL_SEPARATOR.join(key) if interlocked else f"{key[0]}={key[1]}"
                rows.append(("cell" if interlocked else "margin", name, before.get(key),
                             after.get(key), held.get(key, 0)))
        columns = list(zip(*rows)) if rows else [[]] * 5
        return pd.DataFrame({
            "level": pd.Series(columns[0], dtype=object),
            "name": pd.Series(columns[1], dtype=object),
            "old": pd.Series(columns[2], dtype=object),  # None where a cell is added or removed
            "new": pd.Series(columns[3], dtype=object),
            "held": pd.Series(columns[4], dtype=np.int64),
        })

    def _migrate(self, stored: dict[str, Any], changes: pd.DataFrame, path: Path) -> None:
        """Move the people held in ``stored`` onto this tracker's quotas (nobody loses a place)."""
        if stored["variables"] != self.variables or stored["interlocked"] != self.interlocked:
            fail(
                ValidationError,
                "quotas",
                f"cannot migrate the store at {path}: its people were counted by other variables "
                "(or with other interlocking)",
                bad=[f"{stored['variables']} -> {self.variables}"],
                fix="Start a new store at another path for the new design.",
            )
        held = self._held(stored)
        homeless = [k for k in held if k not in self.targets]
        if homeless:
            fail(
                InfeasibleError,
                "quotas",
                "cannot migrate: the new quotas have no place for people already accepted",
                bad=[CELL_SEPARATOR.join(k) for k in homeless],
                fix="Keep these cells (categories) in the new quotas.",
            )
        short = [
            f"{CELL_SEPARATOR.join(k)}: target {self.targets[k]}, {h} held"
            for k, h in held.items()
            if h > self.targets[k]
        ]
        if short:
            fail(
                InfeasibleError,
                "quotas",
                "cannot migrate: new targets below the places already filled or reserved",
                bad=short,
                fix="Raise these targets to at least the places held.",
            )
        self.next_number = max(self.next_number, stored["next_number"])
        for record in stored["participants"]:
            self._apply_offer(record["person_id"], tuple(record["cell"]), record["status"], 1)
        if not self.interlocked and self.check_completability and not self._feasible(self._open()):
            fail(
                InfeasibleError,
                "quotas",
                "cannot migrate: the people already held leave margin quotas that cannot be "
                "filled together",
                bad=[f"{len(self.participants)} held"],
                fix="Adjust the new targets, or use interlocked quotas.",
            )
        self.migration = changes

    def to_json(self) -> str:
        """The whole state (targets, shares, every accepted or reserved participant) as JSON."""
        with self._lock:
            self.refresh()
            return json.dumps(self._state(), indent=1)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Export :meth:`to_json` to ``path`` (durably, atomically, readable by the owner only)."""
        return write_private(path, self.to_json())

    @classmethod
    def from_json(cls, text: str, *, autosave: str | os.PathLike[str] | None = None) -> QuotaTracker:
        """Restore a tracker from :meth:`to_json` output (import into a new store at ``autosave``).

        The state is checked first (schema, whole non-negative targets, known cells and
        statuses, ``n`` against the targets, no cell over its target); a damaged state raises
        :class:`~estimators.ValidationError` naming the entry.
        """
        state = validate_state(parse_json(text, "text"), "text")
        tracker = cls._blank()
        tracker._restore(state)
        tracker._check_restored("text")
        if autosave is not None:
            tracker._attach(Path(autosave), on_design_change="raise", imported=True)
        return tracker

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, autosave: bool = True) -> QuotaTracker:
        """Open the store (SQLite) or state file (JSON) at ``path``, whichever it holds.

        With ``autosave=True`` (default) the tracker joins the store: its decisions are written
        there and it sees every other tracker's. With ``autosave=False`` it is a detached copy.
        The state is checked on load, as in :meth:`from_json`.
        """
        p = Path(path)
        store = open_store(p, create=False)
        try:
            store.begin()
            try:
                store.check()
                state = validate_state(store.read_state(), store.origin)
            except BaseException:
                store.rollback(stale=False)
                raise
            store.end()
        except BaseException:
            store.close()
            raise
        tracker = cls._blank()
        tracker._restore(state)
        try:
            tracker._check_restored(store.origin)
        except ValidationError:
            store.close()
            raise
        if autosave:
            tracker._store = store
            tracker.autosave = p
        else:
            store.close()
        return tracker

    @contextmanager
    def batch(self) -> Iterator[QuotaTracker]:
        """Flush the store to disk once, at the end of a run of decisions, not at every one.

        Inside the block every decision is still its own transaction: other processes see it at
        once, nothing is over-filled, and a crashed process loses nothing committed. Only the
        fsync is deferred to the end of the block, so a power cut inside the block may lose its
        decisions. Use it when decisions are reported only after the block (``equisample track``
        writes its log afterwards); a live service that answers each person should not.

        Examples
        --------
        >>> import os, tempfile
        >>> import pandas as pd
        >>> tracker = QuotaTracker(pd.DataFrame({"g": ["a"], "quota": [2]}),
        ...                        autosave=os.path.join(tempfile.mkdtemp(), "quotas.db"))
        >>> with tracker.batch():
        ...     accepted = [tracker.offer({"g": "a"}).accepted for _ in range(3)]
        >>> accepted
        [True, True, False]
        """
        store = self._store
        if store is None:
            yield self
            return
        store.defer_sync(True)
        try:
            yield self
        finally:
            store.defer_sync(False)
            store.flush()

    def close(self) -> None:
        """Detach from the store (the tracker keeps the state it last saw)."""
        if self._store is not None:
            self._store.close()
        self._store = None
        self.autosave = None

    def __repr__(self) -> str:
        held = len(self.participants)
        kind = "cells" if self.interlocked else "margins"
        return f"QuotaTracker({len(self.targets)} {kind}, n={self.n}, {held} accepted or reserved)"


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)
