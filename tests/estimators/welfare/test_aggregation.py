"""Aggregation in estimators.welfare against choix (BT / PL) and pref_voting (voting rules).

Reference values: tests/estimators/welfare/reference/welfare_choix_prefvoting.json, produced by
tests/estimators/welfare/reference/welfare_choix_prefvoting.py (choix and pref_voting in their own virtualenv).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.datasets._prism import load_prism
from estimators.welfare._aggregation import RULES, aggregate, bradley_terry, plackett_luce
from estimators.welfare._utility import choice_sets, pairwise_battles, utility_table

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "welfare_choix_prefvoting.json").read_text())
MODELS = REF["models"]
TOL = 1e-6  # acceptance tolerance vs choix (choix's own Newton-CG agrees with its I-LSR to ~2e-7)


@pytest.fixture(scope="module")
def data():
    return load_prism()


@pytest.fixture(scope="module")
def battles(data):
    return pairwise_battles(data.utterances)


def _weights_for(raters):
    return np.array([REF["rater_weight"][r] for r in raters], dtype=float)


@pytest.mark.parametrize("method", ["ilsr", "mm", "opt"])
def test_bradley_terry_equals_choix(battles, method):
    fit = bradley_terry(battles, ties="tie")
    assert fit.strongly_connected and fit.regularization == 0 and fit.converged
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(), REF["bradley_terry"][method],
                               rtol=0, atol=TOL)
    assert abs(fit.params.mean()) < 1e-12


def test_bradley_terry_tighter_than_acceptance_against_iterative_choix(battles):
    fit = bradley_terry(battles, ties="tie")
    diff = np.abs(fit.params[MODELS].to_numpy() - REF["bradley_terry"]["ilsr"]).max()
    assert diff < 1e-9


def test_weighted_bradley_terry_equals_replicated_choix(battles):
    with pytest.warns(est.DataWarning, match="weights without design="):
        fit = bradley_terry(battles, ties="tie", weights=_weights_for(battles["rater"]))
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(),
                               REF["bradley_terry"]["ilsr_weighted"], atol=1e-9)


def test_ridge_penalty_matches_choix_opt(battles):
    # the choix input counts every battle twice, so its alpha=0.5 is alpha=0.25 here
    fit = bradley_terry(battles, ties="tie", regularization=0.25)
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(),
                               REF["bradley_terry"]["opt_alpha_0.5"], atol=TOL)


def test_disconnected_graph_is_regularised_like_choix():
    pairs = [(0, 1), (0, 2), (1, 2), (2, 1), (1, 3), (3, 2), (0, 3)]
    b = pd.DataFrame(pairs, columns=["winner", "loser"])
    with pytest.warns(est.DataWarning, match="not strongly connected"):
        fit = bradley_terry(b)
    assert not fit.strongly_connected and fit.regularization == 0.01
    np.testing.assert_allclose(fit.params.to_numpy(),
                               REF["bradley_terry"]["disconnected_opt_alpha_0.01"], atol=TOL)
    explicit = bradley_terry(b, regularization=0.01)
    np.testing.assert_allclose(explicit.params.to_numpy(), fit.params.to_numpy())
    with pytest.raises(est.ValidationError, match="needs a strongly connected comparison graph"):
        bradley_terry(b, regularization=0)


@pytest.mark.parametrize("method", ["top1_ilsr", "top1_mm", "top1_opt"])
def test_top1_choice_equals_choix(data, method):
    fit = plackett_luce(choice_sets(data.utterances))
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(), REF["plackett_luce"][method],
                               atol=TOL)


def test_weighted_top1_equals_replicated_choix(data):
    sets = choice_sets(data.utterances)
    with pytest.warns(est.DataWarning, match="weights without design="):
        fit = plackett_luce(sets, weights=_weights_for(sets["rater"]))
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(),
                               REF["plackett_luce"]["top1_ilsr_weighted"], atol=1e-9)


@pytest.mark.parametrize("method", ["rankings_ilsr", "rankings_mm", "rankings_opt"])
def test_plackett_luce_rankings_equal_choix(method):
    rankings = pd.DataFrame({"ranking": [tuple(r) for r in REF["rankings"]]})
    fit = plackett_luce(rankings, ranking="ranking")
    np.testing.assert_allclose(fit.params[MODELS].to_numpy(), REF["plackett_luce"][method],
                               atol=TOL)


def test_strength_result_api(battles):
    fit = bradley_terry(battles, ties="tie")
    frame = fit.to_frame()
    assert list(frame.columns) == ["option", "strength", "std_error", "ci_lower", "ci_upper",
                                   "rank"]
    assert frame["rank"].tolist() == list(range(1, 7))
    assert (frame["std_error"] > 0).all()
    a, b = frame["option"].iloc[0], frame["option"].iloc[-1]
    assert fit.probability(a, b) > 0.5
    assert "Bradley–Terry" in fit.summary() and fit.plot() is not None
    with pytest.raises(est.ValidationError, match="is not one of the fitted options"):
        fit.probability("nope", a)


def test_bradley_terry_standard_errors_match_observed_information():
    # two options: theta_a - theta_b = log(w/l); var(diff) = 1/w + 1/l, centred SE = half that
    b = pd.DataFrame({"winner": ["a"] * 6 + ["b"] * 3, "loser": ["b"] * 6 + ["a"] * 3})
    fit = bradley_terry(b)
    assert fit.params["a"] - fit.params["b"] == pytest.approx(np.log(2), rel=1e-12)
    assert fit.std_errors["a"] == pytest.approx(0.5 * np.sqrt(1 / 6 + 1 / 3), rel=1e-10)


def test_bradley_terry_errors():
    b = pd.DataFrame({"winner": ["a", "a"], "loser": ["a", "b"]})
    with pytest.raises(est.ValidationError, match="cannot battle itself"):
        bradley_terry(b)
    with pytest.raises(est.ValidationError, match="winner and loser must not be missing"):
        bradley_terry(pd.DataFrame({"winner": ["a", None], "loser": ["b", "a"]}))
    with pytest.raises(est.ValidationError, match="needs at least two options"):
        bradley_terry(pd.DataFrame({"winner": [], "loser": []}))
    with pytest.raises(est.ValidationError, match="does not list every option"):
        bradley_terry(pd.DataFrame({"winner": ["a"], "loser": ["b"]}), options=["a"])
    with pytest.raises(est.ConvergenceError, match="did not converge"):
        bradley_terry(pd.DataFrame({"winner": ["a", "b", "a"], "loser": ["b", "a", "b"]}),
                      max_iter=1, tol=1e-300)
    with pytest.warns(est.ConvergenceWarning, match="did not converge"):
        bradley_terry(pd.DataFrame({"winner": ["a", "b", "a"], "loser": ["b", "a", "b"]}),
                      max_iter=1, tol=1e-300, on_nonconvergence="warn")
    with pytest.raises(est.ValidationError, match="regularization: must be one of"):
        bradley_terry(pd.DataFrame({"winner": ["a", "b"], "loser": ["b", "a"]}),
                      regularization="big")


def test_plackett_luce_errors():
    with pytest.raises(est.ValidationError, match="sequence of >= 2 distinct options"):
        plackett_luce(pd.DataFrame({"r": [("a", "a")]}), ranking="r")
    with pytest.raises(est.ValidationError, match="including the chosen one"):
        plackett_luce(pd.DataFrame({"shown": [("a", "b")], "chosen": ["c"]}))
    with pytest.raises(est.ValidationError, match="holds no choices"):
        plackett_luce(pd.DataFrame({"shown": [], "chosen": []}))


# ---- voting rules vs pref_voting ----------------------------------------------------------
def _profile_table(data, users=None):
    u = utility_table(data.utterances)
    values = u.values
    if users is not None:
        values = values.loc[users]
    return values


@pytest.mark.parametrize("case", ["sample_unweighted", "sample_weighted", "complete_weighted"])
def test_margin_rules_equal_pref_voting(data, case):
    ref = REF["votes"][case]
    users = ref.get("users")
    values = _profile_table(data, users)
    w = None if case == "sample_unweighted" else _weights_for(values.index)
    got = aggregate(values, rule="copeland", weights=w)
    margins = pd.DataFrame(ref["margins"]).T.loc[MODELS, MODELS]
    np.testing.assert_allclose(got.margins.loc[MODELS, MODELS].to_numpy(), margins.to_numpy(),
                               atol=1e-12)
    assert got.scores[MODELS].tolist() == [ref["copeland_scores"][m] for m in MODELS]
    mm = aggregate(values, rule="minimax", weights=w)
    assert mm.scores[MODELS].tolist() == [ref["minimax_scores"][m] for m in MODELS]
    assert aggregate(values, rule="condorcet", weights=w).winner == ref["condorcet_winner"]
    assert set(aggregate(values, rule="schulze", weights=w).tied_winners) == set(
        ref["schulze_winners"]
    )
    assert aggregate(values, rule="ranked_pairs", weights=w).winner == ref["ranked_pairs_tb_winner"]
    if "symmetric_borda" in ref:
        sb = aggregate(values, rule="borda", borda="symmetric", weights=w)
        assert sb.scores[MODELS].tolist() == [ref["symmetric_borda"][m] for m in MODELS]
    if "borda_scores" in ref:
        for variant in ("standard", "truncated"):
            bs = aggregate(values, rule="borda", borda=variant, weights=w)
            assert bs.scores[MODELS].tolist() == [ref["borda_scores"][m] for m in MODELS]


@pytest.mark.parametrize("k", range(len(REF["random_profiles"])))
def test_incoherent_random_profiles_equal_pref_voting(k):
    case = REF["random_profiles"][k]
    values = pd.DataFrame(np.array(case["utilities"], dtype=float))
    w = np.array(case["weights"], dtype=float)
    cond = aggregate(values, rule="condorcet", weights=w).winner
    assert cond == case["condorcet_winner"]
    assert aggregate(values, rule="copeland", weights=w).scores.tolist() == case["copeland_scores"]
    assert aggregate(values, rule="minimax", weights=w).scores.tolist() == case["minimax_scores"]
    assert set(aggregate(values, rule="schulze", weights=w).tied_winners) == set(
        case["schulze_winners"]
    )
    assert aggregate(values, rule="ranked_pairs", weights=w).winner == case[
        "ranked_pairs_tb_winner"]
    sym = aggregate(values, rule="borda", borda="symmetric", weights=w).scores.tolist()
    assert sym == case["symmetric_borda"]


def test_condorcet_cycle_never_fails():
    # a > b > c > a with equal weight: no Condorcet winner, every rule still answers
    u = pd.DataFrame([[3, 2, 1], [1, 3, 2], [2, 1, 3]], columns=["a", "b", "c"], dtype=float)
    for rule in RULES:
        res = aggregate(u, rule=rule)
        assert len(res.ranking) == 3
    assert aggregate(u, rule="condorcet").winner is None
    assert aggregate(u, rule="copeland").tied_winners == ["a", "b", "c"]
    assert aggregate(u, rule="copeland", tie_break=["c", "b", "a"]).winner == "c"
    # all margins 1: edges locked in tie-break order; c->a first, then b->c, a->b closes a cycle
    assert aggregate(u, rule="ranked_pairs", tie_break=["c", "b", "a"]).winner == "b"
    assert aggregate(u, rule="ranked_pairs").winner == "a"


def test_rating_rules_and_battles_input(data, battles):
    u = utility_table(data.utterances)
    mean = aggregate(u, rule="mean_rating")
    np.testing.assert_allclose(mean.scores.to_numpy(), np.nanmean(u.values.to_numpy(), axis=0))
    veto = aggregate(u, rule="veto", veto_threshold=40)
    exposed = u.values.notna()
    share = ((u.values <= 40) & exposed).sum() / exposed.sum()
    np.testing.assert_allclose(veto.scores.to_numpy(), 1 - share.to_numpy())
    vt = utility_table(data.utterances, aggregate="veto_rate", veto_threshold=40)
    via_table = aggregate(vt, rule="veto")
    assert via_table.scores.notna().all()
    bt = aggregate(battles, rule="bradley_terry")
    direct = bradley_terry(battles, ties="tie")
    np.testing.assert_allclose(bt.scores[MODELS].to_numpy(), direct.params[MODELS].to_numpy())
    assert aggregate(battles, rule="schulze").winner == bt.winner
    res = aggregate(u, rule="borda")
    assert "Aggregation: borda" in res.summary() and res.plot() is not None
    assert res.to_frame()["rank"].tolist() == list(range(1, 7))


def test_plackett_luce_rule_on_choice_data(data):
    sets = choice_sets(data.utterances)
    res = aggregate(sets, rule="plackett_luce")
    np.testing.assert_allclose(res.scores[MODELS].to_numpy(), REF["plackett_luce"]["top1_ilsr"],
                               atol=TOL)
    assert res.winner == res.scores.idxmax()
    with pytest.raises(est.ValidationError, match="goes with top-1 choice data"):
        aggregate(sets, rule="borda")


def test_aggregate_errors(battles):
    u = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, np.nan]})
    with pytest.raises(est.ValidationError, match="rule: must be one of"):
        aggregate(u, rule="plurality")
    with pytest.raises(est.ValidationError, match="every option needs at least one exposed"):
        aggregate(u, rule="mean_rating")
    with pytest.raises(est.ValidationError, match="battles only support the pairwise rules"):
        aggregate(battles, rule="borda")
    with pytest.raises(est.ValidationError, match="tie_break: must list every option"):
        aggregate(pd.DataFrame({"a": [1.0], "b": [2.0]}), rule="copeland", tie_break=["a"])
