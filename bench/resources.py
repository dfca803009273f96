"""Real-size resources measured the way a user meets them: a checkpoint on disk, `engine.load`, one page.

`resources(quick)` (section `resources` of bench/run.py) writes a real-size random v2 checkpoint into a
temporary folder (bench/checkpoint.py; deleted afterwards) and measures, each in a child process of its own
(`python bench/resources.py measure|cancel|gui FOLDER ...`) so that its peak resident memory (`VmHWM` of
/proc/self/status, what `/usr/bin/time -v` calls the maximum resident set size) belongs to that load alone:
the load and one 2x2-tile page in float32 (the CPU default: the language model's matrices kept bfloat16 with
the compiled kernels; again without them; and under a 16 GB machine's default memory cap), a bfloat16 load (its
run is not timed: MLX's CPU bf16 matmuls are ~40x slower than float32), cancel latencies in each phase, and
the GUI event loop's longest gap while the app's worker loads and runs. Then, on in-memory models: decode and
encode speed idle and beside bounded busy loops.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (first in every child: it loads the fast BLAS before mlx.core is imported)

PAGE = (1536, 1536)  # plans to 2x2 tiles + the global view in v2's gundam mode (842 prompt tokens)


def vm_status() -> dict[str, float]:
    """VmRSS and VmHWM (peak) of this process, GB (1e9 bytes)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1]) * 1024 / 1e9
    return out


def measure(folder: str, dtype: str | None, tokens: int, run: bool = True, **load_kw) -> dict:
    import engine
    import encoders

    res: dict = {}
    t0, use0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    model = engine.load(folder, dtype=dtype, **load_kw)
    use = resource.getrusage(resource.RUSAGE_SELF)
    res["load_s"] = time.perf_counter() - t0
    # where a load's time goes: the kernel's (mostly zeroing the pages it faults in) and the faults themselves
    res["load_system_s"], res["load_minor_faults"] = use.ru_stime - use0.ru_stime, use.ru_minflt - use0.ru_minflt
    st = vm_status()
    res["rss_after_load_gb"], res["peak_rss_load_gb"] = st["VmRSS"], st["VmHWM"]
    res["expert_dtype"] = str(model.expert_dtype).removeprefix("mlx.core.")
    res["narrow_weights"] = model.narrow  # which weights stayed bfloat16: language_model / routed_experts / None
    if run:
        prep = encoders.page(model.version, size=PAGE)
        result = engine.ocr(model, prep, engine.RunOptions.of(max_tokens=tokens))
        st = vm_status()
        res.update(encode_s=result.encode_s, prefill_s=result.prefill_s, prompt_tokens=result.prompt_tokens,
                   decode_tok_s=result.decode_tokens_per_s, generated=result.generated_tokens,
                   mlx_peak_gb=result.peak_memory_mb * 2**20 / 1e9, peak_rss_run_gb=st["VmHWM"],
                   rss_after_run_gb=st["VmRSS"])
        # a second page in the same process (an app's every page after its first): the first pays the page faults
        # of memory it touches for the first time, several microseconds each on a VM
        again = engine.ocr(model, prep, engine.RunOptions.of(max_tokens=tokens))
        res.update(encode_s_second_page=again.encode_s, prefill_s_second_page=again.prefill_s,
                   decode_tok_s_second_page=again.decode_tokens_per_s, peak_rss_two_pages_gb=vm_status()["VmHWM"])
    return res


