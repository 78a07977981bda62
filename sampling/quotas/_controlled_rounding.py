"""Controlled rounding: round every cell of a table so that its margins are rounded too.

Each cell goes to the floor or the ceiling of its exact value, every margin to the floor or the
ceiling of its exact margin, and the grand total stays exact. For two-way tables such a rounding
always exists (it is a flow problem); for three-way tables it usually does but not always, and the
solver says so when it does not.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from estimators._lib.validation import as_float_array, check_option, fail
from estimators.errors import DataWarning, InfeasibleError, ValidationError

__all__ = ["controlled_round"]

SNAP = 1e-9  # values this close to an integer are that integer (n * share arithmetic noise)


def _snap(values: np.ndarray) -> np.ndarray:
    rounded = np.round(values)
    return np.where(np.abs(values - rounded) <= SNAP * np.maximum(1.0, np.abs(values)), rounded, values)


def _margin_groups(shape: tuple[int, ...], margins: str) -> list[tuple[int, ...]]:
    """Axes kept by each constrained margin: all one-way margins, plus two-way ones if asked."""
    d = len(shape)
    groups: list[tuple[int, ...]] = [(a,) for a in range(d)] if d > 1 else []
    if margins == "all" and d > 2:
        groups += [tuple(p) for p in itertools.combinations(range(d), 2)]
    return groups


def _solve(x: np.ndarray, groups: list[tuple[int, ...]]) -> np.ndarray | None:
    """Integer program: z_c in {0, 1} rounds cell c up; margins and total within floor/ceil."""
    flat = x.reshape(-1)
    low = np.floor(flat)
    frac = flat - low
    free = frac > 0
    m = flat.size
    rows, cols, lo, hi = [], [], [], []
    r = 0
    total = float(flat.sum())
    specs: list[tuple[np.ndarray, float]] = [(np.arange(m), total)]
    idx = np.arange(m).reshape(x.shape)
    for axes in groups:
        other = tuple(a for a in range(x.ndim) if a not in axes)
        sums = x.sum(axis=other) if other else x
        moved = np.moveaxis(idx, axes, tuple(range(len(axes))))
        moved = moved.reshape(int(np.prod([x.shape[a] for a in axes])), -1)
        for k, cells in enumerate(moved):
            specs.append((cells, float(sums.reshape(-1)[k])))
    for position, (members, target) in enumerate(specs):
        base = float(low[members].sum())
        cells = members[free[members]]
        target = float(_snap(np.array([target]))[0])
        if position == 0:
            target_low = target_high = float(round(target))
        else:
            target_low, target_high = float(np.floor(target)), float(np.ceil(target))
        if cells.size == 0:
            if not (target_low - 1e-9 <= base <= target_high + 1e-9):
                return None
            continue
        rows += [r] * cells.size
        cols += cells.tolist()
        lo.append(target_low - base)
        hi.append(target_high - base)
        r += 1
    # minimise the total absolute deviation: |low + z - x| = frac + z (1 - 2 frac)
    cost = np.where(free, 1.0 - 2.0 * frac, 0.0)
    # deterministic tie rule: among equally close roundings prefer rounding up earlier cells
    cost = cost + np.where(free, 1e-9 * np.arange(m) / max(m, 1), 0.0)
    constraints = []
    if r:
        a = csr_array((np.ones(len(rows)), (rows, cols)), shape=(r, m))
        constraints.append(LinearConstraint(a, np.array(lo), np.array(hi)))
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(m),
        bounds=Bounds(np.zeros(m), free.astype(float)),
    )
    if not result.success or result.x is None:
        return None
    return (low + np.round(result.x)).astype(np.int64).reshape(x.shape)


def controlled_round(
    table: Any,
    *,
    margins: Literal["all", "one_way"] = "all",
    on_infeasible: Literal["raise", "warn"] = "raise",
) -> Any:
    """Round a table so that cells, margins and the total all stay within floor/ceil of exact.

    Parameters
    ----------
    table : array-like or DataFrame
        Non-negative exact values (e.g. quotas ``n * share``) with one axis per variable; a
        DataFrame is a two-way table (rows x columns). The grand total should be a whole number
        (it is rounded to the nearest one and kept exactly).
    margins : {"all", "one_way"}
        Which margins are controlled for tables of three or more dimensions: every one-way and
        two-way margin (``"all"``) or only the one-way margins. Two-way tables always control both
        one-way margins.
    on_infeasible : {"raise", "warn"}
        Three-way tables do not always admit a controlled rounding of all two-way margins. Raise
        :class:`~estimators.InfeasibleError`, or warn (:class:`~estimators.DataWarning`) and
        control only the one-way margins.

    Returns
    -------
    ndarray or DataFrame
        int64 values of the same shape (a DataFrame with the same labels for DataFrame input).

    Notes
    -----
    Write each cell as :math:`x_c = \\lfloor x_c \\rfloor + f_c`. The rounding
    :math:`a_c = \\lfloor x_c \\rfloor + z_c`, :math:`z_c \\in \\{0, 1\\}` (:math:`z_c = 0` when
    :math:`f_c = 0`), solves

    .. math:: \\min_z \\sum_c |a_c - x_c| = \\sum_c f_c + z_c (1 - 2 f_c)

    subject to :math:`\\lfloor X_g \\rfloor \\le \\sum_{c \\in g} a_c \\le \\lceil X_g \\rceil` for every
    controlled margin cell :math:`g` and :math:`\\sum_c a_c = \\sum_c x_c`, as a mixed-integer
    program (``scipy.optimize.milp``, HiGHS). For two-way tables the constraint matrix is totally
    unimodular (a network), so a solution always exists (Bacharach 1966; Cox and Ernst 1982).
    Ties between equally close roundings go to rounding up the cell that comes first in C order.

    References
    ----------
    Cox, L. H. and Ernst, L. R. (1982). Controlled rounding. *INFOR* 20(4), 423-432.
    Causey, B. D., Cox, L. H. and Ernst, L. R. (1985). Applications of transportation theory to
    statistical problems. *JASA* 80(392), 903-909.

    Examples
    --------
    >>> import numpy as np
    >>> from sampling import controlled_round
    >>> x = np.array([[1.5, 1.5], [1.5, 1.5]])
    >>> a = controlled_round(x)
    >>> int(a.sum()), a.sum(axis=0).tolist(), a.sum(axis=1).tolist()
    (6, [3, 3], [3, 3])
    """
    margins = check_option(margins, ("all", "one_way"), "margins")
    on_infeasible = check_option(on_infeasible, ("raise", "warn"), "on_infeasible")
    frame = table if isinstance(table, pd.DataFrame) else None
    values = frame.to_numpy() if frame is not None else table
    x = as_float_array(values, "table", ndim=None, nonnegative=True)
    if x.ndim == 0 or x.size == 0:
        fail(ValidationError, "table", "must have at least one cell", bad=[f"shape {x.shape}"])
    x = _snap(x)
    result = _solve(x, _margin_groups(x.shape, margins))
    if result is None and x.ndim > 2 and margins == "all":
        message = (
            "table: no controlled rounding keeps every two-way margin within floor/ceil of exact "
            f"for this {x.ndim}-way table"
        )
        if on_infeasible == "raise":
            raise InfeasibleError(
                message + '. Use margins="one_way" or on_infeasible="warn" to control the '
                "one-way margins only."
            )
        warnings.warn(message + "; only the one-way margins are controlled.", DataWarning, stacklevel=2)
        result = _solve(x, _margin_groups(x.shape, "one_way"))
    if result is None:  # pragma: no cover - two-way and one-way problems are always feasible
        raise InfeasibleError("table: no controlled rounding exists for this table.")
    if frame is not None:
        return pd.DataFrame(result, index=frame.index, columns=frame.columns)
    return result
