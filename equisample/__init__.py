"""equisample: plan who to ask, reweight who you got, and evaluate who decides.

``import equisample as eq`` gives both layers in one namespace: everything before collection from
:mod:`sampling` (allocation, quotas, selection, simulation) and everything after from
:mod:`estimators` (survey designs, weighting, welfare, datasets). Those two packages are the real
homes; this module only re-exports their public names (``eq.rake``, ``eq.allocate``, ...), plus the
error classes as :mod:`equisample.errors`.
"""

import estimators as _estimators
import sampling as _sampling
from equisample import errors as errors
from estimators import *  # noqa: F403
from sampling import *  # noqa: F403

__version__ = _estimators.__version__

__all__ = sorted({*_estimators.__all__, *_sampling.__all__, "errors"})
