"""The package's exception and warning tree.

Every error raised at a public boundary is an :class:`EquisampleError`, and also a subclass of the
built-in exception a user would expect (``ValueError``, ``KeyError``, ``RuntimeError``), so
``except ValueError`` keeps working. Messages follow one pattern: what is wrong, the offending
names or values (a count and up to five labels), and how to fix it.
"""

from __future__ import annotations


class EquisampleError(Exception):
    """Base class of every error raised by equisample."""


class ValidationError(EquisampleError, ValueError):
    """An argument breaks a documented rule (type, range, shape, allowed option)."""


class ColumnError(ValidationError, KeyError):
    """A named column is missing from a data frame."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class MarginError(EquisampleError, ValueError):
    """Weighting margins or totals do not fit the data (missing categories, totals disagree)."""


class DesignError(EquisampleError, ValueError):
    """A survey design cannot support the requested computation (e.g. a stratum with one PSU)."""


class InfeasibleError(EquisampleError, ValueError):
    """A constrained problem has no solution; the message carries a certificate."""


class ConvergenceError(EquisampleError, RuntimeError):
    """An iterative algorithm did not reach its tolerance within its iteration limit."""


class EquisampleWarning(UserWarning):
    """Base class of every warning issued by equisample."""


class ConvergenceWarning(EquisampleWarning):
    """Issued instead of :class:`ConvergenceError` when ``on_nonconvergence="warn"``."""


class DataWarning(EquisampleWarning):
    """The data are usable but something about them deserves attention."""


class ExtrapolationWarning(DataWarning):
    """A plan rests on a fitted curve far beyond the data it was fitted to, or on parameters the
    data determine poorly."""


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
