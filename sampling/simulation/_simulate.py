"""Sampling-policy simulation: run plan -> recruit -> reweight -> evaluate many times on a known population.

:func:`simulate_policies` takes a population (one row per person, group attributes and a true
utility per option), a set of sampling policies (:mod:`sampling.simulation`), budgets and reweighting
methods; every replicate draws a sample per policy and budget, observes ratings, reweights, picks the
option with the highest weighted mean rating and records the welfare that choice gives each group,
the error of each option's estimated population mean, and whether its confidence interval covers
the truth. Replicates run in-process or on a Dask cluster with identical results for one seed.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_float_array,
    as_frame,
    as_int,
    check_columns,
    check_option,
    check_positive,
    check_probability,
    fail,
)
from estimators.errors import EquisampleError, ValidationError
from estimators.survey._design import SurveyDesign
from sampling.simulation._fast_arm import FastWeighting, fast_weighting, weigh_arm
from sampling.simulation._policies import Draw, Policy, PolicyContext

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "Evaluation",
    "GaussianRatings",
    "PolicySimulation",
    "policy_context",
    "simulate_policies",
]

ReweightingMethod = Literal["none", "poststratify", "rake", "calibrate"]
REWEIGHTING_METHODS: tuple[str, ...] = ("none", "poststratify", "rake", "calibrate")
StandardErrorKind = Literal["naive", "design"]
PlotMetric = Literal[
    "welfare",
    "worst_group_welfare",
    "regret",
    "abs_bias",
    "rmse",
    "worst_group_rmse",
    "coverage_naive",
    "coverage_design",
]
PLOT_METRICS = (
    "welfare",
    "worst_group_welfare",
    "regret",
    "abs_bias",
    "rmse",
    "worst_group_rmse",
    "coverage_naive",
    "coverage_design",
)
HEADLINE = (
    "cost",
    "n",
    "welfare",
    "worst_group_welfare",
    "regret",
    "best_chosen",
    "abs_bias",
    "rmse",
    "worst_group_rmse",
    "coverage_naive",
    "coverage_design",
)
ARM_KEYS = ["policy", "budget", "reweighting"]


# --- outcome model and evaluation settings -------------------------------------------------------
@dataclass(frozen=True)
class GaussianRatings:
    """Observed ratings = true utility + Gaussian noise, clipped to the rating scale.

    Parameters
    ----------
    sd : float
        Standard deviation of the rating noise.
    low, high : float or None
        Ends of the rating scale (``None``: unbounded).

    Notes
    -----
    :math:`y_{ik} = \\min(\\text{high}, \\max(\\text{low}, u_{ik} + \\varepsilon_{ik}))`,
    :math:`\\varepsilon_{ik} \\sim N(0, \\text{sd}^2)` independently.

    Examples
    --------
    >>> import numpy as np
    >>> from sampling import GaussianRatings
    >>> y = GaussianRatings(sd=5).observe(np.full((3, 2), 50.0), np.random.default_rng(0))
    >>> y.shape, bool(((y >= 1) & (y <= 100)).all())
    ((3, 2), True)
    """

    sd: float = 10.0
    low: float | None = 1.0
    high: float | None = 100.0

    def observe(self, utilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Noisy ratings for the sampled people's utilities, shape (n, options)."""
        y = utilities + rng.normal(0.0, self.sd, size=utilities.shape)
        if self.low is not None or self.high is not None:
            y = np.clip(y, self.low, self.high)
        return y


@dataclass(frozen=True)
class Evaluation:
    """How each simulated sample is evaluated.

    Parameters
    ----------
    confidence_level : float
        Level of the confidence intervals whose coverage is recorded.
    standard_errors : tuple of {"naive", "design"}
        ``"naive"``: the simple-random-sampling SE :math:`s_y/\\sqrt n`, ignoring the weights;
        ``"design"``: the design-based SE from ``SurveyDesign.mean`` (Taylor linearisation that
        accounts for strata and for how the weights were made). Design SEs need the variance module;
        when it is missing, asking for them is an error and the default leaves them out.
    swf : str
        Social welfare function scoring the chosen option over the population and each group:
        ``"utilitarian"`` (mean utility, default) or any ``swf`` of ``estimators.welfare``
        (``"atkinson"``, ``"maximin"``, ``"nash"``, ...). Bias, RMSE and coverage always refer to
        each option's population mean utility (what the weighted means estimate).
    swf_options : mapping, optional
        Extra arguments for ``estimators.welfare`` (e.g. ``{"eps": 1.0}`` for Atkinson).

    Examples
    --------
    >>> from sampling import Evaluation
    >>> Evaluation(confidence_level=0.9).confidence_level
    0.9
    """

    confidence_level: float = 0.95
    standard_errors: tuple[StandardErrorKind, ...] | None = None
    swf: str = "utilitarian"
    swf_options: Mapping[str, Any] | None = None


def design_se_available() -> bool:
    """Whether ``SurveyDesign.mean`` (design-based standard errors) is available."""
    return hasattr(SurveyDesign, "mean")


