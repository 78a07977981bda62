"""Selection: which items or people to keep, by sensitivity sampling with correct reweighting.

Leverage scores (exact or sketched), root-leverage, ell_p Lewis weights and sensitivities
(:func:`leverage_scores`, :func:`lewis_weights`, :func:`lp_sensitivities`), and
:func:`sensitivity_sample`, which draws a weighted subset (Poisson, systematic, pivotal or
multinomial designs) whose weighted ell_p geometry matches the full data.
"""

from sampling.selection._leverage import (
    LewisWeights,
    leverage_scores,
    lewis_weights,
    lp_sensitivities,
    mixed_scores,
    root_leverage_scores,
)
from sampling.selection._sensitivity import Subset, inclusion_probabilities_for, sensitivity_sample

__all__ = [
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
