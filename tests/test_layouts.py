"""Checkpoint layouts: mlx-vlm (mlx-community) and transformers-native names load to the very same model.

Round trips: a tiny original checkpoint is rewritten into another layout by a test-only converter written from
that layout's own code (mlx-vlm 0.7.10 `deepseekocr` / `deepseekocr_2` `sanitize` and module names; transformers
5.23 `conversion_mapping` "deepseek_ocr2"), loaded through the normal loader, and must give the same parameters
and outputs as the original.
"""

import json
import re
import shutil

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from PIL import Image

from engine.model import load
from engine.pipeline import encode
from engine.preprocess.pixels import prepare
from engine.testing import tiny_config, write_tiny_checkpoint
from engine.weights.config import parse_config
from engine.weights.errors import CheckpointError
from engine.weights.layouts import LAYOUTS, detect_layout, from_mlx_vlm

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


# ---- test-only converters: original names -> another layout, written from that layout's code ----------------

def _mlx_check_array_shape(arr) -> bool:
    """mlx-vlm `check_array_shape`: True when a 4-D conv weight already looks OHWI."""
    out_channels, kh, kw, _ = arr.shape
    return out_channels >= kh and out_channels >= kw and kh == kw


def to_mlx_vlm(weights: dict, version: str) -> dict:
    """What mlx-vlm 0.7.10 loads and then saves (`tree_flatten(model.parameters())`): `Model.sanitize`,
    `VisionModel.sanitize` (conv OIHW -> OHWI), `LanguageModel.sanitize` (experts stacked into switch_mlp)."""

    def key_v1(k):
        for a, b in (("model.layers", "language_model.model.layers"),
                     ("model.embed_tokens", "language_model.model.embed_tokens"),
                     ("model.norm", "language_model.model.norm")):
            if a in k and "language_model" not in k:
                k = k.replace(a, b)
        for a, b in (("model.vision_model", "vision_model"), ("model.sam_model", "sam_model"),
                     ("model.projector", "projector"), ("model.view_seperator", "view_separator"),
                     ("model.image_newline", "image_newline")):
            k = k.replace(a, b)
        if "lm_head.weight" in k and "language_model" not in k:
            k = k.replace("lm_head.weight", "language_model.lm_head.weight")
        return k

    def key_v2(k):
        k = k.replace("model.qwen2_model.model.model.layers", "vision_model.qwen2_encoder.layers")
        k = k.replace("model.qwen2_model.model.model.norm", "vision_model.qwen2_encoder.norm")
        for view in ("1024", "768"):
            k = k.replace(f"model.qwen2_model.query_{view}.weight", f"vision_model.qwen2_encoder.query_{view}")
        for a, b in (("model.layers", "language_model.model.layers"),
                     ("model.embed_tokens", "language_model.model.embed_tokens"),
                     ("model.norm", "language_model.model.norm")):
            if a in k and "language_model" not in k and "qwen2" not in k:
                k = k.replace(a, b)
        for a, b in (("model.vision_model", "vision_model"), ("model.sam_model", "sam_model"),
                     ("model.projector", "projector"), ("model.view_seperator", "view_separator")):
            k = k.replace(a, b)
        if "lm_head.weight" in k and "language_model" not in k:
            k = k.replace("lm_head.weight", "language_model.lm_head.weight")
        return k

    w = {(key_v1 if version == "v1" else key_v2)(k): v for k, v in weights.items()}
    conv_keys = {"neck.0.weight", "neck.2.weight", "sam_model.net_2.weight", "sam_model.net_3.weight",
                 "patch_embed.proj.weight", "embeddings.patch_embedding.weight"}
    w = {k: (v.transpose(0, 2, 3, 1) if ".".join(k.split(".")[-3:]) in conv_keys and not _mlx_check_array_shape(v)
             else v) for k, v in w.items() if "position_ids" not in k}
    expert = re.compile(r"^(language_model\.model\.layers\.\d+\.mlp)\.experts\.(\d+)\.(\w+_proj)\.(\w+)$")
    stacks: dict[str, dict[int, mx.array]] = {}
    out = {}
    for k, v in w.items():
        m = expert.match(k)
        if m is None:
            out[k] = v
        else:
            stacks.setdefault(f"{m[1]}.switch_mlp.{m[3]}.{m[4]}", {})[int(m[2])] = v
    out.update({k: mx.stack([d[e] for e in range(len(d))]) for k, d in stacks.items()})
    return out


