"""Resampling used by the vision encoders, as PyTorch computes it, written as float32 matrices.

- `bicubic_aa_matrix` / `resize_bicubic_aa`: `F.interpolate(mode='bicubic', antialias=True, align_corners=False)`
  (ATen `_upsample_bicubic2d_aa`: Keys cubic with a = -0.5, support widened by the scale when downsampling,
  weights normalised per output). Used for SAM's `pos_embed` and the v1 CLIP position grid.
- `linear_resize_matrix` / `resize_rel_pos`: `F.interpolate(mode='linear', align_corners=False)` for SAM's
  relative-position tables.

The weights are computed once per size pair in float32 arithmetic (as ATen does for float32 inputs) and cached;
resizing is then a matmul per axis in float32, cast back to the input dtype.
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx
import numpy as np

_A = np.float32(-0.5)  # Keys' cubic coefficient of the antialiased bicubic filter


def _keys_cubic(x: np.float32) -> np.float32:
    x = np.float32(abs(x))
    one, two = np.float32(1), np.float32(2)
    if x < one:
        return ((_A + two) * x - (_A + np.float32(3))) * x * x + one
    if x < two:
        return ((_A * x - np.float32(5) * _A) * x + np.float32(8) * _A) * x - np.float32(4) * _A
    return np.float32(0)


@lru_cache(maxsize=None)
def _bicubic_aa(l_in: int, l_out: int) -> np.ndarray:
    f32 = np.float32
    scale = f32(l_in) / f32(l_out)
    support = f32(2) * scale if scale >= 1 else f32(2)
    invscale = f32(1) / scale if scale >= 1 else f32(1)
    max_size = int(np.ceil(support)) * 2 + 1
    m = np.zeros((l_out, l_in), np.float32)
    for i in range(l_out):
        center = scale * f32(i + 0.5)
        xmin = max(int(center - support + f32(0.5)), 0)
        xsize = min(int(center + support + f32(0.5)), l_in) - xmin
        xsize = min(max(xsize, 0), max_size)
        w = np.array([_keys_cubic((f32(j + xmin) - center + f32(0.5)) * invscale) for j in range(xsize)], np.float32)
        total = np.float32(0)
        for wj in w:  # sequential float32 sum, as ATen
            total = np.float32(total + wj)
        if total != 0:
            w = w / total
        m[i, xmin:xmin + xsize] = w
    m.setflags(write=False)
    return m


def bicubic_aa_matrix(l_in: int, l_out: int) -> np.ndarray:
    """[l_out, l_in] float32 weights of PyTorch's antialiased bicubic resize along one axis (read-only, cached)."""
    return _bicubic_aa(int(l_in), int(l_out))


def resize_bicubic_aa(x: mx.array, out_hw: tuple[int, int]) -> mx.array:
    """Antialiased bicubic resize of x [..., H, W, C] to [..., H', W', C], computed in float32.

    Width first, then height (ATen's order); the result is cast back to x.dtype."""
    *lead, H, W, C = x.shape
    oh, ow = int(out_hw[0]), int(out_hw[1])
    y = x.astype(mx.float32)
    if ow != W:
        y = mx.array(bicubic_aa_matrix(W, ow)) @ y  # [ow, W] @ [..., H, W, C] -> [..., H, ow, C]
    if oh != H:
        y = (mx.array(bicubic_aa_matrix(H, oh)) @ y.reshape(*lead, H, ow * C)).reshape(*lead, oh, ow, C)
    return y.astype(x.dtype)


@lru_cache(maxsize=None)
def _linear(l_in: int, l_out: int) -> np.ndarray:
    f32 = np.float32
    scale = f32(l_in) / f32(l_out)
    m = np.zeros((l_out, l_in), np.float32)
    for i in range(l_out):
        src = max(scale * f32(i + 0.5) - f32(0.5), f32(0))
        i0 = int(src)
        i1 = i0 + 1 if i0 < l_in - 1 else i0
        lam = f32(src - f32(i0))
        m[i, i0] += f32(1) - lam
        m[i, i1] += lam
    m.setflags(write=False)
    return m


def linear_resize_matrix(l_in: int, l_out: int) -> np.ndarray:
    """[l_out, l_in] float32 weights of `F.interpolate(mode='linear', align_corners=False)` (read-only, cached).

    Output i samples the input at max((i + 0.5) * l_in / l_out - 0.5, 0) with linear weights."""
    return _linear(int(l_in), int(l_out))


def resize_rel_pos(rel_pos: mx.array, l_out: int) -> mx.array:
    """A relative-position table [L, C] linearly resized to [l_out, C] in float32, cast back to its dtype."""
    if rel_pos.shape[0] == l_out:
        return rel_pos
    m = mx.array(linear_resize_matrix(rel_pos.shape[0], l_out))
    return (m @ rel_pos.astype(mx.float32)).astype(rel_pos.dtype)
