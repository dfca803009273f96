"""Read a checkpoint's config.json: detect the model version and pull out each part's settings.

Both the original deepseek-ai schema (`model_type` "deepseek_vl_v2") and the transformers-native
DeepSeek-OCR-2 schema (`model_type` "deepseek_ocr2") are understood. Sizes are never assumed: they come from
here and from tensor shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError

V1_ARCHS = {"DeepseekOCRForCausalLM"}
V2_ARCHS = {"DeepseekOCR2ForCausalLM", "DeepseekOcr2ForConditionalGeneration"}
# Official constants of the v2 encoder, used when the real config.json gives only `dim`.
QWEN2_DEFAULTS = {"layers": 24, "heads": 14, "kv_heads": 2, "intermediate_size": 4864}


@dataclass
class CheckpointConfig:
    """The parts of config.json the engine needs, in the original schema's terms."""

    version: str  # "v1" or "v2"
    layout: str  # "deepseek" (original hub layout) or "transformers" (native DeepSeek-OCR-2)
    language: dict  # language_config
    sam: dict  # vision_config.width.sam_vit_b
    clip: dict | None  # v1: vision_config.width["clip-l-14-224"]
    qwen2: dict | None  # v2: vision_config.width["qwen2-0-5b"], official defaults filled in
    projector: dict
    quantization: dict | None = None  # {"bits": 4, "group_size": 64} for MLX-quantized checkpoints
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def hidden_size(self) -> int:
        return int(self.language["hidden_size"])


def _version_of(cfg: dict, where: str) -> tuple[str, str]:
    archs = set(cfg.get("architectures") or [])
    model_type = cfg.get("model_type")
    if model_type == "deepseek_ocr2":
        return "v2", "transformers"
    if archs & V1_ARCHS:
        return "v1", "deepseek"
    if archs & V2_ARCHS:
        return "v2", "deepseek"
    name = (cfg.get("vision_config") or {}).get("model_name")
    if name == "deeplip_b_l":
        return "v1", "deepseek"
    if name == "deepencoderv2":
        return "v2", "deepseek"
    raise CheckpointError(
        f"{where}: not a DeepSeek-OCR checkpoint (architectures={sorted(archs) or None}, "
        f"model_type={model_type!r}); use deepseek-ai/DeepSeek-OCR or deepseek-ai/DeepSeek-OCR-2"
    )


def _transformers_parts(cfg: dict) -> tuple[dict, dict, dict, dict]:
    """Map the transformers-native DeepseekOcr2Config onto the original schema's parts."""
    text = cfg.get("text_config") or {}
    vision = cfg.get("vision_config") or {}
    sam_src = vision.get("sam_config") or {}
    enc_src = vision.get("encoder_config") or {}
    language = dict(text)
    sam = {
        "width": sam_src.get("hidden_size", 768),
        "layers": sam_src.get("num_hidden_layers", 12),
        "heads": sam_src.get("num_attention_heads", 12),
        "global_attn_indexes": sam_src.get("global_attn_indexes", [2, 5, 8, 11]),
        "downsample_channels": sam_src.get("downsample_channels", [512, enc_src.get("hidden_size", 896)]),
    }
    qwen2 = {
        "dim": enc_src.get("hidden_size", 896),
        "layers": enc_src.get("num_hidden_layers", QWEN2_DEFAULTS["layers"]),
        "heads": enc_src.get("num_attention_heads", QWEN2_DEFAULTS["heads"]),
        "kv_heads": enc_src.get("num_key_value_heads", QWEN2_DEFAULTS["kv_heads"]),
        "intermediate_size": enc_src.get("intermediate_size", QWEN2_DEFAULTS["intermediate_size"]),
    }
    projector = {"input_dim": qwen2["dim"], "n_embed": language.get("hidden_size")}
    return language, sam, qwen2, projector


def parse_config(cfg: dict, where: str = "config.json") -> CheckpointConfig:
    """Validate and split a config.json dict. Raises CheckpointError naming what is missing."""
    version, layout = _version_of(cfg, where)
    if layout == "transformers":
        language, sam, qwen2, projector = _transformers_parts(cfg)
        clip = None
    else:
        language = cfg.get("language_config") or {k: v for k, v in cfg.items() if k not in ("vision_config",)}
        widths = (cfg.get("vision_config") or {}).get("width") or {}
        sam = widths.get("sam_vit_b")
        clip = widths.get("clip-l-14-224") if version == "v1" else None
        qwen2 = widths.get("qwen2-0-5b") if version == "v2" else None
        projector = cfg.get("projector_config") or {}
        if sam is None:
            raise CheckpointError(f"{where}: vision_config.width.sam_vit_b is missing")
        if version == "v1" and clip is None:
            raise CheckpointError(f"{where}: vision_config.width['clip-l-14-224'] is missing")
        if version == "v2":
            if qwen2 is None or "dim" not in qwen2:
                raise CheckpointError(f"{where}: vision_config.width['qwen2-0-5b'].dim is missing")
            qwen2 = {**QWEN2_DEFAULTS, **qwen2}
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if key not in language:
            raise CheckpointError(f"{where}: language_config.{key} is missing")
    if language.get("use_mla"):
        raise CheckpointError(f"{where}: use_mla=true (multi-head latent attention) is not a DeepSeek-OCR model")
    quant = cfg.get("quantization") or cfg.get("quantization_config")
    return CheckpointConfig(version, layout, dict(language), dict(sam), clip and dict(clip), qwen2,
                            dict(projector), quant if isinstance(quant, dict) and "bits" in quant else None, cfg)


def read_config(folder: str | Path) -> CheckpointConfig:
    """Read and parse `folder/config.json`."""
    path = Path(folder) / "config.json"
    if not path.exists():
        raise CheckpointError(f"{folder}: config.json is missing; is this a DeepSeek-OCR model folder?")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: config.json is not valid JSON ({e}); re-download the model") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: config.json does not hold a JSON object; re-download the model")
    return parse_config(cfg, str(path))
