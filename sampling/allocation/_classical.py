"""Classical stratified-sample allocation (Cochran ch. 5) on the exact allocation core.

``neyman_allocation`` covers proportional, Neyman, cost-optimal allocation for a fixed budget or
a fixed variance, and Bankier power allocation, all with per-stratum box bounds; strata whose
allocation would exceed their population size are taken whole (take-all) and the rest is
re-allocated, which is the KKT solution with upper bounds ``N_h``. ``bethel_allocation`` is the
multivariate (several variables, one precision target each) minimum-cost allocation by Chromy's
multiplier iteration with the same exact take-all handling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import as_float_array, as_int, check_option, check_positive, fail
from estimators.errors import ConvergenceError, InfeasibleError, ValidationError
from sampling.allocation import _core as core
from sampling.allocation._integer import integer_budget

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["StratumAllocation", "bethel_allocation", "neyman_allocation"]

Method = Literal["neyman", "proportional", "optimal", "bankier"]
TINY = 1e-12


@dataclass(frozen=True)
class StratumAllocation(Result):
    """A stratified-sample allocation.

    Attributes
    ----------
    n : pandas.Series
        Sample size per stratum (int when ``integer=True``).
    n_continuous : pandas.Series
        The continuous optimum.
    take_all : pandas.Series
        True where the stratum is taken whole (``n_h = N_h``).
    variance : float or pandas.Series
        Variance of the estimated mean (or total) at ``n`` with the finite population correction;
        one value per variable for :func:`bethel_allocation`.
    cost : float
        ``sum_h c_h n_h``.
    method : str
    status : str
        ``"optimal"`` only when the KKT residual is below tolerance (and the integer step exact).
    kkt_residual : float
    iterations : int

    Examples
    --------
    >>> alloc = neyman_allocation([1000, 2000, 500], [10.0, 6.0, 20.0], n=100, integer=True)
    >>> alloc.method, alloc.status, alloc.n.tolist(), alloc.n_continuous.tolist()
    ('neyman', 'optimal', [31, 38, 31], [31.25, 37.5, 31.25])
    >>> alloc.to_frame()["take_all"].tolist()
    [False, False, False]
    """

    n: pd.Series
    n_continuous: pd.Series
    take_all: pd.Series
    variance: Any
    cost: float
    method: str
    status: str
    kkt_residual: float
    iterations: int = 0
    population_sizes: pd.Series = field(default=None, repr=False)  # type: ignore[assignment]
    at_lower: pd.Series = field(default=None, repr=False)  # type: ignore[assignment]

    def to_frame(self) -> pd.DataFrame:
        """One row per stratum: N, n, n_continuous, sampling fraction, take_all, at_lower."""
        return pd.DataFrame({
            "population_size": self.population_sizes, "n": self.n,
            "n_continuous": self.n_continuous,
            "sampling_fraction": self.n.astype(float) / self.population_sizes,
            "take_all": self.take_all, "at_lower": self.at_lower,
        })

    def _summary_title(self) -> str:
        return f"Stratified allocation ({self.method})"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "status", self.status
        yield "total n", float(self.n.sum())
        yield "cost", self.cost
        if isinstance(self.variance, pd.Series):
            for k, v in self.variance.items():
                yield f"variance [{k}]", float(v)
        else:
            yield "variance", self.variance
        yield "take-all strata", int(self.take_all.sum())
        yield "KKT residual", self.kkt_residual

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bars of stratum sample sizes (take-all strata hatched)."""
        ax = get_axes(ax)
        labels = [str(s) for s in self.n.index]
        bars = ax.bar(range(len(labels)), self.n.to_numpy(float))
        for bar, ta in zip(bars, self.take_all.to_numpy(), strict=True):
            if ta:
                bar.set_hatch("//")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("stratum")
        ax.set_ylabel("sample size n_h")
        ax.set_title(f"{self.method} allocation (hatched: take-all)")
        return ax


# Largest population size accepted: N^2 S^2 must stay finite in double precision.
MAX_POPULATION = 1e100


