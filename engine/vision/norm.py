"""LayerNorm for the vision encoders (SAM, CLIP): MLX's module, whose CPU path runs on the numpy pool."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..runtime import cpu_kernels


class LayerNorm(nn.LayerNorm):
    """`nn.LayerNorm` (same parameters and names); on a CPU computed by `cpu_kernels.layer_norm` (two threads
    instead of MLX's one), elsewhere by MLX."""

    def __call__(self, x: mx.array) -> mx.array:
        y = cpu_kernels.layer_norm(x, self.weight, self.bias, self.eps) if "weight" in self else None
        return super().__call__(x) if y is None else y
