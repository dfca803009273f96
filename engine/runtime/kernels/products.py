"""Few-row matrix products on the CPU: the decode step's linear layers and routed experts.

MLX sends a product of one to a few rows to `cblas_sgemm`, which in the system OpenBLAS runs at about half the
memory bandwidth numpy's `gemv` reaches (the LM head: 55 ms vs 30 ms per token). Decode is bound by memory
bandwidth, so this is the decode speed. Routed experts are grouped by expert, so each expert's weights are read
once per step for the whole batch (`expert_linear`), and a prefill chunk's experts run one per pool job
(`expert_mlp`). Weights kept in bfloat16 (`memory.narrow_weights`) are read as stored by the compiled kernels
of `runtime.jit_kernels` (numba), or widened here block by block without them. Each returns None off the
numpy path, where `runtime.ops` uses MLX's product instead.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .. import jit_kernels
from . import pool
from .pool import as_numpy, in_dtype, on_pool, output, run_jobs, scratch
from .route import uses_numpy

MAX_ROWS = 32  # products with at most this many rows take the numpy path (decode: one row per sequence)
MAX_EXPERT_ROWS = 8 * MAX_ROWS  # (row, expert) pairs of a routed-expert product (decode: rows x top-k)


def _few_rows(rows: int, limit: int, w: mx.array, dtypes=(mx.float32,)) -> bool:
    """True when a product of `rows` rows with weight `w` (of one of `dtypes`) takes the numpy path."""
    return uses_numpy() and w.dtype in dtypes and rows <= limit


def linear(x: mx.array, weight: mx.array, bias: mx.array | None = None) -> mx.array | None:
    """x @ weight.T (+ bias) for x [..., D] with at most `MAX_ROWS` rows: `linears` with one weight."""
    ys = linears(x, [weight], [bias])
    return None if ys is None else ys[0]


def linears(x: mx.array, weights: list[mx.array], biases: list | None = None) -> list[mx.array] | None:
    """[x @ w.T (+ b) for each weight] for x [..., D] with at most `MAX_ROWS` rows (a decode step's q/k/v, or
    gate/up), each weight [out, D] read in place (not copied): float32 in numpy, or bfloat16 (with a float32 x)
    through the compiled kernels, all of the weights' row blocks in one dispatch (`_bf16_rows`). None off the
    numpy path, for more rows, for mixed dtypes, or for bfloat16 weights without those kernels."""
    dtype = weights[0].dtype
    half = dtype == mx.bfloat16
    if any(w.dtype != dtype for w in weights) or not _few_rows(
            x.size // x.shape[-1], MAX_ROWS, weights[0], (mx.float32, mx.bfloat16)) or (
            half and (x.dtype != mx.float32 or not jit_kernels.available())):
        return None
    mx.eval(x)
    xn = as_numpy(x).reshape(-1, x.shape[-1])
    if half:
        ys = _bf16_rows(xn, [_bf16_bits(w) for w in weights])
    else:
        ys = [mx.array(xn @ np.asarray(w).T) for w in weights]
    out = []
    for y, w, b in zip(ys, weights, biases or [None] * len(weights)):
        if b is not None:
            y = y + b
        out.append(in_dtype(y.reshape(*x.shape[:-1], w.shape[0]), x.dtype))
    return out


BF16_POOL_BYTES = 8 << 20  # bfloat16 products from this size on go to the pool (below: waking it costs more)
BF16_JOBS_PER_THREAD = 4  # row blocks per pool thread (a descheduled thread's blocks are taken by the others)


def _bf16_rows(x: np.ndarray, bits: list[np.ndarray]) -> list[mx.array]:
    """[x @ w.T [m, out] for each w] for a few float32 rows x [m, D] and bfloat16 matrices w [out, D] given as
    bits, through `_bf16_product`: on the calling thread when they hold under `BF16_POOL_BYTES` together (one
    thread streams a bfloat16 matrix at ~13-15 GB/s here), else in row blocks of all of them on the pool (the LM
    head: 331 MB; q, k and v: 3 x 3.3 MB)."""
    x = np.ascontiguousarray(x)
    executor = pool.get()
    if sum(b.nbytes for b in bits) < BF16_POOL_BYTES or executor is None:
        return [mx.array(_bf16_product(x, b).T) for b in bits]
    ends = np.cumsum([b.shape[0] for b in bits])
    rows = -(-int(ends[-1]) // (pool.THREADS * BF16_JOBS_PER_THREAD))
    buf = np.empty((int(ends[-1]), x.shape[0]), np.float32)  # every product's rows, one after another
    jobs = [(b, r0, int(end) - b.shape[0]) for b, end in zip(bits, ends) for r0 in range(0, b.shape[0], rows)]

    def run(job):
        b, r0, at = job
        r1 = min(r0 + rows, b.shape[0])
        buf[at + r0:at + r1] = _bf16_product(x, b[r0:r1])

    y = run_jobs(run, jobs, None, buf, mx.float32)
    return [y[int(end) - b.shape[0]:int(end)].T for b, end in zip(bits, ends)]


BF16_ROWS = 1 << 18  # elements of a bfloat16 matrix converted at a time (float32: 1 MB, stays in L2)


def _bf16_bits(w: mx.array) -> np.ndarray:
    """The raw 16-bit patterns of an evaluated bfloat16 array, as a numpy uint16 view (no copy). A row-contiguous
    one is read through its buffer directly: MLX's `view` is an op, and evaluating it costs ~80 us, which a
    decode step would pay ~130 times."""
    try:
        return np.frombuffer(memoryview(w).cast("B"), np.uint16).reshape(w.shape)
    except TypeError:  # not row-contiguous
        return np.asarray(w.view(mx.uint16))


def _widen(bits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns -> float32 into `out` (same shape, uint32 storage): bf16 is a float32's high half."""
    np.copyto(out, bits, casting="unsafe")
    np.left_shift(out, 16, out=out)
    return out.view(np.float32)


