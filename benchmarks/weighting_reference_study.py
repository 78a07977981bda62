"""Defaults of ``adjust_to_reference`` against ``balance``'s over many opt-in samples.

One sample says little about a bias-variance trade-off, so this study draws ``--samples``
opt-in samples (and as many simple random reference samples of 3,000) from the known population of
``tests/estimators/weighting/reference/reference_sample_make_optin.py`` (200,000 people; selection
on age, sex, education and log income; the outcome depends on all four) and weights each of them
with equisample's defaults and with ``balance`` 0.23.0's defaults (``adjust(method="ipw")`` and
``adjust(method="cbps")``). For each method it reports, over the samples, the mean absolute bias
of the weighted mean of ``y`` against the population mean, the root mean squared error, the mean
Kish design effect and the mean ASMD after weighting (``covariate_balance``, every level counted,
for both packages' weights).

``balance`` runs in its own environment (``python benchmarks/peers/install.py balance``; found by
``benchmarks/_peers.py``, or ``--balance-python``). Its weights are cached in ``--cache`` (a JSON
file) so that equisample's side can be re-run alone.

Run (BLAS threads pinned to 1; about 25 minutes for 40 samples on one core, mostly balance's
cross-validation)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/weighting_reference_study.py --samples 40
"""

from __future__ import annotations

import argparse
import json
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
from _peers import missing_message, peer_python

COVARIATES = ["age", "sex", "education", "income"]
POPULATION_SEED = 20261207  # the seed of reference_sample_make_optin.py
N_POP = 200_000
N_REF = 3_000
TARGET_OPTIN_N = 2_000


def population() -> tuple[pd.DataFrame, np.ndarray]:
    """The population of ``reference_sample_make_optin.py`` and its selection probabilities.

    The same draws in the same order from the same seed, so the population (mean of ``y``
    47.90387668487879) is the one behind the committed opt-in sample.
    """
    rng = np.random.default_rng(POPULATION_SEED)
    age_idx = rng.choice(4, size=N_POP, p=[0.20, 0.27, 0.33, 0.20])
    sex_idx = (rng.random(N_POP) < 0.49).astype(int)
    eta_sc = 0.1 - 0.10 * age_idx
    eta_ba = 0.2 - 0.20 * (age_idx == 3) + 0.1 * (age_idx == 1)
    probs = np.exp(np.column_stack([np.zeros(N_POP), eta_sc, eta_ba]))
    probs /= probs.sum(axis=1, keepdims=True)
    u = rng.random(N_POP)
    edu_idx = np.minimum((u[:, None] > np.cumsum(probs, axis=1)).sum(axis=1), 2)
    log_income = (10.3 + 0.35 * edu_idx + np.array([-0.25, 0.05, 0.15, -0.10])[age_idx]
                  + 0.08 * sex_idx + rng.normal(0.0, 0.55, N_POP))
    y = (40.0 + np.array([0.0, 3.0, 6.0, 10.0])[age_idx] - 4.0 * sex_idx
         + np.array([0.0, 2.5, 6.0])[edu_idx] + 5.0 * (log_income - 10.3)
         + rng.normal(0.0, 8.0, N_POP))
    pop = pd.DataFrame({
        "id": np.arange(1, N_POP + 1),
        "age": np.array(["18-29", "30-44", "45-64", "65+"])[age_idx],
        "sex": np.array(["female", "male"])[sex_idx],
        "education": np.array(["hs_or_less", "some_college", "ba_plus"])[edu_idx],
        "income": np.exp(log_income) / 1000.0,
        "y": y,
    })
    eta = (np.array([0.9, 0.3, -0.2, -0.8])[age_idx] + 0.35 * sex_idx
           + np.array([-0.6, 0.0, 0.6])[edu_idx] + 0.5 * (log_income - 10.3))
    lo, hi = -20.0, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(mid + eta)))).sum() > TARGET_OPTIN_N:
            hi = mid
        else:
            lo = mid
    return pop, 1 / (1 + np.exp(-((lo + hi) / 2 + eta)))


