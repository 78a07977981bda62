"""``SurveyDesign``: the data together with how it was sampled and weighted."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import (
    as_float_array,
    as_frame,
    as_weights,
    check_columns,
    check_option,
    check_positive,
    fail,
)
from estimators.errors import DesignError, ValidationError
from estimators.survey import _estimation, _replicates
from estimators.survey._linearization import (
    LaterStage,
    later_stage_covariance,
    psu_strata,
    psu_totals,
    residualize,
    stratified_covariance,
    stratified_variances,
    within_cluster_residuals,
)
from estimators.survey._protocol import TaylorDesign
from estimators.survey._weighting_steps import WeightingStep

__all__ = ["SurveyDesign"]

ColumnSpec = Hashable | Sequence[Hashable] | None
PpsMethod = Literal["brewer", "overton", "hartley_rao", "joint_probabilities"]
_PPS: tuple[PpsMethod, ...] = ("brewer", "overton", "hartley_rao", "joint_probabilities")
# R ppsmat's default: entries of the Delta-check matrix below this are set to 0
_JOINT_TOLERANCE = 1e-4
# the PPS variance with joint probabilities builds a PSU x PSU matrix
_PPS_MAX_PSU = 10_000

# Largest rows x domains matrix of calibration residuals built for a Taylor variance (2 GB).
_DENSE_RESIDUAL_MAX = 250_000_000


def _as_columns(spec: ColumnSpec) -> list[Hashable]:
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return list(spec)
    return [spec]


def _split_stages(
    psu: Any, fpc: Any, ssu: ColumnSpec, ssu_fpc: Any, stage_strata: Any
) -> tuple[Any, Any, list[tuple[int, str, Any, Any, Any]]]:
    """The first stage's ``psu`` and ``fpc``, and (number, parameter, units, fpc, strata) of each
    later stage, from ``psu``/``fpc`` given per stage or from ``ssu``/``ssu_fpc``."""
    if isinstance(psu, (list, tuple)) and len(psu) > 1:
        if ssu is not None or ssu_fpc is not None:
            fail(DesignError, "ssu", "cannot be combined with psu given per stage",
                 bad=[ssu if ssu is not None else ssu_fpc],
                 fix="Name every stage in psu=[...] and their fpc in fpc=[...].")
        units, name = list(psu), "psu"
        if isinstance(fpc, (list, tuple)):
            if len(fpc) != len(units):
                fail(DesignError, "fpc",
                     f"must have one entry per stage ({len(units)}) when psu names the stages",
                     bad=[f"{len(fpc)} entries"],
                     fix="Give fpc=[...] one column, number or None per stage of psu.")
            fpcs = list(fpc)
        else:
            fpcs = [fpc] + [None] * (len(units) - 1)
    else:
        if isinstance(psu, (list, tuple)):
            psu = psu[0] if psu else None
        if ssu is None:
            if ssu_fpc is not None:
                fail(DesignError, "ssu_fpc", "needs ssu (the second-stage units)", bad=[ssu_fpc],
                     fix="Pass ssu='column of second-stage unit labels'.")
            if stage_strata is not None:
                fail(DesignError, "stage_strata", "needs later stages (psu=[...] or ssu=)",
                     bad=[stage_strata], fix="Name the stages' units in psu=[...].")
            return psu, fpc, []
        units, fpcs, name = [psu, ssu], [fpc, ssu_fpc], "ssu"
    strata = list(stage_strata) if isinstance(stage_strata, (list, tuple)) else [stage_strata]
    if len(strata) > len(units) - 1:
        fail(DesignError, "stage_strata",
             f"has one entry per stage after the first ({len(units) - 1})",
             bad=[f"{len(strata)} entries"], fix="Give one column or None per later stage.")
    strata += [None] * (len(units) - 1 - len(strata))
    later = [(i + 2, name, units[i + 1], fpcs[i + 1], strata[i]) for i in range(len(units) - 1)]
    return units[0], fpcs[0], later


def _codes(frame: pd.DataFrame, columns: list[Hashable], parameter: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (0..k-1) for the joint levels of ``columns``; NA is an error."""
    sub = frame[columns]
    na = sub.isna().any(axis=1).to_numpy()
    if na.any():
        fail(
            ValidationError,
            parameter,
            f"design columns must not contain missing values; {int(na.sum())} rows do",
            bad=list(frame.index[na]),
            fix="Fill or remove those rows explicitly before building the design.",
        )
    if len(columns) == 1:
        codes, labels = pd.factorize(sub.iloc[:, 0], sort=True)
        return codes.astype(np.int64), pd.Index(labels)
    idx = pd.MultiIndex.from_frame(sub)
    codes, labels = pd.factorize(idx, sort=True)
    return codes.astype(np.int64), pd.Index(labels)


