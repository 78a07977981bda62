"""The observed-cell collapse: factorising, combining, summing and gathering."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estimators.weighting import _cells
from estimators.weighting._cells import CellTable, factorize_column, group_codes


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.choice(list("pqrs"), n),
            "b": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["z", "y", "x", "unused"]),
            "c": rng.integers(0, 5, n),
        }
    )


def test_categorical_codes_used_as_they_are() -> None:
    s = pd.Series(pd.Categorical(["b", "a", None], categories=["b", "a", "c"]))
    codes = factorize_column(s)
    assert codes.codes.tolist() == [0, 1, -1]
    assert list(codes.labels) == ["b", "a", "c"]
    assert codes.codes.dtype == np.int8  # no re-hashing, no widening


def test_cells_are_the_observed_combinations_only() -> None:
    df = _frame()
    table = CellTable.from_frame(df, ["a", "b", "c"])
    observed = df.groupby(["a", "b", "c"], observed=True).size()
    assert table.n_cells == len(observed)
    frame = table.cell_frame()
    ours = {(a, str(b), int(c)): int(k) for a, b, c, k in frame.itertuples(index=False)}
    theirs = {(a, str(b), int(c)): int(k) for (a, b, c), k in observed.items()}
    assert ours == theirs


def test_sum_and_gather_round_trip_one_and_two_dimensional() -> None:
    df = _frame()
    table = CellTable.from_frame(df, ["a", "b"])
    values = np.arange(len(df), dtype=float)
    sums = table.sum_rows(values)
    by_pandas = pd.Series(values).groupby([df["a"], df["b"].astype(str)]).sum()
    assert np.isclose(sums.sum(), values.sum())
    assert sorted(np.round(sums, 9)) == sorted(np.round(by_pandas.to_numpy(), 9))
    two = np.column_stack([values, 2 * values])
    assert np.allclose(table.sum_rows(two), np.column_stack([sums, 2 * sums]))
    cells = table.row_cells()
    assert np.array_equal(table.gather(np.arange(table.n_cells)), cells)
    assert table.gather(np.column_stack([sums, sums])).shape == (len(df), 2)


def test_sparse_key_space_matches_dense(monkeypatch) -> None:
    df = _frame()
    dense = CellTable.from_frame(df, ["a", "b", "c"])
    monkeypatch.setattr(_cells, "DENSE_KEY_LIMIT", 1)
    big = pd.concat([df] * 1, ignore_index=True)
    # force the hash-compressed path: key space above the limit and above n
    big["c"] = big["c"] * 1000
    sparse = CellTable.from_frame(big, ["a", "b", "c"])
    assert sparse.key_to_cell is not None
    assert sparse.n_cells == dense.n_cells
    v = np.linspace(0, 1, len(df))
    assert np.isclose(np.sort(sparse.sum_rows(v)), np.sort(dense.sum_rows(v))).all()
    frame = sparse.cell_frame()
    assert (frame["n_rows"].sum()) == len(df)


def test_excluded_rows_belong_to_no_cell() -> None:
    df = _frame(50)
    include = np.arange(50) % 5 != 0
    table = CellTable.from_frame(df, ["a"], include=include)
    assert table.row_counts.sum() == include.sum()
    assert (table.row_cells()[~include] == -1).all()
    assert (table.gather(np.ones(table.n_cells), fill=0.0)[~include] == 0).all()
    assert np.isclose(table.sum_rows(np.ones(50)).sum(), include.sum())


def test_group_codes_combines_observed_groups() -> None:
    ids, n = group_codes([np.array([1, 0, 1]), np.array([0, 0, 0])], [2, 1])
    assert n == 2 and ids.tolist() == [1, 0, 1]


def test_no_columns_is_one_cell() -> None:
    table = CellTable.from_codes([], [], n_rows=4)
    assert table.n_cells == 1 and table.row_counts.tolist() == [4]
    assert table.gather(np.array([2.5])).tolist() == [2.5] * 4


def test_blockwise_passes_equal_one_pass(monkeypatch) -> None:
    df = _frame(1000)
    whole = CellTable.from_frame(df, ["a", "b", "c"])
    v = np.linspace(0.0, 1.0, 1000)
    expected_sums = whole.sum_rows(v)
    expected_gather = whole.gather(np.arange(whole.n_cells, dtype=float))
    monkeypatch.setattr(_cells, "CHUNK_ROWS", 64)
    blocks = CellTable.from_frame(df, ["a", "b", "c"])
    assert np.array_equal(blocks.row_counts, whole.row_counts)
    assert np.allclose(blocks.sum_rows(v), expected_sums, rtol=1e-14)
    assert np.array_equal(blocks.gather(np.arange(blocks.n_cells, dtype=float)), expected_gather)
    two = blocks.gather(np.column_stack([np.arange(blocks.n_cells)] * 2).astype(float))
    assert np.array_equal(two[:, 1], expected_gather)
