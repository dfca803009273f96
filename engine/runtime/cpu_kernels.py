"""numpy stand-ins for the MLX CPU kernels that are slow here: attention, activations, few-row matmuls.

On a GPU (or with `DSOCR_CPU_KERNELS=mlx`) every function here takes MLX's own path (the fused
`mx.fast.scaled_dot_product_attention`, MLX expressions, MLX matmuls), so the Metal path is untouched. On MLX's
CPU backend three things are far slower than the hardware allows, and numpy (whose own OpenBLAS and vectorised
`exp` are fast) does them instead, evaluating the MLX graph at the boundary and handing an MLX array back:

1. **Attention** (`attention`): MLX's CPU `exp` / softmax run scalar and single-threaded (~35-75 M
   elements/s), so the softmax over SAM's global-attention scores (12 x 4096 x 4096 per view) takes seconds;
   numpy's `exp` does ~1-2 G elements/s. Scores, softmax and probs @ V run in float32 in chunks of ~4 MB of
   scores spread over a thread pool (one thread per core, numpy's BLAS single-threaded inside it); under a causal
   mask, blocks of query rows skip the keys none of their rows may see (about half of a prompt's scores). It
   computes what MLX's fallback computes (`q * scale`, `q @ k^T` (+ additive mask / bias, or -inf where a bool
   mask is False), a max-subtracted float32 softmax, `@ v`); results agree to ~1e-6 relative. SAM's decomposed
   relative-position bias is an argument of its own (`rel_pos`): numpy adds it to the scores chunk by chunk;
   MLX folds it into the product (queries [q * scale | rel_h | rel_w], keys [k | onehot(ky) | onehot(kx)]), so
   no [Lq, Lk] bias tensor is ever built on either path.
2. **Activations** (`gelu_erf`, `quick_gelu`, `silu_mul`: exact-erf GELU, quick_gelu, SiLU-gated products, at
   ~20-60 M elements/s in MLX on a CPU, 3-10x that in numpy on cache-sized chunks), same float32 formulas;
   they return None off the numpy path so that the caller keeps its MLX expression. GELU, a rational function
   of ~25 numpy passes, runs in one compiled pass where numba is installed (`jit_kernels`; the same bits).
3. **Few-row matmuls** (`linear`, `expert_linear`: the decode step's products, one to a few rows against a
   weight matrix): MLX sends them to `cblas_sgemm`, which in the system OpenBLAS runs at about half the memory
   bandwidth that numpy's `gemv` reaches (the LM head: 55 ms vs 30 ms per token). Decode is bound by memory
   bandwidth, so this is the decode speed. Routed experts are grouped by expert, so each expert's weights are
   read once per step for the whole batch. Weights kept in bfloat16 (`memory.narrow_weights`) are read as
   stored by the compiled kernels of `jit_kernels` (numba), or widened here block by block without them.

All of it is inference-only: it evaluates the graph, so it cannot be differentiated or traced by `mx.compile`.

On import, MLX's buffer cache is raised on a CPU (`ensure_buffer_cache`): its Linux default of 32 MB returns
every large intermediate to the OS, and faulting it in again costs ~0.4 M page faults and seconds of system
time per page.

`DSOCR_CPU_KERNELS=mlx|numpy` (default numpy) picks the CPU path of all of these; `set_mode()` changes it at
run time (benchmarks compare both in one process); `DSOCR_CPU_KERNELS_THREADS` sets the pool size (default:
one thread per core).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import mlx.core as mx
import numpy as np

from . import cancel, jit_kernels, memory
from .blas import numpy_openblas
from .settings import env_choice, env_number

MODES = ("numpy", "mlx")
_mode = env_choice("DSOCR_CPU_KERNELS", MODES, "numpy")

CHUNK_ELEMENTS = 1 << 20  # scores per chunk (float32: 4 MB, cache-sized)
CAUSAL_ROWS = 256  # query rows per chunk under a causal mask (a page's 860-token prefill: 30 -> 21 ms per layer)
# elements per chunk of an elementwise kernel (float32: 1 MB per temporary). Each numpy call hands Python's GIL
# back and forth between the pool's threads; 4x the L2-sized 64K chunks made GELU / SiLU 17-28% faster on 2 cores
MAP_CHUNK = 1 << 18
_THREADS = env_number("DSOCR_CPU_KERNELS_THREADS", 0) or (os.cpu_count() or 1)
_ALIGN = 64  # MLX path: the augmented q/k width is padded to a multiple of this (odd widths run ~2x slower)
_pool_obj = None


def ensure_buffer_cache(limit_bytes: int | None = None) -> int:
    """On a CPU, raise MLX's buffer-cache limit to `limit_bytes` (default: `DSOCR_MLX_CACHE_MB`, else a quarter
    of the RAM, at most 4 GiB) if it is lower; return the limit in force. Nothing changes on a GPU."""
    if mx.default_device().type != mx.DeviceType.cpu:
        return -1
    if limit_bytes is None:
        env = env_number("DSOCR_MLX_CACHE_MB", None, kind=float)
        if env is not None:
            limit_bytes = int(env * 2**20)
        else:
            limit_bytes = min(4 << 30, memory.ram_bytes() // 4)
    current = memory.cache_limit()
    if current > limit_bytes:
        return current
    memory.set_cache_limit(limit_bytes)
    return int(limit_bytes)


def set_mode(mode: str) -> str:
    """Choose the CPU path ('numpy' or 'mlx'); return the previous one."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"unknown CPU kernel mode {mode!r}: use one of {', '.join(MODES)}")
    prev, _mode = _mode, mode
    return prev


