"""The whole model: vision (v1 or v2) plus the DeepSeek MoE language model, built from a verified checkpoint.

`load(model)` resolves a folder or hub id, checks the weights against config.json, builds the modules,
maps the original tensor names onto them (one `sanitize` per model part) and casts to the compute dtype.

Memory: the stored tensors are read lazily and each parameter is built (read, stacked, cast) and evaluated on
its own, its stored tensors released as soon as it is done, so a load holds the model plus one parameter's
sources, never a second copy of the checkpoint (`Model.checkpoint.weights` is emptied). On a CPU, weights may
stay in the stored bfloat16 while everything computes in float32 (`runtime.memory.narrow_weights`): the
language model's matrices with the compiled kernels, else the routed experts when the float32 model would not
fit the memory cap.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from .language import deepseek_v2
from .runtime.blas import warn_if_slow
from .runtime import ops
from .runtime.device import parse_dtype
from .runtime.memory import LANGUAGE_MODEL, narrow_weights
from .runtime.memory import fit_buffer_cache, release_freed_memory, set_cache_limit
from .vision import causal_flow, clip, sam
from .vision.encoder import VisionV1, VisionV2
from .weights.errors import CheckpointError
from .weights.expected import net3_width
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
    """Vision encoder + projector + language model of DeepSeek-OCR (v1), DeepSeek-OCR-2 (v2) or Unlimited-OCR
    (v1's vision; its language model decodes with a window, `LanguageConfig.ring_window`)."""

    def __init__(self, ck_config):
        super().__init__()
        cfg = ck_config
        hidden = int(cfg.projector.get("n_embed") or cfg.hidden_size)
        sam_cfg = sam.SAMConfig.from_dict(cfg.sam, net3_out=net3_width(cfg))
        if cfg.family == "v1":
            self.vision = VisionV1(sam_cfg, clip.CLIPConfig.from_dict(cfg.clip), hidden)
        else:
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
    expert_dtype: mx.Dtype | None = None  # the routed experts' stored dtype (differs from `dtype` to save memory)
    narrow: str | None = None  # which weights kept their stored dtype: memory.LANGUAGE_MODEL or ROUTED_EXPERTS
    vision_dtype: mx.Dtype | None = None  # the vision encoder's dtype (None: `dtype`)
    warmup: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.checkpoint.config.version

    @property
    def encode_dtype(self) -> mx.Dtype:
        """The dtype the vision encoder computes in (float32 with `vision_dtype="float32"`, else `dtype`)."""
        return self.vision_dtype or self.dtype

    @property
    def tokenizer(self):
        return self.checkpoint.tokenizer

    @property
    def vision(self):
        return self.module.vision

    @property
    def language_model(self):
        return self.module.language_model


LOAD_CACHE = 256 << 20  # bytes of freed stored tensors MLX keeps for reuse during a load (fewer page faults)
EXPERT_STACKS = ".switch_mlp."  # in the parameter names of the stacked routed experts


def _keeps_narrow(name: str, w: mx.array, which: str) -> bool:
    """Whether parameter `name` stays in the narrow dtype: a routed-expert stack, or (`memory.LANGUAGE_MODEL`)
    any matrix of the language model (its norms' vectors take the compute dtype)."""
    if which == LANGUAGE_MODEL:
        return name.startswith("language_model.") and w.ndim >= 2
    return EXPERT_STACKS in name


def _cast(weights: dict[str, mx.array], dtype: mx.Dtype, narrow: tuple[mx.Dtype, str] | None = None,
          vision_dtype: mx.Dtype | None = None) -> dict[str, mx.array]:
    """Lazy casts of the float tensors to `dtype` (the vision encoder's to `vision_dtype` when given), except
    those `narrow` = (dtype, which) names that are stored in its dtype (never narrowed: a tensor stored wider is
    widened like the rest)."""
    def target(name, w):
        if vision_dtype is not None and name.startswith("vision."):
            return vision_dtype
        keep = narrow is not None and w.dtype == narrow[0] and _keeps_narrow(name, w, narrow[1])
        return w.dtype if keep else dtype

    return {k: (v.astype(target(k, v)) if mx.issubdtype(v.dtype, mx.floating) else v) for k, v in weights.items()}


def _materialize(module: nn.Module, progress: Callable | None) -> None:
    """Evaluate the parameters one at a time (each frees its stored sources when done); report bytes done."""
    params = [p for _, p in tree_flatten(module.parameters())]
    total, done = sum(p.nbytes for p in params), 0
    for p in params:
        mx.eval(p)
        done += p.nbytes
        if progress is not None:
            progress(done, total)
    del params


def build(ck: Checkpoint, dtype: mx.Dtype, narrow: tuple[mx.Dtype, str] | None = None,
          progress: Callable | None = None, vision_dtype: mx.Dtype | None = None) -> DeepseekOCR:
    """Build the modules for a verified checkpoint and load its weights strictly.

    Takes the tensors out of `ck` (its `weights` is emptied): the stored copy is released parameter by parameter.
    `narrow`: (dtype, which) for weights that keep a narrower dtype than `dtype` (`memory.narrow_weights`);
    `progress(done_bytes, total_bytes)` while evaluating."""
    module = DeepseekOCR(ck.config)
    weights = sanitize(ck.weights)
    ck.weights = {}
    weights = _cast(weights, dtype, narrow, vision_dtype)
    if ck.config.quantization:
        from .weights.quantized_model import quantize_like

        quantize_like(module, ck.config.quantization, weights)
    try:
        module.load_weights(list(weights.items()), strict=True)
    except ValueError as e:
        raise CheckpointError(f"{ck.folder}: the weights do not fit the model ({e})") from None
    del weights
    module.eval()
    prev = set_cache_limit(LOAD_CACHE)  # freed sources are reused for the next ones, then given back
    try:
        _materialize(module, progress)
    finally:
        set_cache_limit(prev)
        release_freed_memory()
    return module


def load(model: str | os.PathLike, dtype: str | mx.Dtype | None = None, progress: Callable | None = None,
         warmup_tiles: int | None = None, *, load_progress: Callable[[int, int], None] | None = None,
         memory_limit_gb: float | None = None, vision_dtype: str | mx.Dtype | None = None) -> Model:
    """Load a model from a local folder or a Hugging Face repo id.

    `dtype`: compute dtype ('float32', 'bfloat16', 'float16'; default float32 on CPU, bfloat16 on a GPU).
    `progress`: a tqdm-compatible class for the download progress bars (hub ids not yet in the cache).
    `load_progress(done_bytes, total_bytes)`: called while the weights are read and converted (a few hundred
    calls); it may raise to abort the load.
    `memory_limit_gb`: the memory the model may hold (default: 80% of the RAM). On a CPU computing in float32
    the language model's matrices stay in bfloat16 where the compiled kernels are installed (products read
    them as stored); without those, the routed experts stay in bfloat16 when the float32 weights would not fit
    the cap (each step converts the experts it uses) - see `runtime.memory`.
    `vision_dtype`: the vision encoder's own dtype (e.g. 'float32' while the language model computes in
    bfloat16 or is quantized: the fix mlx-vlm's users found for Unlimited-OCR's loops); default `dtype`.
    `warmup_tiles`: if set, run one encode at that many tiles so the first real image does not pay for it;
    the peak memory seen is in `Model.warmup`."""
    t0 = time.perf_counter()
    warn_if_slow()  # the one place matrix work starts: say here, not on import, when the BLAS is slow
    ops.bind()  # the device-dependent operations for the device this model runs on
    ck = read_checkpoint(model, progress)
    compute = parse_dtype(dtype)
    vision = parse_dtype(vision_dtype) if vision_dtype is not None else None
    vision = None if vision is None or vision == compute else vision
    narrow = narrow_weights(ck, compute, memory_limit_gb)
    m = Model(build(ck, compute, narrow, load_progress, vision), ck, compute, name=str(model)
              if not Path(str(model)).exists() else str(Path(model).resolve()), vision_dtype=vision)
    m.expert_dtype, m.narrow = (narrow[0], narrow[1]) if narrow else (compute, None)
    fit_buffer_cache(sum(w.nbytes for _, w in tree_flatten(m.module.parameters())), memory_limit_gb,
                     tight=narrow is not None)
    m.load_seconds = time.perf_counter() - t0
    if warmup_tiles:
        from .pipeline import warm_up

        m.warmup = warm_up(m, warmup_tiles)
    return m
