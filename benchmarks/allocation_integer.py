"""Integer allocation benchmark: proven integer plans for unequal costs.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/allocation_integer.py [maximin]
(``maximin``: only the maximin scaling table.)

For G = 10, 30, 100 groups (random curves a n^-b + c with a in [0.2, 0.9] so alpha-fair utilities
stay positive, integer costs 1..10, min_n = 1) and budgets of 1e3 and 1e4 cost units, times
``allocate(..., integer=True)`` and ``integer=False`` (best of 3, wall and CPU); the integer step
is the difference. Reports the integer status, the relative rounding cost
(integer objective - continuous optimum) / |continuous optimum|, and, for the utilitarian
objective, how many unit increments the Lagrangian reduced-cost fixing leaves to the MILP.
Peers: an exact dynamic program over the integer budget (independent check of optimality, run
where G * budget * max n is small) and the 0/1 MILP over the WHOLE box of unit increments
(an exact alternative, only possible for small boxes; time limit 60 s).
Maximin at scale (G = 1e3, 1e4, 2e4 groups, integer costs 1..10, budget 50 per group): the
integer step (exact level search, then the tie-break) against the continuous solve, for
tie-breaks "none" and "leximin" (the rest of the budget minimises the sum of errors), unequal and
equal costs, and with 1% of the groups capped at max_n = 5 so that a capped group sets the worst
error and most of the budget is left to the tie-break; the utilitarian objective on the same
instances for comparison.
Last table: callable (cvxpy) objectives, whose integer step is a heuristic local search; compared
with flooring the continuous optimum and with the proven plan of the equivalent built-in
objective (relative excess over the continuous optimum).
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unittest import mock

import sampling.allocation._integer as integer_module
from sampling.allocation._integer import integer_budget, power_curve_terms
from sampling.allocation._plan import allocate

OBJECTIVES = {"utilitarian": {}, "pnorm": {"p": 2.0}, "alpha_fair": {"alpha": 2.0},
              "maximin": {}}


def instance(G, seed=0):
    rng = np.random.default_rng(seed)
    idx = [f"g{i}" for i in range(G)]
    curves = pd.DataFrame({"a": rng.uniform(0.2, 0.9, G), "b": rng.uniform(0.2, 0.8, G),
                           "c": rng.uniform(0, 0.1, G)}, index=idx)
    costs = pd.Series(rng.integers(1, 11, G).astype(float), index=idx)
    return curves, costs


def best(fn, repeats=3):
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def dp_value(a, b, c, w, k, R):
    V = np.zeros(R + 1)
    for g in range(a.size):
        new = np.full(R + 1, np.inf)
        for m in range(0, R // k[g] + 1):
            f = w[g] * (a[g] * (1.0 + m) ** -b[g] + c[g])
            new[k[g] * m:] = np.minimum(new[k[g] * m:], f + V[: R + 1 - k[g] * m])
        V = new
    return float(V[R])


def whole_box_milp(a, b, c, w, k, budget):
    lo = np.ones(a.size, dtype=np.int64)
    top = lo + np.floor((budget - k @ lo) / k).astype(np.int64)
    counts = top - lo
    group = np.repeat(np.arange(a.size), counts)
    level = lo[group] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    f = w[group] * a[group] * (level.astype(float) ** -b[group] - (level + 1.0) ** -b[group])
    t0 = time.perf_counter()
    res = milp(-f / f.max(), integrality=np.ones(f.size), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(csr_matrix(k[group][None, :]), -np.inf,
                                             budget - k @ lo)],
               options={"mip_rel_gap": 0.0, "time_limit": 60.0})
    wall = time.perf_counter() - t0
    if res.x is None:
        return wall, f.size, res.message, np.nan
    n = lo + np.bincount(group, weights=np.round(res.x), minlength=a.size)
    return wall, f.size, "optimal" if res.status == 0 else res.message, float(
        w @ (a * n ** -b + c))


def main():
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
          f"python {platform.python_version()}, numpy {np.__version__}; date "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| G | budget | objective | integer=True wall (ms) | CPU (ms) | integer=False wall (ms) "
          "| integer step (ms) | status | rel. rounding cost | increments left after fixing "
          "| integer step alone (wall, best) | same with the MILP forced |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    checks = []
    for G in (10, 30, 100):
        curves, costs = instance(G)
        a, b, c = (curves[x].to_numpy() for x in "abc")
        k = costs.to_numpy()
        for budget in (1000, 10000):
            for obj, extra in OBJECTIVES.items():
                wi, ci, plan = best(lambda: allocate(curves, budget=budget, costs=costs,  # noqa: B023
                                                     objective=obj, **extra))  # noqa: B023
                wc, _, _ = best(lambda: allocate(curves, budget=budget, costs=costs,  # noqa: B023
                                                 objective=obj, integer=False, **extra))  # noqa: B023
                rel = plan.rounding_cost / abs(plan.objective_value_continuous)
                window = ""
                if obj == "utilitarian":
                    w = np.full(G, 1.0 / G)
                    F = power_curve_terms(a, b, c, w)

                    lo = np.ones(G, dtype=np.int64)
                    warm = plan.n_continuous.to_numpy()
                    hi = np.full(G, 2**62)
                    wd, _, sol = best(lambda: integer_budget(F, k, float(budget), lo, hi, warm))  # noqa: B023
                    with mock.patch.object(integer_module, "DP_WORK", 0):
                        wm, _, sm = best(lambda: integer_budget(F, k, float(budget), lo, hi, warm))  # noqa: B023
                    same = abs(F(sm.n).sum() - F(sol.n).sum()) <= 1e-12 * F(sol.n).sum()
                    window = (f"{sol.window} | {sol.method} {1e3 * wd:.1f} ms | MILP over window "
                              f"{1e3 * wm:.1f} ms ({sm.status}, same value: {same})")
                    if G * budget <= 1e5:
                        box = whole_box_milp(a, b, c, w, k, budget) if G * budget <= 3e4 else (
                            np.nan, 0, "not run", np.nan)
                        checks.append((G, budget, plan.objective_value,
                                       dp_value(a, b, c, w, k.astype(np.int64),
                                                budget - int(k.sum())), box))
                print(f"| {G} | {budget} | {obj} | {1e3 * wi:.1f} | {1e3 * ci:.1f} | "
                      f"{1e3 * wc:.1f} | {1e3 * (wi - wc):.1f} | {plan.integer_status} | "
                      f"{rel:.2e} | {window or ' | | '} |")
    print()
    print("| G | budget | proven utilitarian value | DP oracle value | rel. diff | whole-box MILP "
          "wall (s) | whole-box increments | whole-box status | whole-box rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for G, budget, got, want, (wall, size, status, val) in checks:
        print(f"| {G} | {budget} | {got:.12g} | {want:.12g} | {abs(got - want) / want:.1e} | "
              f"{wall:.2f} | {size} | {status} | {abs(val - want) / want:.1e} |")
    real_cost_table()
    maximin_scale_table()
    custom_table()


def maximin_scale_table(sizes=(1000, 10000, 20000)):
    print()
    print("| G | costs | max_n | tie_break | integer=True wall (s) | CPU (s) | integer=False wall (s) "
          "| integer step (s) | status | objective: integer / continuous |")
    # (last rows of each block: objective="utilitarian" at the same sizes, for comparison)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for G in sizes:
        curves, costs = instance(G)
        capped = {g: 5.0 for g in curves.index[:: 100]}
        for cost_kind, k in (("1..10", costs), ("equal", 4.0)):
            for cap_kind, max_n in (("none", None), ("1% at 5", capped)):
                for tie in ("none", "leximin", "utilitarian objective"):
                    if cost_kind == "equal" and cap_kind != "none":
                        continue
                    kw = dict(budget=50.0 * G, costs=k, objective="maximin", tie_break=tie,
                              max_n=max_n)
                    if tie == "utilitarian objective":  # the sum-of-errors plan, for scale
                        kw.update(objective="utilitarian", tie_break="leximin")
                    wi, ci, plan = best(lambda: allocate(curves, **kw), repeats=2)  # noqa: B023
                    wc, _, cont = best(lambda: allocate(curves, integer=False, **kw),  # noqa: B023
                                       repeats=2)
                    ratio = plan.objective_value / cont.objective_value_continuous
                    print(f"| {G} | {cost_kind} | {cap_kind} | {tie} | {wi:.2f} | {ci:.2f} | "
                          f"{wc:.2f} | {wi - wc:.2f} | {plan.integer_status} | {ratio:.6f} |")


def real_cost_table():
    print()
    print("| G | budget | objective | costs | integer=True wall (s) | CPU (s) | status | method "
          "| increments left after fixing |")
    print("|---|---|---|---|---|---|---|---|---|")
    for G in (10, 30, 100):
        curves, _ = instance(G)
        rng = np.random.default_rng(1)
        costs = pd.Series(rng.uniform(1, 10, G), index=curves.index)  # not decimals: MILP path
        a, b, c = (curves[x].to_numpy() for x in "abc")
        k = costs.to_numpy()
        wall, cpu, plan = best(lambda: allocate(curves, budget=10000, costs=costs))  # noqa: B023
        F = power_curve_terms(a, b, c, np.full(G, 1.0 / G))
        sol = integer_budget(F, k, 10000.0, np.ones(G, dtype=np.int64), np.full(G, 2**62),
                             plan.n_continuous.to_numpy())
        print(f"| {G} | 10000 | utilitarian | uniform(1, 10) reals | {wall:.2f} | {cpu:.2f} | "
              f"{plan.integer_status} | {sol.method} | {sol.window} |")


def custom_table():
    import cvxpy as cp

    print()
    print("| G | callable objective | integer status | allocate wall (s) | CPU (s) | rel. excess: "
          "local search | floor | proven built-in |")
    print("|---|---|---|---|---|---|---|---|")
    for G in (10, 30, 100):
        curves, costs = instance(G)
        a, b, c = (curves[x].to_numpy() for x in "abc")
        for name, builtin, fn in (("sum(e)/G", "utilitarian", lambda e, n, G=G: cp.sum(e) / G),
                                  ("max(e)", "maximin", lambda e, n: cp.max(e))):
            wall, cpu, plan = best(lambda: allocate(curves, budget=1000, costs=costs,  # noqa: B023
                                                    objective=fn), repeats=1)  # noqa: B023
            cont = plan.objective_value_continuous
            e = a * np.floor(plan.n_continuous.to_numpy()) ** -b + c
            floor = e.mean() if builtin == "utilitarian" else e.max()
            ref = allocate(curves, budget=1000, costs=costs, objective=builtin).objective_value
            print(f"| {G} | {name} | {plan.integer_status} | {wall:.2f} | {cpu:.2f} | "
                  f"{plan.rounding_cost / cont:.2e} | {(floor - cont) / cont:.2e} | "
                  f"{(ref - cont) / cont:.2e} |")


if __name__ == "__main__":
    if sys.argv[1:] == ["maximin"]:  # the maximin scaling table alone
        maximin_scale_table()
    else:
        main()