def get_mode() -> str:
    return _mode


def uses_numpy() -> bool:
    """True when the functions here take the numpy path (CPU default device and mode 'numpy')."""
    return _mode == "numpy" and mx.default_device().type == mx.DeviceType.cpu


def attention(q: mx.array, k: mx.array, v: mx.array, scale: float, mask: mx.array | str | None = None,
              rel_pos: tuple[mx.array, mx.array] | None = None) -> mx.array:
    """softmax(q k^T * scale + mask + bias) v; q [B, H, Lq, D], k [B, Hk, Lk, D], v [B, Hk, Lk, Dv], H % Hk == 0.

    `mask`: None, "causal" (bottom-right aligned, as MLX), an additive float array or a bool array (True =
    attend), broadcastable to [B, H, Lq, Lk]: the contract of `mx.fast.scaled_dot_product_attention`.
    `rel_pos`: (rel_h [B, H, Lq, kh], rel_w [B, H, Lq, kw]) for keys on a kh x kw grid (Lk = kh * kw, row-major):
    bias[..., i, ky * kw + kx] = rel_h[..., i, ky] + rel_w[..., i, kx] (not scaled). Not combined with `mask`."""
    if rel_pos is not None and mask is not None:
        raise ValueError("attention: give a mask or a relative-position bias, not both")
    if uses_numpy():
        return _numpy_attention(q, k, v, scale, mask, rel_pos)
    if rel_pos is not None:
        q, k = _fold_rel_pos(q, k, scale, *rel_pos)
        scale = 1.0
    return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def split_qkv(qkv: mx.array, heads: int) -> tuple[mx.array, mx.array, mx.array]:
    """A fused projection's output [B, L, 3 * heads * hd] -> q, k, v [B, heads, L, hd] as strided views of it.

    Slicing before transposing keeps them views on every device; `qkv.transpose(2, 0, 3, 1, 4)[0]` (index after
    the transpose) makes MLX gather each into a copy: 50 ms per 32 MB on a CPU, a tenth of SAM's window
    attention. The numpy attention reads the strided views in place."""
    B, L, _ = qkv.shape
    x = qkv.reshape(B, L, 3, heads, -1)
    return tuple(x[:, :, i].transpose(0, 2, 1, 3) for i in range(3))


