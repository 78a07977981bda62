"""Regression tests, one per defect found by exercising the command line and the public API.

Each names its input and, in a comment, the wrong behaviour it guards against.
"""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from sampling.cli._io import write_table
from sampling.cli._main import main


@pytest.fixture
def small(tmp_path):
    data = tmp_path / "s.csv"
    pd.DataFrame({"sex": ["f", "m", "f", "m"], "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(data, index=False)
    return data


def test_cli_margins_json_list_of_non_records_is_one_line(tmp_path, small, capsys):
    # guards against: a TypeError traceback from pd.DataFrame.from_records
    bad = tmp_path / "m.json"
    bad.write_text("[1, 2]")
    assert main(["rake", str(small), "--margins", str(bad), "--out", str(tmp_path / "w.csv")]) == 2
    err = capsys.readouterr().err
    assert "must hold {variable, category, target} records" in err
    assert err.count("\n") == 1


def test_cli_margins_yaml_parse_error_is_one_line(tmp_path, small, capsys):
    # guards against: the YAML parser's multi-line message printed as is
    bad = tmp_path / "m.yaml"
    bad.write_text("sex: [1,2\n")
    assert main(["rake", str(small), "--margins", str(bad), "--out", str(tmp_path / "w.csv")]) == 2
    err = capsys.readouterr().err
    assert "could not be parsed" in err
    assert err.count("\n") == 1


def test_cli_margins_wrong_suffix_lists_yaml_and_json(tmp_path, small, capsys):
    bad = tmp_path / "m.txt"
    bad.write_text("x")
    assert main(["rake", str(small), "--margins", str(bad), "--out", str(tmp_path / "w.csv")]) == 2
    assert ".yaml, .yml, .json" in capsys.readouterr().err


def test_atomic_outputs_are_not_owner_only(tmp_path):
    # guards against: mkstemp's 0600 mode leaking into every output file
    old = os.umask(0o022)
    try:
        path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_cli_quotas_own_table_defaults_to_its_variables(tmp_path):
    # guards against: --variables defaulting to age,sex,ethnicity even for --table, so that a
    # table without an 'ethnicity' column fails unless --variables is given
    table = tmp_path / "t.csv"
    pd.DataFrame(
        {"sex": ["f", "m", "f", "m"], "age": ["y", "y", "o", "o"], "count": [10, 4, 5, 3]}
    ).to_csv(table, index=False)
    out = tmp_path / "q.csv"
    assert main(["quotas", "--table", str(table), "--n", "10", "--out", str(out)]) == 0
    quotas = pd.read_csv(out)
    assert set(quotas.columns) >= {"sex", "age", "quota"}
    assert quotas["quota"].sum() == 10


def test_cli_select_unknown_strata_column_is_named(tmp_path, capsys):
    # guards against: a misspelt --strata column reported as "non-numeric feature columns: 'g'"
    table = tmp_path / "x.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.5, 2.0], "g": list("uvuv")}).to_csv(
        table, index=False
    )
    args = ["select", str(table), "--m", "2", "--strata", "grp", "--out", str(tmp_path / "s.csv")]
    assert main(args) == 2
    assert "--strata: is neither a column of the table nor a .csv/.parquet file" in (
        capsys.readouterr().err
    )


@pytest.fixture
def quota_file(tmp_path):
    path = tmp_path / "q.csv"
    pd.DataFrame({"sex": ["f", "m"], "quota": [2, 2]}).to_csv(path, index=False)
    return path


def test_cli_track_unknown_id_column_fails(tmp_path, quota_file, capsys):
    # guards against: a misspelt --id being ignored (exit 0, every person anonymous)
    arrivals = tmp_path / "a.csv"
    pd.DataFrame({"pid": [1, 2], "sex": ["f", "m"]}).to_csv(arrivals, index=False)
    args = ["track", "--quotas", str(quota_file), "--arrivals", str(arrivals), "--out",
            str(tmp_path / "log.csv"), "--status-out", str(tmp_path / "st.csv")]
    assert main([*args, "--id", "person"]) == 2
    assert "--id: names a column that is not in the arrivals" in capsys.readouterr().err
    assert main([*args, "--id", "pid"]) == 0


def test_cli_track_arrivals_without_quota_variable_fails(tmp_path, quota_file, capsys):
    # guards against: exit 0 with every arrival rejected as "missing attribute"
    arrivals = tmp_path / "a.csv"
    pd.DataFrame({"id": [1, 2], "gender": ["f", "m"]}).to_csv(arrivals, index=False)
    args = ["track", "--quotas", str(quota_file), "--arrivals", str(arrivals), "--out",
            str(tmp_path / "log.csv"), "--status-out", str(tmp_path / "st.csv")]
    assert main(args) == 2
    assert "--arrivals: lacks quota variables" in capsys.readouterr().err


def test_cli_track_corrupt_state_file_names_the_flag(tmp_path, quota_file, capsys):
    arrivals = tmp_path / "a.csv"
    pd.DataFrame({"id": [1], "sex": ["f"]}).to_csv(arrivals, index=False)
    state = tmp_path / "state.json"
    state.write_text("{bad")
    args = ["track", "--quotas", str(quota_file), "--arrivals", str(arrivals), "--out",
            str(tmp_path / "log.csv"), "--status-out", str(tmp_path / "st.csv"), "--state", str(state)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--state: " in err and "is not valid JSON" in err


def test_cli_welfare_on_missing_drop_is_reachable(tmp_path, capsys):
    # guards against: an error telling CLI users to pass on_missing="drop", which the CLI cannot do
    ratings = tmp_path / "r.csv"
    pd.DataFrame(
        {"user_id": ["u1", "u1", "u2", "u2"], "model_name": list("abab"), "score": [5, 3, 2, None]}
    ).to_csv(ratings, index=False)
    out = tmp_path / "w.csv"
    assert main(["welfare", "--ratings", str(ratings), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["welfare", "--ratings", str(ratings), "--on-missing", "drop", "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("option")
    assert table.loc["a", "welfare"] == 3.5 and table.loc["b", "welfare"] == 3.0


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_kish_effective_sample_size_with_extreme_weights(scale):
    # guards against: (sum w)^2 overflowing (1e300) or underflowing (1e-300) -> NaN ESS / deff
    import estimators as est

    frame = pd.DataFrame({"sex": ["f", "m"] * 3, "y": [1.0, 2, 3, 4, 5, 6], "w": scale})
    table = est.SurveyDesign(frame, weights="w").mean("y").to_frame()
    assert table["effective_sample_size"].iloc[0] == pytest.approx(6.0)
    assert table["deff"].notna().all()
    fit = est.rake(frame, {"sex": {"f": 0.5, "m": 0.5}}, weights="w")
    assert fit.effective_sample_size == pytest.approx(6.0)
    assert fit.design_effect == pytest.approx(1.0)


def test_rake_base_weights_beyond_float_range_is_a_clear_error():
    # guards against: ConvergenceError "max relative margin error nan" after 1000 sweeps (t / cur
    # overflowing)
    import estimators as est
    from estimators.errors import ValidationError

    frame = pd.DataFrame({"sex": ["f", "m"] * 3, "w": [1e300, 1e-300] * 3})
    with pytest.raises(ValidationError, match="beyond the floating-point range"):
        est.rake(frame, {"sex": {"f": 0.5, "m": 0.5}}, weights="w")


def test_weighting_an_empty_frame_says_so():
    # guards against: "margins: every row has a missing weighting value; got 0 values: ."
    import estimators as est
    from estimators.errors import ValidationError

    empty = pd.DataFrame({"sex": pd.Series([], dtype=object)})
    with pytest.raises(ValidationError, match="data: has no rows to weight"):
        est.rake(empty, {"sex": {"f": 0.5, "m": 0.5}})
    with pytest.raises(ValidationError, match="data: has no rows to weight"):
        est.poststratify(empty, {"sex": {"f": 0.5, "m": 0.5}}, cells=["sex"])


def test_utility_table_without_turn_column_says_how_to_fix():
    # guards against: "turn_column: names columns that are not in the data" with no hint that the
    # default turn=0 (PRISM) is the cause and turn=None the fix
    import estimators as est
    from estimators.errors import ColumnError

    ratings = pd.DataFrame({"user_id": ["u1", "u2"], "model_name": ["a", "a"], "score": [1.0, 3.0]})
    with pytest.raises(ColumnError, match="Pass turn=None to use every row"):
        est.utility_table(ratings)
    assert est.utility_table(ratings, turn=None).values["a"].mean() == 2.0


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "double[pyarrow]"])
def test_leverage_accepts_nullable_and_arrow_numeric_frames(dtype):
    # guards against: "X: must be numeric; got 'object'" for a DataFrame of nullable/pyarrow numbers
    import numpy as np

    import sampling as smp

    values = np.array([[1, 0], [0, 1], [1, 1], [2, -1], [0, 3]], dtype=float)
    got = smp.leverage_scores(pd.DataFrame(values).astype(dtype))
    np.testing.assert_allclose(got, smp.leverage_scores(values), rtol=1e-12)
