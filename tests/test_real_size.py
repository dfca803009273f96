"""Real dims, random weights (built in memory): shapes and token counts of a 2x3 page (slow)."""

import mlx.core as mx
import numpy as np
import pytest

import engine
from engine.model import DeepseekOCR
from engine.preprocess.pixels import prepare
from engine.testing import real_config
from engine.vision.encoder import encode_images
from engine.weights.config import parse_config
from engine.weights.expected import expected_tensors
from PIL import Image


@pytest.mark.slow
def test_real_size_v1_vision_2x3_page():
    cfg = parse_config(real_config("v1"))
    table = expected_tensors(cfg)
    assert table["model.sam_model.net_3.weight"] == (1024, 512, 3, 3)
    assert table["model.projector.layers.weight"] == (1280, 2048)
    assert table["model.layers.5.mlp.experts.63.down_proj.weight"] == (1280, 896)
    assert len(table) == 2710  # the real v1 checkpoint's tensor count (spec section 4)
    vision = DeepseekOCR(cfg).vision  # random init: only shapes and counts are checked here
    mx.eval(vision.parameters())
    prep = prepare(Image.new("RGB", (1240, 1754), "white"), "v1")
    assert prep.plan.grid == (2, 3)
    (emb,), stats = encode_images(vision, [prep], mx.float32)
    assert emb.shape == (prep.plan.image_tokens, 1280) == (903, 1280)
    assert stats.tile_batches == [6] and stats.global_batches == [1]
    assert np.isfinite(np.asarray(emb)).all()


def test_real_v2_table_uses_official_encoder_defaults():
    cfg = parse_config(real_config("v2"))
    table = expected_tensors(cfg)
    assert cfg.qwen2 == {"dim": 896, "layers": 24, "heads": 14, "kv_heads": 2, "intermediate_size": 4864}
    assert table["model.sam_model.net_3.weight"] == (896, 512, 3, 3)
    assert table["model.qwen2_model.model.model.layers.23.self_attn.k_proj.weight"] == (128, 896)
    assert table["model.qwen2_model.query_768.weight"] == (144, 896)
    assert len(table) == 2707  # the real v2 checkpoint's tensor count (spec section 4)
    assert engine.plan((1240, 1754), "v2").image_tokens == 1121
