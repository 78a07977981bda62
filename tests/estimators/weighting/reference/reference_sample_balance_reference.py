"""Generate outside-truth reference values from Meta's `balance` package.

Run inside the balance venv (see README.txt):
    OPENBLAS_NUM_THREADS=1 /work/scratch/venv-balance/bin/python balance_reference.py

Reads optin_sample.csv / optin_sample_weighted.csv / optin_reference.csv / optin_truth.json
(written by make_optin.py) and balance's own simulated data (balance.load_data()).
Writes balance_reference.json next to this file.

Only balance's public objects and functions are *called* here; the independent checks
(`check_*` keys) are small re-implementations written from the formulas in `notes`
and are used to confirm that the notes describe what balance actually does.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __name__ != "__main__":  # collected by pytest: this script needs balance's own environment
    import pytest

    pytest.skip("outside-truth generator; run it with balance installed", allow_module_level=True)

import balance
import numpy as np
import pandas as pd
import scipy
import sklearn
import statsmodels
import statsmodels.api as sm
from balance import Sample, load_data
from balance.stats_and_plots import weighted_comparisons_stats as wcs
from balance.stats_and_plots.weighted_stats import descriptive_stats
from sklearn.linear_model import LogisticRegression

logging.getLogger("balance").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))


from reference_sample_balance_notes import NOTES  # noqa: E402  (prose notes, kept in a separate file)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def fnum(x):
    """float -> JSON-safe float (NaN/inf -> None)."""
    x = float(x)
    return x if np.isfinite(x) else None


def series_to_table(s: pd.Series) -> list[dict]:
    out = []
    for k, v in s.items():
        if k == "mean(asmd)":
            continue
        main = k.split("[")[0]
        out.append({"column": k, "covariate": main, "level": (k[len(main):] or None), "value": fnum(v)})
    return out


def id_out(x):
    try:
        return int(x)
    except Exception:
        return str(x)


def make_sample(df, covars, outcome, weight_col=None, id_col="id"):
    cols = [id_col] + covars + [outcome] + ([weight_col] if weight_col else [])
    d = df.loc[:, cols].copy()
    return Sample.from_frame(
        d, id_column=id_col, weight_column=weight_col, outcome_columns=[outcome]
    )


def sample_weights_series(smp: Sample) -> pd.Series:
    d = smp.df
    return pd.Series(d["weight"].to_numpy(dtype=float), index=d["id"].map(id_out).to_numpy())


def asmd_block(S: Sample, T: Sample) -> dict:
    """ASMD of S vs T as balance computes it (Sample API + the underlying function)."""
    st = S.set_target(T)
    per_level = st.covars().asmd(on_linked_samples=False).iloc[0]
    agg = st.covars().asmd(on_linked_samples=False, aggregate_by_main_covar=True).iloc[0]

    # underlying function, on the model matrices that BalanceDF builds for each frame
    mm_s = S.covars().model_matrix()
    mm_t = T.covars().model_matrix()
    ws = S.weights().df.iloc[:, 0].to_numpy(dtype=float)
    wt = T.weights().df.iloc[:, 0].to_numpy(dtype=float)
    direct = {}
    for std_type in ("target", "sample", "pooled"):
        r = wcs.asmd(mm_s, mm_t, ws, wt, std_type=std_type)
        direct[std_type] = {"per_level": series_to_table(r), "mean_asmd": fnum(r["mean(asmd)"])}
    direct_agg = wcs.asmd(mm_s, mm_t, ws, wt, std_type="target", aggregate_by_main_covar=True)

    # ingredients (balance's weighted mean / weighted sd of each model-matrix column)
    mean_s = descriptive_stats(mm_s, ws, "mean").iloc[0]
    mean_t = descriptive_stats(mm_t, wt, "mean").iloc[0]
    sd_t = descriptive_stats(mm_t, wt, "std").iloc[0]
    sd_s = descriptive_stats(mm_s, ws, "std").iloc[0]

    # independent check of the documented formula (target sd, reliability-weights variance)
    chk = {}
    for c in per_level.index:
        if c == "mean(asmd)":
            continue
        xs = mm_s[c].to_numpy(float)
        xt = mm_t[c].to_numpy(float)
        ms = np.sum(ws * xs) / ws.sum()
        mt = np.sum(wt * xt) / wt.sum()
        v1, v2 = wt.sum(), np.sum(wt**2)
        var_t = v1 / (v1**2 - v2) * np.sum(wt * (xt - mt) ** 2)
        chk[c] = abs(ms - mt) / np.sqrt(var_t)
    chk_s = pd.Series(chk)
    max_diff = float(np.nanmax(np.abs(chk_s - per_level.drop("mean(asmd)"))))

    return {
        "per_level": series_to_table(per_level),
        "mean_asmd": fnum(per_level["mean(asmd)"]),
        "aggregated_by_main_covar": {k: fnum(v) for k, v in agg.items()},
        "model_matrix_columns_sample": list(mm_s.columns),
        "model_matrix_columns_target": list(mm_t.columns),
        "ingredients": {
            c: {
                "sample_wmean": fnum(mean_s[c]) if c in mean_s else None,
                "target_wmean": fnum(mean_t[c]) if c in mean_t else None,
                "target_wsd": fnum(sd_t[c]) if c in sd_t else None,
                "sample_wsd": fnum(sd_s[c]) if c in sd_s else None,
            }
            for c in sorted(set(mm_s.columns) | set(mm_t.columns))
        },
        "direct_function": direct,
        "direct_function_aggregated": {k: fnum(v) for k, v in direct_agg.items()},
        "check_independent_reimplementation_max_abs_diff": max_diff,
    }


def adjusted_summary(adj: Sample, outcome: str, truth: float | None, elapsed: float) -> dict:
    d = adj.df
    w = adj.weights().df.iloc[:, 0].to_numpy(dtype=float)
    assert len(w) == len(d)
    ids = [id_out(x) for x in d["id"]]
    y = d[outcome].to_numpy(dtype=float)
    asmd_after = adj.covars().asmd(on_linked_samples=False).iloc[0]
    asmd_after_agg = adj.covars().asmd(on_linked_samples=False, aggregate_by_main_covar=True).iloc[0]
    asmd_before = adj.covars().asmd()  # rows: self, unadjusted, unadjusted - self
    wmean = float(np.sum(w * y) / np.sum(w))
    out = {
        "seconds": elapsed,
        "ids": ids,
        "weights_raw": [float(x) for x in w],
        "weights_normalised_sum1": [float(x) for x in w / w.sum()],
        "sum_weights_raw": float(w.sum()),
        "design_effect_balance": fnum(adj.weights().design_effect()),
        "design_effect_check_mean_w2_over_mean_w_sq": float(np.mean(w**2) / np.mean(w) ** 2),
        "mean_asmd_after": fnum(asmd_after["mean(asmd)"]),
        "mean_asmd_before": fnum(asmd_before.loc["unadjusted", "mean(asmd)"]),
        "asmd_after_per_level": series_to_table(asmd_after),
        "asmd_after_aggregated": {k: fnum(v) for k, v in asmd_after_agg.items()},
        "weighted_mean_outcome": wmean,
    }
    if truth is not None:
        out["truth"] = truth
        out["bias"] = wmean - truth
    return out


def model_info_ipw(adj: Sample) -> dict:
    m = adj.model
    m = m() if callable(m) else m
    perf = m.get("perf", {})
    fit = m.get("fit")
    info = {
        "X_matrix_columns": list(m.get("X_matrix_columns", [])),
        "lambda": fnum(m["lambda"]) if m.get("lambda") is not None else None,
        "weight_trimming_mean_ratio": m.get("weight_trimming_mean_ratio"),
        "balance_classes": m.get("balance_classes"),
        "one_hot_encoding": m.get("one_hot_encoding"),
        "prop_dev_explained": fnum(perf.get("prop_dev_explained", np.nan)),
        "deviance": fnum(perf.get("deviance", np.nan)),
        "null_deviance": fnum(perf.get("null_deviance", np.nan)),
    }
    for k in ("lambda_min", "cv_dev_mean", "min_cv_dev_mean", "min_cv_dev_sd"):
        if k in perf:
            info[k] = fnum(perf[k])
    if fit is not None and hasattr(fit, "coef_"):
        info["sklearn_coef_on_fitted_scale"] = [float(x) for x in np.ravel(fit.coef_)]
        info["sklearn_intercept"] = [float(x) for x in np.ravel(fit.intercept_)]
        info["sklearn_C"] = fnum(getattr(fit, "C", np.nan))
    return info


def mle_check(S_df, T_df, covars, ws, wt, balance_w: pd.Series) -> dict:
    """Independent weighted-logistic MLE (statsmodels GLM, full-rank design) + documented
    weight formula; compared with balance's unpenalised IPW weights."""
    X = pd.concat([S_df[covars], T_df[covars]], axis=0).reset_index(drop=True).copy()
    for c in covars:
        if X[c].dtype == object or str(X[c].dtype).startswith(("str", "string", "category")):
            X[c] = X[c].astype(object).where(X[c].notna(), "_NA").astype(str)
    D = pd.get_dummies(X, drop_first=True, dtype=float)
    D.insert(0, "const", 1.0)
    y = np.r_[np.ones(len(S_df)), np.zeros(len(T_df))]
    odds = ws.sum() / wt.sum()
    mw = np.r_[ws, wt * odds]
    res = sm.GLM(y, D.to_numpy(), family=sm.families.Binomial(), freq_weights=mw).fit(tol=1e-14, maxiter=200)
    p = res.predict(D.to_numpy())[: len(S_df)]
    w = ws * (1 - p) / p
    w = w / w.sum()
    b = balance_w.to_numpy(float)
    b = b / b.sum()
    return {
        "design_columns": list(D.columns),
        "max_abs_diff_normalised_weights": float(np.max(np.abs(w - b))),
        "max_rel_diff_normalised_weights": float(np.max(np.abs(w - b) / w)),
    }


