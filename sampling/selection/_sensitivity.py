"""Choose which rows to label: sensitivity sampling with exact inclusion probabilities.

:func:`sensitivity_sample` scores rows (leverage, root leverage, Lewis weights, exact
sensitivities or uniform), turns the scores into inclusion probabilities ``pi_i = min(1, c q_i)``
with ``sum(pi) = m`` (per stratum, after allocating ``m`` to strata), draws a Poisson, systematic,
pivotal or multinomial sample, and reports the guarantee it achieved: the exact ell_2
subspace-embedding distortion of the weighted subset, overall and per group, and for p = 1 a
certified lower bound on the ell_1 distortion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtri

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_float_array,
    as_frame,
    as_int,
    as_rng,
    check_columns,
    check_option,
    check_positive,
    fail,
)
from estimators.errors import ConvergenceError, DesignError, InfeasibleError, ValidationError
from estimators.survey._design import SurveyDesign
from sampling.selection import _leverage_kernels as kernels
from sampling.selection._leverage import (
    _check_p,
    _check_share,
    _leverage,
    _lewis,
    lp_sensitivities,
    mixed_scores,
)
from sampling.selection._pips_designs import design_variance, draw, inclusion_probabilities
from sampling.selection._row_blocks import RowBlocks, as_row_blocks
from sampling.selection._strata import allocate_to_strata, stratum_codes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Subset", "inclusion_probabilities_for", "sensitivity_sample"]

Method = Literal["leverage", "root_leverage", "lewis", "sensitivity", "uniform"]
Design = Literal["poisson", "systematic", "pivotal", "multinomial"]
Allocation = Literal["proportional", "equal", "floor"]
DEFAULT_FLOOR_CONSTANT, DEFAULT_LEWIS_TOL, DEFAULT_LEWIS_MAX_ITER = 20.0, 1e-8, 200
_METHODS = ("leverage", "root_leverage", "lewis", "sensitivity", "uniform")
_DESIGNS = ("poisson", "systematic", "pivotal", "multinomial")


def inclusion_probabilities_for(scores: Any, m: float) -> np.ndarray:
    """Inclusion probabilities ``pi_i = min(1, c q_i)`` proportional to ``scores`` with ``sum(pi) = m``.

    Parameters
    ----------
    scores : array-like (n,)
        Non-negative scores; rows with score 0 get ``pi = 0``.
    m : float
        Expected sample size, ``0 < m <=`` (number of positive scores).

    Returns
    -------
    numpy.ndarray
        ``pi`` in [0, 1] with ``sum(pi) = m`` (to rounding).

    Notes
    -----
    Rows whose scaled score would exceed 1 are certainties (``pi = 1``); ``c`` is then re-solved on
    the rest. Sorting the scores decreasingly, the number of certainties is the smallest ``k`` with
    ``(m - k) q_(k) < sum_{j >= k} q_(j)``, and ``c = (m - k) / sum_{j >= k} q_(j)``.

    References
    ----------
    Tillé (2006), Sampling Algorithms, Springer, Section 2.10 (computation of inclusion
    probabilities).

    Examples
    --------
    >>> [round(float(v), 6) for v in inclusion_probabilities_for([10.0, 1.0, 1.0, 2.0], 2)]
    [1.0, 0.25, 0.25, 0.5]
    """
    q = as_float_array(scores, "scores", nonnegative=True)
    m_value = check_positive(m, "m")
    return inclusion_probabilities(q, m_value)


@dataclass(frozen=True)
class Subset(Result):
    """A weighted subset of rows with its design, weights and the guarantee it achieved.

    Attributes
    ----------
    indices : numpy.ndarray
        Positions (0-based) of the selected rows, increasing.
    probabilities : numpy.ndarray
        Inclusion probability ``pi_i`` of each selected row.
    weights : numpy.ndarray
        Horvitz–Thompson weights ``1 / pi_i`` (Hansen–Hurwitz ``times_drawn / (m_h p_i)`` for the
        multinomial design).
    certainty : numpy.ndarray
        True for rows taken with certainty (``pi_i = 1``).
    times_drawn : numpy.ndarray
        Draws per selected row (1 except for the multinomial design).
    strata : numpy.ndarray or None
        Stratum label of each selected row.
    stratum_table : pandas.DataFrame
        Per stratum: population rows, allocated m, floor, selected rows, certainties, sum of pi,
        Kish deff (NaN only for a stratum where a Poisson draw selected no row) and, with
        ``report=True``, the exact ell_2 distortion of that stratum's own subset (1.0 when empty).
    inclusion_probabilities : numpy.ndarray
        ``pi`` for every row of the data (sums to ``m``).
    scores : numpy.ndarray
        The sampling scores ``q`` for every row (normalised within strata).
    n, d, m : int
        Rows and columns of the data; the target sample size.
    method, design : str
    p : float
    distortion : float or None
        ``max |lambda - 1|`` over the eigenvalues of ``R^{-T} (SA)^T (SA) R^{-1}`` (exact ell_2
        subspace-embedding distortion, ``SA`` = selected rows scaled by ``sqrt(weight)``).
    l1_distortion_lower_bound : float or None
        p = 1: ``max_x | ||SAx||_1 / ||Ax||_1 - 1 |`` over candidate directions (a certified lower
        bound on the ell_1 distortion; ``SA`` rows scaled by ``weight``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> sub = sensitivity_sample(X, 100, method="uniform", design="systematic", rng=1)
    >>> len(sub.indices), float(sub.weights[0])
    (100, 5.0)
    >>> sub.to_frame().columns.tolist()[:3]
    ['row', 'probability', 'weight']
    """

    indices: np.ndarray
    probabilities: np.ndarray
    weights: np.ndarray
    certainty: np.ndarray
    times_drawn: np.ndarray
    strata: np.ndarray | None
    stratum_table: pd.DataFrame
    inclusion_probabilities: np.ndarray
    scores: np.ndarray
    n: int
    d: int
    m: int
    method: str
    p: float
    design: str
    distortion: float | None
    l1_distortion_lower_bound: float | None
    _codes: np.ndarray = field(repr=False)
    _draw_probabilities: np.ndarray | None = field(repr=False, default=None)

    # ----- derived facts -------------------------------------------------------------------
    @property
    def row_scale(self) -> np.ndarray:
        """Row multipliers ``weight^(1/p)`` (``pi^(-1/p)`` for the pi-ps designs) for ell_p problems."""
        return self.weights ** (1.0 / self.p)

    @property
    def design_effect(self) -> float:
        """Kish design effect of the weights, ``n sum w^2 / (sum w)^2``."""
        w = self.weights
        return float(w.size * np.sum(w**2) / np.sum(w) ** 2)

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size ``(sum w)^2 / sum w^2``."""
        return float(np.sum(self.weights) ** 2 / np.sum(self.weights**2))

    @property
    def group_distortion(self) -> pd.Series:
        """Exact ell_2 distortion of each stratum's own weighted subset (needs ``report=True``)."""
        if "distortion_l2" not in self.stratum_table.columns:
            fail(ValidationError, "report", "was False, so no distortion was computed", bad=[False],
                 fix="Call sensitivity_sample(..., report=True).")
        return self.stratum_table.set_index("stratum")["distortion_l2"]

    # ----- Result interface ----------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per selected row: row position, stratum, probability, weight, scale, certainty."""
        frame = pd.DataFrame({
            "row": self.indices,
            "probability": self.probabilities,
            "weight": self.weights,
            "row_scale": self.row_scale,
            "certainty": self.certainty,
            "times_drawn": self.times_drawn,
        })
        if self.strata is not None:
            frame.insert(1, "stratum", self.strata)
        return frame

    def _summary_title(self) -> str:
        return f"Sensitivity sample ({self.method}, p={self.p:g}, {self.design})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        facts: list[tuple[str, Any]] = [
            ("data rows x columns", f"{self.n} x {self.d}"),
            ("target m (sum of pi)", self.m),
            ("selected rows", int(self.indices.size)),
            ("certainty rows", int(self.certainty.sum())),
            ("Kish design effect", self.design_effect),
        ]
        if self.distortion is not None:
            facts.append(("ell_2 subspace distortion (exact)", self.distortion))
        if self.l1_distortion_lower_bound is not None:
            facts.append(("ell_1 distortion (certified lower bound)", self.l1_distortion_lower_bound))
        if self.strata is not None:
            facts.append(("max per-stratum ell_2 distortion",
                          float(self.stratum_table["distortion_l2"].max())))
        return facts

    def plot(self, ax: Axes | None = None) -> Axes:
        """Inclusion probabilities of all rows (sorted) with the selected rows marked."""
        ax = get_axes(ax)
        order = np.argsort(-self.inclusion_probabilities, kind="stable")
        pi_sorted = self.inclusion_probabilities[order]
        ranks = np.arange(1, self.n + 1)
        ax.plot(ranks, pi_sorted, color="0.4", lw=1, label="inclusion probability")
        position = np.empty(self.n, dtype=np.int64)
        position[order] = ranks
        ax.scatter(position[self.indices], self.probabilities, s=8, color="C1", label="selected")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("row rank by inclusion probability")
        ax.set_ylabel("inclusion probability")
        title = f"{self.method} sample, m={self.m}"
        if self.distortion is not None:
            title += f", ell_2 distortion {self.distortion:.3g}"
        ax.set_title(title)
        ax.legend(loc="lower left")
        return ax

    # ----- using the subset ------------------------------------------------------------------
    def _take(self, values: Any, parameter: str, *, ndim: int = 1) -> np.ndarray:
        arr = np.asarray(values.to_numpy() if isinstance(values, (pd.Series, pd.DataFrame))
                         else values, dtype=np.float64)
        if arr.ndim != ndim:
            fail(ValidationError, parameter, f"must be {ndim}-dimensional", bad=[f"shape {arr.shape}"])
        if arr.shape[0] == self.n and self.n != self.indices.size:
            arr = arr[self.indices]
        elif arr.shape[0] != self.indices.size:
            fail(ValidationError, parameter, f"must have one row per data row ({self.n}) or per "
                 f"selected row ({self.indices.size})", bad=[f"{arr.shape[0]} rows"])
        if not np.isfinite(arr).all():
            fail(ValidationError, parameter, "must be finite on the selected rows",
                 bad=[int(i) for i in self.indices[~np.isfinite(arr).reshape(arr.shape[0], -1).all(1)]])
        return arr

    def estimate(self, y: Any, *, statistic: Literal["total", "mean"] = "total",
                 estimator: Literal["horvitz_thompson", "hajek"] = "horvitz_thompson",
                 level: float = 0.95) -> pd.DataFrame:
        """Design-based estimate of the population total or mean of ``y`` with its standard error.

        Parameters
        ----------
        y : array-like
            One value per data row (length n) or per selected row.
        statistic : {"total", "mean"}
        estimator : {"horvitz_thompson", "hajek"}
            Mean only: HT total / n, or the Hájek ratio ``sum w y / sum w`` (linearised variance).
        level : float
            Confidence level of the normal interval.

        Returns
        -------
        pandas.DataFrame
            One row: statistic, estimator, estimate, std_error, ci_lower, ci_upper.

        Notes
        -----
        Total: ``Y_HT = sum_s y_i / pi_i`` summed over strata. Variance per stratum: Poisson
        ``sum (1 - pi) y^2 / pi^2`` (unbiased); systematic/pivotal: Deville's approximation for
        fixed-size designs; multinomial: the Hansen–Hurwitz estimator. Hájek mean: the same
        formulas applied to ``z_i = (y_i - mean) / N_hat``.

        References
        ----------
        Horvitz & Thompson (1952), JASA 47; Hájek (1971); Deville (1993); Tillé (2006), Sampling
        Algorithms, chapter 5.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(500, 2))
        >>> sub = sensitivity_sample(X, 100, method="uniform", design="systematic", rng=1)
        >>> round(float(sub.estimate(np.ones(500))["estimate"].iloc[0]), 6)
        500.0
        """
        if self.indices.size == 0:
            fail(DesignError, "subset", "has no selected rows, so nothing can be estimated",
                 fix="Draw again with a larger m.")
        statistic = check_option(statistic, ("total", "mean"), "statistic")
        estimator = check_option(estimator, ("horvitz_thompson", "hajek"), "estimator")
        if not 0 < float(level) < 1:
            fail(ValidationError, "level", "must lie strictly between 0 and 1", bad=[level])
        values = self._take(y, "y")
        w = self.weights
        if statistic == "mean" and estimator == "hajek":
            population = float(np.sum(w))
            est = float(np.sum(w * values) / population)
            linear = (values - est) / population
            var = self._variance(linear)
        else:
            est = float(np.sum(w * values))
            var = self._variance(values)
            if statistic == "mean":
                est, var = est / self.n, var / self.n**2
        se = float(np.sqrt(max(var, 0.0)))
        z = float(ndtri(0.5 + float(level) / 2))
        return pd.DataFrame({"statistic": [statistic], "estimator": [estimator],
                             "estimate": [est], "std_error": [se],
                             "ci_lower": [est - z * se], "ci_upper": [est + z * se]})

    def _variance(self, values: np.ndarray) -> float:
        total = 0.0
        allocated = self.stratum_table["allocated"].to_numpy()
        for code in np.unique(self._codes):
            mask = self._codes == code
            draw_p = None if self._draw_probabilities is None else self._draw_probabilities[mask]
            total += design_variance(values[mask], self.probabilities[mask], self.design,
                                     self.times_drawn[mask], draw_p, int(allocated[code]))
        return total

    def to_design(self, data: pd.DataFrame, *, strata: Any = None, psu: Any = None) -> Any:
        """A :class:`estimators.SurveyDesign` of the selected rows with the subset's weights.

        Parameters
        ----------
        data : DataFrame
            The full data (n rows, in the order of ``X``) or only the selected rows (in the order of
            ``indices``). Never mutated; the selected rows are taken with ``iloc``.
        strata, psu : str or list of str, optional
            Column names passed to ``SurveyDesign`` (e.g. the strata used for sampling).

        Returns
        -------
        estimators.SurveyDesign
            Weights ``1 / pi`` (Hansen–Hurwitz for the multinomial design).

        Notes
        -----
        ``SurveyDesign`` variances treat units as drawn with replacement within strata; for the
        pi-ps designs here that approximation is conservative when sampling fractions are large.
        :meth:`estimate` uses the designs' own variance estimators instead.

        References
        ----------
        Särndal, Swensson & Wretman (1992), Model Assisted Survey Sampling, Springer, section 2.9.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> sub = sensitivity_sample(X, 30, design="pivotal", rng=0)
        >>> design = sub.to_design(pd.DataFrame({"y": np.arange(300.0)}))
        >>> len(design.data), bool(np.allclose(design.weight_array, sub.weights))
        (30, True)
        """
        frame = as_frame(data, "data")
        if len(frame) == self.n and self.n != self.indices.size:
            frame = frame.iloc[self.indices]
        elif len(frame) != self.indices.size:
            fail(ValidationError, "data", f"must have one row per data row ({self.n}) or per "
                 f"selected row ({self.indices.size})", bad=[f"{len(frame)} rows"])
        return SurveyDesign(frame, weights=self.weights, strata=strata, psu=psu)

    def fit_wls(self, y: Any, X: Any, *, add_constant: bool = False) -> Any:
        """Weighted least squares on the subset (statsmodels ``WLS`` with the subset weights).

        Parameters
        ----------
        y : array-like
            Response, one value per data row (length n) or per selected row.
        X : array-like (rows, k)
            Regressors, one row per data row or per selected row.
        add_constant : bool
            Prepend an intercept column.

        Returns
        -------
        statsmodels.regression.linear_model.RegressionResultsWrapper
            Its coefficients estimate the full-data least-squares fit.

        Notes
        -----
        Minimises ``sum_s w_i (y_i - x_i^T b)^2`` with ``w = 1 / pi``: the weighted normal equations
        are Horvitz–Thompson estimates of the full-data ``X^T X`` and ``X^T y``. With an
        eps ell_2 subspace embedding of ``[X, y]`` the subset's residual norm is within ``1 + eps``
        (squared: ``(1 + eps) / (1 - eps)``) of the optimum.

        References
        ----------
        Drineas, Mahoney & Muthukrishnan (2006), Sampling algorithms for l2 regression, SODA.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(400, 2))
        >>> y = X @ np.array([1.0, -1.0])
        >>> sub = sensitivity_sample(X, 40, rng=0)
        >>> [round(float(b), 6) for b in sub.fit_wls(y, X).params]
        [1.0, -1.0]
        """
        import statsmodels.api as sm

        yy = self._take(y, "y")
        xx = self._take(X, "X", ndim=2)
        if add_constant:
            xx = sm.add_constant(xx, has_constant="add")
        return sm.WLS(yy, xx, weights=self.weights).fit()

    def fit_lad(self, y: Any, X: Any, *, add_constant: bool = False) -> Any:
        """Weighted least absolute deviations (median regression) on the subset.

        Parameters
        ----------
        y : array-like
            Response, one value per data row or per selected row.
        X : array-like (rows, k)
            Regressors, one row per data row or per selected row.
        add_constant : bool
            Prepend an intercept column.

        Returns
        -------
        statsmodels.regression.quantile_regression.QuantRegResults

        Notes
        -----
        Minimises ``sum_s w_i |y_i - x_i^T b|`` by fitting statsmodels ``QuantReg(q=0.5)`` to the
        rows scaled by ``w_i`` (``|w (y - x b)| = w |y - x b|`` for ``w > 0``): the ell_1 row scale
        ``pi^(-1)``. Sample with ``method="lewis", p=1`` for an ell_1 subspace embedding.

        References
        ----------
        Cohen & Peng (2015), Lp row sampling by Lewis weights, STOC.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(400, 2))
        >>> y = X @ np.array([1.0, -1.0])
        >>> sub = sensitivity_sample(X, 60, method="lewis", p=1, rng=0)
        >>> [round(float(b), 4) for b in sub.fit_lad(y, X).params]
        [1.0, -1.0]
        """
        import statsmodels.api as sm

        yy = self._take(y, "y")
        xx = self._take(X, "X", ndim=2)
        if add_constant:
            xx = sm.add_constant(xx, has_constant="add")
        w = self.weights
        return sm.QuantReg(w * yy, w[:, None] * xx).fit(q=0.5)


