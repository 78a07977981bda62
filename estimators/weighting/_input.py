"""The first argument of every weighting function: a SurveyDesign or a DataFrame (+ base weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import as_frame, as_weights, fail
from estimators.errors import ValidationError
from estimators.survey._design import SurveyDesign

__all__ = ["WeightingInput", "resolve_input"]


@dataclass(frozen=True, eq=False)
class WeightingInput:
    """The data frame, the base weights (float64, finite, >= 0) and the design they came from.

    ``unit_base`` is True when no weights were given (every base weight is 1).
    """

    frame: pd.DataFrame
    base_weights: np.ndarray
    design: SurveyDesign | None
    unit_base: bool = False

    def make_design(self) -> SurveyDesign:
        """The design to attach new weights to (built from the frame when a DataFrame was given)."""
        if self.design is not None:
            return self.design
        return SurveyDesign(self.frame, weights=self.base_weights)


def resolve_input(data: Any, weights: Any = None, parameter: str = "data") -> WeightingInput:
    """Accept a :class:`SurveyDesign` (its weights are the base weights) or a DataFrame.

    With a DataFrame, ``weights`` gives the base weights (a column name, values, or ``None`` for 1).
    With a design, ``weights`` must be ``None`` because the design already has its weights.
    """
    if isinstance(data, SurveyDesign):
        if weights is not None:
            fail(
                ValidationError,
                "weights",
                "must be None when a SurveyDesign is given (the design already has weights)",
                bad=[weights if isinstance(weights, str) else type(weights).__name__],
                fix="Build the design with SurveyDesign(df, weights=...) or pass the DataFrame.",
            )
        return WeightingInput(data.data, np.asarray(data.weight_array, dtype=np.float64), data)
    frame = as_frame(data, parameter)
    if weights is None:
        # unit base weights as a read-only, zero-stride view: no n-sized array of ones is stored
        # (kernels only read base weights; any in-place write would raise instead of corrupting)
        unit = np.broadcast_to(np.float64(1.0), (len(frame),))
        return WeightingInput(frame, unit, None, True)
    return WeightingInput(frame, as_weights(weights, frame, "weights"), None, False)
