"""DeepSeek-OCR-2 "Visual Causal Flow" encoder: a Qwen2-0.5B body run over [SAM tokens ; learned queries].

The n SAM tokens X and a learned query bank Q (one bank per view size, chosen by its row count n) form a
sequence of 2n positions. Image tokens attend to every image token and to no query; query i attends to every
image token and to queries 0..i. The encoder returns the final-normed states at the n query positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ..runtime import ops
from ..weights.config import QWEN2_DEFAULTS

# SAM downsamples a view by 16 (patches) * 4 (neck + net_2/net_3 strides): an S-pixel view gives (S/64)^2 tokens
_VIEW_TO_GRID = 64


@dataclass
class CausalFlowConfig:
    dim: int
    layers: int = QWEN2_DEFAULTS["layers"]
    heads: int = QWEN2_DEFAULTS["heads"]
    kv_heads: int = QWEN2_DEFAULTS["kv_heads"]
    intermediate_size: int = QWEN2_DEFAULTS["intermediate_size"]
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1e6
    query_views: tuple[int, ...] = (768, 1024)  # one learned query bank `query_<view>` per view size

    @classmethod
    def from_dict(cls, d: dict) -> "CausalFlowConfig":
        """From `vision_config["width"]["qwen2-0-5b"]`; absent keys take the official constants."""
        ints = {k: int(d[k]) for k in ("layers", "heads", "kv_heads", "intermediate_size") if d.get(k) is not None}
        floats = {k: float(d[k]) for k in ("rms_norm_eps", "rope_theta") if d.get(k) is not None}
        return cls(dim=int(d["dim"]), **ints, **floats)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


def flow_mask(n: int, dtype: mx.Dtype = mx.float32) -> mx.array:
    """Additive [2n, 2n] mask: image rows see image columns only; query row i sees all images and queries <= i."""
    i = mx.arange(2 * n)[:, None]
    j = mx.arange(2 * n)[None, :]
    allowed = (j < n) | ((i >= n) & (j <= i))
    return mx.where(allowed, mx.array(0, dtype), mx.array(mx.finfo(dtype).min, dtype))


class Attention(nn.Module):
    def __init__(self, cfg: CausalFlowConfig):
        super().__init__()
        hd = cfg.head_dim
        self.heads, self.kv_heads, self.head_dim = cfg.heads, cfg.kv_heads, hd
        self.scale = hd ** -0.5
        self.rope_theta = cfg.rope_theta
        self.q_proj = nn.Linear(cfg.dim, cfg.heads * hd, bias=True)
        self.k_proj = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=True)
        self.v_proj = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=True)
        self.o_proj = nn.Linear(cfg.heads * hd, cfg.dim, bias=False)

    def __call__(self, x: mx.array, mask: mx.array) -> mx.array:
        B, L, _ = x.shape
        q = self.q_proj(x).reshape(B, L, self.heads, self.head_dim).transpose(0, 2, 1, 3)
        k = self.k_proj(x).reshape(B, L, self.kv_heads, self.head_dim).transpose(0, 2, 1, 3)
        v = self.v_proj(x).reshape(B, L, self.kv_heads, self.head_dim).transpose(0, 2, 1, 3)
        # positions 0..L-1, rotate_half (NeoX) over the whole head
        q = mx.fast.rope(q, self.head_dim, traditional=False, base=self.rope_theta, scale=1.0, offset=0)
        k = mx.fast.rope(k, self.head_dim, traditional=False, base=self.rope_theta, scale=1.0, offset=0)
        o = ops.attention(q, k, v, self.scale, mask)
        return self.o_proj(o.transpose(0, 2, 1, 3).reshape(B, L, -1))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        g, u = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(ops.silu_mul(g, u))  # silu(g) * u


class DecoderLayer(nn.Module):
    def __init__(self, cfg: CausalFlowConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg.dim, cfg.intermediate_size)
        self.input_layernorm = nn.RMSNorm(cfg.dim, eps=cfg.rms_norm_eps)
        self.post_attention_layernorm = nn.RMSNorm(cfg.dim, eps=cfg.rms_norm_eps)

    def __call__(self, x: mx.array, mask: mx.array) -> mx.array:
        ops.checkpoint(x)
        h = x + self.self_attn(self.input_layernorm(x), mask)
        ops.checkpoint(h)
        return h + self.mlp(self.post_attention_layernorm(h))


class CausalFlowEncoder(nn.Module):
    """SAM tokens [B, n, dim] -> query-position outputs [B, n, dim] (n = rows of one of the query banks)."""

    def __init__(self, cfg: CausalFlowConfig):
        super().__init__()
        self.config = cfg
        self.layers = [DecoderLayer(cfg) for _ in range(cfg.layers)]
        self.norm = nn.RMSNorm(cfg.dim, eps=cfg.rms_norm_eps)
        for view in cfg.query_views:
            setattr(self, f"query_{view}", mx.zeros(((view // _VIEW_TO_GRID) ** 2, cfg.dim)))

    def query_bank(self, n: int) -> mx.array:
        """The learned query bank with n rows (its size comes from the loaded weights)."""
        banks = {view: getattr(self, f"query_{view}") for view in self.config.query_views}
        for bank in banks.values():
            if bank.shape[0] == n:
                return bank
        supported = ", ".join(f"{b.shape[0]} tokens ({v}-px view)" for v, b in banks.items())
        raise ValueError(f"causal-flow encoder: no query bank for {n} SAM tokens; supported: {supported}")

    def __call__(self, sam_tokens: mx.array) -> mx.array:
        B, n, _ = sam_tokens.shape
        queries = self.query_bank(n).astype(sam_tokens.dtype)
        x = mx.concatenate([sam_tokens, mx.broadcast_to(queries[None], (B, n, queries.shape[-1]))], axis=1)
        mask = flow_mask(n, x.dtype)
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x[:, n:])


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Checkpoint names with `model.qwen2_model.` stripped -> this module's parameter names.

    `model.model.layers.N.*` / `model.model.norm.weight` -> `layers.N.*` / `norm.weight`;
    `query_<view>.weight` -> `query_<view>`."""
    out = {}
    for name, w in weights.items():
        if name.startswith("model.model."):
            name = name[len("model.model."):]
        elif name.startswith("query_") and name.endswith(".weight"):
            name = name[: -len(".weight")]
        out[name] = w
    return out
