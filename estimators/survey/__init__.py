"""Survey designs and design-based estimation.

:class:`SurveyDesign` (Taylor linearisation over strata, PSUs and fpc, knowing the weighting
steps that produced its weights) and :class:`ReplicateDesign` (replicate weights); the estimators
:func:`mean`, :func:`total`, :func:`proportion`, :func:`ratio`, :func:`quantile`,
:func:`variance` and :func:`proportion_interval` dispatch on the design type for their variance;
:func:`contrast` takes functions of estimates and :func:`replicate_estimate` the replicate SE of any
statistic of the weights.
"""

from estimators.survey._contrast import contrast
from estimators.survey._design import SurveyDesign
from estimators.survey._estimation import Estimate, mean, proportion, quantile, ratio, total
from estimators.survey._proportion_interval import proportion_interval
from estimators.survey._replicate_estimate import replicate_estimate
from estimators.survey._replicates import ReplicateDesign, replicate_design
from estimators.survey._variance import variance

__all__ = [
    "Estimate",
    "ReplicateDesign",
    "SurveyDesign",
    "contrast",
    "mean",
    "proportion",
    "proportion_interval",
    "quantile",
    "ratio",
    "replicate_design",
    "replicate_estimate",
    "total",
    "variance",
]