def _cancel_latency(model, prep, when: str, tokens: int = 64, delays: tuple[float, float] = (3.0, 1.0)) -> float:
    """Seconds from `cancel.set()` to the stream's final Result, the cancel set `when` ("encode": `delays[0]`
    (3 s) into the encode; "prefill": `delays[1]` (1 s) into the prefill; "decode": once the third token is
    sampled). A GPU needs shorter delays: its whole encode takes well under a second."""
    import threading

    import engine
    from engine.language import generate

    event = threading.Event()
    stamp: dict[str, float] = {}

    def set_later(delay: float):
        def fire():
            stamp["set"] = time.perf_counter()
            event.set()
        threading.Timer(delay, fire).start()

    original = generate.prefill, generate.sample
    if when == "prefill":
        def hooked(*args, **kwargs):
            set_later(delays[1])
            return original[0](*args, **kwargs)
        generate.prefill = hooked
    elif when == "decode":  # (a random model's tokens mostly decode to no text: count sampled tokens instead)
        def sampled(*args, **kwargs):
            out = original[1](*args, **kwargs)
            stamp["tokens"] = stamp.get("tokens", 0) + 1
            if stamp["tokens"] == 3:
                stamp["set"] = time.perf_counter()
                event.set()
            return out
        generate.sample = sampled
    try:
        if when == "encode":
            set_later(delays[0])
        for ev in engine.stream(model, prep, engine.RunOptions.of(max_tokens=tokens, ngram_size=0), cancel=event):
            pass
        end = time.perf_counter()
    finally:
        generate.prefill, generate.sample = original
    if ev.stop_reason != "cancelled" or "set" not in stamp:
        return float("nan")
    return end - stamp["set"]


def cancel_latencies(folder: str, memory_limit_gb: float | None, delays: tuple[float, float] = (3.0, 1.0)) -> dict:
    import engine
    import encoders

    model = engine.load(folder, memory_limit_gb=memory_limit_gb)
    prep = encoders.page(model.version, size=PAGE)
    return {f"cancel_latency_s_{w}": _cancel_latency(model, prep, w, delays=delays)
            for w in ("encode", "prefill", "decode")}


