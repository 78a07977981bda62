"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.

The families are sub-packages — :mod:`sampling.allocation`, :mod:`sampling.quotas`,
:mod:`sampling.selection`, :mod:`sampling.simulation`, :mod:`sampling.cli` — whose public names are
re-exported here.

Importing the package is cheap: a family (and numpy, pandas, scipy, ... with it) is loaded the first
time one of its names is used, the lazy loading of the Scientific Python ecosystem (SPEC 1).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as static tools see them; at run time they load on first use
    from estimators.datasets import (
        SYNTHETIC_OPTIONS,
        synthetic_population,
    )
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

# Each lazily loaded public name and the family that holds it.
_HOME: dict[str, str] = {
    **dict.fromkeys([
        "SYNTHETIC_OPTIONS", "synthetic_population",
    ], "datasets"),
    **dict.fromkeys([
        "AdaptiveAllocator", "AllocationPlan", "Batch", "LearningCurves", "StratumAllocation",
        "allocate", "bethel_allocation", "fit_learning_curves", "neyman_allocation",
    ], "allocation"),
    **dict.fromkeys([
        "Decision", "QuotaPlan", "QuotaTracker", "alabama_paradox", "apportion",
        "controlled_round", "design_quotas",
    ], "quotas"),
    **dict.fromkeys([
        "LewisWeights", "Subset", "inclusion_probabilities_for", "leverage_scores",
        "lewis_weights", "lp_sensitivities", "mixed_scores", "root_leverage_scores",
        "sensitivity_sample",
    ], "selection"),
    **dict.fromkeys([
        "AdaptivePolicy", "AllocationPolicy", "ConveniencePolicy", "Draw", "EqualPolicy",
        "Evaluation", "GaussianRatings", "Policy", "PolicyContext", "PolicySimulation",
        "ProportionalPolicy", "QuotaPolicy", "SensitivityPolicy", "SimpleRandomPolicy",
        "policy_context", "simulate_policies",
    ], "simulation"),
}


def _family(name: str) -> types.ModuleType:
    """Import one family sub-package (at the first use of any of its names)."""
    if name == "datasets":
        import estimators.datasets  # noqa: F401

        return sys.modules["estimators.datasets"]
    if name == "allocation":
        import sampling.allocation
    elif name == "quotas":
        import sampling.quotas
    elif name == "selection":
        import sampling.selection
    elif name == "simulation":
        import sampling.simulation
    else:
        import sampling.cli  # noqa: F401
    return sys.modules[f"{__name__}.{name}"]


_FAMILIES = ("allocation", "cli", "quotas", "selection", "simulation")


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(_family(_HOME[name]), name)
    elif name in _FAMILIES:
        value = _family(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses are plain attribute look-ups
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_FAMILIES})


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