@lru_cache(maxsize=None)
def _key_onehots(kh: int, kw: int, pad: int) -> np.ndarray:
    """[kh*kw, kh+kw+pad]: key (ky, kx) -> onehot(ky) | onehot(kx) | zeros."""
    e = np.zeros((kh * kw, kh + kw + pad), np.float32)
    j = np.arange(kh * kw)
    e[j, j // kw] = 1
    e[j, kh + j % kw] = 1
    e.setflags(write=False)
    return e


def _fold_rel_pos(q, k, scale, rel_h, rel_w):
    """Queries [q * scale | rel_h | rel_w | 0] and keys [k | onehot(ky) | onehot(kx) | 0]: one product gives the
    scaled scores plus the bias. Both are zero-padded to a multiple of 64 columns."""
    B, H, L, hd = q.shape
    kh, kw = rel_h.shape[-1], rel_w.shape[-1]
    pad = -(hd + kh + kw) % _ALIGN
    parts = [q * scale, rel_h, rel_w]
    if pad:
        parts.append(mx.zeros((B, H, L, pad), q.dtype))
    qa = mx.concatenate(parts, axis=-1)
    onehots = mx.array(_key_onehots(kh, kw, pad)).astype(k.dtype)
    ka = mx.concatenate([k, mx.broadcast_to(onehots, (*k.shape[:2], k.shape[2], kh + kw + pad))], axis=-1)
    return qa, ka


# (get, set) thread-count functions of numpy's own OpenBLAS: names with and without numpy's symbol prefix
_THREAD_FUNCS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                 ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                 ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                 ("openblas_get_num_threads", "openblas_set_num_threads"))


@lru_cache(maxsize=1)
def _numpy_blas_threads():
    """(get, set) for the thread count of the OpenBLAS bundled with numpy, or None (another BLAS)."""
    import ctypes

    lib = numpy_openblas()
    for get_name, set_name in _THREAD_FUNCS:
        get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
        if get is not None and put is not None:
            put.argtypes = [ctypes.c_int]
            return get, put
    return None


def _pool():
    global _pool_obj
    if _THREADS <= 1:
        return None
    if _pool_obj is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool_obj = ThreadPoolExecutor(_THREADS - 1, thread_name_prefix="dsocr-cpu")  # + the calling thread
    return _pool_obj


def _on_pool(pool, run, jobs) -> None:
    """Run `run(job)` for every job on the pool, numpy's BLAS single-threaded meanwhile: the pool is the
    parallelism, and BLAS threads on top of it slow each other down several-fold. The thread count is global
    to numpy's OpenBLAS (a per-thread setting leaks into the calling thread in the builds numpy ships), so it
    is set around the pooled work and restored afterwards for the main thread's few-row matmuls."""
    funcs = _numpy_blas_threads()
    prev = funcs[0]() if funcs else 1
    if prev > 1:
        funcs[1](1)
    try:
        _share_jobs(pool, run, list(jobs))
    finally:
        if prev > 1:
            funcs[1](prev)


def _share_jobs(pool, run, jobs: list) -> None:
    """Run the jobs on the calling thread and `_THREADS - 1` pool threads, each taking the next job when done
    (the caller works instead of waiting: on a machine whose cores other programs share, a descheduled
    thread's jobs are taken by the one that runs). The first error stops the others taking more jobs, and is
    raised once every thread has stopped."""
    lock = threading.Lock()
    state = {"next": 0, "stop": False}

    def drain():
        while True:
            with lock:
                if state["stop"] or state["next"] >= len(jobs):
                    return
                job = jobs[state["next"]]
                state["next"] += 1
            try:
                run(job)
            except BaseException:
                state["stop"] = True
                raise

    helpers = [pool.submit(drain) for _ in range(min(_THREADS, len(jobs)) - 1)]
    try:
        drain()
    finally:
        for helper in helpers:
            helper.exception()  # wait for it
    for helper in helpers:
        if helper.exception() is not None:
            raise helper.exception()


