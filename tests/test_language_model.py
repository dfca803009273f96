"""The DeepSeek-V2 MoE language model against the reference vectors: logits, greedy ids, KV caches, bf16."""

import json

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from conftest import reference_cases, rel

from engine.language.deepseek_v2 import DeepseekV2LM, LanguageConfig, SwitchGLU, SwitchLinear, sanitize
from engine.language.kv_cache import KVCache, filter_cache, left_pad, make_batch_cache, make_cache
from engine.weights.layouts import from_transformers

VISION = ("model.sam_model", "model.vision_model", "model.qwen2_model", "model.projector", "model.image_newline",
          "model.view_seperator")
CASES = reference_cases()
needs_cases = pytest.mark.skipif(not CASES, reason="no reference vectors")
_LOADED: dict = {}


def lm_weights(case):
    return {k: v for k, v in mx.load(str(case / "checkpoint" / "model.safetensors")).items()
            if not k.startswith(VISION)}


def load_lm(case, dtype=mx.float32) -> DeepseekV2LM:
    key = (str(case), dtype)
    if key not in _LOADED:
        cfg = json.loads((case / "checkpoint" / "config.json").read_text())["language_config"]
        lm = DeepseekV2LM(LanguageConfig.from_dict(cfg))
        weights = {k: v.astype(dtype) for k, v in sanitize(lm_weights(case)).items()}
        lm.load_weights(list(weights.items()), strict=True)
        mx.eval(lm.parameters())
        _LOADED[key] = lm
    return _LOADED[key]


def prompt_embeds(lm, case, dtype=mx.float32) -> mx.array:
    """embed(input_ids) with the <image> rows replaced in order by the reference image_embeds: [L, H]."""
    exp = np.load(case / "expected.npz")
    meta = json.loads((case / "meta.json").read_text())
    ids = exp["input_ids"]
    emb = lm.embed(mx.array(ids))
    slots = np.nonzero(ids == meta["image_token_id"])[0]
    emb[mx.array(slots)] = mx.array(exp["image_embeds"]).astype(dtype)
    return emb


def greedy(lm, embeds, steps, eos):
    """Greedy decode with a KV cache: (ids, the logits [V] each id was taken from)."""
    cache = make_cache(lm)
    logits = lm(embeds[None], cache=cache, last_only=True)[0, -1]
    ids, seen = [], []
    for _ in range(steps):
        tok = int(mx.argmax(logits))
        ids.append(tok)
        seen.append(logits)
        if tok == eos:
            break
        logits = lm(lm.embed(mx.array([[tok]])), cache=cache)[0, -1]
    return ids, seen


def batch_greedy(lm, prompts, steps, eos, drop_at=None):
    """Greedy-decode several prompts together (left-padded batch cache).

    Finished sequences are filtered out; `drop_at=(step, i)` also drops sequence i after that step.
    Returns per prompt (ids, logits seen).
    """
    x, lengths = left_pad(prompts)
    cache = make_batch_cache(lm, lengths)
    logits = lm(x, cache=cache, last_only=True)[:, -1]
    active = list(range(len(prompts)))
    out = [([], []) for _ in prompts]
    for step in range(steps):
        toks = mx.argmax(logits, axis=-1).tolist()
        for row, i in enumerate(active):
            out[i][0].append(toks[row])
            out[i][1].append(logits[row])
        keep = [row for row, i in enumerate(active)
                if toks[row] != eos and len(out[i][0]) < steps and (drop_at is None or (step, i) != drop_at)]
        if not keep:
            break
        if len(keep) < len(active):
            filter_cache(cache, keep)
            active = [active[r] for r in keep]
            toks = [toks[r] for r in keep]
        logits = lm(lm.embed(mx.array(toks)[:, None]), cache=cache)[:, -1]
    return out


# ------------------------------------------------------------------------------------------------ reference


