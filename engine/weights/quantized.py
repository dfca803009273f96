"""MLX-quantized tensors (uint32-packed weight + `scales` + `biases`, as `mx.quantize` writes them).

A quantized `X.weight` of logical shape [..., out, in] is stored as [..., out, in * bits / 32] uint32 with
`X.scales` and `X.biases` of shape [..., out, in / group_size]. The checker compares logical shapes.
"""

from __future__ import annotations

import mlx.core as mx


def is_quantized(weights: dict, prefix: str) -> bool:
    """True when `prefix.weight` is stored quantized (it has a `prefix.scales` companion)."""
    return f"{prefix}.scales" in weights


def dequantized_shapes(weights: dict[str, mx.array], quant: dict | None) -> dict[str, mx.array | tuple]:
    """name -> array (plain tensors) or logical shape (quantized weights), without scales/biases entries."""
    if not quant:
        return weights
    bits = int(quant["bits"])
    out: dict = {}
    for name, w in weights.items():
        if name.endswith((".scales", ".biases")) and f"{name.rsplit('.', 1)[0]}.weight" in weights:
            continue
        if name.endswith(".weight") and is_quantized(weights, name[: -len(".weight")]):
            out[name] = _Shaped((*w.shape[:-1], w.shape[-1] * 32 // bits))
        else:
            out[name] = w
    return out


class _Shaped:
    """Stands in for an array where only the shape is checked."""

    def __init__(self, shape):
        self.shape = tuple(shape)