def run_adjust(st: Sample, **kw):
    t0 = time.perf_counter()
    adj = st.adjust(**kw)
    return adj, time.perf_counter() - t0


# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------
def dataset_balance_sim():
    target_df, sample_df = load_data()
    rng = np.random.default_rng(424242)
    sample_df = sample_df.copy()
    target_df = target_df.copy()
    # synthetic design weights (this script adds them; balance's data has none)
    sample_df["dw"] = rng.uniform(0.5, 2.0, len(sample_df))
    target_df["dw"] = rng.uniform(0.5, 2.0, len(target_df))
    return sample_df, target_df


def main() -> None:
    covars_i = ["gender", "age_group", "income"]
    covars_ii = ["age", "sex", "education", "income"]

    results: dict = {
        "generated": "2026-12-07",
        "versions": {
            "balance": balance.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "statsmodels": statsmodels.__version__,
            "python": platform.python_version(),
        },
        "datasets": {},
    }

    # ----------------------------------------------------------------- (i)
    s_i, t_i = dataset_balance_sim()
    ds: dict = {
        "description": "balance.datasets.load_data(): sample_df (n=1000) vs target_df (n=10000); "
        "covariates gender (str with NaN), age_group (str), income (float); outcome happiness. "
        "Design weights 'dw' ~ U[0.5,2] (numpy default_rng(424242), sample drawn first then target) "
        "are synthetic, added by this script for the weighted modes.",
        "covariates": covars_i,
        "n_sample": len(s_i),
        "n_target": len(t_i),
        "missing_gender": {"sample": int(s_i["gender"].isna().sum()), "target": int(t_i["gender"].isna().sum())},
        "sample_design_weights": {"ids": [id_out(x) for x in s_i["id"]], "dw": s_i["dw"].tolist()},
        "target_design_weights": {"ids": [id_out(x) for x in t_i["id"]], "dw": t_i["dw"].tolist()},
        "target_mean_happiness_unweighted": float(t_i["happiness"].mean()),
        "target_mean_happiness_weighted_dw": float(np.average(t_i["happiness"], weights=t_i["dw"])),
    }
    S0 = make_sample(s_i, covars_i, "happiness")
    S1 = make_sample(s_i, covars_i, "happiness", "dw")
    T0 = make_sample(t_i, covars_i, "happiness")
    T1 = make_sample(t_i, covars_i, "happiness", "dw")
    ds["asmd"] = {
        "unweighted": asmd_block(S0, T0),
        "sample_weights": asmd_block(S1, T0),
        "sample_and_target_weights": asmd_block(S1, T1),
    }
    ds["adjust"] = run_adjust_suite(
        {"unweighted": (S0, T0, s_i, t_i, None, None), "sample_and_target_weights": (S1, T1, s_i, t_i, "dw", "dw")},
        covars_i, "happiness", truth=None, full_suite_for=("unweighted",),
    )
    results["datasets"]["balance_sim"] = ds

    # ---------------------------------------------------------------- (ii)
    s_ii = pd.read_csv(os.path.join(HERE, "reference_sample_optin_sample.csv"))
    sw_ii = pd.read_csv(os.path.join(HERE, "reference_sample_optin_sample_weighted.csv"))
    r_ii = pd.read_csv(os.path.join(HERE, "reference_sample_optin_reference.csv"))
    with open(os.path.join(HERE, "reference_sample_optin_truth.json")) as f:
        truth = json.load(f)
    ytrue = truth["population_mean_y"]
    ds = {
        "description": "make_optin.py data: opt-in sample (optin_sample.csv; weighted variant "
        "optin_sample_weighted.csv with sample_weight) vs SRS reference optin_reference.csv "
        "(ref_weight = N/n constant; ref_weight_unequal = extra unequal weights).",
        "covariates": covars_ii,
        "n_sample": len(s_ii),
        "n_reference": len(r_ii),
        "population_mean_y": ytrue,
        "sample_mean_y_unweighted": float(s_ii["y"].mean()),
        "sample_mean_y_design_weighted": float(np.average(sw_ii["y"], weights=sw_ii["sample_weight"])),
    }
    S0 = make_sample(s_ii, covars_ii, "y")
    S1 = make_sample(sw_ii, covars_ii, "y", "sample_weight")
    T0 = make_sample(r_ii, covars_ii, "y")
    T1 = make_sample(r_ii, covars_ii, "y", "ref_weight")
    T2 = make_sample(r_ii, covars_ii, "y", "ref_weight_unequal")
    ds["asmd"] = {
        "unweighted": asmd_block(S0, T0),
        "sample_weights": asmd_block(S1, T0),
        "sample_and_reference_weights": asmd_block(S1, T1),
        "sample_and_reference_unequal_weights": asmd_block(S1, T2),
        "reference_weights_only": asmd_block(S0, T1),
    }
    ds["adjust"] = run_adjust_suite(
        {
            "main__unweighted_sample__ref_weight": (S0, T1, s_ii, r_ii, None, "ref_weight"),
            "weighted__sample_weight__ref_weight_unequal": (S1, T2, sw_ii, r_ii, "sample_weight", "ref_weight_unequal"),
        },
        covars_ii, "y", truth=ytrue,
        full_suite_for=("main__unweighted_sample__ref_weight", "weighted__sample_weight__ref_weight_unequal"),
        with_rake=True,
    )
    results["datasets"]["optin"] = ds

    results["notes"] = NOTES
    with open(os.path.join(HERE, "reference_sample_balance_reference.json"), "w") as f:
        json.dump(results, f, indent=1)
    print_headlines(results)