# ----- scores --------------------------------------------------------------------------------

def _group_scores(rows: RowBlocks, method: str, p: float, rng: np.random.Generator,
                  lewis_tol: float, lewis_max_iter: int) -> tuple[np.ndarray, np.ndarray,
                                                                   kernels.Factor]:
    """(sampling scores, leverage scores, exact factor) for one group of rows."""
    tau, factor = _leverage(rows, rng=rng)
    if method == "leverage":
        q = tau
    elif method == "root_leverage":
        q = tau ** (p / 2.0)
    elif method == "lewis":
        q, _, residual, _ = _lewis(rows, p=p, tol=lewis_tol, max_iter=lewis_max_iter, rng=rng)
        if residual > lewis_tol:
            raise ConvergenceError(f"sensitivity_sample: Lewis weights did not reach "
                                   f"tol={lewis_tol:g} in {lewis_max_iter} iterations (max relative "
                                   f"change {residual:.3g}). Raise lewis_max_iter.")
    elif method == "sensitivity":
        if p == 2.0:
            q = tau
        else:
            dense = rows.source.toarray() if rows.kind == "sparse" else np.asarray(rows.source)
            q = lp_sensitivities(dense, p=p)
    else:
        q = np.ones(rows.n or 0)
    return q, tau, factor


