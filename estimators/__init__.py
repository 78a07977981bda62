"""equisample estimators: everything after collection.

Survey designs, weighting (rake, calibrate, post-stratify, trim, adjust to a reference sample), design-based variance,
estimates, and welfare / preference aggregation. Depends on numpy, scipy, pandas, statsmodels.

The families are sub-packages — :mod:`estimators.survey`, :mod:`estimators.weighting`,
:mod:`estimators.welfare`, :mod:`estimators.datasets` — and the errors live in
:mod:`estimators.errors`; their public names are re-exported here.

Importing the package is cheap: a family (and pandas, scipy, ... with it) is loaded the first time
one of its names is used (``estimators.rake`` loads :mod:`estimators.weighting` and what it needs),
the lazy loading of the Scientific Python ecosystem (SPEC 1). The error classes load at once.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from estimators import errors as errors
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

if TYPE_CHECKING:  # the names as static tools see them; at run time they load on first use
    from estimators import datasets
    from estimators import survey as survey
    from estimators import weighting as weighting
    from estimators.datasets import (
        PrismData,
        load_prism,
        read_prism_table,
        utterances_from_conversations,
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
        welfare,
        who_decides,
    )

__version__ = "0.1.0"

# Each lazily loaded public name and the family that holds it.
_HOME: dict[str, str] = {
    **dict.fromkeys([
        "PrismData", "load_prism", "read_prism_table", "utterances_from_conversations",
    ], "datasets"),
    **dict.fromkeys([
        "Estimate", "ReplicateDesign", "SurveyDesign", "contrast", "mean", "proportion",
        "proportion_interval", "quantile", "ratio", "replicate_design", "replicate_estimate",
        "total", "variance",
    ], "survey"),
    **dict.fromkeys([
        "BalanceResult", "ReferenceWeightingResult", "WeightingResult", "adjust_to_reference",
        "calibrate", "covariate_balance", "poststratify", "rake", "trim",
    ], "weighting"),
    **dict.fromkeys([
        "AggregationResult", "JuryPolicy", "RepresentativenessResult", "StrengthModelResult",
        "UtilityTable", "WelfareResult", "WhoDecidesResult", "aggregate", "answer_distribution",
        "bradley_terry", "choice_sets", "pairwise_battles", "plackett_luce",
        "representativeness", "utility_table", "welfare", "who_decides",
    ], "welfare"),
}


def _family(name: str) -> types.ModuleType:
    """Import one family sub-package (at the first use of any of its names)."""
    if name == "datasets":
        import estimators.datasets
    elif name == "survey":
        import estimators.survey
    elif name == "weighting":
        import estimators.weighting
    else:
        import estimators.welfare  # noqa: F401
    return sys.modules[f"{__name__}.{name}"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(_family(_HOME[name]), name)
    elif name in ("datasets", "survey", "weighting"):
        value = _family(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses are plain attribute look-ups
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "errors", "survey", "weighting", "__version__"})


class _Package(types.ModuleType):
    """The package's module type: ``estimators.welfare`` stays the welfare *function*.

    The welfare family sub-package has the same name as its main function. Python binds a
    sub-package on its parent when it is first imported, which would hide the function; a property
    on the module's type wins over that binding. The family itself is reached as
    ``from estimators.welfare import ...`` (or ``sys.modules["estimators.welfare"]``).
    """

    @property
    def welfare(self) -> Any:
        return _family("welfare").welfare

    @welfare.setter
    def welfare(self, value: Any) -> None:
        """Ignore the import system's binding of the sub-package (see the class docstring)."""


sys.modules[__name__].__class__ = _Package

__all__: list[str] = [
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
