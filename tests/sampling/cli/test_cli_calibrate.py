"""``equisample calibrate`` in-process: outputs, formats, and bad input -> exit 2 with one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est
from sampling.cli._main import main

pytestmark = pytest.mark.reference

REFERENCE = Path(__file__).resolve().parents[2] / "estimators" / "weighting" / "reference"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "sex": ["f", "f", "m", "m"],
            "region": [1, 2, 1, 2],
            "z": [1.0, 3.0, 2.0, 4.0],
            "d": [1.0, 1.0, 1.0, 1.0],
        }
    )
    path = tmp_path / "sample.csv"
    frame.to_csv(path, index=False)
    return path


def _write_totals_csv(path: Path) -> Path:
    pd.DataFrame(
        {"variable": ["sex", "sex", "z"], "category": ["f", "m", ""], "target": [4, 6, 25]}
    ).to_csv(path, index=False)
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main([*args[:1], "--quiet", *args[1:]] if args[0] == "calibrate" else args)
    return status, capsys.readouterr().err


def test_csv_totals_to_csv_weights_and_report(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    totals = _write_totals_csv(tmp_path / "totals.csv")
    out, report = tmp_path / "w.csv", tmp_path / "report.json"
    status, err = _run(
        ["calibrate", str(sample), "--totals", str(totals), "--out", str(out), "--report-out", str(report)],
        capsys,
    )
    assert status == 0, err
    weights = pd.read_csv(out)
    np.testing.assert_allclose(weights["weight"], [2.25, 1.75, 3.25, 2.75], rtol=1e-12)
    assert list(weights.columns) == ["sex", "region", "z", "d", "weight"]
    facts = json.loads(report.read_text())
    assert facts["converged"] is True and facts["method"] == "linear" and facts["n_iter"] == 1
    assert [m["variable"] for m in facts["diagnostics"]] == ["sex", "sex", "z"]
    assert facts["command"] == "calibrate"


def test_yaml_totals_numeric_labels_and_bounds(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Labels in files are text; "1" matches the integer column; YAML keeps Yes/No as text."""
    totals = tmp_path / "totals.yaml"
    totals.write_text("region:\n  1: 5\n  2: 5\nz: 26\n")
    out = tmp_path / "w.parquet"
    status, err = _run(
        ["calibrate", str(sample), "--totals", str(totals), "--method", "logit", "--bounds", "0.5,5",
         "--weights", "d", "--out", str(out)],
        capsys,
    )
    assert status == 0, err
    weights = pd.read_parquet(out)["weight"]
    assert float(weights.sum()) == pytest.approx(10.0, rel=1e-10)
    assert float(weights @ pd.read_csv(sample)["z"]) == pytest.approx(26.0, rel=1e-10)


def test_joint_json_totals_equal_r(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The apistrat joint-totals raking case of the R reference, through the command line."""
    case = next(
        c for c in json.loads((REFERENCE / "weighting_api.json").read_text())["cases"]
        if c["name"] == "calibrate_apistrat_raking_joint"
    )
    joint = case["totals"]["categorical"][0]
    totals = {
        "|".join(joint["variables"]): {"|".join(lv): t for lv, t in zip(joint["levels"], joint["targets"])},
        **case["totals"]["numeric"],
    }
    path = tmp_path / "totals.json"
    path.write_text(json.dumps(totals))
    out = tmp_path / "w.csv"
    status, err = _run(
        ["calibrate", str(REFERENCE / "weighting_apistrat.csv"), "--totals", str(path), "--method",
         "raking", "--weights", "pw", "--out", str(out), "--tol", "1e-13"],
        capsys,
    )
    assert status == 0, err
    ours = pd.read_csv(out)["weight"].to_numpy()
    assert np.max(np.abs(ours - case["weights"]) / case["weights"]) <= 1e-8


@pytest.mark.parametrize(
    ("extra", "totals_text", "suffix", "message"),
    [
        ([], "variable,category,target\nsex,f,4\nsex,x,6\n", ".csv",
         r"totals: the data have categories of 'sex' that have no target; got 1 value: 'm'"),
        ([], "variable,cat,target\nsex,f,4\n", ".csv",
         r"totals: a margins table needs the columns variable, category, target"),
        ([], "{not json", ".json", r"totals: could not be parsed"),
        ([], "7\n", ".yaml", r"totals: must hold a mapping or a list of records"),
        ([], "sex: {f: 4, m: 6}\n", ".txt", r"totals: file type must be one of"),
        (["--method", "logit"], "sex: {f: 4, m: 6}\n", ".yaml",
         r'--bounds: --method "logit" needs finite bounds'),
        (["--bounds", "0.9,1.1"], "sex: {f: 2, m: 6}\n", ".yaml",
         r"--bounds: no weights with g = w / d in \[0.9, 1.1\] meet every total"),
        (["--bounds", "0.9"], "sex: {f: 4, m: 6}\n", ".yaml",
         r"--bounds: needs two numbers, LOWER,UPPER"),
        (["--weights", "nope"], "sex: {f: 4, m: 6}\n", ".yaml",
         r"weights: names columns that are not in the data"),
        (["--weight-column", "z"], "sex: {f: 4, m: 6}\n", ".yaml",
         r"--weight-column: already is a column of the data"),
        (["--method", "raking", "--max-iter", "1"], "sex: {f: 4, m: 6}\nz: 25\n", ".yaml",
         r"did not converge in 1 Newton iterations"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], totals_text: str, suffix: str, message: str,
) -> None:
    totals = tmp_path / f"totals{suffix}"
    totals.write_text(totals_text)
    out = tmp_path / "w.csv"
    status, err = _run(
        ["calibrate", str(sample), "--totals", str(totals), "--out", str(out), *extra], capsys
    )
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("equisample calibrate: error: ")
    assert re.search(message, err), err
    assert not out.exists()


def test_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    totals = _write_totals_csv(tmp_path / "totals.csv")
    status, err = _run(
        ["calibrate", str(tmp_path / "none.csv"), "--totals", str(totals), "--out",
         str(tmp_path / "w.csv")],
        capsys,
    )
    assert status == 2 and "DATA: file does not exist" in err


def test_help_lists_formats(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["calibrate", "--help"])
    assert info.value.code == 0
    assert "a joint margin joins its columns" in capsys.readouterr().out.replace("\n", " ")


def test_module_level_api_matches(sample: Path) -> None:
    """The command computes exactly what the Python function does."""
    frame = pd.read_csv(sample)
    fit = est.calibrate(frame, {"sex": {"f": 4, "m": 6}, "z": 25.0})
    np.testing.assert_allclose(fit.weights, [2.25, 1.75, 3.25, 2.75], rtol=1e-12)


def test_yaml_yes_no_stay_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame({"answer": ["Yes", "No", "Yes"]}).to_csv(data, index=False)
    totals = tmp_path / "t.yml"
    totals.write_text("answer:\n  Yes: 0.6\n  No: 0.4\n")
    out = tmp_path / "w.csv"
    status, err = _run(["calibrate", str(data), "--totals", str(totals), "--out", str(out)], capsys)
    assert status == 0, err
    np.testing.assert_allclose(pd.read_csv(out)["weight"], [0.9, 1.2, 0.9], rtol=1e-12)