def _subset_rows(rows: RowBlocks, idx: np.ndarray | None, block_size: int | None) -> RowBlocks:
    if idx is None:
        return rows
    return as_row_blocks(rows.source[idx], block_size=block_size)


def _l2_distortion(rows_sel: Any, scale: np.ndarray, factor: kernels.Factor) -> tuple[float, np.ndarray]:
    """Exact distortion max|lambda - 1| of the scaled selected rows w.r.t. the full factor."""
    if rows_sel.shape[0] == 0:
        return 1.0, np.zeros((factor.rank, 0))
    block = rows_sel.toarray() if sp.issparse(rows_sel) else np.asarray(rows_sel, dtype=np.float64)
    z = factor.apply(block * scale[:, None])
    eig = np.linalg.eigvalsh(z @ z.T)
    return float(np.max(np.abs(eig - 1.0))), z


def _l1_lower_bound(rows: RowBlocks, factor: kernels.Factor, selected: np.ndarray,
                    weights: np.ndarray, scores: np.ndarray, z_sel: np.ndarray,
                    rng: np.random.Generator) -> float:
    """max over candidate directions of | ||S A x||_1 / ||A x||_1 - 1 | (each term is exact)."""
    r = factor.rank
    coords = [np.eye(r)]
    if z_sel.size:  # the extreme ell_2 directions of the subset
        vecs = np.linalg.eigh(z_sel @ z_sel.T)[1]
        coords.append(vecs[:, [0, -1]])
    coords.append(rng.standard_normal((r, 8)))
    # rows with the largest scores that were not selected, and the heaviest selected rows
    unselected = np.setdiff1d(np.arange(rows.n), selected)
    if unselected.size:
        top = unselected[np.argsort(-scores[unselected])[:8]]
        block = rows.source[np.sort(top)]
        coords.append(factor.apply(block.toarray() if sp.issparse(block) else block))
    if selected.size:
        heavy = np.sort(selected[np.argsort(-weights)[:8]])
        block = rows.source[heavy]
        coords.append(factor.apply(block.toarray() if sp.issparse(block) else block))
    c = np.hstack(coords)
    x = factor.solve_coefficients(c)
    if factor.cols is not None:
        full = np.zeros((rows.d, x.shape[1]))
        full[factor.cols] = x
        x = full
    total = np.zeros(x.shape[1])
    for _, block in rows.blocks():
        total += np.abs(block @ x).sum(axis=0)
    sel_block = rows.source[selected]
    sel_block = sel_block.toarray() if sp.issparse(sel_block) else np.asarray(sel_block, dtype=float)
    sampled = (weights[:, None] * np.abs(sel_block @ x)).sum(axis=0)
    keep = total > 0
    return float(np.max(np.abs(sampled[keep] / total[keep] - 1.0))) if keep.any() else 0.0


