"""Benchmark: exact leverage scores and Lewis weights against their BLAS floor and numpy QR.

Compares, in the same run and on the same matrix,
  * ``sampling.leverage_scores(X)`` (Gram pass + Cholesky + blocked triangular multiply),
  * the floor it is measured against: one ``X.T @ X`` (syrk) pass plus one blocked triangular
    multiply ``X R^{-1}`` (dtrmm, same block size) — the two BLAS calls exact leverage cannot avoid,
  * numpy's thin QR ``np.linalg.qr(X)`` followed by the row norms of Q (the textbook method),
and times ``sampling.lewis_weights(X, p=1, tol=1e-8)``. Peak Python-heap memory (tracemalloc,
which sees numpy's allocations) is measured in separate calls, excluding X itself.

Run:  OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sensitivity_leverage.py
      [--sizes 1000000x50,1000000x200] [--repeat 3] [--qr-max-mb 400]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sampling import leverage_scores, lewis_weights
from sampling.selection._row_blocks import default_block_size


def timed(func, repeat: int) -> tuple[float, float, object]:
    """Best wall and best CPU time over ``repeat`` runs, and the last result."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = func()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return min(walls), min(cpus), out


def syrk_plus_trmm(x: np.ndarray) -> np.ndarray:
    g = x.T @ x
    r = sla.cholesky(g, lower=False)
    r_inv = np.triu(sla.lapack.dtrtri(r, lower=0)[0])
    block = default_block_size(x.shape[1])
    for start in range(0, x.shape[0], block):
        blas.dtrmm(1.0, r_inv, x[start : start + block].T, side=0, lower=0, trans_a=1)
    return g


def qr_leverage(x: np.ndarray) -> np.ndarray:
    q = np.linalg.qr(x, mode="reduced").Q
    return np.einsum("ij,ij->i", q, q)


def peak_bytes(func) -> int:
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000x50,1000000x200")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qr-max-mb", type=float, default=400.0,
                        help="run numpy QR on at most this many MiB of X (its peak is ~5x that)")
    parser.add_argument("--lewis", default="1000000x50")
    args = parser.parse_args()
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"# date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| n x d | method | wall s (best) | CPU s (best) | ratio to syrk+trmm (wall / CPU) |"
          " peak extra memory |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.split("x"))
        x = rng.standard_normal((n, d))
        base_w, base_c, _ = timed(lambda x=x: syrk_plus_trmm(x), args.repeat)
        gram_w, gram_c, _ = timed(lambda x=x: x.T @ x, args.repeat)
        lev_w, lev_c, tau = timed(lambda x=x: leverage_scores(x), args.repeat)
        assert abs(tau.sum() - d) < 1e-6 * d
        lev_mem = peak_bytes(lambda x=x: leverage_scores(x))
        print(f"| {n:,} x {d} | one X.T @ X (syrk) | {gram_w:.3f} | {gram_c:.3f} | | |")
        print(f"| {n:,} x {d} | floor: syrk + blocked trmm | {base_w:.3f} | {base_c:.3f} | 1 | |")
        print(f"| {n:,} x {d} | leverage_scores (exact) | {lev_w:.3f} | {lev_c:.3f} | "
              f"{lev_w / base_w:.2f} / {lev_c / base_c:.2f} | {lev_mem / 2**20:.1f} MiB |")
        # numpy QR needs ~5 copies of X at peak (7.9 GB RSS observed at 1M x 200), so above
        # --qr-max-mb it runs on the first k rows, compared with leverage_scores on the same rows.
        k = min(n, int(args.qr_max_mb * 2**20 / (8 * d)))
        xs = x[:k]
        sub_w, sub_c, tau_sub = (lev_w, lev_c, tau) if k == n else timed(
            lambda xs=xs: leverage_scores(xs), args.repeat)
        qr_w, qr_c, tau_qr = timed(lambda xs=xs: qr_leverage(xs), 1)
        err = float(np.max(np.abs(tau_qr - tau_sub)))
        label = "numpy QR + row norms" + ("" if k == n else f" (first {k:,} rows)")
        print(f"| {k:,} x {d} | {label} | {qr_w:.3f} | {qr_c:.3f} | | QR / leverage_scores on "
              f"the same rows: {qr_w / sub_w:.1f}x wall, {qr_c / sub_c:.1f}x CPU; max abs diff "
              f"{err:.1e} |")
        del tau_qr, tau_sub, xs
        f32 = x.astype(np.float32)
        f32_w, f32_c, _ = timed(lambda f32=f32: leverage_scores(f32), 1)
        f32_mem = peak_bytes(lambda f32=f32: leverage_scores(f32))
        print(f"| {n:,} x {d} | leverage_scores (float32 input) | {f32_w:.3f} | {f32_c:.3f} | "
              f"{f32_w / base_w:.2f} / {f32_c / base_c:.2f} | {f32_mem / 2**20:.1f} MiB |")
        del f32
        sk_w, sk_c, _ = timed(lambda x=x: leverage_scores(x, method="sketch", rng=1), 1)
        print(f"| {n:,} x {d} | leverage_scores (sketch) | {sk_w:.3f} | {sk_c:.3f} | "
              f"{sk_w / base_w:.2f} / {sk_c / base_c:.2f} | |")
        if size == args.lewis:
            heavy = x * rng.standard_t(1, size=(n, 1))
            for name, mat in (("Gaussian", x), ("rows x Student-t(1)", heavy)):
                w0, c0 = time.perf_counter(), time.process_time()
                lw = lewis_weights(mat, p=1, tol=1e-8)
                lw_w, lw_c = time.perf_counter() - w0, time.process_time() - c0
                mem = peak_bytes(lambda mat=mat: lewis_weights(mat, p=1, tol=1e-8))
                print(f"| {n:,} x {d} | lewis_weights p=1, tol 1e-8, {name} ({lw.n_iter} "
                      f"iterations, residual {lw.residual:.1e}, sum {lw.weights.sum():.6f}) | "
                      f"{lw_w:.2f} | {lw_c:.2f} | {lw_w / base_w:.1f} / {lw_c / base_c:.1f} | "
                      f"{mem / 2**20:.1f} MiB |")
            del heavy
        del x


if __name__ == "__main__":
    main()
