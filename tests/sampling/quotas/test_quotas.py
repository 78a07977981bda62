"""design_quotas: the embedded UK 50-cell table by every method, inputs, margins, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators import ColumnError, DataWarning, InfeasibleError, MarginError, ValidationError
from estimators.datasets._census import census, census_margins
from sampling import QuotaPlan, design_quotas
from sampling.quotas._design import QUOTA_METHODS

pytestmark = pytest.mark.reference

UK = census("uk", ["age", "sex", "ethnicity"], age_bands="prolific")


def _plan(table, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = design_quotas(table, **kwargs)
    return plan, [w for w in caught if issubclass(w.category, DataWarning)]


def _within(a, x):
    return bool(np.all(a >= np.floor(x + 1e-9)) and np.all(a <= np.ceil(x - 1e-9)))


@pytest.mark.parametrize("method", QUOTA_METHODS)
@pytest.mark.parametrize("n", [300, 1000])
def test_uk_platform_cells_every_method(method, n):
    plan, caught = _plan(UK, n=n, method=method)
    cells = plan.cells
    assert len(cells) == 50 and int(cells["quota"].sum()) == n
    assert np.allclose(cells["exact"], n * UK.sort_values(["age", "sex", "ethnicity"])["share"].to_numpy())
    assert np.allclose(cells["deviation"], cells["quota"] - cells["exact"])
    # warned iff a populated cell got no place
    assert (len(plan.empty_populated) > 0) == (len(caught) == 1)
    summary = plan.deviation_summary()
    assert list(summary["level"]) == ["cells", "margin age", "margin sex", "margin ethnicity"]
    if method in ("hamilton", "webster", "sainte_lague", "controlled"):
        assert _within(cells["quota"].to_numpy(), cells["exact"].to_numpy())  # within floor/ceil
    if method == "controlled":
        assert _within(plan.margins["quota"].to_numpy(), plan.margins["exact"].to_numpy())
        for a, b in itertools.combinations(plan.variables, 2):
            g = cells.groupby([a, b])
            assert _within(g["quota"].sum().to_numpy(), g["exact"].sum().to_numpy())
    if method == "minimum_then_proportional":
        assert cells["quota"].min() >= 1


def test_uk_n300_reference_figures():
    # deviations of 300-person quotas from the embedded E&W 2021 table: Hamilton within half a
    # seat per cell, controlled rounding within one seat per margin, no populated cell left empty
    hamilton, _ = _plan(UK, n=300, method="hamilton")
    assert hamilton.deviation_summary().iloc[0]["max_abs_deviation"] < 0.5 + 1e-12
    platform = design_quotas(UK, n=300, method="minimum_then_proportional")
    assert platform.empty_populated.empty
    controlled, _ = _plan(UK, n=300, method="controlled")
    assert controlled.margins["deviation"].abs().max() < 1


def test_result_object():
    plan = design_quotas(UK, n=1000, method="huntington_hill")
    assert isinstance(plan, QuotaPlan)
    assert plan.quotas.sum() == 1000 and plan.quotas.index.nlevels == 3
    assert "QuotaPlan: interlocked quotas by huntington_hill" in plan.summary()
    assert "<h4>" in plan.summary("html")
    frame = plan.to_frame()
    frame.loc[0, "quota"] = -1
    assert plan.cells.loc[0, "quota"] != -1  # to_frame returns a copy
    ax = plan.plot()
    assert ax.get_title().startswith("Quotas (huntington_hill")
    with pytest.raises(AttributeError):
        plan.n = 3  # frozen


def test_non_interlocked_margins():
    plan = design_quotas(UK, n=300, interlocked=False)
    m = plan.margins
    assert m.groupby("variable")["quota"].sum().eq(300).all()
    assert _within(m["quota"].to_numpy(), m["exact"].to_numpy())
    assert plan.quotas.index.names == ["variable", "category"]
    assert "non-interlocked" in plan.summary()
    plan.plot()


def test_us_table_and_variable_subset():
    us = census("us", ["age", "sex", "ethnicity"])
    plan = design_quotas(us, n=500, variables=["age", "sex"], method="webster")
    assert len(plan.cells) == 12 and plan.variables == ("age", "sex")
    assert plan.quotas.sum() == 500


def test_user_table_of_shares_and_counts():
    shares = pd.DataFrame({"g": ["a", "b", "c"], "share": [0.5, 0.3, 0.2]})
    assert design_quotas(shares, n=10).quotas.tolist() == [5, 3, 2]
    counts = pd.DataFrame({"g": ["a", "b", "a"], "h": ["x", "x", "y"], "count": [5, 3, 2]})
    plan = design_quotas(counts, n=10)
    assert plan.quotas.to_dict() == {("a", "x"): 5, ("a", "y"): 2, ("b", "x"): 3}
    off = pd.DataFrame({"g": ["a", "b"], "share": [0.6, 0.6]})
    assert design_quotas(off, n=10, normalize=True).quotas.tolist() == [5, 5]
    assert counts.columns.tolist() == ["g", "h", "count"]  # caller's frame untouched


def test_margins_only_independence_dict_and_long():
    margins = census_margins("uk", ["age", "sex", "ethnicity"], age_bands="prolific")
    plan, _ = _plan(margins, n=300)
    assert plan.joint_source == "independence" and len(plan.cells) == 50
    age = margins["age"]
    row = plan.cells.iloc[0]
    expected = age[row["age"]] * margins["sex"][row["sex"]] * margins["ethnicity"][row["ethnicity"]]
    assert row["share"] == pytest.approx(expected, rel=1e-12)
    long = pd.DataFrame(
        [(v, c, s) for v, cats in margins.items() for c, s in cats.items()],
        columns=["variable", "category", "share"],
    )
    again, _ = _plan(long, n=300)
    assert again.quotas.equals(plan.quotas)
    counts = {"sex": {"f": 60, "m": 40}, "age": {"young": 30, "old": 70}}
    assert design_quotas(counts, n=10, interlocked=False).margins["quota"].tolist() == [6, 4, 7, 3]  # categories sorted


def _ipf(seed, row_targets, col_targets, iterations=2000):
    """A plain two-way IPF written for the test (independent of estimators.rake)."""
    x = seed.astype(float).copy()
    for _ in range(iterations):
        x *= (row_targets / x.sum(axis=1))[:, None]
        x *= (col_targets / x.sum(axis=0))[None, :]
    return x / x.sum()


@pytest.mark.skipif(not hasattr(estimators, "rake"), reason="estimators.rake not merged yet")
def test_margins_with_seed_table_match_independent_ipf():
    seed = pd.DataFrame(
        {"a": ["x", "x", "y", "y", "z", "z"], "b": ["u", "v", "u", "v", "u", "v"], "count": [10, 2, 3, 7, 4, 0]}
    )
    margins = {"a": {"x": 0.3, "y": 0.5, "z": 0.2}, "b": {"u": 0.45, "v": 0.55}}
    plan = design_quotas(margins, n=200, seed_table=seed)
    assert plan.joint_source == "raking"
    expected = _ipf(
        seed["count"].to_numpy().reshape(3, 2), np.array([0.3, 0.5, 0.2]), np.array([0.45, 0.55])
    )
    got = plan.cells.set_index(["a", "b"])["share"].unstack().to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-12)
    assert got[2, 1] == 0  # structural zero kept


def test_bad_input():
    with pytest.raises(MarginError, match=r"table\['share'\]: shares must sum to 1"):
        design_quotas(pd.DataFrame({"g": ["a", "b"], "share": [0.6, 0.6]}), n=10)
    with pytest.raises(ValidationError, match=r"table\['count'\]: must be non-negative"):
        design_quotas(pd.DataFrame({"g": ["a", "b"], "count": [5, -1]}), n=10)
    with pytest.raises(ColumnError, match="variables: names columns that are not in the data"):
        design_quotas(UK, n=10, variables=["age", "religion"])
    with pytest.raises(MarginError, match="variables: names variables that are not in the margins"):
        design_quotas({"sex": {"f": 0.5, "m": 0.5}}, n=10, variables=["age"])
    with pytest.raises(InfeasibleError, match="n: is smaller than the 50 populated cells x minimum 1"):
        design_quotas(UK, n=40, method="minimum_then_proportional")
    with pytest.raises(MarginError, match="table: margins of different variables must have the same total"):
        design_quotas({"sex": {"f": 60, "m": 40}, "age": {"young": 30, "old": 80}}, n=10)
    with pytest.raises(MarginError, match="table: needs a column of counts or shares"):
        design_quotas(pd.DataFrame({"g": ["a"], "people": [3]}), n=10)
    with pytest.raises(MarginError, match="table: variable columns must not be missing"):
        design_quotas(pd.DataFrame({"g": ["a", None], "count": [1, 2]}), n=10)
    with pytest.raises(MarginError, match=r"table\['count'\]: values must not all be zero"):
        design_quotas(pd.DataFrame({"g": ["a"], "count": [0]}), n=10)
    with pytest.raises(MarginError, match="table: a margins mapping must map each variable"):
        design_quotas({"sex": 0.5}, n=10)
    with pytest.raises(ValidationError, match="table: must be a DataFrame"):
        design_quotas([1, 2], n=10)
    with pytest.raises(ValidationError, match='minimum: is not supported with method="controlled"'):
        design_quotas(UK, n=300, method="controlled", minimum=1)
    with pytest.raises(ValidationError, match="seed_table: is only used with margins-only input"):
        design_quotas(UK, n=300, seed_table=UK)
    with pytest.raises(MarginError, match="seed_table: categories of 'b' must match the margins"):
        design_quotas(
            {"a": {"x": 0.5, "y": 0.5}, "b": {"u": 1.0}},
            n=10,
            seed_table=pd.DataFrame({"a": ["x", "y"], "b": ["u", "w"], "count": [1, 1]}),
        )
    with pytest.raises(ValidationError, match="seed_table: must be a DataFrame of seed counts"):
        design_quotas({"a": {"x": 0.5, "y": 0.5}}, n=10, seed_table={"a": 1})
    with pytest.raises(ValidationError, match="n: must be >= 1"):
        design_quotas(UK, n=0)
    with pytest.warns(DataWarning, match="populated cells get a quota of 0"):
        design_quotas(UK, n=100)


def test_seed_raking_matches_r_loglin():
    # outside truth: tests/sampling/quotas/reference/quotas_ipf.R fits the 2011 E&W joint table to the 2021 margins
    # with base R's stats::loglin (IPF); committed output in quotas_ipf.json
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "reference" / "quotas_ipf.json").read_text())
    seed = census("uk", ["age", "sex", "ethnicity"], year=2011, age_bands="prolific")
    plan, _ = _plan(ref["margins"], n=1000, seed_table=seed)
    assert plan.joint_source == "raking"
    expected = pd.DataFrame(ref["cells"])
    got = plan.cells[["age", "sex", "ethnicity", "share"]]
    assert got[["age", "sex", "ethnicity"]].equals(expected[["age", "sex", "ethnicity"]])
    np.testing.assert_allclose(got["share"].to_numpy(), expected["share"].to_numpy(), rtol=1e-8)


def test_seed_without_support_for_a_category():
    seed = pd.DataFrame({"a": ["x", "y"], "b": ["u", "u"], "count": [1, 0]})
    with pytest.raises(InfeasibleError, match="seed_table: has no positive cell for categories of 'a'"):
        design_quotas({"a": {"x": 0.5, "y": 0.5}, "b": {"u": 1.0}}, n=10, seed_table=seed)


def _groupby_reference(table, variables, n, column):
    """Cells and margins computed with pandas groupby (labels as strings, cells sorted)."""
    from sampling import apportion

    cells = table[variables].astype(str).copy()
    cells["share"] = table[column].to_numpy(dtype=float)
    cells = cells.groupby(variables, sort=True, as_index=False)["share"].sum()
    cells["share"] = cells["share"] / cells["share"].sum()
    cells["exact"] = n * cells["share"]
    cells["quota"] = apportion(cells["share"].to_numpy(), n).to_numpy()
    rows = []
    for var in variables:
        grouped = cells.groupby(var, sort=True)
        share, quota = grouped["share"].sum(), grouped["quota"].sum()
        rows += [(var, c, share[c], n * share[c], int(quota[c])) for c in share.index]
    margins = pd.DataFrame(rows, columns=["variable", "category", "share", "exact", "quota"])
    return cells, margins


@pytest.mark.parametrize(
    ("variables", "shuffle", "relabel"),
    [
        (["age", "sex", "ethnicity"], False, False),
        (["ethnicity", "sex", "age"], True, False),
        (["sex", "age"], True, False),  # rows of a cell added up, out of order
        (["age", "sex"], False, True),  # integer labels compare as strings
    ],
)
def test_cells_and_margins_match_pandas_groupby_bit_for_bit(variables, shuffle, relabel):
    table = census("uk")
    if shuffle:
        table = table.sample(frac=1.0, random_state=5).reset_index(drop=True)
    if relabel:
        table = table.assign(sex=table["sex"].map({"Female": 2, "Male": 10}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        plan = design_quotas(table, n=997, variables=variables, value="count")
    cells, margins = _groupby_reference(table, variables, 997, "count")
    pd.testing.assert_frame_equal(plan.cells[cells.columns], cells, check_exact=True)
    pd.testing.assert_frame_equal(plan.margins[margins.columns], margins, check_exact=True)


def test_group_sums_add_up_as_pandas_groupby():
    from sampling.quotas._design import _group_sum

    rng = np.random.default_rng(3)
    for _ in range(200):
        groups = int(rng.integers(1, 6))
        ids = np.concatenate([np.arange(groups), rng.integers(0, groups, int(rng.integers(0, 40)))])
        if rng.random() < 0.5:
            ids = np.sort(ids)
        values = rng.random(ids.size) * 10.0 ** rng.integers(-6, 6, ids.size)
        expected = pd.Series(values).groupby(ids).sum().to_numpy()
        assert np.array_equal(_group_sum(ids, values, groups), expected)
