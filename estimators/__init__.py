"""equisample estimators: everything after collection.

Survey designs, weighting (rake, calibrate, post-stratify, trim), design-based variance,
estimates, and welfare / preference aggregation. Depends on numpy, scipy, pandas, statsmodels.
"""

from . import datasets
from ._errors import (
    ColumnError,
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    DesignError,
    EquisampleError,
    EquisampleWarning,
    InfeasibleError,
    MarginError,
    ValidationError,
)
from .design import SurveyDesign
from .estimation import Estimate, mean, proportion, quantile, ratio, total
from .replicates import ReplicateDesign, replicate_design

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "DesignError",
    "Estimate",
    "EquisampleError",
    "EquisampleWarning",
    "InfeasibleError",
    "MarginError",
    "ReplicateDesign",
    "SurveyDesign",
    "ValidationError",
    "datasets",
    "mean",
    "proportion",
    "quantile",
    "ratio",
    "replicate_design",
    "total",
]
