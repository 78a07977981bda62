"""The whole loop on embedded data, written as a report folder (used by ``equisample demo``).

plan (learning-curve allocation, census quotas) -> recruit (an opt-in sample from a synthetic
census population) -> reweight (rake to census margins, trim; balance to a reference sample) -> evaluate (model scores with
standard errors, welfare of the chosen model per group) -> simulate (policies x reweighting, many
times). Every step writes CSV tables and PNG figures; ``report.md`` and ``report.html`` tie them
together. Steps whose building blocks are not installed are reported as skipped.
"""

from __future__ import annotations

import html
import importlib.util
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimators.datasets._census import census, census_margins
from estimators.datasets._synthetic import SYNTHETIC_OPTIONS, synthetic_population
from sampling.cli._io import write_table, write_text
from sampling.simulation._policies import ConveniencePolicy, SimpleRandomPolicy
from sampling.simulation._simulate import (
    Evaluation,
    GaussianRatings,
    design_se_available,
    policy_context,
    simulate_policies,
)

__all__ = ["DemoReport", "write_report"]

VARIABLES = ["age", "sex", "ethnicity"]


@dataclass
class DemoReport:
    """What the demo wrote: the folder, its files, and one line per step for the terminal."""

    folder: Path
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)

    def add(self, title: str, *blocks: str) -> None:
        self.sections.append((title, list(blocks)))


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.{digits}f}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _save_table(report: DemoReport, frame: pd.DataFrame, name: str) -> str:
    path = report.folder / "tables" / f"{name}.csv"
    write_table(frame, path)
    report.files.append(path)
    return f"tables/{name}.csv"


def _save_figure(report: DemoReport, fig: Any, name: str) -> str:
    import matplotlib.pyplot as plt

    path = report.folder / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    report.files.append(path)
    return f"figures/{name}.png"


def _table_block(report: DemoReport, frame: pd.DataFrame, name: str, digits: int = 3) -> str:
    link = _save_table(report, frame, name)
    return f"{_markdown_table(frame, digits)}\n\n[{link}]({link})"


def _figure_block(report: DemoReport, fig: Any, name: str, caption: str) -> str:
    link = _save_figure(report, fig, name)
    return f"![{caption}]({link})"


# --- the steps ---------------------------------------------------------------------------------
def _plan(report: DemoReport, population: pd.DataFrame, n: int, country: str) -> None:
    import matplotlib.pyplot as plt

    blocks: list[str] = []
    if _available("sampling.allocation"):
        from sampling.allocation import allocate

        # error of a group mean after n ratings: sd_g / sqrt(n), sd from a 30-person pilot per group
        pilot = population.groupby("ethnicity").sample(30, random_state=1)
        sd = pilot.groupby("ethnicity")[list(SYNTHETIC_OPTIONS)].std().mean(axis=1)
        curves = pd.DataFrame({"a": sd, "b": 0.5, "c": 0.0})
        costs = {g: (1.0 if i == int(np.argmax(population["ethnicity"].value_counts().reindex(sd.index)))
                     else 2.0) for i, g in enumerate(sd.index)}
        plans = {}
        min_n = 10 if n >= 20 * sum(costs.values()) else 1
        for objective in ("utilitarian", "maximin"):
            plan = allocate(curves, budget=float(n), costs=costs, objective=objective, min_n=min_n,
                            integer=False)
            plans[objective] = np.floor(plan.n).astype(int)
        shares = population["ethnicity"].value_counts(normalize=True).reindex(sd.index)
        cost = pd.Series(costs)
        plans["proportional"] = np.floor(n * shares / float((shares * cost).sum())).astype(int)
        table = pd.DataFrame(plans).rename_axis("ethnicity").reset_index()
        table.insert(1, "cost per person", [costs[g] for g in table["ethnicity"]])
        blocks.append(
            f"Recruiting {n} cost units across ethnic groups (minority groups cost twice as much to "
            "reach). Each group's error curve is the standard error of its mean rating, "
            "`err_g(n) = s_g / sqrt(n)`, with `s_g` from a 30-person pilot; the utilitarian plan "
            "minimises the mean group error, the maximin plan the worst group's error "
            "(`sampling.allocate`)."
        )
        blocks.append(_table_block(report, table, "plan_allocation", 0))
    else:
        blocks.append("Skipped: `sampling.allocation` is not installed in this build.")
    if _available("sampling.quotas"):
        from sampling.quotas import design_quotas

        plan = design_quotas(census(country, ["age", "sex"]), n=n, variables=["age", "sex"])
        cells = plan.cells[["age", "sex", "share", "exact", "quota", "deviation"]]
        blocks.append(
            f"Census quotas for {n} people by age x sex (largest remainder; `sampling.design_quotas`): "
            f"largest |quota - exact| = {cells['deviation'].abs().max():.3f}."
        )
        blocks.append(_table_block(report, cells, "plan_quotas"))
        fig, ax = plt.subplots(figsize=(8, 3.5))
        plan.plot(ax)
        ax.set_xlabel("age x sex cell")
        blocks.append(_figure_block(report, fig, "plan_quotas", "quotas vs exact"))
    else:
        blocks.append("Quotas skipped: `sampling.quotas` is not installed in this build.")
    report.add("1. Plan", *blocks)
    done = [name for name, module in (("allocation", "sampling.allocation"), ("census quotas", "sampling.quotas"))
            if _available(module)]
    report.log.append("plan: " + (" and ".join(done) if done else "skipped (allocation and quotas not installed)"))


