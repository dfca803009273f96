"""The DeepSeek-V2 MoE language model of DeepSeek-OCR (v1) and DeepSeek-OCR-2 (v2), mlx-lm style.

`use_mla=false`: every layer is Llama attention (q/k/v/o without bias, RoPE rotate_half over the whole head,
causal) followed by a dense SwiGLU MLP (the first `first_k_dense_replace` layers) or a DeepSeek MoE: a float32
softmax gate, top-k experts without renormalisation, the weighted sum taken in float32, plus the shared
experts. Routed experts are stacked [E, out, in] and run with `mx.gather_mm` (`SwitchGLU`), never per expert.

Public: `LanguageConfig`, `DeepseekV2LM`, `sanitize` (original names; other layouts are mapped to those by
`weights/layouts.py`). Caches live in `kv_cache.py`. The few operations whose fastest form depends on the
device (attention, SwiGLU's product, few-row products, the experts) are `runtime.ops`' (bound at load), and
`ops.checkpoint` marks the cancel points between a prefill layer's halves.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..runtime import ops
from .kv_cache import make_batch_cache, make_cache
from .window_cache import make_batch_ring_cache, make_ring_cache


@dataclass
class LanguageConfig:
    """The checkpoint's `language_config` (defaults are `DeepseekV2Config`'s where the file omits a field)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    vocab_size: int
    intermediate_size: int
    num_key_value_heads: int | None = None
    moe_intermediate_size: int = 0
    n_routed_experts: int | None = None
    num_experts_per_tok: int | None = None
    n_shared_experts: int | None = None
    first_k_dense_replace: int = 0
    moe_layer_freq: int = 1
    mlp_layer_types: list | None = None  # transformers-native: "dense"/"sparse" per layer (wins if given)
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    max_position_embeddings: int = 8192
    bos_token_id: int = 0
    eos_token_id: int = 1
    routed_scaling_factor: float = 1.0
    norm_topk_prob: bool = False
    topk_method: str = "greedy"
    n_group: int | None = 1
    topk_group: int | None = 1
    scoring_func: str = "softmax"
    hidden_act: str = "silu"
    attention_bias: bool = False
    use_mla: bool = False
    ring_window: int | None = None  # Unlimited-OCR: decode attends over the prompt + the last W generated tokens
    head_dim: int = field(init=False)

    def __post_init__(self):
        if self.use_mla:
            raise ValueError("language_config.use_mla=true (multi-head latent attention) is not supported: "
                             "DeepSeek-OCR's language model uses plain multi-head attention (use_mla=false)")
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_attention_heads {self.num_attention_heads}")
        self.head_dim = self.hidden_size // self.num_attention_heads
        if self.rope_scaling:
            raise ValueError(f"rope_scaling={self.rope_scaling!r} is not supported (DeepSeek-OCR uses none)")
        if self.hidden_act != "silu":
            raise ValueError(f"hidden_act={self.hidden_act!r} is not supported (only silu)")
        if self.n_routed_experts:
            if self.scoring_func != "softmax":
                raise ValueError(f"scoring_func={self.scoring_func!r} is not supported (only softmax)")
            grouped_as_greedy = self.topk_method == "group_limited_greedy" and (self.n_group or 1) == 1
            if self.topk_method != "greedy" and not grouped_as_greedy:
                raise ValueError(f"topk_method={self.topk_method!r} is not supported (only greedy)")

    @classmethod
    def from_dict(cls, params: dict) -> "LanguageConfig":
        """Build from a `language_config` (or transformers `text_config`) dict; unknown keys are ignored."""
        params = dict(params)
        rope = params.get("rope_parameters")
        if isinstance(rope, dict) and "rope_theta" not in params:
            params["rope_theta"] = rope.get("rope_theta", 10000.0)
            if rope.get("rope_type", "default") != "default":
                params["rope_scaling"] = rope
        names = {f.name for f in fields(cls) if f.init}
        return cls(**{k: v for k, v in params.items() if k in names and v is not None})

    def is_moe_layer(self, i: int) -> bool:
        if self.mlp_layer_types is not None:
            return self.mlp_layer_types[i] == "sparse"
        return bool(self.n_routed_experts) and i >= self.first_k_dense_replace and i % self.moe_layer_freq == 0


