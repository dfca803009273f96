"""Compiled CPU kernels (numba) for bfloat16 weights, which numpy can only read in several passes.

A CPU computes in float32, but the language model's weights are stored in bfloat16, and a decode step is bound
by the bytes it reads. These kernels read bfloat16 weights as they are stored and compute in float32 (a
bfloat16 is the high half of a float32, so widening is exact): `rows_product` multiplies a few rows (a decode
step's) while widening each weight row in cache, at the bfloat16 bytes' streaming speed (an expert matrix of a
decode step: 0.21 ms against 0.31 ms for its float32 copy and 0.49 ms widened in numpy first, on one core
here); `widen` converts a block in one pass for products of many rows, which then go to BLAS.

Numbers: the same products of the same float32 values as the float32 path, summed in another order (~1e-7
relative). Each kernel releases the GIL and runs on the calling thread: callers spread work over their own
pool (`kernels.pool`), so no second thread pool competes for the cores.

numba is imported on first use (`available()`, which a load asks) and the kernels are compiled then: ~0.5 s to
import, ~1 s to compile, or ~0.1 s from the disk cache beside the package. `available()` is False without
numba (or with `DSOCR_JIT=0`); callers then keep their numpy versions.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from .kernels.erf import ERF_P, ERF_Q
from .settings import env_choice, warn_once

FUSED_ROWS = 8  # rows up to which `rows_product` beats widening + BLAS (8 rows: 0.52 vs 0.68 ms per expert matrix)


def _switched_off() -> bool:
    return env_choice("DSOCR_JIT", ("1", "0"), "1") == "0"


@lru_cache(maxsize=1)
def _kernels():
    """The compiled kernels as a namespace, or None where numba cannot be imported or compile them (or is
    switched off)."""
    if _switched_off():
        return None
    try:
        import numba
    except Exception:  # noqa: BLE001 - not installed, or broken (an llvmlite that does not load): numpy it is
        return None
    try:
        return _compile(numba)
    except Exception as e:  # noqa: BLE001 - a numba that cannot compile them here: said once, numpy it is
        warn_once(f"numba could not compile the CPU kernels ({type(e).__name__}: {e}); using numpy's")
        return None


def _compile(numba) -> SimpleNamespace:
    """Define, compile (or read from the disk cache) and try every kernel once."""
    # a frozen app has no source files to key a disk cache on: compile each run there (~1 s)
    cache = not getattr(sys, "frozen", False) and os.path.exists(__file__)
    # error_model="numpy": a division by zero gives inf / nan as in numpy (no Python exception check, which
    # would keep the loops from vectorising: the GELU 9x slower)
    jit = numba.njit(nogil=True, cache=cache, error_model="numpy")
    jit_sum = numba.njit(nogil=True, cache=cache, error_model="numpy", fastmath={"reassoc", "contract"})

    @jit
    def widen(bits, out):
        rows, dims = bits.shape
        for o in range(rows):
            for d in range(dims):
                out[o, d] = np.uint32(bits[o, d]) << np.uint32(16)

    @jit_sum
    def rows_product(bits, xs, out):
        rows, dims = bits.shape
        row = np.empty(dims, np.uint32)
        wide = row.view(np.float32)
        for o in range(rows):
            for d in range(dims):
                row[d] = np.uint32(bits[o, d]) << np.uint32(16)
            for j in range(xs.shape[0]):
                acc = np.float32(0.0)
                for d in range(dims):
                    acc += wide[d] * xs[j, d]
                out[o, j] = acc

    # constants of the compiled code (unrolled, the loop over elements vectorises). The disk cache is keyed on
    # this file, not on kernels/erf.py: after changing ERF_P / ERF_Q, delete engine/runtime/__pycache__/jit_kernels*.nb[ic]
    p0, p1, p2, p3, p4, p5, p6 = (np.float32(c) for c in ERF_P)
    q0, q1, q2, q3, q4 = (np.float32(c) for c in ERF_Q)

    @jit  # no fastmath: the same float32 operations in the same order as the numpy version, the same bits
    def gelu_erf(x, out):
        half, one, lo, hi = np.float32(0.5), np.float32(1.0), np.float32(-4.0), np.float32(4.0)
        scale = np.float32(0.7071067811865476)
        rows, dims = x.shape
        for r in range(rows):
            for c in range(dims):
                v = x[r, c]
                z = v * scale
                z = lo if z < lo else z  # np.clip's order: max with lo, then min with hi
                z = hi if z > hi else z
                z2 = z * z
                p = ((((((z2 * p0 + p1) * z2 + p2) * z2 + p3) * z2 + p4) * z2 + p5) * z2 + p6)
                d = ((((z2 * q0 + q1) * z2 + q2) * z2 + q3) * z2 + q4)
                out[r, c] = ((p * z) / d + one) * v * half

    @jit_sum  # sums reassociated (vectorised), accumulated in float64
    def layer_norm(x, w, b, eps, out):
        rows, dims = x.shape
        for r in range(rows):
            s = 0.0
            for c in range(dims):
                s += np.float64(x[r, c])
            mean = np.float32(s / dims)
            v = 0.0
            for c in range(dims):
                d = np.float64(x[r, c] - mean)
                v += d * d
            rstd = np.float32(1.0) / np.sqrt(np.float32(v / dims) + eps)
            for c in range(dims):
                out[r, c] = (x[r, c] - mean) * rstd * w[c] + b[c]

    bits = np.zeros((2, 8), np.uint16)  # compile now (or read the disk cache), not inside someone's first product
    widen(bits, np.empty((2, 8), np.uint32))
    rows_product(bits, np.zeros((1, 8), np.float32), np.empty((2, 1), np.float32))
    x = np.zeros((2, 8), np.float32)
    gelu_erf(x, np.empty_like(x))
    layer_norm(x, np.ones(8, np.float32), np.zeros(8, np.float32), np.float32(1e-6), np.empty_like(x))
    return SimpleNamespace(widen=widen, rows_product=rows_product, gelu_erf=gelu_erf, layer_norm=layer_norm)


def describe() -> str:
    """Which CPU kernels a load will use, in words, without importing numba (for `dsocr --version`)."""
    if _switched_off():
        return "numpy (DSOCR_JIT=0)"
    try:
        from importlib.metadata import version

        return f"numba {version('numba')}"
    except Exception:  # noqa: BLE001 - not installed (or the frozen build, which leaves it out)
        return "numpy (numba not installed)"


def available() -> bool:
    """Whether the compiled kernels can be used (numba imports and compiles them; `DSOCR_JIT` is not 0)."""
    return _kernels() is not None


def widen(bits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns [rows, dims] (uint16) -> float32 into `out` ([rows, dims] uint32 storage), one pass;
    returns `out` as float32."""
    _kernels().widen(bits, out)
    return out.view(np.float32)


