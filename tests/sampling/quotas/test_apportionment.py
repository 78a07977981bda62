"""Apportionment against published worked examples, brute force and the Alabama paradox."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimators import InfeasibleError, ValidationError
from sampling import alabama_paradox, apportion

pytestmark = pytest.mark.reference

REFERENCE = json.loads((Path(__file__).parent / "reference" / "quotas_apportionment.json").read_text())
EXAMPLES = {e["name"]: e for e in REFERENCE["examples"]}
POP_1790 = EXAMPLES["us_house_1792_jefferson_105"]["weights"]


def _weights(example):
    w = example["weights"]
    return EXAMPLES[w]["weights"] if isinstance(w, str) else w


@pytest.mark.parametrize("name", [n for n, e in EXAMPLES.items() if isinstance(e["seats"], dict)])
def test_published_examples(name):
    example = EXAMPLES[name]
    seats = apportion(_weights(example), example["n"], method=example["method"])
    assert seats.to_dict() == example["seats"]


def test_1790_huntington_hill_matches_published_divisor():
    # outside truth: the published divisor 34,800 with geometric-mean rounding apportions 105 seats
    expected = {}
    for state, pop in POP_1790.items():
        q = pop / 34800
        k = math.floor(q)
        expected[state] = k + 1 if q > math.sqrt(k * (k + 1)) else k
    assert sum(expected.values()) == 105
    assert apportion(POP_1790, 105, method="huntington_hill").to_dict() == expected


def test_1792_act_divisor_33000_is_jefferson():
    # the Act of 1792: one representative per 33,000, fractions dropped
    expected = {s: p // 33000 for s, p in POP_1790.items()}
    assert apportion(POP_1790, sum(expected.values()), method="jefferson").to_dict() == expected


def test_aliases_agree():
    w = list(POP_1790.values())
    assert apportion(w, 105, method="dhondt").equals(apportion(w, 105, method="jefferson"))
    assert apportion(w, 105, method="sainte_lague").equals(apportion(w, 105, method="webster"))


def test_alabama_paradox_reproduced_and_flagged():
    ref = REFERENCE["alabama_paradox"]
    w, n = ref["weights"], ref["n"]
    assert apportion(w, n).to_dict() == ref["seats_at_n"]
    assert apportion(w, n + 1).to_dict() == ref["seats_at_n_plus_1"]
    flagged = alabama_paradox(w, n)
    assert flagged.to_dict("records") == [{"n": 10, "cell": "C", "seats_at_n": 2, "seats_at_n_plus_1": 1}]
    for method in ("jefferson", "webster", "huntington_hill", "adams"):
        assert alabama_paradox(w, range(1, 60), method=method).empty


# ---------------------------------------------------------------- brute force on small cases

DIVISORS = {
    "jefferson": lambda s: Fraction(s + 1),
    "webster": lambda s: Fraction(2 * s + 1, 2),
    "adams": lambda s: Fraction(s),
}


def _compositions(n, k):
    for bars in itertools.combinations(range(n + k - 1), k - 1):
        parts, prev = [], -1
        for b in (*bars, n + k - 1):
            parts.append(b - prev - 1)
            prev = b
        yield parts


def _priority(method, w, s):
    """w / d(s) as a comparable value (inf when d(s) = 0); HH squared."""
    if method == "huntington_hill":
        return math.inf if s == 0 else Fraction(w * w, s * (s + 1))
    d = DIVISORS[method](s)
    return math.inf if d == 0 else Fraction(w) / d


def _divisor_brute(weights, n, method):
    """All allocations satisfying the divisor-method min-max inequality (independent definition)."""
    found = []
    for a in _compositions(n, len(weights)):
        worst_in = min((_priority(method, w, s - 1) for w, s in zip(weights, a) if s > 0), default=math.inf)
        best_out = max(_priority(method, w, s) for w, s in zip(weights, a))
        if worst_in >= best_out:
            found.append(a)
    return found


def _hamilton_brute(weights, n):
    """Allocations minimising the sum of squared deviations from the quotas."""
    total = sum(weights)
    quotas = [Fraction(n * w, total) for w in weights]
    best, arg = None, []
    for a in _compositions(n, len(weights)):
        loss = sum((x - q) ** 2 for x, q in zip(a, quotas))
        if best is None or loss < best:
            best, arg = loss, [a]
        elif loss == best:
            arg.append(a)
    return arg


@pytest.mark.parametrize("seed", range(12))
def test_brute_force_small_cases(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    weights = [int(x) for x in rng.integers(1, 60, size=k)]
    for n in range(0, 9):
        assert apportion(weights, n).tolist() in _hamilton_brute(weights, n)
        for method in ("jefferson", "webster", "huntington_hill", "adams"):
            if method in ("huntington_hill", "adams") and n < k:
                continue  # every cell's first seat is infinitely deserving: ties by weight
            got = apportion(weights, n, method=method).tolist()
            assert got in _divisor_brute(weights, n, method), (method, weights, n)


def test_ties_go_to_larger_weight_then_earlier_cell():
    assert apportion([1, 1, 1], 2, method="adams").tolist() == [1, 1, 0]
    assert apportion([1, 3, 1], 2, method="huntington_hill").tolist() == [1, 1, 0]
    assert apportion([2, 2, 1], 1).tolist() == [1, 0, 0]


def test_minimum_per_cell():
    w = [1000, 10, 1]
    assert apportion(w, 10, method="minimum_then_proportional").tolist() == [8, 1, 1]
    got = apportion(w, 10, method="hamilton", minimum=1)
    assert got.tolist() == [8, 1, 1] and got.sum() == 10
    assert apportion(w, 10, method="huntington_hill").min() >= 1
    assert apportion(w, 10, method="webster", minimum=2).tolist() == [6, 2, 2]
    assert apportion([5, 0, 5], 4, minimum=1).tolist() == [2, 0, 2]  # empty cells get nothing


def test_large_n_exact_and_fast_path():
    w = np.array([3.0, 2.0, 1e-9])
    seats = apportion(w, 1_000_000, method="huntington_hill")
    assert seats.tolist() == [599_999, 400_000, 1]
    for method in ("jefferson", "webster", "adams", "hamilton"):
        assert int(apportion(w, 999_983, method=method).sum()) == 999_983


def test_labels_and_series_index():
    s = apportion(pd.Series([3, 1], index=["x", "y"]), 4)
    assert list(s.index) == ["x", "y"] and s.name == "seats" and s.dtype == np.int64
    assert list(apportion([1, 1], 2, labels=["a", "b"]).index) == ["a", "b"]


def test_errors():
    with pytest.raises(ValidationError, match="weights: must be non-negative"):
        apportion([1, -2], 3)
    with pytest.raises(ValidationError, match="weights: must have at least one positive value"):
        apportion([0, 0], 3)
    with pytest.raises(ValidationError, match="weights: must contain at least one value"):
        apportion([], 3)
    with pytest.raises(ValidationError, match="method: must be one of"):
        apportion([1, 2], 3, method="banzhaf")
    with pytest.raises(ValidationError, match="n: must be >= 0"):
        apportion([1, 2], -1)
    with pytest.raises(InfeasibleError, match="n: is smaller than the 3 populated cells x minimum 2"):
        apportion([1, 2, 3], 5, minimum=2)
    with pytest.raises(ValidationError, match="labels: must have one label per weight"):
        apportion([1, 2], 3, labels=["a"])


def _one_seat_at_a_time(weights, n, method, minimum):
    """Textbook highest-averages loop from zero (no shortcut start), exact priorities."""
    seats = [minimum if w > 0 else 0 for w in weights]
    for _ in range(n - sum(seats)):
        best = None
        for i, w in enumerate(weights):
            if w == 0:
                continue
            p = _priority(method, w, seats[i])
            key = (p, w, -i)
            if best is None or key > best[0]:
                best = (key, i)
        seats[best[1]] += 1
    return seats


@pytest.mark.parametrize("method", ["jefferson", "webster", "huntington_hill", "adams"])
def test_shortcut_start_equals_seat_by_seat_loop(method):
    rng = np.random.default_rng(11)
    for _ in range(8):
        k = int(rng.integers(2, 9))
        weights = [int(x) for x in rng.integers(0, 500, size=k)]
        weights[0] += 1
        minimum = int(rng.integers(0, 3))
        populated = sum(1 for w in weights if w > 0)
        n = int(rng.integers(populated * max(minimum, 1), 150))
        got = apportion(weights, n, method=method, minimum=minimum).tolist()
        assert got == _one_seat_at_a_time(weights, n, method, minimum)


def _exact_hamilton(weights, n, method, minimum):
    """The rational largest-remainder computation that the floating-point path must reproduce."""
    from sampling.quotas._apportionment import _hamilton, _hamilton_with_minimum, _to_fractions

    w = _to_fractions(np.asarray(weights, dtype=float))
    cells = [i for i, x in enumerate(w) if x > 0]
    if method == "minimum_then_proportional":
        seats = {i: s + minimum for i, s in _hamilton(w, n - minimum * len(cells), cells).items()}
    elif minimum:
        seats = _hamilton_with_minimum(w, n, cells, minimum)
    else:
        seats = _hamilton(w, n, cells)
    return [seats.get(i, 0) for i in range(len(w))]


@pytest.mark.parametrize("seed", range(40))
def test_floating_point_hamilton_equals_exact_rationals(seed):
    # ties, exact integer quotas, zero cells and weights spread over many orders of magnitude:
    # the float path must either decide exactly as the rationals do or hand over to them
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 30))
    draws = [
        rng.random(k),
        rng.integers(0, 4, k).astype(float),
        np.round(rng.random(k), 2),
        rng.random(k) ** 6 * 10.0 ** rng.integers(-8, 8),
        np.full(k, 1.0 / 3.0),
    ]
    for w in draws:
        if not (w > 0).any():
            continue
        for method, n, minimum in itertools.product(
            ("hamilton", "minimum_then_proportional"), (0, 1, 7, 100, 9_999), (0, 1, 3)
        ):
            populated = int((w > 0).sum())
            if method == "minimum_then_proportional" and minimum == 0:
                minimum = 1
            if minimum * populated > n:
                continue
            got = apportion(w, n, method=method, minimum=minimum).tolist()
            assert got == _exact_hamilton(w, n, method, minimum), (w.tolist(), n, method, minimum)


def test_floating_point_hamilton_defers_only_when_rounding_could_matter():
    from sampling.quotas._apportionment import _hamilton_float

    w = np.random.default_rng(0).random(50)
    assert _hamilton_float(w, w > 0, 500) is not None  # generic shares: decided in floats
    tie = np.array([1.0, 1.0, 1.0])
    assert _hamilton_float(tie, tie > 0, 2) is None  # equal remainders: the rationals break the tie
    whole = np.array([1.0, 3.0])
    assert _hamilton_float(whole, whole > 0, 4) is None  # exact integer quotas
