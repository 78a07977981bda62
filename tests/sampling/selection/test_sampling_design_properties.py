"""Hypothesis properties of inclusion probabilities, pi-ps draws and leverage scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sampling import leverage_scores, sensitivity_sample
from sampling.selection._pips_designs import draw, inclusion_probabilities

scores = arrays(np.float64, st.integers(2, 60),
                elements=st.one_of(st.just(0.0), st.floats(1e-300, 1e6, allow_subnormal=False)))


@given(scores, st.floats(0.05, 1.0), st.integers(0, 2**32 - 1))
def test_inclusion_probabilities_properties(q, share, seed):
    positive = int((q > 0).sum())
    if positive == 0:
        return
    m = max(1, int(share * positive))
    pi = inclusion_probabilities(q, float(m))
    assert abs(pi.sum() - m) <= 1e-9 * max(m, 1)
    assert np.all((pi >= 0) & (pi <= 1))
    assert np.all(pi[q == 0] == 0)
    order = np.argsort(q)
    assert np.all(np.diff(pi[order]) >= -1e-12)  # monotone in the score
    frac = (pi > 0) & (pi < 1)
    if frac.sum() >= 2:  # proportional to q among the non-certainty rows
        ratio = pi[frac] / q[frac]
        assert np.allclose(ratio, ratio[0], rtol=1e-9)
    rng = np.random.default_rng(seed)
    certain = np.flatnonzero(pi >= 1 - 1e-12)
    for design in ("systematic", "pivotal"):
        units, times = draw(pi, m, design, rng)
        assert units.size == m and np.all(times == 1)
        assert np.unique(units).size == m
        assert np.all(pi[units] > 0)
        assert np.isin(certain, units).all()
    units, _ = draw(pi, m, "poisson", rng)
    assert np.isin(certain, units).all() and np.all(pi[units] > 0)


@given(st.integers(5, 40), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_leverage_properties(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.standard_t(1, size=(n, 1))
    tau = leverage_scores(x, rng=seed)
    rank = np.linalg.matrix_rank(x)
    assert abs(tau.sum() - rank) < 1e-6
    assert tau.min() >= -1e-8 and tau.max() <= 1 + 1e-8  # Gram path accuracy ~ eps cond^2 <= 2e-8
    perm = rng.permutation(n)  # row permutation equivariance
    np.testing.assert_allclose(leverage_scores(x[perm], rng=seed), tau[perm], atol=1e-8)
    scale = np.exp(rng.uniform(-6, 6, size=d))  # invariance under column scaling
    np.testing.assert_allclose(leverage_scores(x * scale, rng=seed), tau, atol=1e-7)


@given(st.integers(0, 2**32 - 1), st.sampled_from(["poisson", "systematic", "pivotal"]))
def test_sample_weights_are_inverse_probabilities(seed, design):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 3)) * rng.standard_t(2, size=(120, 1))
    sub = sensitivity_sample(x, 20, design=design, rng=seed, report=False)
    np.testing.assert_allclose(sub.weights, 1 / sub.probabilities)
    assert abs(sub.inclusion_probabilities.sum() - 20) < 1e-9
    np.testing.assert_array_equal(sub.probabilities, sub.inclusion_probabilities[sub.indices])
