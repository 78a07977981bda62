"""Replicate designs: construction rules, closed forms, re-weighting every replicate, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.survey._replicates import hadamard


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 300
    return pd.DataFrame(
        {
            "y": rng.normal(2, 1, n),
            "g": rng.choice(["a", "b"], n),
            "sex": rng.choice(["f", "m"], n),
            "user": np.repeat(np.arange(100), 3),
            "stratum": np.repeat(np.arange(10), 30),
            "w": rng.uniform(1, 3, n),
        }
    )


def test_jk1_total_equals_closed_form(frame):
    """For a total, the JK1 variance equals the with-replacement Taylor variance exactly."""
    d = est.SurveyDesign(frame, weights="w", psu="user")
    jk = est.replicate_design(d, method="jk1").total("y")
    taylor = d.total("y")
    assert jk.std_error[0] == pytest.approx(taylor.std_error[0], rel=1e-10)
    assert jk.variance_method == "jk1"


def test_jkn_total_equals_stratified_taylor(frame):
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    jk = d.with_replicates("jkn").total("y", by="g")
    np.testing.assert_allclose(jk.std_error, d.total("y", by="g").std_error, rtol=1e-10)


def test_brr_total_equals_paired_taylor():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"y": rng.normal(size=60), "psu": np.arange(60) // 3, "stratum": np.arange(60) // 6})
    d = est.SurveyDesign(df, strata="stratum", psu="psu")
    for method in ("brr", "fay"):
        r = d.with_replicates(method, fay_rho=0.5)
        assert r.n_replicates == 16
        assert r.total("y").std_error[0] == pytest.approx(d.total("y").std_error[0], rel=1e-10)


def test_hadamard_is_orthogonal():
    H = hadamard(12)
    assert H.shape == (16, 16)
    np.testing.assert_array_equal(H @ H.T, 16 * np.eye(16))


def test_bootstrap_is_reproducible_and_close_to_taylor(frame):
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    a = d.with_replicates("bootstrap", replicates=400, rng=1).mean("y")
    b = d.with_replicates("bootstrap", replicates=400, rng=1).mean("y")
    assert a.std_error[0] == b.std_error[0]
    assert a.std_error[0] == pytest.approx(d.mean("y").std_error[0], rel=0.15)


def test_replicates_rerun_raking(frame):
    """Re-raked replicates hit the margins exactly, so a raking margin's share has ~zero SE."""
    d = est.SurveyDesign(frame, weights="w", psu="user")
    fit = est.rake(d, {"sex": {"f": 0.4, "m": 0.6}})
    r = fit.design.with_replicates("bootstrap", replicates=50, rng=0)
    W = r.replicate_weights()
    female = (frame.sex == "f").to_numpy()
    np.testing.assert_allclose(W[female].sum(0) / W.sum(0), 0.4, rtol=1e-9)
    assert r.proportion("sex").std_error.max() < 1e-9
    naive = est.replicate_design(est.SurveyDesign(frame, weights=fit.weights, psu="user"),
                                 method="bootstrap", replicates=50, rng=0)
    assert naive.proportion("sex").std_error.max() > 1e-3


def test_user_replicate_weights_and_defaults(frame):
    d = est.SurveyDesign(frame, weights="w")
    reps = frame[["w"]].to_numpy() * np.random.default_rng(2).uniform(0.5, 1.5, (len(frame), 8))
    sd = est.ReplicateDesign.from_weights(d, reps, method="successive_difference")
    assert sd.scale == pytest.approx(0.5) and sd.mse
    acs = est.ReplicateDesign.from_weights(d, reps, method="acs")
    assert acs.scale == pytest.approx(4 / 80)
    frame2 = frame.assign(**{f"r{i}": reps[:, i] for i in range(8)})
    by_name = est.ReplicateDesign.from_weights(est.SurveyDesign(frame2, weights="w"),
                                               [f"r{i}" for i in range(8)], method="successive_difference")
    assert by_name.mean("y").std_error[0] == sd.mean("y").std_error[0]


# -- bad input ------------------------------------------------------------------------------------------
def test_mismatched_replicate_rows_raise(frame):
    d = est.SurveyDesign(frame, weights="w")
    with pytest.raises(est.ValidationError, match="one row per observation"):
        est.ReplicateDesign.from_weights(d, np.ones((len(frame) - 1, 4)), method="bootstrap")


def test_mismatched_rscales_raise(frame):
    d = est.SurveyDesign(frame, weights="w")
    with pytest.raises(est.ValidationError, match="rscales: must have one value per replicate"):
        est.ReplicateDesign.from_weights(d, np.ones((len(frame), 4)), method="jkn", rscales=[1, 1])


def test_other_needs_scale(frame):
    d = est.SurveyDesign(frame, weights="w")
    with pytest.raises(est.ValidationError, match="scale: must be given"):
        est.ReplicateDesign.from_weights(d, np.ones((len(frame), 4)), method="other")


