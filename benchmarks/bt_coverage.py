"""Coverage of design-based Bradley–Terry intervals (the study of the slow test, more replicates).

The study itself is ``coverage_study`` in tests/estimators/welfare/test_bt_coverage.py: a
population of 20,000 raters in clusters of 4, each with log-strengths of their own (age and sex
effects, cluster effects, rater effects), clusters drawn with replacement with young clusters
twice as likely, 150 clusters per sample, weights raked to the population's sex and age margins,
6-12 comparisons per rater. For each sample and log-strength contrast: the design-based 95 %
interval (``bradley_terry(design=..., rater=...)``, clusters as PSUs, raking residualised) and
the naive one (the raked weights, scaled to mean 1, as independent frequency weights).

Run::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bt_coverage.py --replicates 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "tests/estimators/welfare/test_bt_coverage.py"
sys.path.insert(0, str(ROOT))  # this checkout's estimators, not an installed copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("bt_coverage_tests", TEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    start, cpu = time.perf_counter(), time.process_time()
    table = module.coverage_study(args.replicates, seed=args.seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{args.replicates} replicates: {wall:.1f} s wall, {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
