"""Design-based standard errors for welfare through a rater-level :class:`SurveyDesign`.

The design describes how the raters were sampled and weighted (strata, PSUs, fpc, calibration
steps); :func:`link_design` matches its rows to the utility table's raters. Utilities are
attached to a copy of it (same rows, same structure, same weighting steps), and the variance
estimators of :mod:`estimators.survey` (``SurveyDesign.mean`` / ``SurveyDesign.total`` with
``nan_policy="omit"``: unexposed raters are outside the domain, the design is never subset) give
the standard errors used by ``who_decides``; ``welfare`` hands its influence values to the
design's variance directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import fail
from estimators.errors import ValidationError
from estimators.survey._design import SurveyDesign
from estimators.survey._replicates import ReplicateDesign
from estimators.welfare._utility_input import Utilities

__all__ = ["LinkedDesign", "link_design"]


class LinkedDesign:
    """A rater-level design aligned to a utility table's rows."""

    def __init__(
        self, design: SurveyDesign, rows: np.ndarray, replicate: ReplicateDesign | None = None
    ) -> None:
        self.design = design
        self.rows = rows  # design row of each utility-table row
        self.replicate = replicate  # the replicate design, when one was given

    @property
    def variance_source(self) -> SurveyDesign | ReplicateDesign:
        """The design whose variance method is used (the replicate design when given)."""
        return self.design if self.replicate is None else self.replicate

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.design.weight_array, dtype=np.float64)[self.rows]

    def with_columns(self, columns: dict[str, np.ndarray]) -> SurveyDesign:
        """The design with extra columns (given per utility-table row), structure and steps kept."""
        base = self.design
        data = base.data.copy()
        n = len(data)
        for name, values in columns.items():
            full = np.full(n, np.nan) if values.dtype.kind == "f" else np.empty(n, dtype=object)
            full[self.rows] = values
            data[name] = full
        steps = base.weighting_steps
        start = steps[0].base_weights if steps else base.weight_array
        linked = SurveyDesign(
            data,
            weights=np.asarray(start, dtype=np.float64),
            strata=base.strata_columns or None,
            psu=base.psu_columns or None,
            fpc=base.fpc_population,
        )
        for step in steps:
            linked = linked.with_weights(step.weights, step)
        if not steps:
            linked = linked.with_weights(base.weight_array)
        return linked

    def domain_mean(
        self, values: np.ndarray, groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Weighted mean and linearised SE of ``values`` (NaN = outside) overall or per group."""
        columns: dict[str, np.ndarray] = {"__utility__": values.astype(np.float64)}
        if groups is not None:
            exposed = ~np.isnan(values)
            labels = np.asarray(groups, dtype=object).copy()
            # unexposed rows are outside every domain; give them an existing label so that a
            # group nobody in it was exposed to is simply absent (not an empty domain)
            labels[~exposed] = labels[exposed][0]
            columns["__group__"] = labels
        design = self.with_columns(columns)
        est = design.mean("__utility__", by="__group__" if groups is not None else None,
                          nan_policy="omit")
        frame = est.to_frame()
        keys = frame["__group__"].tolist() if groups is not None else [None]
        return frame["estimate"].to_numpy(), frame["std_error"].to_numpy(), keys

    def total_se(self, values: np.ndarray) -> float:
        """Linearised SE of the weighted total of ``values`` (one value per table row)."""
        design = self.with_columns({"__v__": values.astype(np.float64)})
        return float(design.total("__v__").to_frame()["std_error"].iloc[0])


def link_design(
    design: Any, util: Utilities, parameter: str = "design", *, allow_replicates: bool = False
) -> LinkedDesign:
    """Match a rater-level design's rows to the utility table's raters (one to one).

    With ``allow_replicates``, a ``ReplicateDesign`` is accepted too (its full-sample design is
    matched; the replicate design is kept for the variance).
    """
    replicate = None
    if allow_replicates and isinstance(design, ReplicateDesign):
        replicate, design = design, design.design
    if not isinstance(design, SurveyDesign):
        what = "a SurveyDesign or ReplicateDesign" if allow_replicates else "a SurveyDesign"
        fail(ValidationError, parameter, f"must be {what} with one row per rater",
             bad=[type(design).__name__])
    data = design.data
    key = util.raters.name
    ids = data[key] if key is not None and key in data.columns else pd.Series(data.index)
    if not pd.Index(ids).is_unique:
        fail(ValidationError, parameter, "must have one row per rater", bad=["duplicated ids"])
    rows = pd.Index(ids).get_indexer(util.raters)
    missing = util.raters[rows < 0]
    extra = len(ids) - int((rows >= 0).sum())
    if len(missing) or extra:
        fail(ValidationError, parameter, "rows must be exactly the raters of the utility table",
             bad=list(missing) if len(missing) else [f"{extra} extra rows"],
             fix="Build both from the same rater list, e.g. utility_table(..., raters=survey) "
             "and SurveyDesign(survey, ...).")
    return LinkedDesign(design, rows.astype(np.int64), replicate)
