"""Group learning curves: how each group's error falls with its sample size.

``fit_learning_curves`` fits the inverse power law ``err_g(n) = a_g n^(-b_g) + c_g`` to pilot
measurements (one curve per group, bounded nonlinear least squares), with standard errors, optional
residual-bootstrap replicates of ``(a, b, c)``, and an optional pooled (transfer) term that lets a
group's error also fall with the total sample size (Rolf et al. 2021). The fitted
:class:`LearningCurves` feed :func:`sampling.allocate`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import (
    as_float_array,
    as_frame,
    as_int,
    as_rng,
    check_columns,
    check_option,
    fail,
)
from estimators.errors import DataWarning, ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["LearningCurves", "fit_learning_curves"]

MIN_DISTINCT_N = 3
MIN_ROWS = 4
B_MAX = 10.0


def _model(theta: np.ndarray, n: np.ndarray, total: np.ndarray | None) -> np.ndarray:
    """``a n^-b + c`` (+ ``d total^-beta`` when pooled); theta = (log a, b, c[, log d, beta])."""
    out = np.exp(theta[0] - theta[1] * np.log(n)) + theta[2]
    if total is not None:
        out = out + np.exp(theta[3] - theta[4] * np.log(total))
    return out


def _start_values(n: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Starting points: log-log line fits for a few asymptote guesses ``c0 < min(y)``."""
    starts = []
    ymin = float(y.min())
    for frac in (0.0, 0.5, 0.9):
        c0 = frac * ymin
        z = np.log(np.maximum(y - c0, 1e-12 * max(ymin, 1e-300)))
        slope, intercept = np.polyfit(np.log(n), z, 1) if np.ptp(n) > 0 else (0.0, z.mean())
        b0 = float(np.clip(-slope, 1e-3, B_MAX - 1e-3))
        starts.append(np.array([float(intercept), b0, c0]))
    return starts


@dataclass(frozen=True)
class _GroupFit:
    theta: np.ndarray  # (log a, b, c[, log d, beta])
    covariance: np.ndarray  # covariance of theta
    residual_scale: float
    fitted: np.ndarray
    residuals: np.ndarray
    cost: float
    converged: bool


def _fit_one(
    n: np.ndarray,
    y: np.ndarray,
    total: np.ndarray | None,
    space: str,
    starts: list[np.ndarray] | None = None,
) -> _GroupFit:
    """Bounded least squares for one group, on errors rescaled to order 1 when they are far from it.

    The model is scale-equivariant (errors times ``s``: ``a`` and ``d`` times ``s``, ``c`` times
    ``s``), so errors of any magnitude (1e-20, 1e20) are fitted as ``y / s`` with ``s = max(y)``
    and the parameters mapped back.
    """
    ymax = float(y.max())
    if ymax <= 0 or 1e-8 <= ymax <= 1e8:
        return _fit_unscaled(n, y, total, space, starts)
    scaled_starts = None if starts is None else [_rescale(s, 1.0 / ymax) for s in starts]
    fit = _fit_unscaled(n, y / ymax, total, space, scaled_starts)
    jacobian = np.ones(fit.theta.size)  # d theta / d theta_scaled: only c scales linearly
    jacobian[2] = ymax
    linear = space == "linear"
    return _GroupFit(
        _rescale(fit.theta, ymax), fit.covariance * np.outer(jacobian, jacobian),
        fit.residual_scale * (ymax if linear else 1.0), fit.fitted * ymax,
        fit.residuals * (ymax if linear else 1.0), fit.cost * (ymax**2 if linear else 1.0),
        fit.converged,
    )


def _rescale(theta: np.ndarray, factor: float) -> np.ndarray:
    """Parameters ``(log a, b, c[, log d, beta])`` of the curve of errors multiplied by ``factor``."""
    out = np.array(theta, dtype=float)
    out[0] += math.log(factor)
    out[2] *= factor
    if out.size > 3:
        out[3] += math.log(factor)
    return out


