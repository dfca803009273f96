"""Live parity with transformers' native DeepSeek-OCR-2 (`DeepseekOcr2ForConditionalGeneration`, transformers 5).

A tiny random model is built in transformers (tiny widths and depths; SAM window 14, patch 16, pos grid 64 and
the 144/256 query banks at their real values), saved with `save_pretrained` in both of transformers' formats
(native names, and the original names it writes by default), loaded with `engine.model.load`, and run on
identical pixel arrays (our preprocessor's; transformers' own resize/pad is one pixel off, spec section 8).
Compared: SAM tokens, encoder query outputs, projected embeddings per view, the image's full embedding layout,
and the LM logits of the whole prompt. Also checks that transformers' encoder mask is the intended one.
"""

import json
import shutil

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[parity]')")
transformers = pytest.importorskip("transformers", reason="transformers is not installed (pip install -e '.[parity]')")
if not hasattr(transformers, "DeepseekOcr2ForConditionalGeneration"):
    pytest.skip(f"transformers {transformers.__version__} has no DeepseekOcr2 (needs >= 5.x)", allow_module_level=True)

from engine.language.prompt import prompt_ids  # noqa: E402
from engine.model import load  # noqa: E402
from engine.pipeline import encode, splice  # noqa: E402
from engine.preprocess.pixels import prepare  # noqa: E402
from engine.testing import write_tokenizer  # noqa: E402
from engine.vision.causal_flow import flow_mask  # noqa: E402
from engine.vision.encoder import to_nhwc  # noqa: E402
from engine.weights.checkpoint import read_tensors  # noqa: E402
from engine.weights.config import parse_config  # noqa: E402
from engine.weights.expected import expected_tensors  # noqa: E402
from engine.weights.layouts import detect_layout, from_transformers  # noqa: E402
from engine.weights.tokenizer import Tokenizer  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
PROMPT = "<image>\n<|grounding|>Convert the document to markdown."


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


