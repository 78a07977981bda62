"""Welfare and preference aggregation: who is sampled, and what the aggregate then says.

Utility tables from ratings, social welfare functions with design-based uncertainty, strength
models (Bradley–Terry, Plackett–Luce) and voting rules, jury simulations (:func:`who_decides`)
and representativeness of answers.
"""

from estimators.welfare._aggregation import (
    AggregationResult,
    StrengthModelResult,
    aggregate,
    bradley_terry,
    plackett_luce,
)
from estimators.welfare._representativeness import (
    RepresentativenessResult,
    answer_distribution,
    representativeness,
)
from estimators.welfare._utility import UtilityTable, choice_sets, pairwise_battles, utility_table
from estimators.welfare._welfare import WelfareResult, welfare
from estimators.welfare._who_decides import JuryPolicy, WhoDecidesResult, who_decides

__all__ = [
    "AggregationResult",
    "JuryPolicy",
    "RepresentativenessResult",
    "StrengthModelResult",
    "UtilityTable",
    "WelfareResult",
    "WhoDecidesResult",
    "aggregate",
    "answer_distribution",
    "bradley_terry",
    "choice_sets",
    "pairwise_battles",
    "plackett_luce",
    "representativeness",
    "utility_table",
    "welfare",
    "who_decides",
]
