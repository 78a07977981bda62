"""Tests for sampling.simulate_policies and the policies it runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sampling as smp
from estimators import MarginError, ValidationError
from sampling.simulation._policies import integer_counts, take_within_budget

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return smp.synthetic_population(n=3000, rng=11)


def run(population, **kwargs):
    options = dict(
        options=smp.SYNTHETIC_OPTIONS,
        groups="age",
        budget=[60, 150],
        n_reps=8,
        rng=5,
        outcome_model=smp.GaussianRatings(sd=10),
    )
    options.update(kwargs)
    policies = options.pop(
        "policies",
        [
            smp.ConveniencePolicy(propensity="propensity"),
            smp.SimpleRandomPolicy(),
            smp.ProportionalPolicy(),
            smp.EqualPolicy(),
        ],
    )
    return smp.simulate_policies(population, policies, **options)


def test_same_seed_same_results_and_different_seed_differs(population):
    a = run(population)
    b = run(population)
    pd.testing.assert_frame_equal(a.to_frame("replicates"), b.to_frame("replicates"))
    pd.testing.assert_frame_equal(a.to_frame("options"), b.to_frame("options"))
    c = run(population, rng=6)
    assert not a.to_frame("options")["estimate"].equals(c.to_frame("options")["estimate"])


def test_generator_seed_is_recorded_and_reproduces(population):
    a = run(population, rng=np.random.default_rng(3))
    b = run(population, rng=a.seed_entropy)
    pd.testing.assert_frame_equal(a.to_frame("options"), b.to_frame("options"))


def test_population_and_policies_are_not_mutated(population):
    before = population.copy()
    run(population, n_reps=2)
    pd.testing.assert_frame_equal(population, before)


def test_summary_has_monte_carlo_se_for_every_metric(population):
    sim = run(population)
    table = sim.to_frame()
    metrics = [c for c in table.columns if c not in {"policy", "budget", "reweighting", "n_reps", "n_failed"}
               and not c.endswith("_mc_se")]
    assert metrics  # every headline summary has its Monte Carlo SE beside it
    for metric in metrics:
        assert f"{metric}_mc_se" in table.columns
    long = sim.to_frame("long")
    assert long["monte_carlo_se"].notna().all() and long["estimate"].notna().all()
    assert {"welfare", "bias", "rmse", "coverage_naive", "cost"} <= set(long["metric"])
    assert len(table) == 4 * 2  # policies x budgets
    text = sim.summary()
    assert "naive (SRS, weights ignored)" in text and "Sampling-policy simulation" in text
    assert "<table" in sim.summary("html")


def test_summaries_match_replicate_records_by_hand(population):
    sim = run(population)
    reps = sim.to_frame("replicates")
    part = reps[(reps["policy"] == "convenience") & (reps["budget"] == 60.0)]
    row = sim.to_frame().query("policy == 'convenience' and budget == 60")
    w = part["welfare"].to_numpy()
    assert row["welfare"].item() == pytest.approx(w.mean(), rel=1e-12)
    expected_se = w.std(ddof=1) / np.sqrt(w.size) if np.ptp(w) > 0 else 0.0
    assert row["welfare_mc_se"].item() == pytest.approx(expected_se, rel=1e-12, abs=1e-15)
    opts = sim.to_frame("options")
    opts = opts[(opts["policy"] == "convenience") & (opts["budget"] == 60.0)]
    e = opts["error"].to_numpy()
    assert row["rmse"].item() == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-12)
    cov = opts["covered_naive"].to_numpy()
    assert row["coverage_naive"].item() == pytest.approx(cov.mean(), rel=1e-12)
    # welfare of the chosen option is the population mean utility of that option
    truth = population[list(smp.SYNTHETIC_OPTIONS)].mean()
    for _, r in part.iterrows():
        assert r["welfare"] == pytest.approx(truth[r["chosen"]], rel=1e-12)
        assert r["regret"] == pytest.approx(truth.max() - truth[r["chosen"]], abs=1e-9)


def test_probability_samples_are_unbiased_and_convenience_is_not(population):
    sim = run(population, budget=200, n_reps=60, policies=[
        smp.ConveniencePolicy(propensity="propensity"), smp.ProportionalPolicy()])
    long = sim.to_frame("long")
    bias = long[(long["metric"] == "bias")].set_index(["policy", "label"])
    # design-weighted means from a proportional stratified sample: every option's bias within 4 MC SEs
    prop = bias.loc["proportional"]
    assert (prop["estimate"].abs() <= 4 * prop["monte_carlo_se"] + 1e-9).all()
    # the convenience sample over-rates model_a (liked by the young men who opt in) by > 10 MC SEs
    conv = bias.loc[("convenience", "model_a")]
    assert conv["estimate"] > 10 * conv["monte_carlo_se"]


def test_allocation_counts_respect_budget_and_group_sizes(population):
    ctx = smp.policy_context(population, groups="ethnicity", costs={
        "Asian": 2.0, "Black": 3.0, "Mixed": 1.5, "Other": 4.0, "White": 1.0})
    rng = np.random.default_rng(0)
    for policy in (smp.EqualPolicy(), smp.ProportionalPolicy(), smp.SimpleRandomPolicy(),
                   smp.ConveniencePolicy(propensity="propensity")):
        draw = policy.draw(ctx, 97.0, rng)
        assert draw.cost <= 97.0 + 1e-9
        assert draw.cost == pytest.approx(ctx.unit_costs[draw.indices].sum())
        assert np.unique(draw.indices).size == draw.indices.size
    equal = smp.EqualPolicy().draw(ctx, 97.0, rng)
    counts = np.bincount(ctx.group_codes[equal.indices], minlength=5)
    assert counts.max() - counts.min() <= 1
    # stratified weights sum to the population size of each group
    for g in range(5):
        assert equal.design_weights[ctx.group_codes[equal.indices] == g].sum() == pytest.approx(ctx.group_sizes[g])
    # caps: a tiny group cannot get more people than it has
    assert integer_counts(np.array([10.0, 1.5]), np.ones(2), np.array([3, 100]), 11.5).tolist() == [3, 2]
    assert take_within_budget(np.arange(5), np.array([1.0, 2, 3, 4, 5]), 6.0).tolist() == [0, 1, 2]


def test_failed_reweighting_is_recorded_not_dropped(population):
    class Tiny:
        name = "one person"

        def draw(self, context, budget, rng):
            return smp.Draw(np.array([0]), np.array([3000.0]), 1.0)

    sim = run(population, policies=[Tiny(), smp.SimpleRandomPolicy()], budget=50, n_reps=3)
    table = sim.to_frame()
    assert table["policy"].tolist() == ["simple random"] and (table["n_failed"] == 0).all()
    assert not table.isna().any().any()
    assert sim.failed_arms() == ["one person / 50 / none"]
    assert "one person / 50 / none" in sim.summary()
    long = sim.to_frame("long").query("policy == 'one person'")
    assert set(long["metric"]) == {"cost", "n"} and (long["n_failed"] == 3).all()
    assert (sim.to_frame("replicates").query("policy == 'one person'")["status"]
            .str.startswith("failed: fewer than 2")).all()


def test_every_reweighting_method_and_trimming_run(population):
    sim = run(population, budget=150, n_reps=4, policies=[smp.EqualPolicy()],
              reweighting=["none", "poststratify", "rake", "calibrate"],
              weighting_variables=["age", "sex"], trim={"upper": 3.0, "bound_type": "mean_multiple"})
    table = sim.to_frame()
    assert table["reweighting"].tolist() == ["none", "poststratify", "rake", "calibrate"]
    assert (table["n_failed"] == 0).all()


def test_bad_weighting_options_fail_once_up_front(population):
    with pytest.raises(ValidationError, match="'rake' fails on the whole population"):
        run(population, reweighting="rake", trim={"upper": 3.0, "bound_type": "mean"})


def test_plot_has_labels_and_title(population):
    sim = run(population)
    ax = sim.plot(metric="rmse")
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    ax = sim.plot(metric="coverage_naive")
    assert "coverage" in ax.get_title()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"options": ["nope"]}, ValidationError, "options: names columns that are not in the data"),
        ({"options": []}, ValidationError, "options: must name at least one utility column"),
        ({"groups": "missing"}, ValidationError, "groups: names columns"),
        ({"budget": -1}, ValidationError, "budget: must be finite and > 0"),
        ({"budget": []}, ValidationError, "budget: must contain at least one budget"),
        ({"n_reps": 1}, ValidationError, "n_reps: must be >= 2"),
        ({"reweighting": "magic"}, ValidationError, "reweighting: must be one of"),
        ({"policies": []}, ValidationError, "policies: must contain at least one policy"),
        ({"policies": [object()]}, ValidationError, "policies: must have a name and a draw"),
        ({"policies": [smp.EqualPolicy(), smp.EqualPolicy()]}, ValidationError, "policies: names must be unique"),
        ({"costs": {"18-24": 1.0}}, ValidationError, "costs: has no cost for some groups"),
        ({"costs": [1.0]}, ValidationError, "costs: must be a mapping"),
        ({"rng": "seed"}, ValidationError, "rng: must be an integer"),
        ({"outcome_model": 3}, ValidationError, "outcome_model: must have an observe"),
        ({"weighting_variables": ["model_a"]}, ValidationError, "weighting_variables: must not be option columns"),
        ({"on_reweighting_error": "ignore"}, ValidationError, "on_reweighting_error: must be one of"),
        ({"evaluation": smp.Evaluation(confidence_level=1.5)}, ValidationError, "confidence_level: must lie strictly"),
        ({"evaluation": smp.Evaluation(standard_errors=("magic",))}, ValidationError, "standard_errors: must be one of"),
    ],
)
def test_bad_inputs_raise_clear_errors(population, kwargs, error, match):
    with pytest.raises(error, match=match):
        run(population, **kwargs)


def test_bad_population_and_propensities(population):
    with pytest.raises(ValidationError, match="population: must be a pandas DataFrame"):
        smp.simulate_policies(population.to_numpy(), [smp.EqualPolicy()], options=["model_a"],
                              groups="age", budget=10, n_reps=2)
    bad = population.copy()
    bad.loc[0, "age"] = None
    with pytest.raises(ValidationError, match="groups: the group column must not contain missing values"):
        run(bad)
    with pytest.raises(ValidationError, match="propensity: has no propensity for some groups"):
        run(population, policies=[smp.ConveniencePolicy(propensity={"18-24": 2.0})])
    with pytest.raises(ValidationError, match="propensity: must be None, a column name or a mapping"):
        run(population, policies=[smp.ConveniencePolicy(propensity=3)])


def test_dask_local_cluster_gives_identical_results(population, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # worker processes must import this tree's packages
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    local = run(population, n_reps=8)
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as client:
        remote = run(population, n_reps=8, client=client)
    pd.testing.assert_frame_equal(local.to_frame("replicates"), remote.to_frame("replicates"))
    pd.testing.assert_frame_equal(local.to_frame("options"), remote.to_frame("options"))
    pd.testing.assert_frame_equal(local.to_frame("long"), remote.to_frame("long"))


def test_raking_removes_most_of_the_convenience_bias(population):
    sim = run(population, budget=200, n_reps=30, reweighting=["none", "rake"],
              policies=[smp.ConveniencePolicy(propensity="propensity")],
              weighting_variables=["age", "sex", "ethnicity"],
              weighting_options={"on_empty_category": "drop"})
    table = sim.to_frame().set_index("reweighting")
    assert (table["n_failed"] == 0).all()
    assert table.loc["rake", "abs_bias"] < 0.25 * table.loc["none", "abs_bias"]
    assert table.loc["rake", "welfare"] > table.loc["none", "welfare"]


def test_reweighting_failures_are_recorded_or_raised(population):
    kwargs = dict(budget=40, n_reps=4, reweighting="rake", weighting_variables=["ethnicity"],
                  policies=[smp.ConveniencePolicy(propensity={"18-24": 50.0, "25-34": 1.0, "35-44": 1.0,
                                                              "45-54": 1.0, "55-64": 1.0, "65+": 1.0})])
    sim = run(population, **kwargs)
    status = sim.to_frame("replicates")["status"]
    assert status.str.contains("MarginError").any()
    with pytest.raises(MarginError, match="has target categories with no sample"):
        run(population, on_reweighting_error="raise", **kwargs)


def test_allocation_policy_follows_the_plan(population):
    sd = population.groupby("age")["model_b"].std()
    curves = pd.DataFrame({"a": sd, "b": 0.5, "c": 0.0})
    policy = smp.AllocationPolicy(curves, objective="maximin")
    assert policy.name == "allocate (maximin)"
    ctx = smp.policy_context(population, groups="age")
    draw = policy.draw(ctx, 240, np.random.default_rng(0))
    counts = np.bincount(ctx.group_codes[draw.indices], minlength=len(ctx.group_labels))
    # maximin on err_g = sd_g / sqrt(n_g): n_g proportional to sd_g^2
    expected = 240 * sd.to_numpy() ** 2 / (sd.to_numpy() ** 2).sum()
    assert np.abs(counts - expected).max() <= 1.0 and counts.sum() == 240
    sim = run(population, policies=[policy, smp.EqualPolicy()], budget=120, n_reps=4)
    assert (sim.to_frame()["n_failed"] == 0).all()


def test_quota_policy_fills_census_quotas_from_the_opt_in_stream(population):
    policy = smp.QuotaPolicy(["age", "sex"], propensity="propensity")
    ctx = smp.policy_context(population, groups="age")
    draw = policy.draw(ctx, 200, np.random.default_rng(1))
    taken = population.iloc[draw.indices]
    exact = population.groupby(["age", "sex"]).size() / len(population) * 200
    got = taken.groupby(["age", "sex"]).size().reindex(exact.index, fill_value=0)
    assert len(draw.indices) == 200 and (np.abs(got - exact) < 1).all()
    sim = run(population, policies=[policy, smp.ConveniencePolicy(propensity="propensity")],
              budget=200, n_reps=6)
    bias = sim.to_frame().set_index("policy")["abs_bias"]
    assert bias["census quota"] < bias["convenience"]


def test_sensitivity_policy_draws_weighted_subsets(population):
    policy = smp.SensitivityPolicy(["age", "sex", "ethnicity"])
    ctx = smp.policy_context(population, groups="age")
    rng = np.random.default_rng(2)
    draws = [policy.draw(ctx, 150, rng) for _ in range(40)]
    assert all(d.stratified and (d.design_weights >= 1).all() for d in draws)
    # Horvitz-Thompson weights are unbiased for the population size
    totals = np.array([d.design_weights.sum() for d in draws])
    assert abs(totals.mean() - len(population)) < 4 * totals.std(ddof=1) / np.sqrt(totals.size)
    sim = run(population, policies=[policy], budget=150, n_reps=4)
    assert (sim.to_frame()["n_failed"] == 0).all()


def test_group_rmse_by_hand(population):
    sim = run(population, budget=120, n_reps=6, policies=[smp.EqualPolicy(), smp.ProportionalPolicy()])
    groups = sim.to_frame("groups")
    assert set(groups["group"]) == set(population["age"])
    part = groups.query("policy == 'equal' and group == '65+'")
    long = sim.to_frame("long").query("policy == 'equal' and metric == 'group_rmse' and label == '65+'")
    assert long["estimate"].item() == pytest.approx(np.sqrt(part["squared_error"].mean()), rel=1e-12)
    worst = sim.to_frame("long").query("policy == 'equal' and metric == 'group_rmse'")["estimate"].max()
    assert sim.to_frame().query("policy == 'equal'")["worst_group_rmse"].item() == pytest.approx(worst)
    # one replicate's group error recomputed from the option estimates' inputs is not available,
    # but an equal allocation has the same number of people in every group
    assert part["n"].nunique() == 1 and part["n"].iloc[0] == 20


def test_other_welfare_functions_score_the_chosen_option(population):
    import estimators as est

    if not hasattr(est, "welfare"):
        with pytest.raises(ValidationError, match=r"swf: needs estimators\.welfare"):
            run(population, evaluation=smp.Evaluation(swf="maximin"))
        pytest.skip("estimators.welfare not installed")
    sim = run(population, budget=100, n_reps=3, policies=[smp.SimpleRandomPolicy()],
              evaluation=smp.Evaluation(swf="atkinson", swf_options={"eps": 1.0}))
    reps = sim.to_frame("replicates")
    utilities = population[list(smp.SYNTHETIC_OPTIONS)]
    geometric = np.exp(np.log(utilities).mean())  # Atkinson eps = 1: the geometric mean
    for _, r in reps.iterrows():
        assert r["welfare"] == pytest.approx(geometric[r["chosen"]], rel=1e-9)
    assert "atkinson" in sim.summary()


def test_design_based_standard_errors_after_raking(population):
    import estimators as est

    if not hasattr(est.SurveyDesign, "mean"):
        pytest.skip("design-based variance not installed")
    sim = run(population, budget=300, n_reps=30, reweighting=["rake"],
              policies=[smp.ConveniencePolicy(propensity="propensity")],
              weighting_variables=["age", "sex", "ethnicity"],
              weighting_options={"on_empty_category": "drop"})
    assert sim.standard_errors == ("naive", "design")
    table = sim.to_frame().iloc[0]
    # the naive SE ignores the weights and under-covers; the design-based SE knows the raking
    assert table["coverage_design"] > table["coverage_naive"]
    assert table["coverage_design"] >= 0.8
    options = sim.to_frame("options")
    assert (options["se_design"] > 0).all() and options["covered_design"].isin([0.0, 1.0]).all()
    # after raking to margins that explain part of the outcome, the design SE differs from naive
    assert not np.allclose(options["se_design"], options["se_naive"])


def test_adaptive_policy_spends_the_budget_in_rounds(population):
    options = list(smp.SYNTHETIC_OPTIONS)
    ctx = smp.policy_context(population, groups="ethnicity")
    policy = smp.AdaptivePolicy(options, rounds=5, outcome_model=smp.GaussianRatings(sd=15))
    draw = policy.draw(ctx, 200, np.random.default_rng(0))
    counts = np.bincount(ctx.group_codes[draw.indices], minlength=len(ctx.group_labels))
    assert draw.cost <= 200 + 1e-9 and draw.stratified
    assert np.unique(draw.indices).size == draw.indices.size
    assert (counts >= 1).all() and (counts <= ctx.group_sizes).all()
    for g in range(len(counts)):  # stratified weights sum to each group's size
        assert draw.design_weights[ctx.group_codes[draw.indices] == g].sum() == pytest.approx(ctx.group_sizes[g])
    sim = run(population, policies=[policy, smp.AdaptivePolicy(options, rounds=4, strategy="worst_group")],
              groups="ethnicity", budget=150, n_reps=3)
    assert (sim.to_frame()["n_failed"] == 0).all()
    with pytest.raises(ValidationError, match="rounds: must be >= 4"):
        smp.AdaptivePolicy(options, rounds=2).draw(ctx, 100, np.random.default_rng(0))