def tiny_config(vocab_size: int, image_token_id: int):
    return transformers.DeepseekOcr2Config(
        vision_config={
            # window_size 14, patch_size 16, image_size 1024 (pos grid 64, global rel-pos 127) keep their defaults
            "sam_config": {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
                           "global_attn_indexes": [1], "downsample_channels": [48, 64]},
            "encoder_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
                               "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}},
        },
        text_config={"hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
                     "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
                     "n_routed_experts": 8, "n_shared_experts": 2, "num_experts_per_tok": 2, "n_group": 1,
                     "topk_group": 1, "vocab_size": vocab_size, "mlp_layer_types": ["dense", "sparse", "sparse"],
                     "bos_token_id": 0, "eos_token_id": 1, "max_position_embeddings": 8192,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
        image_token_id=image_token_id,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(transformers model, {format: folder}) with random weights; the query banks stay 144 / 256 rows."""
    root = tmp_path_factory.mktemp("tf_deepseek_ocr2")
    tok_dir = root / "tok"
    tok_dir.mkdir()
    vocab = write_tokenizer(tok_dir, 300)
    cfg = tiny_config(vocab, Tokenizer(tok_dir).image_id)
    torch.manual_seed(0)
    tf = transformers.DeepseekOcr2ForConditionalGeneration(cfg).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # transformers' init leaves pos_embed / rel_pos at zero and SAM at ~1e-10: randomise all
        for name, p in tf.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1.0 + 0.1 * noise if name.endswith(("norm.weight", "norm1.weight", "norm2.weight"))
                    else 0.05 * noise)
    vt = tf.model.vision_tower
    assert vt.query_768_resolution.weight.shape[0] == 144 and vt.query_1024_resolution.weight.shape[0] == 256
    assert tuple(vt.sam_encoder.pos_embed.shape[1:3]) == (64, 64)
    folders = {}
    for fmt, kwargs in (("native", {"save_original_format": False}), ("original", {})):
        folder = root / fmt
        tf.save_pretrained(folder, safe_serialization=True, **kwargs)
        for f in TOKENIZER_FILES:
            shutil.copy(tok_dir / f, folder / f)
        folders[fmt] = folder
    return tf, folders


@pytest.fixture(scope="module")
def ours(built):
    return load(built[1]["native"], dtype="float32")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A gundam-mode page (2 tiles of 768 + the 1024 global view) and a small image (global view only)."""
    root = tmp_path_factory.mktemp("tf_images")
    rng = np.random.default_rng(1)
    out = {}
    for name, size in (("tiled", (500, 900)), ("global", (600, 420))):
        img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).resize(size)
        draw = ImageDraw.Draw(img)
        for y in range(20, size[1] - 20, 40):
            draw.text((20, y), "Invoice 12345, total 678.90 EUR", fill=(0, 0, 0))
        path = root / f"{name}.png"
        img.save(path)
        out[name] = prepare(path, "v2")
    assert out["tiled"].plan.tiled and out["tiled"].tiles.shape[0] >= 2
    assert not out["global"].plan.tiled
    return out


def test_config_and_both_saved_layouts_map_onto_the_original_table(built):
    """transformers' own reverse conversion (default save) gives exactly our expected table; our
    `from_transformers` of the native save gives the same names and the same values."""
    _, folders = built
    cfg = parse_config(json.loads((folders["native"] / "config.json").read_text()))
    assert (cfg.version, cfg.layout) == ("v2", "transformers")
    assert cfg.language["first_k_dense_replace"] == 1 and cfg.qwen2["rope_theta"] == 1e6
    expected = expected_tensors(cfg)
    original = read_tensors(folders["original"])
    native = read_tensors(folders["native"])
    assert detect_layout(original) == "deepseek" and detect_layout(native) == "transformers"
    assert {k: tuple(v.shape) for k, v in original.items()} == expected
    mapped = from_transformers(native)
    assert set(mapped) == set(expected)
    for name, w in mapped.items():
        assert mx.array_equal(w, original[name]).item(), name


def test_encoder_mask_is_the_intended_one(built):
    """transformers 5's native encoder: image tokens bidirectional and blind to queries, queries causal."""
    tf, _ = built
    vt = tf.model.vision_tower
    seen = {}

    def grab(module, args, kwargs):
        seen["mask"] = kwargs["attention_mask"]

    handle = vt.vision_encoder.layers[0].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            vt(torch.zeros(1, 3, 768, 768))
    finally:
        handle.remove()
    mask = seen["mask"]
    allowed = mask.numpy() if mask.dtype == torch.bool else (mask.numpy() == 0)
    want = np.asarray(flow_mask(144)) == 0
    assert allowed.shape[-2:] == want.shape and np.array_equal(allowed.reshape(-1, *want.shape)[0], want)


@pytest.mark.parametrize("view", ["tiles", "global_view"])
def test_vision_per_view(built, ours, images, view):
    """SAM tokens, encoder query outputs and projected embeddings of the same pixels (768 tiles: query_768;
    1024 global view: query_1024)."""
    tf, _ = built
    pixels = getattr(images["tiled"], view)
    vt = tf.model.vision_tower
    seen = {}
    handle = vt.sam_encoder.register_forward_hook(lambda m, a, out: seen.update(sam=out.last_hidden_state))
    try:
        with torch.no_grad():
            enc_t = vt(torch.from_numpy(pixels)).last_hidden_state
            proj_t = tf.model.multi_modal_projector(enc_t).numpy()
    finally:
        handle.remove()
    sam_t = seen["sam"].flatten(2).transpose(1, 2).numpy()
    sam_o = ours.vision.sam_model(to_nhwc(pixels, mx.float32))
    enc_o = ours.vision.qwen2_model(sam_o)
    proj_o = ours.vision.projector(enc_o)
    for name, got, want in (("sam", sam_o, sam_t), ("encoder", enc_o, enc_t.numpy()), ("projected", proj_o, proj_t)):
        got = np.asarray(got)
        assert got.shape == want.shape, name
        assert rel(got, want) <= 1e-4, (name, rel(got, want))


@pytest.fixture(scope="module")
def reference(built, images):
    """transformers' image embeddings and full-prompt logits per image case (one forward each)."""
    tf, _ = built
    tok = Tokenizer(built[1]["native"])
    out = {}
    for case, prep in images.items():
        ids = prompt_ids(tok, PROMPT, prep.plan.image_tokens)
        local = torch.from_numpy(prep.tiles) if prep.plan.tiled else None
        with torch.no_grad():
            res = tf(input_ids=torch.tensor([ids]), pixel_values=torch.from_numpy(prep.global_view),
                     pixel_values_local=local, num_local_patches=[prep.tiles.shape[0]] if local is not None else None)
        out[case] = (ids, res.image_hidden_states[0].numpy(), res.logits[0].numpy())
    return out


@pytest.mark.parametrize("fmt", ["native", "original"])
@pytest.mark.parametrize("case", ["tiled", "global"])
def test_image_embeddings_and_logits(built, ours, images, reference, fmt, case):
    """The image's embedding layout [tiles, global, separator] and the logits of the full prompt."""
    tf, folders = built
    model = ours if fmt == "native" else load(folders[fmt], dtype="float32")
    prep = images[case]
    ids, feats_t, logits_t = reference[case]
    assert ids == prompt_ids(model.tokenizer, PROMPT, prep.plan.image_tokens)
    (feats,) = encode(model, [prep])
    assert feats.shape == feats_t.shape == (prep.plan.image_tokens, tf.config.text_config.hidden_size)
    assert rel(feats, feats_t) <= 1e-4, rel(feats, feats_t)
    logits = np.asarray(model.language_model(splice(model, ids, feats)[None])[0])
    assert logits.shape == logits_t.shape
    assert np.abs(logits - logits_t).max() <= 1e-3, np.abs(logits - logits_t).max()
