"""Compiled CPU kernels (numba) for bfloat16 weights, which numpy can only read in several passes.

A CPU computes in float32, but the language model's weights are stored in bfloat16, and a decode step is bound
by the bytes it reads. These kernels read bfloat16 weights as they are stored and compute in float32 (a
bfloat16 is the high half of a float32, so widening is exact): `rows_product` multiplies a few rows (a decode
step's) while widening each weight row in cache, at the bfloat16 bytes' streaming speed (an expert matrix of a
decode step: 0.21 ms against 0.31 ms for its float32 copy and 0.49 ms widened in numpy first, on one core
here); `widen` converts a block in one pass for products of many rows, which then go to BLAS.

Numbers: the same products of the same float32 values as the float32 path, summed in another order (~1e-7
relative). Each kernel releases the GIL and runs on the calling thread: callers spread work over their own
pool (`cpu_kernels`), so no second thread pool competes for the cores.

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

from .settings import env_choice

FUSED_ROWS = 8  # rows up to which `rows_product` beats widening + BLAS (8 rows: 0.52 vs 0.68 ms per expert matrix)


@lru_cache(maxsize=1)
def _kernels():
    """The compiled kernels as a namespace, or None where numba cannot be imported (or is switched off)."""
    if env_choice("DSOCR_JIT", ("1", "0"), "1") == "0":
        return None
    try:
        import numba
    except Exception:  # noqa: BLE001 - not installed, or broken (an llvmlite that does not load): numpy it is
        return None
    # a frozen app has no source files to key a disk cache on: compile each run there (~1 s)
    cache = not getattr(sys, "frozen", False) and os.path.exists(__file__)
    jit = numba.njit(nogil=True, cache=cache)
    jit_sum = numba.njit(nogil=True, cache=cache, fastmath={"reassoc", "contract"})  # vectorised reductions

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

    bits = np.zeros((2, 8), np.uint16)  # compile now (or read the disk cache), not inside someone's first product
    widen(bits, np.empty((2, 8), np.uint32))
    rows_product(bits, np.zeros((1, 8), np.float32), np.empty((2, 1), np.float32))
    return SimpleNamespace(widen=widen, rows_product=rows_product)


def available() -> bool:
    """Whether the compiled kernels can be used (numba imports and compiles them; `DSOCR_JIT` is not 0)."""
    return _kernels() is not None


def widen(bits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns [rows, dims] (uint16) -> float32 into `out` ([rows, dims] uint32 storage), one pass;
    returns `out` as float32."""
    _kernels().widen(bits, out)
    return out.view(np.float32)


def rows_product(bits: np.ndarray, xs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """w @ xs.T in float32 for a bfloat16 matrix w [out, dims] given as its bits (uint16) and xs [m, dims]
    float32 (few rows: up to `FUSED_ROWS` is where it pays): [out, m], written into `out` when given (a
    C-contiguous float32 [out, m], e.g. a block of rows of a bigger result)."""
    if out is None:
        out = np.empty((bits.shape[0], xs.shape[0]), np.float32)
    _kernels().rows_product(bits, np.ascontiguousarray(xs, np.float32), out)
    return out