def run_adjust_suite(configs, covars, outcome, truth, full_suite_for, with_rake=False):
    out = {}
    for name, (S, T, sdf, tdf, swcol, twcol) in configs.items():
        st = S.set_target(T)
        ws = sdf[swcol].to_numpy(float) if swcol else np.ones(len(sdf))
        wt = tdf[twcol].to_numpy(float) if twcol else np.ones(len(tdf))
        block = {"sample_weight_column": swcol, "target_weight_column": twcol}

        # (b1) unpenalised logistic via a custom sklearn estimator (penalty=None)
        lr = LogisticRegression(penalty=None, solver="newton-cg", tol=1e-14, max_iter=100000)
        adj, sec = run_adjust(
            st, method="ipw", model=lr, transformations=None,
            weight_trimming_mean_ratio=None, max_de=None,
        )
        r = adjusted_summary(adj, outcome, truth, sec)
        r["model"] = model_info_ipw(adj)
        r["call"] = ("adjust(method='ipw', model=LogisticRegression(penalty=None, solver='newton-cg', tol=1e-14, "
                     "max_iter=100000), transformations=None, weight_trimming_mean_ratio=None, max_de=None)")
        r["check_vs_statsmodels_mle"] = mle_check(sdf, tdf, covars, ws, wt, pd.Series(r["weights_raw"]))
        block["ipw_unpenalised_custom_lr"] = r

        # (b2) built-in path with a single, tiny ridge penalty
        lam = 1e-8
        adj, sec = run_adjust(
            st, method="ipw", transformations=None, weight_trimming_mean_ratio=None,
            max_de=None, num_lambdas=1, lambda_max=lam, lambda_min=lam,
        )
        r = adjusted_summary(adj, outcome, truth, sec)
        r["model"] = model_info_ipw(adj)
        r["call"] = (f"adjust(method='ipw', transformations=None, weight_trimming_mean_ratio=None, max_de=None, "
                     f"num_lambdas=1, lambda_max={lam}, lambda_min={lam})")
        r["check_vs_statsmodels_mle"] = mle_check(sdf, tdf, covars, ws, wt, pd.Series(r["weights_raw"]))
        block["ipw_builtin_lambda_1e-8"] = r

        if name in full_suite_for:
            # (c) default ipw (CV over 250 lambdas, lambda.1se rule, default transformations, trimming 20)
            adj, sec = run_adjust(st, method="ipw")
            r = adjusted_summary(adj, outcome, truth, sec)
            r["model"] = model_info_ipw(adj)
            r["call"] = "adjust(method='ipw')  # all defaults"
            block["ipw_default_cv"] = r

            adj, sec = run_adjust(st, method="cbps")
            r = adjusted_summary(adj, outcome, truth, sec)
            m = adj.model
            m = m() if callable(m) else m
            r["model"] = {
                "X_matrix_columns": list(m.get("X_matrix_columns", [])),
                "beta_optimal": [float(x) for x in np.ravel(m.get("beta_optimal"))],
            }
            r["call"] = "adjust(method='cbps')  # all defaults"
            block["cbps_default"] = r

            if with_rake:
                adj, sec = run_adjust(st, method="rake")
                r = adjusted_summary(adj, outcome, truth, sec)
                r["call"] = "adjust(method='rake')  # all defaults (income -> 10 quantile bins)"
                pooled = pd.concat([sdf["income"], tdf["income"]], ignore_index=True)
                bins = pd.qcut(pooled, 10, duplicates="drop").cat.categories
                r["income_bins_pooled_sample_plus_target"] = [[float(b.left), float(b.right)] for b in bins]
                block["rake_default"] = r
        out[name] = block
    return out


def print_headlines(res):
    for dname, d in res["datasets"].items():
        print(f"== {dname}")
        for mode, a in d["asmd"].items():
            print(f"  asmd {mode}: mean={a['mean_asmd']:.6f} check_diff={a['check_independent_reimplementation_max_abs_diff']:.2e}")
        for cfg, blk in d["adjust"].items():
            for meth, r in blk.items():
                if not isinstance(r, dict):
                    continue
                line = (f"  {cfg} {meth}: t={r['seconds']:.2f}s asmd {r['mean_asmd_before']:.4f}->{r['mean_asmd_after']:.4f} "
                        f"deff={r['design_effect_balance']:.4f} mean={r['weighted_mean_outcome']:.4f}")
                if "bias" in r:
                    line += f" bias={r['bias']:+.4f}"
                if "check_vs_statsmodels_mle" in r:
                    line += f" mle_maxrel={r['check_vs_statsmodels_mle']['max_rel_diff_normalised_weights']:.2e}"
                print(line)


if __name__ == "__main__":
    main()
