"""estimators.welfare against R survey::svymean and closed forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.datasets._prism import load_prism
from estimators.welfare._utility import utility_table
from estimators.welfare._welfare import welfare

pytestmark = pytest.mark.reference

REFERENCE = Path(__file__).parent / "reference" / "welfare_svymean.json"


@pytest.fixture(scope="module")
def prism_table():
    data = load_prism()
    return utility_table(data.utterances, raters=data.survey)


@pytest.fixture(scope="module")
def r_reference():
    return json.loads(REFERENCE.read_text())


def _r_weights(table, ref):
    return pd.Series(ref["weights"]).reindex(table.values.index).astype(float)


def test_utility_table_matches_r_member_means(prism_table, r_reference):
    for model, cells in r_reference["utilities"].items():
        expected = pd.Series(cells, dtype=float).reindex(prism_table.values.index)
        got = prism_table.values[model]
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_weighted_means_and_linearised_se_match_svymean(prism_table, r_reference):
    w = _r_weights(prism_table, r_reference)
    frame = welfare(prism_table, swf="utilitarian", weights=w).to_frame().set_index("option")
    for model, ref in r_reference["overall"].items():
        assert frame.loc[model, "welfare"] == pytest.approx(ref["mean"], rel=1e-10, abs=0)
        se = np.ravel(ref["se"])[0]
        assert frame.loc[model, "std_error"] == pytest.approx(se, rel=1e-10, abs=0)
        assert frame.loc[model, "n"] == ref["n"]


def test_domain_means_and_se_by_group_match_svyby(prism_table, r_reference):
    w = _r_weights(prism_table, r_reference)
    frame = welfare(prism_table, swf="utilitarian", weights=w, by="gender").to_frame()
    frame = frame.set_index(["option", "group"])
    for model, ref in r_reference["by_gender"].items():
        for group, mean, se in zip(ref["gender"], ref["mean"], ref["se"]):
            assert frame.loc[(model, group), "welfare"] == pytest.approx(mean, rel=1e-10)
            assert frame.loc[(model, group), "std_error"] == pytest.approx(se, rel=1e-10)


X = np.array([12.0, 40.0, 55.0, 80.0, 95.0])
WTS = np.array([1.0, 2.5, 0.5, 3.0, 1.0])


def _one(swf, weights=None, **kw):
    res = welfare(pd.DataFrame({"a": X}), swf=swf, weights=weights, **kw).to_frame()
    return res.iloc[0]


def test_atkinson_eps1_is_one_minus_geometric_over_arithmetic():
    row = _one("atkinson", eps=1)
    geometric = np.exp(np.mean(np.log(X)))
    assert row["welfare"] == pytest.approx(geometric, rel=1e-12)
    assert row["inequality"] == pytest.approx(1 - geometric / X.mean(), rel=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.5, 2.0])
def test_atkinson_closed_form(eps):
    row = _one("atkinson", eps=eps, weights=WTS)
    p = WTS / WTS.sum()
    ede = np.sum(p * X ** (1 - eps)) ** (1 / (1 - eps))
    assert row["welfare"] == pytest.approx(ede, rel=1e-12)
    assert row["inequality"] == pytest.approx(1 - ede / np.sum(p * X), rel=1e-12)


def test_atkinson_eps2_is_harmonic_mean():
    assert _one("atkinson", eps=2)["welfare"] == pytest.approx(len(X) / np.sum(1 / X), rel=1e-12)


def test_power_mean_limits():
    assert _one("power_mean", power=1)["welfare"] == pytest.approx(X.mean(), rel=1e-12)
    assert _one("power_mean", power=-np.inf)["welfare"] == X.min()
    with_zero = welfare(pd.DataFrame({"a": [0.0, 5.0]}), swf="power_mean", power=-np.inf)
    assert with_zero.to_frame()["welfare"].iloc[0] == 0.0  # min needs no positivity
    assert _one("power_mean", power=3)["welfare"] == pytest.approx(np.mean(X**3) ** (1 / 3))


def test_gini_population_and_corrected_formula():
    n = len(X)
    pair = np.abs(X[:, None] - X[None, :]).sum()
    g = pair / (2 * n * n * X.mean())
    assert _one("gini")["welfare"] == pytest.approx(g, rel=1e-12)
    assert _one("gini", gini_correction=True)["welfare"] == pytest.approx(g * n / (n - 1))
    assert _one("sen")["welfare"] == pytest.approx(X.mean() * (1 - g), rel=1e-12)


def test_weighted_gini_equals_double_sum():
    W = WTS.sum()
    mean = np.dot(WTS, X) / W
    pair = (WTS[:, None] * WTS[None, :] * np.abs(X[:, None] - X[None, :])).sum()
    assert _one("gini", weights=WTS)["welfare"] == pytest.approx(pair / (2 * W * W * mean))


def test_nash_maximin_veto():
    d = 5.0
    assert _one("nash", disagreement=d)["welfare"] == pytest.approx(np.exp(np.mean(np.log(X - d))))
    assert _one("maximin")["welfare"] == 12.0
    assert _one("veto_share", veto_threshold=40)["welfare"] == pytest.approx(2 / 5)
    assert _one("veto_share", weights=WTS, veto_threshold=40)["welfare"] == pytest.approx(
        3.5 / WTS.sum()
    )


def test_group_measures_and_regret():
    u = pd.DataFrame({"a": [10.0, 20.0, 90.0, 80.0], "b": [50.0, 60.0, 40.0, 50.0]})
    g = np.array(["x", "x", "y", "y"])
    gm = welfare(u, swf="group_maximin", by=g).to_frame().set_index("option")
    assert gm.loc["a", "welfare"] == 15.0 and gm.loc["a", "worst_group"] == "x"
    assert gm.loc["b", "welfare"] == 45.0
    gap = welfare(u, swf="group_gap", by=g).to_frame().set_index("option")
    assert gap.loc["a", "welfare"] == 70.0
    reg = welfare(u, swf="regret", by=g).to_frame().set_index(["option", "group"])
    assert reg.loc[("a", "x"), "welfare"] == 40.0 and reg.loc[("b", "x"), "welfare"] == 0.0
    assert reg.loc[("b", "y"), "welfare"] == 40.0 and reg.loc[("a", "all"), "welfare"] == 0.0
    assert welfare(u, swf="group_maximin", by=g).best_option == "b"


def test_unexposed_raters_are_skipped_and_counted():
    u = pd.DataFrame({"a": [10.0, np.nan, 30.0], "b": [np.nan, np.nan, 5.0]})
    frame = welfare(u).to_frame().set_index("option")
    assert frame.loc["a", "welfare"] == 20.0 and frame.loc["a", "n"] == 2
    assert frame.loc["b", "n"] == 1


def test_result_api(prism_table):
    res = welfare(prism_table, swf="sen", by="gender")
    assert "Welfare: sen" in res.summary()
    assert "<h4>" in res.summary("html")
    assert res.plot() is not None
    assert res.plot(kind="lorenz") is not None
    assert res.best_option in set(prism_table.options)
    assert not res.to_frame()["welfare"].isna().any()
    assert "welfare" in est.__all__


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"swf": "nope"}, "swf: must be one of"),
        ({"swf": "atkinson"}, "needs an inequality aversion"),
        ({"swf": "atkinson", "eps": -1}, "eps: must be finite and >= 0"),
        ({"swf": "power_mean"}, "needs power="),
        ({"swf": "group_maximin"}, "by= is required"),
        ({"swf": "nash", "disagreement": 50}, "must exceed the disagreement point"),
        ({"weights": [1.0, -1.0, 1.0]}, "must be non-negative"),
        ({"weights": [0.0, 0.0, 0.0]}, "at least one weight must be positive"),
        ({"weights": "w"}, "rater-level column"),
        ({"by": ["a", None, "b"]}, "group labels must not be missing"),
        ({"weights": [1.0, 2.0]}, "one value per rater"),
    ],
)
def test_errors(kwargs, match):
    u = pd.DataFrame({"a": [10.0, 20.0, 90.0], "b": [50.0, 60.0, 40.0]})
    with pytest.raises(est.ValidationError, match=match):
        welfare(u, **kwargs)


def test_domain_errors():
    u = pd.DataFrame({"a": [0.0, 20.0], "b": [-1.0, 60.0]})
    with pytest.raises(est.ValidationError, match="strictly positive utilities"):
        welfare(u, swf="atkinson", eps=1)
    with pytest.raises(est.ValidationError, match="need non-negative utilities"):
        welfare(u, swf="gini")
    with pytest.raises(est.ValidationError, match="must be a UtilityTable"):
        welfare([1, 2, 3])
    with pytest.raises(est.ValidationError, match="utilities must be finite or NaN"):
        welfare(pd.DataFrame({"a": [np.inf, 1.0]}))
    with pytest.raises(est.ValidationError, match="must have a value for every rater"):
        welfare(u, weights=pd.Series([1.0], index=[0]))
