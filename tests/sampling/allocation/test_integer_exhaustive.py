"""Integer plans of ``allocate`` against exhaustive enumeration on many random small problems.

Outside truth: every integer plan in the box is enumerated and scored by objective functions
written here, independently of sampling.allocation (only numpy). For each of N_PROBLEMS random
problems (2-4 groups; equal costs, integer, decimal and irrational unequal costs; random min_n,
max_n and current_n; seeds 0 .. N_PROBLEMS - 1) every built-in objective is solved with
``integer=True``: utilitarian, population, maximin (tie-breaks leximin, utilitarian and none),
pnorm, alpha_fair and target. The plan must report ``integer_status == "optimal"``, respect the
budget and the box, and reach the enumerated optimum: objective values equal to 1e-12 relative
(plans with exactly tied values may differ); for maximin the worst error to 1e-14, then the
tie-break's own criterion among the plans at that level.
"""

import numpy as np
import pandas as pd
import pytest

from sampling.allocation._plan import OBJECTIVES, allocate

pytestmark = pytest.mark.slow

N_PROBLEMS = 1000
REL = 1e-12
# numpy may evaluate powers with SIMD kernels whose last bit depends on the position in the
# array, so "the same float" can differ by an ulp: levels within TIE (relative) count as equal
TIE = 1e-14
BUILT_IN = {"utilitarian", "population", "maximin", "pnorm", "alpha_fair", "target"}


def draw(seed):
    """One random problem: curves, costs, bounds, budget and the enumerated box of plans."""
    rng = np.random.default_rng(seed)
    G = int(rng.integers(2, 5))
    a, b, c = rng.uniform(0.05, 0.8, G), rng.uniform(0.1, 1.5, G), rng.uniform(0, 0.15, G)
    kind = seed % 4
    if kind == 0:
        k = np.full(G, float(rng.choice([1.0, 2.0, 0.7, 3.3])))  # equal costs
    elif kind == 1:
        k = rng.integers(1, 6, G).astype(float)  # integers (may happen to be equal)
    elif kind == 2:
        k = np.round(rng.uniform(0.5, 4, G), 1)  # decimals: scaled dynamic programme
    else:
        k = rng.uniform(0.5, 4, G)  # irrational in practice: MILP over the windows
    min_n = rng.integers(1, 4, G).astype(float)
    cur = np.where(rng.random(G) < 0.3, rng.integers(0, 6, G), 0).astype(float)
    lo = np.maximum(min_n, cur)
    max_n = np.where(rng.random(G) < 0.4, lo + rng.integers(0, 12, G), np.inf)
    # budget for NEW samples: the lower bounds plus a few more units, box kept small
    base = float(k @ (lo - cur))
    budget = base + float(rng.uniform(0, 40 / G ** 0.7)) * float(k.mean())
    budget = float(np.round(budget, 3)) if kind < 3 else budget
    budget = max(budget, base)
    total = budget + float(k @ cur)
    top = np.minimum(max_n, lo + np.floor((total - k @ lo) / k + 1e-9))
    axes = [np.arange(lo[g], top[g] + 1) for g in range(G)]
    grid = np.stack([x.ravel() for x in np.meshgrid(*axes, indexing="ij")], axis=1)
    grid = grid[grid @ k <= total * (1 + 1e-12)]
    shares = rng.dirichlet(np.ones(G))
    labels = [f"g{i}" for i in range(G)]
    curves = pd.DataFrame({"a": a, "b": b, "c": c}, index=labels)
    return dict(curves=curves, a=a, b=b, c=c, k=k, min_n=min_n, cur=cur, max_n=max_n,
                budget=budget, total=total, grid=grid, shares=shares, labels=labels, rng=rng)


def errors(P, n):
    n = np.asarray(n, float)
    return P["a"] * n ** -P["b"] + P["c"]


def score(kind, e, w, extra):
    """Objective to MINIMISE, one row per plan (``e``: plans x groups)."""
    if kind == "utilitarian":
        return e.mean(axis=1)
    if kind == "population":
        return e @ w
    if kind == "pnorm":
        p = extra["p"]
        return ((e ** p) @ w) ** (1 / p)
    if kind == "alpha_fair":
        al = extra["alpha"]
        u = 1 - e
        return -(np.log(u) @ w) if al == 1 else -((u ** (1 - al)) @ w) / (1 - al)
    raise AssertionError(kind)


