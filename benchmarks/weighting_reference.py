"""Benchmark and comparison: weighting to a reference sample (``adjust_to_reference``) vs ``balance``.

Three parts (subcommands):

``compare``
    On the two data sets of ``tests/estimators/weighting/reference/`` (balance's own simulated data
    and an opt-in sample from a known population), runs equisample's defaults (``ipw`` with the
    cross-validated penalty, ``cbps``, ``entropy``, ``rake``) and prints mean ASMD after, Kish
    design effect and the weighted outcome mean (bias against the population truth for the opt-in
    data) beside balance 0.23.0's values stored in ``reference_sample_balance_reference.json``.
``speed``
    Synthetic sample and reference of ``--rows`` rows each with 10 covariates (5 categorical with 4
    levels, 5 numeric): times one statsmodels logistic fit (GLM IRLS) on the pooled data, ``ipw``
    with a fixed penalty, ``entropy``, and ``covariate_balance``. ``--balance-python`` also times
    balance's ``adjust(method="ipw")`` with a single fixed lambda on the same data, in its own
    virtual environment (best of ``--repeats``; wall and CPU seconds).
``coverage``
    ``--replicates`` opt-in samples from a known population; 95 % intervals for the population
    mean after ``ipw`` and ``entropy``: Taylor (sample only), Taylor with the reference's sampling
    error added (``fit.mean(y)``), and a bootstrap replicate design (the weighting re-run on every
    replicate) with the reference part added, next to the naive interval (unweighted sample
    mean); prints the coverage of each.

Run (BLAS threads pinned to 1)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/weighting_reference.py compare
    OPENBLAS_NUM_THREADS=1 python benchmarks/weighting_reference.py speed --rows 100000 1000000
    OPENBLAS_NUM_THREADS=1 python benchmarks/weighting_reference.py coverage --replicates 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import estimators as est

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import peer_python

REFERENCE = Path(__file__).resolve().parents[1] / "tests/estimators/weighting/reference"


# -- compare --------------------------------------------------------------------------------------


def _datasets() -> dict[str, dict]:
    return {
        "balance_sim": {
            "sample": pd.read_csv(REFERENCE / "reference_sample_balance_sim_sample.csv"),
            "reference": pd.read_csv(REFERENCE / "reference_sample_balance_sim_target.csv"),
            "covariates": ["gender", "age_group", "income"],
            "outcome": "happiness",
            "config": "unweighted",
            "weights": (None, None),
        },
        "optin": {
            "sample": pd.read_csv(REFERENCE / "reference_sample_optin_sample.csv"),
            "reference": pd.read_csv(REFERENCE / "reference_sample_optin_reference.csv"),
            "covariates": ["age", "sex", "education", "income"],
            "outcome": "y",
            "config": "main__unweighted_sample__ref_weight",
            "weights": (None, "ref_weight"),
        },
    }


CONFIGS = [
    ("ipw (defaults)", {"method": "ipw"}, "ipw_default_cv"),
    ("ipw, max_weight_ratio=None", {"method": "ipw", "max_weight_ratio": None}, "ipw_default_cv"),
    ("ipw, bins=10", {"method": "ipw", "bins": 10}, "ipw_default_cv"),
    ("ipw, cv_rule='min'", {"method": "ipw", "cv_rule": "min"}, "ipw_default_cv"),
    ("cbps (defaults)", {"method": "cbps"}, "cbps_default"),
    ("cbps, max_weight_ratio=None", {"method": "cbps", "max_weight_ratio": None}, "cbps_default"),
    ("cbps, bins=None (covariates as they are)", {"method": "cbps", "bins": None}, "cbps_default"),
    ("cbps, over-identified", {"method": "cbps", "over_identified": True}, "cbps_default"),
    ("entropy", {"method": "entropy"}, None),
    ("rake (5 bins)", {"method": "rake"}, "rake_default"),
    ("rake, bins=10", {"method": "rake", "bins": 10}, "rake_default"),
]


def compare() -> None:
    stored = json.loads((REFERENCE / "reference_sample_balance_reference.json").read_text())
    for name, data in _datasets().items():
        ref_block = stored["datasets"][name]
        truth = ref_block.get("population_mean_y")
        sample, reference = data["sample"], data["reference"]
        sw, rw = data["weights"]
        raw = est.covariate_balance(sample, reference, covariates=data["covariates"],
                                    reference_weights=rw)
        rw_values = np.ones(len(reference)) if rw is None else reference[rw].to_numpy()
        ref_mean = float(np.average(reference[data["outcome"]], weights=rw_values))
        print(f"\n### {name}: n = {len(sample)} vs {len(reference)}; mean ASMD before "
              f"{raw.mean_asmd_before:.4f}; unweighted sample mean "
              f"{sample[data['outcome']].mean():.4f}; reference mean {ref_mean:.4f}"
              + (f"; population truth {truth:.4f}" if truth else ""))
        what = "bias vs truth" if truth else "mean - reference mean"
        print(f"\n| method | equisample mean ASMD | deff | {what} | seconds "
              f"| balance mean ASMD | deff | {what} | seconds |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, kw, key in CONFIGS:
            t0 = time.perf_counter()
            fit = est.adjust_to_reference(sample, reference, covariates=data["covariates"],
                                          weights=sw, reference_weights=rw, **kw)
            seconds = time.perf_counter() - t0
            bal = fit.balance()
            y = float(np.average(sample[data["outcome"]], weights=fit.weights))
            bias = y - (truth if truth else ref_mean)
            row = (f"| {label} | {bal.mean_asmd:.4f} | {fit.design_effect:.3f} | {bias:+.4f} "
                   f"| {seconds:.2f} |")
            theirs = ref_block["adjust"][data["config"]].get(key) if key else None
            if theirs is None:
                row += " – | – | – | – |"
            else:
                # balance's mean(asmd) leaves out the first level of all but one categorical
                # covariate; recompute ours-style (every level) from its weights for comparison
                bw = pd.Series(theirs["weights_normalised_sum1"], index=theirs["ids"])
                bw = bw.loc[sample["id"].to_numpy()].to_numpy()
                theirs_bal = est.covariate_balance(sample, reference,
                                                   covariates=data["covariates"], weights=bw,
                                                   reference_weights=rw)
                tb = float(np.average(sample[data["outcome"]], weights=bw))
                tbias = tb - (truth if truth else ref_mean)
                row += (f" {theirs_bal.mean_asmd:.4f} | {theirs['design_effect_balance']:.3f} "
                        f"| {tbias:+.4f} | {float(theirs['seconds']):.2f} |")
            print(row)


# -- speed ----------------------------------------------------------------------------------------


def synthetic(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {}
    for j in range(5):
        p = np.array([0.25, 0.25, 0.25, 0.25]) + shift * np.array([0.1, 0.05, -0.05, -0.1])
        data[f"c{j}"] = np.array(["a", "b", "c", "d"])[rng.choice(4, n, p=p)]
    for j in range(5):
        data[f"x{j}"] = rng.normal(shift * 0.3, 1.0, n)
    return pd.DataFrame(data)


COVS = [f"c{j}" for j in range(5)] + [f"x{j}" for j in range(5)]


def _clock(fn, repeats: int) -> tuple[float, float]:
    best_wall, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu


BALANCE_SCRIPT = textwrap.dedent("""
    import sys, time, logging, warnings
    import pandas as pd
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    from balance import Sample
    s = pd.read_csv(sys.argv[1]); r = pd.read_csv(sys.argv[2]); repeats = int(sys.argv[3])
    s["id"] = range(len(s)); r["id"] = range(len(s), len(s) + len(r))
    S = Sample.from_frame(s, id_column="id"); R = Sample.from_frame(r, id_column="id")
    best_w = best_c = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        S.set_target(R).adjust(method="ipw", transformations=None, num_lambdas=1,
                               lambda_min=0.01, lambda_max=0.01,
                               weight_trimming_mean_ratio=None)
        best_w = min(best_w, time.perf_counter() - w0); best_c = min(best_c, time.process_time() - c0)
    print(best_w, best_c)