# --- preparation ---------------------------------------------------------------------------------
def policy_context(
    population: pd.DataFrame, *, groups: str, costs: Mapping[Hashable, float] | None = None
) -> PolicyContext:
    """Build the :class:`~sampling.PolicyContext` a policy draws from.

    Parameters
    ----------
    population : DataFrame
        One row per person.
    groups : str
        Column whose labels are the groups (strata for allocation, welfare groups).
    costs : mapping, optional
        Cost of recruiting one person of each group (default 1 for everyone).

    Examples
    --------
    >>> import pandas as pd
    >>> from sampling import policy_context
    >>> ctx = policy_context(pd.DataFrame({"g": ["a", "b", "a"]}), groups="g", costs={"a": 1, "b": 2})
    >>> ctx.group_labels, ctx.group_sizes.tolist(), ctx.unit_costs.tolist()
    (('a', 'b'), [2, 1], [1.0, 2.0, 1.0])
    """
    frame = as_frame(population, "population")
    check_columns(frame, [groups], "groups")
    column = frame[groups]
    if column.isna().any():
        fail(
            ValidationError,
            "groups",
            "the group column must not contain missing values",
            bad=list(frame.index[column.isna().to_numpy()]),
            fix="Give every person a group label (e.g. an explicit 'unknown' level).",
        )
    codes, labels = pd.factorize(column, sort=True)
    labels_tuple = tuple(labels.tolist())
    sizes = np.bincount(codes, minlength=len(labels_tuple)).astype(np.int64)
    if costs is None:
        group_costs = np.ones(len(labels_tuple))
    else:
        if not isinstance(costs, Mapping):
            fail(ValidationError, "costs", "must be a mapping from group label to cost", bad=[type(costs).__name__])
        missing = [g for g in labels_tuple if g not in costs]
        if missing:
            fail(ValidationError, "costs", "has no cost for some groups", bad=missing, fix="Give a cost for every group.")
        group_costs = as_float_array([costs[g] for g in labels_tuple], "costs", positive=True)
    codes = codes.astype(np.int64)
    return PolicyContext(
        population=frame,
        group_codes=codes,
        group_labels=labels_tuple,
        group_sizes=sizes,
        group_costs=group_costs,
        unit_costs=group_costs[codes],
    )


@dataclass(frozen=True, eq=False)
class _Spec:
    """Everything one replicate needs (pickled once per worker for Dask)."""

    context: PolicyContext
    utilities: np.ndarray  # (N, K)
    options: tuple[str, ...]
    policies: tuple[Any, ...]
    policy_names: tuple[str, ...]
    budgets: tuple[float, ...]
    reweightings: tuple[str, ...]
    weighting_variables: tuple[str, ...]
    margins: dict[str, dict[Any, float]]
    cell_table: pd.DataFrame
    trim: dict[str, Any] | None
    outcome_model: Any
    truth: np.ndarray  # (K,) population mean utility per option
    group_truth: np.ndarray  # (G, K) group mean utility
    welfare: np.ndarray  # (K,) population welfare (the evaluation's social welfare function)
    group_welfare: np.ndarray  # (G, K)
    z: float
    standard_errors: tuple[str, ...]
    on_reweighting_error: str
    entropy: int
    weighting_options: dict[str, Any] = field(default_factory=dict)
    fast: FastWeighting | None = None  # codes for the numpy path of common arms


def _population_margins(frame: pd.DataFrame, variables: Sequence[str]) -> dict[str, dict[Any, float]]:
    out: dict[str, dict[Any, float]] = {}
    for var in variables:
        shares = frame[var].value_counts(normalize=True, sort=False).sort_index()
        out[var] = {k: float(v) for k, v in shares.items()}
    return out


# --- one replicate ---------------------------------------------------------------------------------
def _reweight(method: str, sample: pd.DataFrame, draw: Draw, strata: np.ndarray | None, spec: _Spec) -> SurveyDesign:
    """The design after ``method`` (and optional trimming) on one sample."""
    import estimators as est

    if strata is not None:
        sample = sample.assign(_stratum=strata)
        design = SurveyDesign(sample, weights=draw.design_weights, strata="_stratum")
    else:
        design = SurveyDesign(sample, weights=draw.design_weights)
    if method == "none":
        return design
    extra = spec.weighting_options
    if method == "rake":
        fit = est.rake(design, spec.margins, **extra)
    elif method == "calibrate":
        fit = est.calibrate(design, spec.margins, method="linear", **extra)
    else:
        fit = est.poststratify(design, spec.cell_table, cells=list(spec.weighting_variables), **extra)
    if spec.trim:
        fit = est.trim(fit, **spec.trim)
    return fit.design


def _sample_frame(
    context: PolicyContext, idx: np.ndarray, variables: tuple[str, ...], y: np.ndarray
) -> pd.DataFrame:
    """The drawn people's weighting variables and observed ratings (``_y0``, ``_y1``, ...)."""
    sample = context.population.iloc[idx][list(variables)].reset_index(drop=True)
    for j in range(y.shape[1]):
        sample[f"_y{j}"] = y[:, j]
    return sample


