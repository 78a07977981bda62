"""Design-based standard errors for welfare through a rater-level :class:`SurveyDesign`.

The design describes how the raters were sampled and weighted (strata, PSUs, fpc, calibration
steps); :func:`link_design` matches its rows to the utility table's raters. ``welfare`` and
``who_decides`` hand their influence values (or replicate re-computations) to the design's
variance through :mod:`estimators.welfare._welfare_variance`; a domain (unexposed raters, a
population) is never a subset of the design, only zero influence values.
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
