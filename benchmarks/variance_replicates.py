"""Benchmark: bootstrap replicate SEs with re-raking, and Taylor SEs, vs svy and R survey.

Task: N rows (default 1M) from P participants (default 100k, 10 ratings each; the
participant is the PSU), 4 person-level raking margins (8 x 2 x 16 x 6 levels, biased sample),
200 Rao–Wu bootstrap replicates, every replicate re-raked, then the mean rating and its SE in each
of 5 domains (a row-level column). Peers run the same task in the same run: svy (own venv,
``create_bs_wgts(kind="rao-wu")`` + ``rake`` + ``estimation.mean(method="replication")``) and R
survey (``as.svrepdesign(type="subbootstrap")`` + ``rake`` + ``svyby(svymean)``), each in its own
process. Also: the Taylor SE of the raked mean by 5 domains (residualised on the raking model) and of
a plain design at 10M rows (ours only).

Run (BLAS pinned to one thread; the machine is shared, so CPU time is reported beside wall time
and the best of ``--repeat`` runs is kept)::

    python benchmarks/peers/install.py svy --with-r   # once
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/variance_replicates.py \
        --rows 1000000 --participants 100000 --replicates 200 --repeat 3 --r-timeout 1800
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
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import estimators as est

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import peer_python

LEVELS = {"age": 8, "sex": 2, "region": 16, "edu": 6}
POPULATION = 2_000_000.0


def make_data(rows: int, participants: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    per = rows // participants
    person = {}
    for name, k in LEVELS.items():
        p = np.linspace(1.0, 2.0, k)
        person[name] = rng.choice(k, participants, p=p / p.sum())  # biased sample
    pid = np.repeat(np.arange(participants), per)
    effect = rng.normal(0, 0.5, participants)
    frame = pd.DataFrame(
        {
            "pid": pid,
            **{name: pd.Categorical(codes[pid].astype(str)) for name, codes in person.items()},
            "group": pd.Categorical(rng.integers(0, 5, len(pid)).astype(str)),
            "rating": 3 + 0.1 * person["age"][pid] + effect[pid] + rng.normal(0, 1, len(pid)),
            "d": np.repeat(rng.uniform(1, 3, participants), per),
        }
    )
    margins = {name: {str(c): POPULATION / k for c in range(k)} for name, k in LEVELS.items()}
    return frame, margins


def timed(fn, repeat: int):
    best_cpu, best_wall, out = np.inf, np.inf, None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall, out


def ours_replicates(frame, margins, replicates):
    design = est.SurveyDesign(frame, weights="d", psu="pid")
    fit = est.rake(design, margins, tol=1e-6)
    rd = est.replicate_design(fit.design, method="bootstrap", replicates=replicates, rng=1)
    return rd.mean("rating", by="group").to_frame()


def ours_taylor_raked(frame, margins):
    fit = est.rake(est.SurveyDesign(frame, weights="d", psu="pid"), margins, tol=1e-6)
    return fit.design.mean("rating", by="group").to_frame()


SVY_SCRIPT = r"""
import json, sys, time
import polars as pl, svy
path, reps, margins = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
data = pl.read_parquet(path)
for c in ("age", "sex", "region", "edu", "group"):
    data = data.with_columns(pl.col(c).cast(pl.Utf8))
c0, w0 = time.process_time(), time.perf_counter()
sample = svy.Sample(data, svy.Design(psu="pid", wgt="d"))
sample = sample.weighting.create_bs_wgts(reps, kind="rao-wu", rstate=1)
sample = sample.weighting.rake(controls=margins, tol=1e-6, max_iter=1000)
res = sample.estimation.mean("rating", by="group", method="replication").to_polars()
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
print(json.dumps({"cpu": cpu, "wall": wall, "version": svy.__version__,
                  "est": res["est"].to_list(), "se": res["se"].to_list()}))