# The label of the single stratum of an unstratified design (an Index is immutable: shared).
_ONE_STRATUM = pd.Index(["all"], dtype=object)

class SurveyDesign(TaylorDesign):
    """A sample with its design: weights, strata, clusters (PSUs) and finite-population corrections.

    Parameters
    ----------
    data : DataFrame
        One row per observation (e.g. one rating). Never copied, mutated or reordered; its index
        labels must be unique because weights are aligned to them.
    weights : str, array-like, Series or None
        Design (base) weights: a column name, values aligned to the rows, or ``None``: then the
        weights implied by ``fpc`` (``N_h / n_h``, the inverse first-stage sampling fraction, times
        ``N / n`` of every later stage with an fpc, as R ``svydesign`` without ``weights``), or 1
        without ``fpc``.
    strata : str or list of str, optional
        Column(s) whose joint levels are the strata.
    psu : str or list, optional
        Column identifying primary sampling units (clusters), e.g. the participant id when one
        person gives many ratings. PSU labels are taken as nested within strata. A list names
        the units of every stage, first stage first (R ``svydesign(id = ~psu + ssu + tsu)``),
        e.g. ``["district", "school", "class"]``; each stage's labels are taken as nested in the
        units of the stage above (a tuple entry: the joint levels of several columns).
    fpc : str, float or list, optional
        Finite-population correction at the first stage: either the population size (values > 1:
        number of PSUs in the stratum, or of units when there is no PSU) or the sampling fraction
        (values in (0, 1]), as in R ``survey::svydesign``. Must be constant within a stratum.
        With ``psu`` given per stage: a list with one entry per stage (column, number or
        ``None``), each the population size of, or the fraction sampled in, the stratum of that
        stage (constant within it); ``inf`` at a later stage: sampled with replacement there
        (its variance without correction, none from the stages below, as R's ``Inf``). The variance stops at the first stage without one (the
        units of the stage above it are then the ultimate clusters).
    pps : {"brewer", "overton", "hartley_rao", "joint_probabilities"}, optional
        PSUs drawn with probability proportional to size without replacement, ``fpc`` holding
        each PSU's inclusion probability ``pi_i`` (weights ``1 / pi`` when none are given), with
        the variance of R ``svydesign(pps = ...)``: Brewer's approximation (``"brewer"``),
        Overton's or Hartley and Rao's approximations to the joint probabilities, or the
        Horvitz-Thompson variance with your ``joint_probabilities`` (R ``ppsmat``; entries of
        ``(pi_ij - pi_i pi_j) / pi_ij`` below 1e-4 in absolute value are set to 0, as R).
    joint_probabilities : 2-D array, optional
        ``pi_ij`` of the PSUs, in the order they first appear in the data.
    pps_variance : {"horvitz_thompson", "yates_grundy"}
        Form of the variance for ``overton``, ``hartley_rao`` and ``joint_probabilities`` (R
        ``variance = "HT"`` or ``"YG"``).
    hartley_rao_sum : float, optional
        Hartley and Rao's ``sum pi^2 / n`` term (R ``HR(psum)``); default: each stratum's mean
        inclusion probability, as R ``HR()``.
    ssu : str or list of str, optional
        Second-stage units sampled within each PSU (e.g. schools within districts), nested in
        the PSUs: R ``svydesign(id = ~psu + ssu)``.
    ssu_fpc : str or float, optional
        Second-stage finite-population correction: the number of second-stage units in the PSU's
        population (values > 1) or the fraction sampled, constant within a PSU (R's second
        ``fpc`` term). With ``fpc`` and ``ssu_fpc`` the variance adds the second stage (R's
        default multistage variance) and, without ``weights``, the weights are
        ``N_h / n_h * M_i / m_i``. The same as ``psu=[psu, ssu]``, ``fpc=[fpc, ssu_fpc]``.
    stage_strata : str or list, optional
        Strata of the later stages, within the units of the stage above (R's later ``strata``
        terms, ``svydesign(strata = ~s1 + s2)``): one column (or ``None``) per stage after the
        first, a string for the second stage. Without: one stratum per unit of the stage above.

    Notes
    -----
    The variance estimators treat PSUs as drawn with replacement within strata (the usual
    ultimate-cluster approximation), with the first-stage fpc ``1 - n_h / N_h`` when given. With
    later stages and their fpcs they use R's default multistage variance (``svyrecvar``): stage
    ``s`` adds, over the units ``g`` of stage ``s - 1`` and the strata ``k`` of stage ``s`` in them,

    ``F_g (1 - n_k / N_k) n_k / (n_k - 1) sum_j (t_kj - tbar_k)^2``

    with ``t_kj`` the totals of the ``n_k`` sampled units of stratum ``k`` (of ``N_k``) and
    ``F_g`` the product of the sampling fractions ``n / N`` of ``g`` and its ancestors: for two
    stages, ``sum_i (n_h / N_h) (1 - m_i / M_i) m_i / (m_i - 1) sum_j (t_ij - tbar_i)^2`` over
    PSUs ``i`` and their second-stage unit totals ``t_ij``. Lonely units of later stages follow
    ``lonely_psu`` as R's ``survey.lonely.psu`` does there (``"average"`` gives NaN, as R, when
    a unit holds only lonely strata).

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> from estimators import SurveyDesign
    >>> df = pd.DataFrame({"rating": [3, 4, 5, 2], "user": [1, 1, 2, 3], "w": [1.0, 1.0, 2.0, 1.5]})
    >>> d = SurveyDesign(df, weights="w", psu="user")
    >>> d.n_psu
    3

    Three stages (districts, schools, pupils) with each stage's population size:

    >>> pupils = pd.DataFrame({"district": [1, 1, 1, 1, 2, 2, 2, 2],
    ...                        "school": [1, 1, 2, 2, 1, 1, 2, 2], "pupil": [1, 2] * 4,
    ...                        "N1": 10, "N2": 5, "N3": 30,
    ...                        "y": [3.0, 4, 6, 5, 2, 3, 4, 8]})
    >>> d3 = SurveyDesign(pupils, psu=["district", "school", "pupil"], fpc=["N1", "N2", "N3"])
    >>> float(d3.weight_array[0])  # 10/2 * 5/2 * 30/2
    187.5
    >>> round(float(d3.total("y").std_error[0]), 4)  # R: 593.4802
    593.4802
    """

    __slots__ = (
        "_data",
        "_fpc",
        "_pps",
        "_pps_probability",
        "_psu_codes",
        "_psu_columns",
        "_stages",
        "_steps",
        "_strata_codes",
        "_strata_columns",
        "_strata_labels",
        "_weights",
    )

    def __init__(
        self,
        data: pd.DataFrame,
        weights: Any = None,
        strata: ColumnSpec = None,
        psu: ColumnSpec = None,
        fpc: Any = None,
        *,
        ssu: ColumnSpec = None,
        ssu_fpc: Any = None,
        stage_strata: Any = None,
        pps: PpsMethod | None = None,
        joint_probabilities: Any = None,
        pps_variance: Literal["horvitz_thompson", "yates_grundy"] = "horvitz_thompson",
        hartley_rao_sum: float | None = None,
    ) -> None:
        frame = as_frame(data, "data")
        self._data = frame
        self._weights = as_weights(weights, frame, "weights")
        self._weights.setflags(write=False)
        self._strata_columns = check_columns(frame, _as_columns(strata), "strata")
        psu, fpc, later = _split_stages(psu, fpc, ssu, ssu_fpc, stage_strata)
        self._psu_columns = check_columns(frame, _as_columns(psu), "psu")
        n = len(frame)
        if self._strata_columns:
            self._strata_codes, self._strata_labels = _codes(frame, self._strata_columns, "strata")
        else:
            self._strata_codes, self._strata_labels = np.zeros(n, dtype=np.int64), _ONE_STRATUM
        if self._psu_columns:
            # PSUs are nested in strata: the same PSU label in two strata is two PSUs.
            psu_raw, _ = _codes(frame, self._psu_columns, "psu")
            joint = self._strata_codes * (int(psu_raw.max(initial=-1)) + 1) + psu_raw
            self._psu_codes = pd.factorize(joint, sort=True)[0].astype(np.int64)
        else:
            self._psu_codes = np.arange(n, dtype=np.int64)
        self._pps_probability: np.ndarray | None = None
        self._pps: tuple[str, Any, str] | None = None
        if pps is not None:
            pps = check_option(pps, _PPS, "pps")
            self._pps_probability = self._resolve_pps(fpc)
            fpc = None
            self._pps = (pps, self._pps_matrix_input(pps, joint_probabilities, hartley_rao_sum),
                         check_option(pps_variance, ("horvitz_thompson", "yates_grundy"),
                                      "pps_variance"))
        self._fpc = self._resolve_fpc(fpc)
        self._stages = self._resolve_stages(later)
        if self._pps is not None and any(st.population is not None for st in self._stages):
            fail(DesignError, "pps", "supports finite-population corrections at the first stage "
                 "only", bad=[pps], fix="Leave out the fpc of the later stages.")
        if weights is None and self._pps_probability is not None:
            implied = 1.0 / self._pps_probability
            implied.setflags(write=False)
            self._weights = implied
        if weights is None and self._fpc is not None:
            # R svydesign: without weights, the sampling probabilities come from the fpc
            implied = self._fpc / self._psu_per_stratum()[self._strata_codes]
            for stage in self._fpc_stages():  # later stages: times N / n of each
                if np.isinf(stage.population).any():
                    fail(DesignError, "weights", f"cannot be implied by an infinite fpc at stage "
                         f"{stage.number}", bad=[None],
                         fix="Pass weights= (as R, which cannot compute them either).")
                per_unit = (stage.population / stage.sample_sizes)[stage.strata_of_unit]
                implied = implied * per_unit[stage.units]
            implied.setflags(write=False)
            self._weights = implied
        self._steps: tuple[WeightingStep, ...] = ()

    def _resolve_pps(self, fpc: Any) -> np.ndarray:
        """Per-row inclusion probability of the row's PSU (PPS without replacement)."""
        if fpc is None:
            fail(DesignError, "fpc", "pps='brewer' needs the PSUs' inclusion probabilities as fpc",
                 bad=[None], fix="Pass fpc='column of inclusion probabilities in (0, 1]'.")
        if isinstance(fpc, str):
            check_columns(self._data, [fpc], "fpc")
            values = as_float_array(self._data[fpc].to_numpy(), "fpc", positive=True)
        else:
            values = as_float_array(np.broadcast_to(np.asarray(fpc, dtype=float), (self.n,)),
                                    "fpc", positive=True)
        if (values > 1).any():
            fail(DesignError, "fpc", "with pps='brewer' must be inclusion probabilities in (0, 1]",
                 bad=list(np.unique(values[values > 1])),
                 fix="Divide the sample size by the population size, or n * size / total size.")
        lo = np.full(self.n_psu, np.inf)
        hi = np.full(self.n_psu, -np.inf)
        np.minimum.at(lo, self._psu_codes, values)
        np.maximum.at(hi, self._psu_codes, values)
        if (hi > lo).any():
            fail(DesignError, "fpc", "with pps='brewer' must be constant within each PSU",
                 bad=[f"PSU {int(i)}" for i in np.flatnonzero(hi > lo)])
        return values

    def _pps_matrix_input(self, pps: str, joint: Any, hartley_rao_sum: Any) -> Any:
        """The joint inclusion probabilities (PSU x PSU) or Hartley-Rao's sum, checked."""
        if pps == "joint_probabilities":
            if joint is None:
                fail(DesignError, "joint_probabilities", "pps='joint_probabilities' needs the "
                     "matrix of joint inclusion probabilities of the PSUs", bad=[None])
            matrix = as_float_array(joint, "joint_probabilities", ndim=2, nonnegative=True)
            if matrix.shape != (self.n_psu, self.n_psu):
                fail(DesignError, "joint_probabilities",
                     f"must be a square matrix with one row per PSU ({self.n_psu})",
                     bad=[f"shape {matrix.shape}"])
            # rows in order of the PSUs' first appearance in the data, as R's ppsmat
            first = np.unique(self._psu_codes, return_index=True)[1]
            order = np.argsort(first, kind="stable")  # code -> rank of appearance
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            return matrix[np.ix_(rank, rank)]
        if pps == "hartley_rao" and hartley_rao_sum is not None:
            return check_positive(hartley_rao_sum, "hartley_rao_sum")
        return None

    def _pps_check_matrix(self, strata_of_psu: np.ndarray) -> np.ndarray:
        """R's "Delta check" matrix of the PPS variance (PSU x PSU)."""
        assert self._pps is not None and self._pps_probability is not None
        method, extra, _ = self._pps
        pi = np.zeros(self.n_psu)
        pi[self._psu_codes] = self._pps_probability
        if method == "joint_probabilities":
            joint = extra
            with np.errstate(divide="ignore", invalid="ignore"):
                check = (joint - np.outer(np.diag(joint), np.diag(joint))) / joint
            check[~np.isfinite(check)] = 0.0
            check[np.abs(check) < _JOINT_TOLERANCE] = 0.0
            return check
        same = strata_of_psu[:, None] == strata_of_psu[None, :]
        n_h = np.bincount(strata_of_psu).astype(float)[strata_of_psu][:, None]
        if method == "overton":
            fbar = (pi[:, None] + pi[None, :]) / 2
            with np.errstate(divide="ignore", invalid="ignore"):
                check = 1 - (n_h - fbar) / (n_h - 1)
        else:
            fbar = pi[:, None] + pi[None, :]
            if extra is None:  # R HR(): the stratum mean of the probabilities
                mean_pi = np.bincount(strata_of_psu, weights=pi) / np.bincount(strata_of_psu)
                p2bar = mean_pi[strata_of_psu][:, None]
            else:
                p2bar = float(extra)
            with np.errstate(divide="ignore", invalid="ignore"):
                check = 1 - (n_h - fbar + p2bar) / (n_h - 1)
        check[~same | (fbar == 1)] = 0.0
        np.fill_diagonal(check, 1 - pi)
        return check

    def _pps_covariance(self, totals: np.ndarray, strata_of_psu: np.ndarray) -> np.ndarray:
        """Horvitz-Thompson (or Yates-Grundy) covariance of PSU totals, R ``ppsvar``."""
        assert self._pps is not None
        if self.n_psu > _PPS_MAX_PSU:
            fail(DesignError, "pps", f"needs a {self.n_psu} x {self.n_psu} matrix of joint "
                 "probabilities, too large", bad=[self.n_psu],
                 fix=f"Use pps='brewer' (no matrix) for more than {_PPS_MAX_PSU} PSUs.")
        check = self._pps_check_matrix(strata_of_psu)
        cov = totals.T @ check @ totals
        if self._pps[2] == "yates_grundy":
            cov = cov - totals.T @ (check.sum(axis=0)[:, None] * totals)
        return cov

    def _fpc_stages(self) -> tuple[LaterStage, ...]:
        """The later stages that enter the variance and the implied weights: those up to the
        first without a finite-population correction (none without a first-stage fpc)."""
        if self._fpc is None:
            return ()
        out = []
        for stage in self._stages:
            if stage.population is None:
                break
            out.append(stage)
        return tuple(out)

    def _resolve_stages(
        self, later: list[tuple[int, str, Any, Any, Any]]
    ) -> tuple[LaterStage, ...]:
        """Units, strata and population sizes of the stages after the first, nested in the
        units of the stage above (R ``svydesign(id = ~psu + ssu + ...)``)."""
        parent = self._psu_codes
        stages: list[LaterStage] = []
        for number, name, spec, fpc, strata in later:
            columns = check_columns(self._data, _as_columns(spec), name)
            if not columns:
                fail(DesignError, name, f"stage {number} needs the column of its unit labels",
                     bad=[spec], fix="Name one column (or a tuple of columns) per stage.")
            if not self._psu_columns:
                fail(DesignError, name, "needs psu (later-stage units are sampled within PSUs)",
                     bad=columns)
            raw, _ = _codes(self._data, columns, name)
            units = pd.factorize(parent * (int(raw.max(initial=-1)) + 1) + raw,
                                 sort=True)[0].astype(np.int64)
            if strata is None:
                row_strata = parent  # one stratum per unit of the stage above
            else:
                raw_strata, _ = _codes(
                    self._data, check_columns(self._data, _as_columns(strata), "stage_strata"),
                    "stage_strata")
                row_strata = pd.factorize(parent * (int(raw_strata.max(initial=-1)) + 1)
                                          + raw_strata, sort=True)[0].astype(np.int64)
            n_units = int(units.max(initial=-1)) + 1
            strata_of_unit = np.zeros(n_units, dtype=np.int64)
            strata_of_unit[units] = row_strata
            split = np.flatnonzero(strata_of_unit[units] != row_strata)
            if split.size:
                fail(DesignError, "stage_strata",
                     f"each unit of stage {number} must lie in a single stratum",
                     bad=list(self._data.index[split]),
                     fix="Give strata that are constant within each unit of the stage.")
            n_strata = int(row_strata.max(initial=-1)) + 1
            parent_of_stratum = np.zeros(n_strata, dtype=np.int64)
            parent_of_stratum[row_strata] = parent
            stage = LaterStage(number, units, strata_of_unit, parent_of_stratum, None)
            if fpc is not None:
                population = self._stage_population(
                    fpc, row_strata, stage.sample_sizes, "fpc" if name == "psu" else "ssu_fpc",
                    number)
                stage = LaterStage(number, units, strata_of_unit, parent_of_stratum, population)
            stages.append(stage)
            parent = units
        return tuple(stages)

    def _stage_population(
        self, fpc: Any, row_strata: np.ndarray, sampled: np.ndarray, name: str, number: int
    ) -> np.ndarray:
        """Population size of each stratum of a later stage from a column, number or array of
        population sizes (> 1; ``inf``: sampled with replacement) or sampling fractions."""
        if isinstance(fpc, str):
            check_columns(self._data, [fpc], name)
            fpc = self._data[fpc].to_numpy()
        if np.ndim(fpc) == 0:
            fpc = np.full(len(self._data), fpc)
        values = as_float_array(fpc, name, length=len(self._data), positive=True, finite=False)
        if np.isnan(values).any():
            fail(ValidationError, name, "must not contain missing values",
                 bad=list(self._data.index[np.isnan(values)]),
                 fix="Give every row its stage's population size or sampling fraction.")
        lo = np.full(sampled.size, np.inf)
        hi = np.full(sampled.size, -np.inf)
        np.minimum.at(lo, row_strata, values)
        np.maximum.at(hi, row_strata, values)
        varying = np.flatnonzero(hi > lo)
        if varying.size:
            fail(DesignError, name,
                 f"must be constant within each stratum of stage {number} (each unit of stage "
                 f"{number - 1} without stage_strata)",
                 bad=[f"stage {number} stratum {int(i)}" for i in varying],
                 fix="Give one population size (or sampling fraction) per stratum of the stage.")
        fraction = lo <= 1.0
        population = np.where(fraction, sampled / np.where(fraction, lo, 1.0), lo)
        small = np.flatnonzero(population < sampled - 1e-9)
        if small.size:
            fail(DesignError, name,
                 f"population size is smaller than the number of sampled units at stage {number}",
                 bad=[f"stage {number} stratum {int(i)}" for i in small],
                 fix="Give the number of units in the stratum's population or a fraction in "
                 "(0, 1].")
        return population

    def _psu_per_stratum(self) -> np.ndarray:
        """Number of sampled PSUs in each stratum (float)."""
        first = np.unique(self._psu_codes, return_index=True)[1]
        return np.bincount(self._strata_codes[first], minlength=len(self._strata_labels)).astype(float)

    def _resolve_fpc(self, fpc: Any) -> np.ndarray | None:
        """Per-row population size of the first stage (inf = no correction), or None."""
        if fpc is None:
            return None
        if isinstance(fpc, str):
            check_columns(self._data, [fpc], "fpc")
            values = as_float_array(self._data[fpc].to_numpy(), "fpc", positive=True)
        elif np.ndim(fpc) == 0:
            values = np.full(len(self._data), check_positive(fpc, "fpc"))
        else:
            values = as_float_array(fpc, "fpc", length=len(self._data), positive=True)
        n_strata = len(self._strata_labels)
        lo = np.full(n_strata, np.inf)
        hi = np.full(n_strata, -np.inf)
        np.minimum.at(lo, self._strata_codes, values)
        np.maximum.at(hi, self._strata_codes, values)
        varying = np.flatnonzero(hi > lo)
        if varying.size:
            fail(
                DesignError,
                "fpc",
                "must be constant within each stratum",
                bad=[self._strata_labels[i] for i in varying],
                fix="Give one population size (or sampling fraction) per stratum.",
            )
        n_psu = self._psu_per_stratum()
        per_stratum = lo
        fraction = per_stratum <= 1.0
        population = np.where(fraction, n_psu / np.where(fraction, per_stratum, 1.0), per_stratum)
        too_small = np.flatnonzero(population < n_psu - 1e-9)
        if too_small.size:
            fail(
                DesignError,
                "fpc",
                "population size is smaller than the number of sampled units in some strata",
                bad=[self._strata_labels[i] for i in too_small],
                fix="fpc must be the population size (>= sampled PSUs) or a fraction in (0, 1].",
            )
        return population[self._strata_codes]

    # -- construction of derived designs -------------------------------------------------------
    def with_weights(self, weights: np.ndarray, step: WeightingStep | None = None) -> SurveyDesign:
        """A new design with the same data and structure, new weights, and ``step`` recorded."""
        new = object.__new__(SurveyDesign)
        for name in SurveyDesign.__slots__:
            setattr(new, name, getattr(self, name))
        w = as_float_array(weights, "weights", length=len(self._data), nonnegative=True, copy=True)
        w.setflags(write=False)
        new._weights = w
        new._steps = (*self._steps, step) if step is not None else self._steps
        return new

    # -- read-only views ----------------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        """The data frame (the caller's object; never mutated)."""
        return self._data

    @property
    def weights(self) -> pd.Series:
        """Current weights as a Series aligned to ``data.index``."""
        return pd.Series(self._weights, index=self._data.index, name="weight", copy=False)

    @property
    def weight_array(self) -> np.ndarray:
        """Current weights as a read-only float64 array."""
        return self._weights

    @property
    def strata_codes(self) -> np.ndarray:
        """Stratum code (0..H-1) of each row."""
        return self._strata_codes

    @property
    def strata_labels(self) -> pd.Index:
        """Stratum labels in code order."""
        return self._strata_labels

    @property
    def strata_columns(self) -> list[Hashable]:
        return list(self._strata_columns)

    @property
    def psu_codes(self) -> np.ndarray:
        """PSU code (0..K-1, nested in strata) of each row; each row is its own PSU without ``psu``."""
        return self._psu_codes

    @property
    def psu_columns(self) -> list[Hashable]:
        return list(self._psu_columns)

    @property
    def fpc_population(self) -> np.ndarray | None:
        """First-stage population size per row (PSUs in its stratum), or None without fpc."""
        return self._fpc

    @property
    def weighting_steps(self) -> tuple[WeightingStep, ...]:
        """The weighting operations that produced the current weights, oldest first."""
        return self._steps

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self._data)

    @property
    def n_psu(self) -> int:
        """Number of PSUs (clusters)."""
        return int(self._psu_codes.max(initial=-1)) + 1

    @property
    def n_strata(self) -> int:
        return len(self._strata_labels)

    @property
    def degrees_of_freedom(self) -> int:
        """Design degrees of freedom: PSUs minus strata among rows with non-zero weight (R ``degf``).

        Used by ``degrees_of_freedom="design"`` in the estimators for t-based intervals, as R
        ``confint(estimate, df = degf(design))``.
        """
        codes = np.where(self._weights != 0, 0, -1)
        return int(self.domain_degrees_of_freedom(codes, 1)[0])

    def domain_degrees_of_freedom(self, domain: np.ndarray, k: int) -> np.ndarray:
        """PSUs minus strata among the rows of each domain ``0..k-1`` of ``domain`` (-1: in none),
        counting rows with non-zero weight: R ``degf`` of the subset design, as ``svyby`` gives
        ``svyquantile`` and ``svyciprop``."""
        domain = np.where(self._weights != 0, np.asarray(domain, dtype=np.int64), -1)
        inside = domain >= 0
        d = domain[inside]
        psu_pairs = np.unique(d * (self.n_psu + 1) + self._psu_codes[inside])
        strata_pairs = np.unique(d * (self.n_strata + 1) + self._strata_codes[inside])
        n_psu = np.bincount(psu_pairs // (self.n_psu + 1), minlength=k)
        n_strata = np.bincount(strata_pairs // (self.n_strata + 1), minlength=k)
        return (n_psu - n_strata).astype(float)

    def _independent_rows(self) -> bool:
        """Rows drawn independently with replacement: no strata, PSUs, fpc, PPS or weighting steps
        (the variance of a total is then the sample variance of its linearised values times n)."""
        return (not self._strata_columns and not self._psu_columns and self._fpc is None
                and self._pps_probability is None and self._pps is None
                and not self._stages and not self._steps and self.n > 1)

    # -- variance (the protocol the estimators dispatch on) -------------------------------------
    def _estimation_parts(self) -> tuple[SurveyDesign, None]:
        return self, None

    def _linear_covariance(
        self,
        core: Any,
        values: np.ndarray,
        theta: np.ndarray,
        lonely_psu: Any,
        raking_variance: Any,
        *,
        full: bool = True,
        domain_lonely: bool = False,
    ) -> tuple[np.ndarray, str]:
        """Taylor covariance of linearised values: PSU totals (after residualising on the weighting
        steps), then the stratified with-replacement formula with the first-stage fpc."""
        if core.k == 1 and core.all_rows and self._independent_rows():
            # one stratum, every row its own PSU, nothing to residualise: n / (n - 1) sum (z - zbar)^2
            dev = values - values.mean()
            variance = self.n / (self.n - 1.0) * float(dev @ dev)
            return (np.array([[variance]]) if full else np.array([variance])), "taylor"
        steps = self.weighting_steps
        n_psu = self.n_psu
        strata_of_psu = psu_strata(self.strata_codes, self.psu_codes, n_psu)
        population = None
        if self.fpc_population is not None:
            population = np.full(self.n_strata, np.inf)
            population[self.strata_codes] = self.fpc_population
        residualized = any(
            s.method != "trim" or s.model_matrix is not None or s.margin_codes for s in steps
        )
        psu = self.psu_codes if core.all_rows else self.psu_codes[core.rows]
        by_domain = lonely_psu == "average" or (domain_lonely and lonely_psu == "adjust")
        stages = self._fpc_stages()
        brewer = None
        other_pps = self._pps is not None and self._pps[0] != "brewer"
        if self._pps_probability is not None and not other_pps:
            # Brewer's approximation (R pps="brewer"): each PSU's deviation weighted by 1 - pi_i
            brewer = np.ones(n_psu)
            brewer[self.psu_codes] = 1.0 - self._pps_probability
        present = psu_present = None
        if by_domain and not residualized:
            # as R on a subset design: strata and PSUs with rows in each statistic's domain
            # (a calibrated design keeps every row in R's subsets, so all of them count there)
            pairs = np.unique(psu.astype(np.int64) * core.k + core.cols)
            cell = strata_of_psu[pairs // core.k] * core.k + pairs % core.k
            psu_present = np.bincount(cell, minlength=self.n_strata * core.k).reshape(
                self.n_strata, core.k
            )
            present = psu_present > 0
        if (not full and not residualized and not by_domain and not stages and brewer is None
                and not other_pps):
            variance = stratified_variances(
                psu, core.cols, values, core.k, strata_of_psu, self.n_strata, population,
                lonely_psu, list(self.strata_labels),
            )
            return variance, "taylor"
        if residualized:
            if core.n * core.k > _DENSE_RESIDUAL_MAX:
                fail(
                    DesignError,
                    "by",
                    "has too many domains for the linearised variance of a calibrated design: "
                    f"its residuals would need a {core.n} x {core.k} matrix",
                    bad=[f"{core.k} domains"],
                    fix="Use a replicate design (design.with_replicates('jk1') or 'bootstrap'), "
                    "whose variance needs memory proportional to domains x replicates, or fewer "
                    "domains.",
                )
            dense = np.zeros((core.n, core.k))
            dense[core.rows, core.cols] = values
            dense = residualize(dense, steps, raking_variance)
            totals = psu_totals(dense, self.psu_codes, n_psu)
            later = within_cluster_residuals(dense, steps) if stages else dense
            stage_totals = [psu_totals(later, st.units, st.n_units) for st in stages]
        else:
            key = psu * core.k + core.cols if core.k > 1 else psu
            flat = np.bincount(key, weights=values, minlength=n_psu * core.k)
            totals = flat.reshape(n_psu, core.k)
            stage_totals = []
            for st in stages:
                units = st.units if core.all_rows else st.units[core.rows]
                stage_totals.append(np.bincount(
                    units * core.k + core.cols, weights=values, minlength=st.n_units * core.k
                ).reshape(st.n_units, core.k))
        if other_pps:
            cov = self._pps_covariance(totals, strata_of_psu)
            return (cov if full else np.diag(cov).copy()), "taylor"
        cov = stratified_covariance(
            totals, strata_of_psu, self.n_strata, population, lonely_psu, list(self.strata_labels),
            present=present, psu_present=psu_present, domain_lonely=domain_lonely,
            psu_weights=brewer,
        )
        if stages:
            assert population is not None
            presence = None
            if by_domain and not residualized:  # strata and units of each stage in the domain
                presence = []
                for st in stages:
                    units = st.units if core.all_rows else st.units[core.rows]
                    pairs = np.unique(units * core.k + core.cols)
                    cell = st.strata_of_unit[pairs // core.k] * core.k + pairs % core.k
                    count = np.bincount(cell, minlength=st.n_strata * core.k).reshape(
                        st.n_strata, core.k)
                    presence.append((count > 0, count))
            n_h = np.bincount(strata_of_psu, minlength=self.n_strata)
            fraction = (n_h / population)[strata_of_psu]
            cov = cov + later_stage_covariance(
                stage_totals, stages, fraction, lonely_psu, presence=presence,
                domain_lonely=domain_lonely,
            )
        return (cov if full else np.diag(cov).copy()), "taylor"

    # -- estimation (thin methods; see estimators.mean and estimators.replicate_design) -----------
    def mean(self, y: Hashable, *, by: ColumnSpec = None, **options: Any) -> Any:
        """Weighted mean of ``y`` with a design-based SE: :func:`estimators.mean`."""
        return _estimation.mean(self, y, by=by, **options)

    def total(self, y: Hashable, *, by: ColumnSpec = None, **options: Any) -> Any:
        """Weighted total of ``y``: :func:`estimators.total`."""
        return _estimation.total(self, y, by=by, **options)

    def proportion(self, y: Hashable, *, by: ColumnSpec = None, **options: Any) -> Any:
        """Weighted category shares of ``y``: :func:`estimators.proportion`."""
        return _estimation.proportion(self, y, by=by, **options)

    def ratio(
        self, numerator: Hashable, denominator: Hashable, *, by: ColumnSpec = None, **options: Any
    ) -> Any:
        """Ratio of weighted totals: :func:`estimators.ratio`."""
        return _estimation.ratio(self, numerator, denominator, by=by, **options)

    def quantile(
        self, y: Hashable, quantiles: Any = 0.5, *, by: ColumnSpec = None, **options: Any
    ) -> Any:
        """Weighted quantiles with Woodruff intervals: :func:`estimators.quantile`."""
        return _estimation.quantile(self, y, quantiles, by=by, **options)

    def with_replicates(self, method: str = "jk1", **options: Any) -> Any:
        """Replicate weights for this design: :func:`estimators.replicate_design`."""
        return _replicates.replicate_design(self, method=method, **options)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        parts = [f"n={self.n}"]
        if self._strata_columns:
            parts.append(f"strata={self._strata_columns} ({self.n_strata})")
        if self._psu_columns:
            parts.append(f"psu={self._psu_columns} ({self.n_psu})")
        if self._fpc is not None:
            parts.append("fpc")
        if self._stages:
            parts.append(f"{len(self._stages) + 1} stages"
                         + (" with fpc" if len(self._fpc_stages()) == len(self._stages) else ""))
        if self._pps is not None:
            parts.append(f"pps={self._pps[0]}")
        if self._steps:
            parts.append("weighted by " + " -> ".join(s.method for s in self._steps))
        return f"SurveyDesign({', '.join(parts)})"
