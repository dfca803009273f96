"""The accelerator check: the parity suite, batched encoding, compiled decode and a real-size load on a GPU.

Run on a machine where MLX has a GPU backend (CUDA on Linux: `pip install "mlx[cuda13]"`; Metal on a Mac):

    python bench/gpu.py all --out DIR [--budget SECONDS]

Each part runs in a child process of its own, under a time limit (within the overall budget), so that a part
that fails or runs long does not cost the others; DIR/gpu.json is rewritten after every part, DIR/*.log hold
the children's output. Parts, in this order:
- info: the device, MLX's version, bf16 / fp32 matmul TFLOP/s and the copy bandwidth measured here;
- parity: tests/test_parity.py and tests/test_transformers_parity.py on the GPU (float32 and bfloat16 cases,
  float32 in full precision as the engine sets it), then the float32 cases with `MLX_ENABLE_TF32=1` (MLX's
  own default: TF32 products), to show how far those are off;
- encode: the real-size vision side (random weights) of v1 and v2 at 6 and 9 tiles, float32 and bfloat16:
  all tiles in one batch vs one view at a time (`max_batch_tiles=1`), and the batch inside a cancel scope
  (its cancel points become evaluation points on a GPU) vs outside; MLX's peak memory;
- trace: where a batched encode's time and memory go, and variants of it (bench/gpu_trace.py), in children;
- decode: the real 12-layer language model, float32 and bfloat16: a 900-position prefill, decode tokens/s
  plain and with every MLP / MoE block behind `mx.compile`, the fraction of the bandwidth bound; peak memory;
- real: a real-size v2 checkpoint written to disk, then in children: `engine.load` with the device's default
  dtype (bfloat16) and float32, one 2x2-tile page each (load time, peak RSS, MLX's peak memory, encode,
  prefill, decode speed; the page with and without a cancel flag) and the cancel latency in each phase.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from threading import Event

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import engine  # noqa: E402,F401
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from run import FULL_LM_LAYERS, NO_GUARDS, _Compiled, _copy_bandwidth_gbs, _matmul_gflops, log, r, timed  # noqa: E402

PREFILL_TOKENS = 900  # about a 2x3-tile v2 page's prompt
DECODE_TOKENS = 64
TILES = {"v1": {6: ((1500, 2100), 6), 9: ((2000, 2000), 9)},  # page size, min = max tiles
         "v2": {4: ((1500, 1500), 4), 6: ((1500, 2100), 6)}}  # (v2 plans at most 6 tiles)


GPU_COPY_MB = 2048  # large enough to leave a GPU's caches behind


def info() -> dict:
    dev = mx.default_device()
    out = {"mlx": mx.__version__, "device": str(dev), "gpu": dev.type == mx.DeviceType.gpu,
           "tf32_env": os.environ.get("MLX_ENABLE_TF32")}
    try:
        out["device_info"] = {k: v for k, v in mx.device_info().items() if isinstance(v, (str, int, float))}
    except Exception as e:  # noqa: BLE001 - older MLX
        out["device_info"] = repr(e)
    n = 8192 if out["gpu"] else 512
    out["matmul_tflops_bf16"] = _matmul_gflops(n, mx.bfloat16, 5) / 1e3
    out["matmul_tflops_fp32"] = _matmul_gflops(n, mx.float32, 5) / 1e3
    out["copy_bandwidth_gbs"] = _copy_bandwidth_gbs(GPU_COPY_MB)
    return out


def _peak_gb(fn) -> float:
    """MLX's peak memory, GB, while `fn` runs (waited for to the end, queued work included)."""
    mx.synchronize()
    mx.reset_peak_memory()
    fn()
    mx.synchronize()
    return mx.get_peak_memory() / 1e9


DTYPES = (("fp32", mx.float32), ("bf16", mx.bfloat16))