"""

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
df <- read.csv(args[1], colClasses = c(age = "character", sex = "character", region = "character",
                                         edu = "character", group = "character"))
reps <- as.integer(args[2]); pop <- as.numeric(args[3])
t0 <- proc.time()
d <- svydesign(id = ~pid, weights = ~d, data = df)
set.seed(1)
r <- as.svrepdesign(d, type = "subbootstrap", replicates = reps)
mk <- function(v) { lv <- sort(unique(df[[v]])); x <- data.frame(lv, rep(pop / length(lv), length(lv))); names(x) <- c(v, "Freq"); x }
r <- rake(r, list(~age, ~sex, ~region, ~edu), list(mk("age"), mk("sex"), mk("region"), mk("edu")),
          control = list(maxit = 100, epsilon = 1e-6))
b <- svyby(~rating, ~group, r, svymean)
tt <- proc.time() - t0
cat(sprintf('{"cpu": %.3f, "wall": %.3f, "version": "%s", "est": [%s], "se": [%s]}\n',
            tt[["user.self"]] + tt[["sys.self"]], tt[["elapsed"]], as.character(packageVersion("survey")),
            paste(coef(b), collapse = ","), paste(SE(b), collapse = ",")))
"""


def run_peer(cmd: list[str], timeout: float) -> dict:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s", "cpu": np.nan, "wall": timeout}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-400:], "cpu": np.nan, "wall": np.nan}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--taylor-rows", type=int, default=10_000_000)
    parser.add_argument("--svy-python", default=str(peer_python("svy")))
    parser.add_argument("--r-timeout", type=float, default=1800)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()

    frame, margins = make_data(args.rows, args.participants)
    results: dict[str, dict] = {}
    cpu, wall, ours = timed(lambda: ours_replicates(frame, margins, args.replicates), args.repeat)
    results["equisample (bootstrap, re-raked)"] = {
        "cpu": cpu, "wall": wall, "est": ours["estimate"].tolist(), "se": ours["std_error"].tolist()
    }
    cpu, wall, tay = timed(lambda: ours_taylor_raked(frame, margins), args.repeat)
    results["equisample (Taylor, raked)"] = {
        "cpu": cpu, "wall": wall, "est": tay["estimate"].tolist(), "se": tay["std_error"].tolist()
    }
    if not args.skip_peers:
        with tempfile.TemporaryDirectory() as tmp:
            parquet = Path(tmp) / "sample.parquet"
            csv = Path(tmp) / "sample.csv"
            plain = frame.astype({c: str for c in (*LEVELS, "group")})
            plain.to_parquet(parquet, index=False)
            plain.to_csv(csv, index=False)
            results["svy"] = run_peer(
                [args.svy_python, "-c", SVY_SCRIPT, str(parquet), str(args.replicates), json.dumps(margins)],
                timeout=args.r_timeout,
            )
            results["R survey"] = run_peer(
                ["Rscript", "-e", R_SCRIPT, str(csv), str(args.replicates), str(POPULATION / 1)],
                timeout=args.r_timeout,
            )
    big, _ = make_data(args.taylor_rows, args.taylor_rows // 10, seed=1)
    design = est.SurveyDesign(big, weights="d", psu="pid")
    cpu, wall, _ = timed(lambda: design.mean("rating", by="group"), args.repeat)
    results[f"equisample (Taylor, plain, {args.taylor_rows:,} rows)"] = {"cpu": cpu, "wall": wall}

    base = results["equisample (bootstrap, re-raked)"]["cpu"]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# rows={args.rows:,} participants={args.participants:,} replicates={args.replicates}")
    print("| tool | CPU s (best) | wall s (best) | CPU vs equisample | SE by domain |")
    print("|---|---:|---:|---:|---|")
    for name, r in results.items():
        se = ", ".join(f"{v:.5f}" for v in r.get("se", [])) or r.get("error", "")
        ratio = r["cpu"] / base if np.isfinite(r.get("cpu", np.nan)) else np.nan
        print(f"| {name} | {r['cpu']:.2f} | {r['wall']:.2f} | {ratio:.1f}x | {se} |")
    print(json.dumps(results, default=float), file=sys.stderr)  # raw figures


if __name__ == "__main__":
    main()
