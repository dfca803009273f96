"""DSOCR benchmarks: encode (ours batched / ours one tile at a time / mlx-vlm), the machine's limit, decode,
pages per hour, memory and planning, all in one run on real-size models with random weights.

    python bench/run.py [--quick] [--json] [--out FILE.json [--merge]] [--plot FILE.png] [--only SECTION,...]

mlx-vlm's figures need `mlx-vlm==0.7.10` importable in the same interpreter (install it into a separate
virtual environment with this project, never into the app's: see docs/benchmarks.md); without it their keys
are null. Figures are medians of several runs after a warm-up; `--quick` takes one run of each, fewer
language-model layers and tokens, and for v2 only the batched encode (under 10 minutes on a 2-core CPU); the
busy-machine decode takes three rounds even then (each a 24-token sample, too short to trust alone).
Progress goes to stderr; the JSON object goes to stdout (`--json`: on one line). Sections: machine, matmul,
flops, encode_v1, encode_v2, tiles, memory, decode, pages, plan, resources (a real-size checkpoint on disk:
load, peak memory, cancel, GUI gaps, busy machine; ~15 min, so `--quick` skips it unless named in `--only`),
unlimited (Unlimited-OCR's decode window vs v1 at 1k/4k/8k tokens and a 10-page document in one pass; only
when named in `--only`), serve (`dsocr serve` with 1, 4 and 16 concurrent clients vs one page after another,
~13 min; only when named in `--only`).
`bench/report.py` explains every key.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402  (loads the fast BLAS before MLX)
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
import numpy as np  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

import encoders  # noqa: E402
import models  # noqa: E402
import resources  # noqa: E402
import serve  # noqa: E402
import unlimited  # noqa: E402
from timing import timed  # noqa: E402
from engine.language.generate import GenerationConfig, GenerationStats, generate_batch, generate_tokens  # noqa: E402
from engine.runtime.memory import raise_buffer_cache  # noqa: E402
from engine.runtime.kernels import route  # noqa: E402

SECTIONS = ("machine", "matmul", "flops", "encode_v1", "encode_v2", "tiles", "memory", "decode", "pages", "plan",
            "resources", "unlimited", "serve")
TILE_COUNTS = {2: ((1000, 2000), 2), 4: ((1500, 1500), 4), 6: (None, None), 9: ((2000, 2000), 9)}
FULL_LM_LAYERS = 12  # the real DeepSeek-OCR language model (layer 0 dense, 11 MoE layers)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def r(x, nd=3):
    return None if x is None else round(float(x), nd)


# ---------------------------------------------------------------------------------------------------------
# Machine and limits
# ---------------------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "device": str(mx.default_device()), "mlx": mx.__version__,
            "numpy": np.__version__, "blas": engine.blas_library(), "mlx_vlm": models.mlxvlm_available(),
            "cpu_kernels": route.get_mode() if route.uses_numpy() else "mlx"}


def _matmul_gflops(n: int, dtype, repeats: int) -> float:
    a = mx.random.normal((n, n)).astype(dtype)
    b = mx.random.normal((n, n)).astype(dtype)
    mx.eval(a, b)
    s = timed(lambda: mx.eval(a @ b), repeats)
    return 2 * n ** 3 / s / 1e9


def _reference_blas_gflops() -> float | None:
    """fp32 matmul GFLOP/s with MLX's bundled reference BLAS (a fresh process without the fast one)."""
    code = ("import time, mlx.core as mx; a = mx.random.normal((1024, 1024)); mx.eval(a); mx.eval(a @ a); "
            "t = time.perf_counter(); mx.eval(a @ a); print(2 * 1024**3 / (time.perf_counter() - t) / 1e9)")
    env = dict(os.environ, DSOCR_BLAS="none")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def _copy_bandwidth_gbs(mb: int = 512) -> float:
    """Memory bandwidth of an MLX elementwise op (bytes read + written per second; one thread in MLX)."""
    a = mx.random.normal((mb * 2**20 // 4,))
    mx.eval(a)
    s = timed(lambda: mx.eval(a + 1.0), 3)
    return 2 * a.nbytes / s / 1e9


def _stream_bandwidth_gbs(mb: int = 512) -> float:
    """Weight-streaming bandwidth: a float32 matrix-vector product over `mb` MB (numpy's OpenBLAS gemv, all
    cores), i.e. what a bandwidth-bound decode step can read per second."""
    w = np.random.default_rng(0).standard_normal((mb * 2**20 // 4096, 1024), dtype=np.float32)
    x = np.ones(1024, np.float32)
    s = timed(lambda: w @ x, 5)
    return w.nbytes / s / 1e9


def matmul(quick: bool) -> dict:
    log("matmul throughput")
    reps = 2 if quick else 5
    out = {"matmul_gflops": _matmul_gflops(2048, mx.float32, reps),
           "matmul_gflops_4096": None if quick else _matmul_gflops(4096, mx.float32, 2),
           "matmul_bf16_gflops": _matmul_gflops(1024, mx.bfloat16, 1),
           "matmul_reference_blas_gflops": _reference_blas_gflops(),
           "memory_bandwidth_gbs": _stream_bandwidth_gbs(),
           "memory_copy_bandwidth_mlx_gbs": _copy_bandwidth_gbs()}
    return {k: r(v, 1) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------------
# Encode
# ---------------------------------------------------------------------------------------------------------

def _peak_mb(fn) -> float:
    """MLX peak memory while `fn` runs, above what was allocated before it (the weights), MB."""
    mx.eval(mx.zeros(1))
    mx.clear_cache()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    fn()
    return (mx.get_peak_memory() - before) / 2**20


def _stage_times(vision, prep, version: str) -> dict:
    """Where a batched page's time goes: SAM, then CLIP (v1) or the causal-flow encoder (v2), then the rest."""
    from engine.vision.encoder import to_nhwc

    out = {}
    for name, pixels in (("tiles", prep.tiles), ("global", prep.global_view)):
        x = to_nhwc(pixels, mx.float32)
        t0 = time.perf_counter()
        sam = vision.sam_model(x)
        mx.eval(sam)
        t1 = time.perf_counter()
        feats = vision.vision_model(sam) if version == "v1" else vision.qwen2_model(sam)
        mx.eval(feats)
        t2 = time.perf_counter()
        out[f"{name}_sam_s"], out[f"{name}_{'clip' if version == 'v1' else 'qwen2'}_s"] = t1 - t0, t2 - t1
    return {k: r(v, 2) for k, v in out.items()}


def encode(version: str, quick: bool, brief: bool = False) -> tuple[dict, object, object]:
    """The 2x3 page plus global view: ours batched, ours one tile at a time, mlx-vlm; FLOP rate and stages.

    `quick`: one run of each after one warm-up; `brief` (v2 under --quick): ours batched only, after a cheap
    warm-up (a page small enough to have no tiles)."""
    log(f"{version}: building real-size vision model (random weights)")
    vision, vlm = models.our_vision(version), None
    prep = encoders.page(version)
    assert prep.plan.grid == (2, 3), prep.plan.grid
    reps = 1 if quick else 2
    small = encoders.page(version, size=(600, 800))  # no tiles: a global view only, a cheap warm-up
    warm = lambda: encoders.ours(vision, [small])  # noqa: E731
    p = version
    res: dict = {f"{p}_grid": list(prep.plan.grid), f"{p}_image_tokens": prep.plan.image_tokens,
                 f"{p}_page_tflop": r(models.page_flops(version, 6, prep.plan.tile_size) / 1e12)}
    batched = lambda: encoders.ours(vision, [prep])  # noqa: E731
    one_at_a_time = lambda: encoders.ours(vision, [prep], max_batch_tiles=1)  # noqa: E731
    flops = models.page_flops(version, 6, prep.plan.tile_size)
    outs: list = []
    if brief:
        log(f"{version}: ours, batched")
        warm()
        res[f"{p}_peak_memory_mb_6_tiles"] = _peak_mb(lambda: outs.append(batched()))
        res[f"{p}_page_encode_s"] = timed(batched, reps, False)
        res[f"{p}_encoder_gflops"] = flops / res[f"{p}_page_encode_s"] / 1e9
        return {k: (r(v) if isinstance(v, float) else v) for k, v in res.items()}, vision, vlm
    log(f"{version}: ours, batched and one tile at a time, interleaved")
    res[f"{p}_peak_memory_mb_6_tiles"] = _peak_mb(batched)  # also the warm-up
    runs = {"b": [], "o": []}
    for _ in range(reps):  # interleaved, so that the machine's load drifts hit both alike
        for key, fn in (("b", batched), ("o", one_at_a_time)):
            t0 = time.perf_counter()
            out = fn()
            runs[key].append(time.perf_counter() - t0)
            if len(runs[key]) == reps:
                outs.append(out)
    res[f"{p}_page_encode_s"] = statistics.median(runs["b"])
    res[f"{p}_tiles_one_at_a_time_s"] = statistics.median(runs["o"])
    res[f"{p}_encoder_gflops"] = flops / res[f"{p}_page_encode_s"] / 1e9
    res[f"{p}_tiles_batched_s"] = res[f"{p}_page_encode_s"]
    res[f"{p}_batched_over_one_at_a_time"] = res[f"{p}_tiles_batched_s"] / res[f"{p}_tiles_one_at_a_time_s"]
    if not quick and version == "v1" and route.uses_numpy():
        log(f"{version}: ours, batched, MLX's own CPU softmax/activations (DSOCR_CPU_KERNELS=mlx)")
        prev = route.set_mode("mlx")
        try:
            res[f"{p}_page_encode_mlx_cpu_ops_s"] = timed(lambda: encoders.ours(vision, [prep]), 1, False)
        finally:
            route.set_mode(prev)
    if not quick:
        log(f"{version}: stage times")
        res[f"{p}_stages"] = _stage_times(vision, prep, version)
    if models.mlxvlm_available():
        log(f"{version}: mlx-vlm on the same weights")
        vlm = models.mlxvlm_vision_model(vision, version)
        vlm_reps = 1 if quick else 2  # its kernels are the ones our runs warmed up
        res[f"{p}_page_encode_mlxvlm_s"] = timed(lambda: encoders.mlxvlm(vlm, prep), vlm_reps, False, outs)
        # the same page and weights must give the same image embeddings (mlx-vlm's sit at the image slots
        # of its prompt, which start at position 4 in `encoders.mlxvlm`'s prompt)
        batched, single = outs[0][0], outs[1][0]
        theirs = outs[2][0, 4:4 + batched.shape[0]]
        scale = mx.abs(batched).max().item()
        res[f"{p}_one_at_a_time_same_output_rel"] = r(mx.abs(batched - single).max().item() / scale, 8)
        res[f"{p}_mlxvlm_same_output_rel"] = r(mx.abs(batched - theirs).max().item() / scale, 8)
        if not quick and version == "v1":
            res[f"{p}_page_encode_mlxvlm_one_at_a_time_s"] = timed(
                lambda: encoders.mlxvlm_one_at_a_time(vlm, prep, version), 1, False)
        res[f"{p}_ours_over_mlxvlm"] = res[f"{p}_page_encode_s"] / res[f"{p}_page_encode_mlxvlm_s"]
        res[f"{p}_mlxvlm_encoder_gflops"] = flops / res[f"{p}_page_encode_mlxvlm_s"] / 1e9
    else:
        res[f"{p}_page_encode_mlxvlm_s"] = None
    return {k: (r(v) if isinstance(v, float) else v) for k, v in res.items()}, vision, vlm


def tiles(vision, vlm, quick: bool, known: dict) -> dict:
    """Encode time vs number of tiles (v1): ours batched / one at a time / mlx-vlm, one run each."""
    out = {"v1_tiles": [], "v1_tiles_batched_curve_s": [], "v1_tiles_one_at_a_time_curve_s": [],
           "v1_tiles_mlxvlm_curve_s": []}
    for n, (size, count) in TILE_COUNTS.items():
        if n == 6 and "v1_page_encode_s" in known:
            b, o, m = known["v1_page_encode_s"], known["v1_tiles_one_at_a_time_s"], known.get("v1_page_encode_mlxvlm_s")
        else:
            kw = {"min_tiles": count, "max_tiles": count} if count else {}
            prep = encoders.page("v1", size=size, **kw)
            assert len(prep.plan.tiles) == n, (n, prep.plan.grid)
            log(f"tiles: {n} ({prep.plan.grid[0]}x{prep.plan.grid[1]})")
            b = timed(lambda: encoders.ours(vision, [prep]), 1)
            o = timed(lambda: encoders.ours(vision, [prep], max_batch_tiles=1), 1, False)
            m = timed(lambda: encoders.mlxvlm(vlm, prep), 1, False) if vlm is not None else None
        out["v1_tiles"].append(n)
        out["v1_tiles_batched_curve_s"].append(r(b, 2))
        out["v1_tiles_one_at_a_time_curve_s"].append(r(o, 2))
        out["v1_tiles_mlxvlm_curve_s"].append(r(m, 2))
    return out


def memory(vision, quick: bool, known: dict) -> dict:
    """Peak MLX memory of encoding 2, 6 and 9 tiles (v1) and of 9 tiles under `max_batch_tiles`, above the
    weights (which are reported beside)."""
    out = {"v1_weights_mb": r(sum(w.nbytes for _, w in tree_flatten(vision.parameters())) / 2**20, 0)}
    counts = (6,) if quick else (2, 6, 9)
    for n in counts:
        if n == 6 and quick and "v1_peak_memory_mb_6_tiles" in known:  # measured by encode_v1 in this run
            out["peak_memory_mb_6_tiles"] = known["v1_peak_memory_mb_6_tiles"]
            continue
        size, count = TILE_COUNTS[n]
        kw = {"min_tiles": count, "max_tiles": count} if count else {}
        prep = encoders.page("v1", size=size, **kw)
        log(f"memory: {n} tiles")
        out[f"peak_memory_mb_{n}_tiles"] = r(_peak_mb(lambda: encoders.ours(vision, [prep])), 0)
        if n == 9:
            for cap in (3, 1):
                out[f"peak_memory_mb_9_tiles_max_batch_{cap}"] = r(
                    _peak_mb(lambda: encoders.ours(vision, [prep], max_batch_tiles=cap)), 0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Decode and pages per hour
# ---------------------------------------------------------------------------------------------------------

NO_GUARDS = dict(ngram_size=0, loop_guard=False)


def _ours_decode(lm, prompt: mx.array, tokens: int) -> float:
    """Tokens/s of our generation loop (`generate_tokens`, the app's path) over `tokens` steps."""
    cfg = GenerationConfig(max_tokens=tokens, **NO_GUARDS)
    t0 = None
    for step in generate_tokens(lm, prompt, eos_id=-1, config=cfg):
        if step.index == 0:
            t0 = time.perf_counter()
    return (tokens - 1) / (time.perf_counter() - t0)


def _mlxvlm_decode(theirs, prompt: mx.array, tokens: int) -> float:
    """Tokens/s of mlx-vlm's language model in its own generate loop's pattern (greedy, next step
    dispatched with `async_eval` before the current token is read)."""
    from mlx_vlm.models.cache import KVCache

    cache = [KVCache() for _ in theirs.layers]
    logits = theirs(None, inputs_embeds=prompt[None], cache=cache).logits[:, -1]
    y = mx.argmax(logits, axis=-1)
    mx.eval(y)
    t0 = time.perf_counter()
    for _ in range(tokens - 1):
        nxt = mx.argmax(theirs(y[:, None], cache=cache).logits[:, -1], axis=-1)
        mx.async_eval(nxt)
        y.item()
        y = nxt
    y.item()
    return (tokens - 1) / (time.perf_counter() - t0)


def _quantize(module, bits=4, group=64):
    nn.quantize(module, group_size=group, bits=bits,
                class_predicate=lambda path, m: hasattr(m, "to_quantized") and not path.endswith("mlp.gate"))


class _Compiled(nn.Module):
    """A layer's MLP / MoE block behind `mx.compile` (the attention and its KV-cache update stay outside)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.fn = mx.compile(lambda x: inner(x))

    def __call__(self, x):
        return self.fn(x)


def _compiled_vs_mlx(lm, prompt, tokens: int, reps: int) -> dict:
    """Decode with MLX's own CPU kernels, uncompiled and with each MLP / MoE block behind `mx.compile`
    (compiled graphs must be pure MLX, so the numpy kernels are off for both)."""
    prev = route.set_mode("mlx")
    saved = [layer.mlp for layer in lm.layers]
    try:
        log("decode: MLX's own CPU matmuls, then with mx.compile'd MLP/MoE blocks")
        plain = statistics.median(_ours_decode(lm, prompt, tokens) for _ in range(reps))
        for layer in lm.layers:
            layer.mlp = _Compiled(layer.mlp)
        compiled = statistics.median(_ours_decode(lm, prompt, tokens) for _ in range(reps))
    finally:
        for layer, mlp in zip(lm.layers, saved):
            layer.mlp = mlp
        route.set_mode(prev)
    return {"decode_mlx_kernels_tok_s": plain, "decode_compiled_mlp_tok_s": compiled}


def decode(quick: bool) -> dict:
    """Tokens/s of ours vs mlx-vlm's LM on the same weights: fp32 at 2 and 4 layers (per MoE layer and
    extrapolated to the real 12), bf16 and 4-bit at 4 (not with --quick), fp32 at the real 12 layers (not with
    --quick); the weight-streaming bandwidth bound; mx.compile'd MLP/MoE blocks."""
    tokens, prompt_len, reps = (24, 128, 1) if quick else (48, 128, 3)
    res: dict = {"decode_tokens": tokens, "decode_prompt_tokens": prompt_len}
    bw = _stream_bandwidth_gbs()
    per: dict[str, dict[int, float]] = {}
    measured: dict[int, tuple] = {}
    for layers in (2, 4) if quick else (2, 4, FULL_LM_LAYERS):
        log(f"decode: language model with {layers} layers")
        lm = models.our_language_model(layers)
        prompt = mx.array(np.random.default_rng(0).standard_normal((prompt_len, lm.config.hidden_size),
                                                                   np.float32) * 0.02)
        theirs = models.mlxvlm_language_model(lm) if models.mlxvlm_available() else None
        for name in ["fp32"] + ([] if quick or layers != 4 else ["bf16", "q4"]):
            if name == "bf16":
                lm.set_dtype(mx.bfloat16)
            elif name == "q4":
                lm.set_dtype(mx.float32)
                _quantize(lm)
            if theirs is not None and name != "fp32":
                theirs.set_dtype(lm.dtype if name == "bf16" else mx.float32)
                if name == "q4":
                    _quantize(theirs)
            p = prompt.astype(lm.dtype)
            n = reps if name == "fp32" else 1  # bf16 and 4-bit have no fast CPU kernels: slow, measured once
            ours = statistics.median(_ours_decode(lm, p, tokens) for _ in range(n))
            try:
                t = statistics.median(_mlxvlm_decode(theirs, p, tokens) for _ in range(n)) if theirs else None
            except RuntimeError as e:  # e.g. its bf16 experts: MLX's CPU gather_mm is float32-only
                t, res[f"decode_{name}_mlxvlm_error"] = None, str(e)
            per.setdefault(f"{name}_ours", {})[layers] = 1 / ours
            if t:
                per.setdefault(f"{name}_mlxvlm", {})[layers] = 1 / t
            res[f"decode_{name}_tok_s_{layers}_layers"] = ours
            res[f"decode_{name}_mlxvlm_tok_s_{layers}_layers"] = t
            if name == "fp32":
                measured[layers] = (ours, t)
                if layers == 4:
                    res.update(_compiled_vs_mlx(lm, p, tokens, reps))
        del lm, theirs
        mx.clear_cache()
    # per MoE layer = slope between 2 and 4 layers; the rest (embedding, dense layer 0, head) = intercept
    for key, secs in per.items():
        if 2 in secs and 4 in secs:
            slope = (secs[4] - secs[2]) / 2
            res[f"decode_{key}_ms_per_moe_layer"] = slope * 1e3
            res[f"decode_{key}_full_model_tok_s_est"] = 1 / (secs[2] + slope * (FULL_LM_LAYERS - 2))
    if FULL_LM_LAYERS in measured:
        res["decode_tok_s"], res["decode_mlxvlm_tok_s"] = measured[FULL_LM_LAYERS]
        res["decode_tok_s_basis"] = f"measured, {FULL_LM_LAYERS} layers"
    else:
        res["decode_tok_s"] = res["decode_fp32_ours_full_model_tok_s_est"]
        res["decode_mlxvlm_tok_s"] = res.get("decode_fp32_mlxvlm_full_model_tok_s_est")
        res["decode_tok_s_basis"] = f"{FULL_LM_LAYERS} layers, extrapolated from 2 and 4"
    res["decode_over_mlxvlm"] = (res["decode_tok_s"] / res["decode_mlxvlm_tok_s"]
                                 if res.get("decode_mlxvlm_tok_s") else None)
    res["decode_over_mlxvlm_4_layers"] = (measured[4][0] / measured[4][1]) if measured[4][1] else None
    full = models.lm_active_params(FULL_LM_LAYERS)
    res["decode_active_mb_per_token_fp32"] = 4 * full["total"] / 2**20
    res["decode_bandwidth_bound_tok_s"] = {"fp32": bw * 1e9 / (4 * full["total"]),
                                           "bf16": bw * 1e9 / (2 * full["total"]),
                                           "q4": bw * 1e9 / (0.5625 * full["total"])}
    return _round(res)


def pages(quick: bool, encode_s: float | None) -> dict:
    """10 generated pages, a fixed number of tokens each: one page after another vs batched decoding (the
    language model only; the encode time per page, when measured, is added for the whole-document rate)."""
    layers = 2 if quick else 4
    n_pages, tokens, batch = 10, (32 if quick else 128), 10
    log(f"pages: {n_pages} pages x {tokens} tokens, LM with {layers} layers")
    lm = models.our_language_model(layers)
    prep = encoders.page("v1")
    prompt_len = prep.plan.image_tokens + 16  # the image slots plus a task prompt's worth of text
    rng = np.random.default_rng(1)
    prompts = [mx.array(rng.standard_normal((prompt_len - 3 * i, lm.config.hidden_size), np.float32) * 0.02)
               for i in range(n_pages)]  # different lengths, as real pages
    cfg = GenerationConfig(max_tokens=tokens, **NO_GUARDS)
    split = {}

    def one_by_one():
        prefill = decode = 0.0
        for p in prompts:
            st = GenerationStats()
            for _ in generate_tokens(lm, p, eos_id=-1, config=cfg, stats=st):
                pass
            prefill, decode = prefill + st.prefill_s, decode + st.decode_s
        split["one"] = (prefill, decode)

    def batched():
        prefill = decode = 0.0
        for i in range(0, n_pages, batch):
            sts = [GenerationStats() for _ in prompts[i:i + batch]]
            for _ in generate_batch(lm, prompts[i:i + batch], eos_id=-1, config=cfg, stats=sts):
                pass
            prefill, decode = prefill + sts[0].prefill_s, decode + max(s.decode_s for s in sts)
        split["batched"] = (prefill, decode)

    one = timed(one_by_one, 1, False)
    bat = timed(batched, 1, False)
    res = {"pages_lm_layers": layers, "pages_tokens_per_page": tokens, "pages_prompt_tokens": prompt_len,
           "pages_batch": batch, "pages_one_at_a_time_s": one, "pages_batched_s": bat,
           "pages_one_at_a_time_prefill_s": split["one"][0], "pages_one_at_a_time_decode_s": split["one"][1],
           "pages_batched_prefill_s": split["batched"][0], "pages_batched_decode_s": split["batched"][1],
           "pages_decode_tok_s_one_at_a_time": n_pages * tokens / split["one"][1],
           "pages_decode_tok_s_batched": n_pages * tokens / split["batched"][1],
           "pages_per_hour_one_at_a_time": n_pages * 3600 / one, "pages_per_hour_batched": n_pages * 3600 / bat,
           "pages_batched_speedup": one / bat, "pages_batched_decode_speedup": split["one"][1] / split["batched"][1]}
    if encode_s:
        res["pages_per_hour_with_encode_batched"] = n_pages * 3600 / (bat + n_pages * encode_s)
        res["pages_per_hour_with_encode_one_at_a_time"] = n_pages * 3600 / (one + n_pages * encode_s)
    return _round(res)


def flops() -> dict:
    """Analytic GFLOP of one view through each encoder, per view size (multiply-add = 2 FLOPs)."""
    return {"v1_view_gflop": {str(s): r(models.encoder_flops("v1", s) / 1e9, 1) for s in (640, 1024)},
            "v2_view_gflop": {str(s): r(models.encoder_flops("v2", s) / 1e9, 1) for s in (768, 1024)}}


def plan_time() -> dict:
    s = timed(lambda: engine.plan((6000, 4000), "v2"), 200)
    s1 = timed(lambda: engine.plan((6000, 4000), "v1"), 200)
    return {"plan_6000x4000_ms": r(s * 1e3, 4), "plan_6000x4000_v1_ms": r(s1 * 1e3, 4)}


def _round(d: dict) -> dict:
    """Floats rounded, in nested dicts too; counts (ints) kept as they are."""
    return {k: (r(v) if isinstance(v, float) else _round(v) if isinstance(v, dict) else v) for k, v in d.items()}


# ---------------------------------------------------------------------------------------------------------

def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = res["v1_tiles"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for key, label in (("v1_tiles_batched_curve_s", "ours, batched"),
                       ("v1_tiles_one_at_a_time_curve_s", "ours, one tile at a time"),
                       ("v1_tiles_mlxvlm_curve_s", "mlx-vlm 0.7.10")):
        ys = res[key]
        if all(y is not None for y in ys):
            ax.plot(n, ys, marker="o", label=label)
    ax.set_xlabel("local tiles (640 px) + one 1024 px global view")
    ax.set_ylabel("encode seconds (v1, real dims, fp32)")
    ax.set_title(f"DeepSeek-OCR v1 encode time vs tiles\n{res.get('cpu', '')}, {res.get('cores', '')} cores",
                 fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run per figure, fewer LM layers (< 10 min here)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--out", type=Path, help="also write the JSON object to this file (after every section)")
    ap.add_argument("--merge", action="store_true", help="start from the figures already in --out (with --only: "
                                                         "re-run some sections of an earlier run)")
    ap.add_argument("--plot", type=Path, help="write the encode-time-vs-tiles plot (PNG; needs section tiles)")
    ap.add_argument("--only", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    args = ap.parse_args(argv)
    raise_buffer_cache()  # what `engine.load` does on a CPU: the models here are built without it
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    if args.quick:
        only.discard("tiles")
        if not args.only:  # ~15 minutes of its own: only when asked for
            only.discard("resources")
    if not args.only:  # 8k-token decodes: ~30 minutes of its own, only when asked for
        only.discard("unlimited")
        only.discard("serve")  # a server and ~200 requests: ~13 minutes of its own
    unknown = only - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    res: dict = json.loads(args.out.read_text()) if args.merge and args.out and args.out.exists() else {}
    res.update({"quick": args.quick}, **machine())

    def done(figures: dict) -> None:
        res.update(figures)
        if args.out:
            args.out.write_text(json.dumps(res, indent=1) + "\n")

    if "matmul" in only:
        done(matmul(args.quick))
    if "flops" in only:
        done(flops())
    if only & {"encode_v1", "tiles", "memory"}:
        if "encode_v1" in only:
            enc, vision, vlm = encode("v1", args.quick)
            done(enc)
        else:
            vision = models.our_vision("v1")
            vlm = (models.mlxvlm_vision_model(vision, "v1")
                   if "tiles" in only and models.mlxvlm_available() else None)
        if "tiles" in only:
            done(tiles(vision, vlm, args.quick, res))
        if "memory" in only:
            done(memory(vision, args.quick, res))
        del vision, vlm
        mx.clear_cache()
    if "encode_v2" in only:
        enc, vision, vlm = encode("v2", args.quick, brief=args.quick)
        done(enc)
        del vision, vlm
        mx.clear_cache()
    limit = max(res.get("matmul_gflops") or 0, res.get("matmul_gflops_4096") or 0)
    for v in ("v1", "v2"):
        if limit and res.get(f"{v}_encoder_gflops"):
            res[f"{v}_encoder_fraction_of_matmul"] = r(res[f"{v}_encoder_gflops"] / limit)
    if "decode" in only:
        done(decode(args.quick))
    if "pages" in only:
        done(pages(args.quick, res.get("v1_page_encode_s")))
    if "plan" in only:
        done(plan_time())
    if "resources" in only:
        if "matmul_gflops" not in res or "matmul" not in only:
            done(matmul(True))  # the limits the resources are measured against, in the same run
        done(_round(resources.resources(args.quick, res, log)))
    if "unlimited" in only:
        done(_round(unlimited.unlimited(args.quick, log)))
    if "serve" in only:
        done(_round(serve.serve(log)))
    done({"bench_wall_s": r(time.perf_counter() - t0, 1)})
    if args.plot and "v1_tiles" in res:
        plot(res, args.plot)
    print(json.dumps(res, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