def encode(reps: int, versions=("v1", "v2"), dtypes=DTYPES, tiles=TILES) -> dict:
    """Batched vs one view at a time, and the cancel points' cost, per version, dtype and tile count."""
    import encoders
    import models
    from engine.runtime import cancel
    from engine.vision.encoder import encode_images

    out: dict = {}
    for version in versions:
        vision = models.our_vision(version)
        for name, dtype in dtypes:
            vision.set_dtype(dtype)
            mx.eval(vision.parameters())
            for n, (size, count) in tiles[version].items():
                key = f"{version}_{name}_{n}_tiles"
                try:
                    prep = encoders.page(version, size=size, min_tiles=count, max_tiles=count)
                    out[f"{key}_grid"] = list(prep.plan.grid)

                    def run(flag=None, pipelined=None, max_batch_tiles=None):  # no flag: the points do nothing
                        with cancel.scope(flag, pipelined):
                            return encode_images(vision, [prep], dtype, max_batch_tiles=max_batch_tiles)

                    batched, one_at_a_time = run, partial(run, max_batch_tiles=1)
                    b, o, c = timed(batched, reps), timed(one_at_a_time, reps), timed(partial(run, Event()), reps)
                    # every point waiting for its own part (a CPU's way)
                    out[f"{key}_cancel_points_waiting_s"] = timed(partial(run, Event(), pipelined=False), reps)
                    out[f"{key}_batched_s"], out[f"{key}_one_at_a_time_s"] = b, o
                    out[f"{key}_batched_over_one_at_a_time"] = b / o
                    out[f"{key}_cancel_points_s"] = c
                    out[f"{key}_cancel_points_cost"] = c / b - 1
                    out[f"{key}_peak_gb"] = _peak_gb(batched)
                    out[f"{key}_one_at_a_time_peak_gb"] = _peak_gb(one_at_a_time)
                    if n == 6:
                        out.update({f"{key}_{k}": v for k, v in _stages(vision, prep, version, dtype, reps).items()})
                    log(f"encode {key}: batched {b:.3f} s, one at a time {o:.3f} s, with cancel points {c:.3f} s")
                except Exception as e:  # noqa: BLE001 - report and go on with the other cases
                    out[f"{key}_error"] = f"{type(e).__name__}: {e}"
                    log(f"encode {key}: {e!r}")
        del vision
        mx.clear_cache()
    return out


def _stages(vision, prep, version: str, dtype, reps: int) -> dict:
    """Where the time goes: SAM and the second encoder on the tile batch, and on one tile; SAM's peak memory."""
    from engine.vision.encoder import to_nhwc

    second = vision.vision_model if version == "v1" else vision.qwen2_model
    out = {}
    for name, pixels in (("batch", prep.tiles), ("one_tile", prep.tiles[:1]), ("global", prep.global_view)):
        x = to_nhwc(pixels, dtype)
        mx.eval(x)
        sam = vision.sam_model(x)
        mx.eval(sam)
        out[f"sam_{name}_s"] = timed(lambda: mx.eval(vision.sam_model(x)), reps)
        out[f"encoder2_{name}_s"] = timed(lambda: mx.eval(second(sam)), reps)
        out[f"sam_{name}_peak_gb"] = _peak_gb(lambda: mx.eval(vision.sam_model(x)))
        out[f"graph_{name}_s"] = timed(lambda: second(vision.sam_model(x)), reps)  # built, not evaluated
    out["pixels_to_device_s"] = timed(lambda: mx.eval(to_nhwc(prep.tiles, dtype), to_nhwc(prep.global_view, dtype)),
                                      reps)
    return out


def _prefill_s(lm, prompt) -> float:
    from engine.language.generate import GenerationConfig, generate_tokens

    t0 = time.perf_counter()
    for _ in generate_tokens(lm, prompt, eos_id=-1, config=GenerationConfig(max_tokens=1, **NO_GUARDS)):
        break
    return time.perf_counter() - t0


def decode(reps: int, layers: int = FULL_LM_LAYERS, dtypes=DTYPES, prefill_tokens: int = PREFILL_TOKENS) -> dict:
    """Prefill and decode of the real-width language model, plain and with compiled MLP / MoE blocks."""
    import models
    from engine.runtime.kernels import route
    from run import _ours_decode

    out: dict = {"decode_layers": layers, "prefill_tokens": prefill_tokens, "decode_tokens": DECODE_TOKENS}
    bw = _copy_bandwidth_gbs(GPU_COPY_MB)
    active = models.lm_active_params(layers)
    lm = models.our_language_model(layers)
    rng = np.random.default_rng(0)
    prompt32 = mx.array(rng.standard_normal((prefill_tokens, lm.config.hidden_size), np.float32) * 0.02)
    for name, dtype in dtypes:
        size = dtype.size
        lm.set_dtype(dtype)
        mx.eval(lm.parameters())
        prompt = prompt32.astype(dtype)
        _prefill_s(lm, prompt)  # warm-up
        out[f"prefill_{name}_s"] = min(_prefill_s(lm, prompt) for _ in range(reps))
        plain = [_ours_decode(lm, prompt, DECODE_TOKENS) for _ in range(reps)]
        out[f"decode_{name}_tok_s"] = max(plain)
        out[f"decode_{name}_peak_gb"] = _peak_gb(lambda: _ours_decode(lm, prompt, 8))
        saved = [layer.mlp for layer in lm.layers]
        prev = route.set_mode("mlx")  # a compiled graph is pure MLX (no numpy kernels, on a CPU only)
        try:
            for layer in lm.layers:
                layer.mlp = _Compiled(layer.mlp)
            _ours_decode(lm, prompt, 8)  # compiles
            out[f"decode_{name}_compiled_mlp_tok_s"] = max(_ours_decode(lm, prompt, DECODE_TOKENS)
                                                           for _ in range(reps))
        except Exception as e:  # noqa: BLE001
            out[f"decode_{name}_compiled_error"] = f"{type(e).__name__}: {e}"
        finally:
            route.set_mode(prev)
            for layer, mlp in zip(lm.layers, saved):
                layer.mlp = mlp
        bound = bw * 1e9 / (size * active["total"])
        out[f"decode_{name}_bandwidth_bound_tok_s"] = bound
        out[f"decode_{name}_fraction_of_bound"] = out[f"decode_{name}_tok_s"] / bound
        log(f"decode {name}: prefill {out[f'prefill_{name}_s']:.3f} s, {out[f'decode_{name}_tok_s']:.1f} tok/s, "
            f"compiled {out.get(f'decode_{name}_compiled_mlp_tok_s')}")
    out["copy_bandwidth_gbs"] = bw
    return out