@needs_cases
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_logits_and_greedy_float32(case):
    lm = load_lm(case)
    exp = np.load(case / "expected.npz")
    embeds = prompt_embeds(lm, case)
    logits = np.array(lm(embeds[None], last_only=True)[0, -1])
    assert logits.dtype == np.float32
    assert np.abs(logits - exp["logits"]).max() <= 1e-3
    assert rel(logits, exp["logits"]) <= 1e-4
    ids, _ = greedy(lm, embeds, len(exp["greedy_ids"]), eos=1)
    assert ids == exp["greedy_ids"].tolist()


@needs_cases
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_logits_and_greedy_bfloat16(case):
    lm = load_lm(case, mx.bfloat16)
    exp = np.load(case / "expected.npz")
    embeds = prompt_embeds(lm, case, mx.bfloat16)
    assert embeds.dtype == mx.bfloat16
    logits = np.array(lm(embeds[None], last_only=True)[0, -1])
    ref = exp["logits"]
    assert np.linalg.norm(logits - ref) / np.linalg.norm(ref) <= 3e-2
    assert np.abs(logits - ref).max() <= 0.3
    ids, _ = greedy(lm, embeds, len(exp["greedy_ids"]), eos=1)
    for got, want, margin in zip(ids, exp["greedy_ids"].tolist(), exp["greedy_margin"].tolist()):
        if got != want:  # allowed only where the reference's own top-2 gap is small; then stop comparing
            assert margin <= 0.1, (ids, exp["greedy_ids"].tolist())
            break


@needs_cases
def test_cache_decode_equals_full_recompute():
    case = min(CASES, key=lambda c: json.loads((c / "meta.json").read_text())["seq_len"])
    lm = load_lm(case)
    embeds = prompt_embeds(lm, case)
    ids, seen = greedy(lm, embeds, 6, eos=-1)
    full = mx.concatenate([embeds, lm.embed(mx.array(ids[:-1]))])
    recomputed = lm(full[None])[0, embeds.shape[0] - 1:]
    for step, logits in enumerate(seen):
        assert rel(logits, recomputed[step]) <= 1e-5, step
    # chunked prefill through the cache (causal mask with an offset) gives the same last logits
    cache = make_cache(lm)
    for start in range(0, embeds.shape[0], 100):
        chunk_logits = lm(embeds[None, start:start + 100], cache=cache, last_only=True)
    assert rel(chunk_logits[0, -1], seen[0]) <= 1e-5


def _same_lm_groups():
    groups: dict = {}
    for c in CASES:
        meta = json.loads((c / "meta.json").read_text())
        groups.setdefault((meta["version"], meta["lm_seed_offset"]), []).append(c)
    return [g for g in groups.values() if len(g) >= 2]


@needs_cases
@pytest.mark.parametrize("group", _same_lm_groups(), ids=lambda g: "+".join(c.name for c in g))
def test_batched_decode_matches_single(group):
    lm = load_lm(group[0])
    prompts = [prompt_embeds(lm, c) for c in group]
    prompts.append(prompts[-1][:150])  # the same case truncated: a third, shorter prompt
    single = [greedy(lm, p, 8, eos=1) for p in prompts]
    batched = batch_greedy(lm, prompts, 8, eos=1)
    for (ids, seen), (bids, bseen) in zip(single, batched):
        assert bids == ids
        for a, b in zip(bseen, seen):
            assert np.abs(np.array(a) - np.array(b)).max() <= 1e-4 * max(1.0, float(mx.abs(b).max()))
    # the reference ids come out of the batch too
    for c, (bids, _) in zip(group, batched):
        assert bids == np.load(c / "expected.npz")["greedy_ids"].tolist()
    # dropping the longest sequence after step 2 keeps the others exact
    dropped = batch_greedy(lm, prompts, 8, eos=1, drop_at=(2, 0))
    assert dropped[0][0] == single[0][0][:3]
    for (ids, seen), (bids, bseen) in list(zip(single, dropped))[1:]:
        assert bids == ids
        for a, b in zip(bseen, seen):
            assert np.abs(np.array(a) - np.array(b)).max() <= 1e-4 * max(1.0, float(mx.abs(b).max()))


