"""Design-based estimates with honest standard errors: means, totals, proportions, ratios, quantiles.

Every estimator takes a :class:`~estimators.SurveyDesign` (Taylor linearisation) or a
:class:`~estimators.ReplicateDesign` (replicate weights), optional ``by=`` domains, and
returns an :class:`Estimate`. Domains are estimated the correct way: observations outside the domain
have their contribution set to zero, the design is never subset, so strata and PSUs that happen to
have no domain members still count (as R ``survey``'s ``svyby``).

After raking, post-stratification or calibration the linearised variable is replaced by its residuals
from the calibration model (the weighting steps recorded on the design), so the standard errors know
how the weights were made; replicate designs re-run the whole weighting chain on every replicate.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtri, stdtrit

from estimators._lib.results import Result, get_axes
from estimators._lib.validation import check_columns, check_option, check_probability, fail
from estimators.errors import DesignError, ValidationError
from estimators.survey._linearization import (
    LonelyPsu,
    RakingVariance,
)
from estimators.survey._protocol import Design, TaylorDesign
from estimators.survey._quantile_rules import RULES, QuantileRule
from estimators.survey._root import zeroin

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from estimators.survey._design import SurveyDesign
    from estimators.survey._replicates import ReplicateDesign

__all__ = ["Estimate", "mean", "proportion", "quantile", "ratio", "total"]

NanPolicy = Literal["raise", "omit"]
DeffKind = Literal["auto", "without_replacement", "with_replacement"]
DegreesOfFreedom = Literal["infinite", "design", "domain"]
Statistic = Literal["mean", "total", "proportion", "ratio", "quantile", "variance"]
ColumnSpec = Hashable | Sequence[Hashable] | None

_LONELY: tuple[LonelyPsu, ...] = ("raise", "adjust", "certainty", "remove", "average")
_RAKING: tuple[RakingVariance, ...] = ("greg", "backfit")
_NAN: tuple[NanPolicy, ...] = ("raise", "omit")
# Above this many estimates (domains x categories) only variances are computed, not the covariance.
FULL_COVARIANCE_MAX = 2_000
_DEFF: tuple[DeffKind, ...] = ("auto", "without_replacement", "with_replacement")
_DF: tuple[DegreesOfFreedom, ...] = ("infinite", "design", "domain")


# ==================================================================================================
# Result
# ==================================================================================================
@dataclass(frozen=True, eq=False)
class Estimate(Result):
    """Design-based estimates with standard errors, confidence intervals and design effects.

    Attributes
    ----------
    statistic : str
        ``"mean"``, ``"total"``, ``"proportion"``, ``"ratio"``, ``"quantile"``, ``"variance"``,
        ``"contrast"`` or ``"replicate"`` (:func:`estimators.replicate_estimate`).
    variable : str
        The outcome (``"y/x"`` for a ratio).
    labels : DataFrame
        One row per estimate: the ``by`` columns, plus ``category`` (proportions) or ``quantile``.
    estimate, std_error : ndarray
        Point estimates and standard errors.
    deff : ndarray
        Design effect shown in ``to_frame()`` (see ``deff_kind``).
    deff_without_replacement, deff_with_replacement : ndarray
        Design-based variance divided by the variance under simple random sampling of the same
        number of observations without replacement (R ``deff=TRUE``) or with replacement
        (R ``deff="replace"``). Without replacement is undefined when the weights sum to no more than
        the sample size (then it is reported as the with-replacement value when ``deff_kind`` is
        ``"with_replacement"``).
    deff_kind : str
        Which design effect the ``deff`` column holds.
    kish_deff, effective_sample_size, n : ndarray
        Kish's weighting design effect ``n sum w^2 / (sum w)^2``, ``(sum w)^2 / sum w^2`` and the number
        of observations with positive weight, per domain.
    covariance : ndarray or None
        Covariance matrix of the estimates (Taylor or replicate). With more than
        ``FULL_COVARIANCE_MAX`` (2,000) estimates only the variances are computed, in memory that
        grows with the rows and domains (not with domains squared), and this is None.
    variance_method : str
        ``"taylor"`` or the replicate method (``"jk1"``, ``"bootstrap"``, ...).
    degrees_of_freedom : ndarray
        Per estimate, used for confidence intervals (``inf``: normal intervals, as R ``confint``;
        see the estimators' ``degrees_of_freedom`` option); quantiles use each domain's design
        degrees of freedom by default, as R ``svyquantile``.
    confidence_level : float
        Level of ``ci_lower`` / ``ci_upper`` in ``to_frame()``.

    Notes
    -----
    Intervals: ``estimate -/+ q * std_error`` with ``q`` the normal quantile (``t`` with
    ``degrees_of_freedom`` when finite); quantiles use Woodruff intervals. Kish:
    ``deff_K = n sum w^2 / (sum w)^2``, ``n_eff = (sum w)^2 / sum w^2``.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "user": [1, 1, 2, 2, 3, 3]})
    >>> est = SurveyDesign(df, psu="user").mean("y")
    >>> list(est.to_frame().columns)
    ['estimate', 'std_error', 'ci_lower', 'ci_upper', 'deff', 'n', 'effective_sample_size']
    >>> round(float(est.confidence_interval(0.9)["ci_upper"].iloc[0]), 4)
    5.399
    """

    statistic: str
    variable: str
    labels: pd.DataFrame
    estimate: np.ndarray
    std_error: np.ndarray
    deff: np.ndarray
    deff_without_replacement: np.ndarray
    deff_with_replacement: np.ndarray
    deff_kind: str
    kish_deff: np.ndarray
    effective_sample_size: np.ndarray
    n: np.ndarray
    covariance: np.ndarray | None
    variance_method: str
    degrees_of_freedom: np.ndarray
    confidence_level: float = 0.95
    _interval: Callable[[float], tuple[np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False, compare=False
    )

    def confidence_interval(self, confidence_level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals at ``confidence_level`` (labels, ``ci_lower``, ``ci_upper``).

        Means, totals, proportions and ratios: ``estimate -/+ q * std_error`` with ``q`` the normal
        (or t with ``degrees_of_freedom``) quantile. Quantiles: Woodruff intervals (the interval for
        the proportion below the estimated quantile, mapped back through the weighted distribution).
        """
        level = check_probability(confidence_level, "confidence_level")
        lower, upper = self._bounds(level)
        out = self.labels.copy()
        out["ci_lower"] = lower
        out["ci_upper"] = upper
        return out

    def _bounds(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        if self._interval is not None:
            return self._interval(level)
        q = _critical(level, self.degrees_of_freedom)
        return self.estimate - q * self.std_error, self.estimate + q * self.std_error

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate: labels, estimate, std_error, ci_lower, ci_upper, deff, n, ess."""
        lower, upper = self._bounds(self.confidence_level)
        out = self.labels.copy()
        out["estimate"] = self.estimate
        out["std_error"] = self.std_error
        out["ci_lower"] = lower
        out["ci_upper"] = upper
        out["deff"] = self.deff
        out["n"] = self.n
        out["effective_sample_size"] = self.effective_sample_size
        return out.reset_index(drop=True)

    def _summary_title(self) -> str:
        return f"Survey {self.statistic} of {self.variable}"

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        return [
            ("variance", self.variance_method),
            ("confidence level", self.confidence_level),
            ("design effect", self.deff_kind),
            ("estimates", len(self.estimate)),
        ]

    def plot(self, ax: Axes | None = None) -> Axes:
        """Point estimates with their confidence intervals, one row per estimate."""
        ax = get_axes(ax)
        lower, upper = self._bounds(self.confidence_level)
        names = [" / ".join(str(v) for v in row) for row in self.labels.itertuples(index=False)]
        if not names or all(n == "" for n in names):
            names = [self.variable] * len(self.estimate)
        pos = np.arange(len(self.estimate))
        ax.errorbar(
            self.estimate,
            pos,
            xerr=np.vstack([self.estimate - lower, upper - self.estimate]),
            fmt="o",
            capsize=3,
        )
        ax.set_yticks(pos, labels=names)
        ax.set_xlabel(f"{self.statistic} of {self.variable} ({self.confidence_level:.0%} CI)")
        return ax


def _critical(level: float, df: np.ndarray | float) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    z = ndtri(0.5 + level / 2)
    finite = np.isfinite(df) & (df > 0)
    t = stdtrit(np.where(finite, df, 1.0), 0.5 + level / 2)
    return np.where(finite, t, z)


# ==================================================================================================
# Validation at the boundary
# ==================================================================================================
@dataclass(frozen=True)
class _Prepared:
    design: SurveyDesign
    replicate: ReplicateDesign | None
    weights: np.ndarray  # final full-sample weights
    domain: np.ndarray  # (n,) domain code, -1 = outside every domain (missing outcome)
    labels: pd.DataFrame  # K rows of by-levels (empty frame with one row without by)
    columns: dict[Hashable, np.ndarray]


def _as_list(spec: ColumnSpec) -> list[Hashable]:
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return list(spec)
    return [spec]


def _split_design(design: Any) -> tuple[SurveyDesign, ReplicateDesign | None]:
    if isinstance(design, Design):
        return design._estimation_parts()  # type: ignore[return-value]
    fail(
        ValidationError,
        "design",
        "must be a SurveyDesign or a ReplicateDesign",
        bad=[type(design).__name__],
        fix="Build one with estimators.SurveyDesign(df, weights=..., psu=...).",
    )


def _prepare(
    design: Any,
    variables: Sequence[Hashable],
    by: ColumnSpec,
    nan_policy: str,
    *,
    numeric: bool = True,
) -> _Prepared:
    base, rep = _split_design(design)
    nan_policy = check_option(nan_policy, _NAN, "nan_policy")
    frame = base.data
    check_columns(frame, variables, "y")
    by_cols = check_columns(frame, _as_list(by), "by")
    n = len(frame)
    columns: dict[Hashable, np.ndarray] = {}
    missing = np.zeros(n, dtype=bool)
    for var in variables:
        col = frame[var]
        if numeric:
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                fail(
                    ValidationError,
                    "y",
                    f"column {var!r} must be numeric for this statistic",
                    bad=[str(col.dtype)],
                    fix="Use proportion() for a categorical outcome, or convert with pd.to_numeric.",
                )
            finite = _finite_float64(col)
            if finite is not None:
                columns[var], largest = finite
                _check_magnitude_range(largest, var)
                continue
            values = col.to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(values)
            columns[var] = np.where(bad, 0.0, values)
            _check_magnitude(columns[var], var)
        else:
            values = col.to_numpy()
            bad = pd.isna(col).to_numpy()
            columns[var] = values
        missing |= bad
    if missing.any() and nan_policy == "raise":
        fail(
            ValidationError,
            "y",
            f"contains missing or non-finite values in {int(missing.sum())} rows",
            bad=list(frame.index[missing]),
            fix="Pass nan_policy='omit' to leave those rows out of every domain (the design is "
            "kept whole), or impute them first.",
        )
    if by_cols:
        sub = frame[by_cols]
        na = sub.isna().any(axis=1).to_numpy()
        if na.any():
            fail(
                ValidationError,
                "by",
                f"domain columns contain missing values in {int(na.sum())} rows",
                bad=list(frame.index[na]),
                fix="Fill them with an explicit level (e.g. 'unknown') before estimating.",
            )
        if len(by_cols) == 1:
            codes, uniques = pd.factorize(sub.iloc[:, 0], sort=True)
            labels = pd.DataFrame({by_cols[0]: np.asarray(uniques)})
        else:
            codes, uniques = pd.factorize(pd.MultiIndex.from_frame(sub), sort=True)
            labels = pd.DataFrame(list(uniques), columns=by_cols)
        domain = codes.astype(np.int64)
    else:
        domain = np.zeros(n, dtype=np.int64)
        labels = _WHOLE_SAMPLE.copy()  # each result owns its labels
    domain = np.where(missing, -1, domain)
    weights = np.asarray(base.weight_array, dtype=float)
    prep = _Prepared(base, rep, weights, domain, labels, columns)
    _check_domains(prep)
    return prep


# Squares of the values enter every variance: beyond these magnitudes they overflow to inf or
# underflow to 0 in double precision, so such columns are refused rather than given an SE of inf / 0.
_LARGEST_VALUE = 1e150
_SMALLEST_SCALE = 1e-150


def _check_magnitude(values: np.ndarray, variable: Hashable) -> None:
    _check_magnitude_range(float(np.max(np.abs(values), initial=0.0)), variable)


def _finite_float64(column: pd.Series) -> tuple[np.ndarray, float] | None:
    """The values of a float64 column and their largest magnitude when every value is finite
    (one min / max pair: NaN fails both comparisons); None otherwise."""
    if column.dtype != np.float64:
        return None
    values = column.to_numpy()
    low, high = np.minimum.reduce(values, initial=0.0), np.maximum.reduce(values, initial=0.0)
    if not (-np.inf < low and high < np.inf):
        return None
    return values, max(-low, high)


def _magnitude_ok(largest: float) -> bool:
    return not (largest > _LARGEST_VALUE or 0.0 < largest < _SMALLEST_SCALE)


def _check_magnitude_range(largest: float, variable: Hashable) -> None:
    if not _magnitude_ok(largest):
        fail(
            ValidationError,
            "y",
            f"column {variable!r} has values of magnitude {largest:.3g}, outside "
            f"[{_SMALLEST_SCALE:g}, {_LARGEST_VALUE:g}] where variances (squares of the values) "
            "stay within the float range",
            bad=[variable],
            fix="Rescale the column (e.g. divide by 1e6, or multiply by 1e200) and scale the "
            "estimates and standard errors back.",
        )


# The labels of a statistic without domains: one row, no columns (copied: constructing a frame
# costs several times more than copying one).
_WHOLE_SAMPLE = pd.DataFrame(index=range(1))


def _check_domains(prep: _Prepared) -> None:
    """Every domain needs observations with positive weight (an empty domain has no estimate)."""
    k = len(prep.labels)
    inside = prep.domain >= 0
    if k == 1:
        mass = np.array([float(prep.weights @ inside)])
    else:
        mass = np.bincount(prep.domain[inside], weights=prep.weights[inside], minlength=k)
    empty = np.flatnonzero(mass <= 0)
    if empty.size:
        names = [_label_text(prep.labels.iloc[i]) for i in empty]
        fail(
            DesignError,
            "by",
            "some domains have no observations with positive weight (after leaving out missing "
            "outcomes), so they have no estimate",
            bad=names,
            fix="Drop or merge those domains, or check the weights and the outcome's missing values.",
        )


def _label_text(row: pd.Series) -> Any:
    if len(row) == 0:
        return "all"
    if len(row) == 1:
        return row.iloc[0]
    return tuple(row)


# ==================================================================================================
# The ratio-of-totals core: theta_j = (sum_i w_i a_ij) / (sum_i w_i b_ij)
# ==================================================================================================
@dataclass(frozen=True)
class _Core:
    """A ratio-of-totals statistic in entry form: ``theta_j = sum w a / sum w b`` over its entries.

    Entry ``e`` puts row ``rows[e]`` into estimate column ``cols[e]`` with numerator value ``a[e]``
    and denominator value ``b[e]`` (``b`` is None for totals). The entries of a column are exactly
    the rows of its domain (its membership), so no (n x k) matrix is ever built on the Taylor path.
    """

    rows: np.ndarray
    cols: np.ndarray
    a: np.ndarray
    b: np.ndarray | None
    k: int
    n: int
    all_rows: bool = False  # rows == arange(n): no gathers needed
    b_is_one: bool = False  # denominator values all 1 (means, proportions)

    def column_sums(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.cols, weights=values, minlength=self.k)

    def sparse(self, values: np.ndarray) -> sp.csr_matrix:
        """(k x n) sparse matrix of per-entry ``values`` (for replicate weight matrices)."""
        return sp.csr_matrix((values, (self.cols, self.rows)), shape=(self.k, self.n))


def _entries(domain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(domain >= 0)
    return rows, domain[rows]


def _core(domain: np.ndarray, k: int, a: np.ndarray, b: np.ndarray | None) -> _Core:
    n = len(domain)
    rows, cols = _entries(domain)
    all_rows = rows.size == n
    take = (lambda v: v) if all_rows else (lambda v: v[rows])
    b_is_one = b is not None and bool((b == 1).all())
    return _Core(
        rows, cols, take(a), None if b is None else take(b), k, n, all_rows=all_rows, b_is_one=b_is_one
    )


def _stack(cores: list[_Core]) -> _Core:
    """Side-by-side columns of several cores over the same rows (categories, quantiles)."""
    k = cores[0].k
    return _Core(
        rows=np.concatenate([c.rows for c in cores]),
        cols=np.concatenate([c.cols + i * k for i, c in enumerate(cores)]),
        a=np.concatenate([c.a for c in cores]),
        b=None if cores[0].b is None else np.concatenate([c.b for c in cores]),  # type: ignore[misc]
        k=k * len(cores),
        n=cores[0].n,
        b_is_one=all(c.b_is_one for c in cores),
    )


@dataclass(frozen=True)
class _Pieces:
    """Per-entry weights and residuals of a ratio-of-totals statistic at the full-sample weights."""

    theta: np.ndarray
    wr: np.ndarray  # weight of each entry's row
    resid: np.ndarray  # e = a - theta b (totals: a)
    psum: np.ndarray  # sum of weights per column (domain size)
    scale_den: np.ndarray  # denominator total B per column (1 for totals)


def _pieces(core: _Core, w: np.ndarray) -> _Pieces:
    wr = w if core.all_rows else w[core.rows]
    psum = core.column_sums(wr)
    num = core.column_sums(core.a * wr)
    if core.b is None:
        return _Pieces(num, wr, core.a, psum, np.ones_like(psum))
    den = psum if core.b_is_one else core.column_sums(core.b * wr)
    theta = num / den
    resid = core.a - (theta[core.cols] if core.b_is_one else theta[core.cols] * core.b)
    return _Pieces(theta, wr, resid, psum, den)


def _srs_variances(
    core: _Core, pieces: _Pieces, statistic: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SRS variances (without / with replacement), n, Kish deff and effective n, per estimate.

    R ``survey``: ``svyvar`` (weighted variance with ``n / (n - 1)``) of the linearised residual
    ``e = a - theta b`` within the domain, over ``n`` observations with positive weight, scaled as
    ``svymean`` / ``svytotal`` do: ``s^2 (N - n) / (N n)`` and ``s^2 / n`` for means and proportions,
    times ``(N / B)^2`` for totals (``B = 1``) and ratios (``B`` = denominator total).
    """
    wr, e, psum = pieces.wr, pieces.resid, pieces.psum
    if core.k == 1 and core.all_rows and core.cols.size == core.n:
        return _srs_variances_whole(wr, e, psum, pieces.scale_den, statistic)
    positive = wr > 0
    n_obs = (
        np.bincount(core.cols, minlength=core.k).astype(float)
        if positive.all()
        else core.column_sums(positive.astype(float))
    )
    we = wr * e
    e_mean = core.column_sums(we) / psum
    # sum w (e - ebar)^2 = sum w e^2 - psum ebar^2, with e centred first when ebar is not ~0
    if np.all(np.abs(e_mean) <= 1e-8 * np.sqrt(core.column_sums(we * e) / psum)):
        ss = core.column_sums(we * e) - psum * e_mean**2
    else:
        centred = e - e_mean[core.cols]
        ss = core.column_sums(wr * centred * centred)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.where(n_obs > 1, ss / psum * n_obs / np.maximum(n_obs - 1, 1), 0.0)
        if statistic in ("mean", "proportion", "quantile", "variance"):
            factor = np.ones_like(psum)
        else:
            factor = (psum / pieces.scale_den) ** 2
        v_wr = s2 * factor / n_obs
        v_wor = s2 * factor * (psum - n_obs) / (psum * n_obs)
    # Kish on weights scaled by their largest value per column: (sum w)^2 overflows for weights
    # near 1e300 (and underflows near 1e-300), which gave NaN effective sample sizes.
    largest = np.zeros(core.k)
    np.maximum.at(largest, core.cols, wr)
    largest[largest <= 0] = 1.0
    scaled = wr / largest[core.cols]
    ssum = core.column_sums(scaled)
    ssum2 = core.column_sums(scaled * scaled)
    with np.errstate(divide="ignore", invalid="ignore"):
        kish = n_obs * ssum2 / ssum**2
        ess = ssum**2 / ssum2
    return v_wor, v_wr, n_obs, kish, ess


def _srs_variances_whole(
    wr: np.ndarray, e: np.ndarray, psum: np.ndarray, scale_den: np.ndarray, statistic: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_srs_variances` for one estimate over every row: the same formulas with plain sums
    (a single column needs no grouping). The total weight is positive (checked before)."""
    largest = float(np.maximum.reduce(wr))
    n_obs = float(wr.size) if float(np.minimum.reduce(wr)) > 0 else float(np.count_nonzero(wr))
    total = float(psum[0])
    we = wr * e
    e_mean = float(np.add.reduce(we)) / total
    wee = float(we @ e)
    if abs(e_mean) <= 1e-8 * (wee / total) ** 0.5:
        ss = wee - total * e_mean**2
    else:
        centred = e - e_mean
        ss = float((wr * centred) @ centred)
    s2 = ss / total * n_obs / (n_obs - 1) if n_obs > 1 else 0.0
    if statistic not in ("mean", "proportion", "quantile", "variance"):
        s2 *= (total / float(scale_den[0])) ** 2
    scaled = wr / largest
    ssum = float(np.add.reduce(scaled))
    ssum2 = float(scaled @ scaled)
    return (np.array([s2 * (total - n_obs) / (total * n_obs)]), np.array([s2 / n_obs]),
            np.array([n_obs]), np.array([n_obs * ssum2 / ssum**2]), np.array([ssum**2 / ssum2]))


def _design_effects(
    variance: np.ndarray, v_wor: np.ndarray, v_wr: np.ndarray, deff_kind: DeffKind
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    if variance.size == 1:  # one estimate: the same rules on floats
        v, wor, wr = float(variance[0]), float(v_wor[0]), float(v_wr[0])
        one_wr = v / wr if wr > 0 else np.inf
        if deff_kind == "auto":
            deff_kind = "without_replacement" if wor > 0 else "with_replacement"
        if deff_kind == "without_replacement" and not wor > 0:
            _fail_without_replacement(np.array([True]))
        one_wor = v / wor if wor > 0 else one_wr
        shown = one_wor if deff_kind == "without_replacement" else one_wr
        return np.array([shown]), np.array([one_wor]), np.array([one_wr]), deff_kind
    undefined = ~(v_wor > 0)
    d_wr = np.divide(variance, v_wr, out=np.full(v_wr.shape, np.inf), where=v_wr > 0)
    d_wor = np.divide(variance, v_wor, out=np.full(v_wor.shape, np.inf), where=~undefined)
    if deff_kind == "auto":
        deff_kind = "with_replacement" if undefined.any() else "without_replacement"
    if deff_kind == "without_replacement" and undefined.any():
        _fail_without_replacement(undefined)
    shown = d_wor if deff_kind == "without_replacement" else d_wr
    d_wor = np.where(undefined, d_wr, d_wor)
    return shown, d_wor, d_wr, deff_kind


def _fail_without_replacement(undefined: np.ndarray) -> None:
    fail(
        DesignError,
        "deff",
        "the without-replacement design effect needs weights that sum to more than the "
        "number of observations (a population-scaled design)",
        bad=[f"estimate {int(i)}" for i in np.flatnonzero(undefined)],
        fix="Use deff='with_replacement', or scale the weights to the population size.",
    )


def _estimate_core(
    prep: _Prepared,
    core: _Core,
    *,
    statistic: str,
    variable: str,
    labels: pd.DataFrame,
    lonely_psu: LonelyPsu,
    raking_variance: RakingVariance,
    deff: DeffKind,
    confidence_level: float,
    degrees_of_freedom: Any = "infinite",
    adjust_domain_lonely: bool = False,
) -> tuple[Estimate, np.ndarray]:
    w = prep.weights
    pieces = _pieces(core, w)
    theta = pieces.theta
    # linearised variable w (a - theta b) / B per entry (totals: w a); the design type decides how
    # it becomes a covariance (Taylor: PSU totals; replicates: re-weighted estimates)
    values = pieces.wr * pieces.resid
    if core.b is not None:
        values /= pieces.scale_den[core.cols]
    source = prep.design if prep.replicate is None else prep.replicate
    full = core.k <= FULL_COVARIANCE_MAX
    cov, method = source._linear_covariance(
        core, values, theta, lonely_psu, raking_variance, full=full,
        domain_lonely=bool(adjust_domain_lonely),
    )
    dof = np.tile(_domain_degrees_of_freedom(prep, degrees_of_freedom), core.k // len(prep.labels))
    est = _estimate(statistic, variable, labels, theta, cov, full, method,
                    _srs_variances(core, pieces, statistic), deff, dof, confidence_level)
    return est, theta


def _estimate(
    statistic: str, variable: str, labels: pd.DataFrame, theta: np.ndarray, cov: np.ndarray,
    full: bool, method: str, srs: tuple[np.ndarray, ...], deff: DeffKind, dof: np.ndarray,
    confidence_level: float,
) -> Estimate:
    """The result: standard errors from the covariance (or variances, ``full=False``) and the
    design effects against the SRS variances ``srs`` of :func:`_srs_variances`."""
    variance = np.maximum(np.diag(cov) if full else cov, 0.0)  # NaN stays NaN
    v_wor, v_wr, n_obs, kish, ess = srs
    shown, d_wor, d_wr, kind = _design_effects(variance, v_wor, v_wr, deff)
    return Estimate(
        statistic=statistic,
        variable=variable,
        labels=labels if _default_index(labels) else labels.reset_index(drop=True),
        estimate=theta,
        std_error=np.sqrt(variance),
        deff=shown,
        deff_without_replacement=d_wor,
        deff_with_replacement=d_wr,
        deff_kind=kind,
        kish_deff=kish,
        effective_sample_size=ess,
        n=n_obs.astype(np.int64),
        covariance=cov if full else None,
        variance_method=method,
        degrees_of_freedom=dof,
        confidence_level=confidence_level,
    )


def _independent_rows_statistic(
    design: Any, y: Hashable, statistic: str, deff: DeffKind, confidence_level: float
) -> Estimate | None:
    """A mean or total over every row of a design whose rows are independent draws (no strata,
    PSUs, fpc or weighting steps), without the domain machinery: the same formulas as the
    general path (tested equal to it), for the commonest call in loops. ``None`` when the column
    needs the general path's checks (not float64, non-finite or out-of-range values, no
    positive weight): that path then raises or handles it."""
    frame = design.data
    try:
        present = y in frame.columns
    except TypeError:  # an unhashable label: the general path names the problem
        return None
    column = frame[y] if present else None
    finite = _finite_float64(column) if isinstance(column, pd.Series) else None
    if finite is None or not _magnitude_ok(finite[1]):
        return None
    values = finite[0]
    w = design.weight_array
    weight_total = float(w.sum())
    if not weight_total > 0:
        return None
    n = w.size
    if statistic == "mean":
        theta = float(w @ values) / weight_total
        resid = values - theta
        linear = w * resid / weight_total
        denominator = weight_total
    else:
        _check_total_weight_range(w)
        theta = float(w @ values)
        resid = values
        linear = w * values
        denominator = 1.0
    deviation = linear - float(np.add.reduce(linear)) / n
    cov = np.array([[n / (n - 1.0) * float(deviation @ deviation)]])
    srs = _srs_variances_whole(w, resid, np.array([weight_total]), np.array([denominator]),
                               statistic)
    return _estimate(statistic, str(y), _WHOLE_SAMPLE.copy(), np.array([theta]), cov, True,
                     "taylor", srs, deff, np.array([np.inf]), confidence_level)


def _default_index(frame: pd.DataFrame) -> bool:
    """Whether the rows are labelled 0, 1, ..., n - 1 already (no reset needed)."""
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _options(lonely_psu: str, raking_variance: str, deff: str, confidence_level: Any) -> tuple:
    return (
        check_option(lonely_psu, _LONELY, "lonely_psu"),
        check_option(raking_variance, _RAKING, "raking_variance"),
        check_option(deff, _DEFF, "deff"),
        check_probability(confidence_level, "confidence_level"),
    )


def _check_degrees_of_freedom(value: Any) -> Any:
    """``"infinite"``, ``"design"``, ``"domain"`` or a positive number."""
    if isinstance(value, str):
        return check_option(value, _DF, "degrees_of_freedom")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    if not number > 0:
        fail(
            ValidationError,
            "degrees_of_freedom",
            "must be 'infinite', 'design', 'domain' or a positive number",
            bad=[value],
            fix="E.g. degrees_of_freedom='design' for t intervals with the design's degrees of "
            "freedom (R confint(..., df = degf(design))).",
        )
    return number


def _domain_degrees_of_freedom(prep: _Prepared, option: Any) -> np.ndarray:
    """Degrees of freedom per domain: inf, the design's (R ``degf(design)``), each domain's (R
    ``degf`` of the subset design, Taylor and replicate alike) or a given number."""
    k = len(prep.labels)
    if not isinstance(option, str):
        return np.full(k, float(option))
    if option == "infinite":
        return np.full(k, np.inf)
    source = prep.design if prep.replicate is None else prep.replicate
    if option == "design":
        return np.full(k, float(source.degrees_of_freedom))
    return source.domain_degrees_of_freedom(prep.domain, k)


# ==================================================================================================
# Public estimators
# ==================================================================================================
_PARAMS_DOC = """
    by : str or list of str, optional
        Domain columns. Each domain is estimated by zeroing contributions outside it; the design is
        never subset, so every stratum and PSU keeps counting (R ``svyby``).
    nan_policy : {"raise", "omit"}
        Missing or non-finite outcome values: raise (default), or leave those rows out of every
        domain (R ``na.rm=TRUE``; the design itself is kept whole).
    lonely_psu : {"raise", "adjust", "certainty", "remove", "average"}
        Strata with a single PSU: raise (default, naming the strata), or R's
        ``survey.lonely.psu`` options ``"adjust"`` (deviation from the grand mean), ``"certainty"`` and
        ``"remove"`` (no contribution), ``"average"`` (the average contribution of the other
        strata: the sum over strata with two or more PSUs times strata / those strata; in a domain,
        the strata with rows in it, as R on the subset design).
    adjust_domain_lonely : bool
        R ``survey.adjust.domain.lonely``: in a domain, a stratum with one PSU holding domain rows
        (of several sampled) is treated as lonely by ``"adjust"`` and ``"average"`` (default
        ``False``: its zero PSU totals count, R's default). Taylor designs without weighting steps
        only, as in R.
    raking_variance : {"greg", "backfit"}
        After ``rake``: residuals from the weighted regression on the margin indicators (default;
        the GREG / ``calibrate(calfun="raking")`` convention), or R ``rake()``'s iterated back-fitting
        of unweighted cell means (10 sweeps, as R's ``svyrecvar``). Other weighting steps always use
        the GREG residuals (R ``postStratify`` / ``calibrate``).
    deff : {"auto", "without_replacement", "with_replacement"}
        Which design effect fills the ``deff`` column: vs simple random sampling without replacement
        (R ``deff=TRUE``), with replacement (R ``deff="replace"``), or ``"auto"`` (without replacement
        when the weights sum to more than the sample size in every domain, else with replacement).
    confidence_level : float
        Level of the intervals in ``to_frame()``.
    degrees_of_freedom : {"infinite", "design", "domain"} or float
        Intervals ``estimate -/+ q * std_error``: ``q`` from the normal (``"infinite"``, R's
        ``confint`` default; quantiles default to ``"domain"``) or from Student's t with the
        design's degrees of freedom (``"design"``: PSUs minus strata, or the rank of the replicate
        weights minus one, R ``confint(..., df = degf(design))``), each domain's (``"domain"``:
        the same rule on the domain's rows, for Taylor and replicate designs alike, as R ``svyby``
        gives ``svyquantile``), or a number."""


TOTAL_WEIGHT_RANGE = (1e-150, 1e150)


def _check_total_weight_range(weights: np.ndarray) -> None:
    """A total's variance sums squared weighted values: weights beyond 1e150 overflow float64 and
    weights below 1e-150 underflow to a variance of 0 (ratios and means are scale-free)."""
    positive = weights[weights > 0]
    if positive.size == 0:
        return
    low, high = float(positive.min()), float(positive.max())
    bad = [v for v in (low, high) if not TOTAL_WEIGHT_RANGE[0] <= v <= TOTAL_WEIGHT_RANGE[1]]
    if bad:
        fail(ValidationError, "weights",
             "for a total, positive weights must lie between 1e-150 and 1e150 (the variance of "
             "the total would overflow or underflow float64)", bad=bad,
             fix="Rescale the weights by a power of 10 and scale the total and its standard "
             "error back by the same factor.")


def _linear_statistic(
    design: Any,
    y: Hashable | list[Hashable],
    statistic: Literal["mean", "total"],
    *,
    by: ColumnSpec,
    nan_policy: Any,
    lonely_psu: Any,
    raking_variance: Any,
    deff: Any,
    confidence_level: Any,
    degrees_of_freedom: Any,
    adjust_domain_lonely: Any,
) -> Estimate:
    """The body of :func:`mean` (``b = 1``: a ratio to the weighted count) and :func:`total`."""
    lonely_psu, raking_variance, deff, level = _options(lonely_psu, raking_variance, deff, confidence_level)
    df_option = _check_degrees_of_freedom(degrees_of_freedom)
    nan_policy = check_option(nan_policy, _NAN, "nan_policy")
    if (by is None and df_option == "infinite" and not isinstance(y, list)
            and isinstance(design, TaylorDesign) and design._independent_rows()):
        fast = _independent_rows_statistic(design, y, statistic, deff, level)
        if fast is not None:
            return fast
    variables = list(y) if isinstance(y, list) else [y]
    if not variables:
        fail(ValidationError, "y", "needs at least one column", bad=[y])
    prep = _prepare(design, variables, by, nan_policy)
    if statistic == "total":
        _check_total_weight_range(prep.weights)
    k = len(prep.labels)
    denominator = np.ones(prep.design.n) if statistic == "mean" else None
    cores = [_core(prep.domain, k, prep.columns[v], denominator) for v in variables]
    core = cores[0] if len(cores) == 1 else _stack(cores)
    labels = prep.labels
    if isinstance(y, list):
        # several outcomes at once (their joint covariance, for contrasts): variable first
        labels = pd.concat([prep.labels] * len(variables), ignore_index=True)
        labels.insert(0, "variable", np.repeat(np.asarray([str(v) for v in variables], dtype=object), k))
    est, _ = _estimate_core(
        prep, core, statistic=statistic, variable=" + ".join(str(v) for v in variables), labels=labels,
        lonely_psu=lonely_psu, raking_variance=raking_variance, deff=deff, confidence_level=level,
        degrees_of_freedom=df_option, adjust_domain_lonely=adjust_domain_lonely,
    )
    return est


def mean(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable | list[Hashable],
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "infinite",
    adjust_domain_lonely: bool = False,
) -> Estimate:
    """Weighted mean of ``y`` (overall or per domain) with a design-based standard error.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        Taylor linearisation for a ``SurveyDesign``, replicate variance for a ``ReplicateDesign``.
    y : str or list of str
        Numeric outcome column, or a list of them (estimated together, with their covariance;
        ``labels`` gains a ``variable`` column and rows run variable first, then domain).
    {params}

    Returns
    -------
    Estimate

    Notes
    -----
    ``ybar_d = sum_i w_i 1_d(i) y_i / sum_i w_i 1_d(i)``. Taylor variance: the linearised variable
    ``z_i = w_i 1_d(i) (y_i - ybar_d) / sum_i w_i 1_d(i)`` is (after calibration) replaced by its
    calibration residuals, summed within PSUs, and
    ``V = sum_h (1 - n_h/N_h) n_h/(n_h - 1) sum_i (z_hi - zbar_h)^2``.

    References
    ----------
    Wolter, K. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer.
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, mean
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "g": list("aabbab"), "w": [1.0, 2, 1, 2, 1, 2]})
    >>> est = mean(SurveyDesign(df, weights="w"), "y")
    >>> round(float(est.estimate[0]), 4), round(float(est.std_error[0]), 4)
    (3.6667, 0.795)
    >>> mean(SurveyDesign(df, weights="w"), "y", by="g").to_frame()["estimate"].round(3).tolist()
    [2.5, 4.6]
    """
    return _linear_statistic(
        design, y, "mean", by=by, nan_policy=nan_policy, lonely_psu=lonely_psu,
        raking_variance=raking_variance, deff=deff, confidence_level=confidence_level,
        degrees_of_freedom=degrees_of_freedom, adjust_domain_lonely=adjust_domain_lonely,
    )


def total(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable | list[Hashable],
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "infinite",
    adjust_domain_lonely: bool = False,
) -> Estimate:
    """Weighted (Horvitz–Thompson / calibrated) total of ``y``, overall or per domain.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str or list of str
        Numeric outcome column, or a list of them (estimated together, as for :func:`mean`).
    {params}

    Returns
    -------
    Estimate

    Notes
    -----
    ``Y_d = sum_i w_i 1_d(i) y_i``; its linearised variable is ``w_i 1_d(i) y_i`` (then calibration
    residuals), with the stratified with-replacement variance of :func:`mean`.

    References
    ----------
    Horvitz, D. G. and Thompson, D. J. (1952). A generalization of sampling without replacement from
    a finite universe. *JASA* 47, 663–685.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, total
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [10.0, 10, 20, 20]})
    >>> float(total(SurveyDesign(df, weights="w"), "y").estimate[0])
    170.0
    """
    return _linear_statistic(
        design, y, "total", by=by, nan_policy=nan_policy, lonely_psu=lonely_psu,
        raking_variance=raking_variance, deff=deff, confidence_level=confidence_level,
        degrees_of_freedom=degrees_of_freedom, adjust_domain_lonely=adjust_domain_lonely,
    )


def proportion(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable,
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "infinite",
    adjust_domain_lonely: bool = False,
) -> Estimate:
    """Weighted share of each category of ``y`` (overall or per domain).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str
        Categorical (or any discrete) column; categories are its observed values, sorted.
    {params}

    Returns
    -------
    Estimate
        Rows ordered category first, then domain; ``labels`` has a ``category`` column.

    Notes
    -----
    The share of category ``c`` in domain ``d`` is the mean of the indicator ``1[y_i = c]`` in the
    domain (R ``svymean`` on a factor), with the same linearisation.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*, ch. 2. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, proportion
    >>> df = pd.DataFrame({"pick": ["a", "b", "a", "a"], "w": [1.0, 1, 1, 3]})
    >>> proportion(SurveyDesign(df, weights="w"), "pick").to_frame()["estimate"].tolist()
    [0.8333333333333334, 0.16666666666666666]
    """
    lonely_psu, raking_variance, deff, level = _options(lonely_psu, raking_variance, deff, confidence_level)
    df_option = _check_degrees_of_freedom(degrees_of_freedom)
    prep = _prepare(design, [y], by, nan_policy, numeric=False)
    k = len(prep.labels)
    values = prep.columns[y]
    inside = prep.domain >= 0
    cat_codes, categories = pd.factorize(pd.Series(values[inside]), sort=True)
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[inside] = cat_codes
    n_cat = len(categories)
    ones = np.ones(len(values))
    core = _stack([_core(prep.domain, k, (codes == c).astype(float), ones) for c in range(n_cat)])
    labels = pd.concat([prep.labels] * n_cat, ignore_index=True)
    labels["category"] = np.repeat(np.asarray(categories, dtype=object), k)
    est, _ = _estimate_core(
        prep, core, statistic="proportion", variable=str(y), labels=labels, lonely_psu=lonely_psu,
        raking_variance=raking_variance, deff=deff, confidence_level=level,
        degrees_of_freedom=df_option, adjust_domain_lonely=adjust_domain_lonely,
    )
    return est


def ratio(
    design: SurveyDesign | ReplicateDesign,
    numerator: Hashable | list[Hashable],
    denominator: Hashable | list[Hashable],
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "infinite",
    adjust_domain_lonely: bool = False,
) -> Estimate:
    """Ratio of two weighted totals ``sum w y / sum w x`` (overall or per domain).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    numerator, denominator : str or list of str
        Numeric columns ``y`` and ``x``. Lists give every numerator / denominator pair at once,
        with their joint covariance (R ``svyratio(~y1 + y2, ~x1 + x2, covmat = TRUE)``); rows run
        denominator first, then numerator, then domain, and ``labels`` gains ``numerator`` and
        ``denominator`` columns.
    {params}

    Returns
    -------
    Estimate

    Notes
    -----
    ``R_d = Y_d / X_d``; linearised variable ``w_i 1_d(i) (y_i - R_d x_i) / X_d`` (R ``svyratio``).

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., ch. 6. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, ratio
    >>> df = pd.DataFrame({"y": [2.0, 4, 6], "x": [1.0, 2, 4]})
    >>> round(float(ratio(SurveyDesign(df), "y", "x").estimate[0]), 6)
    1.714286
    """
    lonely_psu, raking_variance, deff, level = _options(lonely_psu, raking_variance, deff, confidence_level)
    df_option = _check_degrees_of_freedom(degrees_of_freedom)
    several = isinstance(numerator, list) or isinstance(denominator, list)
    numerators = list(numerator) if isinstance(numerator, list) else [numerator]
    denominators = list(denominator) if isinstance(denominator, list) else [denominator]
    if not numerators or not denominators:
        fail(ValidationError, "numerator", "needs at least one numerator and one denominator",
             bad=[numerator, denominator])
    prep = _prepare(design, list(dict.fromkeys(numerators + denominators)), by, nan_policy)
    k = len(prep.labels)
    pairs = [(y, x) for x in denominators for y in numerators]  # R's order: as.vector(ratio)
    cores = [_core(prep.domain, k, prep.columns[y], prep.columns[x]) for y, x in pairs]
    core = cores[0] if len(cores) == 1 else _stack(cores)
    labels = prep.labels
    if several:
        labels = pd.concat([prep.labels] * len(pairs), ignore_index=True)
        labels.insert(0, "denominator", np.repeat(np.asarray([str(x) for _, x in pairs], dtype=object), k))
        labels.insert(0, "numerator", np.repeat(np.asarray([str(y) for y, _ in pairs], dtype=object), k))
    den = core.column_sums(core.b * prep.weights[core.rows])  # type: ignore[operator]
    if (den == 0).any():
        fail(
            DesignError,
            "denominator",
            "the weighted denominator total is zero in some domains",
            bad=[_label_text(labels.iloc[i]) for i in np.flatnonzero(den == 0)],
        )
    variable = ", ".join(f"{y}/{x}" for y, x in pairs)
    est, _ = _estimate_core(
        prep, core, statistic="ratio", variable=variable, labels=labels,
        lonely_psu=lonely_psu, raking_variance=raking_variance, deff=deff, confidence_level=level,
        degrees_of_freedom=df_option, adjust_domain_lonely=adjust_domain_lonely,
    )
    return est


# -- quantiles ----------------------------------------------------------------------------------------
def _weighted_quantile(sorted_y: np.ndarray, cum_weight: np.ndarray, p: float) -> float:
    """R ``qrule_math``: the smallest ``y`` whose cumulative weight share reaches ``p``.

    ``pos`` = last sorted value with cumulative weight ``<= p * W``; return it when
    ``p - cum/W == 0`` exactly, else the next value (R's arithmetic: cumulative sums accumulated in
    extended precision, as R's ``cumsum``/``sum``). ``p`` is clipped to [0, 1].
    """
    p = min(max(p, 0.0), 1.0)
    total_weight = cum_weight[-1]
    pos = int(np.searchsorted(cum_weight, p * total_weight, side="right")) - 1
    if pos < 0:
        return float(sorted_y[0])
    if p - cum_weight[pos] / total_weight == 0:
        return float(sorted_y[pos])
    return float(sorted_y[min(pos + 1, len(sorted_y) - 1)])


def quantile(
    design: SurveyDesign | ReplicateDesign,
    y: Hashable,
    quantiles: float | Sequence[float] = 0.5,
    *,
    by: ColumnSpec = None,
    nan_policy: NanPolicy = "raise",
    lonely_psu: LonelyPsu = "raise",
    raking_variance: RakingVariance = "greg",
    deff: DeffKind = "auto",
    confidence_level: float = 0.95,
    degrees_of_freedom: DegreesOfFreedom | float = "domain",
    adjust_domain_lonely: bool = False,
    rule: QuantileRule = "math",
    interval_type: Literal["mean", "beta", "xlogit", "asin", "score", "quantile"] = "mean",
    clip_limits: bool = True,
) -> Estimate:
    """Weighted quantiles of ``y`` with Woodruff confidence intervals and standard errors.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str
        Numeric outcome column.
    quantiles : float or sequence of float
        Probabilities in (0, 1).
    {params}
    rule : {"math", "school", "shahvaish", "hf1", ..., "hf9"}
        R ``svyquantile``'s ``qrule``: ``"math"`` (default, the smallest ``y`` with ``F(y) >= p``;
        R's ``"math"`` code returns the second smallest value when ``p`` is below the smallest
        value's weight share, and ``"hf1"`` reproduces that code exactly),
        ``"school"`` (the average of the two values when ``F(y) = p`` exactly), Shah and Vaish's
        rule, or the weighted versions of Hyndman and Fan's types 1 to 9 (``hf7`` as R defines it).
        The interval ends are mapped back with the same rule.
    interval_type : {"mean", "beta", "xlogit", "asin"}
        Scale of the Woodruff interval for ``F(q_p)`` (R ``interval.type``): symmetric on the
        probability (default), Korn-Graubard's beta, logit or arcsine square root scale, as
        :func:`estimators.proportion_interval`; or ``"score"``: Francisco and Fuller's test
        inversion, the values where the design-based score test of ``P(Y > theta) = 1 - p``
        crosses the t quantile (found with R ``uniroot``'s iterations, then mapped back as R
        does, through the unweighted share of values below them). Replicate designs also take
        ``"quantile"``: the
        replicate variance of the quantiles recomputed with each replicate's weights, and the
        interval ``q -/+ t SE`` (R ``interval.type = "quantile"``).
    clip_limits : bool
        A Woodruff probability limit outside [0, 1] is clipped to it (default: the interval ends
        at the smallest or largest value) or, with ``False``, gives a NaN limit and SE, as R.

    Returns
    -------
    Estimate
        ``labels`` has a ``quantile`` column; the ``deff`` columns are those of the estimated
        proportion ``F(q)`` below the quantile.

    Notes
    -----
    ``q_p`` = the smallest ``y`` with weighted distribution ``F(y) >= p`` (R ``qrule="math"``).
    Woodruff (1952): estimate ``m = F(q_p)`` and its design-based SE (Taylor or replicate), take the
    interval ``m -/+ t_{{df}} SE`` on the probability scale and map its ends back through the weighted
    distribution; ``SE(q_p) = (upper - lower) / (2 t_{{df}})`` at the requested level, with ``df`` the
    design degrees of freedom (PSUs minus strata in the domain, or the rank of the replicate
    weights minus one), as R ``svyquantile(interval.type="mean")``.

    References
    ----------
    Woodruff, R. S. (1952). Confidence intervals for medians and other position measures.
    *JASA* 47, 635–646.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign, quantile
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]})
    >>> float(quantile(SurveyDesign(df), "y", 0.5).estimate[0])
    5.0
    """
    lonely_psu, raking_variance, deff, level = _options(lonely_psu, raking_variance, deff, confidence_level)
    rule = check_option(rule, ("math", *RULES), "rule")
    interval_type = check_option(
        interval_type, ("mean", "beta", "xlogit", "asin", "score", "quantile"), "interval_type"
    )
    probs = np.atleast_1d(np.asarray(quantiles, dtype=float))
    for p in probs:
        check_probability(p, "quantiles")
    df_option = _check_degrees_of_freedom(degrees_of_freedom)
    prep = _prepare(design, [y], by, nan_policy)
    k = len(prep.labels)
    yv = prep.columns[y]
    w = prep.weights
    # per domain: sorted positive-weight values and cumulative weight shares (full-sample weights)
    sorted_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    domain_rows = np.bincount(prep.domain[prep.domain >= 0], minlength=k).astype(float)
    for j in range(k):
        rows = np.flatnonzero((prep.domain == j) & (w > 0))
        order = np.argsort(yv[rows], kind="stable")
        ys = yv[rows][order]
        ws = w[rows][order]
        cw = np.cumsum(ws.astype(np.longdouble)).astype(float)
        sorted_parts.append((ys, ws, cw))
    if rule == "math":
        def rule_value(part: tuple[np.ndarray, np.ndarray, np.ndarray], p: float) -> float:
            return _weighted_quantile(part[0], part[2], p)
    else:
        chosen = RULES[rule]

        def rule_value(part: tuple[np.ndarray, np.ndarray, np.ndarray], p: float) -> float:
            return chosen(part[0], part[1], part[2], min(max(p, 0.0), 1.0))
    n_p = len(probs)
    qhat = np.array([rule_value(sorted_parts[j], p) for p in probs for j in range(k)])
    # F(qhat): mean of 1[y <= qhat] in the domain, column (p, domain)
    n = len(yv)
    inside = prep.domain >= 0
    blocks = []
    for i_p in range(n_p):
        q_row = qhat[i_p * k : (i_p + 1) * k]
        below = np.zeros(n)
        below[inside] = (yv[inside] <= q_row[prep.domain[inside]]).astype(float)
        blocks.append(_core(prep.domain, k, below, np.ones(n)))
    core = _stack(blocks)
    labels = pd.concat([prep.labels] * n_p, ignore_index=True)
    labels["quantile"] = np.repeat(probs, k)
    f_est, m_hat = _estimate_core(
        prep, core, statistic="quantile", variable=str(y), labels=labels, lonely_psu=lonely_psu,
        raking_variance=raking_variance, deff=deff, confidence_level=level,
        adjust_domain_lonely=adjust_domain_lonely,
    )
    df = np.tile(_domain_degrees_of_freedom(prep, df_option), n_p)
    se_m = f_est.std_error
    parts = [sorted_parts[j] for _ in range(n_p) for j in range(k)]

    if interval_type == "beta":
        source = prep.design if prep.replicate is None else prep.replicate
        beta_df = np.tile(source.domain_degrees_of_freedom(prep.domain, k), n_p)
        if prep.replicate is None and prep.design.weighting_steps:
            beta_rows = np.full(k * n_p, float(prep.design.n))
        else:
            beta_rows = np.tile(domain_rows, n_p)

    def probability_interval(lvl: float) -> tuple[np.ndarray, np.ndarray]:
        """Woodruff: the interval for F(q_p) on the chosen scale."""
        crit = _critical(lvl, df)
        m, se = m_hat, se_m
        with np.errstate(divide="ignore", invalid="ignore"):
            if interval_type == "mean":
                return m - crit * se, m + crit * se
            if interval_type == "xlogit":
                centre, half = np.log(m / (1 - m)), crit * se / (m * (1 - m))
                return 1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half)))
            if interval_type == "asin":
                centre, half = np.arcsin(np.sqrt(m)), crit * se / (2 * np.sqrt(m * (1 - m)))
                return np.sin(centre - half) ** 2, np.sin(centre + half) ** 2
            from scipy import stats  # the beta quantiles (only for this interval type)

            alpha = 1 - lvl
            ratio = stats.t.ppf(alpha / 2, beta_rows - 1) / stats.t.ppf(alpha / 2, beta_df)
            n_eff = m * (1 - m) / se**2 * ratio**2
            return (stats.beta.ppf(alpha / 2, n_eff * m, n_eff * (1 - m) + 1),
                    stats.beta.ppf(1 - alpha / 2, n_eff * m + 1, n_eff * (1 - m)))

    if interval_type == "quantile":
        if prep.replicate is None:
            fail(ValidationError, "interval_type",
                 "'quantile' needs a replicate design (replicate estimates of the quantile)",
                 bad=["quantile"], fix="Use a ReplicateDesign, or interval_type='mean'.")
        rep_design = prep.replicate
        weights_r = rep_design.replicate_weights()
        replicate_q = np.empty((k * n_p, rep_design.n_replicates))
        for j in range(k):
            rows = np.flatnonzero((prep.domain == j) & (w > 0))
            rows = rows[np.argsort(yv[rows], kind="stable")]
            for r in range(rep_design.n_replicates):
                wr = weights_r[rows, r]
                keep = wr > 0
                part = (yv[rows][keep], wr[keep],
                        np.cumsum(wr[keep].astype(np.longdouble)).astype(float))
                for i_p, p in enumerate(probs):
                    replicate_q[i_p * k + j, r] = rule_value(part, p)
        if rep_design.mse:
            centre = qhat[:, None]
        else:
            centre = replicate_q[:, rep_design.rscales > 0].mean(axis=1, keepdims=True)
        se_direct = np.sqrt(rep_design.scale * ((replicate_q - centre) ** 2) @ rep_design.rscales)

    def score_interval(lvl: float) -> tuple[np.ndarray, np.ndarray]:
        """R ``ffullerCI``: invert the score test of the domain's indicator ``y > theta``."""
        lows, highs = np.empty(k * n_p), np.empty(k * n_p)
        ones = np.ones(len(yv))
        for j in range(k):
            member = prep.domain == j
            x = yv[member]
            only = np.where(member, 0, -1)
            iqr = float(np.subtract(*np.percentile(x, [75, 25])))
            lower_t, upper_t = x.min() + iqr / 100, x.max() - iqr / 100
            tol = 1 / (100 * np.sqrt(member.sum()))
            for i_p, p in enumerate(probs):
                crit = float(_critical(lvl, df[i_p * k + j]))

                def score(theta: float, limit: float, p: float = p, member: np.ndarray = member,
                          only: np.ndarray = only) -> float:
                    values = np.where(member, (yv > theta) - (1 - p), 0.0)
                    e, _ = _estimate_core(
                        prep, _core(only, 1, values, ones), statistic="mean", variable="u",
                        labels=pd.DataFrame(index=range(1)), lonely_psu=lonely_psu,
                        raking_variance=raking_variance, deff="with_replacement",
                        confidence_level=level,
                    )
                    return float(e.estimate[0] / e.std_error[0] - limit)

                q_low = zeroin(lambda t, c=crit: score(t, c), lower_t, upper_t, tol)
                q_up = zeroin(lambda t, c=crit: score(t, -c), lower_t, upper_t, tol)
                part = sorted_parts[j]
                lows[i_p * k + j] = rule_value(part, float(np.mean(x <= q_low)))
                highs[i_p * k + j] = rule_value(part, float(np.mean(x <= q_up)))
        return lows, highs

    def interval(lvl: float) -> tuple[np.ndarray, np.ndarray]:
        if interval_type == "score":
            return score_interval(lvl)
        if interval_type == "quantile":
            crit = _critical(lvl, df)
            return qhat - crit * se_direct, qhat + crit * se_direct
        p_lo, p_hi = probability_interval(lvl)
        bad_lo, bad_hi = np.isnan(p_lo) | (p_lo < 0), np.isnan(p_hi) | (p_hi > 1)
        p_lo = np.where(np.isnan(p_lo), 0.0, p_lo)
        p_hi = np.where(np.isnan(p_hi), 1.0, p_hi)
        lo = np.array([rule_value(parts[i], p_lo[i]) for i in range(len(parts))])
        hi = np.array([rule_value(parts[i], p_hi[i]) for i in range(len(parts))])
        if not clip_limits:  # R: a limit outside [0, 1] is NaN
            lo = np.where(bad_lo, np.nan, lo)
            hi = np.where(bad_hi, np.nan, hi)
        return lo, hi

    lo, hi = interval(level)
    se_q = (hi - lo) / (2 * _critical(level, df))
    return Estimate(
        statistic="quantile",
        variable=str(y),
        labels=labels,
        estimate=qhat,
        std_error=se_q,
        deff=f_est.deff,
        deff_without_replacement=f_est.deff_without_replacement,
        deff_with_replacement=f_est.deff_with_replacement,
        deff_kind=f_est.deff_kind,
        kish_deff=f_est.kish_deff,
        effective_sample_size=f_est.effective_sample_size,
        n=f_est.n,
        covariance=np.diag(se_q**2),
        variance_method=f_est.variance_method,
        degrees_of_freedom=df,
        confidence_level=level,
        _interval=interval,
    )


for _fn in (mean, total, proportion, ratio, quantile):
    _fn.__doc__ = _fn.__doc__.replace("{params}", _PARAMS_DOC.strip("\n").lstrip()).replace(
        "{{", "{"
    ).replace("}}", "}")
del _fn
