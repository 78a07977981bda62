"""Messages of the command line: flags instead of keyword arguments, one line, the new checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sampling.cli._io import Outputs
from sampling.cli._main import main, translate


def test_translate_names_flags() -> None:
    flags = {"minimum": "--minimum", "method": "--method", "by": "--by", "m": "--n",
             "bounds": "--bounds"}
    assert translate("use minimum=1 or method='d_hondt'", flags) == \
        "use --minimum 1 or --method 'd_hondt'"
    assert translate("by: swf='x' compares groups, so by= is required.", flags) == \
        "--by: swf='x' compares groups, so --by is required."
    assert translate("m: must be <= 3; got 1 value: 9.", flags) == "--n: must be <= 3; got 1 value: 9."
    assert translate("write e.g. --bounds (0.5, 2.0)", flags) == "write e.g. --bounds 0.5,2.0"
    assert translate("x: is needed; got 1 value: None.", flags) == "x: is needed."
    assert translate("line one\n  line two", flags) == "line one line two"


def _pilot(path: Path) -> Path:
    rows = [{"group": g, "n": n, "error": a * n**-0.5 + 0.05}
            for g, a in (("x", 1.0), ("y", 2.0)) for n in (20, 40, 80, 160)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_plan_names_the_column_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pilot = _pilot(tmp_path / "pilot.csv")
    assert main(["plan", str(pilot), "--budget", "100", "--error-column", "err"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("equisample plan: error: --error-column: names a column that is not in "
                          "PILOT")


def test_plan_prints_curves_and_extrapolation(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pilot = _pilot(tmp_path / "pilot.csv")
    assert main(["plan", str(pilot), "--budget", "2000", "--objective", "maximin"]) == 0
    err = capsys.readouterr().err
    assert "+/-" in err and "x_pilot" in err
    assert "the plan extrapolates the curves" in err


def _ratings(tmp_path: Path, **extra: list[object]) -> Path:
    frame = pd.DataFrame({"person": ["a", "a", "b", "b", "c", "c"],
                          "model": ["m1", "m2"] * 3, "stars": [4, 2, 5, 1, 3, 3],
                          "grp": ["g", "g", "h", "h", "g", "g"], **extra})
    path = tmp_path / "ratings.csv"
    frame.to_csv(path, index=False)
    return path


def test_welfare_rater_columns_from_the_ratings(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _ratings(tmp_path)
    out = tmp_path / "w.csv"
    assert main(["welfare", "--ratings", str(path), "--id", "person", "--option-column", "model",
                 "--score-column", "stars", "--by", "grp", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert set(frame["group"].dropna()) >= {"g", "h"}
    assert "best for g: m1" in capsys.readouterr().err


def test_welfare_column_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _ratings(tmp_path)
    assert main(["welfare", "--ratings", str(path), "--id", "person", "--option-column", "model",
                 "--score-column", "stars", "--by", "nope", "--out", str(tmp_path / "w.csv")]) == 2
    assert "--by: names a column that is not in --ratings" in capsys.readouterr().err


def test_welfare_rater_column_must_be_constant(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = _ratings(tmp_path, w=[1, 2, 1, 1, 1, 1])
    assert main(["welfare", "--ratings", str(path), "--id", "person", "--option-column", "model",
                 "--score-column", "stars", "--weights", "w", "--out", str(tmp_path / "w.csv")]) == 2
    assert "--weights: rater-level columns must be constant within each rater" in \
        capsys.readouterr().err


def test_welfare_needs_a_column_named_rater_or_the_flag(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _ratings(tmp_path)
    assert main(["welfare", "--ratings", str(path), "--out", str(tmp_path / "w.csv")]) == 2
    assert "--id: no column named rater or user_id in the ratings" in capsys.readouterr().err


def test_one_group_column_where_one_is_needed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pilot = _pilot(tmp_path / "pilot.csv")
    assert main(["plan", str(pilot), "--budget", "100", "--by", "group,n"]) == 2
    assert "--by: takes one group column here" in capsys.readouterr().err


def test_demo_refuses_a_folder_that_is_not_a_report(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "--out: exists and is not an equisample report folder" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_outputs_write_nothing_when_one_fails(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    outputs = Outputs()
    outputs.table(pd.DataFrame({"x": [1]}), first)
    outputs.table(pd.DataFrame({"x": [object()]}).astype(object), tmp_path / "b.parquet")
    with pytest.raises(Exception):  # noqa: B017 - whatever the Parquet writer raises
        outputs.commit()
    assert list(tmp_path.iterdir()) == []


def test_old_spelling_satisfies_a_required_flag(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 1.0, 0.1, 2.0]}).to_csv(
        tmp_path / "x.csv", index=False)
    assert main(["select", str(tmp_path / "x.csv"), "--m", "2", "--design", "systematic",
                 "--out", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    assert "--m is now --n" in err and (tmp_path / "s.csv").exists()
