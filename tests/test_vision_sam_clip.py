"""SAM-B and v1 CLIP-L stages: reference outputs (float32 and bf16), batching, and the resampling matrices."""

import json

import mlx.core as mx
import numpy as np
import pytest

from conftest import reference_cases, rel, relrms
from engine.vision import clip, sam
from engine.vision.interpolate import bicubic_aa_matrix, linear_resize_matrix, resize_bicubic_aa, resize_rel_pos

CASES = reference_cases()
V1_CASES = reference_cases(1)
SAM_PREFIX, CLIP_PREFIX = "model.sam_model.", "model.vision_model."




def assert_bf16_close(out, ref):
    assert out.dtype == mx.bfloat16
    out = np.array(out.astype(mx.float32))
    assert relrms(out, ref) <= 3e-2 and rel(out, ref) <= 5e-2, (relrms(out, ref), rel(out, ref))


def nhwc(views):
    return mx.array(np.ascontiguousarray(views.transpose(0, 2, 3, 1)))


def _part(case, prefix, dtype):
    weights = mx.load(str(case / "checkpoint" / "model.safetensors"))
    return {k[len(prefix):]: v.astype(dtype) for k, v in weights.items() if k.startswith(prefix)}


def build_sam(case, dtype=mx.float32):
    cfg = json.loads((case / "checkpoint" / "config.json").read_text())
    part = _part(case, SAM_PREFIX, dtype)
    config = sam.SAMConfig.from_dict(cfg["vision_config"]["width"]["sam_vit_b"],
                                     net3_out=part["net_3.weight"].shape[0])
    model = sam.SAMEncoder(config)
    model.load_weights(list(sam.sanitize(part).items()), strict=True)
    return model


def build_clip(case, dtype=mx.float32):
    cfg = json.loads((case / "checkpoint" / "config.json").read_text())
    model = clip.CLIPEncoder(clip.CLIPConfig.from_dict(cfg["vision_config"]["width"]["clip-l-14-224"]))
    model.load_weights(list(clip.sanitize(_part(case, CLIP_PREFIX, dtype)).items()), strict=True)
    return model


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c.name)
def case(request):
    exp = np.load(request.param / "expected.npz")
    return request.param, {k: exp[k] for k in exp.files}


@pytest.fixture(scope="module")
def sam_f32(case):
    """float32 SAM outputs of the case's global view and tiles (computed once per case)."""
    path, exp = case
    model = build_sam(path)
    out = {"global": model(nhwc(exp["global_view"]))}
    if exp["tiles"].shape[0]:
        out["tiles"] = model(nhwc(exp["tiles"]))
    mx.eval(out)
    return out


# ---------------------------------------------------------------- SAM

def test_sam_config_takes_net3_width_from_caller():
    d = {"width": 768, "layers": 12, "heads": 12, "global_attn_indexes": [2, 5, 8, 11],
         "downsample_channels": [512, 1024]}
    assert sam.SAMConfig.from_dict(d).downsample_channels == (512, 1024)
    cfg = sam.SAMConfig.from_dict(d, net3_out=896)
    assert cfg.downsample_channels == (512, 896) and cfg.global_attn_indexes == (2, 5, 8, 11)
    assert (cfg.patch_size, cfg.window_size, cfg.neck_channels, cfg.pos_grid, cfg.layer_norm_eps) == \
        (16, 14, 256, 64, 1e-6)


def test_sam_sanitize_transposes_convs_only():
    w = {"patch_embed.proj.weight": mx.zeros((8, 3, 16, 16)), "pos_embed": mx.zeros((1, 64, 64, 8)),
         "neck.0.weight": mx.zeros((256, 8, 1, 1)), "net_3.weight": mx.zeros((96, 64, 3, 3)),
         "blocks.0.attn.rel_pos_h": mx.zeros((27, 4)), "blocks.0.attn.qkv.weight": mx.zeros((24, 8))}
    out = sam.sanitize(w)
    assert out.keys() == w.keys()
    assert out["patch_embed.proj.weight"].shape == (8, 16, 16, 3)
    assert out["neck.0.weight"].shape == (256, 1, 1, 8)
    assert out["net_3.weight"].shape == (96, 3, 3, 64)
    assert out["pos_embed"].shape == (1, 64, 64, 8)
    assert out["blocks.0.attn.qkv.weight"].shape == (24, 8)


def test_sam_float32_matches_reference(case, sam_f32):
    _, exp = case
    g = sam_f32["global"]
    assert g.shape == (1,) + exp["sam_global"].shape and g.dtype == mx.float32
    assert rel(g[0], exp["sam_global"]) <= 1e-4
    if "sam_tiles" in exp:  # 640 (v1) / 768 (v2) tiles: resized pos_embed and rel-pos tables
        assert sam_f32["tiles"].shape == exp["sam_tiles"].shape
        assert rel(sam_f32["tiles"], exp["sam_tiles"]) <= 1e-4


def test_sam_bfloat16_matches_reference(case):
    # MLX's CPU bf16 kernels are slow: one view per case (a tile when tiled, else the global view)
    path, exp = case
    model = build_sam(path, mx.bfloat16)
    if "sam_tiles" in exp:
        assert_bf16_close(model(nhwc(exp["tiles"][:1]).astype(mx.bfloat16)), exp["sam_tiles"][:1])
    else:
        assert_bf16_close(model(nhwc(exp["global_view"]).astype(mx.bfloat16))[0], exp["sam_global"])