# ---------------------------------------------------------------------------------------------------------
# Routed experts: stacked weights + gather_mm
# ---------------------------------------------------------------------------------------------------------

class SwitchLinear(nn.Module):
    """E bias-free linear layers stacked as `weight` [E, out, in]; each input row picks its expert."""

    def __init__(self, input_dims: int, output_dims: int, num_experts: int):
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-scale, scale, (num_experts, output_dims, input_dims))

    @property
    def num_experts(self) -> int:
        return self.weight.shape[0]

    def __call__(self, x: mx.array, indices: mx.array, sorted_indices: bool = False) -> mx.array:
        return ops.gather_linear(x, self["weight"], indices, sorted_indices)

    def to_quantized(self, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        return QuantizedSwitchLinear.from_switch_linear(self, group_size, bits, mode)


class QuantizedSwitchLinear(nn.Module):
    """`SwitchLinear` with MLX-quantized stacked weights (`weight`, `scales`, `biases`), via `mx.gather_qmm`."""

    def __init__(self, input_dims: int, output_dims: int, num_experts: int, group_size: int = 64,
                 bits: int = 4, mode: str = "affine"):
        super().__init__()
        self.group_size, self.bits, self.mode = group_size, bits, mode
        # placeholders in the affine layout (load_weights / from_switch_linear replace them)
        self.weight = mx.zeros((num_experts, output_dims, input_dims * bits // 32), mx.uint32)
        self.scales = mx.zeros((num_experts, output_dims, input_dims // group_size))
        if mode == "affine":
            self.biases = mx.zeros((num_experts, output_dims, input_dims // group_size))
        self.freeze()

    def __call__(self, x: mx.array, indices: mx.array, sorted_indices: bool = False) -> mx.array:
        return mx.gather_qmm(x, self["weight"], self["scales"], self.get("biases"), rhs_indices=indices,
                             transpose=True, group_size=self.group_size, bits=self.bits, mode=self.mode,
                             sorted_indices=sorted_indices)

    @classmethod
    def from_switch_linear(cls, layer: SwitchLinear, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        e, out, inp = layer.weight.shape
        q = cls(inp, out, e, group_size, bits, mode)
        q.weight, q.scales, *biases = mx.quantize(layer.weight, group_size, bits, mode=mode)
        if biases:
            q.biases = biases[0]
        elif "biases" in q:
            del q["biases"]
        q.freeze()
        return q


class SwitchGLU(nn.Module):
    """The routed experts: `down(silu(gate(x)) * up(x))` per (token, chosen expert), stacked weights.

    Few rows (decode): one gather_mm row per (token, slot). Many rows (prefill): the (token, slot) pairs are
    sorted by expert and laid out in blocks of `block` rows that each belong to one expert, so every block is
    one small GEMM (`gather_mm` with sorted block indices). The number of blocks has a static bound
    (ceil(M / block) + min(E, M)), so no host sync is needed; unused rows are computed and never read.
    On a CPU `ops.expert_mlp` does both instead (`runtime.kernels.products.expert_mlp`): each chosen expert's
    rows go through its three matrices as whole products, one expert per thread-pool job, and in a decode
    step the shared experts (`shared`, an `MLP` over every row) are one more job of the same dispatch.
    """

    def __init__(self, input_dims: int, hidden_dims: int, num_experts: int):
        super().__init__()
        self.gate_proj = SwitchLinear(input_dims, hidden_dims, num_experts)
        self.up_proj = SwitchLinear(input_dims, hidden_dims, num_experts)
        self.down_proj = SwitchLinear(hidden_dims, input_dims, num_experts)
        self.num_experts = num_experts

    def _mlp(self, x, idx, sorted_indices):
        h = nn.silu(self.gate_proj(x, idx, sorted_indices)) * self.up_proj(x, idx, sorted_indices)
        ops.checkpoint(h)  # prefill: a cancel point between the experts' products
        return self.down_proj(h, idx, sorted_indices)

    def grouped_threshold(self) -> int:
        return 4 * self.num_experts

    def __call__(self, x: mx.array, indices: mx.array, shared: "MLP | None" = None) -> tuple[mx.array, mx.array | None]:
        """x [..., D], indices [..., k] -> (expert outputs [..., k, D], `shared(x)` [..., D] or None), x's dtype."""
        fused = ops.expert_mlp(x, self, indices, shared)  # a CPU: every expert at once (None on a GPU)
        if fused is not None:
            return fused
        if indices.size >= self.grouped_threshold():
            y = self._grouped(x, indices)
        else:
            y = self._mlp(mx.expand_dims(x, (-2, -3)), indices, False).squeeze(-2)  # [..., k, 1, D] -> [..., k, D]
        return y, shared(x) if shared is not None else None

    def _grouped(self, x: mx.array, indices: mx.array) -> mx.array:
        *lead, dims = x.shape
        k = indices.shape[-1]
        n_exp = self.num_experts
        flat = indices.reshape(-1).astype(mx.int32)  # [M] expert of each (token, slot)
        m = flat.size
        block = 32 if m >= 32 * n_exp else 8
        order = mx.argsort(flat)  # (token, slot) pairs sorted by expert
        rank = mx.argsort(order)  # position of each pair in the sorted order
        counts = (flat[:, None] == mx.arange(n_exp)[None, :]).astype(mx.int32).sum(0)  # [E]
        start = mx.cumsum(counts) - counts  # first sorted position of each expert
        padded = ((counts + block - 1) // block) * block
        pend = mx.cumsum(padded)
        pstart = pend - padded  # first row of each expert in the block layout
        n_blocks = (m + block - 1) // block + min(n_exp, m)
        block_expert = mx.minimum((pend[None, :] <= (mx.arange(n_blocks) * block)[:, None]).sum(-1), n_exp - 1)
        row_expert = mx.repeat(block_expert, block)  # [n_blocks * block]
        src = mx.minimum(start[row_expert] + mx.arange(n_blocks * block) - pstart[row_expert], m - 1)
        rows = x.reshape(-1, dims)[order[src] // k].reshape(n_blocks, block, dims)
        y = self._mlp(rows, block_expert, True).reshape(n_blocks * block, -1)
        dest = pstart[flat] + rank - start[flat]  # row of each (token, slot) pair
        return y[dest].reshape(*lead, k, -1)


# ---------------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------------

class Linear(nn.Linear):
    """`nn.Linear` through `ops.linear` (on a CPU a decode step's few rows run at numpy's gemv speed, a bfloat16
    weight read as stored); quantizes to `nn.QuantizedLinear` as usual. A bfloat16 weight with float32 inputs
    computes in float32 on either route."""

    def __call__(self, x: mx.array) -> mx.array:
        return ops.linear(x, self)


class MLP(nn.Module):
    """SwiGLU MLP: down(silu(gate(x)) * up(x)), no biases."""

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.gate_proj = Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = Linear(intermediate_size, hidden_size, bias=False)

    def weights(self) -> tuple[mx.array, mx.array, mx.array]:
        """The (gate, up, down) weights [out, in] (quantized ones too: the CPU kernels then decline them)."""
        return self.gate_proj["weight"], self.up_proj["weight"], self.down_proj["weight"]

    def __call__(self, x: mx.array) -> mx.array:
        gate, up = ops.linears(x, (self.gate_proj, self.up_proj))
        return self.down_proj(ops.silu_mul(gate, up))


class MoEGate(nn.Module):
    """Router: float32 logits and softmax, top-k without renormalisation (unless norm_topk_prob), scaled."""

    def __init__(self, config: LanguageConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.norm_topk_prob = config.norm_topk_prob
        self.routed_scaling_factor = config.routed_scaling_factor
        self.weight = mx.zeros((config.n_routed_experts, config.hidden_size))

    def __call__(self, x: mx.array) -> tuple[mx.array, mx.array]:
        """x [..., H] -> (expert ids [..., k], float32 weights [..., k])."""
        logits = x.astype(mx.float32) @ self.weight.astype(mx.float32).T
        scores = mx.softmax(logits, axis=-1, precise=True)
        k = self.top_k
        inds = mx.argpartition(-scores, kth=k - 1, axis=-1)[..., :k]
        weights = mx.take_along_axis(scores, inds, axis=-1)
        if k > 1 and self.norm_topk_prob:
            weights = weights / (weights.sum(axis=-1, keepdims=True) + 1e-20)
        return inds, weights * self.routed_scaling_factor


class MoE(nn.Module):
    """DeepSeek MoE block: routed experts (weighted sum in float32, then cast) + shared experts."""

    def __init__(self, config: LanguageConfig):
        super().__init__()
        self.gate = MoEGate(config)
        self.switch_mlp = SwitchGLU(config.hidden_size, config.moe_intermediate_size, config.n_routed_experts)
        if config.n_shared_experts:
            self.shared_experts = MLP(config.hidden_size, config.moe_intermediate_size * config.n_shared_experts)

    def __call__(self, x: mx.array) -> mx.array:
        inds, weights = self.gate(x)
        y, shared = self.switch_mlp(x, inds, self.get("shared_experts"))  # [..., k, H], [..., H]
        y = (y.astype(mx.float32) * weights[..., None]).sum(axis=-2).astype(x.dtype)
        return y if shared is None else y + shared


class Attention(nn.Module):
    """Llama attention: q/k/v/o projections, RoPE (rotate_half, whole head), scale head_dim^-0.5."""

    def __init__(self, config: LanguageConfig):
        super().__init__()
        h, hd = config.hidden_size, config.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = config.num_attention_heads, config.num_key_value_heads, hd
        self.scale = hd ** -0.5
        bias = config.attention_bias
        self.q_proj = Linear(h, self.n_heads * hd, bias=bias)
        self.k_proj = Linear(h, self.n_kv_heads * hd, bias=bias)
        self.v_proj = Linear(h, self.n_kv_heads * hd, bias=bias)
        self.o_proj = Linear(self.n_heads * hd, h, bias=bias)
        # base ** (2i / d) in float32, as the reference's inv_freq (the fast kernel's own frequencies differ by
        # ~2e-4 at position 1000)
        exponent = np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd)
        self._freqs = mx.array(np.float32(config.rope_theta) ** exponent)

    def rope(self, x: mx.array, offset) -> mx.array:
        return mx.fast.rope(x, self.head_dim, traditional=False, base=None, scale=1.0, offset=offset,
                            freqs=self._freqs)

    def __call__(self, x: mx.array, mask=None, cache=None, offset=None) -> mx.array:
        b, length, _ = x.shape
        q, k, v = ops.linears(x, (self.q_proj, self.k_proj, self.v_proj))
        q = q.reshape(b, length, self.n_heads, -1).transpose(0, 2, 1, 3)
        k = k.reshape(b, length, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        v = v.reshape(b, length, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        if offset is None:
            offset = cache.offset if cache is not None else 0
        q, k = self.rope(q, offset), self.rope(k, offset)
        if cache is not None:
            k, v = cache.update_and_fetch(k, v)
        out = ops.attention(q, k, v, self.scale, mask)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(b, length, -1))


class DecoderLayer(nn.Module):
    """h = x + attn(norm(x)); y = h + mlp(norm(h))."""

    def __init__(self, config: LanguageConfig, index: int):
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MoE(config) if config.is_moe_layer(index) else MLP(config.hidden_size, config.intermediate_size)
        self.input_layernorm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def __call__(self, x: mx.array, mask=None, cache=None, offset=None) -> mx.array:
        ops.checkpoint(x)  # cancel points before each half of a prefill layer
        h = x + self.self_attn(self.input_layernorm(x), mask, cache, offset)
        ops.checkpoint(h)
        return h + self.mlp(self.post_attention_layernorm(h))


class DeepseekV2LM(nn.Module):
    """Embeddings, decoder layers, final norm and the (untied) LM head. Works in the parameters' dtype."""

    def __init__(self, config: LanguageConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [DecoderLayer(config, i) for i in range(config.num_hidden_layers)]
        self.norm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)

    @property
    def dtype(self) -> mx.Dtype:
        """The compute dtype (that of the float parameters)."""
        return self.norm.weight.dtype

    def embed(self, input_ids: mx.array) -> mx.array:
        """Token ids [B, L] -> embeddings [B, L, H] in the compute dtype (the table may be kept narrower)."""
        return self.embed_tokens(input_ids).astype(self.dtype)

    def __call__(self, inputs_embeds: mx.array, cache: list | None = None, mask=None, offset=None,
                 last_only: bool = False) -> mx.array:
        """inputs_embeds [B, L, H] -> float32 logits [B, L, V] ([B, 1, V] with `last_only`).

        `cache`: a list with one `KVCache` / `BatchKVCache` per layer (appended to). `mask` and `offset`
        (RoPE position of the first new token: int or int array [B]) default to what the cache says, or to a
        causal mask from position 0 without a cache.
        """
        h = inputs_embeds.astype(self.dtype)
        length = h.shape[1]
        if mask is None:
            mask = cache[0].make_mask(length) if cache is not None else ("causal" if length > 1 else None)
        for i, layer in enumerate(self.layers):
            h = layer(h, mask, cache[i] if cache is not None else None, offset)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(self.norm(h)).astype(mx.float32)

    def make_cache(self, window: bool = True) -> list:
        """One cache per layer: growing, or (Unlimited-OCR, unless `window` is False) the decode window's."""
        if window and self.config.ring_window:
            return make_ring_cache(self, self.config.ring_window)
        return make_cache(self)

    def make_batch_cache(self, lengths, window: bool = True) -> list:
        if window and self.config.ring_window:
            return make_batch_ring_cache(self, self.config.ring_window, lengths)
        return make_batch_cache(self, lengths)


# ---------------------------------------------------------------------------------------------------------
# Checkpoint names -> parameter names
# ---------------------------------------------------------------------------------------------------------

_EXPERT = re.compile(r"^layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.(weight|scales|biases)$")


def _stack_experts(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """`layers.N.mlp.experts.E.P.S` entries -> `layers.N.mlp.switch_mlp.P.S` stacked over E."""
    out: dict[str, mx.array] = {}
    groups: dict[str, dict[int, mx.array]] = {}
    for name, w in weights.items():
        m = _EXPERT.match(name)
        if m is None:
            out[name] = w
            continue
        layer, expert, proj, suffix = m.groups()
        groups.setdefault(f"layers.{layer}.mlp.switch_mlp.{proj}.{suffix}", {})[int(expert)] = w
    for name, by_expert in groups.items():
        n = len(by_expert)
        if sorted(by_expert) != list(range(n)):
            raise ValueError(f"{name}: experts {sorted(by_expert)} are not 0..{n - 1}")
        out[name] = mx.stack([by_expert[e] for e in range(n)])
    return out


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Original deepseek-ai LM names -> `DeepseekV2LM` parameter names (routed experts stacked [E, out, in]).

    `model.embed_tokens/layers/norm.*` lose the `model.` prefix; `lm_head.*` stays; names already in this
    module's form (e.g. stacked `switch_mlp`) pass through.
    """
    renamed = {(name[len("model."):] if name.startswith("model.") else name): w for name, w in weights.items()}
    return _stack_experts(renamed)
