"""Exact breakpoint search vs the safeguarded Newton of the allocation core (``solve_budget``).

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/allocation_breakpoints.py

The alternative sorts the 2G breakpoints of S(t) (where a group reaches a bound), bisects over them
to find the root's smooth segment, then runs the core's safeguarded Newton on that segment. Its
time leaves out the KKT check that ``solve_budget`` includes. Prints CPU time (best of repeats),
evaluations of S(t) and the largest relative difference in n.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from allocation_solver import instance

from sampling.allocation import _core as core


def breakpoint_solve(a, b, w, k, budget, lo, hi):
    bp1 = b + 1.0
    e = 1.0 / bp1
    L = np.log(w * a * b / k)
    eL = e * L
    points = np.sort(np.concatenate([L - bp1 * np.log(lo), L - bp1 * np.log(hi)]))

    def spend(t: float) -> float:
        return float(np.dot(k, np.minimum(np.maximum(np.exp(eL - e * t), lo), hi)))

    i, j = 0, points.size - 1  # S decreasing: S(points[i]) >= B >= S(points[j])
    evaluations = 0
    while j - i > 1:
        m = (i + j) // 2
        evaluations += 1
        if spend(points[m]) >= budget:
            i = m
        else:
            j = m
    _t, n, it = core._safeguarded_newton(L, e, k, lo, hi, budget, points[i], points[j])
    return n, evaluations + it


def main() -> None:
    for G in (10, 100, 1000, 10000):
        inst = instance(G)
        a, b, c, w, k, lo, hi, B = inst
        ref = core.solve_budget(a, b, c, w, k, B, lo, hi)
        best = {"newton (solve_budget)": np.inf, "breakpoints": np.inf}
        runs = {"newton (solve_budget)": lambda i=inst: core.solve_budget(*i[:5], i[7], i[5], i[6]),
                "breakpoints": lambda i=inst: breakpoint_solve(*i[:2], *i[3:5], i[7], i[5], i[6])}
        for _ in range(100 if G < 10000 else 20):
            for name, fn in runs.items():
                t0 = time.process_time()
                for _ in range(5):
                    fn()
                best[name] = min(best[name], (time.process_time() - t0) / 5)
        n, evaluations = breakpoint_solve(a, b, w, k, B, lo, hi)
        times = ", ".join(f"{name} {v * 1e6:.1f} us" for name, v in best.items())
        print(f"G={G}: {times}; S evaluations {ref.iterations} vs {evaluations}; "
              f"max rel diff n {np.max(np.abs(n - ref.n) / ref.n):.1e}")


if __name__ == "__main__":
    main()
