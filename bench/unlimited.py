"""Unlimited-OCR's decode window against DeepSeek-OCR v1's growing cache, and a whole document in one pass
against page by page (the `unlimited` section of `bench/run.py`).

The language model has the real widths (hidden 1280, 64 routed experts, top 6, vocabulary 129280) with fewer
layers than the real 12 (2 and 4, the 12 extrapolated from the per-layer slope); one set of random weights
serves both: v1 decodes with the growing KV cache, Unlimited-OCR with the window (W = 128 as in
baidu/Unlimited-OCR). Decode speed at each mark (1k, 4k, 8k generated tokens) is the median step time with the
cache in the state a decode of that length leaves (the generated entries random: a step's cost depends on
their number, not their values); the KV bytes are those caches' stored keys and values, and a real 8k-token
decode through the window (1 layer) measures its KV bytes at each mark. The document compares 10 pages (1024 px base views, 273 tokens
each, the real encoder) read as one prompt with the same pages read one after another (the v1-style
page-by-page run, each page its own prompt and its share of the output tokens).
"""

from __future__ import annotations

import statistics
import time

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten

import encoders
import models
from engine.language.generate import GenerationConfig, GenerationStats, generate_tokens, prefill
from engine.language.window_cache import end_prefill
from engine.vision.encoder import encode_images

WINDOW = 128
MARKS = (1024, 4096, 8192)
FULL_LAYERS = 12
NO_GUARDS = dict(ngram_size=0, loop_guard=False, recover=False)


def _kv_bytes(cache) -> int:
    return sum(a.nbytes for c in cache for a in c.state if a.ndim == 4)


def _cache_at(lm, prompt: mx.array, generated: int, window: bool):
    """The cache after `prompt` and `generated` decoded tokens: the prompt prefilled for real, the generated
    tokens' keys and values random (a decode step's cost depends on how many entries it attends over and
    what it stores, not on their values), in the state a real decode leaves (the ring wrapped when longer)."""
    cache = lm.make_cache(window)
    prefill(lm, prompt, cache, 1024, None)
    end_prefill(cache)
    rng = np.random.default_rng(3)
    for c in cache:
        n = min(generated, c.window) if window else generated
        shape = (1, c.keys.shape[1], n, c.keys.shape[3])
        k = mx.array(rng.standard_normal(shape, np.float32))
        if window:
            p = c.prefill
            c.keys[..., p:p + n, :] = k
            c.values[..., p:p + n, :] = k
            c.fed, c.offset = generated, p + generated
        else:
            c.update_and_fetch(k, k)
        mx.eval(c.state)
    return cache


def _step_tok_s(lm, cache, steps: int = 24) -> float:
    token = mx.array([[42]])
    times = []
    for _ in range(steps + 4):
        t0 = time.perf_counter()
        mx.eval(lm(lm.embed(token), cache=cache, last_only=True))
        times.append(time.perf_counter() - t0)
    return 1 / statistics.median(times[4:])


def decode_window(layer_counts: tuple[int, ...], prompt_len: int, marks: tuple[int, ...], log) -> dict:
    """Decode tokens/s and KV bytes at each mark, window vs growing cache, at each layer count; the real 12
    layers extrapolated from the per-layer slope between the two counts."""
    res: dict = {"unlimited_prompt_tokens": prompt_len, "unlimited_window": WINDOW,
                 "unlimited_lm_layers": list(layer_counts)}
    secs: dict[tuple[str, int], dict[int, float]] = {}
    for layers in layer_counts:
        lm = models.our_language_model(layers)
        prompt = mx.array(np.random.default_rng(0).standard_normal((prompt_len, lm.config.hidden_size),
                                                                   np.float32) * 0.02)
        for name, ring in (("v1", None), ("unlimited", WINDOW)):
            lm.config.ring_window = ring
            for k in marks:
                cache = _cache_at(lm, prompt, k, ring is not None)
                tok_s = _step_tok_s(lm, cache)
                secs.setdefault((name, k), {})[layers] = 1 / tok_s
                res[f"{name}_decode_tok_s_{k}_{layers}_layers"] = tok_s
                res[f"{name}_kv_mb_{k}_{layers}_layers"] = _kv_bytes(cache) / 2**20
                log(f"unlimited: {name} at {k} generated, {layers} layers: {tok_s:.1f} tok/s, "
                    f"KV {_kv_bytes(cache) / 2**20:.1f} MiB")
                del cache
        del lm
        mx.clear_cache()
    lo, hi = min(layer_counts), max(layer_counts)
    for (name, k), by in secs.items():
        slope = (by[hi] - by[lo]) / (hi - lo)
        res[f"{name}_decode_tok_s_{k}_12_layers_est"] = 1 / (by[lo] + slope * (FULL_LAYERS - lo))
    for k in marks:
        res[f"unlimited_over_v1_decode_{k}_12_layers_est"] = (res[f"unlimited_decode_tok_s_{k}_12_layers_est"]
                                                              / res[f"v1_decode_tok_s_{k}_12_layers_est"])
        res[f"unlimited_over_v1_decode_{k}_{hi}_layers"] = (res[f"unlimited_decode_tok_s_{k}_{hi}_layers"]
                                                            / res[f"v1_decode_tok_s_{k}_{hi}_layers"])
    return res