def rows_product(bits: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """w @ xs.T in float32 for a bfloat16 matrix w [out, dims] given as its bits (uint16) and xs [m, dims]
    float32 (few rows: up to `FUSED_ROWS` is where it pays): [out, m]."""
    out = np.empty((bits.shape[0], xs.shape[0]), np.float32)
    _kernels().rows_product(bits, np.ascontiguousarray(xs, np.float32), out)
    return out


def gelu_erf(x: np.ndarray, out: np.ndarray) -> None:
    """Exact-erf GELU of a float32 block x [rows, dims] into `out` in one pass: x * (1 + erf(x / sqrt 2)) / 2 with
    erf(z) = z P(z^2) / Q(z^2) on z clipped to [-4, 4] (`kernels.erf.ERF_P`, `ERF_Q` in float32) - the float32
    operations of `kernels.activations`' numpy version in its order, so the same bits for finite x."""
    _kernels().gelu_erf(x, out)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: np.float32, out: np.ndarray) -> None:
    """LayerNorm of each row of a float32 block x [rows, dims] into `out`: (x - mean) / sqrt(var + eps) * w + b,
    one row at a time while it is in cache (three passes over a row instead of numpy's five over a block); the
    mean and variance are summed in float64, so they are as exact as numpy's or more (results agree to ~1e-7)."""
    _kernels().layer_norm(x, w, b, eps, out)
