"""The whole model: vision (v1 or v2) plus the DeepSeek MoE language model, built from a verified checkpoint.

`load(model)` resolves a folder or hub id, checks the weights against config.json, builds the modules,
maps the original tensor names onto them (one `sanitize` per model part) and casts to the compute dtype.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import mlx.core as mx
import mlx.nn as nn

from .language import deepseek_v2
from .runtime.device import parse_dtype
from .vision import causal_flow, clip, sam
from .vision.encoder import VisionV1, VisionV2
from .weights.errors import CheckpointError
from .weights.load import Checkpoint, read_checkpoint

# checkpoint prefix -> (module prefix, the part's sanitize); first match wins, the rest is the language model
_VISION_PARTS = (
    ("model.sam_model.", "vision.sam_model.", sam.sanitize),
    ("model.vision_model.", "vision.vision_model.", clip.sanitize),
    ("model.qwen2_model.", "vision.qwen2_model.", causal_flow.sanitize),
    ("model.projector.", "vision.projector.", dict),
)
_VISION_VECTORS = {"model.image_newline": "vision.image_newline", "model.view_seperator": "vision.view_seperator"}


class DeepseekOCR(nn.Module):
    """Vision encoder + projector + language model of DeepSeek-OCR (v1) or DeepSeek-OCR-2 (v2)."""

    def __init__(self, ck_config):
        super().__init__()
        cfg = ck_config
        hidden = int(cfg.projector.get("n_embed") or cfg.hidden_size)
        if cfg.version == "v1":
            sam_cfg = sam.SAMConfig.from_dict(cfg.sam, net3_out=int(cfg.sam["downsample_channels"][1]))
            self.vision = VisionV1(sam_cfg, clip.CLIPConfig.from_dict(cfg.clip), hidden)
        else:
            sam_cfg = sam.SAMConfig.from_dict(cfg.sam, net3_out=int(cfg.qwen2["dim"]))
            self.vision = VisionV2(sam_cfg, causal_flow.CausalFlowConfig.from_dict(cfg.qwen2), hidden)
        self.language_model = deepseek_v2.DeepseekV2LM(deepseek_v2.LanguageConfig.from_dict(cfg.language))


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Original deepseek-ai names -> this module tree's parameter names (each part's own sanitize)."""
    parts: dict[str, dict[str, mx.array]] = {p: {} for p, _, _ in _VISION_PARTS}
    out: dict[str, mx.array] = {}
    language: dict[str, mx.array] = {}
    for name, w in weights.items():
        if name in _VISION_VECTORS:
            out[_VISION_VECTORS[name]] = w
            continue
        for prefix, _, _ in _VISION_PARTS:
            if name.startswith(prefix):
                parts[prefix][name[len(prefix):]] = w
                break
        else:
            language[name] = w
    for prefix, target, fn in _VISION_PARTS:
        if parts[prefix]:
            out.update({target + k: v for k, v in fn(parts[prefix]).items()})
    out.update({"language_model." + k: v for k, v in deepseek_v2.sanitize(language).items()})
    return out


@dataclass
class Model:
    """A loaded model: what `engine.load` returns and every run takes."""

    module: DeepseekOCR
    checkpoint: Checkpoint
    dtype: mx.Dtype
    name: str
    load_seconds: float = 0.0
    warmup: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.checkpoint.config.version

    @property
    def tokenizer(self):
        return self.checkpoint.tokenizer

    @property
    def vision(self):
        return self.module.vision

    @property
    def language_model(self):
        return self.module.language_model


def _cast(weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[str, mx.array]:
    return {k: (v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v) for k, v in weights.items()}


def build(ck: Checkpoint, dtype: mx.Dtype) -> DeepseekOCR:
    """Build the modules for a verified checkpoint and load its weights strictly."""
    module = DeepseekOCR(ck.config)
    weights = _cast(sanitize(ck.weights), dtype)
    if ck.config.quantization:
        from .weights.quantized_model import quantize_like

        quantize_like(module, ck.config.quantization, weights)
    try:
        module.load_weights(list(weights.items()), strict=True)
    except ValueError as e:
        raise CheckpointError(f"{ck.folder}: the weights do not fit the model ({e})") from None
    module.eval()
    mx.eval(module.parameters())
    return module


def load(model: str | os.PathLike, dtype: str | mx.Dtype | None = None, progress: Callable | None = None,
         warmup_tiles: int | None = None) -> Model:
    """Load a model from a local folder or a Hugging Face repo id.

    `dtype`: compute dtype ('float32', 'bfloat16', 'float16'; default float32 on CPU, bfloat16 on a GPU).
    `warmup_tiles`: if set, run one encode at that many tiles so the first real image does not pay for it;
    the peak memory seen is in `Model.warmup`."""
    t0 = time.perf_counter()
    ck = read_checkpoint(model, progress)
    compute = parse_dtype(dtype)
    m = Model(build(ck, compute), ck, compute, name=str(model) if not Path(str(model)).exists()
              else str(Path(model).resolve()))
    m.load_seconds = time.perf_counter() - t0
    if warmup_tiles:
        from .pipeline import warm_up

        m.warmup = warm_up(m, warmup_tiles)
    return m
