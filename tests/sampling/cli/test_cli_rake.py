"""``equisample rake``: files in, weights and report out, one clear line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from estimators import rake
from sampling.cli._main import main


@pytest.fixture
def sample(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "sex": rng.choice(["f", "m"], n, p=[0.6, 0.4]),
            "age": rng.choice([1, 2, 3], n, p=[0.5, 0.3, 0.2]),
            "d": rng.uniform(1, 2, n),
        }
    )
    path = tmp_path / "sample.csv"
    df.to_csv(path, index=False)
    return df, path


MARGINS = {"sex": {"f": 0.5, "m": 0.5}, "age": {"1": 0.3, "2": 0.3, "3": 0.4}}


def _long(tmp_path, margins=MARGINS):
    rows = [(v, c, t) for v, cats in margins.items() for c, t in cats.items()]
    path = tmp_path / "margins.csv"
    pd.DataFrame(rows, columns=["variable", "category", "target"]).to_csv(path, index=False)
    return path


def test_rake_long_csv_to_csv_with_report(sample, tmp_path, capsys) -> None:
    df, data = sample
    out, report = tmp_path / "w.csv", tmp_path / "r.json"
    code = main(["rake", str(data), "--margins", str(_long(tmp_path)), "--out", str(out),
                 "--report-out", str(report), "--weights", "d", "--id", "id"])
    assert code == 0
    assert "read 400 rows" in capsys.readouterr().err
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["id", "weight"]
    expected = rake(df.astype({"age": str}), MARGINS, weights="d").weights.to_numpy()
    assert np.allclose(written["weight"], expected, rtol=1e-12)
    rep = json.loads(report.read_text())
    assert rep["converged"] is True and rep["max_margin_error"] <= 1e-10
    assert {d["variable"] for d in rep["diagnostics"]} == {"sex", "age"}


def test_rake_yaml_json_and_parquet(sample, tmp_path) -> None:
    df, _ = sample
    parquet = tmp_path / "sample.parquet"
    df.to_parquet(parquet)
    (tmp_path / "m.yaml").write_text("sex:\n  f: 0.5\n  m: 0.5\nage:\n  1: 0.3\n  2: 0.3\n  3: 0.4\n")
    (tmp_path / "m.json").write_text(json.dumps(MARGINS))
    results = []
    for margins in ("m.yaml", "m.json"):
        out = tmp_path / f"{margins}.parquet"
        assert main(["rake", str(parquet), "--margins", str(tmp_path / margins), "--out", str(out),
                     "--quiet"]) == 0
        results.append(pd.read_parquet(out)["weight"].to_numpy())
    assert np.allclose(results[0], results[1])
    assert len(pd.read_parquet(tmp_path / "m.json.parquet").columns) == 5  # data + weight


def test_joint_margin_in_long_table(sample, tmp_path) -> None:
    _, data = sample
    joint = {f"{s}|{a}": 1 / 6 for s in "fm" for a in "123"}
    path = _long(tmp_path, {"sex|age": joint})
    out = tmp_path / "w.json"
    assert main(["rake", str(data), "--margins", str(path), "--out", str(out), "--quiet"]) == 0
    weights = pd.read_json(out)["weight"]
    assert np.isclose(weights.sum(), 400)


def test_bad_margins_one_line_exit_2(sample, tmp_path, capsys) -> None:
    _, data = sample
    path = _long(tmp_path, {"sex": {"f": 0.5, "x": 0.5}, "age": MARGINS["age"]})
    out = tmp_path / "w.csv"
    code = main(["rake", str(data), "--margins", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the data have categories of 'sex' that have no target" in err
    assert not out.exists()


def test_nonconvergence_one_line_exit_2(sample, tmp_path, capsys) -> None:
    _, data = sample
    code = main(["rake", str(data), "--margins", str(_long(tmp_path)), "--out",
                 str(tmp_path / "w.csv"), "--max-iter", "1", "--tol", "1e-14"])
    err = capsys.readouterr().err
    assert code == 2 and "raking did not converge" in err and err.count("\n") == 1


def test_margins_file_missing_and_bad_columns(sample, tmp_path, capsys) -> None:
    _, data = sample
    assert main(["rake", str(data), "--margins", str(tmp_path / "none.yaml"), "--out",
                 str(tmp_path / "w.csv")]) == 2
    assert "margins: file does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"var": ["sex"], "cat": ["f"], "share": [1.0]}).to_csv(bad, index=False)
    assert main(["rake", str(data), "--margins", str(bad), "--out", str(tmp_path / "w.csv")]) == 2
    assert "needs the columns variable, category, target" in capsys.readouterr().err


def test_weight_column_clash_and_unknown_id(sample, tmp_path, capsys) -> None:
    _, data = sample
    m = str(_long(tmp_path))
    assert main(["rake", str(data), "--margins", m, "--out", str(tmp_path / "w.csv"),
                 "--weight-column", "d"]) == 2
    assert "--weight-column: already is a column of the data" in capsys.readouterr().err
    assert main(["rake", str(data), "--margins", m, "--out", str(tmp_path / "w.csv"),
                 "--id", "nope"]) == 2
    assert "--id: names a column that is not in the data" in capsys.readouterr().err