# ----- public entry point ---------------------------------------------------------------------

def sensitivity_sample(
    X: Any,
    m: int,
    *,
    method: Method = "leverage",
    p: float = 2.0,
    design: Design = "poisson",
    strata: Any = None,
    allocation: Allocation | Mapping[Any, int] = "proportional",
    floor_constant: float = DEFAULT_FLOOR_CONSTANT,
    leverage_mix: float = 0.0,
    uniform_mix: float = 0.0,
    lewis_tol: float = DEFAULT_LEWIS_TOL,
    lewis_max_iter: int = DEFAULT_LEWIS_MAX_ITER,
    report: bool = True,
    block_size: int | None = None,
    rng: int | np.random.Generator | None = None,
) -> Subset:
    """Select a weighted subset of ``m`` rows whose weighted ell_p geometry matches the full data.

    Parameters
    ----------
    X : array-like (n, d), numpy.memmap, scipy.sparse matrix or DataFrame
        Features / embeddings, one row per item or person.
    m : int
        Sample size: expected size (Poisson), exact size (systematic, pivotal) or number of draws
        (multinomial). With strata, the total over strata.
    method : {"leverage", "root_leverage", "lewis", "sensitivity", "uniform"}
        Scores ``q``: leverage ``tau`` (ell_2), ``tau^(p/2)``, ell_p Lewis weights, exact ell_p
        sensitivities (p = 1 by linear programming, small n only; p = 2 = leverage), or uniform.
    p : float
        The ell_p norm the subset should preserve (row scale ``pi^(-1/p)``).
    design : {"poisson", "systematic", "pivotal", "multinomial"}
        ``poisson`` (default): independent draws with ``pi_i = min(1, c q_i)``, ``sum(pi) = m``;
        certainty rows always taken. ``systematic`` (random order) and ``pivotal`` (Deville–Tillé)
        are fixed-size pi-ps designs with the same ``pi``. ``multinomial``: ``m`` i.i.d. draws with
        probabilities ``q / sum(q)``, Hansen–Hurwitz weights.
    strata : array-like of labels, optional
        Groups; scores are computed within each group and ``m`` is allocated across groups.
    allocation : {"proportional", "equal", "floor"}, mapping label -> size, or a plan
        ``proportional`` to group sizes, ``equal``, or ``floor``: proportional but every group gets at
        least ``min(N_h, ceil(floor_constant * d * max(ln d, 1)))``; a mapping or Series, or a plan
        object with an ``n`` Series (e.g. from ``allocate``), must sum to ``m``. Every built-in
        allocation gives each group at least one row.
    floor_constant : float
        ``c`` in the floor ``c d ln d``. In our tests (d = 4, three very different groups, Poisson
        leverage sampling) ``c = 60`` kept every group's ell_2 distortion at or below 0.25 over 10
        seeds (largest 0.19); ``c = 20`` gave up to 0.36.
    leverage_mix, uniform_mix : float
        Shares of the sampling mass given to leverage scores (ell_2 augmentation) and to uniform.
    lewis_tol, lewis_max_iter : float, int
        Convergence settings for ``method="lewis"`` (non-convergence raises ConvergenceError).
    report : bool
        Compute the achieved guarantee (exact ell_2 distortion overall and per group; for p = 1 a
        certified lower bound on ell_1 distortion). Costs about one extra pass over the data.
    block_size : int, optional
        Rows per block in the passes over X.
    rng : None, int or numpy.random.Generator
        Randomness for the draw (and sketches).

    Returns
    -------
    Subset
        Indices, probabilities, weights, certainty mask, per-stratum table, achieved guarantee.

    Notes
    -----
    Horvitz–Thompson weighting makes every sum unbiased: ``E[sum_s w_i f(a_i)] = sum_i f(a_i)``, in
    particular ``E ||S A x||_p^p = ||A x||_p^p`` with ``S`` the rows scaled by ``pi^(-1/p)``. Sampling
    with ``pi_i >= min(1, C eps^-2 d log(d / delta) tau_i)`` gives an eps ell_2 subspace embedding with
    probability 1 - delta; Lewis weights do the same for ell_p with ``d log d`` (p < 2) rows, and
    root-leverage about ``d`` rows for 1 <= p < 2 (Woodruff & Yasuda). Drawing *without* replacement
    with probabilities ``q`` and weighting by ``1 / (m q)`` is biased; this function never does.

    References
    ----------
    Cohen & Peng (2015), Lp row sampling by Lewis weights, STOC. Woodruff & Yasuda (2023), Sharper
    bounds for ell_p sensitivity sampling, ICML. Deville & Tillé (1998), Unequal probability sampling
    without replacement through a splitting method, Biometrika 85. Tillé (2006), Sampling
    Algorithms, Springer.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_t(1, size=(2000, 3))
    >>> sub = sensitivity_sample(X, 200, method="leverage", design="pivotal", rng=1)
    >>> int(sub.indices.size), round(float(sub.inclusion_probabilities.sum()), 6)
    (200, 200.0)
    >>> bool(sub.distortion < 0.5)
    True
    """
    scoring, design, floor_constant = _checked_options(
        method, design, p, floor_constant, leverage_mix, uniform_mix, lewis_tol, lewis_max_iter
    )
    generator = as_rng(rng)
    rows, strata = _row_data(X, strata, block_size)
    _refuse_unused(method, strata, allocation, floor_constant, lewis_tol, lewis_max_iter)
    n, d = int(rows.n or 0), rows.d
    m = as_int(m, "m", minimum=1, maximum=n)
    if strata is None:
        codes = np.zeros(n, dtype=np.int64)
        labels: list[Any] = ["all"]
    else:
        codes, labels = stratum_codes(strata, n)
    sizes = np.bincount(codes, minlength=len(labels))
    allocated, floors = allocate_to_strata(sizes, labels, m, allocation, floor_constant, d)

    sample = _draw_strata(rows, codes, labels, allocated, strata is not None, scoring, design,
                          block_size, generator)
    guarantee = None
    if report:
        guarantee = _achieved_guarantee(rows, sample, len(labels), strata is not None,
                                        scoring.p, generator)
    table = _stratum_table(sample, codes, labels, sizes, allocated, floors, guarantee)
    return Subset(
        indices=sample.selected,
        probabilities=sample.probabilities,
        weights=sample.weights,
        certainty=sample.certainty,
        times_drawn=sample.times_drawn,
        strata=None if strata is None else np.asarray(labels, dtype=object)[sample.codes],
        stratum_table=table,
        inclusion_probabilities=sample.pi_all,
        scores=sample.q_all,
        n=n,
        d=d,
        m=m,
        method=scoring.method,
        p=float(scoring.p),
        design=design,
        distortion=None if guarantee is None else guarantee.distortion,
        l1_distortion_lower_bound=None if guarantee is None else guarantee.l1_bound,
        _codes=sample.codes,
        _draw_probabilities=(None if sample.draw_p_all is None
                             else sample.draw_p_all[sample.selected]),
    )


