"""Tests for ``equisample simulate``."""

from __future__ import annotations

import pandas as pd
import pytest

import sampling as smp
from sampling.cli._main import main


def test_simulate_on_the_synthetic_population(tmp_path, capsys):
    out = tmp_path / "summary.csv"
    reps = tmp_path / "replicates.parquet"
    status = main(["simulate", "--policies", "convenience,proportional", "--budget", "80,160",
                   "--reps", "4", "--reweighting", "none,rake", "--weighting-variables", "age,sex",
                   "--rating-sd", "10", "--out", str(out), "--replicates", str(reps)])
    assert status == 0
    table = pd.read_csv(out)
    assert len(table) == 2 * 2 * 2 and "welfare_mc_se" in table.columns
    assert len(pd.read_parquet(reps)) == 4 * 8
    assert "highest welfare" in capsys.readouterr().err


def test_simulate_on_a_population_file(tmp_path):
    population = smp.synthetic_population(n=1500, rng=3)
    path = tmp_path / "population.csv"
    population.to_csv(path, index=False)
    out = tmp_path / "summary.json"
    assert main(["simulate", str(path), "--options", "model_a,model_b", "--groups", "sex",
                 "--policies", "equal,convenience,simple_random", "--propensity", "propensity",
                 "--budget", "60", "--reps", "3", "--reweighting", "poststratify",
                 "--out", str(out)]) == 0
    assert pd.read_json(out)["policy"].tolist() == ["equal", "convenience", "simple random"]


def test_simulate_quota_policy(tmp_path):
    out = tmp_path / "summary.csv"
    assert main(["simulate", "--policies", "quota", "--quota-variables", "age,sex", "--budget", "60",
                 "--reps", "3", "--out", str(out)]) == 0
    assert pd.read_csv(out)["policy"].unique().tolist() == ["census quota"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policies", "magic"], "--policies: must be a comma-separated list"),
        (["--policies", "quota"], "--quota-variables: the quota policy needs quota variables"),
        (["--reps", "1"], "--reps: must be >= 2"),
        (["--reweighting", "magic"], "--reweighting: must be one of"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(tmp_path, capsys, argv, message):
    status = main(["simulate", *argv, "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1


def test_population_file_needs_options(tmp_path, capsys):
    path = tmp_path / "population.csv"
    pd.DataFrame({"age": ["a", "b"], "u": [1.0, 2.0]}).to_csv(path, index=False)
    assert main(["simulate", str(path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "--options: name the utility columns" in capsys.readouterr().err