def page_run(folder: str, dtype: str | None, reps: int) -> dict:
    """Load `folder`, then the 2x2 page `reps` times without and with a cancel flag (never set)."""
    import encoders
    import resources

    t0 = time.perf_counter()
    model = engine.load(folder, dtype=dtype)
    out: dict = {"dtype": str(model.dtype), "load_s": time.perf_counter() - t0}
    st = resources.vm_status()
    out["rss_after_load_gb"], out["peak_rss_load_gb"] = st["VmRSS"], st["VmHWM"]
    out["mlx_after_load_gb"] = mx.get_active_memory() / 1e9
    prep = encoders.page(model.version, size=resources.PAGE)
    runs: dict[str, list] = {"plain": [], "cancel_flag": []}
    mx.reset_peak_memory()
    for i in range(reps + 1):  # the first pair warms up
        for kind in runs:
            flag = Event() if kind == "cancel_flag" else None
            res = engine.ocr(model, prep, engine.RunOptions.of(max_tokens=DECODE_TOKENS, ngram_size=0), cancel=flag)
            if i:
                runs[kind].append(res)
    out["mlx_peak_gb"] = mx.get_peak_memory() / 1e9
    out["peak_rss_gb"] = resources.vm_status()["VmHWM"]
    out["prompt_tokens"] = runs["plain"][0].prompt_tokens
    for kind, results in runs.items():
        out[f"{kind}_encode_s"] = min(x.encode_s for x in results)
        out[f"{kind}_prefill_s"] = min(x.prefill_s for x in results)
        out[f"{kind}_first_token_s"] = out[f"{kind}_encode_s"] + out[f"{kind}_prefill_s"]
        out[f"{kind}_decode_tok_s"] = max(x.decode_tokens_per_s for x in results)
    return out


