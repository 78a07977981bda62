"""Benchmark: rake N synthetic rows to 4 margins (8 x 2 x 16 x 6 levels), equisample vs peers.

One run measures, side by side on the same data:

* equisample ``rake`` from pandas Categorical columns and from plain string (object) columns;
* the "floor": factorising the four columns plus one ``np.bincount`` pass (same run);
* peak traced memory of ``rake`` (tracemalloc) against the in-memory size of the four columns;
* peers, each in its own virtual environment made by ``benchmarks/peers/install.py`` (balance,
  svy, weightipy, rimpy) and R ``survey::rake`` via ``Rscript``, each timing only its raking call.

Every timing is the best of ``--repeats`` runs, as wall time and CPU time (``time.process_time``;
R: user + system). The machine is shared, so CPU time is the steadier figure. The biased sample
is drawn with skewed category probabilities; the targets are different skewed shares. The
tolerance asked of every tool is a max relative margin error of 1e-6 (each peer's own criterion
set as tight as it allows); the achieved max relative error is measured on every result.

Run (BLAS threads pinned to 1)::

    python benchmarks/peers/install.py balance svy weightipy rimpy --with-r   # once
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/weighting_rake.py \\
        --sizes 100000 1000000 10000000 --peer-sizes 100000 1000000 --markdown out.md
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import rake

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import missing_message, peer_python

COLUMNS = {"age": 8, "sex": 2, "region": 16, "education": 6}
TOL = 1e-6


def skewed(k: int, power: float) -> np.ndarray:
    p = np.linspace(1.0, power, k)
    return p / p.sum()


def make_codes(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for j, (name, k) in enumerate(COLUMNS.items()):
        out[name] = rng.choice(k, size=n, p=skewed(k, 3.0 + j)).astype(np.int8)
    return out


def labels(name: str, k: int) -> list[str]:
    return [f"{name[:3]}{i:02d}" for i in range(k)]


def targets() -> dict[str, dict[str, float]]:
    return {
        name: dict(zip(labels(name, k), skewed(k, 1 / (2.0 + j)).tolist()))
        for j, (name, k) in enumerate(COLUMNS.items())
    }


def frames(codes: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    cat = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(codes[name], categories=labels(name, k))
            for name, k in COLUMNS.items()
        }
    )
    strings = pd.DataFrame(
        {
            name: np.array(labels(name, k), dtype=object).take(codes[name].astype(np.intp))
            for name, k in COLUMNS.items()
        }
    )
    return cat, strings


def max_relative_error(df: pd.DataFrame, w: np.ndarray, margins: dict) -> float:
    total = w.sum()
    worst = 0.0
    for name, shares in margins.items():
        got = pd.Series(w).groupby(df[name].astype(str).to_numpy()).sum() / total
        for cat, share in shares.items():
            worst = max(worst, abs(float(got.get(cat, 0.0)) - share) / share)
    return worst


def best_of(fn, repeats: int) -> tuple[float, float, object]:
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w1, c1 = time.perf_counter(), time.process_time()
        wall, cpu = min(wall, w1 - w0), min(cpu, c1 - c0)
    return wall, cpu, out


def floor(df: pd.DataFrame) -> np.ndarray:
    """Factorise the four columns and combine them into one bincount pass."""
    key = np.zeros(len(df), dtype=np.intp)
    for name in COLUMNS:
        col = df[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes, k = col.cat.codes.to_numpy(), len(col.cat.categories)
        else:
            codes, uniques = pd.factorize(col)
            k = len(uniques)
        key *= k
        key += codes
    return np.bincount(key)


def peak_memory(fn) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# -- peers -------------------------------------------------------------------------------------
PEER_PRELUDE = """
import json, sys, time, gc
import numpy as np, pandas as pd
path, margins_path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
margins = json.load(open(margins_path))
cols = list(margins)
df = pd.read_csv(path, dtype=str)
def best_of(fn):
    wall, cpu, out = float('inf'), float('inf'), None
    for _ in range(repeats):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w1, c1 = time.perf_counter(), time.process_time()
        wall, cpu = min(wall, w1 - w0), min(cpu, c1 - c0)
    return wall, cpu, out
from importlib.metadata import version as _version
def report(name, version, wall, cpu, w):
    version = _version(name)
    w = np.asarray(w, dtype=float)
    worst = 0.0
    for c in cols:
        got = pd.Series(w).groupby(df[c].to_numpy()).sum() / w.sum()
        for k, s in margins[c].items():
            worst = max(worst, abs(float(got.get(k, 0.0)) - s) / s)
    print(json.dumps({"peer": name, "version": version, "wall": wall, "cpu": cpu,
                      "max_rel_error": worst}))
