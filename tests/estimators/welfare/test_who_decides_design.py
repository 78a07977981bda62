"""who_decides reports the design-based SEs of ``welfare`` for every welfare function.

The outside truth is ``welfare(..., design=)`` itself (checked against R ``survey`` / ``convey``
in test_welfare_variance.py): an option's welfare in a population is a domain of the design, and a
policy that always picks one option has that option's welfare, so its SE must be the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.welfare._who_decides import JuryPolicy, who_decides

MEASURES = [("utilitarian", {}), ("atkinson", {"eps": 1.0}), ("gini", {}), ("nash", {}),
            ("veto_share", {}), ("power_mean", {"power": -1.0})]


@pytest.fixture(scope="module")
def setting():
    data = est.load_prism()
    u = est.utility_table(data.utterances, raters=data.survey)
    survey = data.survey.assign(cluster=np.arange(len(data.survey)) // 3)
    fit = est.rake(est.SurveyDesign(survey, psu="cluster"),
                   {"gender": {"Female": 0.50, "Male": 0.48, "Non-binary / third gender": 0.02}})
    row = u.values.loc["user0"]
    assert (row == row.max()).sum() == 1  # user0 has a unique favourite: a sure winner
    return data, u, fit.design, row.idxmax()


@pytest.mark.parametrize(("swf", "kwargs"), MEASURES)
def test_option_and_policy_se_equal_welfare_se(setting, swf, kwargs):
    data, u, design, favourite = setting
    women = data.survey.set_index("user_id")["gender"].eq("Female")
    res = who_decides(u, policy=JuryPolicy(3, pool=["user0"]), n_draws=20, rng=0, design=design,
                      swf=swf, population={"all": None, "women": women}, **kwargs)
    ref = est.welfare(u, swf=swf, design=design, by="gender", **kwargs).to_frame()
    ref = ref.set_index(["group", "option"])
    table = res.option_welfare.set_index(["population", "option"])
    for population, group in (("all", "all"), ("women", "Female")):
        got = table.loc[population]
        want = ref.loc[group].reindex(got.index)
        np.testing.assert_allclose(got["welfare"], want["welfare"], rtol=1e-10)
        np.testing.assert_allclose(got["std_error"], want["std_error"], rtol=1e-10)
    assert res.winner_shares().set_index("option").loc[favourite, "share"] == 1.0
    np.testing.assert_allclose(res.design_se[0], [ref.loc[("all", favourite), "std_error"],
                                                  ref.loc[("Female", favourite), "std_error"]],
                               rtol=1e-10)
    assert res.to_frame()["design_se"].tolist() == pytest.approx(list(res.design_se[0]))
    assert res.variance_method == "taylor"


def test_expected_welfare_se_is_the_mixture_of_influence_values(setting):
    # policies that split their wins: the SE of sum_o p_o W(o) (linearised variable
    # sum_o p_o w_k z_k(o)) is positive and at most sum_o p_o SE(W(o)) (Cauchy-Schwarz)
    _, u, design, _ = setting
    res = who_decides(u, policy={"a": 5, "b": 20}, n_draws=200, rng=3, design=design, swf="gini")
    shares = res.winner_shares().pivot(index="policy", columns="option", values="share")
    shares = shares.loc[list(res.policies), list(res.options)].to_numpy()
    frame = res.option_welfare
    se = frame["std_error"].to_numpy()
    assert (res.design_se[:, 0] <= shares @ se + 1e-12).all()
    assert (res.design_se > 0).all()


def test_replicate_design_gives_replicate_ses(setting):
    _, u, design, favourite = setting
    jk = design.with_replicates("jk1")
    res = who_decides(u, policy=JuryPolicy(3, pool=["user0"]), n_draws=20, rng=0, design=jk,
                      swf="atkinson", eps=1.0)
    ref = est.welfare(u, swf="atkinson", eps=1.0, design=jk).to_frame().set_index("option")
    got = res.option_welfare.set_index("option")
    np.testing.assert_allclose(got["std_error"], ref.loc[got.index, "std_error"], rtol=1e-10)
    assert res.design_se[0, 0] == pytest.approx(ref.loc[favourite, "std_error"], rel=1e-10)
    assert res.variance_method == "jk1"
    assert "standard errors" in res.summary()


def test_no_design_se_for_the_sample_minimum(setting):
    _, u, _, _ = setting
    res = who_decides(u, policy=5, n_draws=20, rng=0, swf="maximin")
    assert res.design_se is None
    assert res.variance_method is None
    assert "std_error" not in res.option_welfare.columns
    assert "design_se" not in res.to_frame().columns


def test_group_measures_get_design_ses(setting):
    _, u, design, favourite = setting
    res = who_decides(u, policy=JuryPolicy(3, pool=["user0"]), n_draws=20, rng=0, design=design,
                      swf="group_gap", by="gender")
    ref = est.welfare(u, swf="group_gap", design=design, by="gender").to_frame()
    ref = ref.set_index("option")
    got = res.option_welfare.set_index("option")
    np.testing.assert_allclose(got["std_error"], ref.loc[got.index, "std_error"], rtol=1e-10)
    assert res.design_se[0, 0] == pytest.approx(ref.loc[favourite, "std_error"], rel=1e-10)
    regret = who_decides(u, policy=5, n_draws=20, rng=0, design=design, swf="regret")
    assert np.isfinite(regret.design_se).all()
    assert pd.notna(regret.option_welfare["std_error"]).all()
