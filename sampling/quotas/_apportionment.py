"""Apportionment: turn proportional shares into whole numbers that sum exactly to ``n``.

Largest remainder (Hamilton), the divisor methods (Jefferson/D'Hondt, Webster/Sainte-Laguë,
Huntington–Hill, Adams), and the recruitment-platform rule "a minimum per cell, then proportional".
Every decision is exact (rational numbers), so ties are real ties and are broken by a stated rule;
largest remainder is worked out in floating point when the rounding error provably cannot change a
seat, and in rational numbers otherwise.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from estimators._lib.validation import as_float_array, as_int, check_option, fail
from estimators.errors import InfeasibleError, ValidationError

__all__ = ["METHODS", "ApportionmentMethod", "alabama_paradox", "apportion"]

ApportionmentMethod = Literal[
    "hamilton",
    "jefferson",
    "dhondt",
    "webster",
    "sainte_lague",
    "huntington_hill",
    "adams",
    "minimum_then_proportional",
]
METHODS: tuple[str, ...] = get_args(ApportionmentMethod)
DIVISOR_METHODS: dict[str, str] = {
    "jefferson": "jefferson",
    "dhondt": "jefferson",
    "webster": "webster",
    "sainte_lague": "webster",
    "huntington_hill": "huntington_hill",
    "adams": "adams",
}


def _weights_and_labels(weights: Any, labels: Iterable[Any] | None) -> tuple[np.ndarray, pd.Index]:
    """Weights as a float array plus labels (Series index, mapping keys, ``labels`` or positions)."""
    if isinstance(weights, pd.Series):
        index = weights.index
        values: Any = weights.to_numpy()
    elif isinstance(weights, Mapping):
        index = pd.Index(list(weights.keys()))
        values = list(weights.values())
    else:
        values = weights
        index = None
    arr = as_float_array(values, "weights", ndim=1, nonnegative=True)
    if labels is not None:
        index = pd.Index(list(labels))
        if len(index) != arr.size:
            fail(
                ValidationError,
                "labels",
                f"must have one label per weight ({arr.size})",
                bad=[f"{len(index)} labels"],
            )
    if index is None:
        index = pd.RangeIndex(arr.size)
    if arr.size == 0:
        fail(ValidationError, "weights", "must contain at least one value", bad=["<empty>"])
    if not (arr > 0).any():
        fail(
            ValidationError,
            "weights",
            "must have at least one positive value (nothing to apportion in proportion to)",
            bad=arr.tolist(),
        )
    return arr, index


def _to_fractions(weights: np.ndarray) -> list[Fraction]:
    # Fraction(float) is exact: the binary value of each weight is used without rounding.
    return [Fraction(float(w)) for w in weights]


def _hamilton(w: list[Fraction], n: int, cells: list[int]) -> dict[int, int]:
    """Largest remainder among ``cells``: floors, then the biggest remainders get one more."""
    total = sum(w[i] for i in cells)
    seats: dict[int, int] = {}
    remainders = []
    for i in cells:
        quota = n * w[i] / total
        fl = math.floor(quota)
        seats[i] = fl
        remainders.append((-(quota - fl), -w[i], i))
    left = n - sum(seats.values())
    remainders.sort()
    for _, _, i in remainders[:left]:
        seats[i] += 1
    return seats


def _hamilton_with_minimum(w: list[Fraction], n: int, cells: list[int], minimum: int) -> dict[int, int]:
    """Hamilton subject to ``seats >= minimum``: cells whose quota falls below it are fixed at it."""
    fixed: list[int] = []
    free = list(cells)
    while free:
        seats_left = n - minimum * len(fixed)
        total = sum(w[i] for i in free)
        low = [i for i in free if seats_left * w[i] < minimum * total]
        if not low:
            break
        fixed += low
        free = [i for i in free if i not in set(low)]
    seats = {i: minimum for i in fixed}
    if free:
        seats.update(_hamilton(w, n - minimum * len(fixed), free))
    return seats


def _priority_key(kind: str, weight: Fraction, s: int, index: int) -> tuple[int, Fraction, Fraction, int]:
    """Min-heap key of the next seat (seat number ``s + 1``) of a cell that holds ``s`` seats.

    Priority = weight / d(s). Infinite priorities (d(s) = 0) come first; equal priorities go to the
    larger weight, then to the earlier cell.
    """
    if kind == "jefferson":
        value = weight / (s + 1)
    elif kind == "webster":
        value = weight / Fraction(2 * s + 1, 2)
    elif kind == "adams":
        if s == 0:
            return (0, Fraction(0), -weight, index)
        value = weight / s
    else:  # huntington_hill: compare weight**2 / (s (s + 1)), monotone in weight / sqrt(s (s + 1))
        if s == 0:
            return (0, Fraction(0), -weight, index)
        value = weight * weight / (s * (s + 1))
    return (1, -value, -weight, index)


def _divisor(w: list[Fraction], n: int, cells: list[int], minimum: int, kind: str) -> dict[int, int]:
    """Exact highest-averages apportionment: the ``n`` largest priorities ``w_i / d(s)`` win.

    A safe start (every priority above ``lambda = W / (n - k m - k)`` is certainly among the winners)
    is filled in one step; the remaining few seats are handed out one at a time from a heap.
    """
    k = len(cells)
    total = sum(w[i] for i in cells)
    seats = {i: minimum for i in cells}
    spare = n - k * minimum - k
    if spare > 0:
        for i in cells:
            x = w[i] * spare / total  # w_i / lambda
            seats[i] = max(minimum, math.ceil(x) - 1)
    heap = [_priority_key(kind, w[i], seats[i], i) for i in cells]
    heapq.heapify(heap)
    left = n - sum(seats.values())
    for _ in range(left):
        key = heapq.heappop(heap)
        i = key[3]
        seats[i] += 1
        heapq.heappush(heap, _priority_key(kind, w[i], seats[i], i))
    return seats


# Largest remainder in floating point: quotas n w_i / W carry a relative error below 4 units in the
# last place (fsum rounds W once; n w_i and the division once each). A decision is taken from the
# floats only when every quota is further than this bound (doubled) from an integer and the last
# remainder given a place is further than twice the bound from the first one left out; otherwise
# the exact rational computation decides (ties, exact integer quotas).
_ROUNDING_SLACK = 8.0 * np.finfo(np.float64).eps


def _hamilton_float(w: np.ndarray, populated: np.ndarray, n: int) -> np.ndarray | None:
    """Hamilton seats of the ``populated`` cells, or None when rounding could change a decision."""
    seats = np.zeros(w.size, dtype=np.int64)
    if n == 0:
        return seats
    wp = w[populated]
    quota = n * wp / math.fsum(wp.tolist())
    slack = _ROUNDING_SLACK * n
    floor = np.floor(quota)
    remainder = quota - floor
    if not ((remainder > slack) & (remainder < 1.0 - slack)).all():
        return None
    base = floor.astype(np.int64)
    left = n - int(base.sum())
    if 0 < left < base.size:
        order = np.argsort(-remainder, kind="stable")
        if remainder[order[left - 1]] - remainder[order[left]] <= 2.0 * slack:
            return None
        base[order[:left]] += 1
    elif left != 0:
        return None
    seats[populated] = base
    return seats


def _hamilton_minimum_float(w: np.ndarray, populated: np.ndarray, n: int, minimum: int) -> np.ndarray | None:
    """``_hamilton_with_minimum`` in floating point, or None when rounding could change a decision."""
    free = populated.copy()
    fixed = 0
    while free.any():
        seats_left = n - minimum * fixed
        wf = w[free]
        lhs = seats_left * wf
        rhs = minimum * math.fsum(wf.tolist())
        if (np.abs(lhs - rhs) <= _ROUNDING_SLACK * np.maximum(lhs, rhs)).any():
            return None
        low = lhs < rhs
        if not low.any():
            break
        index = np.flatnonzero(free)[low]
        free[index] = False
        fixed += index.size
    seats = np.where(populated & ~free, minimum, 0).astype(np.int64)
    if free.any():
        rest = _hamilton_float(w, free, n - minimum * fixed)
        if rest is None:
            return None
        seats += rest
    return seats


def _apportion_array(weights: np.ndarray, n: int, method: str, minimum: int) -> np.ndarray:
    """Kernel: validated float weights (some positive), integer ``n``, ``minimum`` -> int seats."""
    if method in ("hamilton", "minimum_then_proportional"):
        populated = weights > 0
        if method == "hamilton":
            fast = (
                _hamilton_minimum_float(weights, populated, n, minimum)
                if minimum
                else _hamilton_float(weights, populated, n)
            )
        else:
            fast = _hamilton_float(weights, populated, n - minimum * int(populated.sum()))
            if fast is not None:
                fast[populated] += minimum
        if fast is not None:
            return fast
    w = _to_fractions(weights)
    cells = [i for i, wi in enumerate(w) if wi > 0]
    if method == "minimum_then_proportional":
        seats = _hamilton(w, n - minimum * len(cells), cells)
        seats = {i: s + minimum for i, s in seats.items()}
    elif method == "hamilton":
        seats = _hamilton_with_minimum(w, n, cells, minimum) if minimum else _hamilton(w, n, cells)
    else:
        seats = _divisor(w, n, cells, minimum, DIVISOR_METHODS[method])
    out = np.zeros(len(w), dtype=np.int64)
    for i, s in seats.items():
        out[i] = s
    return out


def _check_minimum(
    weights: np.ndarray, n: int, method: str, minimum: int | None
) -> int:
    default = 1 if method == "minimum_then_proportional" else 0
    minimum = default if minimum is None else as_int(minimum, "minimum", minimum=0)
    populated = int((weights > 0).sum())
    if minimum * populated > n:
        fail(
            InfeasibleError,
            "n",
            f"is smaller than the {populated} populated cells x minimum {minimum} "
            f"= {minimum * populated} places",
            bad=[n],
            fix="Raise n, lower minimum, or merge small cells.",
        )
    return minimum


def apportion(
    weights: Any,
    n: int,
    *,
    method: ApportionmentMethod = "hamilton",
    minimum: int | None = None,
    labels: Iterable[Any] | None = None,
) -> pd.Series:
    """Apportion ``n`` whole places among cells in proportion to ``weights``.

    Parameters
    ----------
    weights : array-like, Series or mapping
        Non-negative population counts or shares (any scale; at least one positive). Cells with
        weight 0 always get 0 places (``minimum`` does not apply to them).
    n : int
        Places to hand out (house size, sample size); the result sums exactly to ``n``.
    method : {"hamilton", "jefferson", "dhondt", "webster", "sainte_lague", "huntington_hill", "adams", "minimum_then_proportional"}
        ``"hamilton"``: largest remainder (Hare quota). ``"jefferson"`` = ``"dhondt"``,
        ``"webster"`` = ``"sainte_lague"``, ``"huntington_hill"`` and ``"adams"`` are divisor
        (highest-averages) methods. ``"minimum_then_proportional"`` first gives every populated
        cell ``minimum`` places (default 1) and shares the rest by largest remainder in proportion
        to ``weights`` (the recruitment-platform rule).
    minimum : int, optional
        Places every populated cell must get. Default 0 (1 for ``"minimum_then_proportional"``).
    labels : iterable, optional
        Index of the result; defaults to the Series index / mapping keys / positions.

    Returns
    -------
    Series
        int64 places per cell, named ``"seats"``, summing to ``n``.

    Notes
    -----
    With exact quotas :math:`q_i = n w_i / \\sum_j w_j`:

    * Hamilton gives :math:`\\lfloor q_i \\rfloor` and hands the :math:`n - \\sum_i \\lfloor q_i \\rfloor`
      leftover places to the largest remainders :math:`q_i - \\lfloor q_i \\rfloor`. It stays within
      one of every quota, but is not house-monotone (Alabama paradox, see :func:`alabama_paradox`).
      With ``minimum = m``, cells whose quota (among the cells not yet fixed) is below ``m`` are
      fixed at ``m`` and the rest are re-apportioned, until no quota falls below ``m``.
    * A divisor method gives cell :math:`i` the number of its priorities :math:`w_i / d(s)`,
      :math:`s = 0, 1, \\ldots`, that are among the :math:`n` largest of all cells' priorities,
      with :math:`d(s) = s + 1` (Jefferson/D'Hondt), :math:`s + 1/2` (Webster/Sainte-Laguë),
      :math:`\\sqrt{s(s + 1)}` (Huntington–Hill) and :math:`s` (Adams); :math:`d(s) = 0` is an
      infinite priority. With ``minimum = m`` the priorities of seats ``s < m`` are infinite.
      Priorities are compared exactly (rationals; Huntington–Hill via :math:`w_i^2 / (s(s+1))`),
      not by searching a divisor numerically. Divisor methods are house-monotone.

    Tie rules (deterministic): equal remainders (Hamilton) or equal priorities (divisor methods)
    are resolved in favour of the cell with the larger weight, then the cell that comes first in
    the input. Weights are taken exactly as given (floats by their exact binary value).

    References
    ----------
    Balinski, M. L. and Young, H. P. (2001). *Fair Representation: Meeting the Ideal of One Man,
    One Vote*, 2nd ed. Brookings Institution Press.

    Examples
    --------
    >>> from sampling import apportion
    >>> votes = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}
    >>> apportion(votes, 8, method="dhondt").tolist()
    [4, 3, 1, 0]
    >>> apportion(votes, 8, method="sainte_lague").tolist()
    [3, 3, 1, 1]
    """
    method = check_option(method, METHODS, "method")
    arr, index = _weights_and_labels(weights, labels)
    n = as_int(n, "n", minimum=0)
    m = _check_minimum(arr, n, method, minimum)
    seats = _apportion_array(arr, n, method, m)
    return pd.Series(seats, index=index, name="seats")


def alabama_paradox(
    weights: Any,
    n: int | Iterable[int],
    *,
    method: ApportionmentMethod = "hamilton",
    minimum: int | None = None,
    labels: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Find cells that lose a place when the total grows by one (the Alabama paradox).

    Parameters
    ----------
    weights : array-like, Series or mapping
        As for :func:`apportion`.
    n : int or iterable of int
        Totals to check; each ``n`` is compared with ``n + 1``.
    method, minimum, labels
        As for :func:`apportion`.

    Returns
    -------
    DataFrame
        One row per (``n``, cell) where the cell's places fall from ``n`` to ``n + 1``: columns
        ``n``, ``cell``, ``seats_at_n``, ``seats_at_n_plus_1``. Empty when no paradox occurs
        (always, for the divisor methods).

    Notes
    -----
    A method is house-monotone when :math:`a_i(n + 1) \\ge a_i(n)` for every cell; Hamilton is not
    (Alabama lost a seat going from 299 to 300 seats in the 1880 census calculations).

    References
    ----------
    Balinski, M. L. and Young, H. P. (2001). *Fair Representation*, ch. 5.

    Examples
    --------
    >>> from sampling import alabama_paradox
    >>> alabama_paradox({"A": 6, "B": 6, "C": 2}, 10).to_dict("records")
    [{'n': 10, 'cell': 'C', 'seats_at_n': 2, 'seats_at_n_plus_1': 1}]
    """
    method = check_option(method, METHODS, "method")
    arr, index = _weights_and_labels(weights, labels)
    totals = [n] if isinstance(n, (int, np.integer)) else list(n)
    rows = []
    for total in totals:
        total = as_int(total, "n", minimum=0)
        m = _check_minimum(arr, total, method, minimum)
        before = _apportion_array(arr, total, method, m)
        after = _apportion_array(arr, total + 1, method, m)
        for i in np.flatnonzero(after < before):
            rows.append(
                {
                    "n": total,
                    "cell": index[i],
                    "seats_at_n": int(before[i]),
                    "seats_at_n_plus_1": int(after[i]),
                }
            )
    return pd.DataFrame(rows, columns=["n", "cell", "seats_at_n", "seats_at_n_plus_1"])
