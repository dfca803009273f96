"""SAM ViT-B "DeepEncoder" stage shared by DeepSeek-OCR (v1) and DeepSeek-OCR-2 (v2).

Pixels [B, S, S, 3] (NHWC, normalised) -> 16-px patch embedding + absolute positions (bicubic-antialias resized
from the 64x64 table when S != 1024) -> ViT blocks (14x14 windows with unmasked zero padding, or global
attention), each with decomposed relative-position bias -> neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d)
-> net_2 / net_3 (3x3 stride-2 convs) -> tokens [B, (S/64)^2, C_out], row-major.

The relative-position bias rel_h[q, ky] + rel_w[q, kx] goes to `runtime.ops.attention` as its two
factors, so no [L, L] bias tensor is ever built (MLX folds it into the product; the CPU path adds it per chunk).

The MLP's exact GELU uses a rational erf approximation (the one in Eigen/XLA), computed in float32: its error
(<= 4.2e-7 absolute) matches `mx.erf`'s, and it runs ~4x faster on CPU, where `mx.erf` is scalar (and ~3x
faster again in numpy, which the CPU path uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..runtime import ops
from .interpolate import resize_bicubic_aa, resize_rel_pos
from .norm import LayerNorm


@dataclass
class SAMConfig:
    width: int
    layers: int
    heads: int
    global_attn_indexes: tuple[int, ...]
    downsample_channels: tuple[int, int]  # (net_2 out, net_3 out)
    patch_size: int = 16
    window_size: int = 14
    neck_channels: int = 256
    pos_grid: int = 64
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6

    @classmethod
    def from_dict(cls, d: dict, net3_out: int | None = None) -> "SAMConfig":
        """From `vision_config["width"]["sam_vit_b"]`. `net3_out` overrides `downsample_channels[1]` (stale in v2)."""
        ds = d.get("downsample_channels", [512, 1024])
        out = int(net3_out) if net3_out is not None else int(ds[1])
        return cls(width=int(d["width"]), layers=int(d["layers"]), heads=int(d["heads"]),
                   global_attn_indexes=tuple(int(i) for i in d.get("global_attn_indexes", ())),
                   downsample_channels=(int(ds[0]), out))


@lru_cache(maxsize=None)
def _rel_index(q_size: int, k_size: int) -> np.ndarray:
    """Table row for each (query, key) pair, as `get_rel_pos` computes it: [q_size, k_size] int32."""
    q = np.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k = np.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    return ((q - k) + (k_size - 1) * max(q_size / k_size, 1.0)).astype(np.int64).astype(np.int32)


def get_rel_pos(q_size: int, k_size: int, rel_pos: mx.array) -> mx.array:
    """Relative-position embeddings [q_size, k_size, C]; the table is linearly resized first if needed."""
    rel_pos = resize_rel_pos(rel_pos, int(2 * max(q_size, k_size) - 1))
    idx = _rel_index(q_size, k_size)
    return mx.take(rel_pos, mx.array(idx.reshape(-1)), axis=0).reshape(q_size, k_size, -1)


class Attention(nn.Module):
    """Multi-head attention with decomposed relative positions over a [N, h, w, C] grid (a window or the view)."""

    def __init__(self, dim: int, heads: int, rel_len: int):
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = mx.zeros((rel_len, head_dim))
        self.rel_pos_w = mx.zeros((rel_len, head_dim))

    def __call__(self, x: mx.array) -> mx.array:
        N, h, w, C = x.shape
        L, nh = h * w, self.heads
        qkv = self.qkv(x)
        ops.checkpoint(qkv)  # the projection of a page's tile batch alone takes ~0.15 s on a CPU
        q, k, v = ops.split_qkv(qkv.reshape(N, L, -1), nh)  # [N, nh, L, hd], views of qkv
        hd = q.shape[-1]
        rh = get_rel_pos(h, h, self.rel_pos_h)  # [h, kh, hd]
        rw = get_rel_pos(w, w, self.rel_pos_w)  # [w, kw, hd]
        qg = q.reshape(N, nh, h, w, hd)
        rel_h = qg @ rh.swapaxes(1, 2)  # [N, nh, h, w, kh]: sum_c q[y, x, c] Rh[y, ky, c]  (unscaled q)
        rel_w = (qg.swapaxes(2, 3) @ rw.swapaxes(1, 2)).swapaxes(2, 3)  # [N, nh, h, w, kw]
        o = ops.attention(q, k, v, self.scale, rel_pos=(rel_h.reshape(N, nh, L, h), rel_w.reshape(N, nh, L, w)))
        return self.proj(o.transpose(0, 2, 1, 3).reshape(N, h, w, C))


class MLPBlock(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.lin2(ops.gelu_erf(self.lin1(x)))  # exact (erf) GELU, as nn.GELU()


def window_partition(x: mx.array, ws: int) -> tuple[mx.array, tuple[int, int]]:
    """[B, H, W, C] -> zero-padded (bottom/right) windows [B * nw, ws, ws, C] and the padded size."""
    B, H, W, C = x.shape
    ph, pw = (ws - H % ws) % ws, (ws - W % ws) % ws
    if ph or pw:
        x = mx.pad(x, [(0, 0), (0, ph), (0, pw), (0, 0)])
    Hp, Wp = H + ph, W + pw
    x = x.reshape(B, Hp // ws, ws, Wp // ws, ws, C).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws, ws, C), (Hp, Wp)


def window_unpartition(windows: mx.array, ws: int, pad_hw: tuple[int, int], hw: tuple[int, int]) -> mx.array:
    """Inverse of `window_partition`, cropping the padding: -> [B, H, W, C]."""
    Hp, Wp = pad_hw
    H, W = hw
    C = windows.shape[-1]
    B = windows.shape[0] // ((Hp // ws) * (Wp // ws))
    x = windows.reshape(B, Hp // ws, Wp // ws, ws, ws, C).transpose(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, C)
    return x[:, :H, :W] if (Hp > H or Wp > W) else x


class Block(nn.Module):
    """Pre-LN ViT block; `window_size` 0 means global attention."""

    def __init__(self, cfg: SAMConfig, window_size: int):
        super().__init__()
        self.window_size = window_size
        self.norm1 = LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        rel_len = 2 * (window_size if window_size > 0 else cfg.pos_grid) - 1
        self.attn = Attention(cfg.width, cfg.heads, rel_len)
        self.norm2 = LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.mlp = MLPBlock(cfg.width, int(cfg.width * cfg.mlp_ratio))

    def __call__(self, x: mx.array) -> mx.array:
        ops.checkpoint(x)
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:  # padded tokens are zeros after norm1 and are NOT masked (reference behaviour)
            H, W = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x), self.window_size, pad_hw, (H, W))
        else:
            x = self.attn(x)
        x = shortcut + x
        ops.checkpoint(x)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Conv2d(3 -> width, k = s = patch) as one matmul over flattened patches (same weights, same sum)."""

    def __init__(self, cfg: SAMConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=True)

    def __call__(self, pixels: mx.array) -> mx.array:
        B, S, _, cin = pixels.shape
        w = self.proj.weight  # [O, p, p, I]
        p = w.shape[1]
        g = S // p
        patches = pixels.reshape(B, g, p, g, p, cin).transpose(0, 1, 3, 2, 4, 5).reshape(B, g, g, p * p * cin)
        return patches @ w.reshape(w.shape[0], -1).T + self.proj.bias


