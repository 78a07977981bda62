"""Benchmark: calibrate N synthetic rows to 4 categorical margins + 1 numeric total, vs R survey.

Data: the same biased sample as ``weighting_rake.py`` (margins of 8 x 2 x 16 x 6 levels drawn
with skewed probabilities) plus a numeric column ``income`` (integers 10..199, depending on
region and education). Base weights are ``N_pop / N`` (N_pop = 10 N). Targets: population
shares halfway between the sample's and ``weighting_rake.py``'s targets, times N_pop, and an
income total 1 % above the raking-weighted one (so every method and the bounds are feasible).
Bounds (bounded raking, logit): the g-range of unbounded raking shrunk by 10 % towards 1.

Each case is run by equisample ``calibrate`` and by R ``survey::calibrate`` (``Rscript``; only the
``calibrate()`` call is timed, with ``epsilon = 1e-10``; R's call also builds the dense n x p model
matrix and its QR, which is part of what an R user waits for). Timings are the best of
``--repeats`` runs as wall and CPU time (R: user + system). The machine is shared, so CPU time is
the steadier figure. Weights of the two tools are compared (max relative difference).

Run (BLAS threads pinned to 1)::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/weighting_calibrate.py \\
        --sizes 100000 1000000 --markdown out.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import DataWarning, calibrate

# unbounded linear calibration to these skewed targets gives some negative weights, as R's does
warnings.simplefilter("ignore", DataWarning)

COLUMNS = {"age": 8, "sex": 2, "region": 16, "education": 6}
TOL = 1e-10
CASES = [("linear", None), ("raking", None), ("raking", "bounded"), ("logit", "bounded")]


def skewed(k: int, power: float) -> np.ndarray:
    p = np.linspace(1.0, power, k)
    return p / p.sum()


def labels(name: str, k: int) -> list[str]:
    return [f"{name[:3]}{i:02d}" for i in range(k)]


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    codes = {}
    for j, (name, k) in enumerate(COLUMNS.items()):
        codes[name] = rng.choice(k, size=n, p=skewed(k, 3.0 + j)).astype(np.int8)
        data[name] = pd.Categorical.from_codes(codes[name], categories=labels(name, k))
    income = 10 + 5 * codes["region"] + 20 * codes["education"] + rng.integers(0, 60, n)
    data["income"] = income.astype(np.float64)
    return pd.DataFrame(data)


def make_totals(frame: pd.DataFrame, population: float) -> tuple[dict, float]:
    # halfway between the sample's skew and weighting_rake.py's target skew: R's undamped Newton
    # diverges on the full target skew (g up to 13), where equisample's damped Newton converges
    totals: dict = {
        name: {
            lab: float(0.5 * s + 0.5 * q) * population
            for lab, s, q in zip(labels(name, k), skewed(k, 1 / (2.0 + j)), skewed(k, 3.0 + j))
        }
        for j, (name, k) in enumerate(COLUMNS.items())
    }
    base = np.full(len(frame), population / len(frame))
    raked = calibrate(frame, totals, method="raking", weights=base)
    totals["income"] = 1.01 * float(raked.weights.to_numpy() @ frame["income"].to_numpy())
    return totals, raked.g_range


def bounds_for(case_bounds: str | None, g_range: tuple[float, float]) -> tuple[float, float] | None:
    """The g-range of unbounded raking shrunk by 10 % towards 1: active, still feasible."""
    if case_bounds is None:
        return None
    return (round(1 - 0.9 * (1 - g_range[0]), 4), round(1 + 0.9 * (g_range[1] - 1), 4))


def time_ours(frame: pd.DataFrame, totals: dict, method: str, bounds, base: np.ndarray, repeats: int):
    best_wall = best_cpu = np.inf
    fit = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fit = calibrate(frame, totals, method=method, bounds=bounds, weights=base, tol=TOL)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, fit


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
df <- read.csv(args[1], stringsAsFactors = TRUE)
spec <- jsonlite::fromJSON(args[2], simplifyVector = FALSE)
population <- unlist(spec$population)
repeats <- as.integer(args[3])
des <- svydesign(ids = ~1, weights = ~w, data = df)
f <- ~age + sex + region + education + income
out <- list()
for (case in spec$cases) {
  best <- c(wall = Inf, cpu = Inf)
  b <- unlist(case$bounds)
  b[b <= -1e300] <- -Inf
  b[b >= 1e300] <- Inf
  for (r in seq_len(repeats)) {
    gc()
    t <- system.time(cal <- tryCatch(
      calibrate(des, f, population, calfun = case$method, bounds = b, epsilon = 1e-10, maxit = 100),
      error = function(e) NULL))
    best <- pmin(best, c(wall = unname(t["elapsed"]), cpu = unname(t["user.self"] + t["sys.self"])))
  }
  out[[length(out) + 1]] <- list(name = case$name, wall = best[["wall"]], cpu = best[["cpu"]],
                                 failed = is.null(cal),
                                 weights = if (is.null(cal)) NULL else weights(cal))
}
writeLines(jsonlite::toJSON(list(version = as.character(packageVersion("survey")), results = out),
                            digits = NA, auto_unbox = TRUE), args[4])
"""