def _as_numpy(x: mx.array) -> np.ndarray:
    """float32 numpy view of an evaluated MLX array (zero-copy when float32 and row-contiguous)."""
    return np.asarray(x if x.dtype == mx.float32 else x.astype(mx.float32))


SMALL_OUTPUT = 1 << 16  # elements: a result this small is written into numpy and copied (a decode step's)


def _output(shape) -> tuple[mx.array | None, np.ndarray]:
    """A new float32 MLX array and a writable numpy view of its memory, so that results are written straight
    into MLX's buffer (no copy back); (None, a numpy buffer) for a small result (making and evaluating an MLX
    array costs ~0.1 ms, copying 256 KB far less) or if MLX does not expose a writable one."""
    if int(np.prod(shape)) <= SMALL_OUTPUT:
        return None, np.empty(shape, np.float32)
    res = mx.zeros(shape, mx.float32)
    mx.eval(res)
    view = np.asarray(res)
    if view.flags.writeable and view.flags.c_contiguous and view.shape == tuple(shape):
        return res, view
    return None, np.empty(shape, np.float32)


def _in_dtype(a: mx.array, dtype: mx.Dtype) -> mx.array:
    """A float32 result `a` in the caller's dtype."""
    return a if dtype == mx.float32 else a.astype(dtype)


def _run_jobs(run, jobs, res: mx.array | None, buf: np.ndarray, dtype: mx.Dtype) -> mx.array:
    """Run `run(job)` for every job (on the pool when there are several), then return the MLX array the jobs
    wrote into (`res`, or a copy of `buf` when MLX gave no writable view) in `dtype`. Each job first checks
    the run's cancel flag (`runtime.cancel`), so a cancel lands within one job (a few MB of attention scores,
    one expert's products), not at the end of a whole attention or MoE layer."""
    event = cancel.current()

    def checked(job):
        if event is not None and event.is_set():
            raise cancel.Cancelled
        run(job)

    pool = _pool()
    if pool is None or len(jobs) == 1:
        for job in jobs:
            checked(job)
    else:
        _on_pool(pool, checked, jobs)
    return _in_dtype(mx.array(buf) if res is None else res, dtype)


