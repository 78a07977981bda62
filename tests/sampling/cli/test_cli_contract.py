"""The command line's contract, for every subcommand run as a subprocess, and its vocabulary.

Good input: exit 0 and a summary on standard error naming what was written. Bad input: exit 2,
exactly one ``error:`` line, no traceback, no output file. Vocabulary: one flag per concept across
all commands (``sampling.cli._options.CONCEPTS``), no old spelling visible in ``--help``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sampling.cli._main import COMMANDS, build_parser
from sampling.cli._options import CONCEPTS

ROOT = Path(__file__).resolve().parents[3]

OLD_SPELLINGS = {"--id-column", "--m", "--rows", "--n-replicates", "--draws", "--groups", "--group",
                 "--rater", "--replicates", "--report", "--lower", "--upper", "--option", "--score"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(1)
    n = 120
    pd.DataFrame({"pid": [f"p{i}" for i in range(n)],
                  "age": rng.choice(["18-34", "35-64", "65+"], n, p=[0.5, 0.35, 0.15]),
                  "sex": rng.choice(["f", "m"], n),
                  "rating": rng.integers(1, 6, n)}).to_csv(d / "sample.csv", index=False)
    pd.DataFrame({"age": rng.choice(["18-34", "35-64", "65+"], 200, p=[0.3, 0.45, 0.25]),
                  "sex": rng.choice(["f", "m"], 200)}).to_csv(d / "reference.csv", index=False)
    (d / "margins.yaml").write_text("age: {18-34: 0.3, 35-64: 0.45, 65+: 0.25}\n"
                                    "sex: {f: 0.51, m: 0.49}\n", encoding="utf-8")
    (d / "latin1.yaml").write_bytes("sex: {f\xe9: 0.51, m: 0.49}\n".encode("latin1"))
    rows = []
    for g, (a, b, c) in {"A": (2, 0.5, 0.05), "B": (1.5, 0.4, 0.1)}.items():
        for k in [25, 50, 100, 150, 200]:
            rows.append({"group": g, "n": k, "error": a * k**-b + c})
    pd.DataFrame(rows).to_csv(d / "pilot.csv", index=False)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    x.to_csv(d / "x.csv", index=False)
    x.assign(label=rng.choice(["u", "v"], 200)).to_csv(d / "x_text.csv", index=False)
    ratings = [{"person": f"r{i}", "model": m, "stars": int(rng.integers(1, 6)),
                "agegrp": "old" if i % 2 else "young"} for i in range(30) for m in "ABC"]
    pd.DataFrame(ratings).to_csv(d / "ratings.csv", index=False)
    pd.DataFrame({"sex": ["f", "m"], "quota": [3, 3]}).to_csv(d / "quotas.csv", index=False)
    pd.DataFrame({"id": [f"a{i}" for i in range(8)],
                  "sex": ["f", "m"] * 4}).to_csv(d / "arrivals.csv", index=False)
    return d


# command -> (good arguments, their output files, bad arguments, the output the bad run must not write)
CASES = {
    "adjust": (["--sample", "sample.csv", "--reference", "reference.csv", "--covariates", "age,sex",
                "--method", "entropy", "--out", "adj.csv", "--report-out", "adj.json"],
               ["adj.csv", "adj.json"],
               ["--sample", "sample.csv", "--reference", "reference.csv", "--covariates", "nope",
                "--out", "adj_bad.csv"], "adj_bad.csv"),
    "calibrate": (["sample.csv", "--totals", "margins.yaml", "--bounds", "0.3,3", "--out", "c.csv"],
                  ["c.csv"],
                  ["sample.csv", "--totals", "margins.yaml", "--bounds", "1", "--out", "c_bad.csv"],
                  "c_bad.csv"),
    "demo": (["--n", "100", "--reps", "2", "--out", "report"], ["report/report.md"],
             ["--n", "20", "--out", "report_bad"], "report_bad"),
    "estimate": (["sample.csv", "--y", "rating", "--by", "age", "--out", "e.csv"], ["e.csv"],
                 ["sample.csv", "--y", "nope", "--out", "e_bad.csv"], "e_bad.csv"),
    "plan": (["pilot.csv", "--budget", "500", "--objective", "maximin", "--out", "p.csv"],
             ["p.csv"],
             ["pilot.csv", "--budget", "500", "--by", "nope", "--out", "p_bad.csv"], "p_bad.csv"),
    "quotas": (["--country", "uk", "--variables", "age,sex", "--n", "300", "--out", "q.csv"],
               ["q.csv"],
               ["--country", "uk", "--n", "0", "--out", "q_bad.csv"], "q_bad.csv"),
    "rake": (["sample.csv", "--margins", "margins.yaml", "--out", "w.csv", "--report-out", "r.json"],
             ["w.csv", "r.json"],
             ["sample.csv", "--margins", "latin1.yaml", "--out", "w_bad.csv"], "w_bad.csv"),
    "select": (["x.csv", "--n", "30", "--seed", "1", "--out", "s.csv"], ["s.csv"],
               ["x_text.csv", "--n", "30", "--out", "s_bad.csv"], "s_bad.csv"),
    "simulate": (["--reps", "2", "--policies", "simple_random,equal", "--reweighting", "none",
                  "--out", "sim.csv"], ["sim.csv"],
                 ["--reps", "2", "--budget", "ten", "--out", "sim_bad.csv"], "sim_bad.csv"),
    "track": (["--quotas", "quotas.csv", "--arrivals", "arrivals.csv", "--out", "log.csv",
               "--status-out", "status.csv"], ["log.csv", "status.csv"],
              ["--quotas", "quotas.csv", "--arrivals", "nope.csv", "--out", "log_bad.csv",
               "--status-out", "status_bad.csv"], "log_bad.csv"),
    "welfare": (["--ratings", "ratings.csv", "--id", "person", "--option-column", "model",
                 "--score-column", "stars", "--by", "agegrp", "--swf", "group_maximin",
                 "--jury-size", "5", "--reps", "50", "--seed", "1", "--juries-out", "j.csv",
                 "--out", "wf.csv"], ["wf.csv", "j.csv"],
                ["--ratings", "ratings.csv", "--id", "person", "--option-column", "model",
                 "--score-column", "stars", "--swf", "group_maximin", "--jury-size", "5",
                 "--juries-out", "j_bad.csv", "--out", "wf_bad.csv"], "wf_bad.csv"),
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("EQUISAMPLE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "sampling", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_every_command_has_a_case() -> None:
    assert set(CASES) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(CASES))
def test_good_input_exits_0_with_a_summary(files: Path, command: str) -> None:
    good, written, _, _ = CASES[command]
    done = _run([command, *good], files)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for name in written:
        assert (files / name).exists(), name
    assert done.stderr.startswith(f"equisample {command}:"), done.stderr
    assert "wrote" in done.stderr, done.stderr
    assert all(len(line) <= 100 for line in done.stderr.splitlines() if str(files) not in line), \
        done.stderr


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_exits_2_with_one_error_line(files: Path, command: str) -> None:
    _, _, bad, unwritten = CASES[command]
    done = _run([command, *bad], files)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert sum("error:" in line for line in done.stderr.splitlines()) == 1, done.stderr
    assert "got 1 value: None" not in done.stderr
    assert not (files / unwritten).exists()
    assert not list(files.glob(f".{unwritten}*")), "a temporary file was left behind"


def test_errors_name_flags_not_keyword_arguments(files: Path) -> None:
    done = _run(CASES["welfare"][2] and ["welfare", *CASES["welfare"][2]], files)
    assert "--swf 'group_maximin' compares groups, so --by is required" in done.stderr
    assert "by=" not in done.stderr and "swf=" not in done.stderr


def test_old_spelling_works_and_warns_once(files: Path) -> None:
    done = _run(["select", "x.csv", "--m", "30", "--seed", "1", "--out", "s_old.csv", "--quiet"],
                files)
    assert done.returncode == 0
    assert done.stderr == ("equisample: warning: --m is now --n; the old name will be removed in "
                           "the next release\n")


def test_quiet_prints_nothing(files: Path) -> None:
    done = _run(["quotas", "--country", "uk", "--variables", "age,sex", "--n", "300", "--out",
                 "q_quiet.csv", "--quiet"], files)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""


def _visible(command: str) -> list[argparse.Action]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions
            if a.option_strings and a.help is not argparse.SUPPRESS]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_flag_per_concept(command: str) -> None:
    flags = {s for a in _visible(command) for s in a.option_strings}
    for action in _visible(command):
        concept = getattr(action, "concept", None)
        if concept is not None:
            assert action.option_strings[0] == CONCEPTS[concept]
        else:
            assert not set(action.option_strings) & set(CONCEPTS.values()), action.option_strings
    assert not flags & OLD_SPELLINGS, flags & OLD_SPELLINGS
    assert "--quiet" in flags
    assert "--out" in flags
