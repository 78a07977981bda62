"""``equisample adjust``: sample and reference files in, weights and a balance report out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from estimators import adjust_to_reference
from sampling.cli._main import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(4)
    sample = pd.DataFrame({
        "id": np.arange(300),
        "sex": rng.choice(["f", "m"], 300, p=[0.7, 0.3]),
        "age": rng.uniform(18, 60, 300),
        "d": rng.uniform(1, 2, 300),
    })
    reference = pd.DataFrame({
        "sex": rng.choice(["f", "m"], 500),
        "age": rng.uniform(18, 80, 500),
        "t": rng.uniform(1, 3, 500),
    })
    s, r = tmp_path / "s.csv", tmp_path / "r.csv"
    sample.to_csv(s, index=False)
    reference.to_csv(r, index=False)
    return sample, reference, s, r


def test_adjust_writes_weights_and_balance_report(files, tmp_path, capsys) -> None:
    sample, reference, s, r = files
    out, report = tmp_path / "w.csv", tmp_path / "rep.json"
    code = main(["adjust", "--sample", str(s), "--reference", str(r), "--covariates", "sex,age",
                 "--method", "entropy", "--weights", "d", "--reference-weights", "t",
                 "--id", "id", "--out", str(out), "--report-out", str(report)])
    assert code == 0
    err = capsys.readouterr().err
    assert "equisample adjust: 300 sample rows" in err and "500 reference rows" in err
    assert "entropy on sex, age: mean ASMD" in err
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["id", "weight"]
    expected = adjust_to_reference(sample, reference, covariates=["sex", "age"], method="entropy",
                                   weights="d", reference_weights="t").weights
    np.testing.assert_allclose(written["weight"], expected, rtol=1e-12)
    rep = json.loads(report.read_text())
    assert rep["mean_asmd_after"] < 1e-8 < rep["mean_asmd_before"]
    assert {row["covariate"] for row in rep["balance"]} == {"sex", "age"}


def test_adjust_ipw_with_penalty_and_trim(files, tmp_path) -> None:
    _, _, s, r = files
    out = tmp_path / "w.parquet"
    code = main(["adjust", "--sample", str(s), "--reference", str(r), "--covariates", "sex,age",
                 "--penalty", "0", "--trim-mean-multiple", "3", "--out", str(out),
                 "--quiet"])
    assert code == 0
    w = pd.read_parquet(out)["weight"]
    assert w.max() <= 3 * w.mean() * (1 + 1e-9)


def test_adjust_bad_covariate_is_one_line(files, tmp_path, capsys) -> None:
    _, _, s, r = files
    out = tmp_path / "w.csv"
    code = main(["adjust", "--sample", str(s), "--reference", str(r), "--covariates", "region",
                 "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "equisample adjust: error: --covariates (in the sample)" in err
    assert not out.exists()


def test_adjust_bad_penalty(files, tmp_path, capsys) -> None:
    _, _, s, r = files
    with pytest.raises(SystemExit):
        main(["adjust", "--sample", str(s), "--reference", str(r), "--covariates", "sex",
              "--penalty", "lots", "--out", str(tmp_path / "w.csv")])
    assert "must be 'cv' or a number >= 0" in capsys.readouterr().err


def test_adjust_bad_trim(files, tmp_path, capsys) -> None:
    _, _, s, r = files
    code = main(["adjust", "--sample", str(s), "--reference", str(r), "--covariates", "sex",
                 "--trim-mean-multiple", "0.5", "--out", str(tmp_path / "w.csv")])
    assert code == 2
    assert "--trim-mean-multiple: must be above 1" in capsys.readouterr().err