def to_transformers(weights: dict) -> dict:
    """transformers 5.23 `conversion_mapping` "deepseek_ocr2" (original -> native names, fused experts)."""
    renames = [
        (r"sam_model\.blocks\.(\d+)\.norm([12])\.", r"vision_tower.sam_encoder.layers.\1.layer_norm\2."),
        (r"sam_model\.blocks\.(\d+)\.(attn|mlp)\.", r"vision_tower.sam_encoder.layers.\1.\2."),
        (r"sam_model\.patch_embed\.proj\.", "vision_tower.sam_encoder.patch_embed.projection."),
        (r"sam_model\.pos_embed", "vision_tower.sam_encoder.pos_embed"),
        (r"sam_model\.neck\.0\.", "vision_tower.sam_encoder.neck.conv1."),
        (r"sam_model\.neck\.1\.", "vision_tower.sam_encoder.neck.layer_norm1."),
        (r"sam_model\.neck\.2\.", "vision_tower.sam_encoder.neck.conv2."),
        (r"sam_model\.neck\.3\.", "vision_tower.sam_encoder.neck.layer_norm2."),
        (r"sam_model\.net_2\.", "vision_tower.sam_encoder.proj.conv1."),
        (r"sam_model\.net_3\.", "vision_tower.sam_encoder.proj.conv2."),
        (r"qwen2_model\.model\.model\.layers\.", "vision_tower.vision_encoder.layers."),
        (r"qwen2_model\.model\.model\.norm\.", "vision_tower.vision_encoder.norm."),
        (r"qwen2_model\.query_(768|1024)\.", r"vision_tower.query_\1_resolution."),
        (r"projector\.layers\.", "multi_modal_projector."),
        (r"view_seperator", "view_separator"),
        (r"(^|model\.)(embed_tokens|layers|norm)\.", r"\1language_model.\2."),
    ]
    out, experts = {}, {}
    for k, v in weights.items():
        for pat, rep in renames:
            k2 = re.sub(pat, rep, k)
            if k2 != k:
                k = k2
                break
        m = re.match(r"^(.*\.mlp\.experts)\.(\d+)\.(gate|up|down)_proj\.weight$", k)
        if m:
            experts.setdefault(m[1], {}).setdefault(m[3], {})[int(m[2])] = v
        else:
            out[k] = v
    for prefix, parts in experts.items():
        stack = {p: mx.stack([d[e] for e in range(len(d))]) for p, d in parts.items()}
        out[f"{prefix}.gate_up_proj"] = mx.concatenate([stack["gate"], stack["up"]], axis=1)
        out[f"{prefix}.down_proj"] = stack["down"]
    return out


# ---- round trips ----------------------------------------------------------------------------------------------

def _rewrite(src, dst, convert, config_edit=None):
    dst.mkdir(parents=True)
    weights = convert(dict(mx.load(str(src / "model.safetensors"))))
    mx.save_safetensors(str(dst / "model.safetensors"), weights, metadata={"format": "mlx"})
    config = json.loads((src / "config.json").read_text())
    if config_edit:
        config_edit(config)
    (dst / "config.json").write_text(json.dumps(config, indent=1))
    for f in TOKENIZER_FILES:
        shutil.copy(src / f, dst / f)
    return weights


def _assert_same_model(a, b, image):
    pa, pb = dict(tree_flatten(a.module.parameters())), dict(tree_flatten(b.module.parameters()))
    assert set(pa) == set(pb)
    for k in pa:
        assert pa[k].dtype == pb[k].dtype and mx.array_equal(pa[k], pb[k]).item(), k
    (fa,), (fb,) = encode(a, [image]), encode(b, [image])
    assert mx.array_equal(fa, fb).item()
    ids = mx.array([[0, 5, 17, 42, 99, 7]])
    assert mx.array_equal(a.language_model(a.language_model.embed(ids)),
                          b.language_model(b.language_model.embed(ids))).item()


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "page.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_mlx_vlm_round_trip(tmp_path, small_image, version):
    src = write_tiny_checkpoint(tmp_path / "orig", version)
    model_type = {"v1": "deepseekocr", "v2": "deepseekocr_2"}[version]  # what mlx-community configs say
    weights = _rewrite(src, tmp_path / "mlx", lambda w: to_mlx_vlm(w, version),
                       lambda c: c.update(model_type=model_type))
    # the converted names are mlx-vlm's module names
    assert "language_model.model.layers.1.mlp.switch_mlp.gate_proj.weight" in weights
    assert "view_separator" in weights and "sam_model.net_3.weight" in weights
    assert weights["sam_model.patch_embed.proj.weight"].shape[-1] == 3  # OHWI
    if version == "v2":
        assert "vision_model.qwen2_encoder.query_1024" in weights
        assert "vision_model.qwen2_encoder.layers.0.self_attn.q_proj.bias" in weights
    else:
        assert "image_newline" in weights and "vision_model.embeddings.patch_embedding.weight" in weights
    assert not any(k.startswith("model.") for k in weights)
    converted = load(tmp_path / "mlx", dtype="float32")
    assert converted.checkpoint.source_layout == "mlx_vlm" and converted.version == version
    original = load(src, dtype="float32")
    _assert_same_model(original, converted, prepare(small_image, version, mode="tiny" if version == "v1" else "small"))


