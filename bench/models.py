"""Real-size models with random weights for the benchmarks, ours and mlx-vlm's, sharing the same arrays.

Ours is built from the real configs (`engine.testing.real_config`, spec section 5 shapes); mlx-vlm's
`deepseekocr` / `deepseekocr_2` models are built from the same config dicts, and every parameter of theirs is
set to the *same* `mx.array` object as ours (names mapped by prefix; both keep conv weights OHWI and routed
experts stacked [E, out, in]), so the two sides compute with identical weights and no memory is duplicated.
Also: analytic FLOP counts of the encoders and active-parameter bytes of the language model.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

from engine.model import DeepseekOCR
from engine.language.deepseek_v2 import DeepseekV2LM, LanguageConfig
from engine.testing import real_config
from engine.weights.config import parse_config

NORM_SUFFIXES = ("norm.weight", "norm1.weight", "norm2.weight", "layrnorm.weight", "layer_norm1.weight",
                 "layer_norm2.weight", "layernorm.weight", "neck.1.weight", "neck.3.weight")


def config(version: str, lm_layers: int | None = None) -> dict:
    cfg = real_config(version)
    if lm_layers is not None:
        cfg["language_config"]["num_hidden_layers"] = lm_layers
        cfg["num_hidden_layers"] = lm_layers
    return cfg


def random_pool(rng: np.random.Generator) -> mx.array:
    """16M standard normal float32 values to cut tensors from (`from_pool`)."""
    return mx.array(rng.standard_normal(1 << 24, dtype=np.float32))


def from_pool(pool: mx.array, rng: np.random.Generator, shape) -> mx.array:
    """A tensor of `shape` cut from `pool` at a random offset (wrapping around), lazily."""
    start, need, parts = int(rng.integers(0, pool.size)), int(np.prod(shape)), []
    while need > 0:
        take = min(need, pool.size - start)
        parts.append(pool[start:start + take])
        need -= take
        start = 0
    return (parts[0] if len(parts) == 1 else mx.concatenate(parts)).reshape(shape)


def _randomize(module: nn.Module, seed: int, std: float = 0.05) -> None:
    """Gaussian float32 weights (norm weights around 1), cut from one 16M-value random pool at random offsets
    (generating billions of independent normals would take minutes; the values only need to be realistic)."""
    rng = np.random.default_rng(seed)
    pool = random_pool(rng)
    new = []
    for name, p in tree_flatten(module.parameters()):
        w = from_pool(pool, rng, p.shape)
        w = 1.0 + 0.1 * w if name.endswith(NORM_SUFFIXES) else std * w
        mx.eval(w)
        new.append((name, w))
    module.load_weights(new, strict=True)


def our_vision(version: str, seed: int = 0):
    """Our VisionV1 / VisionV2 at real size, random float32 weights."""
    cfg = parse_config(config(version, 1))
    vision = DeepseekOCR(cfg).vision
    _randomize(vision, seed)
    vision.eval()
    return vision


def our_language_model(layers: int, seed: int = 1) -> DeepseekV2LM:
    """The 3B MoE language model (real widths, `layers` layers: layer 0 dense, the rest MoE), random float32."""
    lm = DeepseekV2LM(LanguageConfig.from_dict(config("v1", layers)["language_config"]))
    _randomize(lm, seed, std=0.02)
    lm.eval()
    return lm


def narrow_language_model(lm: DeepseekV2LM) -> DeepseekV2LM:
    """Its matrices in bfloat16, norms in float32: what `engine.load` keeps on a CPU with the compiled kernels."""
    lm.load_weights([(n, w.astype(mx.bfloat16) if w.ndim >= 2 else w) for n, w in tree_flatten(lm.parameters())])
    mx.eval(lm.parameters())
    return lm


# ---------------------------------------------------------------------------------------------------------
# mlx-vlm (optional: only when it is importable, e.g. from /work/benchvenv)
# ---------------------------------------------------------------------------------------------------------

def mlxvlm_available() -> str | None:
    """mlx-vlm's version, or None when it cannot be imported."""
    try:
        import mlx_vlm.models.deepseekocr  # noqa: F401
        import mlx_vlm.models.deepseekocr_2  # noqa: F401
        from mlx_vlm.version import __version__
    except Exception:  # noqa: BLE001 - any import problem means: not available
        return None
    return __version__


def _vlm_model(version: str, lm_layers: int):
    if version == "v1":
        from mlx_vlm.models import deepseekocr as pkg
    else:
        from mlx_vlm.models import deepseekocr_2 as pkg
    cfg = pkg.ModelConfig.from_dict(config(version, lm_layers))
    return pkg.Model(cfg)


def _share(theirs: nn.Module, pairs: list[tuple[str, mx.array]]) -> None:
    """Load `pairs` into `theirs` strictly (every parameter, right shapes); the arrays are shared, not copied."""
    names = {n for n, _ in tree_flatten(theirs.parameters())}
    given = {n for n, _ in pairs}
    if names != given:
        raise ValueError(f"mlx-vlm mapping mismatch: missing {sorted(names - given)[:5]}, "
                         f"unexpected {sorted(given - names)[:5]}")
    theirs.load_weights(pairs, strict=True)


def vision_to_mlxvlm(vision, version: str) -> list[tuple[str, mx.array]]:
    """Our vision parameters under mlx-vlm's names (shared arrays)."""
    pairs = []
    for name, w in tree_flatten(vision.parameters()):
        if name.startswith("qwen2_model."):
            name = "vision_model.qwen2_encoder." + name[len("qwen2_model."):]
        elif name == "view_seperator":
            name = "view_separator"
        pairs.append((name, w))
    return pairs


