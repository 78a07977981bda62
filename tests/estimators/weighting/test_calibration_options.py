"""calibrate()'s options equal R ``survey::calibrate`` on the ``api`` data (outside truth).

Reference values: ``reference/calibration_options_api.R`` (R survey 4.1.1), committed as
``reference/calibration_options_api.json``; CI never runs R. Weights to 1e-8 relative, the
estimate and SE of a mean and a total on the calibrated design to 1e-7 relative.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators.errors import DataWarning, InfeasibleError, ValidationError

REFERENCE = Path(__file__).parent / "reference"
WEIGHT_TOLERANCE = 1e-8
SE_TOLERANCE = 1e-7
CASES: list[dict[str, Any]] = json.loads(
    (REFERENCE / "calibration_options_api.json").read_text()
)["cases"]
DATA = {
    name: pd.read_csv(REFERENCE / f"weighting_{name}.csv", keep_default_na=False)
    for name in ("apistrat", "apiclus1")
}


def _design(name: str) -> est.SurveyDesign:
    data = DATA[name]
    if name == "apiclus1":
        return est.SurveyDesign(data, psu="dnum", weights="pw", fpc="fpc")
    return est.SurveyDesign(data, strata="stype", weights="pw", fpc="fpc")


def _side(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return np.array([float(v) for v in value])
    return float(value)


def _fit(case: dict[str, Any]) -> Any:
    opts = case["options"]
    kwargs: dict[str, Any] = {"method": opts["method"], "tol": 1e-13, "max_iter": 500}
    if "lower" in opts or "upper" in opts:
        kwargs["bounds"] = (_side(opts.get("lower")), _side(opts.get("upper")))
        kwargs["bounds_on"] = opts.get("bounds_on", "g")
    if "aggregate" in opts:
        kwargs["aggregate"] = opts["aggregate"]
    if "variance" in opts:
        kwargs["variance"] = opts["variance"]
    if "trim" in opts:
        kwargs["trim"] = tuple(opts["trim"])
    totals = {k: ({c: float(t) for c, t in v.items()} if isinstance(v, dict) else float(v))
              for k, v in case["totals"].items()}
    with warnings.catch_warnings():
        # R's example gives 3 negative GREG weights, as calibrate warns
        warnings.simplefilter("ignore", DataWarning)
        return est.calibrate(_design(case["data"]), totals, **kwargs)


def _relative(ours: Any, theirs: Any) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    return float(np.max(np.abs(ours - theirs) / np.abs(theirs)))


def _estimate(result: Any) -> tuple[float, float]:
    frame = result.to_frame()
    return float(frame["estimate"].iloc[0]), float(frame["std_error"].iloc[0])


def _check_estimates(design: Any, case: dict[str, Any]) -> None:
    mean, mean_se = _estimate(design.mean("api00"))
    total, total_se = _estimate(design.total("api00"))
    assert _relative(mean, case["mean_api00"]) <= SE_TOLERANCE
    assert _relative(total, case["total_api00"]) <= SE_TOLERANCE
    assert _relative(mean_se, case["mean_api00_se"]) <= SE_TOLERANCE
    assert _relative(total_se, case["total_api00_se"]) <= SE_TOLERANCE


TAYLOR = [c for c in CASES if c["design"] in ("dc", "ds")]
REPLICATE = [c for c in CASES if c["design"] == "rc"]
def _taylor_param(case: dict[str, Any]) -> Any:
    return pytest.param(case, id=case["name"])


@pytest.mark.reference
@pytest.mark.parametrize("case", [c for c in CASES if c["design"] != "d2"],
                         ids=[c["name"] for c in CASES if c["design"] != "d2"])
def test_weights_equal_r(case: dict[str, Any]) -> None:
    fit = _fit(case)
    assert _relative(fit.weights, case["weights"]) <= WEIGHT_TOLERANCE


@pytest.mark.reference
@pytest.mark.parametrize(
    "case", [_taylor_param(c) for c in TAYLOR if min(c["weights"]) >= 0]
)
def test_linearised_se_equals_r(case: dict[str, Any]) -> None:
    """(R's GREG example with negative weights is left out: a design refuses negative weights.)"""
    _check_estimates(_fit(case).design, case)


@pytest.mark.reference
@pytest.mark.parametrize("case", REPLICATE, ids=[c["name"] for c in REPLICATE])
def test_replicates_rerun_the_options_as_r(case: dict[str, Any]) -> None:
    """JK1 replicate weights re-calibrated with the same options equal R's, column by column."""
    replicate = est.replicate_design(_fit(case).design, method="jk1")
    ours = replicate.replicate_weights()
    theirs = np.array(case["replicate_weights"]).T
    # match columns by the cluster each replicate deletes (R orders clusters as they appear)
    deleted = [tuple(np.flatnonzero(ours[:, j] == 0)) for j in range(ours.shape[1])]
    order = [deleted.index(tuple(np.flatnonzero(theirs[:, j] == 0)))
             for j in range(theirs.shape[1])]
    ours = ours[:, order]
    kept = theirs != 0
    assert np.max(np.abs(ours[kept] - theirs[kept]) / np.abs(theirs[kept])) <= WEIGHT_TOLERANCE
    _check_estimates(replicate, case)


# -- calibration within first-stage clusters (R's stage = 1, two-stage apiclus2) ----------------------

CLUS2 = pd.read_csv(REFERENCE / "calibration_options_apiclus2.csv")
STAGE = [c for c in CASES if c["design"] == "d2"]


def _stage_fit(case: dict[str, Any]) -> Any:
    frame = CLUS2.assign(w=case["design_weights"], w1=case["stage_weights"], school="all")
    totals: dict[int, dict[str, Any]] = {}
    for district, spec in case["totals"].items():
        # R's intercept is the count of schools: a margin of a constant column here
        totals[int(district)] = {
            ("school" if k == "(Intercept)" else k):
            ({"all": float(v)} if k == "(Intercept)" else float(v))
            for k, v in spec.items()
        }
    design = est.SurveyDesign(frame, psu="dnum", weights="w", fpc="fpc1")
    return est.calibrate(design, totals, within="dnum", stage_weights="w1",
                         variance=case["options"].get("variance"))


@pytest.mark.reference
@pytest.mark.parametrize("case", STAGE, ids=[c["name"] for c in STAGE])
def test_within_clusters_equals_r_stage_1(case: dict[str, Any]) -> None:
    """Weights, and the ultimate-cluster SE (R with options(survey.ultimate.cluster = TRUE))."""
    fit = _stage_fit(case)
    assert _relative(fit.weights, case["weights"]) <= WEIGHT_TOLERANCE
    _check_estimates(fit.design, case)


@pytest.mark.reference
@pytest.mark.parametrize("case", STAGE, ids=[c["name"] for c in STAGE])
def test_within_clusters_multistage_variance_equals_r_default(case: dict[str, Any]) -> None:
    """The two-stage design (R's default variance): the districts' totals as they are, each
    district's second-stage contribution on the residuals of its own calibration."""
    frame = CLUS2.assign(w=case["design_weights"], w1=case["stage_weights"], school="all")
    totals = {
        int(district): {("school" if k == "(Intercept)" else k):
                        ({"all": float(v)} if k == "(Intercept)" else float(v))
                        for k, v in spec.items()}
        for district, spec in case["totals"].items()
    }
    design = est.SurveyDesign(frame, psu=["dnum", "snum"], weights="w", fpc=["fpc1", "fpc2"])
    fit = est.calibrate(design, totals, within="dnum", stage_weights="w1",
                        variance=case["options"].get("variance"))
    assert _relative(fit.weights, case["weights"]) <= WEIGHT_TOLERANCE
    _check_estimates(fit.design, case["multistage"])


# -- errors: one test per message ---------------------------------------------------------------------

SMALL = pd.DataFrame({
    "sex": ["f", "f", "m", "m", "m"],
    "income": [10.0, 20.0, 15.0, 30.0, 25.0],
    "cluster": [1, 1, 2, 2, 3],
})
SMALL_TOTALS = {"sex": {"f": 50, "m": 50}, "income": 2000.0}


def _small(**options: Any) -> Any:
    return est.calibrate(SMALL, SMALL_TOTALS, weights=[20.0] * 5, **options)


def test_bounds_per_row_need_one_value_per_row() -> None:
    with pytest.raises(ValidationError, match="upper bounds per row must have one value per row"):
        _small(bounds=(0.5, [2.0, 2.0]))


def test_bounds_per_row_must_be_numbers() -> None:
    with pytest.raises(ValidationError, match="lower bounds per row must be numbers"):
        _small(bounds=(["a"] * 5, 2.0))


def test_bounds_per_row_must_not_be_nan() -> None:
    with pytest.raises(ValidationError, match="lower bounds per row must not be NaN"):
        _small(bounds=([0.5, np.nan, 0.5, 0.5, 0.5], 2.0))


def test_bounds_per_row_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="every row's lower bound must be smaller"):
        _small(bounds=([0.5, 3.0, 0.5, 0.5, 0.5], 2.0))


