"""``equisample welfare`` run in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.datasets._census import prism_sample_path
from sampling.cli._main import main


def test_welfare_on_prism_folder(tmp_path):
    out = tmp_path / "welfare.csv"
    juries = tmp_path / "juries.csv"
    code = main(["welfare", "--prism", str(prism_sample_path()), "--swf", "atkinson", "--eps",
                 "1", "--by", "gender", "--rule", "schulze", "--jury-size", "10", "--pool",
                 "included_in_UK_REP", "--draws", "200", "--seed", "3", "--juries-out",
                 str(juries), "--out", str(out)])
    assert code == 0
    frame = pd.read_csv(out)
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    expected = est.welfare(u, swf="atkinson", eps=1, by="gender").to_frame()
    pd.testing.assert_series_equal(frame["welfare"], expected["welfare"], check_names=False)
    assert {"schulze_score", "schulze_rank"} <= set(frame.columns)
    jury = pd.read_csv(juries)
    assert jury["mean"].notna().all() and any(c.startswith("win_share_") for c in jury.columns)


def test_welfare_on_long_ratings(tmp_path):
    ratings = pd.DataFrame({"rater": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
                            "stars": [4, 2, 5, 1, 3]})
    raters = pd.DataFrame({"rater": [1, 2, 3], "w": [1.0, 2.0, 1.0]})
    path = tmp_path / "long.csv"
    ratings.to_csv(path, index=False)
    raters.to_csv(tmp_path / "raters.csv", index=False)
    out = tmp_path / "w.json"
    code = main(["welfare", "--ratings", str(path), "--raters", str(tmp_path / "raters.csv"),
                 "--rater", "rater", "--option", "item", "--score", "stars", "--weights", "w",
                 "--out", str(out)])
    assert code == 0
    frame = pd.read_json(out)
    assert frame.set_index("option").loc["a", "welfare"] == pytest.approx((4 + 10 + 3) / 4)


def test_welfare_cli_errors(tmp_path, capsys):
    assert main(["welfare", "--ratings", str(tmp_path / "none.csv"), "--out",
                 str(tmp_path / "o.csv")]) == 2
    assert "file does not exist" in capsys.readouterr().err
    assert main(["welfare", "--prism", str(prism_sample_path()), "--turn", "x", "--out",
                 str(tmp_path / "o.csv")]) == 2
    assert "--turn: must be an integer" in capsys.readouterr().err
    assert main(["welfare", "--prism", str(prism_sample_path()), "--jury-size", "5", "--out",
                 str(tmp_path / "o.csv")]) == 2
    assert "--juries-out: is needed" in capsys.readouterr().err


def test_welfare_cli_design_based_se(tmp_path):
    out = tmp_path / "w.csv"
    code = main(["welfare", "--prism", str(prism_sample_path()), "--strata", "study_locale",
                 "--out", str(out)])
    assert code == 0
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    d = est.SurveyDesign(data.survey, strata="study_locale")
    expected = est.welfare(u, design=d).to_frame()
    np.testing.assert_allclose(pd.read_csv(out)["std_error"], expected["std_error"], rtol=1e-12)
