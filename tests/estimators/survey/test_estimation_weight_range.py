"""total() with weights so large or small that its variance leaves float64: a clear error."""

import numpy as np
import pandas as pd
import pytest

import estimators as est
from estimators import ValidationError


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_total_rejects_weights_whose_variance_leaves_float_range(scale):
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "w": np.array([1.0, 2.0, 1.0, 3.0]) * scale})
    design = est.SurveyDesign(df, weights="w")
    with pytest.raises(ValidationError, match=r"for a total, positive weights must lie between "
                                              r"1e-150 and 1e150"):
        est.total(design, "y")
    # the mean is scale-free and stays available
    assert est.mean(design, "y").to_frame()["estimate"].iloc[0] == pytest.approx(20 / 7)


def test_total_scales_exactly_inside_the_range():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "w": [1.0, 2.0, 1.0, 3.0]})
    one = est.total(est.SurveyDesign(df, weights="w"), "y").to_frame()
    big = est.total(est.SurveyDesign(df.assign(w=df["w"] * 1e100), weights="w"), "y").to_frame()
    assert big["estimate"].iloc[0] == pytest.approx(1e100 * one["estimate"].iloc[0], rel=1e-14)
    assert big["std_error"].iloc[0] == pytest.approx(1e100 * one["std_error"].iloc[0], rel=1e-12)