# ----- steps of sensitivity_sample -----------------------------------------------------------

@dataclass(frozen=True)
class _Scoring:
    """How rows are scored: the method, the ell_p norm, the mixing shares and the Lewis
    iteration's settings."""

    method: str
    p: float
    leverage_mix: float
    uniform_mix: float
    lewis_tol: float
    lewis_max_iter: int


def _refuse_unused(method: str, strata: Any, allocation: Any, floor_constant: float,
                   lewis_tol: float, lewis_max_iter: int) -> None:
    """A setting the chosen method or allocation does not use is an error, never ignored."""
    if (lewis_tol != DEFAULT_LEWIS_TOL or lewis_max_iter != DEFAULT_LEWIS_MAX_ITER) and \
            method != "lewis":
        fail(ValidationError, "lewis_tol", f"and lewis_max_iter are not used by method={method!r} "
             "(only by method='lewis'), so they would be ignored",
             bad=[f"lewis_tol={lewis_tol}", f"lewis_max_iter={lewis_max_iter}"],
             fix="Drop them or use method='lewis'.")
    floor = isinstance(allocation, str) and allocation == "floor"
    if floor_constant != DEFAULT_FLOOR_CONSTANT and not floor:
        fail(ValidationError, "floor_constant", "is used only with allocation='floor', so it would "
             "be ignored", bad=[floor_constant], fix="Drop floor_constant= or use allocation='floor'.")
    default_allocation = isinstance(allocation, str) and allocation == "proportional"
    if strata is None and not default_allocation:
        fail(ValidationError, "allocation", "splits m across strata, and no strata were given, so "
             "it would be ignored", bad=[allocation if isinstance(allocation, str) else
                                         type(allocation).__name__],
             fix="Pass strata= or drop allocation=.")