def _bf16_product(x: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """w @ x.T for x [m, D] and a bfloat16 matrix w [out, D] given as bits, float32 [out, m]. With the compiled
    kernels, a few rows are multiplied as each weight row is widened (`jit_kernels.rows_product`); otherwise a
    block of rows at a time is converted into a per-thread scratch buffer and multiplied while still in cache."""
    fused = jit_kernels.available()
    if fused and x.shape[0] <= jit_kernels.FUSED_ROWS:
        return jit_kernels.rows_product(bits, x)
    widen = jit_kernels.widen if fused else _widen
    out_dims, dims = bits.shape
    rows = max(1, min(out_dims, BF16_ROWS // dims))
    buf = scratch(1, (rows, dims))[0].view(np.uint32)
    y = np.empty((out_dims, x.shape[0]), np.float32)
    for r0 in range(0, out_dims, rows):
        r1 = min(out_dims, r0 + rows)
        np.matmul(widen(bits[r0:r1], buf[: r1 - r0]), x.T, out=y[r0:r1])
    return y


def _expert_product(x: np.ndarray, w: np.ndarray, half: bool) -> np.ndarray:
    """x [m, D] @ w.T, w float32 [out, D] or bfloat16 bits (widened block by block), as a [m, out] view of
    w @ x.T: the weight is the product's left operand, which OpenBLAS packs faster when the rows are few (an
    expert's ~80 rows of a page: 99 vs 82 GFLOP/s on one core here; one row: the same gemv)."""
    return (_bf16_product(x, w) if half else w @ x.T).T


def expert_mlp(x: mx.array, gate: mx.array, up: mx.array, down: mx.array, indices: mx.array,
               shared: tuple[mx.array, mx.array, mx.array] | None = None) -> tuple[mx.array, mx.array | None] | None:
    """The routed experts' SwiGLU `down(silu(gate(x)) * up(x))` for any number of rows (a decode step's few, a
    prefill chunk's thousands), grouped by expert: each chosen expert's rows are gathered once and go through
    its three matrices as three whole products (no padding to blocks), one expert per job on the thread pool;
    bfloat16 expert weights are widened block by block inside the job (no widened copy of the stack). x [..., D],
    indices [..., k], stacked weights [E, out, in] (float32 or bfloat16). `shared`: the (gate, up, down) weights
    [out, in] of a dense SwiGLU over all rows (the shared experts), one more job of the same dispatch (first: it
    is the biggest). Returns (routed [..., k, D], shared [..., D] or None) in float32, or None off the numpy
    path."""
    dtypes = (mx.float32, mx.bfloat16)
    mats = (gate, up, down, *(shared or ()))
    if not (uses_numpy() and x.dtype == mx.float32 and gate.dtype in dtypes
            and all(w.dtype == gate.dtype for w in mats)):
        return None
    mx.eval(x, indices, *mats)
    k, dims = indices.shape[-1], x.shape[-1]
    xs = as_numpy(x).reshape(-1, dims)
    flat = np.asarray(indices).reshape(-1)
    order = np.argsort(flat, kind="stable")  # (token, slot) pairs sorted by expert
    bounds = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=gate.shape[0]))])
    half = gate.dtype == mx.bfloat16
    ws = [_bf16_bits(w) if half else np.asarray(w) for w in mats]
    res, out = output((flat.size + (xs.shape[0] if shared else 0), dims))  # routed rows, then shared rows

    def swiglu(xe, wg, wu, wd):
        g = _expert_product(xe, wg, half)
        u = _expert_product(xe, wu, half)
        with np.errstate(over="ignore"):  # exp(-g) = inf for g << 0: silu(g) = g / inf = -0, as it should
            h = g / (np.float32(1.0) + np.exp(-g)) * u  # silu(g) * u
        return _expert_product(h, wd, half)

    def run(e):
        if e < 0:  # the shared experts
            out[flat.size:] = swiglu(xs, *ws[3:])
            return
        sel = order[bounds[e]:bounds[e + 1]]
        out[sel] = swiglu(xs[sel // k], ws[0][e], ws[1][e], ws[2][e])

    experts = [-1] * bool(shared) + [e for e in range(gate.shape[0]) if bounds[e + 1] > bounds[e]]
    y = run_jobs(run, experts, res, out, x.dtype)
    routed = y[:flat.size].reshape(*indices.shape, dims)
    return routed, (y[flat.size:].reshape(x.shape) if shared else None)


def expert_linear(x: mx.array, weight: mx.array, indices: mx.array) -> mx.array | None:
    """The routed experts' product for few rows: out[..., j, :, :] = x[..., j, :, :] @ weight[indices[..., j]].T.

    x [..., 1 or k, m, D] (broadcast against indices [..., k]), stacked float32 or bfloat16 weights [E, out, D]
    (bfloat16: the chosen experts are converted block by block, float32 products); the rows are grouped by
    expert, so each chosen expert's matrix is read once, the experts spread over the thread pool. None off
    the numpy path or when more than `MAX_EXPERT_ROWS` (row, expert) pairs are asked for."""
    if not _few_rows(indices.size * x.shape[-2], MAX_EXPERT_ROWS, weight, (mx.float32, mx.bfloat16)):
        return None
    mx.eval(x, indices, weight)
    idx = np.asarray(indices)
    xs = as_numpy(x)
    m, dims = xs.shape[-2:]
    rows = np.broadcast_to(xs, idx.shape + (m, dims)).reshape(-1, m, dims)
    flat = idx.reshape(-1)
    half = weight.dtype == mx.bfloat16
    w = _bf16_bits(weight) if half else np.asarray(weight)
    out = np.empty((flat.size, m, w.shape[1]), np.float32)

    def run(e):
        sel = np.flatnonzero(flat == e)
        xe = rows[sel].reshape(-1, dims)
        y = _expert_product(xe, w[e], half)  # one product per expert
        out[sel] = y.reshape(sel.size, m, -1)

    experts = np.unique(flat)
    executor = pool.get()
    if half and executor is not None and len(experts) > 1:
        on_pool(executor, run, experts)
    else:
        for e in experts:
            run(e)
    return in_dtype(mx.array(out.reshape(idx.shape + (m, w.shape[1]))), x.dtype)
