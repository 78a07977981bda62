"""Properties of the welfare functions, aggregation and who_decides (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import estimators as est

PER_RATER = [
    ("utilitarian", {}),
    ("maximin", {}),
    ("power_mean", {"power": 0.5}),
    ("power_mean", {"power": -1.0}),
    ("atkinson", {"eps": 0.5}),
    ("atkinson", {"eps": 1.0}),
    ("atkinson", {"eps": 2.0}),
    ("nash", {"disagreement": 0.5}),
    ("gini", {}),
    ("sen", {}),
    ("veto_share", {"veto_threshold": 30.0}),
]
# higher-is-better measures that never fall when one utility rises
MONOTONE_UP = ["utilitarian", "maximin", "power_mean", "atkinson", "nash", "sen"]

utilities = st.integers(2, 9).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n, 2), elements=st.floats(1.0, 100.0, allow_nan=False)),
        arrays(np.float64, n, elements=st.floats(0.1, 5.0, allow_nan=False)),
    )
)


def _value(u, swf, kw, weights=None):
    frame = est.welfare(pd.DataFrame(u, columns=["a", "b"]), swf=swf, weights=weights, **kw)
    return frame.to_frame()["welfare"].to_numpy()


@pytest.mark.parametrize(("swf", "kw"), PER_RATER)
@settings(max_examples=12)
@given(data=utilities, seed=st.integers(0, 2**32 - 1))
def test_permutation_invariant(swf, kw, data, seed):
    u, w = data
    perm = np.random.default_rng(seed).permutation(len(w))
    np.testing.assert_allclose(_value(u, swf, kw, w), _value(u[perm], swf, kw, w[perm]),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("swf", "kw"), PER_RATER)
@settings(max_examples=12)
@given(data=utilities, scale=st.floats(0.01, 100.0))
def test_equal_weights_match_unweighted_formula(swf, kw, data, scale):
    u, w = data
    np.testing.assert_allclose(_value(u, swf, kw, np.full(len(w), scale)), _value(u, swf, kw),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("swf", "kw"), PER_RATER)
@settings(max_examples=12)
@given(data=utilities, counts=st.lists(st.integers(1, 4), min_size=9, max_size=9))
def test_integer_weights_equal_replicated_raters(swf, kw, data, counts):
    u, _ = data
    c = np.array(counts[: len(u)])
    replicated = np.repeat(u, c, axis=0)
    np.testing.assert_allclose(_value(u, swf, kw, c.astype(float)), _value(replicated, swf, kw),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("swf", "kw"), [p for p in PER_RATER if p[0] in MONOTONE_UP])
@settings(max_examples=15)
@given(data=utilities, who=st.integers(0, 8), bump=st.floats(0.0, 50.0))
def test_monotone_in_each_utility(swf, kw, data, who, bump):
    u, w = data
    raised = u.copy()
    raised[who % len(u), 0] += bump
    before, after = _value(u, swf, kw, w)[0], _value(raised, swf, kw, w)[0]
    assert after >= before - 1e-9 * max(1.0, abs(before))


@given(data=utilities, who=st.integers(0, 8), bump=st.floats(0.0, 50.0))
def test_veto_share_never_rises_when_utility_rises(data, who, bump):
    u, w = data
    raised = u.copy()
    raised[who % len(u), 0] += bump
    kw = {"veto_threshold": 30.0}
    assert _value(raised, "veto_share", kw, w)[0] <= _value(u, "veto_share", kw, w)[0]


@given(
    wins=arrays(np.int64, (4, 4), elements=st.integers(0, 4)),
    counts=st.lists(st.integers(1, 3), min_size=16, max_size=16),
)
def test_bradley_terry_integer_weights_equal_replicated_battles(wins, counts):
    rows = [(a, b) for a in range(4) for b in range(4) if a != b for _ in range(int(wins[a, b]))]
    if not rows:
        return
    battles = pd.DataFrame(rows, columns=["winner", "loser"])
    c = np.array((counts * (len(rows) // 16 + 1))[: len(rows)])
    replicated = battles.loc[battles.index.repeat(c)].reset_index(drop=True)
    if battles["winner"].nunique() + battles["loser"].nunique() < 2 or len(
        set(battles["winner"]) | set(battles["loser"])
    ) < 2:
        return
    with pytest.warns(est.DataWarning, match="frequency weights"):
        weighted = est.bradley_terry(battles, weights=c.astype(float), regularization=0.1)
    plain = est.bradley_terry(replicated, regularization=0.1)
    np.testing.assert_allclose(weighted.params.to_numpy(), plain.params.to_numpy(), atol=1e-8)


@settings(max_examples=25)
@given(
    u=arrays(np.float64, (12, 4), elements=st.sampled_from([np.nan, 10.0, 40.0, 55.0, 90.0])),
    size=st.integers(1, 8),
    rule=st.sampled_from(["mean_rating", "borda", "copeland", "minimax", "condorcet"]),
    seed=st.integers(0, 1000),
)
def test_winner_distribution_sums_to_one(u, size, rule, seed):
    u[:, 0] = np.where(np.isnan(u[:, 0]), 50.0, u[:, 0])  # every option seen by someone
    u[0] = [20.0, 30.0, 40.0, 50.0]
    res = est.who_decides(pd.DataFrame(u, columns=list("abcd")), policy=size, rule=rule,
                          n_draws=60, rng=seed)
    shares = res.winner_shares()["share"].to_numpy()
    assert shares.sum() == pytest.approx(1.0)
    assert (shares >= 0).all()


@settings(max_examples=40)
@given(
    u=arrays(np.float64, (7, 5), elements=st.sampled_from([np.nan, 1.0, 2.0, 3.0, 4.0])),
    w=arrays(np.float64, 7, elements=st.sampled_from([0.5, 1.0, 2.0])),
    rule=st.sampled_from(["borda", "copeland", "condorcet", "minimax", "schulze", "ranked_pairs"]),
)
def test_voting_rules_never_fail_on_incoherent_raters(u, w, rule):
    frame = pd.DataFrame(u, columns=list("abcde"))
    res = est.aggregate(frame, rule=rule, weights=w)
    assert sorted(res.ranking) == list("abcde")
    assert np.isfinite(res.scores.to_numpy()).all()
    if rule != "condorcet":
        assert res.winner == res.ranking[0]
    elif res.winner is not None:  # a Condorcet winner tops every consistent rule
        assert est.aggregate(frame, rule="ranked_pairs", weights=w).winner == res.winner
        assert est.aggregate(frame, rule="schulze", weights=w).winner == res.winner