def test_infeasible_bounds_per_row() -> None:
    with pytest.raises(InfeasibleError, match="within its row's bounds meet every total"):
        _small(bounds=([0.99] * 5, [1.01] * 5))


def test_variance_column_must_exist() -> None:
    with pytest.raises(ValidationError, match="names a column that is not in the data"):
        _small(variance="wealth")


def test_variance_needs_one_value_per_row() -> None:
    with pytest.raises(ValidationError, match="variance: must have one value per row"):
        _small(variance=[1.0, 2.0])


def test_variance_must_be_numbers() -> None:
    with pytest.raises(ValidationError, match="variance: must be numbers"):
        _small(variance=["a", "b", "c", "d", "e"])


def test_variance_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="must be positive and finite in every row"):
        _small(variance=[1.0, 0.0, 1.0, 1.0, 1.0])


def test_aggregate_must_not_be_missing() -> None:
    with pytest.raises(ValidationError, match="aggregate: has missing values"):
        _small(aggregate=[1, 1, None, 2, 2])


def test_trim_must_be_a_pair() -> None:
    with pytest.raises(ValidationError, match="trim: must be None or a pair"):
        _small(trim=1.5)


def test_trim_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="trim: needs numbers with lower < upper"):
        _small(trim=(1.5, 0.5))


