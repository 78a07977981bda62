"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.
"""

from .leverage import (
    LewisWeights,
    leverage_scores,
    lewis_weights,
    lp_sensitivities,
    mixed_scores,
    root_leverage_scores,
)
from .sensitivity_sampling import Subset, inclusion_probabilities_for, sensitivity_sample

__all__: list[str] = [
    "LewisWeights",
    "Subset",
    "inclusion_probabilities_for",
    "leverage_scores",
    "lewis_weights",
    "lp_sensitivities",
    "mixed_scores",
    "root_leverage_scores",
    "sensitivity_sample",
]