def _recruit(report: DemoReport, population: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    context = policy_context(population, groups="age")
    rng = np.random.default_rng(seed)
    draw = ConveniencePolicy(propensity="propensity").draw(context, float(n), rng)
    sample = population.iloc[draw.indices][VARIABLES].reset_index(drop=True)
    ratings = GaussianRatings(sd=15).observe(population.iloc[draw.indices][list(SYNTHETIC_OPTIONS)].to_numpy(), rng)
    for j, option in enumerate(SYNTHETIC_OPTIONS):
        sample[option] = ratings[:, j]
    shares = pd.DataFrame({
        "variable": [v for v in VARIABLES for _ in population[v].value_counts().index],
        "category": [c for v in VARIABLES for c in population[v].value_counts().sort_index().index],
    })
    shares["population share"] = [float((population[v] == c).mean()) for v, c in zip(shares["variable"], shares["category"])]
    shares["sample share"] = [float((sample[v] == c).mean()) for v, c in zip(shares["variable"], shares["category"])]
    report.add(
        "2. Recruit",
        f"{len(sample)} people from an opt-in stream of a synthetic population of {len(population):,} "
        "drawn from the census (young people, men and the majority ethnic group opt in most). Each "
        "rates four models (1-100, noise sd 15).",
        _table_block(report, shares, "recruit_sample_vs_population"),
    )
    people = sample.round({option: 1 for option in SYNTHETIC_OPTIONS})
    people.insert(0, "participant_id", [f"p{i:04d}" for i in range(len(people))])
    _save_table(report, people, "recruit_sample")  # for trying the other commands on it
    report.log.append(f"recruit: {len(sample)} people from an opt-in stream")
    return sample


def _reweight(report: DemoReport, sample: pd.DataFrame, country: str) -> Any:
    import matplotlib.pyplot as plt

    import estimators as est

    with warnings.catch_warnings():  # non-convergence is reported in the table, not hidden
        warnings.simplefilter("ignore", est.ConvergenceWarning)
        fit = est.rake(sample, census_margins(country, VARIABLES), on_empty_category="drop",
                       on_nonconvergence="warn")
    margins = census_margins(country, VARIABLES)
    _save_table(report, pd.DataFrame(
        [{"variable": v, "category": c, "target": t} for v, spec in margins.items()
         for c, t in spec.items()]), "census_margins")
    try:  # trim at 6 x the mean and re-rake until both hold ...
        trimmed = est.trim(fit, upper=6.0, bound_type="mean_multiple", recalibrate=True)
        trim_note = "then weights trimmed at 6 times the mean and re-raked until both hold"
    except est.ConvergenceError:  # ... or, when no such weights exist, trim and report the misfit
        trimmed = est.trim(fit, upper=6.0, bound_type="mean_multiple")
        trim_note = ("then weights trimmed at 6 times the mean (re-raking could not keep the cap and "
                     "the margins together, so the margin misfit after trimming is reported)")
    facts = pd.DataFrame({
        "": ["converged", "sweeps", "max relative margin error", "Kish design effect",
             "effective sample size", "max weight / mean (trimmed)",
             "max relative margin error after trimming", "Kish design effect after trimming"],
        "value": [str(fit.converged), str(fit.n_iter), f"{fit.max_margin_error:.2e}",
                  f"{fit.design_effect:.3f}", f"{fit.effective_sample_size:.1f}",
                  f"{trimmed.weights.max() / trimmed.weights.mean():.3f}", f"{trimmed.max_margin_error:.2e}",
                  f"{trimmed.design_effect:.3f}"],
    })
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    fit.plot(axes[0], kind="weights")
    fit.plot(axes[1], kind="margins")
    axes[1].set_ylabel("margin: category")
    report.add(
        "3. Reweight",
        f"Raked to the {country.upper()} census margins of age, sex and ethnicity (`estimators.rake`), "
        f"{trim_note} (`estimators.trim`).",
        _markdown_table(facts),
        _table_block(report, fit.diagnostics(), "reweight_diagnostics"),
        _figure_block(report, fig, "reweight_fit", "weights and margin fit"),
    )
    status = "" if fit.converged else f"; did NOT converge, max margin error {fit.max_margin_error:.2g}"
    report.log.append(f"reweight: raked (deff {fit.design_effect:.2f}{status}), trimmed")
    return trimmed


def _reference(report: DemoReport, sample: pd.DataFrame, population: pd.DataFrame, fit: Any,
               seed: int) -> None:
    """Weight the same opt-in sample to a random reference sample instead of census margins."""
    import estimators as est

    reference = population.sample(1_000, random_state=seed + 1).reset_index(drop=True)
    try:
        adjusted = est.adjust_to_reference(sample, reference, covariates=VARIABLES,
                                           method="entropy")
    except est.ValidationError as exc:  # e.g. a small sample with nobody in a reference category
        report.add("3b. Reweight to a reference sample",
                   f"Skipped: the opt-in sample cannot be balanced to the reference sample ({exc})")
        report.log.append("reweight to a reference sample: skipped (see the report)")
        return
    options = list(SYNTHETIC_OPTIONS)
    truth = population[options].mean()
    weightings = {"unweighted": np.ones(len(sample)), "raked to census margins": fit.weights,
                  "entropy balancing to the reference sample": adjusted.weights}
    rows = []
    for name, weights in weightings.items():
        means = sample[options].mul(np.asarray(weights, dtype=float), axis=0).sum() / np.sum(weights)
        rows.append({"weighting": name, **(means - truth).round(2).to_dict(),
                     "mean |bias|": float((means - truth).abs().mean())})
    table = pd.DataFrame(rows)
    balance = adjusted.balance()
    report.add(
        "3b. Reweight to a reference sample",
        "Without census margins, a unit-level reference sample does the same job: "
        f"`estimators.adjust_to_reference` balances the opt-in sample's {', '.join(VARIABLES)} "
        f"against a random sample of {len(reference):,} from the population (entropy balancing; "
        "inverse propensity and covariate-balancing weights are the other methods). Mean "
        f"standardised difference {balance.mean_asmd_before:.3f} before, "
        f"{balance.mean_asmd_after:.3f} after; Kish design effect {adjusted.design_effect:.2f}. "
        "Bias of the model scores against the population truth:",
        _table_block(report, table, "reweight_reference_bias"),
    )
    before, after = table["mean |bias|"].iloc[0], table["mean |bias|"].iloc[2]
    report.log.append(f"reweight to a reference sample of {len(reference):,}: mean |bias| "
                      f"{before:.2f} -> {after:.2f}")


def _evaluate(report: DemoReport, sample: pd.DataFrame, population: pd.DataFrame, fit: Any) -> None:
    import matplotlib.pyplot as plt

    weights = fit.weights.to_numpy()
    use_design = design_se_available()
    rows = []
    for option in SYNTHETIC_OPTIONS:
        y = sample[option].to_numpy()
        naive = float(y.std(ddof=1) / np.sqrt(y.size))
        if use_design:
            se = float(np.asarray(fit.design.mean(option).std_error).reshape(-1)[0])
        else:
            se = naive
        rows.append({
            "model": option, "truth": float(population[option].mean()),
            "unweighted": float(y.mean()), "naive SE": naive,
            "raked": float(np.average(y, weights=weights)),
            ("design SE" if use_design else "naive SE (raked)"): se,
        })
    table = pd.DataFrame(rows)
    chosen = {"unweighted": table.loc[table["unweighted"].idxmax(), "model"],
              "raked": table.loc[table["raked"].idxmax(), "model"]}
    by_age = population.groupby("age")[list(SYNTHETIC_OPTIONS)].mean()
    welfare = pd.DataFrame({f"chosen from {k} ({m})": by_age[m] for k, m in chosen.items()})
    welfare.loc["population"] = [float(population[m].mean()) for m in chosen.values()]
    welfare = welfare.rename_axis("age group").reset_index()
    blocks_extra: list[str] = []
    import estimators as est

    if hasattr(est, "welfare"):
        utilities = population[list(dict.fromkeys(chosen.values()))]  # one column per model
        swfs = {"utilitarian (mean)": {"swf": "utilitarian"},
                "Atkinson, eps = 1": {"swf": "atkinson", "eps": 1.0},
                "worst age group's mean": {"swf": "group_maximin", "by": population["age"]}}
        rows_swf = []
        for label, options in swfs.items():
            frame = est.welfare(utilities, **options).to_frame().set_index("option")["welfare"]
            rows_swf.append({"welfare function": label,
                             **{f"{k} ({m})": float(frame[m]) for k, m in chosen.items()}})
        blocks_extra.append("The two choices under three social welfare functions "
                            "(`estimators.welfare`, over the whole population):")
        blocks_extra.append(_table_block(report, pd.DataFrame(rows_swf), "evaluate_welfare_functions", 2))
    se_name = "design SE" if use_design else "naive SE (raked)"
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(table))
    ax.errorbar(x - 0.1, table["unweighted"], yerr=1.96 * table["naive SE"], fmt="o", capsize=3, label="unweighted")
    ax.errorbar(x + 0.1, table["raked"], yerr=1.96 * table[se_name], fmt="s", capsize=3, label="raked")
    ax.scatter(x, table["truth"], marker="_", s=400, color="black", label="population truth")
    ax.set_xticks(x, table["model"])
    ax.set_xlabel("model")
    ax.set_ylabel("mean rating (95% CI)")
    ax.set_title("Model scores: opt-in sample, unweighted and raked")
    ax.legend(fontsize="small")
    se_note = ("design-based SEs (Taylor linearisation with the raking residuals)" if use_design
               else "naive SEs only (the variance module is not installed in this build)")
    report.add(
        "4. Evaluate",
        f"Each model's mean rating with {se_note}, against the population truth; the model with the "
        f"highest mean is deployed: **{chosen['unweighted']}** from the unweighted sample, "
        f"**{chosen['raked']}** after raking. Below, the welfare (mean utility) each choice gives "
        "every age group.",
        _table_block(report, table, "evaluate_model_scores"),
        _table_block(report, welfare, "evaluate_welfare_by_group", 2),
        *blocks_extra,
        _figure_block(report, fig, "evaluate_model_scores", "model scores"),
    )
    report.log.append(f"evaluate: unweighted picks {chosen['unweighted']}, raked picks {chosen['raked']}")


