"""who_decides: PRISM-compatible mode draw for draw, vectorised default mode, outputs, errors.

The PRISM check: ``prism_reference`` below is an independent, deliberately plain re-implementation
of the loop in PRISM's notebook ``notebooks/analysis/11b_welfare_analysis.ipynb``
(github.com/HannahKirk/prism-alignment): pandas pivot tables, ``random.choices`` juries,
``np.nanmean`` per model, ``random.choice`` over the argmax set on every draw, welfare = pandas
mean over the population. It runs on the PRISM-schema synthetic sample; the same seed must give
the same winners, draw for draw, and the same welfare values.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.welfare._who_decides import JuryPolicy, who_decides

pytestmark = pytest.mark.reference

OVER_45 = ["45-54 years old", "55-64 years old", "65+ years old"]


@pytest.fixture(scope="module")
def data():
    return est.load_prism()


@pytest.fixture(scope="module")
def prism_inputs(data):
    utt = data.utterances
    survey = data.survey
    merged = utt.merge(survey, on="user_id", how="left")
    merged = merged[(merged["turn"] == 0) & (merged["included_in_balanced_subset_x"])]
    merged = merged.assign(veto=(merged["score"] <= 10).astype(int))
    models = merged["model_name"].unique().tolist()
    tables = {
        kind: pd.pivot_table(merged, values=col, index="user_id", columns="model_name",
                             aggfunc="mean")
        for kind, col in (("rating", "score"), ("choice", "if_chosen"), ("veto", "veto"))
    }
    pools = {
        "uk": survey.loc[survey["included_in_UK_REP"], "user_id"].tolist(),
        "us": survey.loc[survey["included_in_US_REP"], "user_id"].tolist(),
        "male": survey.loc[survey["gender"] == "Male", "user_id"].tolist(),
        "all": survey["user_id"].tolist(),
    }
    populations = {
        "all": survey["user_id"].tolist(),
        "nonmale": survey.loc[survey["gender"] != "Male", "user_id"].tolist(),
        "nonwhite": survey.loc[survey["ethnicity_simplified"] != "White", "user_id"].tolist(),
        "below_45": survey.loc[~survey["age"].isin(OVER_45), "user_id"].tolist(),
    }
    balanced = utt[utt["included_in_balanced_subset"]]
    ours = {
        "rating": est.utility_table(balanced, raters=survey),
        "choice": est.utility_table(balanced, aggregate="choice_rate", raters=survey),
        "veto": est.utility_table(balanced, aggregate="veto_rate", veto_threshold=10,
                                  raters=survey),
    }
    return models, tables, pools, populations, ours


TIED_DRAWS = []


def prism_reference(table, models, pool, size, n_draws, rng, method):
    """PRISM's loop, written out plainly."""
    winners = []
    for _ in range(n_draws):
        sample = rng.choices(pool, k=size)
        rows = table.reindex(sample)
        scores = []
        for model in models:
            col = rows[model]
            if np.isnan(col).all():
                scores.append(0 if method == "choice" else 1)
            elif method == "veto":
                scores.append(1 - np.nanmean(col))
            else:
                scores.append(np.nanmean(col))
        best = max(scores)
        tied = [k for k, v in enumerate(scores) if v >= best]
        TIED_DRAWS.append(len(tied) > 1)
        winners.append(models[rng.choice(tied)])
    return winners


RULE = {"rating": "mean_rating", "choice": "choice_rate", "veto": "veto"}