def _labelled(values: Any, parameter: str, index: pd.Index | None) -> tuple[pd.Index, np.ndarray]:
    if isinstance(values, pd.Series):
        idx = values.index
        if index is not None:
            if set(idx) != set(index):
                fail(ValidationError, parameter, "must have the same strata as population_sizes",
                     bad=list(set(idx) ^ set(index)))
            values = values.reindex(index)
            idx = index
        return idx, as_float_array(values.to_numpy(), parameter)
    if isinstance(values, dict):
        return _labelled(pd.Series(values), parameter, index)
    arr = as_float_array(values, parameter)
    if index is not None and arr.size != len(index):
        fail(ValidationError, parameter, f"needs one value per stratum ({len(index)})",
             bad=[f"length {arr.size}"])
    return (index if index is not None else pd.RangeIndex(arr.size)), arr


def _bound(values: Any, index: pd.Index, parameter: str, default: np.ndarray) -> np.ndarray:
    if values is None:
        return default
    if np.ndim(values) == 0:
        return np.full(len(index), check_positive(values, parameter, allow_zero=True))
    _, arr = _labelled(values, parameter, index)
    if (arr < 0).any():
        fail(ValidationError, parameter, "must be >= 0", bad=list(index[arr < 0]))
    return arr


def _variance(A: np.ndarray, fpc: float, n: np.ndarray) -> float:
    return float(np.sum(A**2 / n) - fpc)