# ------------------------------------------------------------------------------------------------ units


def tiny_config(**over):
    cfg = {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
           "intermediate_size": 48, "moe_intermediate_size": 16, "n_routed_experts": 8, "num_experts_per_tok": 3,
           "n_shared_experts": 2, "first_k_dense_replace": 1, "vocab_size": 50, "use_mla": False,
           "some_unknown_key": 123}
    cfg.update(over)
    return cfg


def test_config_from_dict():
    cfg = LanguageConfig.from_dict(tiny_config())
    assert cfg.head_dim == 8 and cfg.rope_theta == 10000.0 and cfg.rms_norm_eps == 1e-6
    assert not cfg.norm_topk_prob and cfg.routed_scaling_factor == 1.0
    assert [cfg.is_moe_layer(i) for i in range(3)] == [False, True, True]
    with pytest.raises(ValueError, match="use_mla"):
        LanguageConfig.from_dict(tiny_config(use_mla=True))
    tf = LanguageConfig.from_dict({**tiny_config(), "mlp_layer_types": ["dense", "sparse", "dense"],
                                   "rope_parameters": {"rope_theta": 5000.0, "rope_type": "default"}})
    assert [tf.is_moe_layer(i) for i in range(3)] == [False, True, False] and tf.rope_theta == 5000.0


def test_switch_glu_grouped_equals_per_row():
    mx.random.seed(0)
    glu = SwitchGLU(32, 24, 8)
    x = mx.random.normal((3, 50, 32))
    idx = mx.argpartition(-mx.random.normal((3, 50, 8)), kth=2, axis=-1)[..., :3]
    assert idx.size >= glu.grouped_threshold()
    grouped, shared = glu(x, idx)
    assert shared is None  # no shared experts given
    per_row = glu._mlp(mx.expand_dims(x, (-2, -3)), idx, False).squeeze(-2)
    e, row = idx[1, 7, 2], x[1, 7]
    manual = glu.down_proj.weight[e] @ (nn.silu(glu.gate_proj.weight[e] @ row) * (glu.up_proj.weight[e] @ row))
    assert grouped.shape == (3, 50, 3, 32)
    assert rel(grouped, per_row) <= 1e-5
    assert rel(grouped[1, 7, 2], manual) <= 1e-5


def test_quantized_switch_linear():
    mx.random.seed(1)
    lin = SwitchLinear(64, 32, 4)
    q = lin.to_quantized(group_size=32, bits=8)
    deq = mx.dequantize(q.weight, q.scales, q.biases, group_size=32, bits=8)
    x = mx.random.normal((5, 1, 1, 64))
    idx = mx.array([[0, 3], [1, 1], [2, 0], [3, 2], [0, 0]])
    want = mx.gather_mm(x, deq.swapaxes(-1, -2), rhs_indices=idx)
    assert rel(q(x, idx), want) <= 1e-4


def _random_original_weights(lm):
    """Original-layout names for a model's parameters (per-expert tensors), random values."""
    from mlx.utils import tree_flatten

    out = {}
    for name, w in tree_flatten(lm.parameters()):
        val = mx.random.normal(w.shape)
        if ".switch_mlp." in name:
            layer, rest = name.split(".mlp.switch_mlp.")
            for e in range(w.shape[0]):
                out[f"model.{layer}.mlp.experts.{e}.{rest.replace('.weight', '')}.weight"] = val[e]
        elif name.startswith("lm_head."):
            out[name] = val
        else:
            out["model." + name] = val
    return out


