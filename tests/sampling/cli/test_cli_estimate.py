"""``equisample estimate``: files in, estimates out (in process), one clear line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import estimators as est
from sampling.cli._main import main


@pytest.fixture
def sample(tmp_path):
    rng = np.random.default_rng(4)
    n = 300
    df = pd.DataFrame(
        {
            "participant_id": np.repeat(np.arange(100), 3),
            "rating": rng.integers(1, 6, n).astype(float),
            "group": np.repeat(rng.choice(["a", "b"], 100), 3),
            "sex": np.repeat(rng.choice(["f", "m"], 100), 3),
            "w": np.repeat(rng.uniform(1, 2, 100), 3),
        }
    )
    path = tmp_path / "sample.csv"
    df.to_csv(path, index=False)
    return df, path


def test_estimate_writes_and_prints_the_table(sample, tmp_path, capsys):
    df, path = sample
    out = tmp_path / "est.csv"
    code = main(["estimate", str(path), "--weights", "w", "--y", "rating", "--by", "group",
                 "--psu", "participant_id", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    want = est.SurveyDesign(df, weights="w", psu="participant_id").mean("rating", by="group").to_frame()
    np.testing.assert_allclose(table["estimate"], want["estimate"], rtol=1e-12)
    np.testing.assert_allclose(table["std_error"], want["std_error"], rtol=1e-12)
    assert list(table.columns[:3]) == ["variable", "statistic", "group"]
    assert "std_error" in capsys.readouterr().out


def test_estimate_with_raking_and_replicates_json(sample, tmp_path):
    _, path = sample
    margins = tmp_path / "margins.json"
    margins.write_text(json.dumps({"sex": {"f": 0.5, "m": 0.5}}))
    out = tmp_path / "est.json"
    code = main(["estimate", str(path), "--weights", "w", "--y", "rating", "--psu", "participant_id",
                 "--margins", str(margins), "--replicates", "bootstrap", "--n-replicates", "50",
                 "--seed", "1", "--out", str(out), "--quiet"])
    assert code == 0
    rows = json.loads(out.read_text())
    assert rows[0]["variance"] == "bootstrap" and rows[0]["std_error"] > 0


def test_estimate_quantile_and_proportion(sample, tmp_path):
    _, path = sample
    for extra in (["--statistic", "quantile", "--quantiles", "0.25", "0.75"], ["--statistic", "proportion"]):
        out = tmp_path / "q.csv"
        assert main(["estimate", str(path), "--y", "rating", "--out", str(out), "--quiet", *extra]) == 0
        assert len(pd.read_csv(out)) >= 2


def test_estimate_bad_input_is_one_line(sample, capsys):
    _, path = sample
    code = main(["estimate", str(path), "--y", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "equisample estimate: error: --y:" in err