def _simulate(report: DemoReport, population: pd.DataFrame, n: int, reps: int, seed: int) -> None:
    import matplotlib.pyplot as plt

    policies: list[Any] = [ConveniencePolicy(propensity="propensity"), SimpleRandomPolicy()]
    if _available("sampling.quotas"):
        from sampling.simulation import QuotaPolicy

        policies.insert(1, QuotaPolicy(["age", "sex"], propensity="propensity"))
    sim = simulate_policies(
        population, policies, options=list(SYNTHETIC_OPTIONS), groups="age", budget=n, n_reps=reps,
        reweighting=["none", "rake"], weighting_variables=VARIABLES,
        weighting_options={"on_empty_category": "drop"}, outcome_model=GaussianRatings(sd=15),
        evaluation=Evaluation(), rng=seed,
    )
    table = sim.to_frame()
    columns = ["policy", "reweighting", "n_failed", "welfare", "welfare_mc_se", "best_chosen", "abs_bias",
               "abs_bias_mc_se", "rmse", "coverage_naive", "coverage_naive_mc_se"]
    if "coverage_design" in table.columns:
        columns += ["coverage_design", "coverage_design_mc_se"]
    table = table[columns]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = table["policy"] + " / " + table["reweighting"]
    axes[0].barh(labels, table["abs_bias"], xerr=1.96 * table["abs_bias_mc_se"], color="tab:blue")
    axes[0].set_xlabel("mean |bias| of model scores (95% MC interval)")
    axes[0].set_ylabel("policy / reweighting")
    axes[0].set_title("Bias of the estimated population welfare")
    for kind, offset in (("naive", -0.2), ("design", 0.2)):
        column = f"coverage_{kind}"
        if column in table.columns:
            axes[1].errorbar(table[column], np.arange(len(table)) + offset,
                             xerr=1.96 * table[f"{column}_mc_se"], fmt="o", capsize=3, label=f"{kind} SE")
    axes[1].axvline(0.95, color="grey", linestyle="--", label="nominal 95%")
    axes[1].set_yticks(np.arange(len(table)), labels)
    axes[1].set_xlabel("coverage of 95% CIs (95% MC interval)")
    axes[1].set_ylabel("policy / reweighting")
    axes[1].set_title("Confidence-interval coverage")
    axes[1].legend(fontsize="small")
    report.add(
        "5. Simulate",
        f"The whole loop {reps} times per policy (`sampling.simulate_policies`), budget {n}, without "
        "and with raking. Every summary has its Monte Carlo standard error (`_mc_se`).",
        _table_block(report, table, "simulate_summary"),
        _figure_block(report, fig, "simulate_bias_coverage", "bias and coverage"),
    )
    report.log.append(f"simulate: {len(policies)} policies x 2 reweightings x {reps} replicates")
    conv = table[table["policy"] == "convenience"].set_index("reweighting")
    if {"none", "rake"} <= set(conv.index):
        before, after = conv.loc["none", "abs_bias"], conv.loc["rake", "abs_bias"]
        line = (f"convenience sample of {n}: mean |bias| of model scores {before:.2f} unweighted -> "
                f"{after:.2f} raked")
        if before > 0:
            line += f" ({1 - after / before:.0%} removed)"
        report.headline.append(line)
        coverage = f"95% CI coverage after raking: naive SE {conv.loc['rake', 'coverage_naive']:.2f}"
        if "coverage_design" in conv.columns:
            coverage += f", design-based SE {conv.loc['rake', 'coverage_design']:.2f}"
        report.headline.append(coverage + f" ({reps} replicates)")


