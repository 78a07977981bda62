"""Allocation solver benchmark: the public ``allocate`` call, its exact KKT core, and cvxpy.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/allocation_solver.py
(``--groups 10 100`` for some problem sizes of the first table only, ``--tables main kernel``
for some of the tables).

For G = 10, 100, 1000, 10000 groups (random curves a n^-b + c, population weights, costs, box
bounds with ~40% of groups capped) the first table times, on the same problem:

* the public call ``sampling.allocate(curves, budget=..., costs=..., min_n=..., max_n=...,
  objective="population", population_shares=..., integer=False)`` with the curves as a
  DataFrame indexed by string labels and every per-group input as a labelled Series
  (validation, alignment, solve and the plan object; best of many repeats, wall and CPU), and
  the same call with ``integer=True`` (the default: the proven integer plan on top; best of
  3, G <= 1000);
* the internal core ``solve_budget`` (``sampling/allocation/_core.py``) on the arrays;
* the scaled cvxpy model that agrees best with it in
  tests/sampling/allocation/reference/allocation_cvxpy_agreement.py (n = s exp(v), budget row
  / B, objective normalised; CLARABEL at tolerance 1e-13), DPP-parametrised so three cvxpy
  times are reported: the first solve (canonicalisation + solve), a cached re-solve with new
  parameter values (best of 3) and CLARABEL's own solve time (best over the solves).

Speed-ups are the public call's wall time against CLARABEL's own solve time. Accuracy is the
relative KKT residual computed the same way for both (stationarity, sign conditions, budget) and
the distance of the cvxpy point from the public plan's.

``solve_budget`` runs the compiled kernel (sampling/allocation/_budget_kernel.c) for
G <= KERNEL_MAX_GROUPS and the numpy implementation above that. A second table times the public
call with the kernel on and off (``sampling.allocation.use_compiled_kernel``) at G = 10 and 100;
a third measures the kernel/numpy crossover of the core that sets KERNEL_MAX_GROUPS.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sampling.allocation import _core as core


def instance(G: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 3, G)
    b = rng.uniform(0.2, 1.2, G)
    c = rng.uniform(0, 0.1, G)
    w = rng.uniform(0.1, 1, G)
    k = rng.uniform(1, 10, G)
    lo = rng.uniform(1, 20, G)
    hi = lo + rng.uniform(10, 500, G)
    B = float(k @ lo + 0.5 * (k @ hi - k @ lo))
    return a, b, c, w, k, lo, hi, B


def best_time(fn, repeats: int):
    wall, cpu = np.inf, np.inf
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return out, wall, cpu


def kkt(inst, n):
    a, b, c, w, k, lo, hi, B = inst
    inv = core._Inverse(a, b, c, w, k, lo, hi, core.IDENTITY)
    n = np.clip(n, lo, hi)
    spent = float(k @ n)
    free = (n > lo * (1 + 1e-9)) & (n < hi * (1 - 1e-9))
    lam = float(np.median(core.marginal(a, b, c, w, n)[free] / k[free]))
    at_lo, at_hi = n <= lo * (1 + 1e-9), n >= hi * (1 - 1e-9)
    n2 = np.where(at_lo, lo, np.where(at_hi, hi, n))
    return core._kkt_budget(inv, n2, lam, B, spent, 1e-9)[0]


TIGHT = {"tol_gap_abs": 1e-13, "tol_gap_rel": 1e-13, "tol_feas": 1e-13, "max_iter": 400}


def cvxpy_model(inst, parametrised: bool = True):
    """The best-accuracy model of tests/sampling/allocation/reference/allocation_cvxpy_agreement.py, DPP-parametrised:
    exp cone in v = log(n / s), s = sqrt(lo hi), budget row / B, objective normalised."""
    import cvxpy as cp

    a, b = inst[0], inst[1]
    G = a.size
    v = cp.Variable(G)
    if parametrised:
        coef, row = cp.Parameter(G, nonneg=True), cp.Parameter(G, nonneg=True)
        vlo, vhi = cp.Parameter(G), cp.Parameter(G)
    else:  # constants (DPP compilation of 10^4 parameters needs more memory than we have)
        coef, row, vlo, vhi = (_Holder() for _ in range(4))
        set_values(inst, (coef, row, vlo, vhi))
        coef, row, vlo, vhi = (cp.Constant(h.value) for h in (coef, row, vlo, vhi))
    prob = cp.Problem(cp.Minimize(coef @ cp.exp(cp.multiply(-b, v))),
                      [row @ cp.exp(v) <= 1, v >= vlo, v <= vhi])
    return prob, v, (coef, row, vlo, vhi)


class _Holder:
    value = None


def set_values(inst, params):
    a, b, _c, w, k, lo, hi, B = inst
    s = np.sqrt(lo * hi)
    c0 = w * a * s**-b
    coef, row, vlo, vhi = params
    coef.value, row.value = c0 / c0.sum(), k * s / B
    vlo.value, vhi.value = np.log(lo / s), np.log(hi / s)
    return s


def cvxpy_solve(inst):
    """First solve (build + compile + solve), then a cached DPP re-solve (best of 3; G <= 1000
    only); returns timings. Solver-only time is CLARABEL's own, the best over all solves."""
    parametrised = inst[0].size <= 1000
    t0, c0 = time.perf_counter(), time.process_time()
    prob, v, params = cvxpy_model(inst, parametrised)
    s = set_values(inst, (_Holder(),) * 4)
    if parametrised:
        set_values(inst, params)
    prob.solve(solver="CLARABEL", **TIGHT)
    first_wall, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    solver_only = prob.solver_stats.solve_time
    re_wall = re_cpu = np.inf if parametrised else np.nan
    for _ in range(3 if parametrised else 0):
        set_values(inst, params)
        t0, c0 = time.perf_counter(), time.process_time()
        prob.solve(solver="CLARABEL", **TIGHT)
        re_wall = min(re_wall, time.perf_counter() - t0)
        re_cpu = min(re_cpu, time.process_time() - c0)
        solver_only = min(solver_only, prob.solver_stats.solve_time)
    n = s * np.exp(v.value) if v.value is not None else None
    return n, prob.status, first_wall, first_cpu, re_wall, re_cpu, solver_only


