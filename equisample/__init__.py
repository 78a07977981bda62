"""equisample: plan who to ask, reweight who you got, and evaluate who decides.

``import equisample as eq`` gives both layers in one namespace: everything before collection from
:mod:`sampling` (allocation, quotas, selection, simulation) and everything after from
:mod:`estimators` (survey designs, weighting, welfare, datasets). Those two packages are the real
homes; this module only re-exports their public names (``eq.rake``, ``eq.allocate``, ...), plus the
error classes as :mod:`equisample.errors`.

The import is cheap: a name's family (with numpy, pandas, scipy) loads the first time the name is
used, as in the two packages (lazy loading, SPEC 1).
"""

from __future__ import annotations

from typing import Any

import estimators as _estimators
import sampling as _sampling
from equisample import errors as errors

__version__ = _estimators.__version__

__all__ = sorted({*_estimators.__all__, *_sampling.__all__, "errors"})

_ESTIMATORS = frozenset(_estimators.__all__)
_SAMPLING = frozenset(_sampling.__all__)


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        value = getattr(_estimators, name)
    elif name in _SAMPLING:
        value = getattr(_sampling, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses are plain attribute look-ups
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