def r_population(totals: dict, n_pop: float) -> dict[str, float]:
    """R's model-matrix totals: intercept, treatment dummies (first level dropped), income."""
    pop = {"(Intercept)": n_pop}
    for name, k in COLUMNS.items():
        for lab in labels(name, k)[1:]:
            pop[f"{name}{lab}"] = totals[name][lab]
    pop["income"] = totals["income"]
    return pop


def run_r(frame: pd.DataFrame, base: np.ndarray, totals: dict, n_pop: float, cases, repeats: int):
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.csv"
        frame.assign(w=base).to_csv(data_path, index=False)
        spec = {
            "population": r_population(totals, n_pop),
            "cases": [
                {"name": name, "method": method,
                 "bounds": list(bounds) if bounds is not None else [-1e308, 1e308]}
                for name, method, bounds in cases
            ],
        }
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        out = Path(tmp) / "out.json"
        subprocess.run(
            ["Rscript", str(script), str(data_path), str(spec_path), str(repeats), str(out)],
            check=True,
        )
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    rows = []
    for n in args.sizes:
        frame = make_frame(n)
        n_pop = 10.0 * n
        totals, g_range = make_totals(frame, n_pop)
        base = np.full(n, n_pop / n)
        cases = []
        for method, kind in CASES:
            name = f"{method}{' bounded' if kind else ''}"
            cases.append((name, method, bounds_for(kind, g_range) if kind or method == "logit" else None))
        ours = {}
        for name, method, bounds in cases:
            wall, cpu, fit = time_ours(frame, totals, method, bounds, base, args.repeats)
            ours[name] = (wall, cpu, fit)
            print(f"N={n:>9,} {name:15s} equisample wall {wall:7.3f}s cpu {cpu:7.3f}s "
                  f"iters {fit.n_iter} max rel err {fit.max_margin_error:.1e}", flush=True)
        r = None if args.no_r else run_r(frame, base, totals, n_pop, cases, args.repeats)
        for name, _method, bounds in cases:
            wall, cpu, fit = ours[name]
            row = {"N": n, "case": name, "bounds": bounds, "ours_wall": wall, "ours_cpu": cpu,
                   "iterations": fit.n_iter, "max_rel_error": fit.max_margin_error}
            if r is not None:
                res = next(x for x in r["results"] if x["name"] == name)
                if res["failed"]:
                    diff = float("nan")
                else:
                    theirs = np.asarray(res["weights"], dtype=np.float64)
                    diff = float(np.max(np.abs(fit.weights.to_numpy() - theirs) / np.abs(theirs)))
                row.update(r_wall=res["wall"], r_cpu=res["cpu"], max_rel_diff=diff,
                           r_version=r["version"], r_failed=res["failed"])
                print(f"N={n:>9,} {name:15s} R survey    wall {res['wall']:7.3f}s cpu {res['cpu']:7.3f}s "
                      f"max rel diff {row['max_rel_diff']:.1e}", flush=True)
            rows.append(row)

    table = ["| N | case | equisample CPU s (wall) | R survey CPU s (wall) | R / equisample (CPU) | "
             "max rel. diff vs R |", "|---|---|---|---|---|---|"]
    for row in rows:
        if "r_cpu" in row:
            ratio = row["r_cpu"] / row["ours_cpu"] if row["ours_cpu"] > 0 else float("inf")
            table.append(f"| {row['N']:,} | {row['case']} | {row['ours_cpu']:.3f} ({row['ours_wall']:.3f}) | "
                         f"{row['r_cpu']:.2f} ({row['r_wall']:.2f}){' failed' if row['r_failed'] else ''} | "
                         f"{ratio:.0f}x | {row['max_rel_diff']:.1e} |")
        else:
            table.append(f"| {row['N']:,} | {row['case']} | {row['ours_cpu']:.3f} ({row['ours_wall']:.3f}) "
                         "| - | - | - |")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = "\n".join(table) + f"\n\nMachine: {machine}; {time.strftime('%Y-%m-%d', time.gmtime())}.\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