"""

PEERS = {
    "weightipy": """
import weightipy as wp
scheme = wp.scheme_from_dict({c: {k: 100 * v for k, v in m.items()} for c, m in margins.items()},
                             rim_params={"convcrit": 1e-9, "max_iterations": 1000})
def run():
    return wp.weight_dataframe(df[cols], scheme, weight_column="w")["w"].to_numpy()
wall, cpu, w = best_of(run)
report("weightipy", None, wall, cpu, w)
""",
    "balance": """
import itertools, balance
from balance.weighting_methods.rake import rake
cells = list(itertools.product(*[list(m) for m in margins.values()]))
target_df = pd.DataFrame(cells, columns=cols)
tw = np.ones(len(cells))
for j, c in enumerate(cols):
    tw *= target_df[c].map(margins[c]).to_numpy()
target_weights = pd.Series(tw * len(df))
def run():
    out = rake(df[cols], pd.Series(np.ones(len(df))), target_df, target_weights, variables=cols,
               transformations=None, max_iteration=1000, convergence_rate=1e-8,
               rate_tolerance=0.0)
    return out["weight"].to_numpy()
wall, cpu, w = best_of(run)
report("balance", None, wall, cpu, w)
""",
    "svy": """
import polars as pl, svy
frame = pl.from_pandas(df[cols]).with_columns(pl.lit(1.0).alias("w0"))
sample = svy.Sample(frame, svy.Design(wgt="w0"))
def run():
    out = sample.weighting.rake(shares=margins, tol=1e-6, max_iter=1000, wgt_name="rk_wgt")
    return out.data["rk_wgt"].to_numpy()
wall, cpu, w = best_of(run)
report("svy", None, wall, cpu, w)
""",
    "rimpy": """
import polars as pl, rimpy
frame = pl.from_pandas(df[cols])  # rimpy's native frame (pandas input goes through narwhals)
def run():
    out = rimpy.rake(frame, margins, max_iterations=1000, convergence_threshold=1e-6)
    return out["weight"].to_numpy()
wall, cpu, w = best_of(run)
report("rimpy", None, wall, cpu, w)
""",
}

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
df <- read.csv(args[1], colClasses = "character")
m <- jsonlite::fromJSON(args[2])
repeats <- as.integer(args[3])
n <- nrow(df)
df$one <- 1
des <- svydesign(ids = ~1, weights = ~one, data = df)
cols <- names(m)
pop <- lapply(cols, function(c) {
  d <- data.frame(names(m[[c]]), unlist(m[[c]]) * n); names(d) <- c(c, "Freq"); d })
forms <- lapply(cols, function(c) as.formula(paste0("~", c)))
best_wall <- Inf; best_cpu <- Inf
for (r in seq_len(repeats)) {
  gc()
  t0 <- proc.time()
  out <- rake(des, forms, pop, control = list(maxit = 1000, epsilon = 1e-7))
  t1 <- proc.time() - t0
  best_wall <- min(best_wall, t1[["elapsed"]])
  best_cpu <- min(best_cpu, t1[["user.self"]] + t1[["sys.self"]])
}
w <- weights(out)
worst <- 0
for (c in cols) {
  got <- tapply(w, df[[c]], sum) / sum(w)
  tg <- unlist(m[[c]])
  worst <- max(worst, max(abs(got[names(tg)] - tg) / tg))
}
cat(jsonlite::toJSON(list(peer = "R survey::rake", version = as.character(packageVersion("survey")),
    wall = best_wall, cpu = best_cpu, max_rel_error = worst), auto_unbox = TRUE, digits = NA), "\n")
"""


