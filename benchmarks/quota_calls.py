"""Benchmark: two small quota calls against the arithmetic they do.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/quota_calls.py [--baseline REV]

Calls (CPU time per call in microseconds, all in one process; each call and its floor are timed
back to back many times: the table gives the best of each and the median of the paired ratios,
which a loaded machine disturbs least):

1. ``design_quotas(census("uk"), n=500, variables=["age", "sex", "ethnicity"])``: 60 cells, a
   joint table with count and share columns; the DataWarning it raises (5 populated cells get no
   place at n = 500) is filtered out. Floor (``floor_design``): factorise the three variable
   columns (``pd.factorize`` on their numpy values), add the counts up per cell with
   ``np.bincount``, Hamilton (largest remainder) apportionment of n in numpy, and the one-way
   margin counts and quotas with ``np.bincount``.
2. ``QuotaTracker.offer(person)`` on an in-memory tracker (no store) from the same table with
   n = 10^8 (every offer is accepted), interlocked cells and non-interlocked margins (every
   combination allowed, completability checked), persons cycling over the 60 cells as dicts.
   Floor (``FloorTracker.offer``): a plain-Python decision on dicts: the person's cell from its
   attributes, the room left (target - filled - reserved) of the cell (or of each margin), record
   the person id, count them, return a small tuple.

With ``--baseline REV`` the package as of git revision REV (e.g. ``HEAD~3``) is exported to a
temporary folder and timed in a subprocess, interleaved with the current code (rounds of both,
best of each), and the outputs of both are compared on a grid of settings: every ``design_quotas``
method, interlocked or not, minimum, joint tables (sorted, shuffled, summed over a variable,
non-string labels), margins mappings and long margins frames (independence and raking a seed),
error messages and warnings; and sequences of tracker decisions (offers, reservations,
confirmations, releases, full cells and margins, duplicates, unknown and missing attributes,
restricted allowed cells). Frames must be identical column by column (dtype and bytes).
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import subprocess
import sys
import tempfile
import time
import timeit
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

VARIABLES = ["age", "sex", "ethnicity"]


# --------------------------------------------------------------------------- floors


def floor_design(frame: pd.DataFrame, n: int, variables: list[str]) -> tuple[Any, ...]:
    """Cell shares, Hamilton quotas and one-way margins of a joint table, in plain numpy."""
    codes, sizes = [], []
    for var in variables:
        code, labels = pd.factorize(frame[var].to_numpy(), sort=True)
        codes.append(code)
        sizes.append(len(labels))
    cell, ids = np.unique(np.ravel_multi_index(codes, sizes), return_inverse=True)
    counts = np.bincount(ids, weights=frame["count"].to_numpy())
    share = counts / counts.sum()
    exact = n * share
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(quota - exact, kind="stable")
    quota[order[: n - int(quota.sum())]] += 1
    cell_codes = np.unravel_index(cell, sizes)
    margin_share = [np.bincount(c, weights=share, minlength=k) for c, k in zip(cell_codes, sizes)]
    margin_quota = [np.bincount(c, weights=quota, minlength=k) for c, k in zip(cell_codes, sizes)]
    return share, quota, margin_share, margin_quota


class FloorTracker:
    """The accept/reject decision of an in-memory quota tracker, on plain dicts."""

    def __init__(self, variables: list[str], targets: dict[Any, int], interlocked: bool) -> None:
        self.variables = variables
        self.targets = targets
        self.filled = dict.fromkeys(targets, 0)
        self.reserved = dict.fromkeys(targets, 0)
        self.interlocked = interlocked
        self.people: dict[str, Any] = {}
        self.number = 0

    def offer(self, person: dict[str, str]) -> tuple[bool, str, Any]:
        cell = tuple(person[v] for v in self.variables)
        keys = [cell] if self.interlocked else list(zip(self.variables, cell))
        for key in keys:
            if key not in self.targets or self.targets[key] - self.filled[key] - self.reserved[key] <= 0:
                return False, "", cell
        self.number += 1
        pid = f"p{self.number}"
        self.people[pid] = cell
        for key in keys:
            self.filled[key] += 1
        return True, pid, cell


# --------------------------------------------------------------------------- timing


def cpu_us(fn: Any, number: int) -> float:
    """CPU time (process time: less disturbed by other load) per call, in microseconds."""
    return timeit.timeit(fn, number=number, timer=time.process_time) / number * 1e6


def census_table() -> pd.DataFrame:
    from estimators.datasets import census

    return census("uk")


def calls(with_floors: bool) -> dict[str, tuple[Any, Any, int]]:
    """label -> (public call, floor or None, calls per timing)."""
    from estimators.errors import DataWarning
    from sampling import QuotaTracker, design_quotas

    table = census_table()
    warnings.simplefilter("ignore", DataWarning)
    out: dict[str, tuple[Any, Any, int]] = {
        "design_quotas": (
            lambda: design_quotas(table, n=500, variables=VARIABLES),
            (lambda: floor_design(table, 500, VARIABLES)) if with_floors else None,
            4,
        )
    }
    people = table[VARIABLES].to_dict("records")
    for interlocked in (True, False):
        plan = design_quotas(table, n=10**8, variables=VARIABLES, interlocked=interlocked)
        tracker = QuotaTracker(plan)
        floor = FloorTracker(VARIABLES, dict(plan.quotas.items()), interlocked)
        ours_arrivals, floor_arrivals = itertools.cycle(people), itertools.cycle(people)
        label = "offer (cells)" if interlocked else "offer (margins)"
        out[label] = (
            lambda t=tracker, a=ours_arrivals: t.offer(next(a)),
            (lambda f=floor, a=floor_arrivals: f.offer(next(a))) if with_floors else None,
            200,
        )
    return out


def measure(repeat: int, with_floors: bool) -> dict[str, dict[str, Any]]:
    """Best CPU time of the call and of its floor, timed alternately, and their paired ratios."""
    out = {}
    for label, (ours, floor, number) in calls(with_floors).items():
        pairs = []
        for _ in range(repeat):
            a = cpu_us(ours, number)
            b = cpu_us(floor, number) if floor is not None else np.nan
            pairs.append((a, b))
        a, b = np.array(pairs).T
        out[label] = {"ours": a.min(), "floor": b.min(), "ratios": a / b}
    return out


# --------------------------------------------------------------------------- equality grid


def _design_inputs() -> list[tuple[str, Any, dict[str, Any]]]:
    from estimators.datasets import census, census_margins

    uk = census("uk")
    rng = np.random.default_rng(7)
    shuffled = uk.sample(frac=1.0, random_state=3).reset_index(drop=True)
    coded = uk.assign(sex=uk["sex"].map({"Female": 2, "Male": 1}), age=uk["age"].astype(object))
    prolific = census("uk", ["age", "sex"], age_bands="prolific")
    margins = census_margins("uk")
    long = pd.DataFrame(
        [(v, c, s) for v, cats in margins.items() for c, s in cats.items()], columns=["variable", "category", "share"]
    )
    counts = uk.assign(count=rng.integers(0, 50, len(uk)).astype(float))
    return [
        ("uk", uk, {"variables": VARIABLES}),
        ("uk age x sex (summed over ethnicity)", uk, {"variables": ["age", "sex"]}),
        ("uk ethnicity", uk, {"variables": ["ethnicity"]}),
        ("uk shuffled rows", shuffled, {"variables": ["sex", "ethnicity", "age"]}),
        ("uk shuffled, summed", shuffled, {"variables": ["ethnicity", "sex"]}),
        ("uk integer sex labels", coded, {"variables": VARIABLES}),
        ("uk share column", uk.drop(columns="count"), {}),
        ("small integer counts", counts, {"variables": VARIABLES, "value": "count"}),
        ("prolific", prolific, {}),
        ("margins mapping", margins, {}),
        ("margins mapping, raking", margins, {"seed_table": counts}),
        ("long margins frame", long, {"variables": ["sex", "age"]}),
    ]


def _record(fn: Any) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            plan = fn()
        except Exception as exc:  # errors are part of the compared output
            return {"error": (type(exc).__name__, str(exc))}
    out = {"warnings": [(type(w.message).__name__, str(w.message)) for w in caught]}
    for name in ("n", "variables", "method", "interlocked", "minimum", "joint_source"):
        out[name] = getattr(plan, name)
    out["cells"] = plan.cells
    out["margins"] = plan.margins
    return out


def design_outputs() -> dict[str, Any]:
    from sampling import design_quotas
    from sampling.quotas._design import QUOTA_METHODS

    results = {}
    for label, table, options in _design_inputs():
        for method, interlocked, minimum, n in itertools.product(
            QUOTA_METHODS, (True, False), (None, 0, 1, 3), (7, 97, 500)
        ):
            if method == "controlled" and (n == 7 or label.startswith("margins")):
                continue
            kwargs = dict(options, n=n, method=method, interlocked=interlocked, minimum=minimum)
            if method == "controlled":
                kwargs["on_infeasible"] = "warn"
            key = f"{label} | {method} interlocked={interlocked} minimum={minimum} n={n}"
            results[key] = _record(lambda t=table, k=kwargs: design_quotas(t, **k))
    bad = census_table().copy()
    bad.loc[3, "sex"] = None
    results["missing label"] = _record(lambda: design_quotas(bad, n=10))
    results["negative count"] = _record(lambda: design_quotas(census_table().assign(count=-1.0), n=10))
    return results


def tracker_outputs() -> dict[str, Any]:
    from sampling import QuotaTracker, design_quotas

    table = census_table()
    people = table[VARIABLES].to_dict("records")
    rng = np.random.default_rng(11)
    odd = [{"age": "18-24"}, {"age": "18-24", "sex": "Other", "ethnicity": "White"},
           {"age": " ", "sex": "Male", "ethnicity": "White"}, {"age": 5.0, "sex": "Male", "ethnicity": "Asian"}]
    results = {}
    warnings.simplefilter("ignore")
    settings = [
        ("cells", dict(variables=VARIABLES, interlocked=True), {}),
        ("margins", dict(variables=VARIABLES, interlocked=False), {}),
        ("margins, allowed cells", dict(variables=["age", "sex"], interlocked=False),
         {"allowed_cells": [("18-24", "Female"), ("25-34", "Male"), ("35-44", "Female"), ("45-54", "Male"),
                            ("55-64", "Female"), ("65+", "Male"), ("65+", "Female")]}),
    ]
    for label, design, options in settings:
        tracker = QuotaTracker(design_quotas(table, n=60, **design), **options)
        log = []
        reserved = []
        for _ in range(400):
            pick = rng.random()
            if pick < 0.05:
                person = odd[int(rng.integers(len(odd)))]
            else:
                person = people[int(rng.integers(len(people)))]
            pid = f"x{int(rng.integers(0, 40))}" if rng.random() < 0.3 else None
            if rng.random() < 0.25:
                decision = tracker.reserve(person, person_id=pid)
                if decision.accepted:
                    reserved.append(decision.person_id)
            else:
                decision = tracker.offer(person, person_id=pid)
            log.append(decision.to_dict())
            if reserved and rng.random() < 0.2:
                who = reserved.pop(int(rng.integers(len(reserved))))
                act = tracker.confirm if rng.random() < 0.5 else tracker.release
                log.append(act(who).to_dict())
        results[label] = {"log": log, "status": tracker.status(), "json": tracker.to_json()}
    return results


def same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        if not isinstance(b, pd.DataFrame) or list(a.columns) != list(b.columns):
            return False
        if a.columns.dtype != b.columns.dtype or type(a.index) is not type(b.index) or not a.index.equals(b.index):
            return False
        for col in a.columns:
            x, y = a[col], b[col]
            if x.dtype != y.dtype:
                return False
            if isinstance(x.dtype, np.dtype) and x.dtype.kind in "iufb":
                if x.to_numpy().tobytes() != y.to_numpy().tobytes():
                    return False
            elif x.tolist() != y.tolist():
                return False
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


# --------------------------------------------------------------------------- driver


def worker(path: str, repeat: int, outputs: bool) -> None:
    result: dict[str, Any] = {"timings": {k: v["ours"] for k, v in measure(repeat, False).items()}}
    if outputs:
        result["design"] = design_outputs()
        result["tracker"] = tracker_outputs()
    Path(path).write_bytes(pickle.dumps(result))


def export(rev: str, folder: str) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "estimators", "sampling", "equisample"],
        check=True, capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)


def run_worker(pythonpath: str, repeat: int, outputs: bool) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        path = handle.name
    env = dict(os.environ, PYTHONPATH=pythonpath, OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, __file__, "--worker", path, "--repeat", str(repeat)]
    if outputs:
        command.append("--outputs")
    subprocess.run(command, check=True, env=env)
    result = pickle.loads(Path(path).read_bytes())
    os.unlink(path)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision to compare with (timings and outputs)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (with --baseline)")
    parser.add_argument("--repeat", type=int, default=100, help="timings per call (best is kept)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--outputs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repeat, args.outputs)
        return
    root = str(Path(__file__).resolve().parent.parent)
    ours: dict[str, float] = {}
    floors: dict[str, float] = {}
    ratios: dict[str, list[float]] = {}
    before: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.baseline:
            export(args.baseline, folder)
        for round_ in range(args.rounds if args.baseline else 1):
            if args.baseline:
                old = run_worker(folder, args.repeat, outputs=round_ == 0)
                for k, v in old["timings"].items():
                    before[k] = min(before.get(k, np.inf), v)
                if round_ == 0:
                    new = run_worker(root, 3, outputs=True)
                    for part in ("design", "tracker"):
                        differ = [k for k in old[part] if not same(old[part][k], new[part].get(k))]
                        print(f"{part}: {len(old[part])} settings compared, {len(differ)} differ")
                        for k in differ[:10]:
                            print("  differs:", k)
            for k, v in measure(args.repeat, True).items():
                ours[k] = min(ours.get(k, np.inf), v["ours"])
                floors[k] = min(floors.get(k, np.inf), v["floor"])
                ratios.setdefault(k, []).extend(v["ratios"])
    print()
    head = "| call | ours (us) | floor (us) | ratio | median paired ratio |"
    rule = "|---|---:|---:|---:|---:|"
    if before:
        head = f"| call | before {args.baseline} (us) | ours (us) | floor (us) | before / floor | ratio | median paired ratio |"
        rule = "|---|---:|---:|---:|---:|---:|---:|"
    print(head)
    print(rule)
    for k, v in ours.items():
        cells = [f"{v:.1f}", f"{floors[k]:.1f}", f"{v / floors[k]:.2f}", f"{np.median(ratios[k]):.2f}"]
        if before:
            cells = [f"{before[k]:.1f}", cells[0], cells[1], f"{before[k] / floors[k]:.1f}", *cells[2:]]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("\nours, floor: best CPU time per call; ratio = best / best; median paired ratio: median over "
          "repeats of ours / floor timed back to back.")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average (1 min) {load:.1f} on {os.cpu_count()} CPUs; pandas {pd.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
