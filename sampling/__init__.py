"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.

The families are sub-packages — :mod:`sampling.allocation`, :mod:`sampling.quotas`,
:mod:`sampling.selection`, :mod:`sampling.simulation`, :mod:`sampling.cli` — whose public names are
re-exported here.
"""

from estimators.datasets import SYNTHETIC_OPTIONS, synthetic_population
from sampling.allocation import (
    AdaptiveAllocator,
    AllocationPlan,
    Batch,
    LearningCurves,
    StratumAllocation,
    allocate,
    bethel_allocation,
    fit_learning_curves,
    neyman_allocation,
)
from sampling.quotas import (
    Decision,
    QuotaPlan,
    QuotaTracker,
    alabama_paradox,
    apportion,
    controlled_round,
    design_quotas,
)
from sampling.selection import (
    LewisWeights,
    Subset,
    inclusion_probabilities_for,
    leverage_scores,
    lewis_weights,
    lp_sensitivities,
    mixed_scores,
    root_leverage_scores,
    sensitivity_sample,
)
from sampling.simulation import (
    AdaptivePolicy,
    AllocationPolicy,
    ConveniencePolicy,
    Draw,
    EqualPolicy,
    Evaluation,
    GaussianRatings,
    Policy,
    PolicyContext,
    PolicySimulation,
    ProportionalPolicy,
    QuotaPolicy,
    SensitivityPolicy,
    SimpleRandomPolicy,
    policy_context,
    simulate_policies,
)

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
