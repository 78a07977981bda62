"""`equisample track --state`: a shared store, other quotas refused or migrated, damaged stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sampling import QuotaTracker
from sampling.cli._main import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def files(tmp_path):
    quotas = tmp_path / "QUOTAS.csv"
    pd.DataFrame({"sex": ["f", "m"], "quota": [2, 1]}).to_csv(quotas, index=False)
    arrivals = tmp_path / "ARRIVALS.csv"
    pd.DataFrame({"id": ["1", "2", "3"], "sex": ["f", "f", "f"]}).to_csv(arrivals, index=False)
    return quotas, arrivals


def _args(tmp_path, quotas, arrivals, state, *extra):
    return ["track", "--quotas", str(quotas), "--arrivals", str(arrivals), "--out",
            str(tmp_path / "LOG.csv"), "--status-out", str(tmp_path / "STATUS.csv"), "--state", str(state),
            *extra]


def test_state_made_for_other_quotas_is_refused_then_migrated(tmp_path, files, capsys):
    quotas, arrivals = files
    state = tmp_path / "STATE.db"
    assert main(_args(tmp_path, quotas, arrivals, state)) == 0
    assert pd.read_csv(tmp_path / "LOG.csv")["accepted"].tolist() == [True, True, False]
    assert (tmp_path / "LOG.csv").stat().st_mode & 0o777 == 0o600  # person-level data
    assert state.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "STATE.db-wal").exists()  # closed at the end of the run
    pd.DataFrame({"sex": ["f", "m"], "quota": [3, 1]}).to_csv(quotas, index=False)
    more = tmp_path / "MORE.csv"
    pd.DataFrame({"id": ["4"], "sex": ["f"]}).to_csv(more, index=False)
    assert main(_args(tmp_path, quotas, more, state)) == 2
    err = capsys.readouterr().err
    assert "--quotas: differ from the quotas the --state store was made for; got 1 value: 'f: 2 -> 3'" in err
    assert "Pass --migrate" in err
    assert QuotaTracker.load(state).n == 3  # the store is untouched
    assert main(_args(tmp_path, quotas, more, state, "--migrate")) == 0
    err = capsys.readouterr().err
    assert "moved" in err and "(1 change)" in err and "cell    f   2   3     2" in err
    assert pd.read_csv(tmp_path / "LOG.csv")["accepted"].tolist() == [True]
    total = pd.read_csv(tmp_path / "STATUS.csv").iloc[-1]
    assert (total["target"], total["filled"]) == (4, 3)
    assert main(_args(tmp_path, quotas, more, state)) == 0  # same quotas now: resumes
    assert pd.read_csv(tmp_path / "LOG.csv")["reason"].iloc[0] == "duplicate person id: '4' already holds a place"


def test_migrate_needs_a_state_and_a_feasible_target(tmp_path, files, capsys):
    quotas, arrivals = files
    args = _args(tmp_path, quotas, arrivals, tmp_path / "S.db")
    no_state = [*args[: args.index("--state")], "--migrate"]
    assert main(no_state) == 2
    assert "--migrate: applies only to an existing --state store" in capsys.readouterr().err
    assert main(args) == 0
    pd.DataFrame({"sex": ["f", "m"], "quota": [1, 1]}).to_csv(quotas, index=False)
    assert main([*args, "--migrate"]) == 2
    assert "cannot migrate: new targets below the places already filled" in capsys.readouterr().err


def test_damaged_state_is_reported(tmp_path, files, capsys):
    quotas, arrivals = files
    state = tmp_path / "STATE.json"
    state.write_text('{"format": "equisample.QuotaTracker", "version": 2}')
    assert main(_args(tmp_path, quotas, arrivals, state)) == 2
    err = capsys.readouterr().err
    assert "equisample track: error: --state: " in err and "state: lacks required entries" in err
    broken = tmp_path / "BROKEN.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    assert main(_args(tmp_path, quotas, arrivals, broken)) == 2
    assert "BROKEN.db: is not a readable quota store" in capsys.readouterr().err


@pytest.mark.slow  # three interpreters start (about 10-15 s on a busy machine)
def test_concurrent_runs_share_one_store(tmp_path):
    quotas = tmp_path / "QUOTAS.csv"
    pd.DataFrame({"g": ["a"], "quota": [20]}).to_csv(quotas, index=False)
    state = tmp_path / "STATE.db"
    assert main(["track", "--quotas", str(quotas), "--arrivals", str(_arrivals(tmp_path, "x", 0)),
                 "--out", str(tmp_path / "x.csv"), "--status-out", str(tmp_path / "xs.csv"),
                 "--state", str(state)]) == 0  # creates the empty store
    code = "import sys; from sampling.cli._main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "track", "--quotas", str(quotas), "--arrivals",
             str(_arrivals(tmp_path, name, 60)), "--out", str(tmp_path / f"{name}.csv"),
             "--status-out", str(tmp_path / f"{name}-status.csv"), "--state", str(state)],
            cwd=ROOT, env=env,
        )
        for name in ("one", "two", "three")
    ]
    assert [run.wait(timeout=60) for run in runs] == [0, 0, 0]
    accepted = pd.concat([pd.read_csv(tmp_path / f"{name}.csv") for name in ("one", "two", "three")])
    accepted = accepted[accepted["accepted"]]
    assert len(accepted) == 20
    assert set(QuotaTracker.load(state).participants) == set(accepted["person_id"].astype(str))


def _arrivals(tmp_path, name, count):
    path = tmp_path / f"{name}-arrivals.csv"
    pd.DataFrame({"id": [f"{name}{i}" for i in range(count)], "g": ["a"] * count}).to_csv(path, index=False)
    return path
