"""Benchmark: weighted Bradley–Terry fit and who-decides jury draws, side by side with peers.

Workload: 21 options x 10,000 raters x 100,000 pairwise comparisons.

* Bradley–Terry: ``estimators.bradley_terry`` (weighted, ties as half wins) vs ``choix``
  (``ilsr_pairwise``, ``mm_pairwise``, ``opt_pairwise``; unweighted, no ties — choix has neither).
* Juries: 10,000 draws of 100 raters from the 10,000, winner by mean rating (vectorised
  ``estimators.who_decides``) vs a PRISM-style pandas loop (the notebook's procedure, timed on a
  subset of draws and scaled), and by Copeland / Schulze vs ``pref_voting`` on the same juries
  (timed on a subset and scaled).

Run (choix and pref_voting in their own environment, this tree on the path):

    python benchmarks/peers/install.py welfare   # once
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. benchmarks/.peers/welfare/bin/python \
        benchmarks/welfare_bt_juries.py

Times are the best of ``--repeat`` runs, wall clock and CPU (``time.process_time``).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from importlib.metadata import version

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

import estimators as est

N_OPTIONS, N_RATERS, N_BATTLES = 21, 10_000, 100_000
N_JURIES, JURY_SIZE = 10_000, 100


def best_of(fn, repeat):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, N_OPTIONS)
    options = [f"model_{k:02d}" for k in range(N_OPTIONS)]
    rater_weight = rng.lognormal(0, 0.5, N_RATERS)
    rater = rng.integers(0, N_RATERS, N_BATTLES)
    a = rng.integers(0, N_OPTIONS, N_BATTLES)
    b = (a + rng.integers(1, N_OPTIONS, N_BATTLES)) % N_OPTIONS
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    draw = rng.random(N_BATTLES)
    tie = np.abs(draw - p) < 0.02
    a_wins = draw < p
    winner = np.where(a_wins, a, b)
    loser = np.where(a_wins, b, a)
    battles = pd.DataFrame({
        "winner": np.array(options)[winner], "loser": np.array(options)[loser], "tie": tie,
        "weight": rater_weight[rater],
    })
    # utility table: each rater rated 8 random options (1-100 scale, taste + noise)
    util = np.full((N_RATERS, N_OPTIONS), np.nan)
    taste = rng.normal(0, 8, (N_RATERS, N_OPTIONS))
    for i in range(N_RATERS):
        seen = rng.choice(N_OPTIONS, 8, replace=False)
        util[i, seen] = np.clip(60 + 8 * strength[seen] + taste[i, seen], 1, 100).round()
    table = pd.DataFrame(util, columns=options, index=[f"r{i}" for i in range(N_RATERS)])
    return battles, winner, loser, tie, table


def prism_pandas_loop(table, pool, size, n_draws, rng):
    """PRISM's notebook procedure (pandas reindex + nanmean per model + random.choice)."""
    models = list(table.columns)
    out = []
    for _ in range(n_draws):
        sample = rng.choices(pool, k=size)
        rows = table.reindex(sample)
        scores = []
        for mname in models:
            col = rows[mname]
            scores.append(1 if np.isnan(col).all() else np.nanmean(col))
        best = max(scores)
        out.append(models[rng.choice([k for k, v in enumerate(scores) if v >= best])])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-juries", type=int, default=50,
                        help="juries timed for the slow peers (scaled to 10,000)")
    parser.add_argument("--skip-opt", action="store_true", help="skip choix.opt_pairwise")
    args = parser.parse_args()
    import choix
    from pref_voting.margin_based_methods import beat_path
    from pref_voting.profiles_with_ties import ProfileWithTies

    battles, winner, loser, tie, table = make_data()
    rows = []

    # ---- Bradley–Terry --------------------------------------------------------------------
    wall, cpu, _ = best_of(
        lambda: est.bradley_terry(battles, ties="tie", weights="weight"), args.repeat)
    rows.append(("BT fit, weighted, ties", "equisample bradley_terry", wall, cpu, ""))
    wall_u, cpu_u, fit_u = best_of(
        lambda: est.bradley_terry(battles[~battles["tie"]]), args.repeat)
    rows.append(("BT fit, unweighted, no ties", "equisample bradley_terry", wall_u, cpu_u, ""))
    data = list(zip(winner[~tie].tolist(), loser[~tie].tolist()))
    ours = fit_u.params[[f"model_{k:02d}" for k in range(N_OPTIONS)]].to_numpy()
    for name, fn in (
        ("choix ilsr_pairwise", lambda: choix.ilsr_pairwise(N_OPTIONS, data, tol=1e-10)),
        ("choix mm_pairwise", lambda: choix.mm_pairwise(N_OPTIONS, data, tol=1e-10)),
        ("choix opt_pairwise", lambda: choix.opt_pairwise(N_OPTIONS, data, alpha=0.0)),
    ):
        if name.endswith("opt_pairwise") and args.skip_opt:
            continue
        wall_c, cpu_c, params = best_of(fn, 1 if "opt" in name else args.repeat)
        diff = np.abs((params - params.mean()) - ours).max()
        rows.append(("BT fit, unweighted, no ties", name, wall_c, cpu_c,
                     f"max abs diff vs equisample {diff:.1e}"))

    # ---- juries ---------------------------------------------------------------------------
    u = table
    policy = est.JuryPolicy(JURY_SIZE)
    for rule in ("mean_rating", "copeland", "schulze"):
        wall_j, cpu_j, _ = best_of(
            lambda rule=rule: est.who_decides(u, policy=policy, rule=rule, n_draws=N_JURIES,
                                              rng=1), args.repeat)
        rows.append((f"10,000 juries of 100, {rule}", "equisample who_decides", wall_j, cpu_j,
                     ""))
    pool = list(u.index)
    n_peer = args.peer_juries
    wall_p, cpu_p, _ = best_of(lambda: prism_pandas_loop(u, pool, JURY_SIZE, n_peer,
                                                         random.Random(1)), 1)
    scale = N_JURIES / n_peer
    rows.append(("10,000 juries of 100, mean_rating", "PRISM-style pandas loop (scaled from "
                 f"{n_peer})", wall_p * scale, cpu_p * scale, ""))
    # pref_voting on the same kind of juries: build the profile and find the winners
    values = u.to_numpy()
    gen = np.random.default_rng(1)
    juries = gen.integers(0, N_RATERS, (n_peer, JURY_SIZE))

    def pref_voting_juries(method):
        winners = []
        for jury in juries:
            rankings = []
            for i in jury:
                row = values[i]
                seen = np.flatnonzero(~np.isnan(row))
                levels = sorted(set(row[seen].tolist()), reverse=True)
                rankings.append({int(k): levels.index(row[k]) + 1 for k in seen})
            prof = ProfileWithTies(rankings, candidates=list(range(N_OPTIONS)))
            if method == "copeland":
                scores = prof.copeland_scores()
                winners.append(max(scores, key=scores.get))
            else:
                winners.append(beat_path(prof)[0])
        return winners

    for method in ("copeland", "schulze"):
        wall_v, cpu_v, _ = best_of(lambda method=method: pref_voting_juries(method), 1)
        rows.append((f"10,000 juries of 100, {method}", f"pref_voting (scaled from {n_peer})",
                     wall_v * scale, cpu_v * scale, ""))

    frame = pd.DataFrame(rows, columns=["task", "implementation", "wall_s", "cpu_s", "note"])
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {version('scipy')}, pandas {pd.__version__}, "
          f"choix {version('choix')}, pref_voting {version('pref_voting')}")
    print("markdown:")
    print("| task | implementation | wall (s) | CPU (s) | note |")
    print("|---|---|---:|---:|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]} |")


if __name__ == "__main__":
    main()
