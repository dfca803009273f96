"""LayerNorm for the vision encoders (SAM, CLIP): MLX's module, computed by `runtime.ops.layer_norm`."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..runtime import ops


class LayerNorm(nn.LayerNorm):
    """`nn.LayerNorm` (same parameters and names) through `ops.layer_norm` (on a CPU: the numpy pool's two
    threads instead of MLX's one)."""

    def __call__(self, x: mx.array) -> mx.array:
        return ops.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)
