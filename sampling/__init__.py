"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.
"""

from .adaptive import AdaptiveAllocator, Batch
from .allocation import AllocationPlan, allocate
from .apportionment import alabama_paradox, apportion
from .classical_allocation import StratumAllocation, bethel_allocation, neyman_allocation
from .controlled_rounding import controlled_round
from .learning_curves import LearningCurves, fit_learning_curves
from .leverage import (
    LewisWeights,
    leverage_scores,
    lewis_weights,
    lp_sensitivities,
    mixed_scores,
    root_leverage_scores,
)
from .policies import (
    AdaptivePolicy,
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
from .quota_tracker import Decision, QuotaTracker
from .quotas import QuotaPlan, design_quotas
from .sensitivity_sampling import Subset, inclusion_probabilities_for, sensitivity_sample
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
    "AdaptiveAllocator",
    "AdaptivePolicy",
    "AllocationPlan",
    "AllocationPolicy",
    "Batch",
    "ConveniencePolicy",
    "Decision",
    "Draw",
    "EqualPolicy",
    "Evaluation",
    "GaussianRatings",
    "LearningCurves",
    "LewisWeights",
    "Policy",
    "PolicyContext",
    "PolicySimulation",
    "ProportionalPolicy",
    "QuotaPlan",
    "QuotaPolicy",
    "QuotaTracker",
    "SensitivityPolicy",
    "SimpleRandomPolicy",
    "StratumAllocation",
    "Subset",
    "alabama_paradox",
    "allocate",
    "apportion",
    "bethel_allocation",
    "controlled_round",
    "design_quotas",
    "fit_learning_curves",
    "inclusion_probabilities_for",
    "leverage_scores",
    "lewis_weights",
    "lp_sensitivities",
    "mixed_scores",
    "neyman_allocation",
    "policy_context",
    "root_leverage_scores",
    "sensitivity_sample",
    "simulate_policies",
    "synthetic_population",
]
