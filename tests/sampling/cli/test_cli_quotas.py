"""In-process tests of `equisample quotas` and `equisample track`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sampling.cli._main import main


def test_quotas_command_uk_prolific(tmp_path):
    out = tmp_path / "QUOTAS.csv"
    code = main([
        "quotas", "--country", "uk", "--variables", "age,sex,ethnicity", "--n", "300",
        "--age-bands", "prolific", "--method", "minimum_then_proportional", "--out", str(out),
    ])
    assert code == 0
    q = pd.read_csv(out)
    assert len(q) == 50 and q["quota"].sum() == 300 and q["quota"].min() >= 1
    assert list(q.columns) == ["age", "sex", "ethnicity", "share", "exact", "quota", "deviation"]


def test_quotas_command_us_non_interlocked_and_own_table(tmp_path):
    out = tmp_path / "m.csv"
    assert main(["quotas", "--country", "us", "--variables", "age,sex", "--n", "500",
                 "--non-interlocked", "--method", "webster", "--out", str(out)]) == 0
    m = pd.read_csv(out)
    assert set(m["variable"]) == {"age", "sex"} and m.groupby("variable")["quota"].sum().eq(500).all()
    table = tmp_path / "table.csv"
    pd.DataFrame({"region": ["n", "s"], "share": [0.3, 0.7]}).to_csv(table, index=False)
    assert main(["quotas", "--table", str(table), "--variables", "region", "--n", "10",
                 "--out", str(tmp_path / "r.json")]) == 0
    records = json.loads((tmp_path / "r.json").read_text())
    assert [r["quota"] for r in records] == [3, 7]


def test_quotas_command_errors(tmp_path, capsys):
    code = main(["quotas", "--country", "uk", "--variables", "age,religion", "--n", "300",
                 "--out", str(tmp_path / "q.csv")])
    assert code == 2
    assert "equisample quotas: error: --variables:" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"g": ["a", "b"], "share": [0.6, 0.6]}).to_csv(bad, index=False)
    assert main(["quotas", "--table", str(bad), "--variables", "g", "--n", "10",
                 "--out", str(tmp_path / "q.csv")]) == 2
    assert "shares must sum to 1" in capsys.readouterr().err
    assert main(["quotas", "--table", str(bad), "--variables", "g", "--n", "10", "--normalize",
                 "--out", str(tmp_path / "q.csv")]) == 0


@pytest.fixture
def quota_file(tmp_path):
    path = tmp_path / "QUOTAS.csv"
    pd.DataFrame({"sex": ["f", "m"], "age": ["old", "old"], "quota": [2, 1]}).to_csv(path, index=False)
    return path


def test_track_command_log_status_and_resume(tmp_path, quota_file):
    arrivals = tmp_path / "ARRIVALS.csv"
    pd.DataFrame({
        "id": ["1", "2", "2", "3", "4", "5", "6"],
        "sex": ["f", "f", None, "m", "x", "m", "m"],
        "age": ["old", "old", None, "old", "old", None, "old"],
        "event": ["offer", "reserve", "confirm", "offer", "offer", "offer", "release"],
    }).to_csv(arrivals, index=False)
    log, status, state = tmp_path / "LOG.csv", tmp_path / "STATUS.csv", tmp_path / "STATE.json"
    args = ["track", "--quotas", str(quota_file), "--arrivals", str(arrivals), "--out", str(log),
            "--status-out", str(status), "--state", str(state)]
    assert main(args) == 0
    log_frame = pd.read_csv(log)
    assert log_frame["accepted"].tolist() == [True, True, True, True, False, False, False]
    assert log_frame["reason"].iloc[4] == "unknown category: sex='x'"
    assert log_frame["reason"].iloc[5] == "missing attribute: age"
    assert "has no open reservation" in log_frame["reason"].iloc[6]
    total = pd.read_csv(status).iloc[-1]
    assert (total["filled"], total["open"]) == (3, 0)
    # resume from the state file: every place is taken now, and nobody is lost
    more = tmp_path / "MORE.csv"
    pd.DataFrame({"id": ["7"], "sex": ["f"], "age": ["old"]}).to_csv(more, index=False)
    args[args.index(str(arrivals))] = str(more)
    assert main(args) == 0
    assert pd.read_csv(log)["reason"].iloc[0].startswith("cell full")
    assert len(json.loads(state.read_text())["participants"]) == 3


def test_track_command_bad_event(tmp_path, quota_file, capsys):
    arrivals = tmp_path / "a.csv"
    pd.DataFrame({"sex": ["f"], "age": ["old"], "event": ["cancel"]}).to_csv(arrivals, index=False)
    code = main(["track", "--quotas", str(quota_file), "--arrivals", str(arrivals),
                 "--out", str(tmp_path / "l.csv"), "--status-out", str(tmp_path / "s.csv")])
    assert code == 2
    assert "column 'event' must be one of" in capsys.readouterr().err
    pd.DataFrame({"sex": ["f"], "age": ["old"], "event": ["confirm"]}).to_csv(arrivals, index=False)
    assert main(["track", "--quotas", str(quota_file), "--arrivals", str(arrivals),
                 "--out", str(tmp_path / "l.csv"), "--status-out", str(tmp_path / "s.csv")]) == 2
    assert "row 1: confirm needs an id" in capsys.readouterr().err
