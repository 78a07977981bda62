"""Classical allocation against R stratallo / PracTools values and closed forms (1e-10 relative)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimators import ConvergenceError, InfeasibleError, ValidationError
from sampling.allocation._classical import bethel_allocation, neyman_allocation

pytestmark = pytest.mark.reference

REF = json.loads((Path(__file__).parent / "reference" / "allocation_classical.json").read_text())
CASES = REF["cases"]
RTOL = 1e-10


def _close(got, want, rtol=RTOL):
    got, want = np.asarray(got, float), np.asarray(want, float)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)


def test_reference_versions_recorded():
    assert REF["versions"]["stratallo"] == "3.0.1"


def test_neyman_plain_matches_stratallo():
    c = CASES["neyman_plain"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], n=i["n"])
    _close(res.n_continuous, c["result"])
    assert res.status == "optimal"


def test_take_all_matches_stratallo_and_is_reported():
    c = CASES["neyman_take_all"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], n=i["n"])
    _close(res.n_continuous, c["result"])
    assert res.take_all.tolist() == [False, False, True]
    with pytest.raises(InfeasibleError, match="exceeds N_h in some strata"):
        neyman_allocation(i["N"], i["S"], n=i["n"], take_all="raise")


@pytest.mark.parametrize("n", [1500, 2200, 3000])
def test_box_neyman_matches_stratallo_rnabox(n):
    c = CASES[f"neyman_box_{n}"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], n=n, min_n=i["m"], max_n=i["M"])
    _close(res.n_continuous, c["result"])
    assert res.status == "optimal" and res.kkt_residual < 1e-12


def test_lower_bounds_match_stratallo_lrna():
    c = CASES["neyman_lower"]
    i = c["inputs"]
    _close(neyman_allocation(i["N"], i["S"], n=i["n"], min_n=i["m"]).n_continuous, c["result"])


def test_cost_constrained_with_take_all_matches_stratallo_rna():
    c = CASES["cost_upper"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], budget=i["budget"], costs=i["costs"], method="optimal")
    _close(res.n_continuous, c["result"])
    assert abs(res.cost - i["budget"]) <= 1e-12 * i["budget"]


def test_fixed_variance_min_cost_matches_stratallo_optcost():
    c = CASES["optcost_upper"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], target_variance=i["V"], costs=i["costs"],
                            method="optimal", estimate="total", max_n=i["M"])
    _close(res.n_continuous, c["result"])
    assert res.variance == pytest.approx(i["V"], rel=1e-10)


def test_practools_strAlloc():
    for name, kw in [("practools_prop", {"method": "proportional"}),
                     ("practools_neyman", {"method": "neyman"})]:
        c = CASES[name]
        i = c["inputs"]
        res = neyman_allocation(i["N"], i.get("S"), n=i["n"], **kw)
        _close(res.n_continuous, c["result"])
    c = CASES["practools_totcost"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], budget=i["budget"], costs=i["costs"], method="optimal")
    _close(res.n_continuous, c["result"])
    c = CASES["practools_totvar"]
    i = c["inputs"]
    res = neyman_allocation(i["N"], i["S"], target_variance=i["V"], costs=i["costs"],
                            method="optimal")
    _close(res.n_continuous, c["result"])


def test_cochran_closed_forms():
    # Cochran (1977) eq. 5.24: n_h proportional to N_h S_h / sqrt(c_h) for a fixed budget C.
    N = np.array([394.0, 461, 391, 334, 169, 113, 148])  # Cochran Table 5.1-type sizes
    S = np.array([8.3, 13.3, 15.1, 19.8, 24.5, 26.0, 35.2])
    cst = np.array([1.0, 1, 2, 2, 4, 4, 9])
    C = 500.0
    want = C * (N * S / np.sqrt(cst)) / np.sum(N * S * np.sqrt(cst))
    res = neyman_allocation(N, S, budget=C, costs=cst, method="optimal")
    _close(res.n_continuous, want)
    # the variance at the optimum: (sum W_h S_h sqrt c_h)^2 / C - sum W_h S_h^2 / N
    W = N / N.sum()
    v = np.sum(W * S * np.sqrt(cst)) ** 2 / C - np.sum(W * S**2) / N.sum()
    assert res.variance == pytest.approx(v, rel=1e-12)


def test_bankier_power_closed_form():
    N = np.array([100.0, 400, 1600, 6400])
    S = np.array([3.0, 2, 2, 1])
    Y = np.array([10.0, 8, 9, 5])
    for q in (0.0, 0.5, 1.0):
        shape = N**q * S / Y
        res = neyman_allocation(N, S, n=200, method="bankier", power=q, means=Y)
        _close(res.n_continuous, 200 * shape / shape.sum())


def test_integer_neyman_equals_brute_force():
    N = np.array([30.0, 40, 25])
    S = np.array([4.0, 1.5, 7.0])
    res = neyman_allocation(N, S, n=20, integer=True, min_n=1)
    best, arg = np.inf, None
    for x in range(1, 19):
        for y in range(1, 20 - x):
            z = 20 - x - y
            v = np.sum((N * S) ** 2 / np.array([x, y, z]))
            if v < best - 1e-12:
                best, arg = v, (x, y, z)
    assert tuple(res.n.tolist()) == arg


def test_bethel_matches_cvxpy_and_single_variable_neyman():
    import cvxpy as cp

    S = pd.DataFrame({"y1": [10.0, 5, 3, 8], "y2": [2.0, 8, 1, 6]})
    N = np.array([1000.0, 3000, 200, 800])
    cst = np.array([1.0, 2, 3, 1.5])
    V = {"y1": 0.02, "y2": 0.015}
    res = bethel_allocation(N, S, target_variances=V, costs=cst)
    assert res.status == "optimal"
    # outside check 1: KKT in the original units (independent of the solver): c = sum_j mu_j
    # A_hj^2 / n_h^2 with mu_j >= 0, both constraints binding
    n = res.n.to_numpy()
    A2 = np.stack([(N * S[v].to_numpy() / N.sum()) ** 2 for v in V], axis=1)
    grad = A2 / n[:, None] ** 2
    mu, *_ = np.linalg.lstsq(grad, cst, rcond=None)
    assert (mu > 0).all()
    assert np.max(np.abs(grad @ mu - cst)) <= 1e-10 * cst.max()
    np.testing.assert_allclose(res.variance.to_numpy(), list(V.values()), rtol=1e-8)
    assert (res.variance.to_numpy() <= np.array(list(V.values())) * (1 + 1e-10)).all()
    # outside check 2: a well-scaled, tightly solved cvxpy model (x = n / 1000, rows / V_j)
    x = cp.Variable(4)
    cons = [1000 * x <= N, x >= 1e-9]
    for j, var in enumerate(V):
        A0 = np.sum(N * S[var].to_numpy() ** 2) / N.sum() ** 2
        cons.append((A2[:, j] / 1000) @ cp.inv_pos(x) / (V[var] + A0) <= 1)
    cp.Problem(cp.Minimize(cst @ x), cons).solve(solver="CLARABEL", tol_gap_rel=1e-12,
                                                  tol_feas=1e-12, tol_gap_abs=1e-12)
    np.testing.assert_allclose(n, 1000 * x.value, rtol=1e-5)
    assert res.cost <= float(cst @ (1000 * x.value)) * (1 + 1e-9)
    # one variable: Bethel = fixed-variance optimal allocation
    one = bethel_allocation(N, S[["y1"]], target_variances={"y1": 0.02}, costs=cst)
    ref = neyman_allocation(N, S["y1"].to_numpy(), target_variance=0.02, costs=cst,
                            method="optimal")
    _close(one.n, ref.n_continuous, rtol=1e-9)


def test_bethel_take_all():
    S = pd.DataFrame({"y1": [50.0, 1, 1], "y2": [1.0, 30, 1]})
    res = bethel_allocation([20, 1000, 1000], S, target_variances={"y1": 0.001, "y2": 0.05})
    assert res.take_all.iloc[0]
    assert (res.variance <= np.array([0.001, 0.05]) * (1 + 1e-9)).all()


def test_errors():
    with pytest.raises(ValidationError, match="give exactly one of n, budget or target_variance"):
        neyman_allocation([10, 20], [1, 2])
    with pytest.raises(InfeasibleError, match="even taking every stratum up to its bound"):
        neyman_allocation([10, 20], [1, 2], n=40)
    with pytest.raises(InfeasibleError, match="the lower bounds cost"):
        neyman_allocation([10, 20], [1, 2], n=5, min_n=4)
    with pytest.raises(InfeasibleError, match="bounds cross"):
        neyman_allocation([10, 20], [1, 2], n=5, min_n=[12, 1])
    with pytest.raises(ValidationError, match="std_devs: is required"):
        neyman_allocation([10, 20], None, n=5)
    with pytest.raises(ValidationError, match="std_devs: must be > 0"):
        neyman_allocation([10, 20], [0, 2], n=5)
    with pytest.raises(ValidationError, match="population_sizes: must be > 0"):
        neyman_allocation([0, 20], [1, 2], n=5)
    with pytest.raises(ValidationError, match="target_variance needs method"):
        neyman_allocation([10, 20], [1, 2], target_variance=0.1, method="proportional")
    S = pd.DataFrame({"y1": [1.0, 2.0]})
    with pytest.raises(InfeasibleError, match="unreachable even when every stratum"):
        bethel_allocation([10, 20], S, target_variances={"y1": 1e-3}, max_n=[5, 10])
    with pytest.raises(ConvergenceError, match="did not converge"):
        bethel_allocation([1000, 2000], pd.DataFrame({"y1": [1.0, 3], "y2": [3.0, 1]}),
                          target_variances={"y1": 1e-3, "y2": 1e-3}, max_iter=1)


def test_result_api():
    res = neyman_allocation([100, 2000, 50], [10, 5, 40], n=600)
    assert "take-all strata : 1" in res.summary()
    assert list(res.to_frame().columns)[:2] == ["population_size", "n"]
    assert res.plot() is not None