def test_trim_needs_some_g_inside() -> None:
    with pytest.raises(ValidationError, match="every calibrated g lies outside the trimming range"):
        _small(trim=(0.1, 0.2))


# -- behaviour ----------------------------------------------------------------------------------------


def test_aggregate_makes_g_constant_within_clusters() -> None:
    frame = SMALL.assign(income=[10.0, 20.0, 15.0, 30.0, 25.0])
    fit = est.calibrate(frame, {"income": 2000.0}, weights=[20.0] * 5, aggregate="cluster")
    g = fit.g.to_numpy()
    assert g[0] == g[1] and g[2] == g[3]
    assert fit.converged


def test_trim_keeps_the_weight_total() -> None:
    fit = _small(method="raking", trim=(0.9, 1.1))
    plain = _small(method="raking")
    assert float(fit.weights.sum()) == pytest.approx(float(plain.weights.sum()), rel=1e-12)
    assert fit.g.min() >= 0.9 - 1e-12


def test_aggregate_warns_when_base_weights_differ_within_a_group() -> None:
    with pytest.warns(DataWarning, match="base weights differ within 1 groups"):
        est.calibrate(SMALL, {"income": 2200.0}, weights=[20.0, 30.0, 20.0, 20.0, 20.0],
                      aggregate="cluster")


WITHIN_TOTALS = {1: {"income": 600.0}, 2: {"income": 900.0}, 3: {"income": 500.0}}


def _within(**options: Any) -> Any:
    frame = SMALL.assign(w1=5.0)
    kwargs: dict[str, Any] = {"within": "cluster", "stage_weights": "w1"}
    kwargs.update(options)
    return est.calibrate(frame, kwargs.pop("totals", WITHIN_TOTALS), weights=[20.0] * 5, **kwargs)


def test_within_clusters_meets_each_cluster_total() -> None:
    fit = _within()
    w = fit.weights.to_numpy() / 5.0  # conditional weights within the clusters
    income = SMALL["income"].to_numpy()
    for c, spec in WITHIN_TOTALS.items():
        rows = SMALL["cluster"].to_numpy() == c
        assert float(w[rows] @ income[rows]) == pytest.approx(spec["income"], rel=1e-12)


def test_within_is_unbounded_linear_only() -> None:
    with pytest.raises(ValidationError, match="within first-stage clusters is unbounded linear"):
        _within(method="raking")


def test_within_must_not_be_missing() -> None:
    with pytest.raises(ValidationError, match="within: has missing values"):
        _within(within=[1, 1, None, 2, 3])


def test_within_needs_stage_weights() -> None:
    with pytest.raises(ValidationError, match="stage_weights: is needed with within="):
        _within(stage_weights=None)


def test_stage_weights_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="stage_weights: must be positive and finite"):
        _within(stage_weights=[5.0, 5.0, 0.0, 0.0, 5.0])


def test_stage_weights_must_be_constant_within_clusters() -> None:
    with pytest.raises(ValidationError, match="must be constant within each cluster"):
        _within(stage_weights=[5.0, 6.0, 5.0, 5.0, 5.0])


def test_within_totals_must_be_per_cluster() -> None:
    with pytest.raises(ValidationError, match="must map each cluster to its totals"):
        _within(totals=[600.0, 900.0, 500.0])


def test_within_totals_for_every_cluster() -> None:
    with pytest.raises(ValidationError, match="has no totals for some clusters of within="):
        _within(totals={1: {"income": 600.0}})


def test_aggregate_psu_uses_the_design_clusters() -> None:
    case = next(c for c in CASES if c["name"] == "aggregate_raking_stype_api99")
    by_column = _fit(case)
    case_psu = {**case, "options": {**case["options"], "aggregate": "psu"}}
    by_psu = _fit(case_psu)
    np.testing.assert_array_equal(by_psu.weights.to_numpy(), by_column.weights.to_numpy())


def test_bounds_as_r_list() -> None:
    lower = [0.5] * 5
    as_dict = _small(bounds={"lower": lower, "upper": 1.5})
    as_pair = _small(bounds=(lower, 1.5))
    np.testing.assert_array_equal(as_dict.weights.to_numpy(), as_pair.weights.to_numpy())
