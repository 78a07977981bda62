"""Benchmark: simulate_policies against a plain-numpy loop doing the same statistical work, and
in-process against a Dask LocalCluster (2 worker processes).

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/simulate_policies.py [--reps 200]

The plain-numpy loop is the floor a hand-written simulation would reach: per arm and replicate it
draws the sample (the same four policies: convenience by propensity, simple random, proportional
and equal stratified), observes ratings, rakes to the three one-way margins by iterative
proportional fitting to 1e-6 (bincounts), and takes the weighted means and naive SEs of the four
options — no data frames, no validation, no records. Prints wall and CPU seconds (CPU of this
process only: the Dask workers' CPU is not included), the ratio to the plain loop, and checks that
the in-process and Dask runs give identical results.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

import sampling as smp


def run(population: pd.DataFrame, reps: int, client=None) -> tuple[smp.PolicySimulation, float, float]:
    policies = [smp.ConveniencePolicy(propensity="propensity"), smp.SimpleRandomPolicy(),
                smp.ProportionalPolicy(), smp.EqualPolicy()]
    wall, cpu = time.perf_counter(), time.process_time()
    sim = smp.simulate_policies(
        population, policies, options=smp.SYNTHETIC_OPTIONS, groups="age", budget=[100, 400],
        n_reps=reps, reweighting=["none", "rake"], weighting_variables=["age", "sex", "ethnicity"],
        weighting_options={"on_empty_category": "drop"}, outcome_model=smp.GaussianRatings(sd=15),
        evaluation=smp.Evaluation(standard_errors=("naive",)), rng=1, client=client,
    )
    return sim, time.perf_counter() - wall, time.process_time() - cpu


def plain_numpy_loop(population: pd.DataFrame, reps: int) -> float:
    """CPU seconds of the hand-written loop described in the module docstring."""
    rng = np.random.default_rng(1)
    options = list(smp.SYNTHETIC_OPTIONS)
    utilities = population[options].to_numpy(float)
    propensity = population["propensity"].to_numpy(float)
    codes = [pd.factorize(population[v], sort=True)[0] for v in ("age", "sex", "ethnicity")]
    shares = [np.bincount(c) / c.size for c in codes]
    group = codes[0]
    groups = [np.flatnonzero(group == g) for g in range(group.max() + 1)]
    sizes = np.array([g.size for g in groups], dtype=float)

    def stratified(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        picks = [rng.choice(members, int(c), replace=False) for members, c in zip(groups, counts)]
        weights = np.concatenate([np.full(int(c), s / c) for c, s in zip(counts, sizes)])
        return np.concatenate(picks), weights

    start = time.process_time()
    for _ in range(reps):
        for budget in (100, 400):
            draws = []
            keys = rng.random(propensity.size) ** (1.0 / propensity)  # weighted, no replacement
            draws.append((np.argpartition(-keys, budget)[:budget], np.ones(budget)))
            draws.append((rng.choice(propensity.size, budget, replace=False), np.ones(budget)))
            draws.append(stratified(np.maximum(np.round(budget * sizes / sizes.sum()), 1)))
            draws.append(stratified(np.full(sizes.size, budget // sizes.size)))
            for idx, d in draws:
                y = utilities[idx] + rng.normal(0.0, 15.0, size=(idx.size, len(options)))
                for rake in (False, True):
                    w = d.copy()
                    if rake:
                        sample = [c[idx] for c in codes]
                        for _ in range(100):
                            worst = 0.0
                            for c, s in zip(sample, shares):
                                current = np.bincount(c, weights=w, minlength=s.size)
                                target = s * w.sum()
                                factor = np.where(current > 0, target / np.where(current > 0,
                                                  current, 1.0), 1.0)
                                worst = max(worst, float(np.max(np.abs(factor - 1.0))))
                                w = w * factor[c]
                            if worst < 1e-6:
                                break
                    mean = (w @ y) / w.sum()
                    _ = mean, y.std(axis=0, ddof=1) / np.sqrt(idx.size)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    population = smp.synthetic_population(n=20_000, rng=1)
    arms = 4 * 2 * 2
    best = {}
    local = None
    for _ in range(args.repeats):
        local, wall, cpu = run(population, args.reps)
        best["in-process"] = min(best.get("in-process", (1e9, 1e9)), (wall, cpu))
    from distributed import Client, LocalCluster

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for _ in range(args.repeats):
            remote, wall, cpu = run(population, args.reps, client)
            best["dask, 2 workers"] = min(best.get("dask, 2 workers", (1e9, 1e9)), (wall, cpu))
    plain = min(plain_numpy_loop(population, args.reps) for _ in range(args.repeats))
    identical = local.to_frame("options").equals(remote.to_frame("options")) and \
        local.to_frame("replicates").equals(remote.to_frame("replicates"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{args.reps} replicates x {arms} arms (4 policies x 2 budgets x 2 reweightings); "
          f"best of {args.repeats}")
    print("| run | wall s | CPU s (this process) | arm-replicates per wall s |")
    print("|---|---|---|---|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {args.reps * arms / wall:.0f} |")
    print(f"| plain-numpy loop (same work) | | {plain:.2f} | |")
    print(f"simulate_policies in-process / plain-numpy loop (CPU): "
          f"{best['in-process'][1] / plain:.2f}x")
    print(f"identical results in-process and on Dask: {identical}")


if __name__ == "__main__":
    main()