def _checked_options(method, design, p, floor_constant, leverage_mix, uniform_mix, lewis_tol,
                     lewis_max_iter) -> tuple[_Scoring, str, float]:
    """The scoring options, the design and the floor constant, checked."""
    method = check_option(method, _METHODS, "method")
    design = check_option(design, _DESIGNS, "design")
    p = check_positive(p, "p")
    if method == "root_leverage":
        p = _check_p(p, upper=2.0, inclusive=True)
    if method == "sensitivity" and p not in (1.0, 2.0):
        fail(ValidationError, "p", "must be 1 or 2 for method='sensitivity' (exact sensitivities)",
             bad=[p], fix="Use method='lewis' for other p.")
    floor_constant = check_positive(floor_constant, "floor_constant")
    leverage_mix = _check_share(leverage_mix, "leverage_mix")
    uniform_mix = _check_share(uniform_mix, "uniform_mix")
    if leverage_mix + uniform_mix >= 1:
        fail(ValidationError, "leverage_mix + uniform_mix", "must be < 1",
             bad=[leverage_mix + uniform_mix])
    lewis_tol = check_positive(lewis_tol, "lewis_tol")
    lewis_max_iter = as_int(lewis_max_iter, "lewis_max_iter", minimum=1)
    scoring = _Scoring(method, p, leverage_mix, uniform_mix, lewis_tol, lewis_max_iter)
    return scoring, design, floor_constant


