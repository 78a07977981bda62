"""``equisample demo``: the whole loop on embedded data, written as a report folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sampling.cli._demo import biased_sample, run_demo
from sampling.cli._main import main


def test_demo_writes_the_report_and_says_where(tmp_path, capsys) -> None:
    out = tmp_path / "report"
    assert main(["demo", "--n", "200", "--reps", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().err
    assert f"wrote {out.resolve()}" in printed
    for step in ("plan:", "recruit:", "reweight:", "evaluate:", "simulate:"):
        assert step in printed
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    tables = sorted(p.name for p in (out / "tables").glob("*.csv"))
    assert "reweight_fit.png" in figures and "simulate_bias_coverage.png" in figures
    assert "reweight_diagnostics.csv" in tables and "simulate_summary.csv" in tables
    markdown = (out / "report.md").read_text()
    for figure in figures:  # every figure is in the report
        assert f"figures/{figure}" in markdown
    html = (out / "report.html").read_text()
    assert "<table>" in html and "<img src='figures/reweight_fit.png'" in html
    diagnostics = pd.read_csv(out / "tables" / "reweight_diagnostics.csv")
    assert np.allclose(diagnostics["weighted_share"], diagnostics["target_share"], rtol=1e-8)


def test_demo_is_reproducible(tmp_path) -> None:
    for name in ("a", "b"):
        assert main(["demo", "--n", "150", "--reps", "3", "--seed", "5", "--country", "us",
                     "--out", str(tmp_path / name)]) == 0
    first = pd.read_csv(tmp_path / "a" / "tables" / "simulate_summary.csv")
    second = pd.read_csv(tmp_path / "b" / "tables" / "simulate_summary.csv")
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize(("argv", "message"), [
    (["--n", "10"], "--n: must be >= 100"),
    (["--reps", "1"], "--reps: must be >= 2"),
])
def test_demo_bad_arguments(tmp_path, capsys, argv, message) -> None:
    assert main(["demo", *argv, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_biased_sample_is_deterministic_and_biased() -> None:
    a = biased_sample(500, rng=1)
    b = biased_sample(500, rng=1)
    assert a.equals(b)
    _sample, fit = run_demo(800, country="us", seed=3)
    diag = fit.diagnostics()
    assert fit.converged and np.allclose(diag["weighted_share"], diag["target_share"], rtol=1e-8)
    young = diag[(diag["variable"] == "age") & (diag["category"] == "18-24")].iloc[0]
    assert young["sample_share"] > young["target_share"]  # the bias is real
