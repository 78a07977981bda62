"""Benchmark: QuotaTracker decisions per second with and without a store, and with 8 processes.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/quota_store.py [--arrivals 3000]

1. One process, ``tracker.offer`` on census-like arrivals against UK quotas (n = arrivals):
   no store; a whole-state JSON rewrite after every decision (``to_json`` + atomic rename, no
   fsync: what a simple file-backed tracker does); the JSON store (same rewrite, plus fsync); the
   SQLite store with ``synchronous=FULL`` (default: fsync of the write-ahead log per commit) and
   with ``NORMAL`` (no fsync per commit: like-for-like with the plain rewrite, which never syncs).
2. ``equisample track`` on the same arrivals, ``--state`` none / SQLite.
3. 8 processes x 200 offers on one SQLite store: a 50-place cell (1,600 decisions, 50 accepted)
   and a 1,600-place cell (every decision a committed write), also inside ``tracker.batch()``
   (one fsync per worker at the end instead of one per commit).
Also prints the cost of one fsync on the file system used, which bounds the FULL figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sampling.quotas._store as store_module
from estimators.datasets._census import census
from sampling import QuotaTracker, design_quotas
from sampling.cli._io import atomic_write
from sampling.cli._main import main as cli

FORK = multiprocessing.get_context("fork")


def arrivals(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = census("uk", ["age", "sex", "ethnicity"], age_bands="prolific")
    quotas = design_quotas(table, n=n, method="minimum_then_proportional").to_frame()
    weights = table["count"].to_numpy(dtype=float)
    rows = np.random.default_rng(1).choice(len(table), size=n, p=weights / weights.sum())
    people = table.iloc[rows][["age", "sex", "ethnicity"]].reset_index(drop=True)
    return quotas, people


def offers_per_second(quotas, people, mode: str, directory: Path) -> float:
    records = people.to_dict("records")
    old_path = directory / "old.json"
    if mode == "none" or mode == "old json rewrite":
        tracker = QuotaTracker(quotas)
    elif mode == "json store":
        tracker = QuotaTracker(quotas, autosave=directory / "s.json")
    else:
        store_module.SYNCHRONOUS = mode.split()[-1]
        tracker = QuotaTracker(quotas, autosave=directory / f"s-{mode.split()[-1]}.db")
    start = time.perf_counter()
    for person in records:
        tracker.offer(person)
        if mode == "old json rewrite":
            text = tracker.to_json()
            atomic_write(old_path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
    seconds = time.perf_counter() - start
    store_module.SYNCHRONOUS = "FULL"
    tracker.close()
    return len(records) / seconds


def _worker(path: str, worker: int, offers: int, go, batch: bool) -> None:
    tracker = QuotaTracker.load(path)
    go.wait()
    if batch:
        with tracker.batch():
            for i in range(offers):
                tracker.offer({"g": "a"}, person_id=f"w{worker}-{i}")
    else:
        for i in range(offers):
            tracker.offer({"g": "a"}, person_id=f"w{worker}-{i}")


def processes(
    directory: Path, places: int, *, batch: bool = False, workers: int = 8, offers: int = 200
) -> tuple[float, int]:
    path = directory / f"shared-{places}-{batch}.db"
    QuotaTracker(pd.DataFrame({"g": ["a"], "quota": [places]}), autosave=path).close()
    go = FORK.Event()
    procs = [
        FORK.Process(target=_worker, args=(str(path), w, offers, go, batch)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let every worker open the store
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - start
    filled = int(QuotaTracker.load(path).status().iloc[0]["filled"])
    return workers * offers / seconds, filled


def fsync_ms(directory: Path) -> float:
    fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
    start = time.perf_counter()
    for _ in range(50):
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
    os.close(fd)
    return (time.perf_counter() - start) / 50 * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arrivals", type=int, default=3000)
    parser.add_argument("--json", action="store_true", help="also time the JSON store (slow)")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.platform()}")
    quotas, people = arrivals(args.arrivals)
    with tempfile.TemporaryDirectory(dir=".") as name:
        directory = Path(name)
        print(f"fsync of a 4 KiB write: {fsync_ms(directory):.1f} ms")
        modes = ["none", "sqlite FULL", "sqlite NORMAL", "old json rewrite"]
        if args.json:
            modes.append("json store")
        for mode in modes:
            rate = offers_per_second(quotas, people, mode, directory)
            print(f"1 process, {args.arrivals} offers, {mode:>16}: {rate:8.0f} offers/s "
                  f"({args.arrivals / rate:6.1f} s)")
        people.assign(id=[f"x{i}" for i in range(len(people))]).to_csv(directory / "a.csv", index=False)
        quotas.to_csv(directory / "q.csv", index=False)
        for state in (None, "STATE.db"):
            command = ["track", "--quotas", str(directory / "q.csv"), "--arrivals",
                       str(directory / "a.csv"), "--log", str(directory / "log.csv"),
                       "--status", str(directory / "status.csv")]
            if state:
                command += ["--state", str(directory / state)]
            start = time.perf_counter()
            assert cli(command) == 0
            print(f"equisample track, {args.arrivals} arrivals, --state {state}: "
                  f"{time.perf_counter() - start:.1f} s")
        for places, batch in ((50, False), (1600, False), (1600, True)):
            rate, filled = processes(directory, places, batch=batch)
            print(f"8 processes x 200 offers, {places}-place cell{' (batch)' if batch else ''}: "
                  f"{rate:6.0f} decisions/s, {filled} accepted")


if __name__ == "__main__":
    main()
