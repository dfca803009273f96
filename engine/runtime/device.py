"""Device-dependent defaults: which compute dtype to use and how to name a dtype given as a string."""

from __future__ import annotations

import mlx.core as mx

_DTYPES = {"float32": mx.float32, "fp32": mx.float32, "bfloat16": mx.bfloat16, "bf16": mx.bfloat16,
           "float16": mx.float16, "fp16": mx.float16}


def on_gpu() -> bool:
    """True when MLX's default device is a GPU (Metal on a Mac, CUDA elsewhere)."""
    return mx.default_device().type == mx.DeviceType.gpu


def default_compute_dtype() -> mx.Dtype:
    """float32 on CPU (bf16 matmuls have no fast CPU path), bfloat16 on a GPU."""
    return mx.bfloat16 if on_gpu() else mx.float32


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
