"""equisample plan: pilot CSV in, plan table out; bad inputs give one line and exit 2."""

import numpy as np
import pandas as pd

from sampling.allocation._learning_curves import fit_learning_curves
from sampling.allocation._plan import allocate
from sampling.cli._main import main


def _pilot(path):
    rows = []
    for g, (a, b, c) in {"x": (1.0, 0.5, 0.02), "y": (2.0, 0.4, 0.05)}.items():
        for i, n in enumerate([20, 40, 80, 160, 320, 640]):
            rows.append({"group": g, "n": n, "error": (a * n**-b + c) * (1 + 0.01 * np.sin(i))})
    df = pd.DataFrame(rows)
    df.to_csv(path, index=False)
    return df


def test_plan_writes_the_same_plan_as_the_api(tmp_path, capsys):
    pilot = _pilot(tmp_path / "pilot.csv")
    pd.DataFrame({"group": ["x", "y"], "cost": [1.0, 3.0]}).to_csv(tmp_path / "costs.csv",
                                                                 index=False)
    rc = main(["plan", str(tmp_path / "pilot.csv"), "--budget", "500", "--costs",
               str(tmp_path / "costs.csv"), "--objective", "maximin", "--out",
               str(tmp_path / "plan.csv")])
    assert rc == 0
    assert "maximin plan, budget 500" in capsys.readouterr().err
    out = pd.read_csv(tmp_path / "plan.csv")
    want = allocate(fit_learning_curves(pilot), budget=500, costs={"x": 1.0, "y": 3.0},
                    objective="maximin")
    assert out["group"].tolist() == ["x", "y"]
    assert out["n"].tolist() == want.n.tolist()


def test_plan_bad_inputs_exit_2(tmp_path, capsys):
    _pilot(tmp_path / "pilot.csv")
    rc = main(["plan", str(tmp_path / "pilot.csv"), "--budget", "1", "--min-n", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and "lower bounds alone cost" in err and err.count("\n") == 1
    rc = main(["plan", str(tmp_path / "missing.csv"), "--budget", "1"])
    assert rc == 2 and "file does not exist" in capsys.readouterr().err
    pd.DataFrame({"grp": ["x"], "cost": [1.0]}).to_csv(tmp_path / "c.csv", index=False)
    rc = main(["plan", str(tmp_path / "pilot.csv"), "--budget", "100", "--costs",
               str(tmp_path / "c.csv")])
    assert rc == 2 and "names columns that are not in the data" in capsys.readouterr().err