def _fit_unscaled(
    n: np.ndarray,
    y: np.ndarray,
    total: np.ndarray | None,
    space: str,
    starts: list[np.ndarray] | None = None,
) -> _GroupFit:
    """Bounded least squares for one group; picks the best of several starts."""
    ymax = float(y.max())
    pooled = total is not None
    lower = [-np.inf, 1e-8, 0.0] + ([-np.inf, 1e-8] if pooled else [])
    upper = [np.inf, B_MAX, ymax] + ([np.inf, B_MAX] if pooled else [])
    logy = np.log(y) if space == "log" else None

    def resid(theta: np.ndarray) -> np.ndarray:
        pred = _model(theta, n, total)
        if space == "log":
            return logy - np.log(pred)
        return y - pred

    logn = np.log(n)
    logt = np.log(total) if pooled else None

    def jac(theta: np.ndarray) -> np.ndarray:
        pw = np.exp(theta[0] - theta[1] * logn)
        cols = [pw, -pw * logn, np.ones_like(n)]
        if pooled:
            qw = np.exp(theta[3] - theta[4] * logt)
            cols += [qw, -qw * logt]
        dm = np.stack(cols, axis=1)
        if space == "log":
            return -dm / _model(theta, n, total)[:, None]
        return -dm

    if starts is None:
        starts = _start_values(n, y)
        if pooled:
            starts = [np.concatenate([s, [s[0] - 2.0, 0.5]]) for s in starts]
    best = None
    for s in starts:
        s = np.clip(s, np.array(lower) + 1e-12, np.array(upper) - 1e-12 * max(ymax, 1.0))
        sol = least_squares(resid, s, jac=jac, bounds=(lower, upper), method="trf", x_scale="jac",
                            xtol=1e-12, ftol=1e-12, gtol=1e-10, max_nfev=100)
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    k = best.x.size
    dof = max(n.size - k, 1)
    scale2 = 2.0 * best.cost / dof
    jac = best.jac
    cov = np.linalg.pinv(jac.T @ jac) * scale2
    fitted = _model(best.x, n, total)
    return _GroupFit(best.x, cov, float(np.sqrt(scale2)), fitted, resid(best.x), float(best.cost),
                     bool(best.status > 0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass(frozen=True)
class LearningCurves(Result):
    """Fitted learning curves ``err_g(n) = a_g n^(-b_g) + c_g`` (+ ``d_g N^(-beta_g)`` if pooled).

    Attributes
    ----------
    params : pandas.DataFrame
        Indexed by group: ``a, b, c`` (and ``d, beta`` when pooled), their standard errors
        ``se_a, se_b, se_c`` (delta method from the least-squares Jacobian), ``residual_scale`` and
        ``n_points``, ``pilot_max_n`` (the largest pilot sample size: beyond it the curve is an
        extrapolation) and ``converged`` (False when the least-squares iteration limit was hit:
        the curve is then poorly identified by the pilot data).
    covariance : dict
        Per group, the covariance of ``(log a, b, c[, log d, beta])``.
    bootstrap_params : pandas.DataFrame or None
        Long table ``replicate, group, a, b, c[, d, beta]`` of residual-bootstrap refits.
    data : pandas.DataFrame
        The pilot points used (columns ``group, n, error`` [, ``total``]), in the caller's order.
    space : {"log", "linear"}
        Scale on which residuals were minimised.
    pooled : bool
        Whether the transfer term ``d_g N^(-beta_g)`` in the total sample size ``N`` was fitted.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.array([50, 100, 200, 400, 800] * 2)
    >>> g = ["x"] * 5 + ["y"] * 5
    >>> err = np.where(np.array(g) == "x", 2.0 * n**-0.5 + 0.05, 1.0 * n**-0.3 + 0.1)
    >>> curves = fit_learning_curves(pd.DataFrame({"group": g, "n": n, "error": err}))
    >>> curves.to_frame()[["a", "b", "c"]].round(6).values.tolist()
    [[2.0, 0.5, 0.05], [1.0, 0.3, 0.1]]
    >>> bool(curves.to_frame()["converged"].all())
    True
    """

    params: pd.DataFrame
    covariance: dict[Hashable, np.ndarray] = field(repr=False)
    bootstrap_params: pd.DataFrame | None = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    space: str = "log"
    pooled: bool = False

    # ----------------------------------------------------------------- accessors
    @property
    def groups(self) -> pd.Index:
        """Group labels, in the order of :attr:`params`."""
        return self.params.index

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.params
        return (p["a"].to_numpy(float), p["b"].to_numpy(float), p["c"].to_numpy(float))

    def _pilot_max_n(self) -> np.ndarray:
        """Largest pilot sample size per group, aligned with :attr:`groups`."""
        if "pilot_max_n" in self.params.columns:
            return self.params["pilot_max_n"].to_numpy(float)
        largest = self.data.groupby("group", sort=False)["n"].max()
        return largest.reindex(self.groups).to_numpy(float)

    def _covariance_stack(self) -> np.ndarray | None:
        """Covariances of ``(log a, b, c)`` stacked as a (groups x 3 x 3) array (cached)."""
        cached = self.__dict__.get("_covariance_cache")
        if cached is None:
            try:
                cached = np.stack([np.asarray(self.covariance[g], float)[:3, :3]
                                   for g in self.groups])
            except (KeyError, TypeError, ValueError, IndexError):
                return None
            self.__dict__["_covariance_cache"] = cached
        return cached

    def replicate_arrays(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Bootstrap replicates as ``(a, b, c)`` arrays aligned with :attr:`groups`."""
        if self.bootstrap_params is None:
            fail(ValidationError, "bootstrap", "these curves have no bootstrap replicates",
                 fix="Refit with fit_learning_curves(..., bootstrap=200).")
        boot = self.bootstrap_params
        reps, rep_codes = np.unique(boot["replicate"].to_numpy(), return_inverse=True)
        cols = self.groups.get_indexer(boot["group"])
        out = np.full((3, reps.size, len(self.groups)), np.nan)
        for k, name in enumerate(("a", "b", "c")):
            out[k, rep_codes, cols] = boot[name].to_numpy(float)
        return [(out[0, r], out[1, r], out[2, r]) for r in range(reps.size)]

    def _group_positions(self, group: Any) -> np.ndarray:
        labels = self.groups
        if group is None:
            return np.arange(len(labels))
        wanted = pd.Index(list(group) if isinstance(group, (list, tuple, pd.Index, np.ndarray))
                          else [group], tupleize_cols=False)
        pos = labels.get_indexer(wanted)
        if (pos < 0).any():
            fail(ValidationError, "group", "names groups without a fitted curve",
                 bad=list(wanted[pos < 0]),
                 fix=f"Known groups: {', '.join(map(str, labels[:8]))}.")
        return pos

    def predict(self, n: Any, *, group: Any = None, total: Any = None) -> Any:
        """Predicted error at sample size(s) ``n``.

        Parameters
        ----------
        n : float or array-like
            Sample sizes (> 0).
        group : label, list of labels or None
            One group label returns a float (scalar ``n``) or an array; a list or ``None`` (all
            groups) returns a DataFrame with one column per group and one row per ``n``.
        total : float or array-like, optional
            Total sample size across groups, required by pooled curves.

        Returns
        -------
        float, numpy.ndarray or pandas.DataFrame
        """
        scalar = np.ndim(n) == 0
        nn = as_float_array(np.atleast_1d(n), "n", positive=True)
        tt = None
        if self.pooled:
            if total is None:
                fail(ValidationError, "total", "pooled curves need the total sample size",
                     fix="Pass total=... (the sum of n over all groups).")
            tt = np.broadcast_to(as_float_array(np.atleast_1d(total), "total", positive=True),
                                 nn.shape)
        pos = self._group_positions(group)
        p = self.params
        a, b, c = (p[k].to_numpy(float)[pos] for k in ("a", "b", "c"))
        values = a[None, :] * nn[:, None] ** (-b[None, :]) + c[None, :]
        if tt is not None:
            d, beta = (p[k].to_numpy(float)[pos] for k in ("d", "beta"))
            values = values + d[None, :] * tt[:, None] ** (-beta[None, :])
        single = group is not None and not isinstance(group, (list, tuple, pd.Index, np.ndarray))
        if single:
            out = values[:, 0]
            return float(out[0]) if scalar else out
        return pd.DataFrame(values, index=pd.Index(nn, name="n"), columns=p.index[pos].rename(None))

    def prediction_interval(
        self, n: Any, *, group: Hashable, level: float = 0.9
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise band for the mean curve of ``group``: bootstrap quantiles when available,
        otherwise the delta method (on the log scale when ``space="log"``)."""
        nn = as_float_array(np.atleast_1d(n), "n", positive=True)
        if self.pooled:
            fail(ValidationError, "group", "bands are not available for pooled curves")
        i = self._group_positions(group)[0]
        alpha = (1 - level) / 2
        if self.bootstrap_params is not None:
            reps = self.bootstrap_params[self.bootstrap_params["group"] == self.groups[i]]
            curves = (reps["a"].to_numpy()[:, None] * nn[None, :] ** (-reps["b"].to_numpy()[:, None])
                      + reps["c"].to_numpy()[:, None])
            return np.quantile(curves, alpha, axis=0), np.quantile(curves, 1 - alpha, axis=0)
        from scipy.stats import norm

        a, b, c = self.params.iloc[i][["a", "b", "c"]]
        mean = a * nn ** (-b) + c
        # gradient of mean wrt (log a, b, c)
        grad = np.stack([a * nn ** (-b), -a * nn ** (-b) * np.log(nn), np.ones_like(nn)], axis=1)
        var = np.einsum("ij,jk,ik->i", grad, self.covariance[self.groups[i]][:3, :3], grad)
        z = norm.ppf(1 - alpha)
        sd = np.sqrt(np.maximum(var, 0))
        if self.space == "log":
            return mean * np.exp(-z * sd / mean), mean * np.exp(z * sd / mean)
        return np.maximum(mean - z * sd, 0), mean + z * sd

    # ----------------------------------------------------------------- Result API
    def to_frame(self) -> pd.DataFrame:
        """The parameter table (same as :attr:`params`)."""
        return self.params.copy()

    def _summary_title(self) -> str:
        return "Learning curves err = a * n^-b + c" + (" + d * N^-beta" if self.pooled else "")

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        yield "groups", len(self.params)
        yield "residual space", self.space
        yield "pilot points", len(self.data)
        nb = 0 if self.bootstrap_params is None else int(self.bootstrap_params["replicate"].nunique())
        yield "bootstrap replicates", nb

    def plot(self, ax: Axes | None = None, *, extrapolate_to: float | None = None,
             level: float = 0.9) -> Axes:
        """Pilot points, fitted curves and (non-pooled) bands, extrapolated to ``extrapolate_to``
        (default 4x the largest pilot size), on log-log axes."""
        ax = get_axes(ax)
        nmax = float(self.data["n"].max())
        top = extrapolate_to if extrapolate_to is not None else 4 * nmax
        grid = np.geomspace(float(self.data["n"].min()), top, 100)
        for g in self.groups:
            pts = self.data[self.data["group"] == g]
            line = ax.plot(pts["n"], pts["error"], "o", ms=4, alpha=0.7)[0]
            if self.pooled:
                continue
            ax.plot(grid, self.predict(grid, group=g), "-", color=line.get_color(), label=str(g))
            lo, hi = self.prediction_interval(grid, group=g, level=level)
            ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        ax.axvline(nmax, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("group sample size n")
        ax.set_ylabel("error")
        ax.set_title(f"Learning curves ({int(level * 100)}% bands; extrapolated right of dotted line)")
        ax.legend(fontsize="small")
        return ax


def fit_learning_curves(
    df: pd.DataFrame,
    *,
    group: Hashable = "group",
    n: Hashable = "n",
    error: Hashable = "error",
    space: Literal["log", "linear"] = "log",
    bootstrap: int = 0,
    rng: Any = None,
    pooled: bool = False,
    total: Hashable = "total",
    on_nonmonotone: Literal["warn", "raise"] = "warn",
) -> LearningCurves:
    """Fit ``err_g(n) = a_g n^(-b_g) + c_g`` per group by bounded nonlinear least squares.

    Parameters
    ----------
    df : pandas.DataFrame
        Pilot measurements: one row per (group, sample size) evaluation; repeats are allowed.
    group, n, error : column names
        Group label, the group's training-set size (> 0) and the measured error (> 0 for
        ``space="log"``, >= 0 for ``"linear"``).
    space : {"log", "linear"}
        Minimise squared residuals of ``log(error)`` (default: errors are positive and shrink
        multiplicatively) or of ``error``.
    bootstrap : int
        Number of residual-bootstrap refits (0 = none). Replicates feed the uncertainty bands and
        :func:`sampling.allocate` with ``uncertainty=...``.
    rng : None, int or numpy.random.Generator
        Randomness for the bootstrap (an error with ``bootstrap=0``).
    pooled : bool
        Also fit a transfer term in the total sample size (Rolf et al. 2021):
        ``err_g = a_g n_g^(-b_g) + d_g N^(-beta_g) + c_g`` with ``N`` from column ``total``.
    total : column name
        Total sample size column (only with ``pooled=True``; another name without it is an
        error).
    on_nonmonotone : {"warn", "raise"}
        What to do when a group's mean error does not decrease with ``n``.

    Returns
    -------
    LearningCurves

    Raises
    ------
    ValidationError
        A group has fewer than 4 points or fewer than 3 distinct sample sizes (the three
        parameters are not identified), or errors are not positive in log space, or a curve is
        non-monotone with ``on_nonmonotone="raise"``.

    Notes
    -----
    Bounds: ``a > 0`` (fitted as ``log a``), ``0 < b <= 10``, ``0 <= c <= max(error)``. The
    least-squares problem is solved with scipy's trust-region reflective method from three
    starting points (log-log line fits with ``c = 0, 0.5 min(err), 0.9 min(err)``), keeping the
    best. Standard errors come from ``s^2 (J'J)^{-1}`` with ``s^2 = RSS / (m - p)``; ``se_a`` uses
    the delta method ``se_a = a se_{log a}``. The bootstrap resamples the fitted residuals within
    each group (multiplicatively in log space) and refits.

    References
    ----------
    Cai, W., Encarnacion, R., Chern, B., Corbett-Davies, S., Bogen, M., Bergman, S., & Goel, S.
    (2022). Adaptive sampling strategies to construct equitable training datasets. FAccT.

    Rolf, E., Worledge, T., Recht, B., & Jordan, M. I. (2021). Representation matters: Assessing
    the importance of subgroup allocations in training data. ICML.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.array([50, 100, 200, 400, 800] * 2)
    >>> g = ["x"] * 5 + ["y"] * 5
    >>> err = np.where(np.array(g) == "x", 2.0 * n**-0.5 + 0.05, 1.0 * n**-0.3 + 0.1)
    >>> curves = fit_learning_curves(pd.DataFrame({"group": g, "n": n, "error": err}))
    >>> round(float(curves.params.loc["x", "b"]), 6), round(float(curves.params.loc["y", "c"]), 6)
    (0.5, 0.1)
    >>> round(curves.predict(1600, group="x"), 6)
    0.1
    """
    frame = as_frame(df, "df")
    space = check_option(space, ("log", "linear"), "space")
    on_nonmonotone = check_option(on_nonmonotone, ("warn", "raise"), "on_nonmonotone")
    nboot = as_int(bootstrap, "bootstrap", minimum=0)
    if not pooled and total != "total":
        fail(ValidationError, "total", "names the total sample size column of pooled curves; "
             "with pooled=False it would be ignored", bad=[total],
             fix="Drop total= or set pooled=True.")
    if rng is not None and nboot == 0:
        fail(ValidationError, "rng", "drives the bootstrap only; with bootstrap=0 it would be "
             "ignored", fix="Drop rng= or set bootstrap= to the number of replicates.")
    cols = [group, n, error] + ([total] if pooled else [])
    check_columns(frame, cols, "columns")
    labels = frame[group]
    if labels.isna().any():
        fail(ValidationError, "group", "group labels must not be missing",
             bad=list(frame.index[labels.isna().to_numpy()]))
    nn = as_float_array(frame[n].to_numpy(), "n", positive=True)
    yy = as_float_array(frame[error].to_numpy(), "error", nonnegative=True)
    tt = as_float_array(frame[total].to_numpy(), "total", positive=True) if pooled else None
    if space == "log" and (yy <= 0).any():
        fail(ValidationError, "error", "must be > 0 when space='log'",
             bad=list(frame.index[yy <= 0]), fix="Use space='linear' for exact zeros.")
    if pooled and tt is not None and (tt < nn).any():
        fail(ValidationError, "total", "must be >= the group's own n",
             bad=list(frame.index[tt < nn]))
    codes, uniques = pd.factorize(labels, sort=True)
    short = []
    for k, g in enumerate(uniques):
        m = codes == k
        need = MIN_ROWS + (2 if pooled else 0)
        if m.sum() < need or np.unique(nn[m]).size < MIN_DISTINCT_N:
            short.append(g)
    if short:
        fail(ValidationError, "df",
             f"every group needs at least {MIN_ROWS + (2 if pooled else 0)} points at "
             f"{MIN_DISTINCT_N}+ distinct sample sizes to identify (a, b, c); too short for",
             bad=short, fix="Collect pilot errors at more sample sizes for those groups.")
    nonmono = []
    for k, g in enumerate(uniques):
        m = codes == k
        means = pd.Series(yy[m]).groupby(nn[m]).mean()
        if _spearman(means.index.to_numpy(float), means.to_numpy()) >= 0:
            nonmono.append(g)
    if nonmono:
        msg = ("df: the mean error does not decrease with n (Spearman rank correlation >= 0) "
               f"for {len(nonmono)} groups: {', '.join(map(repr, nonmono[:5]))}. Their fitted "
               "curves are flat and extrapolations are unreliable; check the pilot data.")
        if on_nonmonotone == "raise":
            raise ValidationError(msg)
        warnings.warn(msg, DataWarning, stacklevel=2)

    gen = as_rng(rng) if nboot else None
    rows, cov, boot_rows = [], {}, []
    for k, g in enumerate(uniques):
        m = codes == k
        ng, yg, tg = nn[m], yy[m], (tt[m] if tt is not None else None)
        fit = _fit_one(ng, yg, tg, space)
        th, cv = fit.theta, fit.covariance
        sd = np.sqrt(np.maximum(np.diag(cv), 0.0))
        row = {"a": float(np.exp(th[0])), "b": float(th[1]), "c": float(th[2])}
        if pooled:
            row.update(d=float(np.exp(th[3])), beta=float(th[4]))
        row.update(se_a=float(np.exp(th[0]) * sd[0]), se_b=float(sd[1]), se_c=float(sd[2]))
        if pooled:
            row.update(se_d=float(np.exp(th[3]) * sd[3]), se_beta=float(sd[4]))
        row.update(residual_scale=fit.residual_scale, n_points=int(m.sum()),
                   pilot_max_n=float(ng.max()), converged=fit.converged)
        rows.append(row)
        cov[g] = cv
        if gen is not None:
            res = fit.residuals - fit.residuals.mean()
            for r in range(nboot):
                draw = res[gen.integers(0, res.size, res.size)]
                ystar = fit.fitted * np.exp(draw) if space == "log" else np.maximum(
                    fit.fitted + draw, 0.0)
                bf = _fit_one(ng, ystar, tg, space, starts=[th])
                b = {"replicate": r, "group": g, "a": float(np.exp(bf.theta[0])),
                     "b": float(bf.theta[1]), "c": float(bf.theta[2])}
                if pooled:
                    b.update(d=float(np.exp(bf.theta[3])), beta=float(bf.theta[4]))
                boot_rows.append(b)
    params = pd.DataFrame(rows, index=pd.Index(uniques, name=group if isinstance(group, str) else "group"))
    data = pd.DataFrame({"group": labels.to_numpy(), "n": nn, "error": yy}, index=frame.index)
    if pooled:
        data["total"] = tt
    boot = pd.DataFrame(boot_rows) if nboot else None
    return LearningCurves(params=params, covariance=cov, bootstrap_params=boot, data=data,
                          space=space, pooled=bool(pooled))
