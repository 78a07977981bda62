"""Allocation: how many people to recruit from each group.

Learning curves fitted to pilot data (:func:`fit_learning_curves`), budget allocation under
fairness objectives (:func:`allocate`; a KKT core with an optional compiled kernel, a cvxpy path
for custom objectives, proven integer plans), classical Neyman / cost-optimal / Bethel allocation
(:func:`neyman_allocation`, :func:`bethel_allocation`) and sequential allocation as data arrives
(:class:`AdaptiveAllocator`).
"""

from sampling.allocation._adaptive import AdaptiveAllocator, Batch
from sampling.allocation._classical import StratumAllocation, bethel_allocation, neyman_allocation
from sampling.allocation._core import compiled_kernel_available, use_compiled_kernel
from sampling.allocation._learning_curves import LearningCurves, fit_learning_curves
from sampling.allocation._plan import AllocationPlan, allocate

__all__ = [
    "AdaptiveAllocator",
    "AllocationPlan",
    "Batch",
    "LearningCurves",
    "StratumAllocation",
    "allocate",
    "bethel_allocation",
    "compiled_kernel_available",
    "fit_learning_curves",
    "neyman_allocation",
    "use_compiled_kernel",
]