# --- assembling ----------------------------------------------------------------------------------
def _html(report: DemoReport, title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]
    for heading, blocks in report.sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for block in blocks:
            parts.append(_block_html(block))
    parts.append("</body></html>")
    return "\n".join(parts)


def _block_html(block: str) -> str:
    lines = block.strip().splitlines()
    out: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if table:
            header = [c.strip() for c in table[0].strip("|").split("|")]
            body = [[c.strip() for c in row.strip("|").split("|")] for row in table[2:]]
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                                 for row in body) + "</table>")
            table.clear()

    for line in lines:
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("!["):
            alt, src = line[2:].split("](")
            out.append(f"<img src='{html.escape(src.rstrip(')'))}' alt='{html.escape(alt)}'>")
        elif line.startswith("[") and "](" in line:
            text, src = line[1:].split("](")
            out.append(f"<p><a href='{html.escape(src.rstrip(')'))}'>{html.escape(text)}</a></p>")
        elif line.strip():
            text = html.escape(line)
            while "**" in text:
                text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
            out.append(f"<p>{text}</p>")
    flush()
    return "\n".join(out)


def write_report(
    folder: str | Path,
    *,
    country: str = "uk",
    n: int = 400,
    reps: int = 40,
    seed: int = 2024,
    progress: Callable[[str], None] | None = None,
) -> DemoReport:
    """Run the compact whole loop and write ``folder`` (report.md, report.html, figures/, tables/)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    start = time.perf_counter()
    report = DemoReport(Path(folder))
    report.folder.mkdir(parents=True, exist_ok=True)
    population = synthetic_population(n=20_000, country=country, rng=seed)  # type: ignore[arg-type]
    steps: list[Callable[[], Any]] = []
    state: dict[str, Any] = {}
    steps.append(lambda: _plan(report, population, n, country))
    steps.append(lambda: state.__setitem__("sample", _recruit(report, population, n, seed)))
    steps.append(lambda: state.__setitem__("fit", _reweight(report, state["sample"], country)))
    steps.append(lambda: _reference(report, state["sample"], population, state["fit"], seed))
    steps.append(lambda: _evaluate(report, state["sample"], population, state["fit"]))
    steps.append(lambda: _simulate(report, population, n, reps, seed))
    for step in steps:
        step()
        if progress is not None:
            progress(report.log[-1])
    title = f"equisample demo report ({country.upper()}, seed {seed})"
    intro = (f"Generated in {time.perf_counter() - start:.1f} s. Figures are in `figures/`, tables "
             "in `tables/` (CSV).")
    markdown = [f"# {title}", "", intro, ""]
    for heading, blocks in report.sections:
        markdown += [f"## {heading}", ""]
        for block in blocks:
            markdown += [block, ""]
    report.files.append(write_text("\n".join(markdown), report.folder / "report.md"))
    report.sections.insert(0, ("About", [intro]))
    report.files.append(write_text(_html(report, title), report.folder / "report.html"))
    return report
