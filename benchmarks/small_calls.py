"""Small calls: the package import and the everyday calls on small data, against the arithmetic
they do.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/small_calls.py

People call these in loops (a simulation, a dashboard refresh, a notebook cell re-run), so the
fixed cost of validation and result construction around a few microseconds of arithmetic is what
they feel. Each call is timed through its public API beside a plain numpy function doing the same
statistical work on the same data, with no validation and no result object (the "floor"), the two
timed back to back many times in CPU time: the best of each and the median of the paired ratios
(which a loaded machine disturbs least):

* ``rake`` of a 400-row sample to three margins (4 x 2 x 3 categories) to tolerance 1e-6. Floor:
  factorise the three columns, then iterative proportional fitting with ``np.bincount`` until every
  margin is within 1e-6 of its target (the same stopping rule), weights returned as an array.
* ``SurveyDesign(df, weights="w").mean("y")`` on the same 400 rows (the design built every time,
  as in a loop over samples). Floor: the two columns as arrays, the weighted mean, its linearised
  standard error (``n / (n - 1)`` times the sum of squared weighted residuals over the squared
  total weight) and the Kish effective sample size.
* The import of both packages in a fresh interpreter (``import equisample, estimators, sampling``;
  best of 5, the interpreter's own start-up subtracted), and the import followed by the first
  ``rake`` call, which loads numpy, pandas, scipy and the weighting family.

The quota calls (``design_quotas``, ``QuotaTracker.offer``) are in ``benchmarks/quota_calls.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import estimators as est  # noqa: E402

MARGINS = {
    "age": {"18-29": 0.2, "30-44": 0.3, "45-64": 0.3, "65+": 0.2},
    "sex": {"f": 0.51, "m": 0.49},
    "region": {"north": 0.3, "south": 0.45, "west": 0.25},
}


def sample(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.choice(list(MARGINS["age"]), n, p=[0.35, 0.3, 0.2, 0.15]),
        "sex": rng.choice(list(MARGINS["sex"]), n, p=[0.6, 0.4]),
        "region": rng.choice(list(MARGINS["region"]), n),
        "y": rng.normal(50, 10, n),
        "w": rng.uniform(1, 3, n),
    })


def paired(fn, floor, repeats: int) -> tuple[float, float, float]:
    """CPU time of ``fn`` and ``floor`` timed back to back ``repeats`` times (after 20 warm-up
    calls of each): the best of each in microseconds and the median of the paired ratios (the
    figure a loaded machine disturbs least)."""
    for _ in range(20):
        fn()
        floor()
    ours, base = [], []
    for _ in range(repeats):
        start = time.thread_time_ns()
        fn()
        middle = time.thread_time_ns()
        floor()
        ours.append(middle - start)
        base.append(time.thread_time_ns() - middle)
    ratios = sorted(a / max(b, 1) for a, b in zip(ours, base))
    return min(ours) / 1e3, min(base) / 1e3, ratios[len(ratios) // 2]


def rake_floor(df: pd.DataFrame, tol: float = 1e-6, max_sweeps: int = 100) -> np.ndarray:
    codes, targets = [], []
    for column, shares in MARGINS.items():
        code, uniques = pd.factorize(df[column].to_numpy(), sort=True)
        codes.append(code)
        targets.append(np.array([shares[u] for u in uniques]))
    w = df["w"].to_numpy().copy()
    total = w.sum()
    goals = [t * total for t in targets]
    for _ in range(max_sweeps):
        for code, goal in zip(codes, goals):
            w *= (goal / np.bincount(code, weights=w, minlength=goal.size))[code]
        if max(np.abs(np.bincount(c, weights=w, minlength=g.size) - g).max() / total
               for c, g in zip(codes, goals)) <= tol:
            break
    return w


def mean_floor(df: pd.DataFrame) -> tuple[float, float, float]:
    y, w = df["y"].to_numpy(), df["w"].to_numpy()
    n = y.size
    total = w.sum()
    m = float(w @ y) / total
    z = w * (y - m) / total
    se = float(np.sqrt(n / (n - 1) * (z @ z)))
    ess = total * total / float(w @ w)
    return m, se, ess


def import_seconds(code: str, repeats: int = 5) -> float:
    """Best wall time of ``python -c code`` minus that of ``python -c pass``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}

    def run(snippet: str) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippet], check=True, env=env, cwd=ROOT)
            times.append(time.perf_counter() - start)
        return min(times)

    return run(code) - run("pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()
    df = sample()

    # the floors compute what the public calls report
    raked = est.rake(df, MARGINS, weights="w", tol=1e-6)
    assert np.allclose(raked.weights, rake_floor(df), rtol=1e-5)
    estimate = est.SurveyDesign(df, weights="w").mean("y")
    m, se, ess = mean_floor(df)
    assert np.isclose(estimate.estimate[0], m, rtol=1e-12)
    assert np.isclose(estimate.std_error[0], se, rtol=1e-12)
    assert np.isclose(estimate.effective_sample_size[0], ess, rtol=1e-12)

    rows = [
        ("rake, 400 rows x 3 margins, tol 1e-6",
         *paired(lambda: est.rake(df, MARGINS, weights="w", tol=1e-6), lambda: rake_floor(df),
                 args.repeats)),
        ('SurveyDesign(df, weights="w").mean("y"), 400 rows',
         *paired(lambda: est.SurveyDesign(df, weights="w").mean("y"), lambda: mean_floor(df),
                 args.repeats)),
    ]
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; load {load}\n")
    print("| call | public call (CPU us, best) | floor (CPU us, best) | ratio of bests | "
          "median paired ratio |")
    print("|---|---|---|---|---|")
    for name, ours, floor, median in rows:
        print(f"| {name} | {ours:.0f} | {floor:.0f} | {ours / floor:.2f}x | {median:.2f}x |")
    print()
    imports = import_seconds("import equisample, estimators, sampling")
    first_use = import_seconds(
        "import equisample as eq, pandas as pd; "
        "eq.rake(pd.DataFrame({'g': ['a', 'b']}), {'g': {'a': 0.5, 'b': 0.5}})")
    print("| import (fresh interpreter, start-up subtracted) | seconds |")
    print("|---|---|")
    print(f"| `import equisample, estimators, sampling` | {imports:.3f} |")
    print(f"| the import and a first `rake` call (loads numpy, pandas, scipy) | {first_use:.3f} |")


if __name__ == "__main__":
    main()
