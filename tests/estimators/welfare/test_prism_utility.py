"""PRISM loader, utility tables, pairwise battles and choice sets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.datasets._census import prism_sample_path
from estimators.datasets._prism import load_prism, read_prism_table, utterances_from_conversations
from estimators.welfare._utility import choice_sets, pairwise_battles, utility_table


@pytest.fixture(scope="module")
def data():
    return load_prism()


def test_sample_loads_and_flattens(data):
    assert len(data.survey) == 48 and len(data.utterances) == 738
    for col in ("ethnicity_simplified", "location_reside_country", "stated_prefs_safety"):
        assert col in data.survey.columns
    assert data.utterances["if_chosen"].dtype == bool
    assert "PRISM data" in data.summary()
    assert data.plot() is not None
    assert len(data.ratings(turn=0)) == 492


def test_utterances_rebuilt_from_conversations_equal_file(data):
    rebuilt = utterances_from_conversations(data.conversations)
    cols = ["user_id", "interaction_id", "turn", "model_name", "score", "if_chosen"]
    pd.testing.assert_frame_equal(rebuilt[cols], data.utterances[cols], check_dtype=False)


def test_parquet_and_csv_exports_give_same_tables(tmp_path, data):
    raw = pd.read_json(prism_sample_path() / "survey.jsonl", lines=True, dtype=False)
    raw.to_parquet(tmp_path / "survey.parquet")
    data.utterances.to_parquet(tmp_path / "utterances.parquet")
    from_parquet = load_prism(tmp_path)
    pd.testing.assert_frame_equal(
        from_parquet.survey[data.survey.columns], data.survey, check_dtype=False
    )
    assert from_parquet.conversations is None
    # CSV with nested fields as JSON strings (as pandas writes dicts after json.dumps)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    as_text = raw.copy()
    for col in ("ethnicity", "religion", "location", "stated_prefs"):
        as_text[col] = as_text[col].map(json.dumps)
    as_text.to_csv(csv_dir / "survey.csv", index=False)
    utt = data.utterances.copy()
    utt["if_chosen"] = utt["if_chosen"].map({True: "True", False: "False"})
    utt.to_csv(csv_dir / "utterances.csv", index=False)
    from_csv = load_prism(csv_dir)
    assert (from_csv.survey["ethnicity_simplified"] == data.survey["ethnicity_simplified"]).all()
    assert from_csv.utterances["if_chosen"].tolist() == data.utterances["if_chosen"].tolist()
    # dotted column names (json_normalize exports) become underscores
    dotted = pd.json_normalize(raw.to_dict("records"))
    dotted.to_csv(tmp_path / "dotted.csv", index=False)
    table = read_prism_table(tmp_path / "dotted.csv", "survey")
    assert "ethnicity_simplified" in table.columns


def test_loader_errors(tmp_path):
    with pytest.raises(est.ValidationError, match="must be a folder"):
        load_prism(tmp_path / "nope")
    with pytest.raises(est.ValidationError, match="no survey file found"):
        load_prism(tmp_path)
    (tmp_path / "survey.jsonl").write_text('{"user_id": "u1"}\n')
    with pytest.raises(est.ValidationError, match="neither an utterances nor a conversations"):
        load_prism(tmp_path)
    with pytest.raises(est.ValidationError, match="file does not exist"):
        read_prism_table(tmp_path / "x.jsonl", "survey")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(est.ValidationError, match="must end in"):
        read_prism_table(tmp_path / "x.txt", "survey")


def test_utility_table_aggregates(data):
    rating = utility_table(data.utterances)
    choice = utility_table(data.utterances, aggregate="choice_rate")
    veto = utility_table(data.utterances, aggregate="veto_rate", veto_threshold=30)
    first = data.utterances[data.utterances["turn"] == 0]
    ref = first.pivot_table(index="user_id", columns="model_name", values="score", aggfunc="mean")
    pd.testing.assert_frame_equal(rating.values, ref, check_names=False)
    ref_c = first.assign(c=first["if_chosen"].astype(float)).pivot_table(
        index="user_id", columns="model_name", values="c", aggfunc="mean"
    )
    np.testing.assert_allclose(choice.values.to_numpy(), ref_c.to_numpy())
    ref_v = first.assign(v=(first["score"] <= 30).astype(float)).pivot_table(
        index="user_id", columns="model_name", values="v", aggfunc="mean"
    )
    np.testing.assert_allclose(veto.values.to_numpy(), ref_v.to_numpy())
    counts = first.groupby(["user_id", "model_name"]).size().unstack(fill_value=0)
    np.testing.assert_array_equal(rating.exposure.to_numpy(), counts.to_numpy())
    assert (rating.values.isna().to_numpy() == (rating.exposure.to_numpy() == 0)).all()
    all_turns = utility_table(data.utterances, turn=None)
    assert all_turns.exposure.to_numpy().sum() == 738
    assert "Utility table" in rating.summary() and rating.plot() is not None


def test_utility_table_with_survey_adds_unexposed_raters():
    ratings = pd.DataFrame({"user_id": ["a", "a", "b"], "model_name": ["x", "y", "x"],
                            "score": [1.0, 2.0, 3.0], "turn": 0})
    survey = pd.DataFrame({"user_id": ["a", "b", "c"], "gender": ["F", "M", "F"]})
    u = utility_table(ratings, raters=survey)
    assert list(u.values.index) == ["a", "b", "c"]
    assert u.values.loc["c"].isna().all() and u.exposure.loc["c"].sum() == 0
    assert u.raters.loc["c", "gender"] == "F"


def test_utility_table_errors():
    r = pd.DataFrame({"user_id": [1, None], "model_name": ["a", "b"], "score": [1.0, 2.0],
                      "turn": 0, "if_chosen": [2, 1]})
    with pytest.raises(est.ValidationError, match="rows have a missing"):
        utility_table(r)
    assert utility_table(r, on_missing="drop").n_raters == 1
    with pytest.raises(est.ColumnError, match="names columns that are not in the data"):
        utility_table(r, score="nope")
    with pytest.raises(est.ValidationError, match="must hold booleans"):
        utility_table(r.dropna(), aggregate="choice_rate")
    survey = pd.DataFrame({"user_id": [1, 1]})
    with pytest.raises(est.ValidationError, match="one row per rater"):
        utility_table(r.dropna(), raters=survey)
    with pytest.raises(est.ValidationError, match="raters: must be a DataFrame"):
        utility_table(r.dropna(), raters=[1])


def test_pairwise_battles_by_hand(data):
    battles = pairwise_battles(data.utterances)
    assert len(battles) == 123 * 6  # 4 distinct models per first turn -> 6 pairs
    first = data.utterances[data.utterances["turn"] == 0]
    one = first[first["interaction_id"] == "c0_0_t0"].set_index("model_name")["score"]
    sub = battles[battles["interaction"] == "c0_0_t0"]
    for _, row in sub.iterrows():
        assert one[row["winner"]] >= one[row["loser"]]
        assert row["margin"] == abs(one[row["winner"]] - one[row["loser"]])
    loose = pairwise_battles(data.utterances, tie_threshold=5)
    assert loose["tie"].sum() == int((battles["margin"] <= 5).sum())
    # turn 1 repeats the chosen model: same-model pairs are skipped
    assert len(pairwise_battles(data.utterances, turn=1)) == 0
    with pytest.raises(est.ValidationError, match="tie_threshold: must be finite and >= 0"):
        pairwise_battles(data.utterances, tie_threshold=-1)
    bad = first.head(4).copy()
    bad.loc[bad.index[0], "score"] = np.nan
    with pytest.raises(est.ValidationError, match="cannot form battles"):
        pairwise_battles(bad)


def test_choice_sets(data):
    sets = choice_sets(data.utterances)
    assert len(sets) == 123
    assert all(len(s) == 4 and c in s for s, c in zip(sets["shown"], sets["chosen"]))
    bad = data.utterances.copy()
    bad["if_chosen"] = False
    with pytest.raises(est.ValidationError, match="exactly one chosen option"):
        choice_sets(bad)
    assert len(choice_sets(bad, on_invalid="drop")) == 0