def draw(pop: pd.DataFrame, p_sel: np.ndarray, seed: int, k: int
         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Opt-in sample ``k`` (Poisson selection) and its SRS reference (weights N / n)."""
    rng = np.random.default_rng([seed, k])
    sample = pop.loc[rng.random(len(pop)) < p_sel].reset_index(drop=True)
    rows = np.sort(rng.choice(len(pop), size=N_REF, replace=False))
    reference = pop.iloc[rows].reset_index(drop=True).copy()
    reference["ref_weight"] = len(pop) / N_REF
    return sample, reference


BALANCE_SCRIPT = textwrap.dedent("""
    import json, logging, sys, time, warnings
    from pathlib import Path
    import pandas as pd
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    import balance
    from balance import Sample
    folder, keys = Path(sys.argv[1]), sys.argv[2:]
    out = {"version": balance.__version__}
    for k in keys:
        s = pd.read_csv(folder / f"sample_{k}.csv")
        r = pd.read_csv(folder / f"reference_{k}.csv")
        cols = ["id", "age", "sex", "education", "income", "y"]
        S = Sample.from_frame(s[cols], id_column="id", outcome_columns=["y"])
        T = Sample.from_frame(r[cols + ["ref_weight"]], id_column="id",
                              weight_column="ref_weight", outcome_columns=["y"])
        row = {}
        for method in ("ipw", "cbps"):
            t0 = time.perf_counter()
            adj = S.set_target(T).adjust(method=method)
            seconds = time.perf_counter() - t0
            w = adj.df.set_index(adj.df["id"].astype(int))["weight"]
            row[method] = {"weights": w.loc[s["id"]].astype(float).tolist(), "seconds": seconds}
        out[k] = row
        print(k, flush=True)
    json.dump(out, open(folder / "balance.json", "w"))
""")


def run_balance(python: str, draws: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k, (sample, reference) in draws.items():
            sample.to_csv(folder / f"sample_{k}.csv", index=False)
            reference.to_csv(folder / f"reference_{k}.csv", index=False)
        done = subprocess.run([python, "-c", BALANCE_SCRIPT, str(folder), *draws],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError("balance failed: " + done.stderr.strip()[-500:])
        return json.loads((folder / "balance.json").read_text())


#: equisample's defaults and the options discussed on the methods page; "same penalty" re-uses
#: the cross-validated penalty of the default ipw fit on that sample
CONFIGS: dict[str, dict] = {
    "ipw (defaults)": {"method": "ipw"},
    "ipw, max_weight_ratio=None (same penalty)": {"method": "ipw", "max_weight_ratio": None},
    "cbps (defaults: bins=10)": {"method": "cbps"},
    "cbps, max_weight_ratio=None": {"method": "cbps", "max_weight_ratio": None},
    "cbps, bins=None (covariates as they are)": {"method": "cbps", "bins": None},
    "cbps, bins=10, over-identified, max_weight_ratio=None": {
        "method": "cbps", "bins": 10, "over_identified": True, "max_weight_ratio": None},
    "ipw, before (21 penalties, max_weight_ratio=None)": {
        "method": "ipw", "penalties": np.logspace(0, -5, 21), "max_weight_ratio": None},
}

#: equisample's rows compared with balance's, sample by sample
PAIRS = [("ipw (defaults)", "ipw (defaults)"), ("cbps (defaults: bins=10)", "cbps (defaults)"),
         ("cbps, bins=None (covariates as they are)", "cbps (defaults)")]


def measure(sample: pd.DataFrame, reference: pd.DataFrame, w: np.ndarray, truth: float
            ) -> dict[str, float]:
    bal = est.covariate_balance(sample, reference, covariates=COVARIATES, weights=w,
                                reference_weights="ref_weight")
    return {"bias": float(np.average(sample["y"], weights=w)) - truth,
            "deff": float(len(w) * (w @ w) / w.sum() ** 2),
            "asmd": float(bal.mean_asmd)}


def summarise(rows: pd.DataFrame) -> str:
    """A markdown table: one row per package and method, averages over the samples."""
    lines = ["| package | method | mean bias (MC se) | mean abs. bias | RMSE | mean deff "
             "| mean ASMD after | seconds |", "|---|---|---|---|---|---|---|---|"]
    for (package, method), g in rows.groupby(["package", "method"], sort=False):
        b = g["bias"].to_numpy()
        lines.append(
            f"| {package} | {method} | {b.mean():+.3f} ({b.std(ddof=1) / np.sqrt(len(b)):.3f}) "
            f"| {np.abs(b).mean():.3f} | {np.sqrt((b**2).mean()):.3f} | {g['deff'].mean():.3f} "
            f"| {g['asmd'].mean():.4f} | {g['seconds'].mean():.1f} |")
    return "\n".join(lines)


def paired(rows: pd.DataFrame) -> str:
    """Differences equisample - balance over the same samples (mean and its standard error)."""
    wide = rows.pivot_table(index="sample", columns=["package", "method"],
                            values=["bias", "deff"])
    lines = []
    for ours, theirs in PAIRS:
        if ("balance", theirs) not in wide["bias"]:
            continue
        a, b = wide["bias"]["equisample"][ours], wide["bias"]["balance"][theirs]
        out = []
        for label, diff in (("bias", a - b), ("abs. bias", a.abs() - b.abs()),
                            ("deff", wide["deff"]["equisample"][ours]
                             - wide["deff"]["balance"][theirs])):
            out.append(f"{label} {diff.mean():+.3f} (se {diff.std(ddof=1) / np.sqrt(len(diff)):.3f})")
        smaller = int((wide["deff"]["equisample"][ours] < wide["deff"]["balance"][theirs]).sum())
        lines.append(f"equisample {ours} - balance {theirs}: " + ", ".join(out)
                     + f"; smaller deff in {smaller} of {len(a)} samples")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--balance-python", default=None,
                        help="python of an environment with balance 0.23.0 (default: the one "
                        "benchmarks/peers/install.py made)")
    parser.add_argument("--cache", default=None,
                        help="JSON file for balance's weights (read when present, else written)")
    parser.add_argument("--rows", default=None, help="write the per-sample rows to this CSV")
    args = parser.parse_args()

    pop, p_sel = population()
    truth = float(pop["y"].mean())
    keys = [str(k) for k in range(args.samples)]
    draws = {k: draw(pop, p_sel, args.seed, int(k)) for k in keys}

    theirs = None
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        theirs = json.loads(cache.read_text())
        if theirs.get("seed") != args.seed or not set(keys) <= set(theirs):
            theirs = None
    if theirs is None:
        python = args.balance_python or str(peer_python("balance"))
        if not Path(python).exists():
            print("balance:", missing_message("balance"))
        else:
            t0 = time.perf_counter()
            theirs = run_balance(python, draws)
            theirs["seed"] = args.seed
            print(f"# balance: {time.perf_counter() - t0:.0f} s", flush=True)
            if cache is not None:
                cache.write_text(json.dumps(theirs))

    rows = []
    for k in keys:
        sample, reference = draws[k]
        penalty = None
        for name, options in CONFIGS.items():
            if "same penalty" in name:
                options = {**options, "penalty": penalty}
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = est.adjust_to_reference(sample, reference, covariates=COVARIATES,
                                              reference_weights="ref_weight", **options)
            seconds = time.perf_counter() - t0
            if name == "ipw (defaults)":
                penalty = fit.penalty
            rows.append({"sample": int(k), "package": "equisample", "method": name,
                         "seconds": seconds,
                         **measure(sample, reference, fit.weights.to_numpy(), truth)})
        if theirs is not None:
            for name in ("ipw", "cbps"):
                w = np.asarray(theirs[k][name]["weights"], dtype=np.float64)
                rows.append({"sample": int(k), "package": "balance", "method": f"{name} (defaults)",
                             "seconds": theirs[k][name]["seconds"],
                             **measure(sample, reference, w, truth)})
    frame = pd.DataFrame(rows)
    if args.rows:
        frame.to_csv(args.rows, index=False)
    sizes = [len(draws[k][0]) for k in keys]
    print(f"{args.samples} opt-in samples (seed {args.seed}; sizes {min(sizes)}-{max(sizes)}), "
          f"SRS references of {N_REF}; population mean of y {truth:.4f}")
    print(summarise(frame))
    print(paired(frame))


if __name__ == "__main__":
    main()