def _row_data(X: Any, strata: Any, block_size: int | None) -> tuple[RowBlocks, Any]:
    """The rows in blocks, and the strata (a column of a DataFrame ``X`` is taken out of it)."""
    if isinstance(strata, str) and isinstance(X, pd.DataFrame):
        if strata not in X.columns:
            check_columns(X, [strata], "strata")
        strata = X[strata]
        X = X.drop(columns=[strata.name])
    if callable(X) and not isinstance(X, np.ndarray):
        fail(ValidationError, "X", "must be in memory (an array, memmap or sparse matrix) for "
             "sampling", bad=["callable"], fix="Compute scores with leverage_scores on the stream, "
             "then sample a memmap of the data.")
    return as_row_blocks(X, block_size=block_size), strata


@dataclass(frozen=True)
class _Sample:
    """The drawn rows (sorted) with their probabilities, weights and draw counts; per row of the
    data, the scores and inclusion probabilities; per stratum, the exact factor (None when no
    row was allocated)."""

    selected: np.ndarray
    times_drawn: np.ndarray
    weights: np.ndarray
    probabilities: np.ndarray
    certainty: np.ndarray
    codes: np.ndarray
    pi_all: np.ndarray
    q_all: np.ndarray
    draw_p_all: np.ndarray | None
    factors: list[kernels.Factor | None]


def _draw_strata(rows: RowBlocks, codes: np.ndarray, labels: list[Any], allocated: np.ndarray,
                 stratified: bool, scoring: _Scoring, design: str, block_size: int | None,
                 generator: np.random.Generator) -> _Sample:
    """Score the rows of every stratum and draw its allocated sample."""
    n = int(rows.n or 0)
    pi_all = np.zeros(n)
    q_all = np.zeros(n)
    draw_p_all = np.zeros(n) if design == "multinomial" else None
    chosen: list[np.ndarray] = []
    counts_list: list[np.ndarray] = []
    weights_list: list[np.ndarray] = []
    factors: list[kernels.Factor | None] = []
    for h in range(len(labels)):
        idx = np.flatnonzero(codes == h) if stratified else None
        members = idx if idx is not None else np.arange(n)
        if allocated[h] == 0:
            factors.append(None)
            chosen.append(members[:0])
            counts_list.append(np.zeros(0, dtype=np.int64))
            weights_list.append(np.zeros(0))
            continue
        sub_rows = _subset_rows(rows, idx, block_size)
        q, pi_h, pdraw, units, times, w, factor = _draw_stratum(
            sub_rows, int(allocated[h]), labels[h], scoring, design, generator
        )
        factors.append(factor)
        q_all[members] = q
        if draw_p_all is not None:
            draw_p_all[members] = pdraw
        pi_all[members] = pi_h
        chosen.append(members[units])
        counts_list.append(times)
        weights_list.append(w)

    selected = np.concatenate(chosen)
    order = np.argsort(selected, kind="stable")
    selected = selected[order]
    probabilities = pi_all[selected]
    certainty = probabilities >= 1.0 - 1e-12
    if design == "multinomial":
        certainty = np.zeros(selected.size, dtype=bool)
    return _Sample(
        selected=selected,
        times_drawn=np.concatenate(counts_list)[order],
        weights=np.concatenate(weights_list)[order],
        probabilities=probabilities,
        certainty=certainty,
        codes=codes[selected],
        pi_all=pi_all,
        q_all=q_all,
        draw_p_all=draw_p_all,
        factors=factors,
    )