def test_single_replicate_raises(frame):
    d = est.SurveyDesign(frame, weights="w")
    with pytest.raises(est.ValidationError, match="at least 2 replicates"):
        est.ReplicateDesign.from_weights(d, np.ones((len(frame), 1)), method="bootstrap")


def test_jk1_on_stratified_design_raises(frame):
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.DesignError, match="'jk1' is for unstratified designs"):
        d.with_replicates("jk1")


def test_brr_needs_two_psus_per_stratum(frame):
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.DesignError, match="needs exactly two PSUs in every stratum"):
        d.with_replicates("brr")


def test_bad_hadamard_raises():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "s": [1, 1, 2, 2]})
    d = est.SurveyDesign(df, strata="s")
    with pytest.raises(est.ValidationError, match="is not a Hadamard matrix"):
        d.with_replicates("brr", hadamard_matrix=np.where(np.eye(4)[0] > 0, -1, 1) * np.ones((4, 4)))


def test_lonely_psu_in_jkn_and_bootstrap(frame):
    frame = frame.copy()
    frame.loc[frame.user == 99, "stratum"] = 42
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    with pytest.raises(est.DesignError, match=r"only one PSU.*42"):
        d.with_replicates("jkn")
    with pytest.raises(est.DesignError, match="at least two PSUs in every stratum"):
        d.with_replicates("bootstrap")
    adjust = d.with_replicates("jkn", lonely_psu="adjust")
    remove = d.with_replicates("jkn", lonely_psu="remove")
    assert adjust.n_replicates == remove.n_replicates + 1


def test_empty_replicate_domain_raises():
    df = pd.DataFrame({"y": np.arange(6.0), "g": ["a"] + ["b"] * 5, "psu": np.arange(6)})
    r = est.SurveyDesign(df, psu="psu").with_replicates("jk1")
    with pytest.raises(est.DesignError, match="some replicates give no estimate"):
        r.mean("y", by="g")


def test_step_that_cannot_reweight_raises(frame):
    from estimators.survey._weighting_steps import WeightingStep

    d = est.SurveyDesign(frame, weights="w")
    w = d.weight_array
    stepped = d.with_weights(w, WeightingStep("linear", w, w, model_matrix=np.ones((len(w), 1))))
    with pytest.raises(est.DesignError, match="cannot be re-run on replicate weights"):
        stepped.with_replicates("jk1").mean("y")


@pytest.mark.parametrize("weighting", ["rake", "poststratify", "rake_bounded", "none"])
def test_atom_path_equals_row_level_reweighting(frame, weighting, monkeypatch):
    """Collapsing rows to PSU x cell atoms gives the same replicate estimates as row-level reweight."""
    d = est.SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    margins = {"sex": {"f": 0.4, "m": 0.6}, "g": {"a": 0.5, "b": 0.5}}
    if weighting == "rake":
        d = est.rake(d, margins).design
    elif weighting == "rake_bounded":
        d = est.rake(d, margins, bounds=(0.5, 2.0)).design
    elif weighting == "poststratify":
        d = est.poststratify(d, {"f": 0.4, "m": 0.6}, cells=["sex"]).design
    r = d.with_replicates("bootstrap", replicates=30, rng=3)
    assert r._atoms() is not None
    fast = r.mean("y", by="g")
    monkeypatch.setattr(est.ReplicateDesign, "_atoms", lambda self: None)
    slow = r.mean("y", by="g")
    np.testing.assert_allclose(fast.std_error, slow.std_error, rtol=1e-9)


def test_fay_weights_from_user_match_generated():
    df = pd.DataFrame({"y": np.arange(8.0) ** 1.5, "s": np.repeat([1, 2, 3, 4], 2), "p": np.arange(8)})
    d = est.SurveyDesign(df, strata="s", psu="p")
    gen = d.with_replicates("fay", fay_rho=0.3)
    user = est.ReplicateDesign.from_weights(d, gen.replicate_weights(), method="fay", fay_rho=0.3)
    assert user.mean("y").std_error[0] == pytest.approx(gen.mean("y").std_error[0], rel=1e-12)


def test_replicates_rerun_rake_then_trim_chain(frame):
    """A rake -> trim chain is re-run on every replicate (trim has no cell solver: row-level path)."""
    d = est.SurveyDesign(frame, weights="w", psu="user")
    fit = est.rake(d, {"sex": {"f": 0.4, "m": 0.6}})
    upper = float(np.quantile(fit.weights, 0.9))
    trimmed = est.trim(fit, upper=upper)
    assert [s.method for s in trimmed.design.weighting_steps] == ["rake", "trim"]
    r = trimmed.design.with_replicates("bootstrap", replicates=20, rng=0)
    assert r._atoms() is None
    W = r.replicate_weights()
    assert W.shape == (len(frame), 20) and np.isfinite(W).all()
    e = r.mean("y", by="g")
    assert np.isfinite(e.std_error).all() and (e.std_error > 0).all()
    assert np.isfinite(trimmed.design.mean("y").std_error).all()
