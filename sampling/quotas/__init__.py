"""Quotas: census-representative integer targets, and tracking them as participants arrive.

Apportionment methods (:func:`apportion`), controlled rounding of tables that keeps their margins
(:func:`controlled_round`), quota design from census tables (:func:`design_quotas`) and a live
tracker shared by processes through one store (:class:`QuotaTracker`).
"""

from sampling.quotas._apportionment import alabama_paradox, apportion
from sampling.quotas._controlled_rounding import controlled_round
from sampling.quotas._design import QuotaPlan, design_quotas
from sampling.quotas._tracker import Decision, QuotaTracker

__all__ = [
    "Decision",
    "QuotaPlan",
    "QuotaTracker",
    "alabama_paradox",
    "apportion",
    "controlled_round",
    "design_quotas",
]
