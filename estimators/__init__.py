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
from .calibrate import calibrate
from .design import SurveyDesign
from .poststratify import poststratify
from .rake import rake
from .trim import trim
from .weighting_result import WeightingResult

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "DesignError",
    "EquisampleError",
    "EquisampleWarning",
    "InfeasibleError",
    "MarginError",
    "SurveyDesign",
    "ValidationError",
    "WeightingResult",
    "calibrate",
    "datasets",
    "poststratify",
    "rake",
    "trim",
]
