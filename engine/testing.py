"""Write tiny random DeepSeek-OCR checkpoints in the original hub layout, for tests and offline demos.

A checkpoint here is exactly what the real one is, only small: config.json in the real schema, bf16
safetensors with the original tensor names (every tensor of the expected-tensor table), and a byte-level
BPE tokenizer.json with the DeepSeek special tokens (BOS/EOS/pad first, the 12 OCR tokens last).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .weights.config import parse_config
from .weights.expected import expected_tensors
from .weights.tokenizer import BOS, EOS, PAD, SPECIAL_NAMES

CORPUS = (
    "The quick brown fox jumps over the lazy dog. Invoice number 12345, total 678.90 EUR. "
    "# Title\n\n## Section 1\n\nA paragraph of text with a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    "Convert the document to markdown. OCR this image. Free OCR. Parse the figure. Describe this image in "
    "detail. Locate the text in the image. 0123456789 ()[]{}.,;:!?'\"-+=*/\\ \n\t"
)


def tiny_config(version: str = "v1", vocab_size: int = 300, window: int = 128) -> dict:
    """A config.json dict in the real hub schema with tiny widths and depths (`window`: Unlimited-OCR's W)."""
    lm = {
        "architectures": ["DeepseekV2ForCausalLM"], "bos_token_id": 0, "eos_token_id": 1,
        "first_k_dense_replace": 1, "hidden_size": 64, "intermediate_size": 128, "kv_lora_rank": None,
        "lm_head": True, "max_position_embeddings": 8192, "moe_intermediate_size": 32, "n_group": 1,
        "n_routed_experts": 8, "n_shared_experts": 2, "num_attention_heads": 4, "num_experts_per_tok": 2,
        "num_hidden_layers": 3, "num_key_value_heads": 4, "q_lora_rank": None, "qk_nope_head_dim": 0,
        "qk_rope_head_dim": 0, "rm_head": False, "topk_group": 1, "topk_method": "greedy",
        "torch_dtype": "bfloat16", "use_mla": False, "v_head_dim": 0, "vocab_size": vocab_size,
    }
    sam = {"downsample_channels": [48, 64], "global_attn_indexes": [1], "heads": 2, "layers": 2, "width": 32}
    model_type = "deepseek_vl_v2"
    if version in ("v1", "unlimited"):
        width = {"clip-l-14-224": {"heads": 4, "image_size": 224, "layers": 2, "patch_size": 14, "width": 64},
                 "sam_vit_b": sam}
        arch, model_name, proj_in = "DeepseekOCRForCausalLM", "deeplip_b_l", 128
        if version == "unlimited":  # the real baidu/Unlimited-OCR schema: v1's, plus the decode window
            arch, model_type = "UnlimitedOCRForCausalLM", "unlimited-ocr"
            lm.update(architectures=["DeepseekOCRForCausalLM"], max_position_embeddings=32768,
                      sliding_window_size=window)
    else:
        width = {"qwen2-0-5b": {"dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate_size": 128},
                 "sam_vit_b": {**sam, "downsample_channels": [48, 128]}}  # stale net_3 width, as in the real file
        arch, model_name, proj_in = "DeepseekOCR2ForCausalLM", "deepencoderv2", 64
    top = {k: v for k, v in lm.items() if k != "architectures"}
    if version == "unlimited":
        top["sliding_window"] = window
    return {
        "candidate_resolutions": [[1024, 1024]], "global_view_pos": "head", "architectures": [arch],
        "language_config": lm, "model_type": model_type,
        "projector_config": {"input_dim": proj_in, "model_type": "mlp_projector", "n_embed": 64,
                             "projector_type": "linear"},
        "tile_tag": "2D", "torch_dtype": "bfloat16", "transformers_version": "4.46.3",
        "vision_config": {"image_size": 1024, "mlp_ratio": 3.7362, "model_name": model_name,
                          "model_type": "vision", "width": width},
        **top,
    }


def real_config(version: str = "v1") -> dict:
    """config.json of the real deepseek-ai checkpoints (spec section 5): for real-size tests and benchmarks."""
    cfg = tiny_config(version, vocab_size=129280)
    lm = {**cfg["language_config"], "hidden_size": 1280, "intermediate_size": 6848, "moe_intermediate_size": 896,
          "n_routed_experts": 64, "num_experts_per_tok": 6, "n_shared_experts": 2, "num_attention_heads": 10,
          "num_key_value_heads": 10, "num_hidden_layers": 12}
    sam = {"downsample_channels": [512, 1024], "global_attn_indexes": [2, 5, 8, 11], "heads": 12, "layers": 12,
           "width": 768}
    if version in ("v1", "unlimited"):
        width = {"clip-l-14-224": {"heads": 16, "image_size": 224, "layers": 24, "patch_size": 14, "width": 1024},
                 "sam_vit_b": sam}
        proj_in = 2048
    else:
        width = {"qwen2-0-5b": {"dim": 896}, "sam_vit_b": sam}  # the real file gives only dim
        proj_in = 896
    cfg.update(language_config=lm, **{k: v for k, v in lm.items() if k != "architectures"})
    cfg["vision_config"]["width"] = width
    cfg["projector_config"].update(input_dim=proj_in, n_embed=1280)
    return cfg


def write_tokenizer(folder: Path, vocab_size: int) -> int:
    """Train a byte-level BPE of exactly `vocab_size` ids with the DeepSeek special tokens; return the size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    n_ocr = len(SPECIAL_NAMES)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - n_ocr, special_tokens=[BOS, EOS, PAD],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([CORPUS] * 4, trainer)
    tok.add_special_tokens(list(SPECIAL_NAMES.values()))
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
        "model_max_length": 8192, "tokenizer_class": "LlamaTokenizerFast"}, indent=1))
    (folder / "special_tokens_map.json").write_text(json.dumps({"bos_token": BOS, "eos_token": EOS,
                                                               "pad_token": PAD}, indent=1))
    return tok.get_vocab_size(with_added_tokens=True)


def random_weights(config: dict, seed: int = 0, std: float = 0.05) -> dict[str, np.ndarray]:
    """float32 Gaussian tensors for every expected tensor of `config` (norm weights around 1)."""
    cfg = parse_config(config)
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in expected_tensors(cfg).items():
        if name.endswith(("norm.weight", "norm1.weight", "norm2.weight", "layernorm.weight", "layrnorm.weight",
                          "neck.1.weight", "neck.3.weight", "layer_norm1.weight", "layer_norm2.weight")):
            out[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            out[name] = (std * rng.standard_normal(shape)).astype(np.float32)
    return out


def save_bf16(weights: dict[str, np.ndarray], path: Path) -> None:
    """Write float32 numpy tensors as a bf16 safetensors file (round-to-nearest-even, like torch)."""
    import mlx.core as mx

    mx.save_safetensors(str(path), {k: mx.array(v).astype(mx.bfloat16) for k, v in weights.items()},
                        metadata={"format": "pt"})


def write_tiny_checkpoint(folder: str | Path, version: str = "v1", seed: int = 0, vocab_size: int = 300,
                          window: int = 128) -> Path:
    """Create a complete tiny checkpoint folder for `version` ('v1', 'v2' or 'unlimited', whose decode window
    is `window` tokens) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(folder, vocab_size)
    config = tiny_config(version, vocab_size, window)
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    save_bf16(random_weights(config, seed), folder / "model.safetensors")
    return folder