def real(budget: float) -> dict:
    """Write a real-size v2 checkpoint, then load and run it in children."""
    import shutil
    import tempfile

    import resources
    from checkpoint import write_real_checkpoint

    tmp = Path(tempfile.mkdtemp(prefix="dsocr-real-"))
    end = time.monotonic() + budget
    out: dict = {}
    try:
        folder = tmp / "v2"
        t0 = time.perf_counter()
        out["real_v2_checkpoint_gb"] = write_real_checkpoint(folder, "v2") / 1e9
        out["real_v2_write_s"] = time.perf_counter() - t0
        out["real_v2_read_files_s"] = resources.read_files_s(folder)
        f, me, res = str(folder), str(HERE / "gpu.py"), str(HERE / "resources.py")
        for key, args in (("bf16", [me, "page", f, "--reps", "2"]),
                          ("cancel", [res, "cancel", f, "--delays", "0.05", "0.02"]),
                          ("fp32", [me, "page", f, "--dtype", "float32", "--reps", "1"])):
            left = end - time.monotonic()
            if left < 30:
                out[f"{key}_skipped"] = "out of time"
                continue
            out[key] = _child([sys.executable, *args], left, f"real_{key}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# The driver: children under time limits, gpu.json rewritten after each
# ---------------------------------------------------------------------------------------------------------

LOGS: Path | None = None


def _child(argv: list[str], timeout: float, name: str, env: dict | None = None) -> dict:
    """Run argv (its last stdout line is JSON); its output goes to LOGS/name.log."""
    env = dict(os.environ, **(env or {}), PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        stdout, text, rc = p.stdout, p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:  # what it printed is kept for the log; no result
        text = "".join(x.decode(errors="replace") if isinstance(x, bytes) else x for x in (e.stdout, e.stderr) if x)
        stdout, text, rc = "", text + f"\n[timed out after {timeout:.0f} s]", "timeout"
    if LOGS is not None:
        (LOGS / f"{name}.log").write_text(text)
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    try:
        res = json.loads(lines[-1]) if lines else {}
    except ValueError:
        res = {}
    res.update(rc=rc, wall_s=r(time.perf_counter() - t0, 1))
    if not lines:
        res["tail"] = text[-1500:]
    return res


def _pytest(names: list[str], timeout: float, name: str, env: dict | None = None, select: str | None = None) -> dict:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *names]
    if select:
        argv += ["-k", select]
    res = _child(argv, timeout, name, env)
    tail = (LOGS / f"{name}.log").read_text().strip().splitlines() if LOGS else []
    res["summary"] = tail[-1] if tail else ""
    res["failures"] = [ln for ln in tail if ln.startswith(("FAILED", "ERROR"))][:20]
    res.pop("tail", None)
    return res


TRACE_REPS = ["--reps", "3"]
TRACES = (("v1_bf16_6", ["--version", "v1", "--tiles", "6"], {}),  # (name, gpu_trace.py arguments, environment)
          ("v1_bf16_6_mlx_graphs", ["--version", "v1", "--tiles", "6"], {"MLX_MAX_MB_PER_BUFFER": "1000"}),
          ("v2_bf16_6", ["--version", "v2", "--tiles", "6"], {}),
          ("v1_bf16_9", ["--version", "v1", "--tiles", "9"], {}),
          ("v1_fp32_6", ["--version", "v1", "--tiles", "6", "--dtype", "float32"], {}),
          ("v1_bf16_6_mb64", ["--version", "v1", "--tiles", "6"], {"MLX_MAX_MB_PER_BUFFER": "64"}))


def trace(budget: float) -> dict:
    """bench/gpu_trace.py's variants of a batched encode, one child per case (the MLX_MAX_* environment is read
    once per process)."""
    end = time.monotonic() + budget
    out: dict = {}
    for name, args, env in TRACES:
        left = end - time.monotonic()
        if left < 30:
            out[name] = {"skipped": "out of time"}
            continue
        argv = [sys.executable, str(HERE / "gpu_trace.py"), *args, *TRACE_REPS]
        out[name] = _child(argv, min(left, 120), f"trace_{name}", env)
    return out


def run_all(out_dir: Path, budget: float, only: list[str] | None = None) -> dict:
    global LOGS
    LOGS = out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + budget
    results: dict = {}
    me = [sys.executable, str(Path(__file__).resolve())]
    parity = ["tests/test_parity.py", "tests/test_transformers_parity.py"]
    real = me + ["real", "--out", str(out_dir), "--budget"]
    parts = [("info", lambda t: _child(me + ["info"], t, "info"), 90),
             ("parity", lambda t: _pytest(parity, t, "parity"), 240),
             ("parity_tf32", lambda t: _pytest(parity, t, "parity_tf32", {"MLX_ENABLE_TF32": "1"}, "float32"), 90),
             ("encode", lambda t: _child(me + ["encode"], t, "encode"), 150),
             ("trace", lambda t: trace(t), 400),
             ("decode", lambda t: _child(me + ["decode"], t, "decode"), 150),
             ("real", lambda t: _child(real + [str(int(t - 10))], t, "real"), 300)]
    for name, fn, limit in parts:
        if only and name not in only and not (name == "parity_tf32" and "parity" in only):
            continue
        left = end - time.monotonic()
        if left < 20:
            results[name] = {"skipped": "out of time"}
        else:
            log(f"gpu: {name} (up to {min(limit, left):.0f} s)")
            results[name] = fn(min(limit, left))
            log(f"gpu: {name}: {json.dumps(results[name])[:600]}")
        (out_dir / "gpu.json").write_text(json.dumps(results, indent=1, default=str))
    return results


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=("all", "info", "encode", "decode", "real", "page"))
    ap.add_argument("folder", nargs="?", help="page: the checkpoint folder")
    ap.add_argument("--out", type=Path, default=Path("gpu-results"))
    ap.add_argument("--budget", type=float, default=900, help="seconds for everything (all) / for the part (real)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", nargs="+", help="all: these parts only (info parity encode trace decode real)")
    ap.add_argument("--dtype")
    ap.add_argument("--layers", type=int, default=FULL_LM_LAYERS, help="decode: language-model layers")
    args = ap.parse_args(argv)
    global LOGS
    LOGS = args.out
    LOGS.mkdir(parents=True, exist_ok=True)
    if args.part == "all":
        run_all(args.out, args.budget, args.only)
        return 0
    fns = {"info": info, "encode": lambda: encode(args.reps), "decode": lambda: decode(args.reps, args.layers),
           "real": lambda: real(args.budget), "page": lambda: page_run(args.folder, args.dtype, args.reps)}
    print(json.dumps(fns[args.part](), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
