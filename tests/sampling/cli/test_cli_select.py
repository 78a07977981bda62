"""In-process tests of ``equisample select``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sampling.cli._main import main


def test_select_npy_with_strata_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 4)) * rng.standard_t(2, size=(3000, 1))
    np.save(tmp_path / "emb.npy", x)
    pd.DataFrame({"group": np.repeat(["a", "b", "c"], 1000)}).to_csv(tmp_path / "g.csv", index=False)
    code = main(["select", str(tmp_path / "emb.npy"), "--n", "300", "--method", "lewis", "--p", "1",
                 "--strata", str(tmp_path / "g.csv"), "--allocation", "equal", "--seed", "3",
                 "--design", "pivotal", "--out", str(tmp_path / "subset.csv"),
                 "--report-out", str(tmp_path / "report.json")])
    assert code == 0
    out = pd.read_csv(tmp_path / "subset.csv")
    assert len(out) == 300 and out.groupby("stratum").size().tolist() == [100, 100, 100]
    assert {"row", "probability", "weight", "row_scale", "certainty"} <= set(out.columns)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["selected"] == 300 and report["l1_distortion_lower_bound"] is not None
    assert "read 3000 rows" in capsys.readouterr().err


def test_select_parquet_with_strata_column(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(500, 3)), columns=["e1", "e2", "e3"])
    frame["region"] = np.where(np.arange(500) < 250, "north", "south")
    frame.to_parquet(tmp_path / "emb.parquet")
    code = main(["select", str(tmp_path / "emb.parquet"), "--n", "50", "--strata", "region",
                 "--seed", "1", "--out", str(tmp_path / "s.json")])
    assert code == 0
    rows = json.loads((tmp_path / "s.json").read_text())
    assert {r["stratum"] for r in rows} == {"north", "south"}
    lists = pd.DataFrame({"embedding": list(rng.normal(size=(200, 4))), "region": frame.region[:200]})
    lists.to_parquet(tmp_path / "lists.parquet")
    code = main(["select", str(tmp_path / "lists.parquet"), "--n", "20", "--strata", "region",
                 "--design", "pivotal", "--seed", "2", "--out", str(tmp_path / "l.csv")])
    assert code == 0 and len(pd.read_csv(tmp_path / "l.csv")) == 20


def test_select_errors(tmp_path, capsys):
    frame = pd.DataFrame({"e1": [1.0, 2.0, 3.0], "name": ["a", "b", "c"]})
    frame.to_csv(tmp_path / "emb.csv", index=False)
    code = main(["select", str(tmp_path / "emb.csv"), "--n", "2", "--out", str(tmp_path / "o.csv")])
    assert code == 2
    assert "non-numeric feature columns" in capsys.readouterr().err
    code = main(["select", str(tmp_path / "emb.csv"), "--n", "2", "--columns", "e1",
                 "--strata", "nope", "--out", str(tmp_path / "o.csv")])
    assert code == 2
    assert "is neither a column of the table nor a .csv/.parquet file" in capsys.readouterr().err
    code = main(["select", str(tmp_path / "missing.npy"), "--n", "2", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "file does not exist" in capsys.readouterr().err
    code = main(["select", str(tmp_path / "emb.csv"), "--n", "9", "--columns", "e1",
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "--n: must be <= 3" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_select_input_errors(tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "emb.npy", rng.normal(size=(30, 2)))
    (tmp_path / "bad.npy").write_text("not an array")
    pd.DataFrame({"a": range(30), "b": range(30)}).to_csv(tmp_path / "two.csv", index=False)
    pd.DataFrame({"group": ["x"] * 10}).to_csv(tmp_path / "short.csv", index=False)
    out = str(tmp_path / "o.csv")
    cases = [
        (["select", str(tmp_path / "emb.npy"), "--n", "5", "--columns", "a", "--out", out],
         "only applies to tables"),
        (["select", str(tmp_path / "bad.npy"), "--n", "5", "--out", out],
         "could not be read as a .npy array"),
        (["select", str(tmp_path / "emb.npy"), "--n", "5", "--strata", str(tmp_path / "two.csv"),
          "--out", out], "none named 'stratum' or 'group'"),
        (["select", str(tmp_path / "emb.npy"), "--n", "5", "--strata", str(tmp_path / "short.csv"),
          "--out", out], "must have one label per row of the embeddings (30)"),
        (["select", str(tmp_path / "two.csv"), "--n", "5", "--columns", "a,zz", "--out", out],
         "names columns that are not in the table"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