""")


def speed(rows: list[int], repeats: int, balance_python: str | None) -> None:
    import statsmodels.api as sm

    print("| rows (each) | statsmodels logistic fit | ipw (penalty 0.01) | entropy | "
          "covariate_balance | balance ipw (one lambda) |")
    print("|---|---|---|---|---|---|")
    for n in rows:
        s, r = synthetic(n, 1, 1.0), synthetic(n, 2, 0.0)
        pooled = pd.concat([s, r], ignore_index=True)
        x = pd.get_dummies(pooled[COVS], drop_first=True, dtype=float)
        x.insert(0, "const", 1.0)
        y = np.r_[np.ones(n), np.zeros(n)]
        xm = x.to_numpy()
        glm = _clock(lambda: sm.GLM(y, xm, family=sm.families.Binomial()).fit(), repeats)  # noqa: B023
        ipw = _clock(lambda: est.adjust_to_reference(s, r, covariates=COVS, penalty=0.01),  # noqa: B023
                     repeats)
        ent = _clock(lambda: est.adjust_to_reference(s, r, covariates=COVS,  # noqa: B023
                                                     method="entropy"), repeats)
        bal = _clock(lambda: est.covariate_balance(s, r, covariates=COVS), repeats)  # noqa: B023
        theirs = "–"
        if balance_python:
            with tempfile.TemporaryDirectory() as tmp:
                sp, rp = os.path.join(tmp, "s.csv"), os.path.join(tmp, "r.csv")
                s.to_csv(sp, index=False)
                r.to_csv(rp, index=False)
                out = subprocess.run([balance_python, "-c", BALANCE_SCRIPT, sp, rp, str(repeats)],
                                     capture_output=True, text=True, check=False)
                if out.returncode == 0:
                    w, c = (float(v) for v in out.stdout.split()[-2:])
                    theirs = f"{w:.2f} s (cpu {c:.2f})"
                else:
                    theirs = "failed: " + out.stderr.strip().splitlines()[-1][:60]

        def fmt(t: tuple[float, float]) -> str:
            return f"{t[0]:.2f} s (cpu {t[1]:.2f})"

        print(f"| {n:,} | {fmt(glm)} | {fmt(ipw)} ({ipw[0] / glm[0]:.2f}x) | {fmt(ent)} "
              f"({ent[0] / glm[0]:.2f}x) | {fmt(bal)} | {theirs} |", flush=True)


# -- coverage -------------------------------------------------------------------------------------


def coverage(replicates: int, n_boot: int, seed: int, n_reference: int) -> None:
    rng = np.random.default_rng(seed)
    n_pop = 100_000
    age = rng.choice(4, n_pop, p=[0.2, 0.27, 0.33, 0.2])
    sex = rng.choice(2, n_pop)
    edu = rng.choice(3, n_pop, p=[0.38, 0.32, 0.30])
    income = rng.lognormal(3.9, 0.5, n_pop)
    y = 40 + 3 * age + 2 * sex - 2 * edu + 0.1 * income + rng.normal(0, 8, n_pop)
    pop = pd.DataFrame({"age": age.astype(str), "sex": sex.astype(str), "edu": edu.astype(str),
                        "income": income, "y": y})
    truth = float(y.mean())
    logit = -4.2 + np.array([0.8, 0.3, -0.2, -0.8])[age] + 0.35 * sex \
        + np.array([0.6, -0.4, 0.0])[edu] + 0.01 * income
    p_sel = 1 / (1 + np.exp(-logit))
    covs = ["age", "sex", "edu", "income"]
    kinds = ("naive", "ipw_taylor", "ipw_taylor+ref", "ipw_boot+ref", "entropy_taylor",
             "entropy_taylor+ref", "entropy_boot+ref")
    hits = dict.fromkeys(kinds, 0)
    done = 0
    t0 = time.perf_counter()

    def covers(frame: pd.DataFrame) -> bool:
        row = frame.iloc[0]
        return bool(row["ci_lower"] <= truth <= row["ci_upper"])

    for _ in range(replicates):
        chosen = rng.random(n_pop) < p_sel
        sample = pop[chosen].reset_index(drop=True)
        reference = pop.iloc[rng.choice(n_pop, n_reference, replace=False)].reset_index(drop=True)
        hits["naive"] += covers(est.SurveyDesign(sample).mean("y").to_frame())
        for method, kw in (("ipw", {"penalty": 1e-4}), ("entropy", {})):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = est.adjust_to_reference(sample, reference, covariates=covs, method=method,
                                              **kw)
                hits[f"{method}_taylor"] += covers(
                    fit.mean("y", include_reference=False).to_frame())
                hits[f"{method}_taylor+ref"] += covers(fit.mean("y").to_frame())
                rd = est.replicate_design(fit.design, method="bootstrap", replicates=n_boot,
                                          rng=rng)
                hits[f"{method}_boot+ref"] += covers(fit.mean("y", design=rd).to_frame())
        done += 1
        if done % 50 == 0:
            print(f"# {done} samples, {time.perf_counter() - t0:.0f} s: "
                  + ", ".join(f"{k} {v / done:.3f}" for k, v in hits.items()), flush=True)
    print(f"\ncoverage of 95 % intervals for the population mean over {done} opt-in samples "
          f"(expected size {p_sel.sum():.0f}; reference: SRS of {n_reference}; {n_boot} "
          "bootstrap replicates; +ref: the reference's sampling error added):")
    for k, v in hits.items():
        se = np.sqrt(0.95 * 0.05 / done)
        print(f"  {k:20s} {v / done:.3f}   (Monte Carlo se at 95 %: {se:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    sub.add_parser("compare")
    sp = sub.add_parser("speed")
    sp.add_argument("--rows", type=int, nargs="+", default=[100_000])
    sp.add_argument("--repeats", type=int, default=1)
    sp.add_argument("--balance-python", default=None,
                    help="python of a virtual environment with balance (default: the one "
                    "benchmarks/peers/install.py made, when it exists)")
    cp = sub.add_parser("coverage")
    cp.add_argument("--replicates", type=int, default=1000)
    cp.add_argument("--bootstrap", type=int, default=50)
    cp.add_argument("--reference-rows", type=int, default=4000)
    cp.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    if args.part == "compare":
        compare()
    elif args.part == "speed":
        balance_python = args.balance_python
        if balance_python is None and peer_python("balance").exists():
            balance_python = str(peer_python("balance"))
        speed(args.rows, args.repeats, balance_python)
    else:
        coverage(args.replicates, args.bootstrap, args.seed, args.reference_rows)


if __name__ == "__main__":
    main()
