import numpy as np
import pandas as pd
import pytest

from estimators import ColumnError, ValidationError
from estimators._lib.validation import (
    as_float_array,
    as_frame,
    as_int,
    as_rng,
    as_weights,
    check_columns,
    check_option,
    check_positive,
    check_probability,
    describe_values,
)


def test_describe_values_counts_and_truncates():
    assert describe_values(["a"]) == "1 value: 'a'"
    assert describe_values(range(7)) == "7 values, first 5: 0, 1, 2, 3, 4"
    assert describe_values([np.int64(3), np.float64(2.5)]) == "2 values: 3, 2.5"


def test_check_option():
    assert check_option("a", ("a", "b"), "method") == "a"
    with pytest.raises(ValidationError, match=r"method: must be one of 'a', 'b'; got 1 value: 'c'"):
        check_option("c", ("a", "b"), "method")


def test_as_frame_rejects_non_frames_and_duplicate_index():
    with pytest.raises(ValidationError, match="data: must be a pandas DataFrame; got 1 value: 'list'"):
        as_frame([1, 2])
    df = pd.DataFrame({"x": [1, 2, 3]}, index=[0, 0, 1])
    with pytest.raises(ValidationError, match=r"index labels must be unique.*1 value: 0.*reset_index"):
        as_frame(df)


def test_check_columns_names_missing_and_available():
    df = pd.DataFrame({"x": [1], "y": [2]})
    with pytest.raises(ColumnError, match=r"strata: names columns that are not in the data; got 1 value: 'z'.*'x', 'y'"):
        check_columns(df, ["x", "z"], "strata")


def test_as_float_array_rules():
    assert as_float_array([1, 2], "x").dtype == np.float64
    with pytest.raises(ValidationError, match=r"x: must be finite \(no NaN or inf\); 1 are not; got 1 value: 'position 1: nan'"):
        as_float_array([1, np.nan], "x")
    with pytest.raises(ValidationError, match="x: must be non-negative; 1 are negative"):
        as_float_array([1, -2], "x", nonnegative=True)
    with pytest.raises(ValidationError, match="x: must be strictly positive; 1 are not"):
        as_float_array([0, 2], "x", positive=True)
    with pytest.raises(ValidationError, match=r"x: must have length 3 \(one value per row\)"):
        as_float_array([1, 2], "x", length=3)
    with pytest.raises(ValidationError, match="x: must be 1-dimensional"):
        as_float_array([[1, 2]], "x")
    with pytest.raises(ValidationError, match="x: must be numeric"):
        as_float_array(["a"], "x")
    with pytest.raises(ValidationError, match=r"x: must be numeric; 2 of 4 values are not.*"
                       r"position 1: 'x'.*position 3: 'n/a'"):
        as_float_array(["1", "x", 2.5, "n/a"], "x")


def test_as_weights_forms():
    df = pd.DataFrame({"w": [1.0, 2.0]}, index=["a", "b"])
    assert as_weights(None, df).tolist() == [1.0, 1.0]
    assert as_weights("w", df).tolist() == [1.0, 2.0]
    assert as_weights(pd.Series([5.0, 4.0], index=["b", "a"]), df).tolist() == [4.0, 5.0]
    with pytest.raises(ValidationError, match="a weights Series must have a value for every row label"):
        as_weights(pd.Series([1.0], index=["a"]), df)


def test_scalars_and_rng():
    assert as_int(3.0, "n") == 3
    with pytest.raises(ValidationError, match="n: must be an integer"):
        as_int(2.5, "n")
    with pytest.raises(ValidationError, match="n: must be >= 1"):
        as_int(0, "n", minimum=1)
    with pytest.raises(ValidationError, match="n: must be <= 3"):
        as_int(4, "n", maximum=3)
    assert check_positive(2, "b") == 2.0
    with pytest.raises(ValidationError, match="b: must be finite and > 0"):
        check_positive(0, "b")
    with pytest.raises(ValidationError, match="b: must be a real number"):
        check_positive("x", "b")
    assert check_probability(0.5, "p") == 0.5
    with pytest.raises(ValidationError, match="p: must lie strictly between 0 and 1"):
        check_probability(1.0, "p")
    g = np.random.default_rng(1)
    assert as_rng(g) is g
    assert as_rng(3).integers(100) == np.random.default_rng(3).integers(100)
    with pytest.raises(ValidationError, match="rng: must be None, an int seed"):
        as_rng("seed")
    with pytest.raises(ValidationError, match="rng: a seed must be >= 0"):
        as_rng(-1)
