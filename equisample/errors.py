"""The error and warning classes of equisample (the same objects as :mod:`estimators.errors`)."""

from estimators import errors as _errors
from estimators.errors import *  # noqa: F403

__all__ = list(_errors.__all__)