def cases(P):
    """(objective, allocate keywords, weights used by the enumerated objective)."""
    G = len(P["labels"])
    eq = np.full(G, 1 / G)
    sh = dict(zip(P["labels"], P["shares"], strict=True))
    p = float(P["rng"].choice([1.0, 2.0, 3.5]))
    alpha = float(P["rng"].choice([0.5, 1.0, 2.0]))
    yield "utilitarian", {}, eq
    yield "population", {"population_shares": sh}, P["shares"]
    yield "pnorm", {"p": p}, eq
    yield "pnorm", {"p": p, "population_shares": sh}, P["shares"]
    yield "alpha_fair", {"alpha": alpha}, eq
    for tie in ("leximin", "utilitarian", "none"):
        yield "maximin", {"tie_break": tie}, eq
    yield "target", {}, eq


def solve(P, kind, kw):
    bounds = {"min_n": dict(zip(P["labels"], P["min_n"], strict=True)),
              "current_n": dict(zip(P["labels"], P["cur"], strict=True))}
    if np.isfinite(P["max_n"]).any():
        bounds["max_n"] = dict(zip(P["labels"], np.where(np.isfinite(P["max_n"]), P["max_n"],
                                                         1e9), strict=True))
    return allocate(P["curves"], budget=P["budget"], costs=dict(zip(P["labels"], P["k"],
                                                                    strict=True)),
                    objective=kind, **bounds, **kw)


def check_one(P, kind, kw, w):
    grid, k, cur, total = P["grid"], P["k"], P["cur"], P["total"]
    if kind == "target":  # targets reachable inside the box: the cheapest plan meeting them
        pick = grid[P["rng"].integers(len(grid))]
        targets = errors(P, pick) * (1 + 1e-9)
        kw = {"targets": dict(zip(P["labels"], targets, strict=True))}
    plan = solve(P, kind, kw)
    n = plan.n.to_numpy()
    assert plan.integer_status == "optimal", plan.integer_status
    assert np.all(n >= np.maximum(P["min_n"], cur)) and np.all(n <= P["max_n"])
    assert float(k @ n) <= total * (1 + 1e-12)
    E = errors(P, grid)
    e = errors(P, n)
    if kind == "target":
        ok = np.all(E <= targets, axis=1)
        assert np.all(e <= targets)
        assert float(k @ n) == pytest.approx(float((grid[ok] @ k).min()), rel=REL)
        return
    if kind != "maximin":
        best = float(score(kind, E, w, kw).min())
        got = float(score(kind, e[None, :], w, kw)[0])
        assert got == pytest.approx(best, rel=REL, abs=1e-15)
        return
    worst = E.max(axis=1)
    t = worst.min()
    assert e.max() == pytest.approx(t, rel=TIE)
    at = grid[worst <= t * (1 + TIE)]
    tie = kw["tie_break"]
    if tie == "none":  # the cheapest plan at the optimal level
        assert float(k @ n) == pytest.approx(float((at @ k).min()), rel=REL)
    elif tie == "leximin" and np.all(k == k[0]):  # equal costs: exact leximin
        lex = -np.sort(-errors(P, at), axis=1)  # each plan's errors, worst first
        order = np.lexsort(np.round(lex / t / TIE).T[::-1])  # ties within TIE are ties
        np.testing.assert_allclose(np.sort(e)[::-1], lex[order[0]], rtol=100 * TIE)
    else:  # spend the rest to minimise the sum of errors at the optimal level
        assert e.sum() == pytest.approx(float(errors(P, at).sum(axis=1).min()), rel=REL)


def test_every_built_in_objective_is_covered():
    assert set(OBJECTIVES) == BUILT_IN


@pytest.mark.parametrize("block", range(10))
def test_integer_plans_equal_exhaustive_search(block):
    size = N_PROBLEMS // 10
    compared = 0
    for seed in range(block * size, (block + 1) * size):
        P = draw(seed)
        for kind, kw, w in cases(P):
            try:
                check_one(P, kind, kw, w)
            except AssertionError as exc:
                raise AssertionError(f"seed {seed}, {kind} {kw}: {exc}") from exc
            compared += 1
    assert compared == size * 9
