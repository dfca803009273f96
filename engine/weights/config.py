"""Read a checkpoint's config.json: detect the model version and pull out each part's settings.

Both the original deepseek-ai schema (`model_type` "deepseek_vl_v2", or mlx-vlm's "deepseekocr" /
"deepseekocr_2" on the same schema) and the transformers-native DeepSeek-OCR-2 schema (`model_type`
"deepseek_ocr2", `DeepseekOcr2Config`) are understood. Sizes are never assumed: they come from
here and from tensor shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError

V1_ARCHS = {"DeepseekOCRForCausalLM"}
UNLIMITED_ARCHS = {"UnlimitedOCRForCausalLM"}
UNLIMITED_TYPES = {"unlimited-ocr", "unlimited_ocr"}  # the hub's model_type, and mlx-vlm's
V2_ARCHS = {"DeepseekOCR2ForCausalLM", "DeepseekOcr2ForConditionalGeneration"}
# Official constants of the v2 encoder, used when the real config.json gives only `dim`.
# the official sizes of DeepSeek-OCR-2's Qwen2-0.5B encoder, for the keys a config.json leaves out (the one place
# they are written: `vision.causal_flow.CausalFlowConfig` takes its defaults from here)
QWEN2_DEFAULTS = {"layers": 24, "heads": 14, "kv_heads": 2, "intermediate_size": 4864}


@dataclass
class CheckpointConfig:
    """The parts of config.json the engine needs, in the original schema's terms."""

    version: str  # "v1", "v2" or "unlimited" (Unlimited-OCR: v1's vision, a windowed decode)
    layout: str  # config schema: "deepseek" (original, mlx-vlm too) or "transformers" (DeepseekOcr2Config)
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

    @property
    def family(self) -> str:
        """The vision encoder and token layout: "v1" (SAM + CLIP, also Unlimited-OCR's) or "v2"."""
        return "v2" if self.version == "v2" else "v1"


MLX_VLM_TYPES = {"deepseekocr": "v1", "deepseekocr_2": "v2"}  # mlx-vlm's model_type (mlx-community conversions)


def _version_of(cfg: dict, where: str) -> tuple[str, str]:
    """(version, config schema): schema "transformers" for DeepseekOcr2Config, else "deepseek" (original)."""
    archs = set(cfg.get("architectures") or [])
    model_type = cfg.get("model_type")
    if model_type == "deepseek_ocr2":
        return "v2", "transformers"
    if model_type in UNLIMITED_TYPES or archs & UNLIMITED_ARCHS:
        return "unlimited", "deepseek"
    if model_type in MLX_VLM_TYPES:  # the original schema with mlx-vlm's model_type
        return MLX_VLM_TYPES[model_type], "deepseek"
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
        f"model_type={model_type!r}); use deepseek-ai/DeepSeek-OCR, deepseek-ai/DeepSeek-OCR-2 or baidu/Unlimited-OCR"
    )


# transformers 5.23 class defaults (configuration_deepseek_ocr2.py), used for keys a config.json leaves out,
# exactly as transformers itself would
TF_SAM_DEFAULTS = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                   "global_attn_indexes": [2, 5, 8, 11], "downsample_channels": [512, 896]}
TF_ENCODER_DEFAULTS = {"hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
                       "num_attention_heads": 32, "rms_norm_eps": 1e-6}
TF_TEXT_DEFAULTS = {"vocab_size": 102400, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                    "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
                    "bos_token_id": 1, "eos_token_id": 2, "n_routed_experts": 64, "n_shared_experts": 2,
                    "routed_scaling_factor": 1.0, "topk_method": "greedy", "moe_intermediate_size": 1407}
# settings the engine hard-codes (spec section 3): a transformers config that differs is refused, not misread
TF_SAM_FIXED = {"patch_size": 16, "window_size": 14, "image_size": 1024, "output_channels": 256,
                "num_channels": 3, "layer_norm_eps": 1e-6, "hidden_act": "gelu", "qkv_bias": True,
                "use_abs_pos": True, "use_rel_pos": True}
TF_ENCODER_FIXED = {"hidden_act": "silu", "use_sliding_window": False}
TF_TEXT_FIXED = {"hidden_act": "silu", "attention_bias": False, "mlp_bias": False}


def _rope_theta(part: dict, default: float) -> tuple[float, str]:
    """(theta, rope_type) from transformers 5 `rope_parameters` (or a legacy top-level `rope_theta`)."""
    rope = part.get("rope_parameters") or {}
    return float(rope.get("rope_theta", part.get("rope_theta", default))), rope.get("rope_type", "default")


def _check_fixed(part: dict, fixed: dict, what: str, where: str) -> None:
    bad = [f"{k}={part[k]!r} (supported: {v!r})" for k, v in fixed.items() if k in part and part[k] != v]
    if bad:
        raise CheckpointError(f"{where}: {what} has settings this engine does not support: {', '.join(bad)}")


def _dense_prefix(types: list, where: str) -> int:
    """`mlp_layer_types` ["dense", ..., "sparse", ...] -> the number of leading dense layers (first_k_dense_replace)."""
    k = 0
    while k < len(types) and types[k] == "dense":
        k += 1
    if any(t != "sparse" for t in types[k:]):
        raise CheckpointError(f"{where}: text_config.mlp_layer_types {types} is not dense layers followed by MoE "
                              "layers, which is the only pattern DeepSeek-OCR uses")
    return k


