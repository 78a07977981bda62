"""The compiled budget kernel (sampling/allocation/_budget_kernel.c) against its numpy reference.

The kernel is the same algorithm as ``_solve_budget_identity`` line for line; the two may differ
only by rounding (libm vs numpy ``exp``, sequential vs pairwise sums). CI builds the kernel and
sets ``EQUISAMPLE_REQUIRE_KERNEL=1`` so that a failed build cannot hide behind the fallback.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimators.errors import InfeasibleError
from sampling.allocation import _core as core

needs_kernel = pytest.mark.skipif(core._kernel is None, reason="compiled kernel not built")


def test_kernel_is_built_when_required():
    if os.environ.get("EQUISAMPLE_REQUIRE_KERNEL") != "1":
        pytest.skip("EQUISAMPLE_REQUIRE_KERNEL is not set")
    assert core._kernel is not None, "sampling/allocation/_budget_kernel.c was not compiled at install"


def instance(seed: int, G: int, regime: float, uncapped: float = 0.2):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 10, G)
    b = rng.uniform(0.05, 2, G)
    w = rng.uniform(0.01, 1, G)
    k = rng.uniform(0.1, 10, G)
    lo = rng.uniform(1, 50, G)
    hi = lo + rng.uniform(0, 1000, G) * (rng.random(G) > 0.1)  # some lo == hi
    hi[rng.random(G) < uncapped] = np.inf
    spent_lo = float(k @ lo)
    cap = float(k @ hi)
    budget = spent_lo + regime * (cap - spent_lo) if np.isfinite(cap) else spent_lo * (1 + 10 * regime)
    return a, b, w, k, lo, hi, budget


def both(a, b, w, k, lo, hi, budget):
    """The kernel's plan and the numpy reference's for the spend the kernel aims at ((G + 4)
    eps below the budget, so that numpy's dot is within it; the edge cases stay with numpy)."""
    fast = core._solve_budget_identity_kernel(a, b, w, k, budget, lo, hi, core.KKT_TOL)
    target = core._kernel_target(budget, a.size)
    if not float(k @ lo) < budget < float(k @ hi):  # edge cases: the numpy path, by design
        assert fast is None
        fast = core.solve_budget(a, b, np.zeros_like(a), w, k, budget, lo, hi)
        target = budget
    ref = core._solve_budget_identity(a, b, w, k, target, lo, hi, core.KKT_TOL)
    return fast, ref


def assert_same(fast, ref, lo, hi):
    assert fast is not None
    # 1e-11: a budget within 1e-9 of the lower bounds' cost makes n ill-conditioned (the free
    # groups sit a hair above their floors); well inside the box the two agree to ~1e-15
    np.testing.assert_allclose(fast.n, ref.n, rtol=1e-11, atol=0)
    assert fast.status == ref.status == "optimal"
    assert fast.budget_binding == ref.budget_binding
    if ref.multiplier == 0:
        assert fast.multiplier == 0
    elif not np.all(ref.n == lo):  # at the lower bounds any large enough multiplier is optimal
        assert fast.multiplier == pytest.approx(ref.multiplier, rel=1e-10)
    assert fast.kkt_residual <= 1e-11
    # active sets agree except for a group that sits on a bound to rounding
    near_lo = np.abs(ref.n - lo) <= 1e-10 * lo
    near_hi = np.abs(ref.n - hi) <= 1e-10 * np.where(np.isfinite(hi), hi, 1.0)
    np.testing.assert_array_equal(fast.at_lower[~near_lo], ref.at_lower[~near_lo])
    np.testing.assert_array_equal(fast.at_upper[~near_hi], ref.at_upper[~near_hi])


@needs_kernel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), G=st.integers(1, 80),
       regime=st.sampled_from([0.0, 1e-9, 0.01, 0.3, 0.5, 0.9, 0.999999, 1.0, 1.5]),
       uncapped=st.sampled_from([0.0, 0.2, 1.0]))
def test_kernel_equals_numpy_reference(seed, G, regime, uncapped):
    a, b, w, k, lo, hi, budget = instance(seed, G, regime, uncapped)
    fast, ref = both(a, b, w, k, lo, hi, budget)
    assert_same(fast, ref, lo, hi)
    assert float(k @ fast.n) <= budget
    assert np.all(fast.n >= lo) and np.all(fast.n <= hi)


