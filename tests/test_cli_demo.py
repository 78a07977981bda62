"""``equisample demo``: deterministic, converged, prints the diagnostics."""

from __future__ import annotations

import numpy as np

from sampling._cli_demo import biased_sample, run_demo
from sampling.cli import main


def test_demo_prints_diagnostics(capsys) -> None:
    assert main(["demo", "--rows", "400"]) == 0
    out = capsys.readouterr().out
    assert "converged                 : True" in out
    assert "ethnicity" in out and "mean rating, raked" in out


def test_demo_is_deterministic_and_biased() -> None:
    a = biased_sample(500, rng=1)
    b = biased_sample(500, rng=1)
    assert a.equals(b)
    _sample, fit = run_demo(800, country="us", seed=3)
    diag = fit.diagnostics()
    assert fit.converged and np.allclose(diag["weighted_share"], diag["target_share"], rtol=1e-8)
    young = diag[(diag["variable"] == "age") & (diag["category"] == "18-24")].iloc[0]
    assert young["sample_share"] > young["target_share"]  # the bias is real