def gui_gaps(folder: str, memory_limit_gb: float | None, tokens: int) -> dict:
    """The app's run queue (its worker thread) loads `folder` and runs one page while a 10 ms QTimer ticks in
    the GUI thread (offscreen); the longest and the 99th-percentile interval between ticks, ms."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import encoders
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from dsocr_app.run_queue import RunQueue

    app = QApplication.instance() or QApplication([])
    state: dict = {}
    from engine.weights.config import read_config

    prep = encoders.page(read_config(Path(folder)).version, size=PAGE)  # before the clock: not GUI work
    runs = RunQueue(lambda key: (prep, {"max_tokens": tokens, "ngram_size": 0}))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    # RunQueue re-emits the worker's signals from the GUI thread: these run there
    runs.modelFailed.connect(lambda msg: (state.setdefault("error", msg), app.quit()))
    runs.finished.connect(lambda job, result: (state.setdefault("stop", result.stop_reason), app.quit()))
    runs.failed.connect(lambda job, msg: (state.setdefault("error", msg), app.quit()))
    timer.start()
    runs.load(folder, {"memory_limit_gb": memory_limit_gb} if memory_limit_gb else {})
    runs.submit(["page"])
    app.exec()
    timer.stop()
    runs.host.close()
    gaps = sorted(1e3 * (b - a) for a, b in zip(ticks, ticks[1:]))
    return {"gui_max_gap_ms": gaps[-1] if gaps else None,
            "gui_p99_gap_ms": gaps[int(0.99 * (len(gaps) - 1))] if gaps else None,
            "gui_gaps_over_50ms": sum(g > 50 for g in gaps), "gui_seconds": (ticks[-1] - ticks[0]) if ticks else 0,
            "gui_error": state.get("error")}


# ---------------------------------------------------------------------------------------------------------
# The section: children on a temporary real-size checkpoint, then speed beside busy loops
# ---------------------------------------------------------------------------------------------------------

SMALL_MACHINE_CAP_GB = 12.8  # the default memory cap of a 16 GB machine (80%; without numba: routed experts bf16)


def _child(args: list[str], log, timeout: float = 1200, env: dict | None = None) -> dict:
    import subprocess

    env = dict(os.environ, **(env or {}), PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                                      str(Path(__file__).resolve().parent)]))
    log(f"resources: {' '.join(args[:1] + args[2:])}")
    try:
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                             timeout=timeout, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        err = getattr(e, "stderr", None) or (out.stderr if "out" in locals() else "")
        log(f"resources: {args[0]} failed: {type(e).__name__} {str(err)[-300:]}")
        return {}


def read_files_s(folder: Path, into: str = "reused") -> float:
    """Seconds to read the checkpoint's safetensors once, into: one reused 64 MB buffer (`reused`); each file into
    newly allocated memory freed before the next file (`fresh`: the page faults of ~1.4 GB at a time); or every
    file into newly allocated memory kept until all are read (`kept`: what any load that holds the bytes in its
    own memory must do at least, faulting in the checkpoint's size)."""
    if into not in ("reused", "fresh", "kept"):
        raise ValueError(f"read_files_s: into={into!r}, expected 'reused', 'fresh' or 'kept'")
    reuse = into == "reused"
    t0 = time.perf_counter()
    reused, kept = memoryview(bytearray(64 << 20)) if reuse else None, []
    for f in sorted(folder.glob("*.safetensors")):
        view = reused if reuse else memoryview(bytearray(f.stat().st_size))
        with open(f, "rb", buffering=0) as fh:
            at = 0
            while n := fh.readinto(view[at:]):
                at = 0 if reuse else at + n
        if into == "kept":
            kept.append(view)
        del view  # `fresh`: freed before the next file's memory is allocated
    return time.perf_counter() - t0  # `kept` is freed after the clock stops


class Busy:
    """`k` bounded Python busy loops in their own processes (at most `seconds` each), stopped on exit."""

    def __init__(self, k: int, seconds: float = 300):
        import subprocess

        code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(k)]
        time.sleep(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def busy_speeds(quick: bool, log) -> dict:
    """Decode tokens/s (a 4-layer real-width LM) and a v2 global-view encode idle and beside busy loops. The
    conditions take turns, round after round, and each figure is the median of its rounds: a drift of the
    machine's own load moves every condition alike instead of one of them (the idle baseline, most of all)."""
    import statistics

    import mlx.core as mx
    import numpy as np

    import encoders
    import models
    from engine.language.generate import GenerationConfig, generate_tokens
    from engine.runtime import jit_kernels
    from timing import timed

    cores = os.cpu_count() or 1
    loads = {"idle": 0, "busy1": max(1, cores // 2), "busy2": cores}
    lm = models.our_language_model(4)
    if jit_kernels.available():  # as `engine.load` keeps them on a CPU with the compiled kernels
        models.narrow_language_model(lm)
    prompt = mx.array(np.random.default_rng(0).standard_normal((128, lm.config.hidden_size), np.float32) * 0.02)
    tokens, decode_rounds, encode_rounds = (24, 3, 1) if quick else (32, 5, 2)

    def decode_tok_s() -> float:
        cfg = GenerationConfig(max_tokens=tokens, ngram_size=0, loop_guard=False)
        t0 = None
        for step in generate_tokens(lm, prompt, eos_id=-1, config=cfg):
            if step.index == 0:
                t0 = time.perf_counter()
        return (tokens - 1) / (time.perf_counter() - t0)

    def rounds(measure, names, n: int, what: str) -> dict:
        runs: dict = {name: [] for name in names}
        for i in range(n):
            for name in names:
                log(f"resources: {what} with {loads[name]} busy loops (round {i + 1} of {n})")
                with Busy(loads[name]):
                    runs[name].append(measure())
        return {f"{what}_{name}": statistics.median(v) for name, v in runs.items()}

    res: dict = {"busy_cores": cores, "busy_loops": loads, "busy_rounds": {"decode": decode_rounds,
                                                                           "encode": encode_rounds}}
    decode_tok_s()
    res.update(rounds(decode_tok_s, list(loads), decode_rounds, "decode_tok_s"))
    del lm
    mx.clear_cache()
    vision = models.our_vision("v2")
    prep = encoders.page("v2", size=(700, 700))  # no tiles: one 1024-px global view
    encoders.ours(vision, [prep])
    res.update(rounds(lambda: timed(lambda: encoders.ours(vision, [prep]), 1, warmup=False), ["idle", "busy1"],
                      encode_rounds, "encode_s"))
    for name, k in loads.items():
        if name != "idle":
            fair = cores / (cores + k)
            res[f"decode_fair_share_{name}"] = res[f"decode_tok_s_{name}"] / res["decode_tok_s_idle"] / fair
    res["encode_fair_share_busy1"] = res["encode_s_idle"] / res["encode_s_busy1"] / (cores / (cores + loads["busy1"]))
    return res


def _decode_bytes_per_token(cfg: dict, narrow: str | None = None) -> float:
    """Bytes a decode step reads: the active parameters in float32, except those kept bfloat16 (`narrow`, as a
    load reports it: "language_model" for all of them, "routed_experts")."""
    import models

    lc = cfg["language_config"]
    active = models.lm_active_params(lc["num_hidden_layers"], lc)
    moe_layers = lc["num_hidden_layers"] - lc.get("first_k_dense_replace", 1)
    routed = moe_layers * lc["num_experts_per_tok"] * 3 * lc["hidden_size"] * lc["moe_intermediate_size"]
    if narrow == "language_model":
        return 2 * active["total"]
    return 4 * (active["total"] - routed) + (2 if narrow == "routed_experts" else 4) * routed


def _prefill_flops(cfg: dict, tokens: int) -> float:
    """Multiply-adds x 2 of a prefill of `tokens` positions: active layer parameters per token plus causal
    attention scores and values (the LM head runs for the last position only)."""
    import models

    lc = cfg["language_config"]
    active = models.lm_active_params(lc["num_hidden_layers"], lc)
    attn = 2 * 2 * tokens * tokens / 2 * lc["hidden_size"] * lc["num_hidden_layers"]
    return 2 * active["layers"] * tokens + attn + 2 * active["head"]


def resources(quick: bool, known: dict, log) -> dict:
    """The whole section (see the module docstring); `known` holds matmul_gflops and memory_bandwidth_gbs."""
    import shutil
    import tempfile

    from checkpoint import write_real_checkpoint

    res: dict = {"resources_load_average": os.getloadavg()[0]}
    tmp = Path(tempfile.mkdtemp(prefix="dsocr-real-"))
    try:
        folder = tmp / "v2"
        log("resources: writing a real-size v2 checkpoint")
        res["real_v2_checkpoint_gb"] = write_real_checkpoint(folder, "v2") / 1e9
        res["real_v2_read_files_s"] = read_files_s(folder)
        res["real_v2_read_files_fresh_s"] = read_files_s(folder, "fresh")
        res["real_v2_read_files_kept_s"] = read_files_s(folder, "kept")
        cfg = json.loads((folder / "config.json").read_text())
        f = str(folder)
        runs = {"fp32": _child(["measure", f, "--tokens", "16"], log),
                "fp32_small_machine": _child(["measure", f, "--tokens", "16", "--memory-limit-gb",
                                              str(SMALL_MACHINE_CAP_GB)], log)}
        if runs["fp32"].get("narrow_weights") == "language_model":  # the compiled kernels' default: and without
            runs["fp32_numpy_kernels"] = _child(["measure", f, "--tokens", "16"], log, env={"DSOCR_JIT": "0"})
        bf16 = _child(["measure", f, "--dtype", "bfloat16", "--no-run"], log)
        for name, run in runs.items():
            for k, v in run.items():
                res[f"real_v2_{name}_{k}"] = v
        res["real_v2_load_s"] = runs["fp32"].get("load_s")
        res["real_v2_load_s_bf16"] = bf16.get("load_s")
        res["real_v2_peak_rss_gb_fp32"] = runs["fp32"].get("peak_rss_run_gb")
        res["real_v2_peak_rss_gb_fp32_small_machine"] = runs["fp32_small_machine"].get("peak_rss_run_gb")
        res["real_v2_peak_rss_gb_bf16"] = bf16.get("peak_rss_load_gb")
        res["real_v2_peak_over_checkpoint_bf16"] = (res["real_v2_peak_rss_gb_bf16"] or 0) / res["real_v2_checkpoint_gb"]
        res["real_v2_peak_over_checkpoint_fp32"] = (res["real_v2_peak_rss_gb_fp32"] or 0) / res["real_v2_checkpoint_gb"]
        res["real_v2_peak_over_checkpoint_fp32_small_machine"] = ((res["real_v2_peak_rss_gb_fp32_small_machine"] or 0)
                                                                  / res["real_v2_checkpoint_gb"])
        for name, run in runs.items():
            suffix = name.removeprefix("fp32")
            for page in ("", "_second_page"):
                if run.get(f"prefill_s{page}"):
                    gflops = _prefill_flops(cfg, run["prompt_tokens"]) / run[f"prefill_s{page}"] / 1e9
                    res[f"prefill_gflops{suffix}{page}"] = gflops
                    if known.get("matmul_gflops"):
                        res[f"prefill_fraction_of_matmul{suffix}{page}"] = gflops / known["matmul_gflops"]
        bw = known.get("memory_bandwidth_gbs")
        for name, run in runs.items():  # each run against the bytes it reads (bfloat16 weights: half theirs)
            if bw and run.get("decode_tok_s"):
                bound = bw * 1e9 / _decode_bytes_per_token(cfg, run.get("narrow_weights"))
                res[f"decode_bound_tok_s_{name}"] = bound
                res[f"decode_fraction_of_bound_{name}"] = run["decode_tok_s"] / bound
        if bw and runs["fp32"].get("decode_tok_s"):  # the key: the default run against the float32 bound
            res["decode_bound_tok_s_float32_weights"] = bw * 1e9 / _decode_bytes_per_token(cfg)
            for page in ("", "_second_page"):
                if runs["fp32"].get(f"decode_tok_s{page}"):
                    res[f"decode_fraction_of_bound{page}"] = (runs["fp32"][f"decode_tok_s{page}"]
                                                              / res["decode_bound_tok_s_float32_weights"])
        res.update(_child(["cancel", f, "--memory-limit-gb", str(SMALL_MACHINE_CAP_GB)], log))
        res.update(_child(["gui", f, "--memory-limit-gb", str(SMALL_MACHINE_CAP_GB)], log))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res.update(busy_speeds(quick, log))
    return res


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="load FOLDER and run one page; print JSON")
    m.add_argument("folder")
    m.add_argument("--dtype")
    m.add_argument("--tokens", type=int, default=16)
    m.add_argument("--no-run", action="store_true")
    m.add_argument("--memory-limit-gb", type=float)
    c = sub.add_parser("cancel", help="load FOLDER; cancel latency in each phase; print JSON")
    c.add_argument("folder")
    c.add_argument("--memory-limit-gb", type=float)
    c.add_argument("--delays", type=float, nargs=2, default=(3.0, 1.0), metavar=("ENCODE_S", "PREFILL_S"),
                   help="how long into the encode / the prefill to cancel (default 3 1; a GPU needs less)")
    g = sub.add_parser("gui", help="the app's worker loads FOLDER and runs a page; GUI timer gaps; print JSON")
    g.add_argument("folder")
    g.add_argument("--memory-limit-gb", type=float)
    g.add_argument("--tokens", type=int, default=16)
    args = ap.parse_args(argv)
    if args.cmd == "measure":
        out = measure(args.folder, args.dtype, args.tokens, not args.no_run, memory_limit_gb=args.memory_limit_gb)
    elif args.cmd == "cancel":
        out = cancel_latencies(args.folder, args.memory_limit_gb, tuple(args.delays))
    else:
        out = gui_gaps(args.folder, args.memory_limit_gb, args.tokens)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
