"""Checkpoint layouts: one function per layout mapping its tensor names onto the original deepseek-ai names.

Every checkpoint is first brought to the original layout (the names and shapes of `expected.py`), checked
against the expected-tensor table in one go, and only then split into the model parts' own `sanitize`.

Layouts (which one a checkpoint is in is told by its tensor names, `detect_layout`; config.json's schema is
independent of it, e.g. transformers' `save_pretrained` writes the original names by default):
- "deepseek": the original hub layout (`model.sam_model.*`, `model.layers.*`, per-expert MoE tensors).
- "transformers": transformers-native DeepSeek-OCR-2 names, as transformers 5 holds them in memory and writes them
  with `save_pretrained(save_original_format=False)` (the inverse of its `conversion_mapping` "deepseek_ocr2").
- "mlx_vlm": mlx-vlm's `deepseekocr` / `deepseekocr_2` module names (mlx-community conversions): no `model.`
  prefix, stacked `switch_mlp` experts, channels-last (OHWI) conv weights; quantized `.scales` / `.biases`
  companions are renamed with their weight.
"""

from __future__ import annotations

import re

import mlx.core as mx

from .errors import CheckpointError


def from_deepseek(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """The original deepseek-ai hub layout: already canonical."""
    return dict(weights)


def _rename(name: str, table) -> str:
    """Apply the first matching (pattern, replacement) of `table` to `name`."""
    for pat, rep in table:
        new, n = pat.subn(rep, name)
        if n:
            return new
    return name


def _split_experts(prefix: str, proj: str, w: mx.array, out: dict[str, mx.array], suffix: str = "weight") -> None:
    """Stacked experts [E, ...] -> `prefix.E.proj.suffix` per expert (lazy slices, no copies)."""
    for e in range(w.shape[0]):
        out[f"{prefix}.{e}.{proj}.{suffix}"] = w[e]


# transformers-native DeepSeek-OCR-2 -> original names: the inverse of transformers 5's conversion_mapping
# "deepseek_ocr2" (checked against transformers 5.23). Non-persistent buffers (rotary inv_freq) are not saved.
_TF_RENAMES = [(re.compile(p), r) for p, r in [
    (r"^model\.vision_tower\.sam_encoder\.layers\.(\d+)\.layer_norm([12])\.", r"model.sam_model.blocks.\1.norm\2."),
    (r"^model\.vision_tower\.sam_encoder\.layers\.(\d+)\.", r"model.sam_model.blocks.\1."),
    (r"^model\.vision_tower\.sam_encoder\.patch_embed\.projection\.", "model.sam_model.patch_embed.proj."),
    (r"^model\.vision_tower\.sam_encoder\.pos_embed$", "model.sam_model.pos_embed"),
    (r"^model\.vision_tower\.sam_encoder\.neck\.conv1\.", "model.sam_model.neck.0."),
    (r"^model\.vision_tower\.sam_encoder\.neck\.layer_norm1\.", "model.sam_model.neck.1."),
    (r"^model\.vision_tower\.sam_encoder\.neck\.conv2\.", "model.sam_model.neck.2."),
    (r"^model\.vision_tower\.sam_encoder\.neck\.layer_norm2\.", "model.sam_model.neck.3."),
    (r"^model\.vision_tower\.sam_encoder\.proj\.conv1\.", "model.sam_model.net_2."),
    (r"^model\.vision_tower\.sam_encoder\.proj\.conv2\.", "model.sam_model.net_3."),
    (r"^model\.vision_tower\.vision_encoder\.", "model.qwen2_model.model.model."),
    (r"^model\.vision_tower\.query_(768|1024)_resolution\.", r"model.qwen2_model.query_\1."),
    (r"^model\.multi_modal_projector\.", "model.projector.layers."),
    (r"^model\.view_separator$", "model.view_seperator"),
    (r"^model\.language_model\.", "model."),
]]
_TF_FUSED = re.compile(r"^(model\.layers\.\d+\.mlp\.experts)\.(gate_up_proj|down_proj)$")


def from_transformers(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """transformers-native DeepSeek-OCR-2 layout: renames, and fused experts split per expert.

    `experts.gate_up_proj` [E, 2I, H] holds each expert's gate rows then its up rows (transformers concatenates
    [gate, up] on dim 1); `experts.down_proj` is [E, H, I]."""
    out: dict[str, mx.array] = {}
    for name, w in weights.items():
        name = _rename(name, _TF_RENAMES)
        fused = _TF_FUSED.match(name)
        if fused is None:
            out[name] = w
            continue
        prefix, kind = fused.groups()
        if kind == "gate_up_proj":
            inter = w.shape[1] // 2
            _split_experts(prefix, "gate_proj", w[:, :inter], out)
            _split_experts(prefix, "up_proj", w[:, inter:], out)
        else:
            _split_experts(prefix, "down_proj", w, out)
    return out


# mlx-vlm (0.7.10) `deepseekocr` / `deepseekocr_2` parameter names -> original names. mlx-vlm's `sanitize` is the
# forward map (original -> these); saved mlx-community checkpoints hold these names (`tree_flatten(parameters)`).
_MLX_RENAMES = [(re.compile(p), r) for p, r in [
    (r"^language_model\.model\.", "model."),
    (r"^language_model\.lm_head\.", "lm_head."),
    (r"^vision_model\.qwen2_encoder\.(layers|norm)\.", r"model.qwen2_model.model.model.\1."),
    (r"^vision_model\.qwen2_encoder\.query_(768|1024)$", r"model.qwen2_model.query_\1.weight"),
    (r"^vision_model\.", "model.vision_model."),
    (r"^sam_model\.", "model.sam_model."),
    (r"^projector\.", "model.projector."),
    (r"^view_separator$", "model.view_seperator"),
    (r"^image_newline$", "model.image_newline"),
]]
_MLX_SWITCH = re.compile(r"^(model\.layers\.\d+\.mlp)\.switch_mlp\.(gate_proj|up_proj|down_proj)"
                         r"\.(weight|scales|biases)$")
# conv weights mlx-vlm stores channels-last (OHWI); the original layout is OIHW
_MLX_CONVS = re.compile(r"^model\.(sam_model\.(patch_embed\.proj|neck\.[02]|net_[23])"
                        r"|vision_model\.embeddings\.patch_embedding)\.weight$")


def from_mlx_vlm(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """mlx-vlm layout (mlx-community DeepSeek-OCR / DeepSeek-OCR-2): prefixes restored, `view_separator` back
    to the original spelling, stacked `switch_mlp` experts split per expert (weights and any quantization
    `scales`/`biases`), conv weights OHWI -> OIHW, `position_ids` buffers dropped."""
    out: dict[str, mx.array] = {}
    for name, w in weights.items():
        if name.endswith("position_ids"):
            continue
        name = _rename(name, _MLX_RENAMES)
        switch = _MLX_SWITCH.match(name)
        if switch is not None:
            prefix, proj, suffix = switch.groups()
            _split_experts(f"{prefix}.experts", proj, w, out, suffix)
        elif _MLX_CONVS.match(name) and w.ndim == 4:
            out[name] = w.transpose(0, 3, 1, 2)
        else:
            out[name] = w
    return out


LAYOUTS = {"deepseek": from_deepseek, "transformers": from_transformers, "mlx_vlm": from_mlx_vlm}


def detect_layout(names) -> str:
    """Which layout a set of tensor names is in."""
    names = set(names)
    if any(n.startswith(("model.vision_tower.", "model.language_model.", "model.multi_modal_projector."))
           for n in names):
        return "transformers"
    if any(n.startswith("model.sam_model.") for n in names):
        return "deepseek"
    if any(n.startswith(("sam_model.", "language_model.model.", "vision_model.")) for n in names):
        return "mlx_vlm"
    raise CheckpointError("the weights are in no known layout (expected deepseek-ai, transformers or mlx-vlm "
                          "names); use the original deepseek-ai/DeepSeek-OCR(-2) checkpoint")


def check_tensors(weights: dict[str, mx.array], expected: dict[str, tuple], where: str) -> None:
    """Raise one CheckpointError listing every unused, missing and mis-shaped tensor (nothing if all match)."""
    unused = sorted(set(weights) - set(expected))
    missing = sorted(set(expected) - set(weights))
    wrong = sorted(f"{n} {tuple(weights[n].shape)} (expected {expected[n]})"
                   for n in set(expected) & set(weights) if tuple(weights[n].shape) != tuple(expected[n]))
    if not (unused or missing or wrong):
        return

    def show(items):
        return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing: {show(missing)}")
    if wrong:
        parts.append(f"{len(wrong)} with the wrong shape: {show(wrong)}")
    if unused:
        parts.append(f"{len(unused)} unused: {show(unused)}")
    raise CheckpointError(f"{where}: the weights do not match config.json ({'; '.join(parts)}); "
                          "the checkpoint is damaged or belongs to another model: download it again")