def run_peer(name: str, csv: Path, margins_json: Path, repeats: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if name == "R":
        with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
            fh.write(R_SCRIPT)
        cmd = ["Rscript", fh.name, str(csv), str(margins_json), str(repeats)]
    else:
        python = peer_python(name)
        if not python.exists():
            return {"peer": name, "error": missing_message(name)}
        cmd = [str(python), "-c", PEER_PRELUDE + PEERS[name], str(csv), str(margins_json),
               str(repeats)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800,
                              cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"peer": name, "error": "timed out after 1800 s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"peer": name, "error": tail[0][:200]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    parser.add_argument("--peer-sizes", type=float, nargs="*", default=[1e5, 1e6])
    parser.add_argument("--peers", nargs="*", default=["balance", "svy", "weightipy", "rimpy", "R"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", help="write the result table (markdown) to this file")
    parser.add_argument("--json", help="write raw results (JSON) to this file")
    args = parser.parse_args()
    margins = targets()
    results: list[dict] = []
    workdir = Path(tempfile.mkdtemp(prefix="equisample_bench_"))
    margins_json = workdir / "margins.json"
    margins_json.write_text(json.dumps(margins))
    for size in args.sizes:
        n = int(size)
        codes = make_codes(n)
        cat, strings = frames(codes)
        del codes
        input_bytes = {
            "categorical": int(cat.memory_usage(deep=True, index=False).sum()),
            "string": int(strings.memory_usage(deep=True, index=False).sum()),
        }
        for kind, df in (("categorical", cat), ("string", strings)):
            wall, cpu, fit = best_of(lambda df=df: rake(df, margins, tol=TOL), args.repeats)
            f_wall, f_cpu, _ = best_of(lambda df=df: floor(df), args.repeats)
            peak = peak_memory(lambda df=df: rake(df, margins, tol=TOL))
            err = max_relative_error(df, fit.weights.to_numpy(), margins)
            row = {"n": n, "tool": f"equisample ({kind})", "wall": wall, "cpu": cpu,
                   "floor_wall": f_wall, "floor_cpu": f_cpu, "peak_bytes": peak,
                   "input_bytes": input_bytes[kind], "max_rel_error": err,
                   "iterations": fit.n_iter}
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)  # progress
            del fit
        if n in [int(s) for s in args.peer_sizes] and args.peers:
            csv = workdir / f"sample_{n}.csv"
            strings.to_csv(csv, index=False)
            for peer in args.peers:
                res = run_peer(peer, csv, margins_json, args.repeats)
                res["n"] = n
                res["tool"] = res.pop("peer", peer)
                results.append(res)
                print(json.dumps(res), file=sys.stderr, flush=True)
            csv.unlink()
        del cat, strings
        gc.collect()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    table = markdown(results, args)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table)


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    try:
        cpu_name = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        machine = f"{cpu_name}; {machine}"
    except (OSError, StopIteration):
        pass
    lines = [
        f"Machine: {machine}. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Best of {args.repeats} runs; the machine was shared by other jobs, so CPU time is the "
        "steadier figure.",
        "",
        "| N | tool | wall s | CPU s | max rel. margin error | floor CPU s | x floor (CPU) "
        "| peak MiB | input MiB | peak / input | (peak - output) / input |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['n']:,} | {r['tool']} | — | — | not run: {r['error']} | | | | | | |")
            continue
        floor_cpu = r.get("floor_cpu")
        ratio = f"{r['cpu'] / floor_cpu:.2f}" if floor_cpu else ""
        peak = r.get("peak_bytes")
        inp = r.get("input_bytes")
        lines.append(
            f"| {r['n']:,} | {r['tool']}"
            + (f" {r['version']}" if r.get("version") else "")
            + f" | {r['wall']:.3g} | {r['cpu']:.3g} | {r['max_rel_error']:.1e} | "
            + (f"{floor_cpu:.3g}" if floor_cpu else "")
            + f" | {ratio} | "
            + (f"{peak / 2**20:.1f}" if peak else "")
            + " | "
            + (f"{inp / 2**20:.1f}" if inp else "")
            + " | "
            + (f"{peak / inp:.2f}" if peak and inp else "")
            + " | "
            # the returned float64 weights (8 bytes per row) are part of the peak by necessity
            + (f"{(peak - 8 * r['n']) / inp:.2f}" if peak and inp else "")
            + " |"
        )
    lines += ["", *ratios(results)]
    return "\n".join(lines) + "\n"


def ratios(results: list[dict]) -> list[str]:
    """Speed-up of equisample (Categorical columns) over the fastest Python peer and over R."""
    out = []
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n and "error" not in r]
        ours = next((r for r in rows if r["tool"] == "equisample (categorical)"), None)
        strings = next((r for r in rows if r["tool"] == "equisample (string)"), None)
        peers = [r for r in rows if not r["tool"].startswith("equisample") and not r["tool"].startswith("R ")]
        r_row = next((r for r in rows if r["tool"].startswith("R ")), None)
        if ours is None or not (peers or r_row):
            continue
        parts = [f"N = {n:,}:"]
        if peers:
            fastest = min(peers, key=lambda r: r["cpu"])
            parts.append(
                f"{fastest['cpu'] / ours['cpu']:.0f}x less CPU than the fastest Python peer "
                f"({fastest['tool']}) from Categorical columns"
                + (f", {fastest['cpu'] / strings['cpu']:.0f}x from string columns" if strings else "")
            )
        if r_row:
            parts.append(f"{r_row['cpu'] / ours['cpu']:.0f}x less CPU than R survey::rake")
        out.append("- " + " ".join(parts[:1]) + " " + "; ".join(parts[1:]) + ".")
    return out


if __name__ == "__main__":
    main()