def test_batch_equals_one_view_at_a_time():
    path = next(c for c in CASES if np.load(c / "expected.npz")["tiles"].shape[0] >= 2)
    tiles = np.load(path / "expected.npz")["tiles"][:2]
    model = build_sam(path)
    batched = np.array(model(nhwc(tiles)))
    single = np.concatenate([np.array(model(nhwc(tiles[i:i + 1]))) for i in range(tiles.shape[0])])
    assert rel(batched, single) <= 1e-5


# ---------------------------------------------------------------- CLIP (v1)

def test_clip_config():
    cfg = clip.CLIPConfig.from_dict({"heads": 16, "image_size": 224, "layers": 24, "patch_size": 14, "width": 1024})
    assert (cfg.width, cfg.layers, cfg.heads, cfg.ffn_size, cfg.num_positions, cfg.layer_norm_eps) == \
        (1024, 24, 16, 4096, 257, 1e-5)


def test_clip_sanitize():
    w = {"embeddings.patch_embedding.weight": mx.zeros((96, 3, 14, 14)), "embeddings.class_embedding": mx.zeros((96,)),
         "embeddings.position_ids": mx.zeros((1, 257)), "transformer.layers.0.mlp.fc1.weight": mx.zeros((384, 96))}
    out = clip.sanitize(w)
    assert "embeddings.position_ids" not in out
    assert out["embeddings.patch_embedding.weight"].shape == (96, 14, 14, 3)
    assert out["transformer.layers.0.mlp.fc1.weight"].shape == (384, 96)


@pytest.mark.parametrize("path", V1_CASES, ids=lambda c: c.name)
def test_clip_float32_matches_reference(path):
    exp = np.load(path / "expected.npz")
    model = build_clip(path)
    out = model(mx.array(exp["sam_global"])[None])  # 16x16 grid: stored positions
    assert out.shape == (1,) + exp["encoder_global"].shape and out.dtype == mx.float32
    assert rel(out[0], exp["encoder_global"]) <= 1e-4
    if "sam_tiles" in exp.files:  # 10x10 grid: bicubic-antialias resized positions
        out = model(mx.array(exp["sam_tiles"]))
        assert out.shape == exp["encoder_tiles"].shape
        assert rel(out, exp["encoder_tiles"]) <= 1e-4


@pytest.mark.parametrize("path", V1_CASES, ids=lambda c: c.name)
def test_clip_bfloat16_matches_reference(path):
    exp = np.load(path / "expected.npz")
    model = build_clip(path, mx.bfloat16)
    assert_bf16_close(model(mx.array(exp["sam_global"])[None].astype(mx.bfloat16))[0], exp["encoder_global"])
    if "sam_tiles" in exp.files:
        assert_bf16_close(model(mx.array(exp["sam_tiles"]).astype(mx.bfloat16)), exp["encoder_tiles"])


def test_sam_then_clip_float32_matches_reference(case, sam_f32):
    path, exp = case
    if "encoder_global" not in exp or exp["encoder_global"].shape[0] != exp["sam_global"].shape[0] + 1:
        pytest.skip("v2 case: no CLIP stage")
    model = build_clip(path)
    assert rel(model(sam_f32["global"])[0], exp["encoder_global"]) <= 1e-4
    if "tiles" in sam_f32:
        assert rel(model(sam_f32["tiles"]), exp["encoder_tiles"]) <= 1e-4


# ---------------------------------------------------------------- resampling matrices

@pytest.mark.parametrize("l_in,l_out", [(64, 32), (64, 40), (64, 48), (64, 80), (16, 8), (16, 10), (16, 20), (7, 7)])
def test_bicubic_aa_rows_sum_to_one(l_in, l_out):
    m = bicubic_aa_matrix(l_in, l_out)
    assert m.shape == (l_out, l_in) and m.dtype == np.float32
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(m, m[::-1, ::-1], atol=1e-5)  # the filter is symmetric about the centre


@pytest.mark.parametrize("n", [1, 5, 16, 64])
def test_equal_sizes_are_identity(n):
    np.testing.assert_array_equal(bicubic_aa_matrix(n, n), np.eye(n, dtype=np.float32))
    np.testing.assert_array_equal(linear_resize_matrix(n, n), np.eye(n, dtype=np.float32))


def test_bicubic_aa_hand_checked_halving():
    # 4 -> 2: scale 2, support 4, centre 1; taps at (j - 0.5) * 0.5 = -0.25, 0.25, 0.75, 1.25 of Keys(a=-0.5)
    k = np.array([0.8671875, 0.8671875, 0.2265625, -0.0703125])
    np.testing.assert_allclose(bicubic_aa_matrix(4, 2)[0], k / k.sum(), rtol=1e-6)


def test_linear_hand_checked():
    np.testing.assert_allclose(linear_resize_matrix(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    # upsampling 2 -> 4 samples 0 (clamped), 0.25, 0.75, 1.25 (clamped to the last row)
    np.testing.assert_allclose(linear_resize_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])


def test_resizers_keep_constants_and_dtype():
    x = mx.full((1, 16, 16, 3), 2.5, dtype=mx.bfloat16)
    y = resize_bicubic_aa(x, (10, 20))
    assert y.shape == (1, 10, 20, 3) and y.dtype == mx.bfloat16
    assert np.allclose(np.array(y.astype(mx.float32)), 2.5)
    r = resize_rel_pos(mx.full((127, 4), -1.5), 79)
    assert r.shape == (79, 4) and np.allclose(np.array(r), -1.5)