def _preflight(spec: _Spec) -> None:
    """Reweight the whole population once so bad weighting options fail here, not per replicate."""
    frame = spec.context.population[list(spec.weighting_variables)].reset_index(drop=True)
    everyone = Draw(np.arange(len(frame)), np.ones(len(frame)), 0.0)
    for method in spec.reweightings:
        try:
            _reweight(method, frame, everyone, None, spec)
        except EquisampleError as exc:
            fail(
                ValidationError,
                "reweighting",
                f"{method!r} fails on the whole population, so it would fail on every sample "
                f"({type(exc).__name__}: {exc})",
                fix="Check margins, weighting_options and trim.",
            )


def _design_se(design: SurveyDesign, column: str) -> float:
    """Design-based (Taylor) SE of the weighted mean of ``column``, knowing how weights were made."""
    result = design.mean(column)  # type: ignore[attr-defined]
    se = getattr(result, "std_error", None)
    if se is None:
        return float(result.to_frame()["std_error"].iloc[0])
    return float(np.asarray(se).reshape(-1)[0])


def _arm_seed(spec: _Spec, replicate: int, arm: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(spec.entropy, spawn_key=(replicate, arm)))


def _run_replicate(
    replicate: int, spec: _Spec
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """All policies x budgets x reweightings for one replicate; plain-Python records."""
    arms: list[dict[str, Any]] = []
    option_rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []
    n_groups = len(spec.context.group_labels)
    ctx = spec.context
    k = len(spec.options)
    arm_index = 0
    for p_i, policy in enumerate(spec.policies):
        for budget in spec.budgets:
            rng = _arm_seed(spec, replicate, arm_index)
            arm_index += 1
            draw = policy.draw(ctx, budget, rng)
            idx = np.asarray(draw.indices, dtype=np.int64)
            u = spec.utilities[idx]
            y = u if spec.outcome_model is None else np.asarray(spec.outcome_model.observe(u, rng), dtype=float)
            strata = ctx.group_codes[idx] if draw.stratified else None
            sample: pd.DataFrame | None = None  # built only for arms the numpy path leaves
            for method in spec.reweightings:
                base = {
                    "replicate": replicate,
                    "policy": spec.policy_names[p_i],
                    "budget": float(budget),
                    "reweighting": method,
                    "n": int(idx.size),
                    "cost": float(draw.cost),
                }
                if idx.size < 2:
                    arms.append({**base, "status": "failed: fewer than 2 people recruited"})
                    continue
                want_design_se = "design" in spec.standard_errors
                fast = weigh_arm(method, spec.fast, idx, draw.design_weights, strata, y,
                                 want_design_se)
                design = None
                if fast is None:
                    if sample is None:
                        sample = _sample_frame(ctx, idx, spec.weighting_variables, y)
                    try:
                        design = _reweight(method, sample, draw, strata, spec)
                    except EquisampleError as exc:
                        if spec.on_reweighting_error == "raise":
                            raise
                        arms.append({**base, "status": f"failed: {type(exc).__name__}: {exc}"})
                        continue
                    w = np.asarray(design.weight_array, dtype=float)
                else:
                    w = fast.weights
                estimate = (w @ y) / w.sum()
                chosen = int(np.argmax(estimate))
                welfare_groups = spec.group_welfare[:, chosen]
                record = {
                    **base,
                    "status": "ok",
                    "chosen": spec.options[chosen],
                    "welfare": float(spec.welfare[chosen]),
                    "worst_group_welfare": float(welfare_groups.min()),
                    "regret": float(spec.welfare.max() - spec.welfare[chosen]),
                    "best_chosen": float(spec.welfare[chosen] >= spec.welfare.max()),
                }
                for g, label in enumerate(ctx.group_labels):
                    record[f"welfare[{label}]"] = float(welfare_groups[g])
                arms.append(record)
                codes = ctx.group_codes[idx]
                w_group = np.bincount(codes, weights=w, minlength=n_groups)
                n_group = np.bincount(codes, minlength=n_groups)
                for g in np.flatnonzero(w_group > 0):
                    inside = codes == g
                    group_estimate = (w[inside] @ y[inside]) / w_group[g]
                    group_rows.append({
                        "replicate": replicate,
                        "policy": spec.policy_names[p_i],
                        "budget": float(budget),
                        "reweighting": method,
                        "group": ctx.group_labels[g],
                        "n": int(n_group[g]),
                        "squared_error": float(np.mean((group_estimate - spec.group_truth[g]) ** 2)),
                    })
                se_naive = y.std(axis=0, ddof=1) / np.sqrt(idx.size)
                se_design = None
                if want_design_se:
                    se_design = fast.std_errors if design is None else np.array(
                        [_design_se(design, f"_y{j}") for j in range(k)])
                for j, name in enumerate(spec.options):
                    err = float(estimate[j] - spec.truth[j])
                    row = {
                        "replicate": replicate,
                        "policy": spec.policy_names[p_i],
                        "budget": float(budget),
                        "reweighting": method,
                        "option": name,
                        "estimate": float(estimate[j]),
                        "truth": float(spec.truth[j]),
                        "error": err,
                        "se_naive": float(se_naive[j]),
                        "covered_naive": float(abs(err) <= spec.z * se_naive[j]),
                    }
                    if se_design is not None:
                        row["se_design"] = float(se_design[j])
                        row["covered_design"] = float(abs(err) <= spec.z * se_design[j])
                    option_rows.append(row)
    return arms, option_rows, group_rows


# --- summaries -------------------------------------------------------------------------------------
def _mean_and_se(x: np.ndarray) -> tuple[float, float]:
    r = x.size
    if r == 0:
        return float("nan"), float("nan")
    sd = float(x.std(ddof=1)) if r > 1 and np.ptp(x) > 0 else 0.0
    return float(x.mean()), sd / np.sqrt(r)


def _summarise(
    arms: pd.DataFrame,
    options: pd.DataFrame,
    groups: pd.DataFrame,
    group_labels: Sequence[Hashable],
    se_kinds: Sequence[str],
) -> pd.DataFrame:
    """Long table: one row per arm x metric (x group / option) with estimate and Monte Carlo SE."""
    rows: list[dict[str, Any]] = []
    ok_arms = arms[arms["status"] == "ok"]
    for key, all_group in arms.groupby(ARM_KEYS, sort=False):
        base = dict(zip(ARM_KEYS, key))
        ok = ok_arms[
            (ok_arms["policy"] == key[0]) & (ok_arms["budget"] == key[1]) & (ok_arms["reweighting"] == key[2])
        ]
        n_ok = len(ok)
        n_failed = len(all_group) - n_ok

        def add(metric: str, label: Any, value: float, se: float, _base=base, _n=n_ok, _f=n_failed) -> None:
            rows.append({**_base, "metric": metric, "label": label, "estimate": value,
                         "monte_carlo_se": se, "n_reps": _n, "n_failed": _f})

        for metric in ("cost", "n"):
            add(metric, "", *_mean_and_se(all_group[metric].to_numpy(dtype=float)))
        if n_ok == 0:
            continue
        for metric in ("welfare", "worst_group_welfare", "regret", "best_chosen"):
            add(metric, "", *_mean_and_se(ok[metric].to_numpy(dtype=float)))
        for label in group_labels:
            add("welfare", label, *_mean_and_se(ok[f"welfare[{label}]"].to_numpy(dtype=float)))
        opt = options[
            (options["policy"] == key[0]) & (options["budget"] == key[1]) & (options["reweighting"] == key[2])
        ]
        err = opt.pivot(index="replicate", columns="option", values="error")
        bias = err.mean(axis=0)
        for name in err.columns:
            e = err[name].to_numpy()
            add("bias", name, *_mean_and_se(e))
            mse, mse_se = _mean_and_se(e**2)
            rmse = float(np.sqrt(mse))
            add("rmse", name, rmse, mse_se / (2 * rmse) if rmse > 0 else 0.0)
        # sign-aligned mean absolute bias over options (delta method, signs fixed)
        aligned = (err.to_numpy() * np.sign(bias.to_numpy())).mean(axis=1)
        add("abs_bias", "", *_mean_and_se(aligned))
        e2 = (err.to_numpy() ** 2).mean(axis=1)
        mse, mse_se = _mean_and_se(e2)
        rmse = float(np.sqrt(mse))
        add("rmse", "", rmse, mse_se / (2 * rmse) if rmse > 0 else 0.0)
        part = groups[
            (groups["policy"] == key[0]) & (groups["budget"] == key[1]) & (groups["reweighting"] == key[2])
        ]
        worst = ("", -1.0, 0.0)
        for label in group_labels:
            sq = part.loc[part["group"] == label, "squared_error"].to_numpy()
            if sq.size == 0:
                continue
            mse, mse_se = _mean_and_se(sq)
            rmse = float(np.sqrt(mse))
            rmse_se = mse_se / (2 * rmse) if rmse > 0 else 0.0
            add("group_rmse", label, rmse, rmse_se)
            if rmse > worst[1]:
                worst = (label, rmse, rmse_se)
        if worst[1] >= 0:
            add("worst_group_rmse", "", worst[1], worst[2])
        for kind in se_kinds:
            cov = opt.pivot(index="replicate", columns="option", values=f"covered_{kind}")
            for name in cov.columns:
                add(f"coverage_{kind}", name, *_mean_and_se(cov[name].to_numpy()))
            add(f"coverage_{kind}", "", *_mean_and_se(cov.to_numpy().mean(axis=1)))
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class PolicySimulation(Result):
    """Results of :func:`simulate_policies`: per replicate, per option and summarised.

    Attributes
    ----------
    replicates : DataFrame
        One row per replicate x policy x budget x reweighting: status, n, cost, chosen option,
        welfare (population utilitarian welfare of the chosen option), worst-group welfare, regret,
        ``welfare[<group>]`` per group.
    option_estimates : DataFrame
        One row per replicate x arm x option: estimate, truth, error, naive (and design) SE and
        whether the confidence interval covered the truth.
    group_estimates : DataFrame
        One row per replicate x arm x group with at least one person sampled: people sampled and
        the squared error of the group's weighted mean rating, averaged over options (groups with
        nobody sampled have no row; their count is the replicates minus the rows).
    long_summary : DataFrame
        Every summary (metric x group or option) with its Monte Carlo SE, successful and failed
        replicate counts.
    truth : Series
        Population mean utility of each option.
    group_truth : DataFrame
        Population mean utility per group (rows) and option (columns).
    n_reps : int
        Replicates per arm.
    confidence_level : float
        Level of the recorded confidence intervals.
    standard_errors : tuple of str
        Which standard errors were evaluated (``"naive"``: SRS, weights ignored; ``"design"``:
        design-based).
    seed_entropy : int
        Entropy of the root ``SeedSequence``: ``rng=seed_entropy`` reproduces the run.
    swf : str
        The social welfare function behind the welfare summaries.

    Examples
    --------
    >>> import sampling as smp
    >>> pop = smp.synthetic_population(n=1000, rng=0)
    >>> sim = smp.simulate_policies(pop, [smp.EqualPolicy()], options=["model_a", "model_b"],
    ...                             groups="sex", budget=50, n_reps=5, rng=0)
    >>> sorted(set(sim.to_frame("long")["metric"]))[:4]
    ['abs_bias', 'best_chosen', 'bias', 'cost']
    >>> len(sim.to_frame("replicates")), len(sim.to_frame("options"))
    (5, 10)
    """

    replicates: pd.DataFrame
    option_estimates: pd.DataFrame
    group_estimates: pd.DataFrame
    long_summary: pd.DataFrame
    truth: pd.Series
    group_truth: pd.DataFrame
    n_reps: int
    confidence_level: float
    standard_errors: tuple[str, ...]
    seed_entropy: int
    swf: str = "utilitarian"

    def to_frame(
        self, kind: Literal["summary", "long", "replicates", "options", "groups"] = "summary"
    ) -> pd.DataFrame:
        """Results as a table.

        Parameters
        ----------
        kind : {"summary", "long", "replicates", "options"}
            ``"summary"``: one row per policy x budget x reweighting with the headline metrics and
            a ``<metric>_mc_se`` column (Monte Carlo SE) beside each; ``"long"``: every summary,
            including per group welfare and RMSE and per option bias / RMSE / coverage;
            ``"replicates"``, ``"options"`` and ``"groups"``: the raw per-replicate records.
        """
        kind = check_option(kind, ("summary", "long", "replicates", "options", "groups"), "kind")
        if kind == "groups":
            return self.group_estimates.copy()
        if kind == "replicates":
            return self.replicates.copy()
        if kind == "options":
            return self.option_estimates.copy()
        if kind == "long":
            return self.long_summary.copy()
        overall = self.long_summary[(self.long_summary["label"] == "") & (self.long_summary["n_reps"] > 0)]
        table = overall.pivot_table(
            index=ARM_KEYS, columns="metric", values=["estimate", "monte_carlo_se"], sort=False
        )
        out = pd.DataFrame(index=table.index)
        counts = overall.groupby(ARM_KEYS, sort=False)[["n_reps", "n_failed"]].max()
        out["n_reps"] = counts["n_reps"]
        out["n_failed"] = counts["n_failed"]
        for metric in HEADLINE:
            if ("estimate", metric) in table.columns:
                out[metric] = table[("estimate", metric)]
                out[f"{metric}_mc_se"] = table[("monte_carlo_se", metric)]
        return out.reset_index()

    def _summary_title(self) -> str:
        return "Sampling-policy simulation"

    def _summary_facts(self) -> list[tuple[str, Any]]:
        return [
            ("replicates per arm", self.n_reps),
            ("arms (policy x budget x reweighting)", len(self.long_summary.groupby(ARM_KEYS))),
            ("options", len(self.truth)),
            ("best option (population mean)", str(self.truth.idxmax())),
            ("welfare function", self.swf),
            ("confidence level", self.confidence_level),
            ("standard errors", ", ".join(
                {"naive": "naive (SRS, weights ignored)", "design": "design-based"}[s] for s in self.standard_errors
            )),
            ("seed entropy", self.seed_entropy),
            ("failed replicates", int(self.replicates["status"].ne("ok").sum())),
            ("arms where every replicate failed (left out of the table)", ", ".join(self.failed_arms()) or "none"),
        ]

    def failed_arms(self) -> list[str]:
        """Arms (``policy / budget / reweighting``) in which no replicate succeeded."""
        counts = self.long_summary.groupby(ARM_KEYS, sort=False)["n_reps"].max()
        return [f"{p} / {b:g} / {m}" for (p, b, m), n in counts.items() if n == 0]

    def plot(self, ax: Axes | None = None, *, metric: PlotMetric = "welfare", band: float = 1.96) -> Axes:
        """Plot a summary against mean cost, one line per policy x reweighting, with Monte Carlo bands.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        metric : str
            One of the headline metrics: ``"welfare"``, ``"worst_group_welfare"``, ``"regret"``,
            ``"abs_bias"``, ``"rmse"``, ``"worst_group_rmse"``, ``"coverage_naive"``,
            ``"coverage_design"``.
        band : float
            Half-width of the band in Monte Carlo SEs (1.96: a 95% band).
        """
        metric = check_option(metric, PLOT_METRICS, "metric")
        table = self.to_frame()
        if metric not in table.columns:
            fail(ValidationError, "metric", "was not evaluated in this simulation", bad=[metric])
        ax = get_axes(ax)
        for (policy, method), part in table.groupby(["policy", "reweighting"], sort=False):
            part = part.sort_values("cost")
            x = part["cost"].to_numpy()
            y = part[metric].to_numpy()
            half = band * part[f"{metric}_mc_se"].to_numpy()
            label = f"{policy} / {method}"
            if len(part) > 1:
                (line,) = ax.plot(x, y, marker="o", label=label)
                ax.fill_between(x, y - half, y + half, color=line.get_color(), alpha=0.2)
            else:
                ax.errorbar(x, y, yerr=half, marker="o", capsize=3, linestyle="none", label=label)
        if metric.startswith("coverage"):
            ax.axhline(self.confidence_level, color="grey", linestyle="--", linewidth=1, label="nominal")
        ax.set_xlabel("cost (mean over replicates)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_title(f"{metric.replace('_', ' ')} vs cost ({band:g} Monte Carlo SE bands)")
        ax.legend(fontsize="small")
        return ax


# --- the public entry point --------------------------------------------------------------------------
def _seed_entropy(rng: Any) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63 - 1))
    if rng is None:
        return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if isinstance(rng, np.random.SeedSequence):
        return int(rng.entropy)  # type: ignore[arg-type]
    return as_int(rng, "rng", minimum=0)


