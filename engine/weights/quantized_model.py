"""Quantize a built model the way a checkpoint was quantized, and write MLX-quantized checkpoints.

A quantized checkpoint keeps the original tensor names; each quantized `X.weight` has `X.scales` and
`X.biases` beside it and config.json records `"quantization": {"bits": B, "group_size": G}` (as mlx-lm does).
Only the language model is quantized (it holds ~90% of the parameters and is what decode streams from
memory); the MoE router (`mlp.gate`) and the norms stay in full precision, as does the vision encoder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

LM_PREFIXES = ("model.embed_tokens.", "model.layers.", "lm_head.")


def quantizable(name: str, w: mx.array, group_size: int) -> bool:
    """Language-model matrices whose input width is a multiple of the group size (router and norms excluded)."""
    return (name.startswith(LM_PREFIXES) and name.endswith(".weight") and w.ndim == 2
            and not name.endswith(("mlp.gate.weight", "layernorm.weight")) and w.shape[-1] % group_size == 0)


def quantize_like(module: nn.Module, quant: dict, sanitized: dict[str, mx.array]) -> None:
    """Swap in quantized layers wherever the (sanitized) checkpoint has `scales` for them."""
    nn.quantize(module, group_size=int(quant["group_size"]), bits=int(quant["bits"]),
                class_predicate=lambda path, m: hasattr(m, "to_quantized") and f"{path}.scales" in sanitized)


def quantize_checkpoint(ck, out: str | Path, bits: int = 4, group_size: int = 64) -> Path:
    """Write an MLX-quantized copy of checkpoint `ck` (a weights.load.Checkpoint) into folder `out`."""
    if bits not in (2, 3, 4, 5, 6, 8):
        raise ValueError(f"--q-bits {bits}: use 4 or 8 (MLX also supports 2, 3, 5, 6)")
    if group_size not in (32, 64, 128):
        raise ValueError(f"--q-group-size {group_size}: use 32, 64 or 128")
    if ck.config.quantization:
        raise ValueError(f"{ck.folder}: the model is already quantized; convert the original bf16 checkpoint")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights: dict[str, mx.array] = {}
    for name, w in ck.weights.items():
        if quantizable(name, w, group_size):
            q, scales, biases = mx.quantize(w, group_size=group_size, bits=bits)
            stem = name[: -len(".weight")]
            weights[name], weights[f"{stem}.scales"], weights[f"{stem}.biases"] = q, scales, biases
        else:
            weights[name] = w
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    config = dict(ck.config.raw)
    config["quantization"] = {"bits": bits, "group_size": group_size}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (ck.folder / name).exists():
            shutil.copy(ck.folder / name, out / name)
    return out