def benchmark_instance(G: int):
    """The instance of benchmarks/allocation_solver.py (one definition, loaded from there)."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "allocation_solver.py"
    spec = importlib.util.spec_from_file_location("allocation_solver_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b, _c, w, k, lo, hi, budget = module.instance(G)
    return a, b, w, k, lo, hi, budget


@needs_kernel
@pytest.mark.parametrize("G", [10, 100, 512])
def test_kernel_on_the_benchmark_instances(G):
    a, b, w, k, lo, hi, budget = benchmark_instance(G)
    fast, ref = both(a, b, w, k, lo, hi, budget)
    assert_same(fast, ref, lo, hi)
    assert fast.iterations <= 8
    assert fast.at_upper.any() and not fast.at_upper.all()


@needs_kernel
def test_kernel_cases_slack_and_lower_bounds():
    a, b, w, k, lo, hi, _ = instance(1, 7, 0.5, uncapped=0.0)
    fast, ref = both(a, b, w, k, lo, hi, float(k @ hi) * 2)  # every group at its cap
    assert_same(fast, ref, lo, hi)
    assert fast.multiplier == 0.0 and not fast.budget_binding and fast.at_upper.all()
    fast, ref = both(a, b, w, k, lo, hi, float(k @ lo))  # exactly the lower bounds
    assert_same(fast, ref, lo, hi)
    np.testing.assert_array_equal(fast.n, lo)
    budget = float(k @ lo) * (1 + 1e-6)  # a hair above them: the kernel solves it
    fast, ref = both(a, b, w, k, lo, hi, budget)
    assert_same(fast, ref, lo, hi)


def kernel_plan(a, b, w, k, lo, hi, budget):
    """The kernel's n as it leaves C (before the Python layer's guard)."""
    n, at_lo, at_hi = np.empty(a.size), np.empty(a.size, bool), np.empty(a.size, bool)
    core._kernel.budget_identity(a, b, w, k, lo, hi, n, at_lo, at_hi, budget)
    return n


@needs_kernel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), G=st.integers(1, core.KERNEL_MAX_GROUPS),
       regime=st.sampled_from([1e-9, 0.01, 0.3, 0.5, 0.9, 0.999999]),
       uncapped=st.sampled_from([0.0, 0.2, 1.0]))
def test_kernel_plan_is_within_budget_in_any_summation_order(seed, G, regime, uncapped):
    # (G + 4) eps below the budget: numpy's dot, a reversed or pairwise sum all stay within it,
    # so the Python layer never trims; and the budget is still spent to 1e-12
    a, b, w, k, lo, hi, budget = instance(seed, G, regime, uncapped)
    if not float(k @ lo) < budget < float(k @ hi):
        return
    n = kernel_plan(a, b, w, k, lo, hi, budget)
    spend = k * n
    for total in (float(k @ n), float(k[::-1] @ n[::-1]), float(np.sum(spend)),
                  float(np.add.reduce(spend[::-1])), math.fsum(spend)):
        assert total <= budget
    if np.any((n > lo) & (n < hi)):
        assert math.fsum(spend) >= budget * (1 - 1e-12)
    assert core._trim_to_budget(n, k, lo, hi, budget) is n


@needs_kernel
def test_kernel_infeasible_budget_raises_the_same_certificate():
    a, b, w, k, lo, hi, _ = instance(2, 5, 0.5)
    with pytest.raises(InfeasibleError, match=r"the lower bounds alone cost sum\(cost \* min_n\)"):
        core.solve_budget(a, b, np.zeros(5), w, k, float(k @ lo) * 0.99, lo, hi)


@needs_kernel
def test_non_float64_or_strided_input_falls_back_to_numpy():
    a, b, w, k, lo, hi, budget = instance(3, 12, 0.4, uncapped=0.0)
    ref = core._solve_budget_identity(a, b, w, k, budget, lo, hi, core.KKT_TOL)
    strided = np.repeat(a, 2)[::2]
    assert core._solve_budget_identity_kernel(strided, b, w, k, budget, lo, hi, 1e-9) is None
    sol = core.solve_budget(strided, b, np.zeros(12), w, k, budget, lo, hi)
    np.testing.assert_array_equal(sol.n, ref.n)  # the numpy path ran
    f32 = lo.astype(np.float32)
    assert core._solve_budget_identity_kernel(a, b, w, k, budget, f32, hi, 1e-9) is None


@needs_kernel
def test_kernel_rejects_bad_arguments_with_type_error():
    x = np.ones(3)
    out_b = np.empty(3, dtype=bool)
    with pytest.raises(TypeError, match=r"budget_identity\(a, b, w, costs"):
        core._kernel.budget_identity(x, x, x)
    with pytest.raises(TypeError, match="lo: expected a 1-d array of 'd' with 3 items"):
        core._kernel.budget_identity(x, x, x, x, np.ones(4), x, np.empty(3), out_b, out_b, 1.0)
    with pytest.raises(TypeError, match="n: expected a contiguous writable array"):
        core._kernel.budget_identity(x, x, x, x, x, x, b"abc", out_b, out_b, 1.0)
