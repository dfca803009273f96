"""Attention on the CPU: numpy's vectorised softmax over chunks of scores on the thread pool.

MLX's CPU `exp` / softmax run scalar and single-threaded (~35-75 M elements/s), so the softmax over SAM's
global-attention scores (12 x 4096 x 4096 per view) takes seconds; numpy's `exp` does ~1-2 G elements/s. Scores,
softmax and probs @ V run in float32 in chunks of ~4 MB of scores spread over the pool (numpy's BLAS
single-threaded inside it); under a causal mask, blocks of query rows skip the keys none of their rows may see
(about half of a prompt's scores). It computes what MLX's fallback computes (`q * scale`, `q @ k^T` (+ additive
mask / bias, or -inf where a bool mask is False), a max-subtracted float32 softmax, `@ v`); results agree to
~1e-6 relative. SAM's decomposed relative-position bias is an argument of its own (`rel_pos`): numpy adds it to
the scores chunk by chunk; MLX folds it into the product (queries [q * scale | rel_h | rel_w], keys
[k | onehot(ky) | onehot(kx)]), so no [Lq, Lk] bias tensor is ever built on either path. On a GPU (or with
`DSOCR_CPU_KERNELS=mlx`) `attention` is `mx.fast.scaled_dot_product_attention`.
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx
import numpy as np

from .pool import as_numpy, output, run_jobs
from .route import uses_numpy

CHUNK_ELEMENTS = 1 << 20  # scores per chunk (float32: 4 MB, cache-sized)
CAUSAL_ROWS = 256  # query rows per chunk under a causal mask (a page's 860-token prefill: 30 -> 21 ms per layer)
_ALIGN = 64  # MLX path: the augmented q/k width is padded to a multiple of this (odd widths run ~2x slower)


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
    qn, kn, vn = as_numpy(q), as_numpy(k), as_numpy(v)
    maskn = rel_h = rel_w = causal = None
    if isinstance(mask, mx.array):
        maskn = np.asarray(mask) if mask.dtype == mx.bool_ else as_numpy(mask)
        maskn = maskn.reshape((1,) * (4 - maskn.ndim) + maskn.shape)
    elif isinstance(mask, str) and mask == "causal":
        if Lk >= Lq:  # every row sees at least one key: each chunk skips the keys none of its rows may see
            causal = Lk - Lq
        else:
            maskn = (np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq))[None, None]
    elif mask is not None:
        raise ValueError(f"attention: unsupported mask {mask!r}")
    if rel_pos is not None:
        rel_h, rel_w = (as_numpy(r) for r in rel_pos)
        kh, kw = rel_h.shape[-1], rel_w.shape[-1]
        if kh * kw != Lk:
            raise ValueError(f"attention: a {kh} x {kw} relative-position grid does not fit {Lk} keys")

    res, buf = output((B, Lq, H, Dv))  # written in [B, Lq, H, Dv]: the caller's transpose back is free
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

    return run_jobs(run, jobs, res, buf, out_dtype).transpose(0, 2, 1, 3)