def neyman_allocation(
    population_sizes: Any,
    std_devs: Any = None,
    *,
    n: float | None = None,
    budget: float | None = None,
    costs: Any = None,
    target_variance: float | None = None,
    estimate: Literal["mean", "total"] = "mean",
    min_n: Any = None,
    max_n: Any = None,
    method: Method = "neyman",
    power: float = 0.5,
    sizes: Any = None,
    means: Any = None,
    take_all: Literal["reallocate", "raise"] = "reallocate",
    integer: bool = False,
    tol: float = 1e-10,
) -> StratumAllocation:
    """Allocate a stratified sample: proportional, Neyman, cost-optimal or Bankier power.

    Parameters
    ----------
    population_sizes : Series, mapping or array
        Stratum sizes ``N_h`` (labels from the index).
    std_devs : Series, mapping or array
        Stratum standard deviations ``S_h`` (not needed for ``"proportional"``).
    n : float, optional
        Total sample size (unit costs).
    budget : float, optional
        Total variable cost ``sum c_h n_h`` available (with ``costs``).
    costs : Series, mapping, array or float, optional
        Cost per unit ``c_h`` (default 1).
    target_variance : float, optional
        Minimum-cost allocation achieving this variance of the estimated ``estimate``.
    estimate : {"mean", "total"}
        Whether variances refer to the stratified mean or total.
    min_n, max_n : optional
        Box bounds per stratum; ``max_n`` is capped at ``N_h`` (take-all).
    method : {"neyman", "proportional", "optimal", "bankier"}
        ``"neyman"`` minimises the variance for fixed ``n`` (``n_h`` proportional to ``N_h S_h``);
        ``"optimal"`` uses costs (``n_h`` proportional to ``N_h S_h / sqrt(c_h)``) for a fixed
        budget or a fixed variance; ``"bankier"`` is power allocation, ``n_h`` proportional to
        ``X_h^power S_h / Ybar_h`` (``sizes`` X_h default ``N_h``, ``means`` default 1);
        ``"proportional"`` gives ``n_h`` proportional to ``N_h``. ``"optimal"`` with ``n`` is an
        error (the costs would not enter).
    power, sizes, means : optional
        Settings of ``"bankier"`` (an error with the other methods, which would ignore them).
    take_all : {"reallocate", "raise"}
        When an allocation exceeds ``N_h``: take the stratum whole and re-allocate the rest
        (reported in ``take_all``), or raise.
    integer : bool
        Exact integer allocation (greedy for unit costs, MILP otherwise).

    Returns
    -------
    StratumAllocation

    Notes
    -----
    With ``A_h = N_h S_h`` (total; divide by N for the mean) the variance is
    ``V = sum_h A_h^2 / n_h - sum_h N_h S_h^2``. Minimising ``V`` subject to
    ``sum_h c_h n_h = C`` and ``m_h <= n_h <= M_h`` gives
    ``n_h = clip(A_h / sqrt(lambda c_h), m_h, M_h)`` (Cochran 1977, eq. 5.24 and Thm 5.6 without
    bounds), solved exactly by the dual root-find of :mod:`sampling.allocation._core`; the fixed
    variance design (Cochran eq. 5.25) solves ``sum A_h^2/n_h = V + sum N_h S_h^2`` for the
    multiplier. Upper bounds ``N_h`` reproduce the take-all iteration.

    References
    ----------
    Cochran, W. G. (1977). Sampling Techniques, 3rd ed., ch. 5. Wiley.
    Bankier, M. D. (1988). Power allocations: determining sample sizes for subnational areas.
    The American Statistician 42(3), 174-177.

    Examples
    --------
    >>> alloc = neyman_allocation([1000, 2000, 500], [10.0, 5.0, 20.0], n=100)
    >>> [round(float(v), 6) for v in alloc.n_continuous]
    [33.333333, 33.333333, 33.333333]
    >>> alloc.status
    'optimal'
    """
    method = check_option(method, ("neyman", "proportional", "optimal", "bankier"), "method")
    estimate = check_option(estimate, ("mean", "total"), "estimate")
    take_all = check_option(take_all, ("reallocate", "raise"), "take_all")
    if method != "bankier":
        for name, value, given in (("power", power, power != 0.5), ("sizes", sizes, sizes is not None),
                                   ("means", means, means is not None)):
            if given:
                fail(ValidationError, name, f"is used only by method='bankier', not by "
                     f"method={method!r}, so it would be ignored",
                     bad=[value if np.ndim(value) == 0 else type(value).__name__],
                     fix=f"Drop {name}= or use method='bankier'.")
    if method == "optimal" and n is not None:
        fail(ValidationError, "method", "'optimal' allocates a budget or a variance target; with "
             "n= the costs do not enter the allocation (it would be Neyman's)", bad=[method],
             fix="Pass budget= (with costs=) or target_variance=, or use method='neyman'.")
    index, N = _labelled(population_sizes, "population_sizes", None)
    if N.size == 0:
        fail(ValidationError, "population_sizes", "is empty: there are no strata to allocate to",
             fix="Give one population size per stratum.")
    if (N <= 0).any():
        fail(ValidationError, "population_sizes", "must be > 0", bad=list(index[N <= 0]))
    if (N > MAX_POPULATION).any():
        fail(ValidationError, "population_sizes",
             f"must be at most {MAX_POPULATION:g} (squared sizes overflow the float range)",
             bad=list(index[N > MAX_POPULATION]),
             fix="Express the sizes in a larger unit (e.g. thousands) and scale n accordingly.")
    if method == "proportional":
        S = np.ones_like(N) if std_devs is None else _labelled(std_devs, "std_devs", index)[1]
    else:
        if std_devs is None:
            fail(ValidationError, "std_devs", f"is required for method={method!r}")
        S = _labelled(std_devs, "std_devs", index)[1]
        if (S <= 0).any():
            fail(ValidationError, "std_devs", "must be > 0", bad=list(index[S <= 0]))
        outside = (S > 1e100) | (S < 1e-100)
        if outside.any():
            fail(ValidationError, "std_devs", "must lie within [1e-100, 1e100] (their squares "
                 "times the population sizes must stay within the float range)",
                 bad=list(index[outside]),
                 fix="Only their ratios matter: divide (or multiply) them all by one constant.")
    k = np.ones_like(N) if costs is None else (
        np.full(N.size, check_positive(costs, "costs")) if np.ndim(costs) == 0
        else _labelled(costs, "costs", index)[1])
    if (k <= 0).any():
        fail(ValidationError, "costs", "must be > 0", bad=list(index[k <= 0]))
    given = [name for name, v in (("n", n), ("budget", budget), ("target_variance",
                                                                  target_variance)) if v is not None]
    if len(given) != 1:
        fail(ValidationError, "n", "give exactly one of n, budget or target_variance",
             bad=given or ["none"])
    if n is not None:
        total = check_positive(n, "n")
        k_solve, B = np.ones_like(N), total
    elif budget is not None:
        k_solve, B = k, check_positive(budget, "budget")
    else:
        k_solve, B = k, None
    lo = np.maximum(_bound(min_n, index, "min_n", np.zeros_like(N)), 0.0)
    hi_user = _bound(max_n, index, "max_n", N.copy())
    hi = np.minimum(hi_user, N)
    cross = lo > hi
    if cross.any():
        fail(InfeasibleError, "min_n", "bounds cross: min_n exceeds min(max_n, N_h) (certificate:"
             " no n_h satisfies both)", bad=list(index[cross]))
    lo_eff = np.maximum(lo, TINY * hi)

    Ntot = float(N.sum())
    scale = Ntot if estimate == "mean" else 1.0
    if method == "proportional":
        A = N / scale  # proportional = Neyman with equal S (used only for the shape)
        Avar = N * S / scale
    elif method == "bankier":
        X = N if sizes is None else _labelled(sizes, "sizes", index)[1]
        Y = np.ones_like(N) if means is None else _labelled(means, "means", index)[1]
        A = X**power * S / Y
        Avar = N * S / scale
    else:
        A = N * S / scale
        Avar = A
    fpc = float(np.sum(N * S**2)) / scale**2

    a, b = A**2, np.ones_like(A)
    if method == "proportional":
        # minimising sum a_h / n_h at cost sum c_h n_h gives n_h proportional to sqrt(a_h / c_h);
        # a_h = N_h^2 c_h makes that exactly proportional to N_h (clipped to the box).
        a = (N * np.sqrt(k_solve)) ** 2 / scale**2
    if target_variance is not None:
        V = check_positive(target_variance, "target_variance")
        level = V + fpc
        if method == "proportional":
            fail(ValidationError, "method", "target_variance needs method 'optimal' or 'neyman'",
                 bad=[method])
        sol = core.solve_level(a, b, np.ones_like(a), k_solve, level, lo_eff, hi, tol=tol)
    else:
        need = float(k_solve @ lo)
        if need > B * (1 + 1e-12):
            fail(InfeasibleError, "min_n", f"the lower bounds cost {need:.10g} > {B:.10g} "
                 "(certificate: every allocation costs at least sum c_h min_n_h)")
        cap = float(k_solve @ hi)
        if cap < B * (1 - 1e-12):
            fail(InfeasibleError, "n", f"even taking every stratum up to its bound costs only "
                 f"{cap:.10g} < {B:.10g} (certificate: n_h <= min(max_n, N_h))",
                 fix="Lower n / budget or raise max_n.")
        sol = core.solve_budget(a, b, np.zeros_like(a), np.ones_like(a), k_solve, B, lo_eff, hi,
                                tol=tol)
    n_cont = sol.n
    ta = n_cont >= N * (1 - 1e-12)
    if take_all == "raise":
        over = sol.at_upper & (hi >= N)
        if over.any():
            fail(InfeasibleError, "take_all", "the allocation exceeds N_h in some strata",
                 bad=list(index[over]), fix="Use take_all='reallocate' to take them whole.")
    status, res = sol.status, sol.kkt_residual
    n_out: np.ndarray = n_cont
    if integer:
        lo_i = np.ceil(lo - 1e-9).astype(np.int64)
        hi_i = np.floor(hi + 1e-9).astype(np.int64)
        if target_variance is not None:
            fail(ValidationError, "integer", "integer=True is available for n or budget designs")

        def F(m, idx=None):
            mm = np.maximum(m.astype(float), TINY)
            return a / mm if idx is None else a[idx] / mm

        isol = integer_budget(F, k_solve, B, np.maximum(lo_i, 1), hi_i, n_cont)
        n_out = isol.n
        if isol.status != "optimal" and status == "optimal":
            status = f"continuous optimal; integer {isol.status}"
    n_float = np.asarray(n_out, float)
    variance = _variance(Avar, fpc, np.maximum(n_float, TINY))
    return StratumAllocation(
        n=pd.Series(n_out, index=index, name="n"),
        n_continuous=pd.Series(n_cont, index=index, name="n_continuous"),
        take_all=pd.Series(n_float >= N * (1 - 1e-12) if integer else ta, index=index,
                           name="take_all"),
        variance=variance,
        cost=float(k @ n_float),
        method=method,
        status=status,
        kkt_residual=float(res),
        iterations=int(sol.iterations),
        population_sizes=pd.Series(N, index=index, name="population_size"),
        at_lower=pd.Series(sol.at_lower & (lo > 0), index=index, name="at_lower"),
    )


