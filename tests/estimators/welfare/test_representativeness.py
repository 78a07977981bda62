"""Representativeness measures against scipy's Wasserstein and Jensen–Shannon distances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

import estimators as est
from estimators.welfare._representativeness import answer_distribution, representativeness


def _random_case(seed):
    rng = np.random.default_rng(seed)
    rows_t, rows_g = [], []
    for q in range(4):
        k = rng.integers(3, 7)
        p = rng.dirichlet(np.ones(k))
        for group in ("a", "b"):
            g = rng.dirichlet(np.ones(k))
            rows_g += [{"question": q, "group": group, "answer": j, "share": g[j]}
                       for j in range(k)]
        rows_t += [{"question": q, "answer": j, "share": p[j]} for j in range(k)]
    return pd.DataFrame(rows_t), pd.DataFrame(rows_g)


@pytest.mark.parametrize("seed", range(5))
def test_matches_scipy(seed):
    target, groups = _random_case(seed)
    res = representativeness(target, groups)
    per_q = res.per_question.set_index(["group", "question"])
    for (group, q), sub in groups.groupby(["group", "question"]):
        t = target[target["question"] == q]
        k = len(t)
        wd = wasserstein_distance(np.arange(k), np.arange(k), t["share"], sub["share"])
        assert per_q.loc[(group, q), "representativeness"] == pytest.approx(1 - wd / (k - 1),
                                                                            rel=1e-12)
        js = jensenshannon(t["share"].to_numpy(), sub["share"].to_numpy(), base=2) ** 2
        assert per_q.loc[(group, q), "jensen_shannon_similarity"] == pytest.approx(1 - js,
                                                                                   rel=1e-10)
        tv = 0.5 * np.abs(t["share"].to_numpy() - sub["share"].to_numpy()).sum()
        assert per_q.loc[(group, q), "total_variation"] == pytest.approx(tv, rel=1e-12)
    table = res.to_frame().set_index("group")
    assert table.loc["a", "representativeness"] == pytest.approx(
        per_q.loc["a", "representativeness"].mean())
    assert "Representativeness" in res.summary() and res.plot() is not None


def test_weighted_group_distribution_and_levels():
    responses = pd.DataFrame({"question": ["q"] * 4, "answer": ["agree", "agree", "neutral",
                                                                "disagree"],
                              "sex": ["f", "m", "f", "m"], "w": [2.0, 1.0, 1.0, 1.0]})
    dist = answer_distribution(responses, weights="w", by="sex")
    f = dist[dist["group"] == "f"].set_index("answer")["share"]
    assert f["agree"] == pytest.approx(2 / 3) and f["neutral"] == pytest.approx(1 / 3)
    model = pd.DataFrame({"question": "q", "answer": ["agree"], "share": [1.0]})
    scale = ["disagree", "neutral", "agree"]
    res = representativeness(model, dist, levels=scale).to_frame().set_index("group")
    # f: cdf diff at disagree 0, at neutral 1/3 -> WD = 1/3 over a range of 2
    assert res.loc["f", "representativeness"] == pytest.approx(1 - (1 / 3) / 2)
    assert res.loc["m", "representativeness"] == pytest.approx(1 - 1.0 / 2)


def test_errors():
    model = pd.DataFrame({"question": "q", "answer": [1], "share": [1.0]})
    with pytest.raises(est.ValidationError, match="answers outside the scale"):
        representativeness(model, model, levels=[2, 3])
    with pytest.raises(est.ValidationError, match="shares must be finite and non-negative"):
        representativeness(model.assign(share=-1.0), model)
    with pytest.raises(est.ValidationError, match="shares no question with the target"):
        representativeness(model, model.assign(question="other"))
    with pytest.raises(est.ValidationError, match="has no positive share"):
        representativeness(model.assign(share=0.0), model)
    with pytest.raises(est.ValidationError, match="answers cannot be ordered automatically"):
        representativeness(model.assign(answer=[1]),
                           pd.DataFrame({"question": "q", "answer": ["x"], "share": [1.0]}))
    with pytest.raises(est.ValidationError, match="must not be missing"):
        answer_distribution(pd.DataFrame({"question": ["q"], "answer": [None]}))
