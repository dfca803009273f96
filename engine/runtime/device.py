"""Device-dependent defaults: which compute dtype to use and how to name a dtype given as a string; float32
kept exact on GPUs; CUDA command graphs kept small; handing large numpy arrays to MLX without stalling other
threads."""

from __future__ import annotations

import os

import mlx.core as mx
import numpy as np

_DTYPES = {"float32": mx.float32, "fp32": mx.float32, "bfloat16": mx.bfloat16, "bf16": mx.bfloat16,
           "float16": mx.float16, "fp16": mx.float16}


def on_gpu() -> bool:
    """True when MLX's default device is a GPU (Metal on a Mac, CUDA elsewhere)."""
    return mx.default_device().type == mx.DeviceType.gpu


def default_compute_dtype() -> mx.Dtype:
    """float32 on CPU (bf16 matmuls have no fast CPU path), bfloat16 on a GPU."""
    return mx.bfloat16 if on_gpu() else mx.float32


def exact_float32() -> None:
    """Keep float32 matrix products (matmuls, convolutions, attention) in full float32 on every device.

    MLX runs them as TF32 on CUDA GPUs and M5-class Macs unless `MLX_ENABLE_TF32=0`, which it reads once, at
    the first such product. Measured on an H200: TF32 moved the image embeddings 5-8e-4 (relative) away from
    the reference vectors; in full float32 they are within the parity tests' 1e-4. float32 is the choice for
    exact results (a GPU's default compute dtype is bfloat16, which TF32 does not touch), so the engine sets
    TF32 off on import; a user's own `MLX_ENABLE_TF32` is kept."""
    os.environ.setdefault("MLX_ENABLE_TF32", "0")


CUDA_GRAPH_MB = 128  # MB of buffers per CUDA command graph (MLX_MAX_MB_PER_BUFFER) the engine asks for
# compute capabilities for which MLX's own default is larger (mlx/backend/cuda/device.cpp, get_graph_limits:
# 400 MB on 8.0 (A100), 1000 MB on 9.0 (H100, H200), 10.0 (B200) and 12.0 (consumer Blackwell); <= 100 elsewhere)
_LARGE_GRAPH_CAPABILITIES = {(8, 0), (9, 0), (10, 0), (12, 0)}


def cuda_graph_mb(env: dict, capability: tuple[int, int] | None) -> str | None:
    """The MLX_MAX_MB_PER_BUFFER the engine sets for a CUDA GPU of `capability` (None: no CUDA GPU), or None to
    leave MLX's default (or the user's value) alone."""
    if "MLX_MAX_MB_PER_BUFFER" in env or capability not in _LARGE_GRAPH_CAPABILITIES:
        return None
    return str(CUDA_GRAPH_MB)


def small_cuda_graphs() -> None:
    """Cap MLX's CUDA command graphs at `CUDA_GRAPH_MB` of buffers on GPUs where its default is bigger.

    MLX's CUDA backend queues kernels into a command graph and launches it once it holds 100 ops or, on an
    H100/H200, 1000 MB of buffers; up to 10 launched graphs stay in flight, each keeping every buffer it used
    until it finishes. A page's encode on an H200 thus held 17-20 GB (v1, 6 tiles, bf16) and the GPU idled
    while the CPU filled the first big graph; with 128 MB graphs the same encode held 3.5 GB and took 85-99 ms
    instead of 90-120 (docs/benchmarks.md, "On a GPU"). MLX reads the value when a stream's first graph is made,
    so this runs on engine import; a user's own MLX_MAX_MB_PER_BUFFER is kept. Metal's own limits are
    already small (40-50 MB per command buffer), so a Mac is left alone."""
    if not on_gpu() or mx.metal.is_available():
        return
    info = mx.device_info()
    value = cuda_graph_mb(os.environ, (info.get("compute_capability_major"), info.get("compute_capability_minor")))
    if value is not None:
        os.environ["MLX_MAX_MB_PER_BUFFER"] = value


def parse_dtype(name: str | mx.Dtype | None) -> mx.Dtype:
    """'float32' / 'bfloat16' / 'float16' (or None for the device default) -> an MLX dtype."""
    if name is None or name == "auto":
        return default_compute_dtype()
    if isinstance(name, mx.Dtype):
        return name
    try:
        return _DTYPES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}: use one of float32, bfloat16, float16") from None


COPY_CHUNK = 4 << 20  # bytes copied into MLX per step of `from_numpy` (~5-10 ms with the GIL held)


def from_numpy(a: np.ndarray) -> mx.array:
    """`mx.array(a)` for a large array, copied in pieces of at most `COPY_CHUNK` bytes and joined lazily (the
    join runs in `mx.eval`, which releases the GIL). `mx.array` copies while holding Python's GIL (a page's
    66 MB of pixels: ~130 ms), so in one piece it freezes every other thread - the app's GUI thread among
    them - for that long."""
    if a.nbytes <= COPY_CHUNK:
        return mx.array(a)
    flat = np.ascontiguousarray(a).reshape(-1)
    step = max(1, COPY_CHUNK // flat.itemsize)
    return mx.concatenate([mx.array(flat[i:i + step]) for i in range(0, flat.size, step)]).reshape(a.shape)
