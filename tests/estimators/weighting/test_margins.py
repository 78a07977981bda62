"""Margin parsing and the checks of targets against data (one test per error message)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimators import ColumnError, MarginError, ValidationError
from estimators.weighting._margins import MISSING_LEVEL, build_problem, parse_targets


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": ["f", "f", "m", "m", "m", "f"],
            "age": ["y", "o", "y", "o", "o", "o"],
            "income": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )


def problem(df: pd.DataFrame, margins, **kw):
    return build_problem(df, parse_targets(margins, allow_numeric=True), np.ones(len(df)), **kw)


SEX = {"f": 0.5, "m": 0.5}
AGE = {"y": 0.4, "o": 0.6}


# -- accepted forms -----------------------------------------------------------------------------
def test_shares_are_scaled_to_the_base_weight_total(df) -> None:
    p = problem(df, {"sex": SEX})
    (m,) = p.margins
    assert m.given_as == "shares" and np.allclose(m.targets, [3.0, 3.0])


def test_counts_set_the_population_total(df) -> None:
    p = problem(df, {"sex": {"f": 510, "m": 490}, "age": AGE})
    assert p.population_total == 1000
    assert np.allclose(p.margins[1].targets, [400, 600])


def test_population_total_scales_shares(df) -> None:
    p = problem(df, {"sex": SEX}, population_total=200)
    assert np.allclose(p.margins[0].targets, [100, 100])


def test_joint_margin_with_tuple_keys(df) -> None:
    joint = {("f", "y"): 1, ("f", "o"): 2, ("m", "y"): 1, ("m", "o"): 2}
    p = problem(df, {("sex", "age"): joint})
    (m,) = p.margins
    assert m.columns == ("sex", "age") and m.name == "sex x age"
    assert np.allclose(m.targets, [1, 2, 1, 2])


def test_long_data_frame_and_series_forms_agree(df) -> None:
    long = pd.DataFrame(
        {"variable": ["sex", "sex", "age", "age"], "category": ["f", "m", "y", "o"],
         "target": [0.5, 0.5, 0.4, 0.6]}
    )
    a = problem(df, long)
    b = problem(df, {"sex": pd.Series(SEX), "age": AGE})
    for x, y in zip(a.margins, b.margins):
        assert x.labels == y.labels and np.allclose(x.targets, y.targets)


def test_long_data_frame_numeric_total(df) -> None:
    long = pd.DataFrame({"variable": ["sex", "sex", "income"], "category": ["f", "m", None],
                         "target": [0.5, 0.5, 30.0]})
    p = build_problem(df, parse_targets(long, allow_numeric=True), np.ones(6))
    assert p.numeric[0][0] == "income" and p.numeric[0][1] == 30.0


def test_missing_as_own_level(df) -> None:
    df.loc[0, "sex"] = None
    p = problem(df, {"sex": {"f": 0.4, "m": 0.4, MISSING_LEVEL: 0.2}}, on_missing="level")
    assert p.margins[0].labels == ("f", "m", MISSING_LEVEL)
    assert p.cells.row_counts.sum() == 6


def test_missing_dropped_explicitly_and_reported(df) -> None:
    df.loc[[0, 3], "age"] = np.nan
    p = problem(df, {"sex": SEX, "age": AGE}, on_missing="drop")
    assert list(p.dropped_rows) == [0, 3]
    assert p.base_weights[[0, 3]].tolist() == [0.0, 0.0]
    assert p.population_total == 4.0


def test_empty_category_dropped_and_renormalised(df) -> None:
    p = problem(df, {"sex": SEX, "age": {"y": 0.3, "o": 0.5, "old": 0.2}}, on_empty_category="drop")
    assert p.dropped_categories == (("age", "old"),)
    age = p.margins[1]
    assert age.labels == ("y", "o") and np.allclose(age.targets, [6 * 0.3 / 0.8, 6 * 0.5 / 0.8])


def test_zero_target_on_unsampled_category_is_left_out(df) -> None:
    p = problem(df, {"sex": {"f": 0.5, "m": 0.5, "x": 0.0}})
    assert p.margins[0].labels == ("f", "m")


def test_totals_within_tolerance_are_aligned_and_normalize_reads_shares(df) -> None:
    p = problem(df, {"sex": {"f": 500, "m": 500}, "age": {"y": 400, "o": 600.0000001}})
    assert np.isclose(p.margins[1].targets.sum(), 1000, rtol=1e-12)
    q = problem(df, {"sex": {"f": 500, "m": 500}, "age": {"y": 40, "o": 60}},
                on_total_mismatch="normalize")
    assert np.allclose(q.margins[1].targets, [400, 600])


# -- errors, one per message -----------------------------------------------------------------
def test_error_not_a_mapping() -> None:
    with pytest.raises(ValidationError, match="must be a dict of margins or a DataFrame"):
        parse_targets([("sex", "f", 0.5)])


def test_error_empty() -> None:
    with pytest.raises(MarginError, match="must contain at least one margin"):
        parse_targets({})


def test_error_numeric_total_in_rake() -> None:
    with pytest.raises(MarginError, match="numeric totals are not categorical margins"):
        parse_targets({"income": 1.2e9})


def test_error_numeric_total_tuple_key() -> None:
    with pytest.raises(MarginError, match="a numeric total names one column"):
        parse_targets({("a", "b"): 3.0}, allow_numeric=True)


def test_error_numeric_total_not_finite() -> None:
    with pytest.raises(MarginError, match="the total of 'income' must be finite"):
        parse_targets({"income": float("inf")}, allow_numeric=True)


def test_error_repeated_joint_column() -> None:
    with pytest.raises(MarginError, match="a joint margin must name distinct columns"):
        parse_targets({("sex", "sex"): {("f", "f"): 1}})


def test_error_margin_not_a_mapping() -> None:
    with pytest.raises(MarginError, match="margin 'sex' must map categories to targets"):
        parse_targets({"sex": [0.5, 0.5]})


def test_error_no_categories() -> None:
    with pytest.raises(MarginError, match="margin 'sex' has no categories"):
        parse_targets({"sex": {}})


def test_error_joint_keys_not_tuples() -> None:
    with pytest.raises(MarginError, match="must be tuples of 2 labels"):
        parse_targets({("sex", "age"): {"f": 1.0}})


def test_error_repeated_categories_in_long_frame() -> None:
    long = pd.DataFrame({"variable": ["sex", "sex"], "category": ["f", "f"], "target": [1, 1]})
    with pytest.raises(MarginError, match="margin 'sex' repeats categories"):
        parse_targets(long)


def test_error_long_frame_columns() -> None:
    with pytest.raises(MarginError, match="needs the columns variable, category, target"):
        parse_targets(pd.DataFrame({"var": ["sex"], "cat": ["f"], "share": [1.0]}))


def test_error_numeric_total_twice() -> None:
    long = pd.DataFrame({"variable": ["x", "x"], "category": [None, None], "target": [1, 2]})
    with pytest.raises(MarginError, match="a numeric total is given twice or mixed with categories"):
        parse_targets(long, allow_numeric=True)


def test_error_numeric_total_mixed_with_categories() -> None:
    long = pd.DataFrame({"variable": ["x", "x"], "category": [None, "a"], "target": [1, 2]})
    with pytest.raises(MarginError, match="a numeric total is mixed with categories"):
        parse_targets(long, allow_numeric=True)


def test_error_bad_target_values() -> None:
    with pytest.raises(MarginError, match="must be finite non-negative numbers; got 2 values"):
        parse_targets({"sex": {"f": -0.1, "m": float("nan")}})


def test_error_targets_sum_to_zero() -> None:
    with pytest.raises(MarginError, match="targets of margin 'sex' sum to zero"):
        parse_targets({"sex": {"f": 0, "m": 0}})


def test_error_unknown_column(df) -> None:
    with pytest.raises(ColumnError, match="names columns that are not in the data; got 1 value: 'region'"):
        problem(df, {"region": {"n": 1.0}})


def test_error_missing_values_raise(df) -> None:
    df.loc[2, "sex"] = None
    with pytest.raises(MarginError, match="weighting columns have missing values in 1 rows"):
        problem(df, {"sex": SEX})


def test_error_missing_level_for_numeric_column(df) -> None:
    df.loc[2, "income"] = np.nan
    with pytest.raises(MarginError, match="weighting columns have missing values"):
        problem(df, {"sex": SEX, "income": 20.0}, on_missing="level")


def test_error_every_row_missing(df) -> None:
    df["sex"] = None
    with pytest.raises(MarginError, match="every row has a missing weighting value"):
        problem(df, {"sex": SEX}, on_missing="drop")


def test_error_numeric_column_not_numeric(df) -> None:
    with pytest.raises(MarginError, match="numeric total column 'sex' is not numeric"):
        problem(df, {"sex": 3.0})


def test_error_numeric_column_infinite(df) -> None:
    df.loc[1, "income"] = np.inf
    with pytest.raises(MarginError, match="column 'income' has infinite values"):
        problem(df, {"income": 3.0})


def test_error_data_category_without_target(df) -> None:
    with pytest.raises(MarginError, match="the data have categories of 'age' that have no target; got 1 value: 'o'"):
        problem(df, {"age": {"y": 1.0}})


def test_error_data_joint_cell_without_target(df) -> None:
    with pytest.raises(MarginError, match="the data have joint cells of 'sex x age' that have no target"):
        problem(df, {("sex", "age"): {("f", "y"): 1, ("f", "o"): 1, ("m", "y"): 1}})


def test_error_zero_target_on_populated_category(df) -> None:
    with pytest.raises(MarginError, match="has zero targets for categories that have sample rows"):
        problem(df, {"sex": {"f": 1.0, "m": 0.0}})


def test_error_target_category_absent_from_data(df) -> None:
    with pytest.raises(MarginError, match="margin 'age' has target categories with no sample"):
        problem(df, {"age": {"y": 0.3, "o": 0.5, "old": 0.2}})


def test_error_empty_joint_cell(df) -> None:
    joint = {("f", "y"): 1, ("f", "o"): 1, ("m", "y"): 1, ("m", "o"): 1, ("x", "y"): 1}
    with pytest.raises(MarginError, match="has target joint cells with no sample"):
        problem(df, {("sex", "age"): joint})


def test_error_totals_disagree(df) -> None:
    with pytest.raises(MarginError, match="count margins disagree on the population total"):
        problem(df, {"sex": {"f": 500, "m": 500}, "age": {"y": 40, "o": 60}})


def test_error_totals_disagree_with_population_total(df) -> None:
    with pytest.raises(MarginError, match=r"age: 100"):
        problem(df, {"age": {"y": 40, "o": 60}}, population_total=1000)


def test_error_bad_option(df) -> None:
    with pytest.raises(ValidationError, match="on_missing: must be one of 'raise', 'level', 'drop'"):
        problem(df, {"sex": SEX}, on_missing="ignore")


def test_targets_summing_to_nearly_one_are_refused_not_guessed():
    import pytest

    from estimators import MarginError
    from estimators.weighting._margins import parse_targets

    with pytest.raises(MarginError, match="sum to nearly but not exactly 1"):
        parse_targets({"sex": {"f": 0.5, "m": 0.49}})
    assert parse_targets({"sex": {"f": 0.5, "m": 0.5}}).margins[0].is_shares
    assert not parse_targets({"sex": {"f": 510.0, "m": 490.0}}).margins[0].is_shares
