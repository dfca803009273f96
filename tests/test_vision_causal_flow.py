"""v2 causal-flow encoder: reference outputs (float32 and bf16), the query-bank choice and the attention mask."""

import json

import mlx.core as mx
import numpy as np
import pytest

from conftest import reference_cases, rel, relrms
from engine.vision.causal_flow import CausalFlowConfig, CausalFlowEncoder, flow_mask, sanitize

CASES = reference_cases(2)
PREFIX = "model.qwen2_model."




def build(case, dtype=mx.float32):
    cfg = json.loads((case / "checkpoint" / "config.json").read_text())
    enc = CausalFlowEncoder(CausalFlowConfig.from_dict(cfg["vision_config"]["width"]["qwen2-0-5b"]))
    weights = mx.load(str(case / "checkpoint" / "model.safetensors"))
    part = {k[len(PREFIX):]: v.astype(dtype) for k, v in weights.items() if k.startswith(PREFIX)}
    enc.load_weights(list(sanitize(part).items()), strict=True)
    return enc


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c.name)
def case(request):
    exp = np.load(request.param / "expected.npz")
    return request.param, {k: exp[k] for k in ("sam_global", "encoder_global", "sam_tiles", "encoder_tiles")}


def test_config_defaults_are_the_official_constants():
    cfg = CausalFlowConfig.from_dict({"dim": 896})
    assert (cfg.layers, cfg.heads, cfg.kv_heads, cfg.intermediate_size, cfg.head_dim) == (24, 14, 2, 4864, 64)
    assert (cfg.rms_norm_eps, cfg.rope_theta) == (1e-6, 1e6)


def test_float32_matches_reference(case):
    path, exp = case
    enc = build(path)
    g = exp["sam_global"]
    out = enc(mx.array(g)[None])
    assert out.shape == (1,) + g.shape and out.dtype == mx.float32
    assert rel(out[0], exp["encoder_global"]) <= 1e-4
    tiles = exp["sam_tiles"]
    assert tiles.shape[0] > 0
    out = enc(mx.array(tiles))  # all tiles in one batch
    assert out.shape == tiles.shape
    assert rel(out, exp["encoder_tiles"]) <= 1e-4


def test_bfloat16_matches_reference(case):
    path, exp = case
    enc = build(path, mx.bfloat16)
    for x, ref in ((exp["sam_global"][None], exp["encoder_global"][None]), (exp["sam_tiles"], exp["encoder_tiles"])):
        out = enc(mx.array(x).astype(mx.bfloat16))
        assert out.dtype == mx.bfloat16
        out = np.array(out.astype(mx.float32))
        assert relrms(out, ref) <= 3e-2 and rel(out, ref) <= 5e-2


def test_unknown_token_count_raises_clear_error():
    enc = build(CASES[0])
    with pytest.raises(ValueError, match=r"no query bank for 100 SAM tokens.*144 tokens \(768-px view\).*"
                                         r"256 tokens \(1024-px view\)"):
        enc(mx.zeros((1, 100, enc.config.dim)))


def test_mask_is_the_intended_one():
    m = np.array(flow_mask(3)) == 0
    expected = np.array([
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
    ], bool)
    np.testing.assert_array_equal(m, expected)


def test_query_only_sees_images_and_earlier_queries():
    """Changing query k leaves image outputs and queries < k unchanged and changes queries >= k."""
    enc = build(CASES[0])
    n, dim = enc.query_768.shape
    x = mx.array(np.random.RandomState(0).randn(1, n, dim).astype(np.float32))
    bank = np.array(enc.query_768)

    def run():
        xq = mx.concatenate([x, enc.query_768[None]], axis=1)
        mask = flow_mask(n)
        for layer in enc.layers:
            xq = layer(xq, mask)
        return np.array(enc.norm(xq)), np.array(enc(x)[0])

    full_a, out_a = run()
    k = n // 2
    changed = bank.copy()
    changed[k] += 1.0
    enc.query_768 = mx.array(changed)
    full_b, out_b = run()
    enc.query_768 = mx.array(bank)
    np.testing.assert_array_equal(full_a[0, :n], full_b[0, :n])  # image tokens blind to queries
    np.testing.assert_array_equal(out_a[:k], out_b[:k])  # earlier queries unchanged
    assert np.abs(out_a[k:] - out_b[k:]).max(axis=-1).min() > 1e-4  # query k and every later one change
    np.testing.assert_allclose(full_a[0, n:], out_a, rtol=0, atol=1e-6)  # __call__ returns the query rows


def test_image_tokens_are_bidirectional():
    """Changing the last image token changes the first image token's state (not a plain causal mask)."""
    enc = build(CASES[0])
    n, dim = enc.query_768.shape
    x = np.random.RandomState(1).randn(1, n, dim).astype(np.float32)

    def first_image_state(x):
        xq = mx.concatenate([mx.array(x), enc.query_768[None]], axis=1)
        for layer in enc.layers:
            xq = layer(xq, flow_mask(n))
        return np.array(xq[0, 0])

    y = x.copy()
    y[0, -1] += 1.0
    assert np.abs(first_image_state(x) - first_image_state(y)).max() > 1e-4
