"""Where a batched page encode's time and memory go on a GPU, and variants of it measured side by side.

    python bench/gpu_trace.py [--version v1] [--tiles 6] [--dtype bfloat16] [--reps 5]

One real-size vision model (random weights), one page; each variant is timed interleaved with the others
(medians) and its MLX peak memory taken on its own:
- `batched` / `one_at_a_time`: `encode_images` as the engine runs it, all tiles in one graph or one per graph;
- `by_hand`: the same page built by hand, tiles and global view evaluated together at the end (what the engine
  did before it queued each view batch as soon as it was built); the variants below change one thing of it;
- `dispatch`: how long `mx.async_eval` of the batched graph takes to return (the CPU queueing its kernels)
  against the whole encode: a GPU waiting on the CPU shows as dispatch ~ total;
- `global_on_stream`: the global view built on a second GPU stream, so that its kernels can run beside the
  tiles' ones instead of after them;
- `upload_overlap`: the tiles' graph queued (`async_eval`) before the global view's pixels are copied in;
- `compiled`: the vision forward behind `mx.compile` (one compiled graph per view size: fused elementwise ops);
- `all_three`: those three together, and the same one tile per graph (`all_three_one_at_a_time`);
- `*_in_scope`: the engine's encode inside a cancel scope, as the app runs it (its points pipelined on a GPU);
- `memory_limit`: the batched encode with MLX's memory limit set a few GB above what the weights hold, so
  that its evaluation waits for finished work before queueing more (MLX otherwise keeps up to 10 committed
  command graphs and their inputs alive, each up to `MLX_MAX_MB_PER_BUFFER`).
The environment (`MLX_MAX_OPS_PER_BUFFER`, `MLX_MAX_MB_PER_BUFFER`) is read once per process: bench/gpu.py
runs this script in children with different values. The last stdout line is the JSON of every figure.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from threading import Event

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import engine  # noqa: E402,F401
import mlx.core as mx  # noqa: E402

from engine.runtime import cancel  # noqa: E402
from engine.runtime.device import parse_dtype  # noqa: E402
from engine.vision.encoder import encode_images, to_nhwc  # noqa: E402

GB = 1e9


def _views(vision, prep, dtype, forward=None, stream=None, overlap=False, one_at_a_time=False) -> mx.array:
    """The page's embeddings, tiles and global view built by hand (the variants' common path)."""
    f = forward or vision
    if one_at_a_time:
        tiles = [f(to_nhwc(prep.tiles[i:i + 1], dtype)) for i in range(len(prep.tiles))]
        for t in tiles:
            mx.async_eval(t) if overlap else mx.eval(t)
        tiles = mx.concatenate(tiles)
    else:
        tiles = f(to_nhwc(prep.tiles, dtype))
    if overlap:
        mx.async_eval(tiles)
    if stream is not None:
        with mx.stream(stream):
            glob = f(to_nhwc(prep.global_view, dtype))
    else:
        glob = f(to_nhwc(prep.global_view, dtype))
    emb = vision.layout(prep.plan, tiles, glob[0])
    mx.eval(emb)
    return emb


def _dispatch(vision, prep, dtype) -> tuple[float, float, float]:
    """(graph build s, async_eval return s, total s) of one batched encode."""
    t0 = time.perf_counter()
    embeds, _ = encode_images(vision, [prep], dtype, evaluate=False)
    t1 = time.perf_counter()
    mx.async_eval(embeds)
    t2 = time.perf_counter()
    mx.eval(embeds)
    mx.synchronize()
    return t1 - t0, t2 - t1, time.perf_counter() - t0


def trace(version: str, tiles: int, dtype_name: str, reps: int, tiny: bool = False) -> dict:
    import encoders
    import models
    from gpu import TILES, _peak_gb

    dtype = parse_dtype(dtype_name)
    size, count = TILES[version][tiles]
    if tiny:  # a smoke test of this script on a CPU
        from engine.model import DeepseekOCR
        from engine.testing import tiny_config
        from engine.weights.config import parse_config

        vision = DeepseekOCR(parse_config(tiny_config(version))).vision
    else:
        vision = models.our_vision(version)
    vision.set_dtype(dtype)
    mx.eval(vision.parameters())
    weights = mx.get_active_memory()
    prep = encoders.page(version, size=size, min_tiles=count, max_tiles=count)
    compiled = mx.compile(lambda x: vision(x))
    stream = mx.new_stream(mx.default_device())
    def in_scope(**kw):  # as the app runs it: a cancel flag current, its points pipelined on a GPU
        with cancel.scope(Event()):
            return encode_images(vision, [prep], dtype, **kw)

    both = dict(forward=compiled, stream=stream, overlap=True)
    variants = {
        "batched": lambda: encode_images(vision, [prep], dtype),
        "one_at_a_time": lambda: encode_images(vision, [prep], dtype, max_batch_tiles=1),
        "batched_in_scope": in_scope,
        "one_at_a_time_in_scope": lambda: in_scope(max_batch_tiles=1),
        "by_hand": lambda: _views(vision, prep, dtype),
        "global_on_stream": lambda: _views(vision, prep, dtype, stream=stream),
        "upload_overlap": lambda: _views(vision, prep, dtype, overlap=True),
        "compiled": lambda: _views(vision, prep, dtype, forward=compiled),
        "all_three": lambda: _views(vision, prep, dtype, **both),
        "all_three_one_at_a_time": lambda: _views(vision, prep, dtype, one_at_a_time=True, **both),
    }
    out: dict = {"version": version, "tiles": tiles, "dtype": dtype_name, "grid": list(prep.plan.grid),
                 "weights_gb": weights / GB, "env": {k: os.environ.get(k) for k in
                                                    ("MLX_MAX_OPS_PER_BUFFER", "MLX_MAX_MB_PER_BUFFER")}}
    ref = mx.concatenate(encode_images(vision, [prep], dtype)[0]).astype(mx.float32)
    out["reference_max_abs"] = float(mx.max(mx.abs(ref)))

    def diff(got) -> float:  # every run's result against the engine's first batched one
        got = mx.concatenate(got[0]) if isinstance(got, tuple) else got
        return float(mx.max(mx.abs(got.astype(mx.float32) - ref)))

    times: dict[str, list[float]] = {k: [] for k in variants}
    for name, fn in variants.items():  # warm-up (compiles)
        try:
            out[f"{name}_max_abs_diff"] = diff(fn())
        except Exception as e:  # noqa: BLE001 - a variant that fails is reported, the others go on
            out[f"{name}_error"] = f"{type(e).__name__}: {e}"
            times.pop(name)
    for _ in range(reps):
        for name in times:
            seconds, got = _timed_sync(variants[name])
            times[name].append(seconds)
            out[f"{name}_max_abs_diff"] = max(out[f"{name}_max_abs_diff"], diff(got))
    for name, ts in times.items():
        out[f"{name}_s"] = statistics.median(ts)
        out[f"{name}_peak_gb"] = _peak_gb(variants[name]) - weights / GB
    for a, b in (("batched", "one_at_a_time"), ("batched_in_scope", "one_at_a_time_in_scope"),
                 ("all_three", "all_three_one_at_a_time"), ("all_three", "one_at_a_time")):
        if f"{a}_s" in out and f"{b}_s" in out:
            out[f"{a}_over_{b}"] = out[f"{a}_s"] / out[f"{b}_s"]
    runs = [_dispatch(vision, prep, dtype) for _ in range(reps)]
    out["graph_build_s"], out["dispatch_s"], out["dispatch_total_s"] = (statistics.median(x) for x in zip(*runs))
    for extra in (2, 4):
        prev = mx.set_memory_limit(int(weights + extra * GB))
        try:
            fn = variants["batched"]
            fn()
            out[f"memory_limit_{extra}gb_s"] = statistics.median(_timed_sync(fn)[0] for _ in range(reps))
            out[f"memory_limit_{extra}gb_peak_gb"] = _peak_gb(fn) - weights / GB
        finally:
            mx.set_memory_limit(prev)
    return out


def _timed_sync(fn):
    """(seconds, result) of one call of `fn`, from an idle device to its work finished."""
    mx.synchronize()
    t0 = time.perf_counter()
    result = fn()
    mx.synchronize()
    return time.perf_counter() - t0, result


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="v1", choices=("v1", "v2"))
    ap.add_argument("--tiles", type=int, default=6)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tiny", action="store_true", help="a tiny random model (a smoke test of this script)")
    args = ap.parse_args(argv)
    print(json.dumps(trace(args.version, args.tiles, args.dtype, args.reps, args.tiny), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
