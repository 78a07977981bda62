"""Weighting: rake, calibrate, post-stratify and trim to population margins or totals, or adjust
to a unit-level reference sample (with covariate-balance diagnostics).

Every function returns a :class:`WeightingResult` whose ``design`` records the weighting step, so
variance estimates (Taylor or replicate) account for how the weights were made.
"""

from estimators.weighting._balance import BalanceResult, covariate_balance
from estimators.weighting._calibration import calibrate
from estimators.weighting._poststratification import poststratify
from estimators.weighting._raking import rake
from estimators.weighting._reference_sample import ReferenceWeightingResult, adjust_to_reference
from estimators.weighting._result import WeightingResult
from estimators.weighting._trimming import trim

__all__ = [
    "BalanceResult",
    "ReferenceWeightingResult",
    "WeightingResult",
    "adjust_to_reference",
    "calibrate",
    "covariate_balance",
    "poststratify",
    "rake",
    "trim",
]
