"""Memory: the machine's RAM, the memory cap a model is loaded under, and what is given back after a load.

A model computing in float32 on a CPU needs twice its bf16 checkpoint's bytes. With the compiled kernels
(`runtime.jit_kernels`: numba) the language model's matrices stay in the stored bfloat16 and every product
reads them as they are, computing in float32 (bfloat16 widens exactly): faster than from float32 copies, since
a decode step is bound by the bytes it reads, and the model then holds ~1.1x the checkpoint instead of 2x; only
the vision encoders (13% of DeepSeek-OCR-2's parameters) are widened. Without those kernels numpy can only widen in
extra passes, so the weights are widened at load, except under a cap the float32 model would not fit (a 16 GB
machine: 13.5 GB of float32 weights): then the routed experts - two thirds of the parameters, of which a decode
step reads 6 of 64 per layer - stay narrow, each step converting the experts it uses. `narrow_weights` makes
that choice, comparing the float32 weights plus `ACTIVATION_RESERVE` with the cap (default `DEFAULT_FRACTION`
of the RAM). MLX's buffer cache (freed buffers kept for reuse) is raised on a CPU when a model is loaded
(`raise_buffer_cache`: MLX's Linux default of 32 MB returns every large intermediate to the OS, and faulting
it in again costs ~0.4 M page faults and seconds of system time per page), then fitted into what the cap leaves beside the weights, and kept at its minimum when weights were kept
narrow to save memory (`fit_buffer_cache`: the cache would take back much of what they saved; the encode
measured no slower with it). MLX's own cache calls wait for the running computation while holding
Python's GIL; `set_cache_limit` and `release_freed_memory` here do not stall other threads (the app's GUI
thread).
"""

from __future__ import annotations

import ctypes
import os

import mlx.core as mx

from . import jit_kernels
from .settings import env_number

MIN_BUFFER_CACHE = 512 << 20  # MLX's buffer cache is never cut below this (less costs encode time)
MAX_BUFFER_CACHE = 4 << 30  # the buffer cache a CPU run keeps at most (default: a quarter of the RAM up to this)
DEFAULT_FRACTION = 0.8  # of the RAM, the default memory cap
ACTIVATION_RESERVE = 2e9  # bytes a real-size page's encode and prefill need beside the weights (measured ~1.5)


def ram_bytes() -> int:
    """Physical memory of this machine (8 GB when it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def memory_cap(limit_gb: float | None) -> float:
    """The cap in bytes: `limit_gb` GB, or `DEFAULT_FRACTION` of the RAM."""
    if limit_gb is not None and limit_gb <= 0:
        raise ValueError(f"memory limit {limit_gb} GB: give a positive number of GB")
    return limit_gb * 1e9 if limit_gb is not None else DEFAULT_FRACTION * ram_bytes()


def float32_fits(ck, limit_gb: float | None = None) -> bool:
    """Whether the checkpoint's weights in float32 plus `ACTIVATION_RESERVE` fit the cap."""
    need = sum(4 * w.size for w in ck.weights.values() if mx.issubdtype(w.dtype, mx.floating))
    return need + ACTIVATION_RESERVE <= memory_cap(limit_gb)


LANGUAGE_MODEL, ROUTED_EXPERTS = "language_model", "routed_experts"  # what `narrow_weights` may keep narrow


def narrow_weights(ck, compute: mx.Dtype, limit_gb: float | None = None) -> tuple[mx.Dtype, str] | None:
    """(dtype, which) to keep some of the stored 16-bit weights in instead of `compute`, or None.

    Only on a CPU computing in float32 from a 16-bit checkpoint (not a quantized one). With the compiled kernels
    and bfloat16 weights, every matrix of the language model (`LANGUAGE_MODEL`: products read it in bfloat16 and
    compute in float32, faster than from float32 copies); without them the routed experts (`ROUTED_EXPERTS`)
    when the float32 weights plus `ACTIVATION_RESERVE` exceed the cap."""
    if compute != mx.float32 or mx.default_device().type != mx.DeviceType.cpu or ck.config.quantization:
        return None
    stored = {w.dtype for n, w in ck.weights.items() if ".experts." in n or ".switch_mlp." in n}
    if len(stored) != 1 or next(iter(stored)) not in (mx.bfloat16, mx.float16):
        return None
    narrow = next(iter(stored))
    if narrow == mx.bfloat16 and jit_kernels.available():
        return narrow, LANGUAGE_MODEL
    return None if float32_fits(ck, limit_gb) else (narrow, ROUTED_EXPERTS)


def raise_buffer_cache(limit_bytes: int | None = None) -> int:
    """On a CPU, raise MLX's buffer-cache limit to `limit_bytes` (default: `DSOCR_MLX_CACHE_MB`, else a quarter
    of the RAM, at most `MAX_BUFFER_CACHE`) if it is lower; return the limit in force (-1 on a GPU, where
    nothing changes). Called by a load (`fit_buffer_cache`) and by code that builds models itself (benchmarks)."""
    if mx.default_device().type != mx.DeviceType.cpu:
        return -1
    if limit_bytes is None:
        env = env_number("DSOCR_MLX_CACHE_MB", None, kind=float)
        limit_bytes = int(env * 2**20) if env is not None else min(MAX_BUFFER_CACHE, ram_bytes() // 4)
    current = cache_limit()
    if current > limit_bytes:
        return current
    set_cache_limit(limit_bytes)
    return int(limit_bytes)


def fit_buffer_cache(model_bytes: int, limit_gb: float | None = None, tight: bool = False) -> int:
    """Lower MLX's buffer-cache limit to what the cap leaves beside `model_bytes` of weights and the activation
    reserve (at least `MIN_BUFFER_CACHE`; never raised here); return the limit in force. `tight` (weights were
    kept narrow to save memory) keeps the cache at `MIN_BUFFER_CACHE`: the memory is worth more to the user's
    other programs than the few percent of encode time a bigger cache may save (none measurable here). The
    cache is first raised to its CPU size (`raise_buffer_cache`)."""
    raise_buffer_cache()
    current = cache_limit()
    room = MIN_BUFFER_CACHE if tight else memory_cap(limit_gb) - model_bytes - ACTIVATION_RESERVE
    limit = int(min(current, max(MIN_BUFFER_CACHE, room)))
    set_cache_limit(limit)
    return limit


RELEASE_STEP = 64 << 20  # bytes of MLX's buffer cache handed back to the OS per call (~4 ms of munmap here)


def set_cache_limit(limit: int) -> int:
    """`mx.set_cache_limit`, without stalling other threads: MLX's call first waits for the running computation
    while holding Python's GIL (the app's GUI thread froze for up to 0.7 s), so the wait is done here first
    with `mx.synchronize`, which releases it. Returns the previous limit."""
    mx.synchronize()
    return mx.set_cache_limit(int(limit))


def cache_limit() -> int:
    """MLX's buffer-cache limit in force (read without trimming the cache)."""
    limit = set_cache_limit(1 << 62)  # raising the limit frees nothing
    set_cache_limit(limit)
    return limit


def release_freed_memory() -> None:
    """Empty MLX's buffer cache and ask the C allocator to return freed pages to the OS (glibc `malloc_trim`).

    The cache is emptied `RELEASE_STEP` bytes at a time: MLX frees while holding Python's GIL (a GB of cached
    buffers: ~60 ms of munmap here), and between the steps the other threads - the app's GUI thread - run."""
    limit = cache_limit()
    held = mx.get_cache_memory()
    while held > 0:
        held = max(0, held - RELEASE_STEP)
        set_cache_limit(held)
    set_cache_limit(limit)
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        pass