def test_sanitize_both_layouts():
    lm = DeepseekV2LM(LanguageConfig.from_dict(tiny_config()))
    orig = _random_original_weights(lm)
    ours = sanitize(orig)
    lm.load_weights(list(ours.items()), strict=True)
    assert ours["layers.1.mlp.switch_mlp.up_proj.weight"].shape == (8, 16, 32)
    assert mx.array_equal(ours["layers.2.mlp.switch_mlp.down_proj.weight"][5],
                          orig["model.layers.2.mlp.experts.5.down_proj.weight"])
    # transformers-native: model.language_model.*, fused experts
    tf = {"model.vision_tower.query_768_resolution.weight": mx.zeros((2, 2))}
    for name, w in orig.items():
        m = name.split(".mlp.experts.")
        if len(m) == 2:
            continue
        tf[name.replace("model.", "model.language_model.", 1) if name.startswith("model.") else name] = w
    for layer in (1, 2):
        p = f"model.layers.{layer}.mlp.experts"
        gate = mx.stack([orig[f"{p}.{e}.gate_proj.weight"] for e in range(8)])
        up = mx.stack([orig[f"{p}.{e}.up_proj.weight"] for e in range(8)])
        tf[f"model.language_model.layers.{layer}.mlp.experts.gate_up_proj"] = mx.concatenate([gate, up], axis=1)
        tf[f"model.language_model.layers.{layer}.mlp.experts.down_proj"] = mx.stack(
            [orig[f"{p}.{e}.down_proj.weight"] for e in range(8)])
    vision = tuple(v[len("model."):] for v in VISION)  # the vision tower is not the LM's
    theirs = {k: v for k, v in sanitize(from_transformers(tf)).items() if not k.startswith(vision)}
    assert sorted(theirs) == sorted(ours)
    assert all(mx.array_equal(theirs[k], ours[k]) for k in ours)


def test_batch_cache_mask_positions_and_filter():
    from engine.language.kv_cache import BatchKVCache

    c = BatchKVCache([2, 0])
    assert c.offset.tolist() == [-2, 0]
    c.update_and_fetch(mx.zeros((2, 1, 4, 8)), mx.zeros((2, 1, 4, 8)))
    assert c.offset.tolist() == [2, 4]  # real tokens seen; RoPE position of the next one
    m = c.make_mask(1)[:, 0, 0].tolist()
    assert m == [[False, False, True, True, True], [True] * 5]
    c.filter([0])
    assert c.state[0].shape[2] == 2 and c.left_padding.tolist() == [0] and c.keys.shape[0] == 1
    kv = KVCache()
    for n in (300, 1, 1):
        k, _ = kv.update_and_fetch(mx.ones((1, 2, n, 4)), mx.ones((1, 2, n, 4)))
    assert k.shape == (1, 2, 302, 4) and kv.keys.shape[2] == 512


def test_rope_matches_rotate_half_reference():
    lm = DeepseekV2LM(LanguageConfig.from_dict(tiny_config(hidden_size=128, num_attention_heads=1)))
    attn = lm.layers[0].self_attn
    x = mx.random.normal((1, 1, 1000, 128))
    d = 128
    inv = 1.0 / (np.float32(10000.0) ** (np.arange(0, d, 2).astype(np.float32) / np.float32(d)))
    ang = np.arange(1000, dtype=np.float32)[:, None] * inv[None].astype(np.float32)
    emb = np.concatenate([ang, ang], -1)
    xn = np.array(x)
    want = xn * np.cos(emb) + np.concatenate([-xn[..., d // 2:], xn[..., :d // 2]], -1) * np.sin(emb)
    assert np.abs(np.array(attn.rope(x, 0)) - want).max() <= 2e-6
    # per-sequence array offsets equal the scalar ones
    xs = mx.random.normal((2, 1, 3, 128))
    both = attn.rope(xs, mx.array([5, 17]))
    assert mx.allclose(both[1:], attn.rope(xs[1:], 17), atol=1e-6)
