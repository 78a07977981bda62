"""The record a weighting step leaves on a design, so variance estimation knows how weights were made.

A :class:`WeightingStep` carries what linearisation needs (the auxiliary model matrix, the weights
going in and coming out, the per-margin cell codes for raking's back-fitting convention) and what
replicate variance needs (a vectorised function that re-runs the same step, with the same targets
and options, on a matrix of replicate base weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["WeightingMethod", "WeightingStep"]

WeightingMethod = Literal["poststratify", "rake", "linear", "raking", "logit", "trim", "ipw", "cbps"]


@dataclass(frozen=True, eq=False)
class WeightingStep:
    """How one weighting operation turned ``base_weights`` into ``weights``.

    Attributes
    ----------
    method : str
        ``"poststratify"``, ``"rake"``, ``"linear"``, ``"raking"``, ``"logit"``, ``"trim"``, or the
        reference-sample weightings ``"ipw"`` and ``"cbps"``.
    base_weights : ndarray, shape (n,)
        Weights going in (design weights ``d``).
    weights : ndarray, shape (n,)
        Weights coming out (``w = g * d``).
    model_matrix : ndarray or scipy sparse matrix, shape (n, p), optional
        Auxiliary variables the weights were calibrated on: one indicator column per category of
        each categorical margin and one column per numeric total. Residuals of the linearised
        variable on this matrix give the calibration (GREG) variance.
    margin_codes : tuple of ndarray
        For ``rake`` and ``poststratify``: integer cell codes of each margin (one array per margin),
        for R ``rake()``'s iterated back-fitting variance convention.
    reweight : callable, optional
        ``reweight(base) -> weights`` with ``base`` of shape (n, R): re-runs this step with the same
        targets and options on R sets of base weights at once (replicate variance).
    options : dict
        The settings used (tolerance, bounds, ...), for reports.
    """

    method: WeightingMethod
    base_weights: np.ndarray
    weights: np.ndarray
    model_matrix: Any = None
    margin_codes: tuple[np.ndarray, ...] = ()
    reweight: Callable[[np.ndarray], np.ndarray] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def g(self) -> np.ndarray:
        """The g-weights ``w / d`` (1 where ``d == 0``)."""
        d = self.base_weights
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, self.weights / np.where(d > 0, d, 1.0), 1.0)