class SAMEncoder(nn.Module):
    """pixels [B, S, S, 3] (S a multiple of 64) -> tokens [B, (S/64)^2, downsample_channels[1]], row-major."""

    def __init__(self, cfg: SAMConfig):
        super().__init__()
        self.config = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.pos_embed = mx.zeros((1, cfg.pos_grid, cfg.pos_grid, cfg.width))
        glob = set(cfg.global_attn_indexes)
        self.blocks = [Block(cfg, 0 if i in glob else cfg.window_size) for i in range(cfg.layers)]
        nc = cfg.neck_channels
        self.neck = [
            nn.Conv2d(cfg.width, nc, kernel_size=1, bias=False),
            LayerNorm(nc, eps=cfg.layer_norm_eps),  # LayerNorm2d over channels = LayerNorm on NHWC's last axis
            nn.Conv2d(nc, nc, kernel_size=3, padding=1, bias=False),
            LayerNorm(nc, eps=cfg.layer_norm_eps),
        ]
        c2, c3 = cfg.downsample_channels
        self.net_2 = nn.Conv2d(nc, c2, kernel_size=3, stride=2, padding=1, bias=False)
        self.net_3 = nn.Conv2d(c2, c3, kernel_size=3, stride=2, padding=1, bias=False)

    def positions(self, grid: int) -> mx.array:
        """pos_embed [1, grid, grid, C]: the stored table, bicubic-antialias resized in float32 if grid differs."""
        if grid == self.pos_embed.shape[1]:
            return self.pos_embed
        return resize_bicubic_aa(self.pos_embed, (grid, grid))

    def __call__(self, pixels: mx.array) -> mx.array:
        x = self.patch_embed(pixels)
        x = x + self.positions(x.shape[1])
        for blk in self.blocks:
            x = blk(x)
        for layer in self.neck:
            x = layer(x)
        x = self.net_3(self.net_2(x))
        return x.reshape(x.shape[0], -1, x.shape[-1])


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Checkpoint names with `model.sam_model.` stripped -> SAMEncoder parameter names (the same names).

    Conv weights (`*.weight` of rank 4: patch_embed.proj, neck.0, neck.2, net_2, net_3) go OIHW -> OHWI."""
    return {k: (w.transpose(0, 2, 3, 1) if k.endswith(".weight") and w.ndim == 4 else w) for k, w in weights.items()}
