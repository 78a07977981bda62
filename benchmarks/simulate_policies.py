"""Benchmark: simulate_policies in-process vs on a Dask LocalCluster (2 worker processes).

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/simulate_policies.py [--reps 200]

Prints wall and CPU seconds (CPU of this process only: the Dask workers' CPU is not included) and
checks that both runs give identical results.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

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
    print(f"identical results in-process and on Dask: {identical}")


if __name__ == "__main__":
    main()