@pytest.mark.parametrize("kind", ["rating", "choice", "veto"])
def test_prism_mode_reproduces_prism_draw_for_draw(prism_inputs, kind):
    models, tables, pools, populations, ours = prism_inputs
    sizes = [("uk", 10), ("uk", 20), ("uk", 50), ("uk", 100), ("male", 100), ("us", 5)]
    n_draws = 150
    TIED_DRAWS.clear()
    ref_rng = random.Random(1)
    expected = {f"{pool}_{size}": prism_reference(tables[kind], models, pools[pool], size,
                                                  n_draws, ref_rng, kind)
                for pool, size in sizes}
    policies = {f"{pool}_{size}": JuryPolicy(size, pool=pools[pool]) for pool, size in sizes}
    res = who_decides(ours[kind], policy=policies, population=populations, rule=RULE[kind],
                      mode="prism", rng=random.Random(1), options=models, n_draws=n_draws)
    for p, name in enumerate(res.policies):
        got = [res.options[k] for k in res.winners[p]]
        assert got == expected[name], name
    if kind != "rating":
        assert sum(TIED_DRAWS) > 10  # tied tops occur, so rng.choice among ties is exercised
    # welfare of each draw: pandas mean over the population's exposed raters
    for q, population in enumerate(res.populations):
        evaluated = tables[kind].reindex(populations[population])
        for p, name in enumerate(res.policies):
            want = np.array([evaluated[m].mean() for m in expected[name]])
            np.testing.assert_allclose(res.welfare_draws[p, q], want, rtol=1e-12)


def test_prism_mode_continues_one_stream_like_the_notebook(prism_inputs):
    models, tables, pools, _, ours = prism_inputs
    ref_rng = random.Random(7)
    first = prism_reference(tables["rating"], models, pools["uk"], 10, 50, ref_rng, "rating")
    second = prism_reference(tables["rating"], models, pools["us"], 20, 50, ref_rng, "rating")
    stream = random.Random(7)
    a = who_decides(ours["rating"], policy=JuryPolicy(10, pool=pools["uk"]), mode="prism",
                    rng=stream, options=models, n_draws=50)
    b = who_decides(ours["rating"], policy=JuryPolicy(20, pool=pools["us"]), mode="prism",
                    rng=stream, options=models, n_draws=50)
    assert [a.options[k] for k in a.winners[0]] == first
    assert [b.options[k] for k in b.winners[0]] == second
    seeded = who_decides(ours["rating"], policy=JuryPolicy(10, pool=pools["uk"]), mode="prism",
                         rng=7, options=models, n_draws=50)
    np.testing.assert_array_equal(seeded.winners, a.winners)


def test_prism_mode_rejects_what_prism_did_not_do(prism_inputs):
    *_, ours = prism_inputs
    with pytest.raises(est.ValidationError, match="reproduces PRISM exactly"):
        who_decides(ours["rating"], policy=10, mode="prism", rule="borda", rng=1)
    with pytest.raises(est.ValidationError, match="needs a veto_rate table"):
        who_decides(ours["rating"], policy=10, mode="prism", rule="veto", rng=1)
    with pytest.raises(est.ValidationError, match=r"needs an int seed or a random\.Random"):
        who_decides(ours["rating"], policy=10, mode="prism", rng=np.random.default_rng(1))


# ---- default (vectorised) mode ------------------------------------------------------------
@pytest.fixture(scope="module")
def table(data):
    return est.utility_table(data.utterances, raters=data.survey)


def _loop_reference(values, juries, tie_positions=None):
    """Plain per-draw reference for mean-rating winners given the same juries (no ties)."""
    out = []
    for jury in juries:
        sub = values[jury]
        seen = ~np.isnan(sub)
        means = np.where(seen.any(axis=0), np.nansum(sub, axis=0) / np.maximum(seen.sum(0), 1),
                         -np.inf)
        out.append(int(np.argmax(means)))
    return np.array(out)


def test_vectorised_jury_scores_equal_a_plain_loop(table):
    from estimators.welfare import _juries

    gen = np.random.default_rng(3)
    values = table.values.to_numpy()
    jury = _juries.draw_juries(gen, 400, np.arange(values.shape[0]), 7, replace=True,
                               probabilities=None)
    contrib = _juries.rater_contributions(values, "mean_rating", veto_threshold=10,
                                          borda="standard", veto_table=False)
    scores = _juries.scores_from_sums(_juries.jury_sums(jury, contrib), "mean_rating",
                                      values.shape[1], np.arange(values.shape[1]),
                                      regularization=0.01)
    winners, _, _ = _juries.pick_winners(scores, gen, np.arange(values.shape[1]), "order")
    np.testing.assert_array_equal(winners, _loop_reference(values, jury))


@pytest.mark.parametrize("rule", ["borda", "copeland", "minimax", "schulze", "ranked_pairs",
                                  "condorcet", "bradley_terry"])