def _progress_bar(total: int, progress: bool) -> Any:
    if progress and sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="replicates", unit="rep")
    return None


def simulate_policies(
    population: pd.DataFrame,
    policies: Sequence[Policy],
    *,
    options: Sequence[str],
    groups: str,
    budget: float | Sequence[float],
    n_reps: int,
    outcome_model: Any = None,
    costs: Mapping[Hashable, float] | None = None,
    reweighting: ReweightingMethod | Sequence[ReweightingMethod] = "none",
    weighting_variables: Sequence[str] | None = None,
    margins: Mapping[str, Mapping[Any, float]] | None = None,
    trim: Mapping[str, Any] | None = None,
    weighting_options: Mapping[str, Any] | None = None,
    evaluation: Evaluation | None = None,
    on_reweighting_error: Literal["raise", "record"] = "record",
    rng: Any = None,
    client: Any = None,
    progress: bool = False,
) -> PolicySimulation:
    """Simulate sampling policies end to end on a known population.

    For each replicate, each policy and each budget: draw a sample, observe ratings, reweight with
    each method, choose the option with the highest weighted mean rating, and record the welfare of
    that choice per group, the error of every option's estimated population mean, and whether its
    confidence interval covers the truth.

    Parameters
    ----------
    population : DataFrame
        One row per person: group attributes and a true utility per option (e.g. a PRISM-style
        user x model table of mean scores joined with survey attributes).
    policies : sequence of Policy
        Objects with ``name`` and ``draw(context, budget, rng)`` (see :mod:`sampling.simulation`).
        Names must be unique.
    options : sequence of str
        Columns of ``population`` holding each option's utility.
    groups : str
        Column whose labels are the groups: strata for the allocation policies and the groups whose
        welfare is reported.
    budget : float or sequence of float
        Budget(s) to simulate (in cost units; with unit costs, the number of people).
    n_reps : int
        Replicates per policy x budget.
    outcome_model : object, optional
        With ``observe(utilities, rng) -> ratings`` (e.g. :class:`GaussianRatings`); ``None``:
        people report their utilities exactly.
    costs : mapping, optional
        Cost per person of each group (default 1).
    reweighting : str or sequence of str
        ``"none"``, ``"poststratify"`` (cells of ``weighting_variables``), ``"rake"`` (one-way
        margins of ``weighting_variables``) or ``"calibrate"`` (linear calibration to the same
        margins); several to compare them on the same samples.
    weighting_variables : sequence of str, optional
        Columns to reweight on (default: ``[groups]``).
    margins : mapping, optional
        Target shares ``{variable: {category: share}}`` (default: the population's own margins).
    trim : mapping, optional
        Keyword arguments for ``estimators.trim`` applied after reweighting (e.g. ``{"upper": 5}``).
    weighting_options : mapping, optional
        Extra keyword arguments for the weighting function, e.g. ``{"on_empty_category": "drop"}``
        for ``rake`` so a small sample missing a rare category drops and renormalises that target
        (explicitly) instead of failing.
    evaluation : Evaluation, optional
        Confidence level and which standard errors to evaluate (default: 95%; naive, and
        design-based when the variance module is available).
    on_reweighting_error : {"record", "raise"}
        A replicate whose reweighting fails (e.g. a category nobody in the sample belongs to) is
        recorded as failed and counted in ``n_failed`` (never silently dropped), or raises.
    rng : None, int, SeedSequence or Generator
        Seed. Replicate ``r``, arm ``j`` uses ``SeedSequence(entropy, spawn_key=(r, j))``, so results
        do not depend on where replicates run.
    client : dask.distributed.Client, optional
        Run replicates on this Dask cluster (results identical to in-process for the same seed).
    progress : bool
        Show a tqdm bar (only when standard error is a terminal).

    Returns
    -------
    PolicySimulation

    Notes
    -----
    With true population means :math:`\\theta_k` of option :math:`k`, estimates
    :math:`\\hat\\theta_{k,r} = \\sum_i w_i y_{ik} / \\sum_i w_i` in replicate :math:`r` and
    :math:`R` replicates: bias :math:`\\bar e_k = R^{-1}\\sum_r (\\hat\\theta_{k,r}-\\theta_k)` with
    Monte Carlo SE :math:`s_e/\\sqrt R`; RMSE :math:`\\sqrt{\\overline{e^2}}` with SE
    :math:`s_{e^2}/(2\\sqrt R\\,\\mathrm{RMSE})`; coverage :math:`\\hat p` with SE
    :math:`\\sqrt{\\hat p(1-\\hat p)/R}`. The chosen option is
    :math:`k^* = \\arg\\max_k \\hat\\theta_k` (lowest index on ties); its welfare for group
    :math:`g` is the group's mean true utility :math:`\\bar u_{g k^*}`.

    References
    ----------
    Morris, T. P., White, I. R. and Crowther, M. J. (2019). Using simulation studies to evaluate
    statistical methods. *Statistics in Medicine* 38, 2074–2102.

    Kirk, H. R. et al. (2024). The PRISM alignment dataset. *NeurIPS Datasets and Benchmarks*.

    Examples
    --------
    >>> import sampling as smp
    >>> pop = smp.synthetic_population(n=2000, rng=0)
    >>> sim = smp.simulate_policies(
    ...     pop, [smp.ConveniencePolicy(propensity="propensity"), smp.SimpleRandomPolicy()],
    ...     options=smp.SYNTHETIC_OPTIONS, groups="age", budget=100, n_reps=20, rng=1)
    >>> table = sim.to_frame()
    >>> table["policy"].tolist()
    ['convenience', 'simple random']
    >>> bool((table["regret"] >= 0).all())
    True
    """
    frame = as_frame(population, "population")
    options = tuple(options) if not isinstance(options, str) else (options,)
    if not options:
        fail(ValidationError, "options", "must name at least one utility column", bad=["<empty>"])
    check_columns(frame, options, "options")
    text = [c for c in options if not (pd.api.types.is_numeric_dtype(frame[c])
                                       or pd.api.types.is_bool_dtype(frame[c]))]
    if text:
        fail(ValidationError, "options", "must name numeric utility columns", bad=text,
             fix="Convert them with pd.to_numeric, or name the columns that hold utilities.")
    utilities = as_float_array(frame[list(options)].to_numpy(dtype=float), "options", ndim=2)
    if isinstance(policies, Policy):
        policies = [policies]
    policies = tuple(policies)
    if not policies:
        fail(ValidationError, "policies", "must contain at least one policy", bad=["<empty>"])
    bad = [type(p).__name__ for p in policies if not isinstance(p, Policy)]
    if bad:
        fail(ValidationError, "policies", "must have a name and a draw(context, budget, rng) method", bad=bad)
    names = tuple(str(p.name) for p in policies)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        fail(ValidationError, "policies", "names must be unique", bad=dup, fix="Pass name='...' to tell them apart.")
    budgets = (budget,) if np.ndim(budget) == 0 else tuple(budget)  # type: ignore[arg-type]
    budgets = tuple(check_positive(b, "budget") for b in budgets)
    if not budgets:
        fail(ValidationError, "budget", "must contain at least one budget", bad=["<empty>"])
    n_reps = as_int(n_reps, "n_reps", minimum=2)
    methods = (reweighting,) if isinstance(reweighting, str) else tuple(reweighting)
    methods = tuple(check_option(m, REWEIGHTING_METHODS, "reweighting") for m in methods)
    import estimators as est

    needed = {"rake": "rake", "calibrate": "calibrate", "poststratify": "poststratify"}
    missing_api = [m for m in methods if m in needed and not hasattr(est, needed[m])]
    if trim and not hasattr(est, "trim"):
        missing_api.append("trim")
    if missing_api:
        fail(ValidationError, "reweighting", "needs weighting functions this installation lacks", bad=missing_api)
    on_reweighting_error = check_option(on_reweighting_error, ("raise", "record"), "on_reweighting_error")
    context = policy_context(frame, groups=groups, costs=costs)
    variables = tuple(weighting_variables) if weighting_variables is not None else (groups,)
    check_columns(frame, variables, "weighting_variables")
    clash = [v for v in variables if v in options]
    if clash:
        fail(ValidationError, "weighting_variables", "must not be option columns", bad=clash)
    target = {str(k): dict(v) for k, v in (margins or _population_margins(frame, variables)).items()}
    cells = frame.groupby(list(variables), observed=True, sort=True).size().rename("count").reset_index()
    evaluation = evaluation or Evaluation()
    level = check_probability(evaluation.confidence_level, "confidence_level")
    if evaluation.standard_errors is None:
        se_kinds: tuple[str, ...] = ("naive", "design") if design_se_available() else ("naive",)
    else:
        se_kinds = tuple(check_option(s, ("naive", "design"), "standard_errors") for s in evaluation.standard_errors)
        if "design" in se_kinds and not design_se_available():
            fail(ValidationError, "standard_errors", "design-based SEs need SurveyDesign.mean, which is missing", bad=["design"])
    if outcome_model is not None and not callable(getattr(outcome_model, "observe", None)):
        fail(ValidationError, "outcome_model", "must have an observe(utilities, rng) method", bad=[type(outcome_model).__name__])
    truth = utilities.mean(axis=0)
    counts = context.group_sizes.astype(float)
    group_truth = np.zeros((len(context.group_labels), len(options)))
    np.add.at(group_truth, context.group_codes, utilities)
    group_truth /= counts[:, None]
    welfare, group_welfare = _population_welfare(
        frame, options, groups, context.group_labels, evaluation, truth, group_truth
    )
    entropy = _seed_entropy(rng)
    spec = _Spec(
        context=context,
        utilities=utilities,
        options=options,
        policies=policies,
        policy_names=names,
        budgets=budgets,
        reweightings=methods,
        weighting_variables=variables,
        margins=target,
        cell_table=cells,
        trim=dict(trim) if trim else None,
        outcome_model=outcome_model,
        truth=truth,
        group_truth=group_truth,
        welfare=welfare,
        group_welfare=group_welfare,
        z=float(ndtri(0.5 + level / 2)),
        standard_errors=se_kinds,
        on_reweighting_error=on_reweighting_error,
        entropy=entropy,
        weighting_options=dict(weighting_options or {}),
        fast=fast_weighting(frame, variables, target, trim, dict(weighting_options or {})),
    )
    _preflight(spec)
    results = _run_all(spec, n_reps, client, progress)
    arm_rows = [row for arms, _, _ in results for row in arms]
    option_rows = [row for _, opts, _ in results for row in opts]
    group_rows = [row for _, _, grps in results for row in grps]
    group_frame = pd.DataFrame(group_rows, columns=["replicate", *ARM_KEYS, "group", "n", "squared_error"])
    arms_frame = pd.DataFrame(arm_rows)
    option_frame = pd.DataFrame(option_rows)
    if option_frame.empty:
        option_frame = pd.DataFrame(columns=["replicate", *ARM_KEYS, "option", "estimate", "truth", "error"])
    long = _summarise(arms_frame, option_frame, group_frame, context.group_labels, se_kinds)
    return PolicySimulation(
        replicates=arms_frame,
        option_estimates=option_frame,
        group_estimates=group_frame,
        long_summary=long,
        truth=pd.Series(truth, index=list(options), name="truth"),
        group_truth=pd.DataFrame(group_truth, index=pd.Index(context.group_labels, name=groups), columns=list(options)),
        swf=evaluation.swf,
        n_reps=n_reps,
        confidence_level=level,
        standard_errors=se_kinds,
        seed_entropy=entropy,
    )