def _transformers_parts(cfg: dict, where: str = "config.json") -> tuple[dict, dict, dict, dict]:
    """Map the transformers-native DeepseekOcr2Config onto the original schema's parts (language, sam, qwen2,
    projector). Keys: `text_config`, `vision_config.sam_config`, `vision_config.encoder_config`; absent keys take
    transformers' own defaults. The query banks (144, 256 rows) are hard-coded in transformers, not configured."""
    text = {**TF_TEXT_DEFAULTS, **(cfg.get("text_config") or {})}
    vision = cfg.get("vision_config") or {}
    sam_src = {**TF_SAM_DEFAULTS, **(vision.get("sam_config") or {})}
    enc_src = {**TF_ENCODER_DEFAULTS, **(vision.get("encoder_config") or {})}
    _check_fixed(sam_src, TF_SAM_FIXED, "vision_config.sam_config", where)
    _check_fixed(enc_src, TF_ENCODER_FIXED, "vision_config.encoder_config", where)
    _check_fixed(text, TF_TEXT_FIXED, "text_config", where)
    width = int(sam_src["hidden_size"])
    mlp_dim = sam_src.get("mlp_dim") or int(width * float(sam_src.get("mlp_ratio", 4.0)))
    if int(mlp_dim) != 4 * width:
        raise CheckpointError(f"{where}: vision_config.sam_config mlp_dim {mlp_dim} is not 4 x hidden_size {width}")

    language = dict(text)
    if language.get("mlp_layer_types") is not None:  # transformers' per-layer list -> the original's fields
        language["first_k_dense_replace"] = _dense_prefix(list(language["mlp_layer_types"]), where)
        language["moe_layer_freq"] = 1
    sam = {
        "width": width,
        "layers": int(sam_src["num_hidden_layers"]),
        "heads": int(sam_src["num_attention_heads"]),
        "global_attn_indexes": [int(i) for i in sam_src["global_attn_indexes"]],
        "downsample_channels": [int(c) for c in sam_src["downsample_channels"]],  # not stale here: [1] is net_3's
    }
    theta, rope_type = _rope_theta(enc_src, 10000.0)
    if rope_type != "default":
        raise CheckpointError(f"{where}: vision_config.encoder_config rope_type {rope_type!r} is not supported")
    heads = int(enc_src["num_attention_heads"])
    qwen2 = {
        "dim": int(enc_src["hidden_size"]),
        "layers": int(enc_src["num_hidden_layers"]),
        "heads": heads,
        "kv_heads": int(enc_src.get("num_key_value_heads") or heads),
        "intermediate_size": int(enc_src["intermediate_size"]),
        "rms_norm_eps": float(enc_src["rms_norm_eps"]),
        "rope_theta": theta,
    }
    projector = {"input_dim": qwen2["dim"], "n_embed": int(language["hidden_size"])}
    return language, sam, qwen2, projector


def _ring_window(language: dict, cfg: dict, where: str) -> int:
    """Unlimited-OCR's decode window W: `sliding_window_size` (or `sliding_window`) of the language config,
    else of the top level (the official code reads either)."""
    for part in (language, cfg):
        for key in ("sliding_window_size", "sliding_window"):
            value = part.get(key)
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise CheckpointError(f"{where}: {key}={value!r} is not a positive whole number of tokens")
                return value
    raise CheckpointError(f"{where}: an Unlimited-OCR config needs language_config.sliding_window_size (the decode "
                          "window; 128 in baidu/Unlimited-OCR); re-download the model")


def parse_config(cfg: dict, where: str = "config.json") -> CheckpointConfig:
    """Validate and split a config.json dict. Raises CheckpointError naming what is missing."""
    version, layout = _version_of(cfg, where)
    if layout == "transformers":
        language, sam, qwen2, projector = _transformers_parts(cfg, where)
        clip = None
    else:
        language = (cfg.get("language_config") or cfg.get("text_config")  # text_config: the name mlx-vlm uses
                    or {k: v for k, v in cfg.items() if k not in ("vision_config",)})
        widths = (cfg.get("vision_config") or {}).get("width") or {}
        sam = widths.get("sam_vit_b")
        clip = widths.get("clip-l-14-224") if version != "v2" else None
        qwen2 = widths.get("qwen2-0-5b") if version == "v2" else None
        projector = cfg.get("projector_config") or {}
        if sam is None:
            raise CheckpointError(f"{where}: vision_config.width.sam_vit_b is missing")
        if version != "v2" and clip is None:
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
    if version == "unlimited":
        language = {**language, "ring_window": _ring_window(language, cfg, where)}
    quant = cfg.get("quantization") or cfg.get("quantization_config")
    return CheckpointConfig(version, layout, dict(language), dict(sam), clip and dict(clip), qwen2,
                            dict(projector), quant if isinstance(quant, dict) and "bits" in quant else None, cfg)


def read_config(folder: str | Path) -> CheckpointConfig:
    """Read and parse `folder/config.json`."""
    path = Path(folder) / "config.json"
    if not path.exists():
        raise CheckpointError(f"{folder}: config.json is missing; give the DeepSeek-OCR model folder that holds it, "
                              "or download the model again")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: config.json is not valid JSON ({e}); re-download the model") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: config.json does not hold a JSON object; re-download the model")
    return parse_config(cfg, str(path))
