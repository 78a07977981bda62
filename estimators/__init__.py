"""equisample estimators: everything after collection.

Survey designs, weighting (rake, calibrate, post-stratify, trim, adjust to a reference sample), design-based variance,
estimates, and welfare / preference aggregation. Depends on numpy, scipy, pandas, statsmodels.

The families are sub-packages — :mod:`estimators.survey`, :mod:`estimators.weighting`,
:mod:`estimators.welfare`, :mod:`estimators.datasets` — and the errors live in
:mod:`estimators.errors`; their public names are re-exported here.
"""

from estimators import datasets
from estimators import errors as errors
from estimators import survey as survey
from estimators import weighting as weighting
from estimators.datasets import (
    PrismData,
    load_prism,
    read_prism_table,
    utterances_from_conversations,
)
from estimators.errors import (
    ColumnError,
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    DesignError,
    EquisampleError,
    EquisampleWarning,
    ExtrapolationWarning,
    InfeasibleError,
    MarginError,
    ValidationError,
)
from estimators.survey import (
    Estimate,
    ReplicateDesign,
    SurveyDesign,
    contrast,
    mean,
    proportion,
    proportion_interval,
    quantile,
    ratio,
    replicate_design,
    replicate_estimate,
    total,
    variance,
)
from estimators.weighting import (
    BalanceResult,
    ReferenceWeightingResult,
    WeightingResult,
    adjust_to_reference,
    calibrate,
    covariate_balance,
    poststratify,
    rake,
    trim,
)
from estimators.welfare import (
    AggregationResult,
    JuryPolicy,
    RepresentativenessResult,
    StrengthModelResult,
    UtilityTable,
    WelfareResult,
    WhoDecidesResult,
    aggregate,
    answer_distribution,
    bradley_terry,
    choice_sets,
    pairwise_battles,
    plackett_luce,
    representativeness,
    utility_table,
    welfare,  # the function; its family is imported as ``from estimators.welfare import ...``
    who_decides,
)

__version__ = "0.1.0"

__all__ = [
    "AggregationResult",
    "BalanceResult",
    "ColumnError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "DesignError",
    "EquisampleError",
    "EquisampleWarning",
    "Estimate",
    "ExtrapolationWarning",
    "InfeasibleError",
    "JuryPolicy",
    "MarginError",
    "PrismData",
    "ReferenceWeightingResult",
    "ReplicateDesign",
    "RepresentativenessResult",
    "StrengthModelResult",
    "SurveyDesign",
    "UtilityTable",
    "ValidationError",
    "WeightingResult",
    "WelfareResult",
    "WhoDecidesResult",
    "adjust_to_reference",
    "aggregate",
    "answer_distribution",
    "bradley_terry",
    "calibrate",
    "choice_sets",
    "contrast",
    "covariate_balance",
    "datasets",
    "load_prism",
    "mean",
    "pairwise_battles",
    "plackett_luce",
    "poststratify",
    "proportion",
    "proportion_interval",
    "quantile",
    "rake",
    "ratio",
    "read_prism_table",
    "replicate_design",
    "replicate_estimate",
    "representativeness",
    "total",
    "trim",
    "utility_table",
    "utterances_from_conversations",
    "variance",
    "welfare",
    "who_decides",
]
