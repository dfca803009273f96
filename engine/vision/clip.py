"""v1 CLIP-L stage of DeepSeek-OCR: a pre-LN ViT run over SAM's output tokens instead of its own patches.

SAM tokens [B, t*t, C] -> [CLS ; tokens] + position embeddings (the 16x16 grid part bicubic-antialias resized
in float32 to t x t when t != 16; the CLS row unchanged) -> `pre_layrnorm` -> pre-LN blocks (quick_gelu MLP)
-> [B, t*t + 1, width], CLS first. There is no post-LayerNorm.

The checkpoint's conv `embeddings.patch_embedding` is never used on this path; it is kept as a parameter so
that weights load strictly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ..runtime import ops
from .interpolate import resize_bicubic_aa
from .norm import LayerNorm


@dataclass
class CLIPConfig:
    width: int
    layers: int
    heads: int
    image_size: int = 224
    patch_size: int = 14
    layer_norm_eps: float = 1e-5
    intermediate_size: int | None = None  # default 4 * width

    @classmethod
    def from_dict(cls, d: dict) -> "CLIPConfig":
        """From `vision_config["width"]["clip-l-14-224"]`."""
        opt = {k: int(d[k]) for k in ("image_size", "patch_size", "intermediate_size") if d.get(k) is not None}
        return cls(width=int(d["width"]), layers=int(d["layers"]), heads=int(d["heads"]), **opt)

    @property
    def ffn_size(self) -> int:
        return self.intermediate_size or 4 * self.width

    @property
    def num_positions(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + 1


class PositionTable(nn.Module):
    """`position_embedding.weight` [n_pos, width]; read whole (and resized), never looked up by id."""

    def __init__(self, n: int, dim: int):
        super().__init__()
        self.weight = mx.zeros((n, dim))


class Embeddings(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.class_embedding = mx.zeros((cfg.width,))
        self.patch_embedding = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size,
                                         bias=False)  # unused: SAM's tokens are the patch embeddings
        self.position_embedding = PositionTable(cfg.num_positions, cfg.width)

    def positions(self, n_tokens: int) -> mx.array:
        """Position rows [n_tokens, width] for CLS + a t x t grid, t = int(sqrt(n_tokens))."""
        table = self.position_embedding.weight
        src = int(math.isqrt(table.shape[0] - 1))
        tgt = int(math.isqrt(n_tokens))
        if src == tgt:
            return table
        grid = resize_bicubic_aa(table[1:].reshape(1, src, src, -1), (tgt, tgt)).reshape(tgt * tgt, -1)
        return mx.concatenate([table[:1], grid], axis=0)

    def __call__(self, tokens: mx.array) -> mx.array:
        B, n, C = tokens.shape
        cls = mx.broadcast_to(self.class_embedding.astype(tokens.dtype), (B, 1, C))
        x = mx.concatenate([cls, tokens], axis=1)
        return x + self.positions(n + 1).astype(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.heads = cfg.heads
        self.scale = (cfg.width // cfg.heads) ** -0.5
        self.qkv_proj = nn.Linear(cfg.width, 3 * cfg.width, bias=True)
        self.out_proj = nn.Linear(cfg.width, cfg.width, bias=True)

    def __call__(self, x: mx.array) -> mx.array:
        B, L, C = x.shape
        q, k, v = ops.split_qkv(self.qkv_proj(x), self.heads)  # [q|k|v], head-major
        o = ops.attention(q, k, v, self.scale)
        return self.out_proj(o.transpose(0, 2, 1, 3).reshape(B, L, C))


class FeedForward(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.width, cfg.ffn_size, bias=True)
        self.fc2 = nn.Linear(cfg.ffn_size, cfg.width, bias=True)

    def __call__(self, x: mx.array) -> mx.array:
        return self.fc2(ops.quick_gelu(self.fc1(x)))  # x * sigmoid(1.702 x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = FeedForward(cfg)
        self.layer_norm1 = LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.layer_norm2 = LayerNorm(cfg.width, eps=cfg.layer_norm_eps)

    def __call__(self, x: mx.array) -> mx.array:
        ops.checkpoint(x)
        h = x + self.self_attn(self.layer_norm1(x))
        ops.checkpoint(h)
        return h + self.mlp(self.layer_norm2(h))


class Transformer(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.layers = [TransformerBlock(cfg) for _ in range(cfg.layers)]

    def __call__(self, x: mx.array) -> mx.array:
        for layer in self.layers:
            x = layer(x)
        return x


class CLIPEncoder(nn.Module):
    """SAM tokens [B, t*t, width] -> [B, t*t + 1, width] (row 0 = CLS)."""

    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.pre_layrnorm = LayerNorm(cfg.width, eps=cfg.layer_norm_eps)  # the checkpoint's spelling
        self.transformer = Transformer(cfg)

    def __call__(self, sam_tokens: mx.array) -> mx.array:
        return self.transformer(self.pre_layrnorm(self.embeddings(sam_tokens)))


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Checkpoint names with `model.vision_model.` stripped -> CLIPEncoder parameter names (the same names).

    The unused conv `embeddings.patch_embedding.weight` goes OIHW -> OHWI; a stored `position_ids` buffer (not
    in the hub checkpoint) is dropped."""
    out = {}
    for k, w in weights.items():
        if k.endswith("position_ids"):
            continue
        out[k] = w.transpose(0, 2, 3, 1) if k.endswith(".weight") and w.ndim == 4 else w
    return out
