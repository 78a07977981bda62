"""poststratify: every population form, the closed form, replicate reweighting, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimators import MarginError, SurveyDesign, ValidationError, poststratify


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 300
    return pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n, p=[0.7, 0.3]),
            "age": rng.choice(["y", "o"], n, p=[0.6, 0.4]),
            "d": rng.uniform(1, 4, n),
        }
    )


POP = {("f", "y"): 240, ("f", "o"): 270, ("m", "y"): 230, ("m", "o"): 260}


def expected(df: pd.DataFrame) -> np.ndarray:
    keys = list(zip(df["sex"], df["age"]))
    cell_sum = df.groupby(["sex", "age"])["d"].transform("sum").to_numpy()
    return df["d"].to_numpy() * np.array([POP[k] for k in keys]) / cell_sum


def test_two_way_cells_closed_form(df) -> None:
    fit = poststratify(df, POP, cells=["sex", "age"], weights="d")
    assert np.allclose(fit.weights.to_numpy(), expected(df), rtol=1e-13)
    assert fit.converged and fit.n_iter == 1 and fit.max_margin_error < 1e-12
    assert fit.design.weighting_steps[-1].method == "poststratify"


def test_population_forms_agree(df) -> None:
    ref = expected(df)
    table = pd.DataFrame([(s, a, c) for (s, a), c in POP.items()], columns=["sex", "age", "Freq"])
    series = pd.Series(POP)
    series.index.names = ["sex", "age"]
    forms = [
        dict(population=table, cells=["sex", "age"]),
        dict(population=table.rename(columns={"Freq": "count"}).assign(note="x"),
             cells=["sex", "age"]),
        dict(population=series),
        dict(population={("sex", "age"): POP}),
        dict(population={("sex", "age"): POP}, cells=["sex", "age"]),
    ]
    for form in forms:
        fit = poststratify(SurveyDesign(df, weights="d"), **form)
        assert np.allclose(fit.weights.to_numpy(), ref, rtol=1e-13)


def test_one_way_shares_scaled_to_base_total(df) -> None:
    fit = poststratify(df, {"f": 0.5, "m": 0.5}, cells="sex", weights="d")
    got = fit.weights.groupby(df["sex"]).sum()
    assert np.allclose(got.to_numpy(), [df["d"].sum() / 2] * 2)


def test_reweight_matches_refits(df) -> None:
    fit = poststratify(df, POP, cells=["sex", "age"], weights="d")
    reps = np.column_stack([df["d"], df["d"] ** 2])
    out = fit.step.reweight(reps)
    second = poststratify(df, POP, cells=["sex", "age"], weights=df["d"] ** 2)
    assert np.allclose(out[:, 1], second.weights.to_numpy(), rtol=1e-13)


def test_error_cells_empty(df) -> None:
    with pytest.raises(ValidationError, match="cells: must name at least one column"):
        poststratify(df, POP, cells=[])


def test_error_cells_required_for_plain_mapping(df) -> None:
    with pytest.raises(ValidationError, match="must name the cell columns when population maps"):
        poststratify(df, {"f": 1, "m": 1})


def test_error_cells_required_for_table(df) -> None:
    with pytest.raises(ValidationError, match="must name the cell columns of the population table"):
        poststratify(df, pd.DataFrame({"sex": ["f", "m"], "n": [1, 1]}))


def test_error_table_lacks_cell_columns(df) -> None:
    with pytest.raises(MarginError, match="table lacks cell columns"):
        poststratify(df, pd.DataFrame({"sex": ["f", "m"], "n": [1, 1]}), cells=["sex", "age"])


def test_error_ambiguous_count_column(df) -> None:
    table = pd.DataFrame({"sex": ["f", "m"], "a": [1, 1], "b": [2, 2]})
    with pytest.raises(MarginError, match="cannot tell which column holds the population counts"):
        poststratify(df, table, cells=["sex"])


def test_error_repeated_cells(df) -> None:
    table = pd.DataFrame({"sex": ["f", "f", "m"], "count": [1, 1, 2]})
    with pytest.raises(MarginError, match="population: repeats cells"):
        poststratify(df, table, cells=["sex"])


def test_error_unnamed_series(df) -> None:
    with pytest.raises(ValidationError, match="must be given when the Series index has no names"):
        poststratify(df, pd.Series({"f": 1, "m": 1}))


def test_error_population_type(df) -> None:
    with pytest.raises(ValidationError, match="population: must be a dict, a Series or a DataFrame"):
        poststratify(df, [1, 2], cells=["sex"])


def test_error_several_margins(df) -> None:
    with pytest.raises(MarginError, match="post-stratification takes one table of cells"):
        poststratify(df, {"sex": {"f": 1, "m": 1}, "age": {"y": 1, "o": 1}})


def test_error_cells_disagree(df) -> None:
    with pytest.raises(MarginError, match="cells: do not match the population table's columns"):
        poststratify(df, {("sex", "age"): POP}, cells=["age", "sex"])


def test_error_sample_cell_without_population(df) -> None:
    pop = {k: v for k, v in POP.items() if k != ("m", "o")}
    with pytest.raises(MarginError, match="the data have joint cells of 'sex x age' that have no target"):
        poststratify(df, pop, cells=["sex", "age"])