def kv_growth(prompt_len: int, marks: tuple[int, ...], log) -> dict:
    """A real greedy decode of max(marks) tokens through the window (1 layer): its KV bytes at each mark."""
    lm = models.our_language_model(1)
    lm.config.ring_window = WINDOW
    prompt = mx.array(np.random.default_rng(0).standard_normal((prompt_len, lm.config.hidden_size), np.float32)
                      * 0.02)
    cache = lm.make_cache()
    logits = prefill(lm, prompt, cache, 1024, None)
    out = {}
    for k in range(1, max(marks) + 1):
        token = mx.argmax(logits).reshape(1, 1)
        logits = lm(lm.embed(token), cache=cache, last_only=True).reshape(-1)
        mx.eval(logits)
        if k in marks:
            out[f"unlimited_real_decode_kv_mb_{k}"] = _kv_bytes(cache) / 2**20
            log(f"unlimited: real decode, {k} tokens: KV {_kv_bytes(cache) / 2**20:.2f} MiB")
    out["unlimited_kv_flat_after_window"] = len({v for v in out.values()}) == 1
    return out


def document(layers: int, pages: int, tokens_per_page: int, log) -> dict:
    """10 pages in one prompt (window decode) vs one page after another (growing cache per page)."""
    vision = models.our_vision("v1")
    lm = models.our_language_model(layers)
    preps = [encoders.page("unlimited", size=(1240, 1754), seed=i, mode="base") for i in range(pages)]
    text = 12  # BOS and the prompt's words, about
    rng = np.random.default_rng(2)
    words = mx.array(rng.standard_normal((text, lm.config.hidden_size), np.float32) * 0.02)

    def run_one_pass():
        lm.config.ring_window = WINDOW
        mx.reset_peak_memory()
        t0 = time.perf_counter()
        embeds = encoders.ours(vision, preps)  # every page's view in one batched graph
        prompt = mx.concatenate([words[:1], *embeds, words[1:]])
        st = GenerationStats()
        cfg = GenerationConfig(max_tokens=pages * tokens_per_page, **NO_GUARDS)
        for _ in generate_tokens(lm, prompt, eos_id=-1, config=cfg, stats=st):
            pass
        return time.perf_counter() - t0, mx.get_peak_memory() / 2**20, int(prompt.shape[0]) + st.generated

    def run_page_by_page():
        lm.config.ring_window = None
        mx.reset_peak_memory()
        t0 = time.perf_counter()
        total = 0
        for prep in preps:
            (emb,) = encoders.ours(vision, [prep])
            prompt = mx.concatenate([words[:1], emb, words[1:]])
            st = GenerationStats()
            cfg = GenerationConfig(max_tokens=tokens_per_page, **NO_GUARDS)
            for _ in generate_tokens(lm, prompt, eos_id=-1, config=cfg, stats=st):
                pass
            total += int(prompt.shape[0]) + st.generated
        return time.perf_counter() - t0, mx.get_peak_memory() / 2**20, total

    log(f"unlimited: {pages} pages x {tokens_per_page} tokens, one prompt")
    one = run_one_pass()
    log(f"unlimited: {pages} pages x {tokens_per_page} tokens, page by page")
    each = run_page_by_page()
    return {"document_pages": pages, "document_tokens_per_page": tokens_per_page, "document_lm_layers": layers,
            "document_one_pass_s": one[0], "document_page_by_page_s": each[0],
            "document_one_pass_peak_mb": one[1], "document_page_by_page_peak_mb": each[1],
            "document_one_pass_tokens": one[2], "document_page_by_page_tokens": each[2],
            "document_one_pass_speedup": each[0] / one[0]}


def vision_dtype_cost(log) -> dict:
    """The real-size vision encoder (SAM-B + CLIP-L + projector) on one page's 1024 px view, its weights in
    bfloat16 vs float32: weight bytes, and encode time (`--vision-dtype float32` beside a bf16 language model).
    On a CPU only float32 is timed: MLX has no fast bfloat16 matrix product there (one view takes many minutes),
    and a CPU computes the whole model in float32 anyway; `bench/gpu.py` times both on a GPU."""
    vision = models.our_vision("v1")
    prep = encoders.page("unlimited", size=(1240, 1754), mode="base")
    res = {}
    for name, dtype in (("float32", mx.float32), ("bfloat16", mx.bfloat16)):
        vision.set_dtype(dtype)
        mx.eval(vision.parameters())

        def run():
            mx.eval(encode_images(vision, [prep], dtype)[0])
        res[f"vision_{name}_weights_mb"] = sum(w.nbytes for _, w in tree_flatten(vision.parameters())) / 2**20
        if dtype == mx.bfloat16 and mx.default_device().type == mx.DeviceType.cpu:
            res[f"vision_{name}_encode_s"] = None
            continue
        run()
        t0 = time.perf_counter()
        run()
        res[f"vision_{name}_encode_s"] = time.perf_counter() - t0
        log(f"unlimited: vision in {name}: {res[f'vision_{name}_encode_s']:.2f} s per 1024 px view, "
            f"{res[f'vision_{name}_weights_mb']:.0f} MiB of weights")
    return res


def unlimited(quick: bool, log) -> dict:
    marks = (256, 1024, 2048) if quick else MARKS
    res = decode_window((1, 2), 300, marks, log) if quick else decode_window((2, 4), 300, marks, log)
    res.update(kv_growth(300, marks, log))
    res.update(vision_dtype_cost(log))
    res.update(document(2 if quick else 4, 10, 16 if quick else 64, log))
    return res
