import numpy as np
import pandas as pd
import pytest

from estimators import ColumnError, DesignError, SurveyDesign, ValidationError


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "user": ["u1", "u1", "u2", "u3", "u3", "u4"],
            "stratum": ["a", "a", "a", "b", "b", "b"],
            "w": [1.0, 1.0, 2.0, 2.0, 2.0, 3.0],
            "N": [10, 10, 10, 20, 20, 20],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def test_structure(frame):
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="user", fpc="N")
    assert d.n == 6 and d.n_strata == 2 and d.n_psu == 4
    assert d.weights.index.equals(frame.index)
    assert d.fpc_population.tolist() == [10, 10, 10, 20, 20, 20]
    assert "strata" in repr(d) and "psu" in repr(d)


def test_psu_nested_in_strata():
    df = pd.DataFrame({"s": ["a", "b"], "p": [1, 1]})
    assert SurveyDesign(df, strata="s", psu="p").n_psu == 2


def test_fpc_fraction_and_scalar(frame):
    d = SurveyDesign(frame, strata="stratum", psu="user", fpc=0.5)
    # stratum a has 2 PSUs at fraction 0.5 -> 4 PSUs in the population; b likewise.
    assert d.fpc_population.tolist() == [4, 4, 4, 4, 4, 4]


def test_data_not_mutated(frame):
    before = frame.copy()
    SurveyDesign(frame, weights="w", strata="stratum", psu="user")
    pd.testing.assert_frame_equal(frame, before)


def test_with_weights_records_steps(frame):
    d = SurveyDesign(frame)
    d2 = d.with_weights(np.arange(6.0))
    assert d.weight_array.tolist() == [1.0] * 6
    assert d2.weight_array.tolist() == list(range(6))
    assert d2.psu_codes is d.psu_codes


def test_errors(frame):
    with pytest.raises(ColumnError, match="psu: names columns that are not in the data; got 1 value: 'nope'"):
        SurveyDesign(frame, psu="nope")
    bad = frame.assign(user=[None, "u1", "u2", "u3", "u3", "u4"])
    with pytest.raises(ValidationError, match="psu: design columns must not contain missing values; 1 rows do"):
        SurveyDesign(bad, psu="user")
    with pytest.raises(DesignError, match="fpc: must be constant within each stratum; got 1 value: 'b'"):
        SurveyDesign(frame.assign(N=[10, 10, 10, 20, 21, 20]), strata="stratum", fpc="N")
    with pytest.raises(DesignError, match="fpc: population size is smaller than the number of sampled units"):
        SurveyDesign(frame, strata="stratum", fpc=2)
    with pytest.raises(ValidationError, match="weights: must be non-negative; 1 are negative"):
        SurveyDesign(frame, weights=[1, 1, 1, 1, 1, -1])