def bethel_allocation(
    population_sizes: Any,
    std_devs: pd.DataFrame,
    *,
    target_variances: Any = None,
    target_cvs: Any = None,
    means: Any = None,
    costs: Any = None,
    estimate: Literal["mean", "total"] = "mean",
    min_n: Any = None,
    max_n: Any = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> StratumAllocation:
    """Minimum-cost multivariate allocation (Bethel 1989) by Chromy's algorithm.

    Parameters
    ----------
    population_sizes : Series, mapping or array
        Stratum sizes ``N_h``.
    std_devs : pandas.DataFrame
        Strata x variables table of standard deviations ``S_hj``.
    target_variances : mapping or Series, optional
        Variance target ``V_j`` per variable (of the estimated mean or total).
    target_cvs : mapping or Series, optional
        Coefficient-of-variation targets; ``V_j = (cv_j Ybar_j)^2`` with ``means`` the stratum means
        table (strata x variables), giving the population mean ``Ybar_j``.
    means : pandas.DataFrame, optional
        Stratum means (required with ``target_cvs``; an error with ``target_variances``).
    costs : optional
        Cost per unit per stratum (default 1).
    estimate, min_n, max_n : see :func:`neyman_allocation`.
    tol : float
        Stop when every constraint holds to ``1 + tol`` and the multipliers satisfy the KKT
        conditions to ``tol``.
    max_iter : int

    Returns
    -------
    StratumAllocation
        ``variance`` is a Series by variable.

    Notes
    -----
    Minimise ``sum_h c_h n_h`` subject to ``sum_h A_hj^2 / n_h - A0_j <= V_j`` for every variable
    ``j``. For multipliers ``alpha_j >= 0`` (sum 1) the single-constraint problem with
    ``a_h = sum_j alpha_j A_hj^2 / V'_j`` and level ``sum_j alpha_j`` (``V'_j = V_j + A0_j``) is
    solved exactly with the box (take-all included); Chromy's update
    ``alpha_j <- alpha_j (g_j(n) / V'_j)^2`` (normalised) converges to Bethel's optimum.

    References
    ----------
    Bethel, J. (1989). Sample allocation in multivariate surveys. Survey Methodology 15, 47-57.
    Chromy, J. (1987). Design optimization with multiple objectives. Proc. Survey Research
    Methods Section, ASA, 194-199.

    Examples
    --------
    >>> import pandas as pd
    >>> S = pd.DataFrame({"y1": [10.0, 5.0], "y2": [2.0, 8.0]}, index=["a", "b"])
    >>> res = bethel_allocation([1000, 1000], S, target_variances={"y1": 0.5, "y2": 0.5})
    >>> bool((res.variance <= 0.5 * (1 + 1e-8)).all()), res.status
    (True, 'optimal')
    """
    index, N = _labelled(population_sizes, "population_sizes", None)
    if not isinstance(std_devs, pd.DataFrame):
        fail(ValidationError, "std_devs", "must be a DataFrame (strata x variables)",
             bad=[type(std_devs).__name__])
    if not isinstance(population_sizes, (pd.Series, dict)) and len(std_devs) == len(index):
        index = std_devs.index  # unlabelled sizes take the table's stratum labels
    S = std_devs.reindex(index)
    if S.isna().any().any():
        fail(ValidationError, "std_devs", "needs a row for every stratum (no missing values)",
             bad=list(index[S.isna().any(axis=1).to_numpy()]))
    Smat = as_float_array(S.to_numpy(), "std_devs", ndim=2)
    variables = S.columns
    Ntot = float(N.sum())
    scale = Ntot if estimate == "mean" else 1.0
    if target_variances is None and target_cvs is None:
        fail(ValidationError, "target_variances", "give target_variances or target_cvs")
    if target_variances is not None and target_cvs is not None:
        fail(ValidationError, "target_cvs", "give target_variances or target_cvs, not both (one "
             "would be ignored)", fix="Drop one of them.")
    if target_variances is not None and means is not None:
        fail(ValidationError, "means", "is used only with target_cvs; with target_variances it "
             "would be ignored", fix="Drop means= or give target_cvs= instead.")
    if target_variances is not None:
        V = pd.Series(target_variances).reindex(variables)
    else:
        if means is None:
            fail(ValidationError, "means", "is required with target_cvs")
        M = means.reindex(index)
        ybar = (M.mul(N, axis=0).sum() / Ntot) * (1.0 if estimate == "mean" else Ntot)
        V = (pd.Series(target_cvs).reindex(variables) * ybar) ** 2
    if V.isna().any():
        fail(ValidationError, "target_variances", "needs a target for every variable",
             bad=list(V.index[V.isna()]))
    Vv = as_float_array(V.to_numpy(), "target_variances", positive=True)
    k = np.ones_like(N) if costs is None else (
        np.full(N.size, check_positive(costs, "costs")) if np.ndim(costs) == 0
        else _labelled(costs, "costs", index)[1])
    lo = np.maximum(_bound(min_n, index, "min_n", np.zeros_like(N)), 0.0)
    hi = np.minimum(_bound(max_n, index, "max_n", N.copy()), N)
    lo_eff = np.maximum(lo, TINY * hi)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    A2 = (N[:, None] * Smat / scale) ** 2  # H x J
    A0 = (N[:, None] * Smat**2).sum(axis=0) / scale**2
    Vp = Vv + A0
    floor = (A2 / hi[:, None]).sum(axis=0)
    bad = floor > Vp * (1 + 1e-12)
    if bad.any():
        fail(InfeasibleError, "target_variances",
             "unreachable even when every stratum is at its upper bound (certificate: the "
             "variance at n = max_n exceeds the target)", bad=list(variables[bad]))
    J = Vv.size
    alpha = np.full(J, 1.0 / J)
    n = hi.copy()
    it = 0
    rel = np.inf
    for it in range(1, max_iter + 1):  # noqa: B007 - reported
        a = (A2 / Vp) @ alpha
        sol = core.solve_level(a, np.ones_like(a), np.ones_like(a), k, float(alpha.sum()), lo_eff,
                               hi, tol=tol)
        n = sol.n
        load = (A2 / n[:, None]).sum(axis=0)
        g = load / Vp  # constraint ratios (<= 1 wanted)
        r = (load - A0 - Vv) / Vv  # relative to the variance targets themselves
        # KKT: feasibility, and complementary slackness (alpha_j > 0 only on binding constraints)
        rel = max(float(np.max(r)), float(np.max(alpha * np.abs(r)) / alpha.max()))
        if rel <= tol:
            break
        alpha = alpha * g**2
        alpha = alpha / alpha.sum()
    else:
        raise ConvergenceError(
            f"max_iter: Chromy's iteration did not converge in {max_iter} steps (relative "
            f"constraint/complementarity residual {rel:.3g}). Raise max_iter or loosen tol.")
    var = pd.Series((A2 / n[:, None]).sum(axis=0) - A0, index=variables, name="variance")
    return StratumAllocation(
        n=pd.Series(n, index=index, name="n"),
        n_continuous=pd.Series(n, index=index, name="n_continuous"),
        take_all=pd.Series(n >= N * (1 - 1e-12), index=index, name="take_all"),
        variance=var,
        cost=float(k @ n),
        method="bethel",
        status="optimal" if rel <= tol else "inaccurate",
        kkt_residual=float(max(rel, sol.kkt_residual)),
        iterations=it,
        population_sizes=pd.Series(N, index=index, name="population_size"),
        at_lower=pd.Series(sol.at_lower & (lo > 0), index=index, name="at_lower"),
    )