def _draw_stratum(sub_rows: RowBlocks, mh: int, label: Any, scoring: _Scoring, design: str,
                  generator: np.random.Generator):
    """Score one stratum's rows and draw ``mh`` of them: scores, inclusion probabilities, draw
    probabilities (multinomial, else None), drawn units, times drawn, weights, exact factor."""
    q, tau, factor = _group_scores(sub_rows, scoring.method, scoring.p, generator,
                                   scoring.lewis_tol, scoring.lewis_max_iter)
    q = mixed_scores(q, leverage=tau, leverage_mix=scoring.leverage_mix,
                     uniform_mix=scoring.uniform_mix) if q.sum() > 0 else q
    pdraw = None
    if design == "multinomial":
        if not (q > 0).any():
            fail(InfeasibleError, "X", f"stratum {label!r} has no row with a positive score",
                 bad=[label], fix="Use uniform_mix > 0.")
        pdraw = q / q.sum()
        units, times = draw(pdraw, mh, "multinomial", generator, q=q)
        pi_h = 1.0 - (1.0 - pdraw) ** mh
        w = times / (mh * pdraw[units])
    else:
        pi_h = inclusion_probabilities(q, float(mh))
        units, times = draw(pi_h, mh, design, generator)
        w = 1.0 / pi_h[units]
    return q, pi_h, pdraw, units, times, w, factor


@dataclass(frozen=True)
class _Guarantee:
    """Achieved ell_2 distortion overall and per stratum; certified ell_1 lower bound (p = 1)."""

    distortion: float
    l1_bound: float | None
    group_distortion: np.ndarray


def _achieved_guarantee(rows: RowBlocks, sample: _Sample, n_strata: int, stratified: bool,
                        p: float, generator: np.random.Generator) -> _Guarantee:
    """Exact ell_2 distortion of the weighted subset, per stratum and overall (for strata
    against a fresh factor of all rows), and for p = 1 a lower bound on the ell_1 distortion."""
    group_distortion = np.full(n_strata, np.nan)
    selected, weights = sample.selected, sample.weights
    scale2 = np.sqrt(weights)
    for h in range(n_strata):
        factor_h = sample.factors[h]
        if factor_h is None:
            continue
        mask = sample.codes == h
        sel_h = selected[mask]
        group_distortion[h], _ = _l2_distortion(rows.source[sel_h], scale2[mask], factor_h)
    if not stratified:
        full_factor = sample.factors[0]
    else:
        full_factor = kernels.factor_for(rows, ridge=0.0, kind="sparse_sign", size=None,
                                         rng=generator)
    assert full_factor is not None
    distortion, z_sel = _l2_distortion(rows.source[selected], scale2, full_factor)
    l1_bound = None
    if p == 1.0:
        l1_bound = _l1_lower_bound(rows, full_factor, selected, weights, sample.q_all, z_sel,
                                   generator)
    return _Guarantee(distortion, l1_bound, group_distortion)


def _stratum_table(sample: _Sample, codes: np.ndarray, labels: list[Any], sizes: np.ndarray,
                   allocated: np.ndarray, floors: np.ndarray,
                   guarantee: _Guarantee | None) -> pd.DataFrame:
    """Per stratum: population, allocation, floor, selected and certainty rows, sum of pi,
    Kish design effect and (when reported) the ell_2 distortion."""
    sel_codes = sample.codes
    sel_counts = np.bincount(sel_codes, minlength=len(labels))
    cert_counts = np.bincount(sel_codes[sample.certainty], minlength=len(labels))
    deff = []
    for h in range(len(labels)):
        w_h = sample.weights[sel_codes == h]
        deff.append(float(w_h.size * np.sum(w_h**2) / np.sum(w_h) ** 2) if w_h.size else np.nan)
    group_distortion = (np.full(len(labels), np.nan) if guarantee is None
                        else guarantee.group_distortion)
    table = pd.DataFrame({
        "stratum": labels,
        "population": sizes,
        "allocated": allocated,
        "floor": floors,
        "selected": sel_counts,
        "certainty": cert_counts,
        "sum_pi": np.bincount(codes, weights=sample.pi_all, minlength=len(labels)),
        "kish_deff": deff,
        "distortion_l2": group_distortion,
    })
    if guarantee is None:
        table = table.drop(columns=["distortion_l2"])
    return table
