"""Design-based SEs of welfare through a rater-level SurveyDesign, against R survey.

Reference: tests/estimators/welfare/reference/welfare_svymean.R (svymean / svyby on a stratified design).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "welfare_svymean.json").read_text())

def test_design_path_matches_r_and_the_single_stage_formula():
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    survey = data.survey.assign(w=pd.Series(REF["weights"]).reindex(data.survey["user_id"]).to_numpy())
    d = est.SurveyDesign(survey, weights="w", strata="study_locale")
    res = est.welfare(u, design=d, by="gender").to_frame().set_index(["option", "group"])
    for model, ref in REF["stratified"].items():
        assert res.loc[(model, "all"), "welfare"] == pytest.approx(ref["mean"], rel=1e-10)
        assert res.loc[(model, "all"), "std_error"] == pytest.approx(np.ravel(ref["se"])[0], rel=1e-10)
        for g, se in zip(ref["gender"], ref["by_se"]):
            assert res.loc[(model, g), "std_error"] == pytest.approx(se, rel=1e-10)
    d1 = est.SurveyDesign(survey, weights="w")
    r1 = est.welfare(u, design=d1).to_frame().set_index("option")
    for model, ref in REF["overall"].items():
        assert r1.loc[model, "std_error"] == pytest.approx(np.ravel(ref["se"])[0], rel=1e-10)
    # who_decides: the design SE of the expected welfare equals the simple formula for ids=~1
    a = est.who_decides(u, policy=10, n_draws=300, rng=1, design=d1)
    b = est.who_decides(u, policy=10, n_draws=300, rng=1, weights=survey.set_index("user_id")["w"])
    np.testing.assert_allclose(a.design_se, b.design_se, rtol=1e-10)
    np.testing.assert_allclose(a.option_welfare["std_error"], b.option_welfare["std_error"], rtol=1e-10)
    stratified = est.who_decides(u, policy=10, n_draws=300, rng=1, design=d)
    assert np.isfinite(stratified.design_se).all()
    assert not np.allclose(stratified.design_se, a.design_se)


def test_design_errors():
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    d = est.SurveyDesign(data.survey)
    with pytest.raises(est.ValidationError, match="give either weights= or design="):
        est.welfare(u, design=d, weights=np.ones(48))
    with pytest.raises(est.ValidationError, match="must be a SurveyDesign"):
        est.welfare(u, design="survey")
    with pytest.raises(est.ValidationError, match="rows must be exactly the raters"):
        est.welfare(u, design=est.SurveyDesign(data.survey.head(10)))
    with pytest.raises(est.ValidationError, match="must have one row per rater"):
        est.welfare(u, design=est.SurveyDesign(pd.concat([data.survey, data.survey.head(1)],
                                                         ignore_index=True)))
    with pytest.raises(est.ValidationError, match='mode="prism" is unweighted'):
        est.who_decides(u, policy=5, design=d, mode="prism", rng=1)


def test_raked_design_matches_r_rake_then_svymean():
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    fit = est.rake(data.survey, {"gender": {"Female": 0.50, "Male": 0.48,
                                            "Non-binary / third gender": 0.02}})
    res = est.welfare(u, design=fit.design).to_frame().set_index("option")
    for model, ref in REF["raked"].items():
        assert res.loc[model, "welfare"] == pytest.approx(ref["mean"], rel=1e-10)
        assert res.loc[model, "std_error"] == pytest.approx(np.ravel(ref["se"])[0], rel=1e-8)
