"""What an estimator needs from a design: the protocol both design types implement.

The estimators (:mod:`estimators.survey._estimation`) are written against :class:`Design` only, as
R survey's ``svymean`` dispatches on the design's class: a :class:`TaylorDesign` (``SurveyDesign``)
linearises, a replicate design re-weights. Neither estimators nor replicate construction import
the concrete classes, so the design types can use them without an import cycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["Design", "TaylorDesign"]


class Design(ABC):
    """A sample with a variance method for linear statistics of its rows."""

    __slots__ = ()

    @abstractmethod
    def _estimation_parts(self) -> tuple[TaylorDesign, Design | None]:
        """The design over the sample rows, and the replicate design (None for Taylor)."""

    @abstractmethod
    def _linear_covariance(
        self,
        core: Any,
        values: np.ndarray,
        theta: np.ndarray,
        lonely_psu: str,
        raking_variance: str,
        *,
        full: bool = True,
        domain_lonely: bool = False,
    ) -> tuple[np.ndarray, str]:
        """Covariance of the statistics of ``core`` and the name of the variance method.

        ``core`` describes ratio-of-totals statistics in entry form (rows, columns, numerator
        ``a`` and denominator ``b`` values); ``values`` are their linearised values per entry at
        the full-sample weights and ``theta`` the estimates. With ``full=False`` only the
        variances are returned (a vector), in memory proportional to the entries, not to the
        square of the number of statistics. ``domain_lonely``: R's
        ``survey.adjust.domain.lonely`` (Taylor designs only, as in R).
        """


class TaylorDesign(Design):
    """A design whose variance is linearised over strata and PSUs (``SurveyDesign``)."""

    __slots__ = ()
