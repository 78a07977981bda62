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
from .aggregation import (
    AggregationResult,
    StrengthModelResult,
    aggregate,
    bradley_terry,
    plackett_luce,
)
from .calibrate import calibrate
from .design import SurveyDesign
from .estimation import Estimate, mean, proportion, quantile, ratio, total
from .poststratify import poststratify
from .prism import PrismData, load_prism, read_prism_table, utterances_from_conversations
from .rake import rake
from .replicates import ReplicateDesign, replicate_design
from .representativeness import (
    RepresentativenessResult,
    answer_distribution,
    representativeness,
)
from .trim import trim
from .utility import UtilityTable, choice_sets, pairwise_battles, utility_table
from .weighting_result import WeightingResult
from .welfare import WelfareResult, welfare
from .who_decides import JuryPolicy, WhoDecidesResult, who_decides

__version__ = "0.1.0"

__all__ = [
    "AggregationResult",
    "ColumnError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "DesignError",
    "EquisampleError",
    "EquisampleWarning",
    "Estimate",
    "InfeasibleError",
    "JuryPolicy",
    "MarginError",
    "PrismData",
    "ReplicateDesign",
    "RepresentativenessResult",
    "StrengthModelResult",
    "SurveyDesign",
    "UtilityTable",
    "ValidationError",
    "WeightingResult",
    "WelfareResult",
    "WhoDecidesResult",
    "aggregate",
    "answer_distribution",
    "bradley_terry",
    "calibrate",
    "choice_sets",
    "datasets",
    "load_prism",
    "mean",
    "pairwise_battles",
    "plackett_luce",
    "poststratify",
    "proportion",
    "quantile",
    "rake",
    "ratio",
    "read_prism_table",
    "replicate_design",
    "representativeness",
    "total",
    "trim",
    "utility_table",
    "utterances_from_conversations",
    "welfare",
    "who_decides",
]
