"""Strata of :func:`~sampling.selection.sensitivity_sample`: stratum codes and the allocation of
the sample size ``m`` across strata (proportional, equal, with floors, or given)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from estimators._lib.validation import as_int, check_option, fail
from estimators.errors import InfeasibleError, ValidationError

ALLOCATIONS = ("proportional", "equal", "floor")


def stratum_codes(strata: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    """Stratum code (0..H-1, labels sorted) of every row, and the labels."""
    values = strata.to_numpy() if isinstance(strata, (pd.Series, pd.Index)) else np.asarray(strata)
    if values.ndim != 1 or values.shape[0] != n:
        fail(ValidationError, "strata", f"must have one label per row ({n})",
             bad=[f"shape {values.shape}"])
    missing = pd.isna(values)
    if missing.any():
        fail(ValidationError, "strata", "has missing labels", bad=[f"row {int(i)}" for i in
             np.flatnonzero(missing)], fix="Give every row a stratum (e.g. an 'unknown' group).")
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), list(uniques)


def water_fill(base: np.ndarray, lower: np.ndarray, upper: np.ndarray, m: int) -> np.ndarray:
    """Integers ``m_h`` in ``[lower, upper]`` summing to ``m``, as close to ``lambda * base`` as the
    bounds allow (bisection on lambda, then largest remainders)."""
    lo, hi = 0.0, 1.0
    while np.clip(hi * base, lower, upper).sum() < m:
        hi *= 2.0
        if hi > 1e300:
            break
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.clip(mid * base, lower, upper).sum() < m:
            lo = mid
        else:
            hi = mid
    target = np.clip(hi * base, lower, upper)
    counts = np.clip(np.floor(target + 1e-9), lower, upper).astype(np.int64)
    short = m - int(counts.sum())
    order = np.argsort(-(target - counts), kind="stable")
    for h in order:
        if short <= 0:
            break
        if counts[h] < upper[h]:
            counts[h] += 1
            short -= 1
    while short < 0:  # only possible through the floor rounding; remove from the largest slack
        h = int(np.argmax(counts - lower))
        counts[h] -= 1
        short += 1
    return counts


def allocate_to_strata(sizes: np.ndarray, labels: list[Any], m: int, allocation: Any,
                       floor_constant: float, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample sizes per stratum and the floors used (zeros unless allocation='floor')."""
    h = sizes.size
    floors = np.zeros(h, dtype=np.int64)
    if isinstance(getattr(allocation, "n", None), pd.Series):
        allocation = allocation.n  # an allocation plan (e.g. from sampling.allocate)
    if isinstance(allocation, (Mapping, pd.Series)):
        mapping = dict(allocation.items())
        missing = [lab for lab in labels if lab not in mapping]
        if missing:
            fail(ValidationError, "allocation", "has no sample size for some strata", bad=missing,
                 fix="Give a size for every stratum label.")
        counts = np.array([as_int(mapping[lab], f"allocation[{lab!r}]", minimum=0) for lab in labels])
        over = [lab for lab, c, s in zip(labels, counts, sizes) if c > s]
        if over:
            fail(InfeasibleError, "allocation", "asks for more rows than a stratum has", bad=over)
        if int(counts.sum()) != m:
            fail(ValidationError, "allocation", f"sizes must add up to m={m}",
                 bad=[int(counts.sum())], fix="Pass m=sum(allocation.values()).")
        return counts, floors
    allocation = check_option(allocation, ALLOCATIONS, "allocation")
    lower = np.minimum(sizes, 1).astype(float)
    upper = sizes.astype(float)
    if allocation == "floor":
        per = int(np.ceil(floor_constant * d * max(np.log(d), 1.0)))
        floors = np.minimum(sizes, per).astype(np.int64)
        lower = floors.astype(float)
        if floors.sum() > m:
            fail(InfeasibleError, "m", f"is too small for the stratum floors (each stratum needs "
                 f"min(N_h, ceil({floor_constant:g} d max(ln d, 1))) = up to {per} rows; together "
                 f"{int(floors.sum())})", bad=[m],
                 fix=f"Use m >= {int(floors.sum())} or a smaller floor_constant.")
    if lower.sum() > m:
        fail(InfeasibleError, "m", f"is smaller than the number of strata ({h}); every stratum "
             "gets at least one row", bad=[m])
    base = np.ones(h) if allocation == "equal" else sizes.astype(float)
    return water_fill(base, lower, upper, m), floors