def _numpy_attention(q, k, v, scale, mask, rel_pos) -> mx.array:
    B, H, Lq, _ = q.shape
    Hk, Lk, Dv = k.shape[1], k.shape[2], v.shape[3]
    if H % Hk:
        raise ValueError(f"attention: {H} query heads are not a multiple of {Hk} key/value heads")
    rep = H // Hk
    out_dtype = q.dtype
    if scale != 1.0 and q.dtype != mx.float32:  # scaled in its own dtype, as MLX's fallback does
        q, scale = q * mx.array(scale, q.dtype), 1.0
    extra = [mask] if isinstance(mask, mx.array) else list(rel_pos or ())
    mx.eval(q, k, v, *extra)
    qn, kn, vn = _as_numpy(q), _as_numpy(k), _as_numpy(v)
    maskn = rel_h = rel_w = causal = None
    if isinstance(mask, mx.array):
        maskn = np.asarray(mask) if mask.dtype == mx.bool_ else _as_numpy(mask)
        maskn = maskn.reshape((1,) * (4 - maskn.ndim) + maskn.shape)
    elif isinstance(mask, str) and mask == "causal":
        if Lk >= Lq:  # every row sees at least one key: each chunk skips the keys none of its rows may see
            causal = Lk - Lq
        else:
            maskn = (np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq))[None, None]
    elif mask is not None:
        raise ValueError(f"attention: unsupported mask {mask!r}")
    if rel_pos is not None:
        rel_h, rel_w = (_as_numpy(r) for r in rel_pos)
        kh, kw = rel_h.shape[-1], rel_w.shape[-1]
        if kh * kw != Lk:
            raise ValueError(f"attention: a {kh} x {kw} relative-position grid does not fit {Lk} keys")

    res, buf = _output((B, Lq, H, Dv))  # written in [B, Lq, H, Dv]: the caller's transpose back is free
    out = buf.transpose(0, 2, 1, 3)
    # query rows per chunk, and (when a whole head fits) heads per chunk, so that a chunk holds ~CHUNK_ELEMENTS
    rows = max(1, min(Lq, CHUNK_ELEMENTS // max(Lk, 1)))
    if causal is not None:  # row blocks, so that the blocks above the diagonal are skipped (~half the work)
        rows = min(rows, CAUSAL_ROWS)
    heads = max(1, min(H, CHUNK_ELEMENTS // max(rows * Lk, 1))) if rows == Lq else 1
    jobs = [(b, h0, min(H, h0 + heads), r0, min(Lq, r0 + rows))
            for b in range(B) for h0 in range(0, H, heads) for r0 in range(0, Lq, rows)]

    def run(job):
        b, h0, h1, r0, r1 = job
        kend = Lk if causal is None else r1 + causal  # keys after the chunk's last row: masked for all its rows
        if rep == 1:
            kk, vv = kn[b, h0:h1, :kend], vn[b, h0:h1, :kend]
        else:  # grouped-query attention: the key/value head of each query head
            hk = np.arange(h0, h1) // rep
            kk, vv = kn[b, hk, :kend], vn[b, hk, :kend]
        qq = qn[b, h0:h1, r0:r1]
        if scale != 1.0:  # float32 q, scaled here per chunk as MLX's fallback does before the product (q may
            # be a strided view of a fused projection: scaling it in MLX would copy it whole, single-threaded)
            qq = qq * np.float32(scale)
        s = np.matmul(qq, kk.swapaxes(-1, -2))  # [h, r, kend]
        if maskn is not None:
            mb = maskn[min(b, maskn.shape[0] - 1)]
            mh = mb if mb.shape[0] == 1 else mb[h0:h1]
            m = mh if mh.shape[1] == 1 else mh[:, r0:r1]
            if m.dtype == np.bool_:
                s = np.where(m, s, np.float32(-np.inf))
            else:
                s += m
        elif causal is not None:  # the chunk's diagonal block: row i sees keys <= i + causal (none for one row)
            tri = s[..., r0 + causal + 1:]
            np.copyto(tri, np.float32(-np.inf), where=np.arange(r0 + 1, r1)[None, :] > np.arange(r0, r1)[:, None])
        if rel_h is not None:
            grid = s.reshape(h1 - h0, r1 - r0, kh, kw)
            grid += rel_h[b, h0:h1, r0:r1, :, None]
            grid += rel_w[b, h0:h1, r0:r1, None, :]
        np.subtract(s, s.max(axis=-1, keepdims=True), out=s)
        np.exp(s, out=s)
        denom = s.sum(axis=-1, keepdims=True)
        o = out[b, h0:h1, r0:r1]
        np.matmul(s, vv, out=o)
        o /= denom

    return _run_jobs(run, jobs, res, buf, out_dtype).transpose(0, 2, 1, 3)


# ---------------------------------------------------------------------------------------------------------
# Elementwise activations (CPU numpy path; None elsewhere)
# ---------------------------------------------------------------------------------------------------------

# erf(z) = z * P(z^2) / Q(z^2) on [-4, 4] (+-1 beyond, in float32); coefficients from Eigen's float erf
ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
         -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
         -1.42647390514189e-02)
_P32 = tuple(np.float32(c) for c in ERF_P)
_Q32 = tuple(np.float32(c) for c in ERF_Q)


def _map(kernel, *xs: mx.array) -> mx.array:
    """Run `kernel(*row_chunks, out=...)` over float32 views of same-shape arrays, in row chunks on the pool."""
    shape, dtype = xs[0].shape, xs[0].dtype
    mx.eval(*xs)
    arrs = [_as_numpy(x).reshape(-1, shape[-1]) for x in xs]
    res, out = _output(arrs[0].shape)
    rows = max(1, MAP_CHUNK // max(shape[-1], 1))
    starts = range(0, out.shape[0], rows)

    def run(r0):
        kernel(*(a[r0:r0 + rows] for a in arrs), out=out[r0:r0 + rows])

    return _run_jobs(run, starts, res, out, dtype).reshape(shape)


_local = threading.local()


def _scratch(k: int, shape) -> list[np.ndarray]:
    """k float32 temporaries of `shape`, reused per thread (no allocation or page faults per chunk)."""
    n = int(np.prod(shape))
    bufs = getattr(_local, "bufs", None)
    if bufs is None or len(bufs) < k or bufs[0].size < n:
        bufs = _local.bufs = [np.empty(max(n, MAP_CHUNK), np.float32) for _ in range(max(k, 4))]
    return [b[:n].reshape(shape) for b in bufs[:k]]


def _gelu_erf_np(x, out):
    z, z2, p, d = _scratch(4, x.shape)
    np.multiply(x, np.float32(0.7071067811865476), out=z)
    np.clip(z, np.float32(-4.0), np.float32(4.0), out=z)
    np.multiply(z, z, out=z2)
    np.multiply(z2, _P32[0], out=p)
    p += _P32[1]
    for c in _P32[2:]:
        p *= z2
        p += c
    np.multiply(z2, _Q32[0], out=d)
    d += _Q32[1]
    for c in _Q32[2:]:
        d *= z2
        d += c
    p *= z
    p /= d
    p += np.float32(1.0)
    p *= x
    np.multiply(p, np.float32(0.5), out=out)


def _quick_gelu_np(x, out):
    (e,) = _scratch(1, x.shape)
    np.multiply(x, np.float32(-1.702), out=e)
    np.exp(e, out=e)
    e += np.float32(1.0)
    np.divide(x, e, out=out)


def _silu_mul_np(g, u, out):
    (e,) = _scratch(1, g.shape)
    np.negative(g, out=e)
    np.exp(e, out=e)
    e += np.float32(1.0)
    np.divide(g, e, out=out)
    out *= u


def layer_norm(x: mx.array, weight: mx.array, bias: mx.array, eps: float) -> mx.array | None:
    """LayerNorm over the last axis, (x - mean) / sqrt(var + eps) * weight + bias, in float32 on the pool (MLX's
    CPU LayerNorm runs single-threaded: 37 vs 16 ms for SAM's 6-tile batch; compiled, a row at a time, where
    numba is installed); None off the numpy path."""
    if not uses_numpy():
        return None
    mx.eval(weight, bias)
    w, b, e, n = _as_numpy(weight), _as_numpy(bias), np.float32(eps), np.float32(x.shape[-1])

    def kernel(xc, out):
        np.subtract(xc, xc.mean(axis=-1, keepdims=True), out=out)
        var = np.einsum("ij,ij->i", out, out)[:, None] / n
        out *= np.float32(1.0) / np.sqrt(var + e)
        out *= w
        out += b

    def compiled(xc, out):  # a row at a time while in cache (~3x faster), mean and variance summed in float64
        jit_kernels.layer_norm(xc, w, b, e, out)

    return _map(compiled if jit_kernels.available() else kernel, x)


def gelu_erf(x: mx.array) -> mx.array | None:
    """x * (1 + erf(x / sqrt 2)) / 2 with erf = z P(z^2) / Q(z^2) (`ERF_P`, `ERF_Q`) in float32; None off the
    numpy path. The compiled kernel computes the same bits in one pass (~10x faster than numpy's ~25)."""
    if not uses_numpy():
        return None
    return _map(jit_kernels.gelu_erf if jit_kernels.available() else _gelu_erf_np, x)


def quick_gelu(x: mx.array) -> mx.array | None:
    """x * sigmoid(1.702 x) in float32; None off the numpy path."""
    return _map(_quick_gelu_np, x) if uses_numpy() else None


def silu_mul(gate: mx.array, up: mx.array) -> mx.array | None:
    """silu(gate) * up = gate * sigmoid(gate) * up in float32; None off the numpy path."""
    return _map(_silu_mul_np, gate, up) if uses_numpy() else None


# ---------------------------------------------------------------------------------------------------------
# Few-row matmuls (the decode step)
# ---------------------------------------------------------------------------------------------------------

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
    xn = _as_numpy(x).reshape(-1, x.shape[-1])
    if half:
        ys = _bf16_rows(xn, [_bf16_bits(w) for w in weights])
    else:
        ys = [mx.array(xn @ np.asarray(w).T) for w in weights]
    out = []
    for y, w, b in zip(ys, weights, biases or [None] * len(weights)):
        if b is not None:
            y = y + b
        out.append(_in_dtype(y.reshape(*x.shape[:-1], w.shape[0]), x.dtype))
    return out


BF16_POOL_BYTES = 8 << 20  # bfloat16 products from this size on go to the pool (below: waking it costs more)
BF16_JOBS_PER_THREAD = 4  # row blocks per pool thread (a descheduled thread's blocks are taken by the others)


def _bf16_rows(x: np.ndarray, bits: list[np.ndarray]) -> list[mx.array]:
    """[x @ w.T [m, out] for each w] for a few float32 rows x [m, D] and bfloat16 matrices w [out, D] given as
    bits, through `_bf16_product`: on the calling thread when they hold under `BF16_POOL_BYTES` together (one
    thread streams a bfloat16 matrix at ~13-15 GB/s here), else in row blocks of all of them on the pool (the LM
    head: 331 MB; q, k and v: 3 x 3.3 MB)."""
    x = np.ascontiguousarray(x)
    pool = _pool()
    if sum(b.nbytes for b in bits) < BF16_POOL_BYTES or pool is None:
        return [mx.array(_bf16_product(x, b).T) for b in bits]
    ends = np.cumsum([b.shape[0] for b in bits])
    rows = -(-int(ends[-1]) // (_THREADS * BF16_JOBS_PER_THREAD))
    buf = np.empty((int(ends[-1]), x.shape[0]), np.float32)  # every product's rows, one after another
    jobs = [(b, r0, int(end) - b.shape[0]) for b, end in zip(bits, ends) for r0 in range(0, b.shape[0], rows)]

    def run(job):
        b, r0, at = job
        r1 = min(r0 + rows, b.shape[0])
        buf[at + r0:at + r1] = _bf16_product(x, b[r0:r1])

    y = _run_jobs(run, jobs, None, buf, mx.float32)
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
    buf = _scratch(1, (rows, dims))[0].view(np.uint32)
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
    xs = _as_numpy(x).reshape(-1, dims)
    flat = np.asarray(indices).reshape(-1)
    order = np.argsort(flat, kind="stable")  # (token, slot) pairs sorted by expert
    bounds = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=gate.shape[0]))])
    half = gate.dtype == mx.bfloat16
    ws = [_bf16_bits(w) if half else np.asarray(w) for w in mats]
    res, out = _output((flat.size + (xs.shape[0] if shared else 0), dims))  # routed rows, then shared rows

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
    y = _run_jobs(run, experts, res, out, x.dtype)
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
    xs = _as_numpy(x)
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
    pool = _pool()
    if half and pool is not None and len(experts) > 1:
        _on_pool(pool, run, experts)
    else:
        for e in experts:
            run(e)
    return _in_dtype(mx.array(out.reshape(idx.shape + (m, w.shape[1]))), x.dtype)


ensure_buffer_cache()
