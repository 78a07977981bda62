"""Design-based Bradley–Terry: speed of the model-based fit, Taylor SEs and replicate SEs.

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 python benchmarks/welfare_bt_design.py [--r]

21 options, 10,000 raters (two strata, unequal weights), 100,000 comparisons with string rater
ids. Times ``bradley_terry`` without a design (model-based SEs), with a rater-level
``SurveyDesign`` (Taylor sandwich), with the same design raked to two margins, and with a
``ReplicateDesign`` of 200 Rao–Wu bootstrap replicates (refit per replicate, warm-started; also
on the raked design, every replicate re-raked). CPU
seconds (``time.process_time``, best of ``REPEATS``); building the designs is not timed, the
replicate weights are (they are computed inside the fit). With ``--r`` the same data are written
to a temporary directory and R ``survey::svyglm`` (quasibinomial, raters as PSUs, strata) is
timed beside it (``system.time`` user + system).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import estimators as est

M, N_RATERS, N_CMP, REPLICATES, REPEATS = 21, 10_000, 100_000, 200, 3


def instance(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    raters = pd.DataFrame({
        "rater": [f"r{k:05d}" for k in range(N_RATERS)],
        "stratum": rng.choice(["S1", "S2"], N_RATERS),
        "sex": rng.choice(["F", "M"], N_RATERS),
        "age": rng.choice(["18-34", "35-54", "55+"], N_RATERS, p=[0.45, 0.35, 0.2]),
        "weight": rng.uniform(0.5, 4.0, N_RATERS),
    })
    strength = np.linspace(-1.0, 1.0, M)
    who = rng.integers(0, N_RATERS, N_CMP)
    a = rng.integers(0, M, N_CMP)
    b = (a + rng.integers(1, M, N_CMP)) % M
    taste = rng.normal(0.0, 0.5, (N_RATERS, M))
    d = strength[a] + taste[who, a] - strength[b] - taste[who, b]
    a_wins = rng.random(N_CMP) < 1.0 / (1.0 + np.exp(-d))
    names = np.array([f"m{k:02d}" for k in range(M)])
    battles = pd.DataFrame({
        "rater": raters["rater"].to_numpy()[who],
        "first": names[a],
        "second": names[b],
        "winner": np.where(a_wins, names[a], names[b]),
        "loser": np.where(a_wins, names[b], names[a]),
    })
    return raters, battles


def cpu(fn, repeats: int = REPEATS) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main() -> None:
    raters, battles = instance()
    design = est.SurveyDesign(raters, weights="weight", strata="stratum")
    raked = est.rake(design, {"sex": {"F": 0.5, "M": 0.5},
                              "age": {"18-34": 0.3, "35-54": 0.4, "55+": 0.3}}).design
    boot = est.replicate_design(design, method="bootstrap", replicates=REPLICATES, rng=1)
    print(f"{M} options, {N_RATERS} raters, {N_CMP} comparisons; CPU s, best of {REPEATS}")
    t_model, _ = cpu(lambda: est.bradley_terry(battles))
    print(f"  model-based (no design)            {t_model:7.3f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_w, _ = cpu(lambda: est.bradley_terry(battles, weights=np.ones(N_CMP)))
    print(f"  model-based with weights           {t_w:7.3f}")
    t_taylor, fit = cpu(lambda: est.bradley_terry(battles, design=design, rater="rater"))
    print(f"  design, Taylor (stratified)        {t_taylor:7.3f}")
    t_raked, _ = cpu(lambda: est.bradley_terry(battles, design=raked, rater="rater"))
    print(f"  design, Taylor (raked)             {t_raked:7.3f}")
    t_boot, bfit = cpu(lambda: est.bradley_terry(battles, design=boot, rater="rater"))
    print(f"  design, {REPLICATES} bootstrap replicates   {t_boot:7.3f}")
    rboot = est.replicate_design(raked, method="bootstrap", replicates=REPLICATES, rng=1)
    t_rboot, _ = cpu(lambda: est.bradley_terry(battles, design=rboot, rater="rater"))
    print(f"  raked, {REPLICATES} bootstrap replicates    {t_rboot:7.3f}  (each re-raked)")
    ratio = (bfit.std_errors / fit.std_errors).to_numpy()
    print(f"  bootstrap SE / Taylor SE: {ratio.min():.3f} .. {ratio.max():.3f}")
    if "--r" in sys.argv:
        run_r(raters, battles)


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survey))
raters <- read.csv("raters.csv", stringsAsFactors = FALSE)
battles <- read.csv("battles.csv", stringsAsFactors = FALSE)
opts <- sort(unique(c(battles$first, battles$second)))
battles$y <- as.numeric(battles$winner == battles$first)
for (k in opts[-1]) battles[[paste0("x_", k)]] <- (battles$first == k) - (battles$second == k)
idx <- match(battles$rater, raters$rater)
battles$weight <- raters$weight[idx]; battles$stratum <- raters$stratum[idx]
fml <- as.formula(paste("y ~ 0 +", paste0("x_", opts[-1], collapse = " + ")))
tm <- system.time({
  des <- svydesign(id = ~rater, strata = ~stratum, weights = ~weight, data = battles)
  fit <- svyglm(fml, design = des, family = quasibinomial())
})
cat(sprintf("%.3f\n", tm[["user.self"]] + tm[["sys.self"]]))
"""


def run_r(raters: pd.DataFrame, battles: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raters.to_csv(Path(tmp) / "raters.csv", index=False)
        battles.to_csv(Path(tmp) / "battles.csv", index=False)
        (Path(tmp) / "bench.R").write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", "bench.R"], cwd=tmp, capture_output=True, text=True,
                             check=False)
        if out.returncode:
            print("  R failed:", out.stderr.strip()[-300:])
            return
        print(f"  R survey::svyglm (design + fit)    {float(out.stdout.split()[-1]):7.3f}")


if __name__ == "__main__":
    main()
