"""Coverage studies of design-based intervals, with more replicates than their slow tests run.

``--study welfare``: ``coverage_study`` of tests/estimators/welfare/test_welfare_variance.py — a
population of 20,000 raters in clusters of 4 with cluster (rater) effects, clusters drawn with
replacement with probability depending on age (young clusters twice as likely), 200 clusters per
sample, weights raked to the population's sex and age margins. For each sample and welfare
measure: the design-based 95 % interval (clusters as PSUs, raking residualised) and the naive one
(raters independent, raked weights fixed).

``--study bradley_terry``: ``coverage_study`` of tests/estimators/welfare/test_bt_coverage.py —
the same kind of population with log-strengths of each rater's own (age and sex effects, cluster
and rater effects), 150 clusters per sample, 6-12 comparisons per rater. For each sample and
log-strength contrast: the design-based 95 % interval (``bradley_terry(design=..., rater=...)``)
and the naive one (the raked weights, scaled to mean 1, as independent frequency weights).

Run::

    OPENBLAS_NUM_THREADS=1 python benchmarks/coverage_studies.py --study welfare --replicates 1000
    OPENBLAS_NUM_THREADS=1 python benchmarks/coverage_studies.py --study bradley_terry --replicates 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's estimators, not an installed copy

STUDIES = {
    "welfare": ROOT / "tests/estimators/welfare/test_welfare_variance.py",
    "bradley_terry": ROOT / "tests/estimators/welfare/test_bt_coverage.py",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), default="welfare")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location(f"{args.study}_coverage", STUDIES[args.study])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    start, cpu = time.perf_counter(), time.process_time()
    table = module.coverage_study(args.replicates, seed=args.seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{args.replicates} replicates: {wall:.1f} s wall, {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
