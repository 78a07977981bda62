import pandas as pd
import pytest

from estimators import ValidationError
from sampling.cli._io import atomic_write, read_table, write_json, write_table


def test_roundtrip_csv_parquet_json(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for name in ("t.csv", "t.parquet"):
        write_table(df, tmp_path / name)
        pd.testing.assert_frame_equal(read_table(tmp_path / name), df, check_dtype=False)
    write_table(df, tmp_path / "t.json")
    assert (tmp_path / "t.json").read_text().startswith("[")
    write_json({"k": 1}, tmp_path / "r.json")
    assert '"k": 1' in (tmp_path / "r.json").read_text()


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def boom(tmp):
        tmp.write_text("partial")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_read_errors(tmp_path):
    with pytest.raises(ValidationError, match=r"data: file type must be one of \.csv, \.parquet, \.pq"):
        read_table(tmp_path / "x.txt")
    with pytest.raises(ValidationError, match="data: file does not exist"):
        read_table(tmp_path / "x.csv")
