"""Survey designs and design-based estimation.

:class:`SurveyDesign` (Taylor linearisation over strata, PSUs and fpc, knowing the weighting
steps that produced its weights) and :class:`ReplicateDesign` (replicate weights); the estimators
:func:`mean`, :func:`total`, :func:`proportion`, :func:`ratio` and :func:`quantile` dispatch on the
design type for their variance.
"""

from estimators.survey._design import SurveyDesign
from estimators.survey._estimation import Estimate, mean, proportion, quantile, ratio, total
from estimators.survey._proportion_interval import proportion_interval
from estimators.survey._replicates import ReplicateDesign, replicate_design

__all__ = [
    "Estimate",
    "ReplicateDesign",
    "SurveyDesign",
    "mean",
    "proportion",
    "proportion_interval",
    "quantile",
    "ratio",
    "replicate_design",
    "total",
]