def quantize_as_mlx_vlm(weights: dict, group_size: int = 64, bits: int = 4) -> dict:
    """mlx-vlm's `convert -q` at tensor level, in original names: every Linear / Embedding / SwitchLinear weight
    outside the vision towers (`skip_multimodal_module`: sam_model, vision_model) whose input width is a multiple
    of the group size; the MoE router is no Linear and stays, as do norms. The projector is quantized too."""
    out = {}
    for k, v in weights.items():
        if (k.startswith(("model.embed_tokens.", "model.layers.", "lm_head.", "model.projector.")) and v.ndim == 2
                and k.endswith(".weight") and not k.endswith("mlp.gate.weight") and v.shape[-1] % group_size == 0):
            stem = k[: -len(".weight")]
            out[k], out[stem + ".scales"], out[stem + ".biases"] = mx.quantize(v, group_size, bits)
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_mlx_vlm_quantized_round_trip(tmp_path, small_image, version):
    """A 4-bit mlx-vlm checkpoint (stacked quantized experts and their scales/biases) loads to the same model
    as the same quantization in original names."""
    src = write_tiny_checkpoint(tmp_path / "orig", version)
    quant = {"group_size": 64, "bits": 4, "mode": "affine"}  # what mlx-vlm writes
    _rewrite(src, tmp_path / "q", quantize_as_mlx_vlm, lambda c: c.update(quantization=quant))
    model_type = {"v1": "deepseekocr", "v2": "deepseekocr_2"}[version]
    weights = _rewrite(tmp_path / "q", tmp_path / "mlx", lambda w: to_mlx_vlm(w, version),
                       lambda c: c.update(model_type=model_type))
    assert weights["language_model.model.layers.1.mlp.switch_mlp.gate_proj.scales"].ndim == 3
    converted = load(tmp_path / "mlx", dtype="float32")
    assert converted.checkpoint.source_layout == "mlx_vlm"
    params = dict(tree_flatten(converted.module.parameters()))
    assert {"language_model.layers.1.mlp.switch_mlp.gate_proj.scales", "language_model.embed_tokens.scales",
            "vision.projector.layers.scales"} <= set(params)
    _assert_same_model(load(tmp_path / "q", dtype="float32"), converted,
                       prepare(small_image, version, mode="tiny" if version == "v1" else "small"))


def test_transformers_names_round_trip(tmp_path, small_image):
    """The transformers-native names (fused experts) with the original config: same model as the original."""
    src = write_tiny_checkpoint(tmp_path / "orig", "v2")
    weights = _rewrite(src, tmp_path / "tf", to_transformers)
    assert weights["model.language_model.layers.1.mlp.experts.gate_up_proj"].shape == (8, 64, 64)  # [E, 2I, H]
    assert weights["model.language_model.layers.1.mlp.experts.down_proj"].shape == (8, 64, 32)  # [E, H, I]
    converted = load(tmp_path / "tf", dtype="float32")
    assert converted.checkpoint.source_layout == "transformers"
    _assert_same_model(load(src, dtype="float32"), converted, prepare(small_image, "v2", mode="small"))


# ---- units ----------------------------------------------------------------------------------------------------

def test_mlx_vlm_quantized_companions_follow_their_weights():
    """Quantized mlx-vlm tensors: `scales`/`biases` get the same renames, stacked ones split per expert."""
    e, out_dim, packed, groups = 4, 32, 8, 1
    w = {
        "language_model.model.layers.1.mlp.switch_mlp.gate_proj.weight": mx.zeros((e, out_dim, packed), mx.uint32),
        "language_model.model.layers.1.mlp.switch_mlp.gate_proj.scales": mx.ones((e, out_dim, groups)),
        "language_model.model.layers.1.mlp.switch_mlp.gate_proj.biases": mx.ones((e, out_dim, groups)),
        "language_model.model.embed_tokens.weight": mx.zeros((10, packed), mx.uint32),
        "language_model.model.embed_tokens.scales": mx.ones((10, groups)),
        "language_model.lm_head.biases": mx.ones((10, groups)),
        "projector.layers.scales": mx.ones((64, groups)),
    }
    out = from_mlx_vlm(w)
    for i in range(e):
        for s in ("weight", "scales", "biases"):
            assert out[f"model.layers.1.mlp.experts.{i}.gate_proj.{s}"].shape[0] == out_dim
    assert {"model.embed_tokens.weight", "model.embed_tokens.scales", "lm_head.biases",
            "model.projector.layers.scales"} <= set(out)
    assert len(out) == 3 * e + 4


