"""Agreement of the KKT allocation core with an independent, well-scaled cvxpy model.

Run from the repository root (about 20 s):
    OPENBLAS_NUM_THREADS=1 python tests/sampling/allocation/reference/allocation_cvxpy_agreement.py [N]

Draws N random instances from the same distribution as the hypothesis test
(tests/sampling/allocation/test_allocation_properties.py), solves each with the core and with the cvxpy
cascade used there (CLARABEL at tolerance 1e-13: exp-cone in v = log(n/s), then a power-cone model
in x = n/s, each with and without equilibration, then the same models re-scaled around cvxpy's own
latest point, up to three rounds; the first "optimal" status is kept), and prints
the worst relative difference in n and in the objective, split by whether any cvxpy model reached
status "optimal". Output is written next to this file as allocation_cvxpy_agreement.json.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sampling" / "allocation"))

from test_allocation_properties import cvxpy_cascade, random_instance  # noqa: E402

from sampling.allocation import _core as core  # noqa: E402


def main(count: int = 500) -> dict:
    import cvxpy as cp

    warnings.filterwarnings("ignore")
    worst_n = {"optimal": 0.0, "not_optimal": 0.0}
    worst_f = {"optimal": 0.0, "not_optimal": 0.0}
    where = {"optimal": None, "not_optimal": None}
    stages: dict[str, int] = {}
    start = time.time()
    for seed in range(count):
        a, b, c, w, k, lo, hi, B = random_instance(np.random.default_rng(seed))
        sol = core.solve_budget(a, b, c, w, k, B, lo, hi)
        n, status, stage = cvxpy_cascade(a, b, w, k, lo, hi, B)
        key = "optimal" if status == "optimal" else "not_optimal"
        label = stage if key == "optimal" else "none optimal"
        stages[label] = stages.get(label, 0) + 1
        f = lambda m, a=a, b=b, c=c, w=w: float(w @ (a * m**-b + c))  # noqa: E731
        dn = float(np.max(np.abs(n - sol.n) / sol.n))
        df = abs(f(n) - f(sol.n)) / f(sol.n)
        if dn > worst_n[key]:
            worst_n[key], where[key] = dn, seed
        worst_f[key] = max(worst_f[key], df)
    out = {
        "instances": count, "cvxpy": cp.__version__, "numpy": np.__version__,
        "stage_counts": stages, "worst_rel_n": worst_n, "worst_rel_objective": worst_f,
        "worst_seed": where, "seconds": round(time.time() - start, 1),
    }
    (Path(__file__).with_suffix(".json")).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500), indent=2))