def _population_welfare(
    frame: pd.DataFrame,
    options: tuple[str, ...],
    groups: str,
    labels: tuple[Hashable, ...],
    evaluation: Evaluation,
    truth: np.ndarray,
    group_truth: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Population and per-group welfare of every option under the evaluation's welfare function."""
    if evaluation.swf == "utilitarian" and not evaluation.swf_options:
        return truth, group_truth
    import estimators as est

    if not hasattr(est, "welfare"):
        fail(ValidationError, "swf", "needs estimators.welfare, which this installation lacks",
             bad=[evaluation.swf])
    utilities = frame[list(options)]
    extra = dict(evaluation.swf_options or {})
    overall = est.welfare(utilities, swf=evaluation.swf, **extra).to_frame()
    by_group = est.welfare(utilities, swf=evaluation.swf, by=frame[groups], **extra).to_frame()
    welfare = overall.set_index("option")["welfare"].reindex(list(options)).to_numpy(dtype=float)
    table = by_group.pivot(index="group", columns="option", values="welfare")
    group_welfare = table.reindex(index=list(labels), columns=list(options)).to_numpy(dtype=float)
    return welfare, group_welfare


def _run_all(spec: _Spec, n_reps: int, client: Any, progress: bool) -> list[Any]:
    bar = _progress_bar(n_reps, progress)
    try:
        if client is None:
            out = []
            for r in range(n_reps):
                out.append(_run_replicate(r, spec))
                if bar is not None:
                    bar.update(1)
            return out
        from distributed import as_completed

        spec_future = client.scatter(spec, broadcast=True)
        futures = client.map(_run_replicate, range(n_reps), spec=spec_future, pure=False)
        if bar is not None:
            for _ in as_completed(futures):
                bar.update(1)
        return client.gather(futures)
    finally:
        if bar is not None:
            bar.close()