def test_detect_layout():
    assert detect_layout(["model.sam_model.pos_embed", "model.layers.0.mlp.gate_proj.weight"]) == "deepseek"
    assert detect_layout(["model.vision_tower.sam_encoder.pos_embed", "lm_head.weight"]) == "transformers"
    assert detect_layout(["sam_model.pos_embed", "language_model.lm_head.weight"]) == "mlx_vlm"
    assert set(LAYOUTS) == {"deepseek", "transformers", "mlx_vlm"}
    with pytest.raises(CheckpointError, match="no known layout"):
        detect_layout(["encoder.weight"])


def test_an_unlimited_ocr_mlx_vlm_conversion_loads_as_the_original(tmp_path, small_image):
    """mlx-vlm's `unlimited_ocr` module names are its `deepseekocr` ones (v1's); its config names the
    window in `text_config`."""
    src = write_tiny_checkpoint(tmp_path / "orig", "unlimited", window=16)
    _rewrite(src, tmp_path / "mlx", lambda w: to_mlx_vlm(w, "v1"),
             lambda c: c.update(model_type="unlimited_ocr", text_config=c.pop("language_config")))
    converted = load(tmp_path / "mlx", dtype="float32")
    assert converted.checkpoint.source_layout == "mlx_vlm" and converted.version == "unlimited"
    assert converted.language_model.config.ring_window == 16
    _assert_same_model(load(src, dtype="float32"), converted, prepare(small_image, "unlimited", mode="tiny"))


def test_unlimited_ocr_configs():
    cfg = tiny_config("unlimited", window=32)
    parsed = parse_config(cfg)
    assert (parsed.version, parsed.family, parsed.language["ring_window"]) == ("unlimited", "v1", 32)
    del cfg["language_config"]["sliding_window_size"]  # the top level's is read too
    assert parse_config(cfg).language["ring_window"] == 32
    del cfg["sliding_window_size"], cfg["sliding_window"]
    with pytest.raises(CheckpointError, match="sliding_window_size"):
        parse_config(cfg)
    cfg["sliding_window_size"] = 0
    with pytest.raises(CheckpointError, match="positive"):
        parse_config(cfg)


def test_mlx_vlm_model_types_are_recognised():
    for version, model_type in (("v1", "deepseekocr"), ("v2", "deepseekocr_2")):
        cfg = tiny_config(version)
        cfg["model_type"] = model_type
        cfg["text_config"] = cfg.pop("language_config")  # either name is accepted
        parsed = parse_config(cfg)
        assert (parsed.version, parsed.layout) == (version, "deepseek")
        assert parsed.language["hidden_size"] == 64


def _tf_config(**text):
    return {"model_type": "deepseek_ocr2", "architectures": ["DeepseekOcr2ForConditionalGeneration"],
            "text_config": {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 300,
                            "intermediate_size": 128, "moe_intermediate_size": 32, "num_experts_per_tok": 2,
                            "n_routed_experts": 8, "mlp_layer_types": ["dense", "sparse", "sparse"], **text},
            "vision_config": {"sam_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                             "global_attn_indexes": [1], "downsample_channels": [48, 64]},
                              "encoder_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                                 "num_attention_heads": 4, "num_key_value_heads": 2,
                                                 "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}}}}


def test_transformers_config_parts():
    cfg = parse_config(_tf_config())
    assert (cfg.version, cfg.layout) == ("v2", "transformers")
    assert cfg.language["first_k_dense_replace"] == 1 and cfg.language["moe_layer_freq"] == 1
    assert cfg.sam == {"width": 32, "layers": 2, "heads": 2, "global_attn_indexes": [1],
                       "downsample_channels": [48, 64]}
    assert cfg.qwen2 == {"dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate_size": 128,
                         "rms_norm_eps": 1e-6, "rope_theta": 1e6}
    assert cfg.projector == {"input_dim": 64, "n_embed": 64}
    with pytest.raises(CheckpointError, match="mlp_layer_types"):
        parse_config(_tf_config(mlp_layer_types=["dense", "sparse", "dense"]))
    bad = _tf_config()
    bad["vision_config"]["sam_config"]["window_size"] = 16
    with pytest.raises(CheckpointError, match="window_size=16"):
        parse_config(bad)
