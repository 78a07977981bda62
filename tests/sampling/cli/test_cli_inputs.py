"""CLI input checks: header-only tables and report paths (one clear line, exit 2, no output)."""

import pytest

from sampling.cli._main import main


@pytest.fixture()
def files(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("sex,y\nf,1\nm,2\nf,3\nm,4\n")
    margins = tmp_path / "m.csv"
    margins.write_text("variable,category,target\nsex,f,0.5\nsex,m,0.5\n")
    return tmp_path, data, margins


def test_header_only_table_is_a_clear_error(files, capsys):
    tmp, _, _ = files
    empty = tmp / "h.csv"
    empty.write_text("sex,y\n")
    assert main(["estimate", str(empty), "--y", "y"]) == 2
    err = capsys.readouterr().err
    assert "DATA: the table has a header but no rows" in err and err.count("\n") == 1


def test_report_must_be_json_and_nothing_is_written(files, capsys):
    tmp, data, margins = files
    out = tmp / "w.csv"
    code = main(["rake", str(data), "--margins", str(margins), "--out", str(out),
                 "--report-out", str(tmp / "r.txt")])
    assert code == 2
    assert "--report-out: file type must be one of .json" in capsys.readouterr().err
    assert not out.exists() and not (tmp / "r.txt").exists()
