"""``poststratify``: scale weights so every post-stratum (one- or multi-way cell) hits its population count."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import MarginError, ValidationError
from estimators.weighting._input import resolve_input
from estimators.weighting._ipf import MarginArrays, _Summer, margin_errors
from estimators.weighting._margins import (
    OnEmptyCategory,
    OnMissing,
    OnTotalMismatch,
    WeightingProblem,
    build_problem,
    parse_targets,
)
from estimators.weighting._raking import cell_reweighter, finish, trace_frame
from estimators.weighting._result import WeightingResult

__all__ = ["poststratify"]

TARGET_COLUMN_NAMES = ("target", "count", "population", "Freq", "share")


def _cells_list(cells: Any) -> list[Hashable] | None:
    if cells is None:
        return None
    if isinstance(cells, (list, tuple)):
        out = list(cells)
    else:
        out = [cells]
    if not out:
        fail(ValidationError, "cells", "must name at least one column", bad=["<empty>"])
    return out


def _population_margins(population: Any, cells: list[Hashable] | None) -> dict[Any, Any]:
    """Turn every accepted ``population`` form into a one-margin ``margins`` dict."""
    if isinstance(population, pd.DataFrame):
        if {"variable", "category", "target"} <= set(population.columns):
            return _single(parse_targets_dict(population), cells)
        if cells is None:
            fail(ValidationError, "cells", "must name the cell columns of the population table",
                 bad=[None], fix=f"The table has columns {list(population.columns)}.")
        missing = [c for c in cells if c not in population.columns]
        if missing:
            fail(MarginError, "population", "table lacks cell columns", bad=missing)
        others = [c for c in population.columns if c not in cells]
        if len(others) == 1:
            target_col = others[0]
        else:
            named = [c for c in TARGET_COLUMN_NAMES if c in others]
            if len(named) != 1:
                fail(
                    MarginError,
                    "population",
                    "cannot tell which column holds the population counts or shares",
                    bad=others,
                    fix=f"Keep only the cell columns and one of {', '.join(TARGET_COLUMN_NAMES)}.",
                )
            target_col = named[0]
        keys = (
            list(population[cells[0]])
            if len(cells) == 1
            else list(population[cells].itertuples(index=False, name=None))
        )
        values = population[target_col].to_numpy()
        dups = pd.Index(keys)[pd.Index(keys).duplicated()]
        if len(dups):
            fail(MarginError, "population", "repeats cells", bad=list(dups))
        key = cells[0] if len(cells) == 1 else tuple(cells)
        return {key: dict(zip(keys, values))}
    if isinstance(population, pd.Series):
        names = list(population.index.names)
        if cells is None:
            if any(n is None for n in names):
                fail(ValidationError, "cells", "must be given when the Series index has no names",
                     bad=[None])
            cells = names
        key = cells[0] if len(cells) == 1 else tuple(cells)
        return {key: dict(zip(population.index, population.to_numpy()))}
    if isinstance(population, Mapping):
        values = list(population.values())
        if values and all(isinstance(v, (Mapping, pd.Series)) for v in values):
            return _single(dict(population), cells)
        if cells is None:
            fail(
                ValidationError,
                "cells",
                "must name the cell columns when population maps cells to counts",
                bad=[None],
                fix='E.g. poststratify(df, {"f": 510, "m": 490}, cells=["sex"]).',
            )
        key = cells[0] if len(cells) == 1 else tuple(cells)
        return {key: dict(population)}
    fail(
        ValidationError,
        "population",
        "must be a dict, a Series or a DataFrame of population counts or shares",
        bad=[type(population).__name__],
    )


def parse_targets_dict(frame: pd.DataFrame) -> dict[Any, Any]:
    parsed = parse_targets(frame, parameter="population")
    return {
        (m.columns if len(m.columns) > 1 else m.columns[0]): dict(zip(m.labels, m.values))
        for m in parsed.margins
    }


def _single(margins: dict[Any, Any], cells: list[Hashable] | None) -> dict[Any, Any]:
    if len(margins) != 1:
        fail(
            MarginError,
            "population",
            "post-stratification takes one table of cells; several margins were given",
            bad=list(margins),
            fix="Use a joint key (tuple of columns) for multi-way cells, or rake(...) for margins.",
        )
    (key,) = margins
    given = list(key) if isinstance(key, tuple) else [key]
    if cells is not None and list(cells) != given:
        fail(MarginError, "cells", "do not match the population table's columns", bad=[cells],
             fix=f"The population table is over {given}.")
    return margins


def poststratify(
    data: Any,
    population: Any,
    *,
    cells: Sequence[Hashable] | Hashable | None = None,
    weights: Any = None,
    population_total: float | None = None,
    on_missing: OnMissing = "raise",
    on_empty_category: OnEmptyCategory = "raise",
    on_total_mismatch: OnTotalMismatch = "raise",
) -> WeightingResult:
    """Post-stratify: scale the weights in each cell so the cell total equals its population count.

    Parameters
    ----------
    data : SurveyDesign or DataFrame
        The sample; a design's weights (or ``weights``) are the base weights.
    population : dict, Series or DataFrame
        Population counts or shares per cell: ``{"f": 510, "m": 490}`` with ``cells=["sex"]``;
        ``{("18-24", "f"): ..., ...}`` with ``cells=["age", "sex"]``; the ``rake`` margins form with
        a single (joint) margin; a Series indexed by cell (MultiIndex for several columns); or a
        DataFrame with the cell columns and one count column (``count``, ``target``, ``Freq``,
        ``population`` or ``share``).
    cells : column name or list of column names
        The post-stratification columns (their joint levels are the cells).
    weights : str, array-like or None
        Base weights when ``data`` is a DataFrame.
    population_total : float, optional
        Population size to scale shares to (default: the sum of the base weights).
    on_missing, on_empty_category, on_total_mismatch
        As in :func:`~estimators.rake`.

    Returns
    -------
    WeightingResult

    Notes
    -----
    ``w_i = d_i * N_h / sum_{j in h} d_j`` for row ``i`` in cell ``h`` with population count
    ``N_h``: exactly R ``survey::postStratify``. Every sample cell needs a population count.

    References
    ----------
    Holt, D. and Smith, T. M. F. (1979). Post stratification. *JRSS A* 142, 33-46.
    Lumley, T. (2010). *Complex Surveys*, sec. 7.1. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import poststratify
    >>> df = pd.DataFrame({"sex": ["f", "m", "m", "m"]})
    >>> fit = poststratify(df, {"f": 50, "m": 50}, cells=["sex"])
    >>> [round(float(w), 4) for w in fit.weights]
    [50.0, 16.6667, 16.6667, 16.6667]
    """
    source = resolve_input(data, weights)
    margins = _population_margins(population, _cells_list(cells))
    parsed = parse_targets(margins, parameter="population")
    problem: WeightingProblem = build_problem(
        source.frame,
        parsed,
        source.base_weights,
        parameter="population",
        population_total=population_total,
        on_missing=on_missing,
        on_empty_category=on_empty_category,
        on_total_mismatch=on_total_mismatch,
        unit_base=source.unit_base,
    )
    (margin,) = problem.margins
    kernel = MarginArrays.build(margin.cell_category, margin.targets)

    def solve(cell_base: np.ndarray) -> np.ndarray:
        summer = _Summer(kernel, cell_base.shape[0])
        current = summer.sums(cell_base)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(current > 0, kernel.targets[:, None] / current, 0.0)
        return summer.spread(ratio, 0.0)

    g = solve(problem.cell_base[:, None])
    summer = _Summer(kernel, problem.cells.n_cells)
    before = margin_errors([summer], problem.cell_base[:, None])
    after = margin_errors([summer], problem.cell_base[:, None] * g)
    trace = trace_frame(problem, np.vstack([before, after]))
    return finish(
        source,
        problem,
        method="poststratify",
        cell_g=g[:, 0],
        outcome_converged=bool(after.max() <= 1e-10),
        n_iter=1,
        trace=trace,
        tol=1e-10,
        options={"cells": list(margin.columns), "population_total": problem.population_total,
                 **problem.options},
        reweight=cell_reweighter(problem, solve),
    )