def public_inputs(inst, G: int):
    """The instance as a user passes it: a parameter table and Series indexed by group label."""
    import pandas as pd

    a, b, c, w, k, lo, hi, B = inst
    labels = pd.Index([f"group {i}" for i in range(G)])
    curves = pd.DataFrame({"a": a, "b": b, "c": c}, index=labels)
    options = dict(budget=B, costs=pd.Series(k, index=labels), min_n=pd.Series(lo, index=labels),
                   max_n=pd.Series(hi, index=labels), objective="population",
                   population_shares=pd.Series(w, index=labels))
    return curves, options


def time_public(inst, G: int, repeats: int, integer: bool = False):
    from sampling import allocate

    curves, options = public_inputs(inst, G)
    return best_time(lambda: allocate(curves, integer=integer, **options), repeats)


def main(sizes=(10, 100, 1000, 10000)) -> None:
    import warnings

    import cvxpy as cp

    warnings.filterwarnings("ignore")
    print(f"# machine: {platform.processor() or platform.machine()}, {platform.system()} "
          f"{platform.release()}, python {platform.python_version()}, numpy {np.__version__}, "
          f"cvxpy {cp.__version__}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    kernel = "compiled kernel" if core.compiled_kernel_available() else "numpy everywhere"
    print(f"# core: solve_budget ({kernel} for G <= {core.KERNEL_MAX_GROUPS}, numpy above)")
    print("| G | public allocate wall / CPU (ms, best) | public, integer=True wall (ms) | "
          "core wall (ms) | public / core | public rel. KKT | CLARABEL solver-only (ms) | "
          "cvxpy first solve wall (ms) | cvxpy cached re-solve wall (ms) | cvxpy status | "
          "cvxpy rel. KKT | max rel. diff n | public vs CLARABEL solver-only | public vs "
          "cvxpy re-solve |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for G in sizes:
        inst = instance(G)
        reps = 2000 if G <= 100 else (300 if G <= 1000 else 50)
        plan, wall, cpu = time_public(inst, G, reps)
        int_wall = time_public(inst, G, 3, integer=True)[1] if G <= 1000 else np.nan
        sol, core_wall, _ = best_time(lambda inst=inst: core.solve_budget(
            *inst[:5], inst[7], inst[5], inst[6]), reps)
        n_plan = plan.n_continuous.to_numpy()
        assert np.allclose(n_plan, sol.n, rtol=1e-12), "public call and core disagree"
        n, status, fw, _fc, rw, _rc, so = cvxpy_solve(inst)
        integer_ms = f"{int_wall * 1e3:.1f}" if np.isfinite(int_wall) else "not run"
        head = (f"| {G} | {wall * 1e3:.4f} / {cpu * 1e3:.4f} | {integer_ms} | "
                f"{core_wall * 1e3:.4f} | {wall / core_wall:.1f}x | {plan.kkt_residual:.1e} | "
                f"{so * 1e3:.2f} | {fw * 1e3:.1f} | "
                + (f"{rw * 1e3:.1f}" if np.isfinite(rw) else "-") + f" | {status} | ")
        if n is None:
            print(head + "- | - | - | - |")
            continue
        res = kkt(inst, n)
        dn = float(np.max(np.abs(n - n_plan) / n_plan))
        re_ratio = f"{rw / wall:.0f}x" if np.isfinite(rw) else "-"
        print(head + f"{res:.1e} | {dn:.1e} | {so / wall:.0f}x | {re_ratio} |")


def kernel_through_the_public_call() -> None:
    """The public call with the compiled kernel on and off (best wall, interleaved runs)."""
    if not core.compiled_kernel_available():
        print("\n# kernel on/off: compiled kernel not built")
        return
    from sampling.allocation import use_compiled_kernel

    print("\n# public allocate (integer=False) with the compiled kernel on and off, wall us "
          "(best of 5 x 400, interleaved)")
    print("| G | kernel on | kernel off | off / on |")
    print("|---|---|---|---|")
    for G in (10, 100):
        inst = instance(G)
        on, off = np.inf, np.inf
        for _ in range(5):
            use_compiled_kernel(True)
            on = min(on, time_public(inst, G, 400)[1])
            use_compiled_kernel(False)
            off = min(off, time_public(inst, G, 400)[1])
        use_compiled_kernel(True)
        print(f"| {G} | {on * 1e6:.1f} | {off * 1e6:.1f} | {off / on:.2f} |")


def crossover() -> None:
    """Kernel vs numpy implementation around KERNEL_MAX_GROUPS (CPU us, best; 3 seeds each)."""
    if core._kernel is None:
        print("# crossover: compiled kernel not built")
        return
    print("\n# crossover: compiled kernel vs numpy implementation, CPU us (best), median of "
          "3 instances")
    print("| G | kernel | numpy | numpy / kernel |")
    print("|---|---|---|---|")
    for G in (10, 32, 64, 128, 256, 384, 512, 768, 1024, 2048):
        ks, ns = [], []
        for seed in range(3):
            a, b, _c, w, k, lo, hi, B = instance(G, seed)
            reps = max(50, 20000 // G)
            ks.append(best_time(lambda a=a, b=b, w=w, k=k, lo=lo, hi=hi, B=B:
                                core._solve_budget_identity_kernel(a, b, w, k, B, lo, hi, 1e-9),
                                reps)[2])
            ns.append(best_time(lambda a=a, b=b, w=w, k=k, lo=lo, hi=hi, B=B:
                                core._solve_budget_identity(a, b, w, k, B, lo, hi, 1e-9),
                                reps)[2])
        kt, nt = float(np.median(ks)) * 1e6, float(np.median(ns)) * 1e6
        print(f"| {G} | {kt:.1f} | {nt:.1f} | {nt / kt:.2f} |")


def other_solvers() -> None:
    """SCS on the same scaled model, cold-started (a warm start from the previous solve would
    begin at the answer), at its default tolerance and at 1e-12; G <= 100 (SCS needs 8-26 s
    at G = 1000)."""
    import cvxpy as cp

    if "SCS" not in cp.installed_solvers():
        print("# SCS not installed")
        return
    print("\n# other cvxpy solvers on the same scaled model (cold start, best of 3)")
    print("| G | solver (tolerance) | status | iterations | cvxpy solve wall (ms) | solver-only "
          "(ms) | max rel. diff n | rel. KKT |")
    print("|---|---|---|---|---|---|---|---|")
    for G in (10, 100):
        inst = instance(G)
        ref = core.solve_budget(*inst[:5], inst[7], inst[5], inst[6]).n
        prob, v, params = cvxpy_model(inst)
        s = set_values(inst, params)
        for label, kw in (("default", {}),
                          ("1e-12", {"eps_abs": 1e-12, "eps_rel": 1e-12, "max_iters": 200000})):
            wall, so = np.inf, np.inf
            for _ in range(3):
                t0 = time.perf_counter()
                prob.solve(solver="SCS", warm_start=False, **kw)
                wall = min(wall, time.perf_counter() - t0)
                so = min(so, prob.solver_stats.solve_time)
            n = s * np.exp(v.value)
            print(f"| {G} | SCS ({label}) | {prob.status} | {prob.solver_stats.num_iters} | "
                  f"{wall * 1e3:.2f} | {so * 1e3:.2f} | {np.max(np.abs(n - ref) / ref):.1e} | "
                  f"{kkt(inst, n):.1e} |")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[10, 100, 1000, 10000],
                        help="problem sizes of the first table")
    parser.add_argument("--tables", nargs="+", default=["main", "kernel", "crossover", "solvers"],
                        choices=["main", "kernel", "crossover", "solvers"])
    args = parser.parse_args()
    tables = {"main": lambda: main(args.groups), "kernel": kernel_through_the_public_call,
              "crossover": crossover, "solvers": other_solvers}
    for name in args.tables:
        tables[name]()
