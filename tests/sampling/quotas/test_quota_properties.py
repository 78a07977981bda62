"""Properties: divisor methods are house-monotone, controlled rounding is controlled, and the
quota tracker never over-fills, never dead-ends, survives save/restore and releases correctly."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pandas as pd
from hypothesis import assume, given
from hypothesis import strategies as st

from sampling import QuotaTracker, apportion, controlled_round

weights_strategy = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8).filter(
    lambda w: sum(w) > 0
)


@given(
    weights_strategy,
    st.integers(min_value=0, max_value=200),
    st.sampled_from(["jefferson", "webster", "huntington_hill", "adams"]),
)
def test_divisor_methods_monotone_in_n(weights, n, method):
    positive = sum(1 for w in weights if w > 0)
    if method in ("huntington_hill", "adams"):
        n = max(n, positive)  # below that every first seat ties at infinity
    now = apportion(weights, n, method=method).to_numpy()
    later = apportion(weights, n + 1, method=method).to_numpy()
    assert now.sum() == n and later.sum() == n + 1
    assert (later >= now).all()


@given(weights_strategy, st.integers(min_value=0, max_value=500))
def test_hamilton_within_one_of_quota(weights, n):
    w = np.array(weights, dtype=float)
    seats = apportion(w, n).to_numpy()
    quota = n * w / w.sum()
    assert seats.sum() == n
    assert (seats >= np.floor(quota + 1e-9)).all() and (seats <= np.ceil(quota - 1e-9)).all()


def _within(a, x):
    return bool(np.all(a >= np.floor(x + 1e-9)) and np.all(a <= np.ceil(x - 1e-9)))


@given(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_controlled_rounding_two_way(rows, cols, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.full(rows * cols, 0.7)).reshape(rows, cols) * n
    a = controlled_round(x)
    assert a.sum() == n
    assert _within(a, x) and _within(a.sum(axis=0), x.sum(axis=0)) and _within(a.sum(axis=1), x.sum(axis=1))


# ------------------------------------------------------------------ tracker properties

A_CATS, B_CATS = ("x", "y", "z"), ("u", "v")


def _fillable(remaining: tuple[int, ...], allowed: tuple[tuple[int, int], ...]) -> bool:
    """Independent check (memoised depth-first search): can people from ``allowed`` cells
    fill the remaining needs (a0, a1, a2, b0, b1) exactly?"""

    @cache
    def search(state: tuple[int, ...]) -> bool:
        if not any(state):
            return True
        for i, j in allowed:
            if state[i] > 0 and state[3 + j] > 0:
                nxt = list(state)
                nxt[i] -= 1
                nxt[3 + j] -= 1
                if search(tuple(nxt)):
                    return True
        return False

    return search(remaining)


@st.composite
def margin_scenarios(draw):
    n = draw(st.integers(min_value=1, max_value=7))
    cuts_a = sorted(draw(st.lists(st.integers(0, n), min_size=2, max_size=2)))
    a = (cuts_a[0], cuts_a[1] - cuts_a[0], n - cuts_a[1])
    b0 = draw(st.integers(0, n))
    b = (b0, n - b0)
    cells = list(itertools.product(range(3), range(2)))
    allowed = tuple(sorted(draw(st.sets(st.sampled_from(cells), min_size=2))))
    assume(_fillable((*a, *b), allowed))
    events = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["offer", "reserve", "confirm", "release"]),
                st.sampled_from(cells),
                st.integers(0, 30),
            ),
            max_size=40,
        )
    )
    return a, b, allowed, events


def _margin_frame(a, b):
    return pd.DataFrame(
        {
            "variable": ["a"] * 3 + ["b"] * 2,
            "category": [*A_CATS, *B_CATS],
            "quota": [*a, *b],
        }
    )


def _remaining(tracker):
    open_ = tracker._open()
    return tuple(open_[("a", c)] for c in A_CATS) + tuple(open_[("b", c)] for c in B_CATS)


@given(margin_scenarios())
def test_tracker_never_overfills_or_dead_ends(scenario):
    a, b, allowed, events = scenario
    allowed_labels = [(A_CATS[i], B_CATS[j]) for i, j in allowed]
    tracker = QuotaTracker(_margin_frame(a, b), allowed_cells=allowed_labels)
    reservations: list[str] = []
    known = set(allowed)  # cells seen among accepted people count as existing from then on
    for kind, (i, j), pick in events:
        person = {"a": A_CATS[i], "b": B_CATS[j]}
        if kind in ("offer", "reserve"):
            before = _remaining(tracker)
            decision = tracker.offer(person, reserve=kind == "reserve")
            after = _remaining(tracker)
            if decision.accepted:
                known.add((i, j))
                if kind == "reserve":
                    reservations.append(decision.person_id)
                # accepted only if the rest is still fillable (independent search)
                assert _fillable(after, tuple(sorted(known)))
            else:
                assert after == before
                # a rejection on completability grounds is justified
                if "impossible" in decision.reason:
                    trial = list(before)
                    trial[i] -= 1
                    trial[3 + j] -= 1
                    assert min(trial) < 0 or not _fillable(tuple(trial), tuple(sorted(known | {(i, j)})))
        elif reservations:
            pid = reservations.pop(pick % len(reservations))
            (tracker.confirm if kind == "confirm" else tracker.release)(pid)
        status = tracker.status()
        assert (status["open"] >= 0).all()  # never over-filled (reservations included)
        assert (status["filled"] + status["reserved"] <= status["target"]).all()
    # completion is still possible: release every reservation, then fill greedily with
    # people the independent search says keep the rest fillable
    for pid in reservations:
        tracker.release(pid)
    assert (tracker.status()["reserved"] == 0).all()
    pool = tuple(sorted(known))
    assert _fillable(_remaining(tracker), pool)
    guard = 0
    while not tracker.complete and guard < 50:
        guard += 1
        for i, j in pool:
            trial = list(_remaining(tracker))
            trial[i] -= 1
            trial[3 + j] -= 1
            if min(trial) >= 0 and _fillable(tuple(trial), pool):
                assert tracker.offer({"a": A_CATS[i], "b": B_CATS[j]}).accepted
                break
    assert tracker.complete


@given(margin_scenarios())
def test_tracker_state_survives_save_and_restore(scenario):
    a, b, allowed, events = scenario
    allowed_labels = [(A_CATS[i], B_CATS[j]) for i, j in allowed]
    tracker = QuotaTracker(_margin_frame(a, b), allowed_cells=allowed_labels)
    half = len(events) // 2
    for kind, (i, j), _ in events[:half]:
        tracker.offer({"a": A_CATS[i], "b": B_CATS[j]}, reserve=kind == "reserve")
    restored = QuotaTracker.from_json(tracker.to_json())
    assert restored.status().equals(tracker.status())
    assert restored.participants == tracker.participants
    for kind, (i, j), _ in events[half:]:
        person = {"a": A_CATS[i], "b": B_CATS[j]}
        reserve = kind == "reserve"
        assert tracker.offer(person, reserve=reserve) == restored.offer(person, reserve=reserve)
    assert restored.status().equals(tracker.status())


@given(
    st.lists(st.integers(0, 3), min_size=4, max_size=4),
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), max_size=30),
)
def test_interlocked_reservations_released_correctly(quotas, arrivals):
    frame = pd.DataFrame({"cell": ["c0", "c1", "c2", "c3"], "quota": quotas})
    tracker = QuotaTracker(frame)
    held: dict[str, int] = {}
    for cell, reserve, drop in arrivals:
        decision = tracker.offer({"cell": f"c{cell}"}, reserve=reserve)
        if decision.accepted and reserve:
            if drop:
                tracker.release(decision.person_id)
            else:
                held[decision.person_id] = cell
        status = tracker.status().iloc[:4]
        assert (status["filled"] + status["reserved"] <= status["target"]).all()
    status = tracker.status().iloc[:4]
    expected = np.bincount(list(held.values()), minlength=4) if held else np.zeros(4)
    assert status["reserved"].tolist() == expected.tolist()
    for pid in list(held):
        tracker.release(pid)
    assert (tracker.status()["reserved"] == 0).all()
