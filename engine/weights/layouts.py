"""Checkpoint layouts: one function per layout mapping its tensor names onto the original deepseek-ai names.

Every checkpoint is first brought to the original layout (the names and shapes of `expected.py`), checked
against the expected-tensor table in one go, and only then split into the model parts' own `sanitize`.
"""

from __future__ import annotations

import re

import mlx.core as mx

from .errors import CheckpointError


def from_deepseek(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """The original deepseek-ai hub layout: already canonical."""
    return dict(weights)


# transformers-native DeepSeek-OCR-2 (`deepseek-community/DeepSeek-OCR-2`) -> original names.
_TF_RENAMES = [
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
]


def from_transformers(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """transformers-native DeepSeek-OCR-2 layout: renames, and fused experts split per expert."""
    out: dict[str, mx.array] = {}
    for name, w in weights.items():
        for pat, rep in _TF_RENAMES:
            new = re.sub(pat, rep, name)
            if new != name:
                name = new
                break
        fused = re.match(r"^(model\.layers\.\d+\.mlp\.experts)\.(gate_up_proj|down_proj)$", name)
        if fused:
            prefix, kind = fused.groups()
            if kind == "gate_up_proj":  # [E, 2I, H]: gate rows first, then up
                inter = w.shape[1] // 2
                for e in range(w.shape[0]):
                    out[f"{prefix}.{e}.gate_proj.weight"] = w[e, :inter]
                    out[f"{prefix}.{e}.up_proj.weight"] = w[e, inter:]
            else:  # [E, H, I]
                for e in range(w.shape[0]):
                    out[f"{prefix}.{e}.down_proj.weight"] = w[e]
            continue
        out[name] = w
    return out


LAYOUTS = {"deepseek": from_deepseek, "transformers": from_transformers}


def detect_layout(names) -> str:
    """Which layout a set of tensor names is in."""
    names = set(names)
    if any(n.startswith("model.vision_tower.") or n.startswith("model.language_model.") for n in names):
        return "transformers"
    if any(n.startswith("model.sam_model.") for n in names):
        return "deepseek"
    raise CheckpointError("the weights are in no known layout (expected deepseek-ai or transformers names); "
                          "use the original deepseek-ai/DeepSeek-OCR(-2) checkpoint")


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
