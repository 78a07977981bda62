"""equisample sampling: everything before collection.

Learning curves and budget allocation, adaptive allocation, census quotas and live tracking,
sensitivity-sampling subset selection, sampling-policy simulation, and the ``equisample`` CLI.
May import :mod:`estimators`; :mod:`estimators` never imports this package.
"""

from .apportionment import alabama_paradox, apportion
from .controlled_rounding import controlled_round
from .quota_tracker import Decision, QuotaTracker
from .quotas import QuotaPlan, design_quotas

__all__: list[str] = [
    "Decision",
    "QuotaPlan",
    "QuotaTracker",
    "alabama_paradox",
    "apportion",
    "controlled_round",
    "design_quotas",
]
