"""Controlled rounding: cells, margins within floor/ceil, exact total; 3-way behaviour."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from estimators import DataWarning, InfeasibleError, ValidationError
from sampling import controlled_round


def _within(rounded, exact):
    return bool(np.all(rounded >= np.floor(exact + 1e-9)) and np.all(rounded <= np.ceil(exact - 1e-9)))


def _check_margins(rounded, exact, order=2):
    d = exact.ndim
    for size in range(1, min(order, d - 1) + 1):
        for keep in itertools.combinations(range(d), size):
            other = tuple(a for a in range(d) if a not in keep)
            assert _within(rounded.sum(axis=other), exact.sum(axis=other))


def test_two_way_textbook_table():
    # Cox and Ernst style example: every margin has a fractional part
    x = np.array([[1.5, 2.5, 0.4], [0.6, 3.3, 1.7]])
    x = x * (10 / x.sum())
    a = controlled_round(x)
    assert a.sum() == 10 and _within(a, x)
    _check_margins(a, x)


def test_two_way_minimises_absolute_deviation_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.dirichlet(np.ones(6)).reshape(2, 3) * 7
        best = None
        low = np.floor(x)
        for bits in itertools.product([0, 1], repeat=6):
            a = low + np.array(bits).reshape(2, 3)
            if a.sum() != 7 or not _within(a.sum(axis=0), x.sum(axis=0)) or not _within(a.sum(axis=1), x.sum(axis=1)):
                continue
            loss = np.abs(a - x).sum()
            best = loss if best is None else min(best, loss)
        got = controlled_round(x)
        assert np.abs(got - x).sum() == pytest.approx(best, abs=1e-9)


def test_three_way_all_margins_and_frame_input():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(50)).reshape(5, 2, 5) * 300
    a = controlled_round(x)
    assert a.sum() == 300 and _within(a, x)
    _check_margins(a, x, order=2)
    frame = pd.DataFrame([[0.5, 1.5], [1.5, 0.5]], index=["r1", "r2"], columns=["c1", "c2"])
    out = controlled_round(frame)
    assert list(out.index) == ["r1", "r2"] and int(out.to_numpy().sum()) == 4


def _infeasible_three_way():
    # a 3x3x3 table of halves with no controlled rounding of all two-way margins: exhaustive
    # enumeration of the 2**12 roundings of its 12 fractional cells finds none (see the test below)
    pattern = [
        [[1, 0, 0], [1, 1, 1], [0, 1, 0]],
        [[0, 1, 0], [0, 1, 1], [0, 0, 0]],
        [[1, 0, 1], [0, 0, 1], [1, 0, 0]],
    ]
    return np.array(pattern, dtype=float) / 2


def test_infeasible_example_is_infeasible_by_enumeration():
    x = _infeasible_three_way()
    cells = np.argwhere(x > 0)
    feasible = 0
    for bits in itertools.product([0, 1], repeat=len(cells)):
        a = np.zeros_like(x)
        a[tuple(cells.T)] = bits
        if a.sum() != 6:
            continue
        ok = all(
            _within(a.sum(axis=other), x.sum(axis=other))
            for other in [(1, 2), (0, 2), (0, 1), (2,), (1,), (0,)]
        )
        feasible += ok
    assert feasible == 0


def test_three_way_infeasible_raises_or_warns():
    x = _infeasible_three_way()
    with pytest.raises(InfeasibleError, match="no controlled rounding keeps every two-way margin"):
        controlled_round(x)
    with pytest.warns(DataWarning, match="only the one-way margins are controlled"):
        a = controlled_round(x, on_infeasible="warn")
    assert a.sum() == 6 and _within(a, x)
    _check_margins(a, x, order=1)
    b = controlled_round(x, margins="one_way")
    assert b.sum() == 6


def test_errors():
    with pytest.raises(ValidationError, match="table: must be non-negative"):
        controlled_round(np.array([[1.0, -0.5]]))
    with pytest.raises(ValidationError, match="table: must have at least one cell"):
        controlled_round(np.array(3.0))
    with pytest.raises(ValidationError, match="margins: must be one of"):
        controlled_round(np.ones((2, 2)), margins="some")
