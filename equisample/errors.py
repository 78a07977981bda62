"""The error and warning classes of equisample (the same objects as :mod:`estimators.errors`)."""

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

__all__ = [
    "ColumnError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "DesignError",
    "EquisampleError",
    "EquisampleWarning",
    "ExtrapolationWarning",
    "InfeasibleError",
    "MarginError",
    "ValidationError",
]