def lm_to_mlxvlm(lm: DeepseekV2LM) -> list[tuple[str, mx.array]]:
    """Our language-model parameters under mlx-vlm's names (shared arrays)."""
    out = []
    for name, w in tree_flatten(lm.parameters()):
        out.append(("language_model." + (name if name.startswith("lm_head.") else "model." + name), w))
    return out


def mlxvlm_vision_model(vision, version: str):
    """mlx-vlm's whole Model (vision side loaded with our arrays; its LM part is a stub of one layer, unused)."""
    model = _vlm_model(version, 1)
    theirs = [(n, w) for n, w in tree_flatten(model.parameters()) if n.startswith("language_model.")]
    _share(model, vision_to_mlxvlm(vision, version) + theirs)
    model.eval()
    return model


def mlxvlm_language_model(lm: DeepseekV2LM):
    """mlx-vlm's `LanguageModel` of DeepSeek-OCR with our LM's arrays."""
    from mlx_vlm.models.deepseekocr.config import TextConfig
    from mlx_vlm.models.deepseekocr.language import LanguageModel

    cfg = config("v1", len(lm.layers))["language_config"]
    theirs = LanguageModel(TextConfig.from_dict(cfg))
    _share(theirs, [(n[len("language_model."):], w) for n, w in lm_to_mlxvlm(lm)])
    theirs.eval()
    return theirs


# ---------------------------------------------------------------------------------------------------------
# Analytic FLOPs (multiply-add = 2 FLOPs) and active bytes
# ---------------------------------------------------------------------------------------------------------

def sam_flops(view: int, out_channels: int, width: int = 768, heads: int = 12, layers: int = 12,
              global_indexes: tuple[int, ...] = (2, 5, 8, 11), window: int = 14, patch: int = 16) -> float:
    """One view of SAM-B: patch embed, 12 blocks (qkv/proj on padded windows, MLP, attention with the
    decomposed relative-position terms), neck and the two stride-2 convs."""
    g = view // patch
    L = g * g
    gp = math.ceil(g / window) * window
    n_win = (gp // window) ** 2
    hd = width // heads
    f = 2 * L * width * patch * patch * 3
    for i in range(layers):
        is_global = i in global_indexes
        tokens = L if is_global else gp * gp
        f += 2 * tokens * width * 3 * width + 2 * tokens * width * width  # qkv, proj
        f += 2 * 2 * L * width * 4 * width  # MLP
        if is_global:
            f += heads * (2 * 2 * L * L * hd + 2 * 2 * L * g * hd)  # QK, PV, rel_h + rel_w
        else:
            w2 = window * window
            f += heads * n_win * (2 * 2 * w2 * w2 * hd + 2 * 2 * w2 * window * hd)
    f += 2 * L * width * 256 + 2 * L * 256 * 256 * 9  # neck
    f += 2 * (L // 4) * 256 * 512 * 9 + 2 * (L // 16) * 512 * out_channels * 9  # net_2, net_3
    return float(f)


def clip_flops(view: int, width: int = 1024, layers: int = 24, ffn: int = 4096) -> float:
    n = (view // 64) ** 2 + 1
    per = 2 * n * width * 3 * width + 2 * n * width * width + 2 * 2 * n * width * ffn + 2 * 2 * n * n * width
    return float(layers * per)


def qwen2_flops(view: int, dim: int = 896, layers: int = 24, heads: int = 14, kv_heads: int = 2,
                ffn: int = 4864) -> float:
    n = (view // 64) ** 2
    s = 2 * n
    hd = dim // heads
    per = 2 * s * dim * (heads * hd + 2 * kv_heads * hd) + 2 * s * heads * hd * dim + 3 * 2 * s * dim * ffn
    per += 2 * 2 * s * s * heads * hd
    return float(layers * per)


def encoder_flops(version: str, view: int) -> float:
    """One view through the whole vision side: SAM + CLIP (v1) or Qwen2 (v2) + projector."""
    n = (view // 64) ** 2
    if version == "v1":
        return sam_flops(view, 1024) + clip_flops(view) + 2 * n * 2048 * 1280
    return sam_flops(view, 896) + qwen2_flops(view) + 2 * n * 896 * 1280


def page_flops(version: str, tiles: int, tile: int, global_view: int = 1024) -> float:
    return tiles * encoder_flops(version, tile) + encoder_flops(version, global_view)


def lm_active_params(layers: int, cfg: dict | None = None) -> dict[str, float]:
    """Parameters read per decoded token: attention + dense MLP or (gate + k routed + shared experts) per layer,
    the final norm and the LM head (one embedding row is negligible)."""
    c = cfg or config("v1", layers)["language_config"]
    h, moe, k = c["hidden_size"], c["moe_intermediate_size"], c["num_experts_per_tok"]
    attn = 4 * h * h
    dense = 3 * h * c["intermediate_size"]
    moe_active = c["n_routed_experts"] * h + k * 3 * h * moe + 3 * h * moe * c["n_shared_experts"]
    first = c.get("first_k_dense_replace", 1)
    per_layer = [attn + (dense if i < first else moe_active) + 2 * h for i in range(layers)]
    head = c["vocab_size"] * h + h
    return {"layers": float(sum(per_layer)), "moe_layer": float(attn + moe_active + 2 * h),
            "dense_layer": float(attn + dense + 2 * h), "head": float(head), "total": float(sum(per_layer) + head)}
