"""Tests for sampling.selection: leverage scores, Lewis weights, root leverage, exact sensitivities.

Outside truth: R ``stats::hat`` (Householder QR) in tests/sampling/selection/reference/sensitivity_sampling.json,
numpy's SVD / QR, closed forms (sum = rank, ridge effective dimension), and the LP oracle.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from estimators.errors import ConvergenceError, ConvergenceWarning, ValidationError
from sampling import (
    LewisWeights,
    leverage_scores,
    lewis_weights,
    lp_sensitivities,
    mixed_scores,
    root_leverage_scores,
)
from sampling.selection._leverage_kernels import factor_for, sketch_factor
from sampling.selection._row_blocks import as_row_blocks

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "sensitivity_sampling.json").read_text())


def svd_leverage(x: np.ndarray) -> np.ndarray:
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    u = u[:, s > s[0] * max(x.shape) * 1e-13]
    return np.einsum("ij,ij->i", u, u)


@pytest.fixture(scope="module")
def heavy() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.normal(size=(3000, 6)) * rng.standard_t(1, size=(3000, 1))


# ----- leverage: outside truth and identities ---------------------------------------------------

@pytest.mark.parametrize("name", ["gauss", "heavy", "deficient"])
def test_leverage_matches_r_hat(name):
    x = np.array(REF[name])
    tau = leverage_scores(x, rng=0)
    np.testing.assert_allclose(tau, REF[f"leverage_{name}"], rtol=1e-8, atol=1e-12)


def test_leverage_sums_to_rank():
    x = np.array(REF["deficient"])
    assert abs(leverage_scores(x, rng=0).sum() - REF["rank_deficient"]) < 1e-9
    rng = np.random.default_rng(1)
    for d, r in [(5, 5), (8, 3), (12, 7)]:
        a = rng.normal(size=(400, r)) @ rng.normal(size=(r, d))
        tau = leverage_scores(a, rng=2)
        assert abs(tau.sum() - r) < 1e-8
        assert tau.min() >= -1e-12 and tau.max() <= 1 + 1e-12


def test_leverage_badly_scaled_columns_use_equilibrated_gram():
    # Column scaling leaves leverage unchanged but makes cond(X) ~ 1e10; the equilibrated Gram
    # path is exact for it (no fallback needed).
    x = np.array(REF["gauss"])
    scaled = x * np.array([1e-5, 1.0, 1e3, 1e5])
    assert factor_for(as_row_blocks(scaled), ridge=0.0, kind="sparse_sign", size=None,
                      rng=np.random.default_rng(0)).path == "cholesky"
    np.testing.assert_allclose(leverage_scores(scaled, rng=3), REF["leverage_gauss"],
                               rtol=1e-8, atol=1e-12)


def test_leverage_ill_conditioned_uses_exact_preconditioned_path():
    # Nearly collinear columns (cond ~ 1e8 after equilibration): the Gram path would lose about
    # eps * cond^2 ~ 1; the preconditioned path matches Householder QR.
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3000, 5)) * rng.standard_t(2, size=(3000, 1))
    x = np.column_stack([x, x[:, 0] + 1e-8 * rng.normal(size=3000)])
    rows = as_row_blocks(x)
    factor = factor_for(rows, ridge=0.0, kind="sparse_sign", size=None, rng=np.random.default_rng(0))
    assert factor.path == "preconditioned"
    q = np.linalg.qr(x)[0]
    # both sides are accurate to about eps * cond(X) ~ 2e-8 (absolute) here
    np.testing.assert_allclose(leverage_scores(x, rng=3), np.einsum("ij,ij->i", q, q),
                               rtol=1e-6, atol=2e-8)
    assert abs(leverage_scores(x, rng=4).sum() - 6) < 1e-8


def test_leverage_input_kinds_agree(tmp_path, heavy):
    expected = svd_leverage(heavy)
    np.testing.assert_allclose(leverage_scores(heavy), expected, rtol=1e-9, atol=1e-13)
    path = tmp_path / "x.npy"
    np.save(path, heavy)
    mm = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(leverage_scores(mm, block_size=700), expected, rtol=1e-9, atol=1e-13)
    chunks = lambda: (heavy[i : i + 512] for i in range(0, heavy.shape[0], 512))  # noqa: E731
    np.testing.assert_allclose(leverage_scores(chunks), expected, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(leverage_scores(list(chunks())), expected, rtol=1e-9, atol=1e-13)
    with pytest.raises(ValidationError, match="is a one-shot iterator"):
        leverage_scores(chunks())
    np.testing.assert_allclose(leverage_scores(sp.csr_matrix(heavy)), expected, rtol=1e-9,
                               atol=1e-13)
    f32 = heavy.astype(np.float32)
    np.testing.assert_allclose(leverage_scores(f32), svd_leverage(f32.astype(np.float64)),
                               rtol=1e-7, atol=1e-12)


def test_sparse_rank_deficient_countsketch_path():
    rng = np.random.default_rng(4)
    dense = sp.random(2000, 10, density=0.2, random_state=5, format="csr").toarray()
    dense[:, 9] = dense[:, 0] - dense[:, 3]  # rank 9
    tau = leverage_scores(sp.csr_matrix(dense), rng=rng)
    assert abs(tau.sum() - 9) < 1e-8
    np.testing.assert_allclose(tau, svd_leverage(dense), rtol=1e-8, atol=1e-12)


def test_float32_is_not_copied():
    x = np.random.default_rng(2).normal(size=(200_000, 10)).astype(np.float32)
    tracemalloc.start()
    tau = leverage_scores(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(tau.sum() - 10) < 1e-6
    # output (n float64) + blocks; a float64 copy of X alone would be 16 MB
    assert peak < tau.nbytes + 6 * 2**20


def test_ridge_leverage_effective_dimension():
    x = np.array(REF["gauss"])
    s = np.linalg.svd(x, compute_uv=False)
    for ridge in (0.5, 10.0, 1000.0):
        tau = leverage_scores(x, ridge=ridge)
        assert abs(tau.sum() - np.sum(s**2 / (s**2 + ridge))) < 1e-10
        direct = np.einsum("ij,ji->i", x, np.linalg.solve(x.T @ x + ridge * np.eye(4), x.T))
        np.testing.assert_allclose(tau, direct, rtol=1e-10)


@pytest.mark.parametrize("sketch", ["sparse_sign", "countsketch", "gaussian"])
def test_sketched_leverage_within_stated_error(heavy, sketch):
    # Stated error: tau/(1+eps)^2 <= tau_sketch <= tau/(1-eps)^2, eps the realised embedding
    # distortion of the sketch; we measure eps from the same random sketch and check the bound.
    exact = svd_leverage(heavy)
    approx = leverage_scores(heavy, method="sketch", sketch=sketch, rng=11)
    factor = sketch_factor(as_row_blocks(heavy), kind=sketch, size=None,
                           rng=np.random.default_rng(11))
    sv = np.linalg.svd(heavy @ np.linalg.inv(factor.triangles[0]), compute_uv=False)
    eps = max(1 - 1 / sv.max(), 1 / sv.min() - 1)
    assert eps < 0.6
    ratio = approx / exact
    assert ratio.min() >= 1 / (1 + eps) ** 2 - 1e-9
    assert ratio.max() <= 1 / (1 - eps) ** 2 + 1e-9
    jl = leverage_scores(heavy, method="sketch", sketch=sketch, projection_dim=200, rng=11)
    assert np.median(jl / exact) == pytest.approx(1.0, abs=0.35)


# ----- Lewis weights ------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 3.0, 4.0, 6.0])
def test_lewis_weights_fixed_point_and_sum(heavy, p):
    lw = lewis_weights(heavy, p=p, tol=1e-12, max_iter=400)
    assert isinstance(lw, LewisWeights) and lw.converged
    w = lw.weights
    assert abs(w.sum() - heavy.shape[1]) < 1e-8
    # the defining identity, checked with a direct dense solve
    m = heavy.T @ (heavy * (w ** (1 - 2 / p))[:, None])
    quad = np.einsum("ij,ji->i", heavy, np.linalg.solve(m, heavy.T))
    np.testing.assert_allclose(w ** (2 / p), quad, rtol=1e-9)


def test_lewis_p2_is_leverage_and_bounded_by_root_leverage(heavy):
    np.testing.assert_allclose(lewis_weights(heavy, p=2).weights, svd_leverage(heavy), rtol=1e-9)
    for p in (0.5, 1.0, 1.5):
        w = np.asarray(lewis_weights(heavy, p=p))
        assert np.all(w <= root_leverage_scores(heavy, p=p) * (1 + 1e-7))


def test_lewis_iterations_reported_and_nonconvergence(heavy):
    lw = lewis_weights(heavy, p=1)
    assert 5 <= lw.n_iter <= 60 and lw.residual <= 1e-8 and lw.error_bound < 1e-7
    with pytest.raises(ConvergenceError, match="did not reach tol"):
        lewis_weights(heavy, p=1, max_iter=2)
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        out = lewis_weights(heavy, p=1, max_iter=2, on_nonconvergence="warn")
    assert not out.converged and out.n_iter == 2
    assert "Lewis weights" in out.summary() and len(out.to_frame()) == heavy.shape[0]
    assert out.plot() is not None




# ----- exact sensitivities (LP oracle) --------------------------------------------------------------

def test_p2_sensitivities_equal_leverage():
    x = np.array(REF["heavy"])
    np.testing.assert_allclose(lp_sensitivities(x, p=2), REF["leverage_heavy"], rtol=1e-8,
                               atol=1e-12)


def test_l1_sensitivities_oracle_bounds():
    x = np.array(REF["heavy"])[:60]
    d = x.shape[1]
    s = lp_sensitivities(x, p=1)
    # definition: s_i >= |a_i x| / ||A x||_1 for every x (random directions)
    dirs = np.random.default_rng(5).normal(size=(d, 200))
    ratios = np.abs(x @ dirs) / np.abs(x @ dirs).sum(axis=0)
    assert np.all(s >= ratios.max(axis=1) - 1e-9)
    tau = svd_leverage(x)
    assert np.all(s <= np.sqrt(tau) + 1e-9)  # root-leverage bound (p <= 2)
    lw = lewis_weights(x, p=1, tol=1e-12).weights
    assert np.all(s <= np.sqrt(d) * lw + 1e-9)  # Cohen & Peng: s_i <= d^(1-p/2) w_i
    assert s.sum() <= d + 1e-9


def test_mixed_scores():
    q = mixed_scores([1.0, 3.0], leverage=[0.5, 0.5], leverage_mix=0.2, uniform_mix=0.2)
    np.testing.assert_allclose(q, [0.6 * 0.25 + 0.1 + 0.1, 0.6 * 0.75 + 0.1 + 0.1])
    assert q.sum() == pytest.approx(1.0)


# ----- errors (one per message) ---------------------------------------------------------------------

def test_leverage_errors():
    x = np.ones((5, 2))
    with pytest.raises(ValidationError, match="method: must be one of"):
        leverage_scores(x, method="qr")
    with pytest.raises(ValidationError, match="must be 2-dimensional"):
        leverage_scores(np.ones(5))
    with pytest.raises(ValidationError, match="must be numeric"):
        leverage_scores(np.array([["a", "b"]]))
    with pytest.raises(ValidationError, match="at least one row and one column"):
        leverage_scores(np.ones((0, 3)))
    bad = np.ones((5, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValidationError, match=r"must be finite.*row 3"):
        leverage_scores(bad + np.eye(5, 2))
    with pytest.raises(ValidationError, match="has no nonzero row"):
        leverage_scores(np.zeros((4, 2)))
    with pytest.raises(ValidationError, match="ridge: is only supported with method='exact'"):
        leverage_scores(x, method="sketch", ridge=1.0)
    with pytest.raises(ValidationError, match="projection_dim: is only used with method='sketch'"):
        leverage_scores(x, projection_dim=3)
    with pytest.raises(ValidationError, match="block_size: must be a positive integer"):
        leverage_scores(x, block_size=0)
    with pytest.raises(ValidationError, match="sketch: must be one of"):
        leverage_scores(x, sketch="srht")
    with pytest.raises(ValidationError, match="must be a 2-dimensional numeric array"):
        leverage_scores(3.0)


def test_more_input_errors():
    with pytest.raises(ValidationError, match="produced a non-finite Gram matrix"):
        leverage_scores(np.full((4, 2), 1e200) + np.eye(4, 2))
    with pytest.raises(ValidationError, match="sketch_size: must be >= 3"):
        leverage_scores(np.ones((10, 3)), sketch_size=2)
    with pytest.raises(ValidationError, match="every block must be numeric"):
        leverage_scores(lambda: iter([np.ones((2, 2)), np.array([["a", "b"]])]))
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("disk gone")
        return iter([np.eye(3)])

    with pytest.raises(ValidationError, match=r"calling the block source failed \(disk gone\)"):
        leverage_scores(flaky)
    grow = {"n": 0}

    def growing():
        grow["n"] += 1
        return iter([np.eye(3)] * (1 if grow["n"] <= 2 else 2))

    with pytest.raises(ValidationError, match="returned more rows on a later pass"):
        leverage_scores(growing)


def test_stream_errors():
    blocks = [np.ones((3, 2)), np.ones((3, 3))]
    with pytest.raises(ValidationError, match="every block must be 2-dimensional with 2 columns"):
        leverage_scores(lambda: iter(blocks))
    with pytest.raises(ValidationError, match="yielded no blocks"):
        leverage_scores(lambda: iter([]))
    calls = {"n": 0}

    def shrinking():
        calls["n"] += 1
        rows = 6 if calls["n"] <= 2 else 3
        return iter([np.random.default_rng(0).normal(size=(rows, 2))])

    with pytest.raises(ValidationError, match="different number of rows on a later pass"):
        leverage_scores(shrinking)


def test_other_errors():
    x = np.array(REF["gauss"])
    with pytest.raises(ValidationError, match="p: must be <= 2"):
        root_leverage_scores(x, p=3)
    with pytest.raises(ValidationError, match="must be 1 or 2 for exact sensitivities"):
        lp_sensitivities(x, p=3)
    with pytest.raises(ValidationError, match="too many rows for exact sensitivities"):
        lp_sensitivities(x, max_rows=10)
    with pytest.raises(ValidationError, match="leverage_mix \\+ uniform_mix: must be < 1"):
        mixed_scores([1.0, 2.0], leverage=[1, 1], leverage_mix=0.5, uniform_mix=0.5)
    with pytest.raises(ValidationError, match="leverage: is required"):
        mixed_scores([1.0, 2.0], leverage_mix=0.5)
    with pytest.raises(ValidationError, match="scores: must not all be zero"):
        mixed_scores([0.0, 0.0])
    with pytest.raises(ValidationError, match=r"uniform_mix: must lie in \[0, 1\)"):
        mixed_scores([1.0], uniform_mix=1.0)
    with pytest.raises(ValidationError, match="ridge: is too small"):
        leverage_scores(np.hstack([x, x[:, :1]]), ridge=1e-300)
