"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.
"""

from .policies import (
    AllocationPolicy,
    ConveniencePolicy,
    Draw,
    EqualPolicy,
    Policy,
    PolicyContext,
    ProportionalPolicy,
    QuotaPolicy,
    SensitivityPolicy,
    SimpleRandomPolicy,
)
from .simulate import (
    Evaluation,
    GaussianRatings,
    PolicySimulation,
    policy_context,
    simulate_policies,
)
from .synthetic import SYNTHETIC_OPTIONS, synthetic_population

__all__: list[str] = [
    "SYNTHETIC_OPTIONS",
    "AllocationPolicy",
    "ConveniencePolicy",
    "Draw",
    "EqualPolicy",
    "Evaluation",
    "GaussianRatings",
    "Policy",
    "PolicyContext",
    "PolicySimulation",
    "ProportionalPolicy",
    "QuotaPolicy",
    "SensitivityPolicy",
    "SimpleRandomPolicy",
    "policy_context",
    "simulate_policies",
    "synthetic_population",
]