def test_vectorised_pairwise_rules_agree_with_aggregate(table, rule):
    from estimators.welfare import _juries

    values = table.values.to_numpy()
    gen = np.random.default_rng(5)
    jury = _juries.draw_juries(gen, 25, np.arange(values.shape[0]), 15, replace=False,
                               probabilities=None)
    contrib = _juries.rater_contributions(values, rule, veto_threshold=10, borda="standard",
                                          veto_table=False)
    m = values.shape[1]
    scores = _juries.scores_from_sums(_juries.jury_sums(jury, contrib), rule, m, np.arange(m),
                                      regularization=0.01)
    winners, _, _ = _juries.pick_winners(scores, gen, np.arange(m), "order")
    for d in range(len(jury)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", est.DataWarning)  # juries regularise silently
            res = est.aggregate(pd.DataFrame(values[jury[d]], columns=table.options), rule=rule)
        if rule == "condorcet" and res.winner is None:
            continue
        assert table.options[winners[d]] == res.winner


def test_outputs_are_consistent(data, table):
    s = data.survey.set_index("user_id")
    policies = {"uk_10": JuryPolicy(10, pool="included_in_UK_REP"),
                "uk_40": JuryPolicy(40, pool="included_in_UK_REP"),
                "male_40": JuryPolicy(40, pool=s["gender"].eq("Male")),
                "quota": JuryPolicy(6, strata="gender", quotas={"Male": 3, "Female": 3}),
                "weighted": JuryPolicy(20, replace=False, selection_weights=np.arange(48) + 1.0)}
    pops = {"all": None, "nonmale": s["gender"].ne("Male"),
            "nonwhite": s["ethnicity_simplified"].ne("White")}
    res = who_decides(table, policy=policies, population=pops, n_draws=400, rng=2,
                      uncertainty="bootstrap", n_bootstrap=30)
    shares = res.winner_shares()
    np.testing.assert_allclose(shares.groupby("policy")["share"].sum().to_numpy(), 1.0)
    frame = res.to_frame()
    assert len(frame) == 15 and not frame.isna().any().any()
    assert {"design_se", "bootstrap_se", "mc_se", "p5", "p95"} <= set(frame.columns)
    # mean welfare = sum_o P(o wins) W_pop(o)
    ow = res.option_welfare.set_index(["population", "option"])["welfare"]
    for policy in res.policies:
        share = shares[shares["policy"] == policy].set_index("option")["share"]
        for population in res.populations:
            expect = sum(share[o] * ow[(population, o)] for o in res.options)
            got = frame[(frame["policy"] == policy) & (frame["population"] == population)]
            assert float(got["mean"].iloc[0]) == pytest.approx(expect, rel=1e-12)
    table_ = res.seat_of_power()
    assert table_.shape == (5, 3)
    dom = res.dominance()
    assert len(dom) == 3 * 5 * 4 and dom["p_a_beats_b"].between(0, 1).all()
    pa = res.probability_beats("uk_10", "uk_40", "all")
    pb = res.probability_beats("uk_40", "uk_10", "all")
    assert pa + pb == pytest.approx(1.0)
    # quota juries really have 3 + 3 of the two strata
    assert "Who decides" in res.summary()
    assert res.plot() is not None and res.plot(kind="winners") is not None
    assert res.plot(kind="size") is not None and res.policy_sizes == (10, 40, 40, 6, 20)


def test_quota_juries_respect_quotas(data):
    survey = data.survey.assign(solo=data.survey["user_id"].eq("user3"))
    table = est.utility_table(data.utterances, raters=survey)
    res = who_decides(table, policy={"q": JuryPolicy(4, strata="solo", quotas={True: 4})},
                      n_draws=50, rng=0, tie_break="order")
    # every seat goes to the one rater in that stratum: the winner is always their favourite
    favourite = table.values.loc["user3"].idxmax()
    assert set(res.winner_shares().query("share > 0")["option"]) == {favourite}


def test_held_out_and_cross_fit_and_impute(table):
    a = who_decides(table, policy=[10, 30], n_draws=300, rng=4, evaluation="held_out")
    b = who_decides(table, policy=[10, 30], n_draws=300, rng=4, evaluation="cross_fit", folds=3)
    c = who_decides(table, policy=[10, 30], n_draws=300, rng=4, missing="impute")
    for res in (a, b, c):
        assert res.welfare_draws.shape == (2, 1, 300)
        assert np.isfinite(res.welfare_draws).all()
    assert b.evaluation == "cross_fit" and a.policies == ("policy0", "policy1")
    # exposure counts are reported whatever the missing-data handling
    assert (c.option_welfare["n_exposed"] == a.option_welfare["n_exposed"]).all()


def test_same_seed_same_draws_and_weights(table):
    r1 = who_decides(table, policy=10, n_draws=200, rng=11)
    r2 = who_decides(table, policy=10, n_draws=200, rng=11)
    np.testing.assert_array_equal(r1.winners, r2.winners)
    w = who_decides(table, policy=10, n_draws=200, rng=11, weights=np.linspace(1, 3, 48))
    np.testing.assert_array_equal(w.winners, r1.winners)  # weights only change the evaluation
    assert not np.allclose(w.welfare_draws, r1.welfare_draws)


def test_who_decides_errors(table):
    with pytest.raises(est.ValidationError, match="must be a JuryPolicy"):
        who_decides(table, policy="ten")
    with pytest.raises(est.ValidationError, match="must add up to size"):
        who_decides(table, policy=JuryPolicy(5, strata="gender", quotas={"Male": 2}))
    with pytest.raises(est.ValidationError, match="needs both strata= and quotas="):
        who_decides(table, policy=JuryPolicy(5, strata="gender"))
    with pytest.raises(est.ValidationError, match="cannot draw 60 distinct jurors"):
        who_decides(table, policy=JuryPolicy(60, replace=False))
    with pytest.raises(est.ValidationError, match="the jury pool is empty"):
        who_decides(table, policy=JuryPolicy(5, pool=np.zeros(48, dtype=bool)))
    with pytest.raises(est.ValidationError, match="lists raters that are not in the utility"):
        who_decides(table, policy=JuryPolicy(5, pool=["nobody"]))
    with pytest.raises(est.ValidationError, match="must be boolean"):
        who_decides(table, policy=JuryPolicy(5, pool="gender"))
    with pytest.raises(est.ValidationError, match="selects no rater"):
        who_decides(table, policy=5, population={"none": np.zeros(48, dtype=bool)})
    with pytest.raises(est.ValidationError, match="has no exposed rater"):
        who_decides(table, policy=5, population={"one": ["user0"]})
    with pytest.raises(est.ValidationError, match="must list every option of the table"):
        who_decides(table, policy=5, options=["gpt-4"])
    with pytest.raises(est.ValidationError, match="is not one of the simulated policies"):
        who_decides(table, policy=5, n_draws=10, rng=0).probability_beats("x", "policy", "all")
    with pytest.raises(est.ValidationError, match="is not one of the welfare populations"):
        who_decides(table, policy=5, n_draws=10, rng=0).probability_beats("policy", "policy", "x")
    with pytest.raises(est.ValidationError, match="a boolean mask needs one value per rater"):
        who_decides(table, policy=JuryPolicy(5, pool=np.ones(3, dtype=bool)))
    with pytest.raises(est.ValidationError, match="are all zero in the pool"):
        who_decides(table, policy=JuryPolicy(5, selection_weights=np.zeros(48)))


def test_design_se_of_expected_welfare_equals_svymean_for_a_sure_winner(data):
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "reference" / "welfare_svymean.json").read_text())
    table = est.utility_table(data.utterances, raters=data.survey)
    weights = pd.Series(ref["weights"]).reindex(table.values.index).astype(float)
    # a pool of one rater with a unique favourite: every jury picks that model
    row = table.values.loc["user0"]
    assert (row == row.max()).sum() == 1
    res = who_decides(table, policy=JuryPolicy(3, pool=["user0"]), n_draws=20, rng=0,
                      weights=weights)
    favourite = row.idxmax()
    assert res.welfare_draws[0, 0, 0] == pytest.approx(ref["overall"][favourite]["mean"],
                                                       rel=1e-10)
    assert res.design_se[0, 0] == pytest.approx(np.ravel(ref["overall"][favourite]["se"])[0],
                                                rel=1e-10)
