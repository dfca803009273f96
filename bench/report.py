"""Turn a `bench/run.py --out FILE.json` result into the markdown table of docs/benchmarks.md.

    python bench/report.py FILE.json > table.md

Every key `run.py` writes has its meaning here (`MEANINGS`, prefix patterns for the per-variant keys);
a key without one is listed under "other" so that nothing is silently dropped.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

MEANINGS = {
    # machine
    "date": "when the run started", "platform": "OS", "cpu": "CPU model", "cores": "logical CPUs",
    "device": "MLX default device", "mlx": "MLX version", "numpy": "numpy version", "blas": "BLAS MLX uses",
    "mlx_vlm": "mlx-vlm version (null: not installed, its figures are null)",
    "cpu_kernels": "CPU kernel path of our encoder (numpy: `engine/runtime/kernels/`; mlx: MLX's own)",
    "quick": "--quick run (one run per figure, fewer LM layers)",
    "bench_wall_s": "wall time of the whole benchmark run, s",
    # limits
    "matmul_gflops": "MLX fp32 matmul, 2048^3, GFLOP/s (the machine's limit for the encoder)",
    "matmul_gflops_4096": "MLX fp32 matmul, 4096^3, GFLOP/s",
    "matmul_bf16_gflops": "MLX bf16 matmul, 1024^3, GFLOP/s (no fast CPU path: why we compute in fp32 here)",
    "matmul_reference_blas_gflops": "MLX fp32 matmul with its bundled reference BLAS (DSOCR_BLAS=none), GFLOP/s",
    "memory_bandwidth_gbs": "weight-streaming bandwidth: fp32 gemv over 512 MB, all cores, GB/s",
    "memory_copy_bandwidth_mlx_gbs": "an MLX elementwise op over 512 MB (read + write; MLX runs it on one core), GB/s",
    # encode
    "v1_view_gflop": "analytic GFLOP of one view through SAM + CLIP + projector, per view size (px)",
    "v2_view_gflop": "analytic GFLOP of one view through SAM + Qwen2 encoder + projector, per view size (px)",
    "v1_grid": "v1 page: tile grid (cols, rows)", "v1_image_tokens": "v1 page: image tokens",
    "v1_page_tflop": "v1 page: analytic encoder TFLOP (6 tiles of 640 + global 1024; SAM + CLIP + projector)",
    "v1_page_encode_s": "v1 page encode, ours, all tiles in one batch with the global view, s",
    "v1_tiles_batched_s": "= v1_page_encode_s",
    "v1_tiles_one_at_a_time_s": "v1 page encode, ours, `max_batch_tiles=1` (one graph evaluation per tile), s",
    "v1_batched_over_one_at_a_time": "ratio (target <= 0.9)",
    "v1_encoder_gflops": "v1 page: analytic FLOPs / ours batched time, GFLOP/s",
    "v1_encoder_fraction_of_matmul": "v1_encoder_gflops / the best of matmul_gflops and matmul_gflops_4096 "
                                     "(target >= 0.55)",
    "v2_encoder_fraction_of_matmul": "the same for v2",
    "v1_peak_memory_mb_6_tiles": "MLX peak memory of encoding the v1 page batched, above the weights, MB",
    "v1_weights_mb": "v1 vision weights (float32), MB",
    "v1_page_encode_mlxvlm_s": "v1 page encode, mlx-vlm 0.7.10 `get_input_embeddings`, same weights, s",
    "v1_page_encode_mlxvlm_one_at_a_time_s": "v1 page, mlx-vlm's modules one view per evaluation, s",
    "v1_ours_over_mlxvlm": "ours batched / mlx-vlm (target <= 0.35)",
    "v1_mlxvlm_encoder_gflops": "v1 page: analytic FLOPs / mlx-vlm's time, GFLOP/s",
    "v1_mlxvlm_same_output_rel": "max abs(ours - mlx-vlm) / max abs(ours) over the page's image embeddings",
    "v1_one_at_a_time_same_output_rel": "max abs(batched - one at a time) / max abs(batched)",
    "v1_page_encode_mlx_cpu_ops_s": "v1 page, ours batched with MLX's own CPU softmax/activations "
                                    "(DSOCR_CPU_KERNELS=mlx), s",
    "v1_stages": "v1 page, ours: seconds in SAM and CLIP for the tile batch and the global view",
    "v2_stages": "v2 page, ours: seconds in SAM and the Qwen2 encoder for the tile batch and the global view",
    "v2_page_tflop": "v2 page: analytic encoder TFLOP (6 tiles of 768 + global 1024; SAM + Qwen2 + projector)",
    "peak_memory_mb_2_tiles": "MLX peak memory above the weights, v1, 1x2 tiles + global, batched, MB",
    "peak_memory_mb_6_tiles": "the same, 2x3 tiles + global, MB",
    "peak_memory_mb_9_tiles": "the same, 3x3 tiles + global, MB",
    "peak_memory_mb_9_tiles_max_batch_3": "the same with `max_batch_tiles=3`, MB",
    "peak_memory_mb_9_tiles_max_batch_1": "the same with `max_batch_tiles=1`, MB",
    "v1_tiles": "tile counts of the curve (plot)",
    "v1_tiles_batched_curve_s": "ours batched, s, per tile count",
    "v1_tiles_one_at_a_time_curve_s": "ours one tile at a time, s, per tile count",
    "v1_tiles_mlxvlm_curve_s": "mlx-vlm, s, per tile count",
    # decode
    "decode_tokens": "tokens decoded per decode measurement", "decode_prompt_tokens": "prompt length before it",
    "decode_tok_s": "decode tokens/s, ours, fp32, the real 12-layer LM (see decode_tok_s_basis)",
    "decode_mlxvlm_tok_s": "the same for mlx-vlm's language model on the same weights",
    "decode_tok_s_basis": "measured at 12 layers, or extrapolated from 2 and 4 layers (--quick)",
    "decode_over_mlxvlm": "decode_tok_s / decode_mlxvlm_tok_s (target >= 1.3)",
    "decode_over_mlxvlm_4_layers": "the same ratio measured at 4 layers",
    "decode_mlx_kernels_tok_s": "ours at 4 layers with MLX's own CPU matmuls (DSOCR_CPU_KERNELS=mlx)",
    "decode_compiled_mlp_tok_s": "the same with every MLP / MoE block behind mx.compile",
    "decode_active_mb_per_token_fp32": "fp32 bytes of the parameters one token reads, 12 layers, MB",
    "decode_bandwidth_bound_tok_s": "memory_bandwidth_gbs / active bytes per token (fp32, bf16, 4-bit)",
    # pages
    "pages_lm_layers": "LM layers in the pages run", "pages_tokens_per_page": "tokens generated per page",
    "pages_prompt_tokens": "prompt tokens of a page (v1 2x3 page + text)", "pages_batch": "pages per batch",
    "pages_one_at_a_time_s": "10 pages, one after another, LM only, s",
    "pages_batched_s": "10 pages decoded as one batch, LM only, s",
    "pages_one_at_a_time_prefill_s": "of which prefill, s", "pages_one_at_a_time_decode_s": "of which decode, s",
    "pages_batched_prefill_s": "of which prefill, s", "pages_batched_decode_s": "of which decode, s",
    "pages_decode_tok_s_one_at_a_time": "decode tokens/s summed over pages, one at a time",
    "pages_decode_tok_s_batched": "decode tokens/s summed over pages, batched",
    "pages_per_hour_one_at_a_time": "LM-only pages per hour, one at a time",
    "pages_per_hour_batched": "LM-only pages per hour, batched",
    "pages_batched_speedup": "one at a time / batched (whole LM time)",
    "pages_batched_decode_speedup": "one at a time / batched (decode phase)",
    "pages_per_hour_with_encode_batched": "pages per hour with each page's v1 encode time added, batched",
    "pages_per_hour_with_encode_one_at_a_time": "the same, one at a time",
    # plan
    "plan_6000x4000_ms": "tiling plan of a 6000x4000 image (v2 gundam), ms",
    "plan_6000x4000_v1_ms": "the same for v1, ms",
    # resources (bench/resources.py: a real-size v2 checkpoint on disk, each figure in a child process)
    "resources_load_average": "1-minute load average when the resources section started (others' work)",
    "real_v2_checkpoint_gb": "real-size random v2 checkpoint written for the run: bf16 safetensors, 5 shards, GB",
    "real_v2_read_files_s": "reading its files once (64 MB buffer, page cache as it is), s",
    "real_v2_read_files_fresh_s": "reading each file once into newly allocated memory (the page faults every "
                                  "load pays), s",
    "real_v2_read_files_kept_s": "reading every file into newly allocated memory kept until all are read (the least "
                                 "a load that holds the weights in its own memory does), s",
    "real_v2_load_s": "`engine.load` of it, float32 on a CPU (default memory cap), s",
    "real_v2_load_s_bf16": "`engine.load(dtype='bfloat16')`, s",
    "real_v2_peak_rss_gb_fp32": "peak resident memory (VmHWM) of a float32 load + one 2x2 page, default cap (the "
                                "language model's matrices bfloat16 where the compiled kernels are installed), GB",
    "real_v2_peak_over_checkpoint_fp32": "real_v2_peak_rss_gb_fp32 / real_v2_checkpoint_gb (target <= 1.4)",
    "real_v2_peak_rss_gb_fp32_small_machine": "the same under a 16 GB machine's default cap (12.8 GB; without the "
                                              "compiled kernels the routed experts stay bf16 there), GB",
    "real_v2_peak_rss_gb_bf16": "peak resident memory of a bfloat16 load (no run: bf16 compute is ~40x slower "
                                "than float32 on a CPU), GB",
    "real_v2_peak_over_checkpoint_bf16": "real_v2_peak_rss_gb_bf16 / real_v2_checkpoint_gb (target <= 1.25)",
    "real_v2_peak_over_checkpoint_fp32_small_machine": "real_v2_peak_rss_gb_fp32_small_machine / "
                                                       "real_v2_checkpoint_gb (target <= 1.4)",
    "prefill_gflops": "prefill of the page's prompt in the default run: analytic FLOPs (active parameters + "
                      "causal attention) / prefill time, GFLOP/s",
    "prefill_gflops_numpy_kernels": "the same without the compiled kernels (float32 experts), GFLOP/s",
    "prefill_fraction_of_matmul_numpy_kernels": "prefill_gflops_numpy_kernels / matmul_gflops",
    "prefill_fraction_of_matmul": "prefill_gflops / matmul_gflops (target >= 0.6)",
    "prefill_gflops_small_machine": "the same under the 16 GB cap, GFLOP/s",
    "prefill_fraction_of_matmul_small_machine": "prefill_gflops_small_machine / matmul_gflops",
    "decode_fraction_of_bound": "decode tokens/s of the default page run / the bandwidth bound of the float32 "
                                "weights (as the issue defines it; target >= 0.8)",
    "decode_bound_tok_s_float32_weights": "that bound: weight-streaming bandwidth / float32 bytes a step reads, "
                                          "tokens/s",
    "cancel_latency_s_encode": "cancel set 3 s into the page's encode -> final Result, s (target <= 0.5)",
    "cancel_latency_s_prefill": "cancel set 1 s into the prefill -> final Result, s (target <= 0.5)",
    "cancel_latency_s_decode": "cancel set when the 3rd token is sampled -> final Result, s (target <= 0.5)",
    "gui_max_gap_ms": "longest interval of a 10 ms QTimer in the GUI thread (app offscreen) while the app's "
                      "worker loads the real-size model and runs a page, ms",
    "gui_p99_gap_ms": "its 99th percentile, ms", "gui_gaps_over_50ms": "intervals over 50 ms",
    "gui_seconds": "how long the timer ran, s", "gui_error": "the worker's error message, if any",
    "busy_cores": "logical CPUs for the busy-machine figures",
    "busy_loops": "busy Python loops beside the work: idle, busy1 (half the cores), busy2 (all cores)",
    "busy_rounds": "rounds of the busy-machine figures (the conditions take turns; each figure the median)",
    "decode_tok_s_idle": "decode tokens/s of a 4-layer real-width LM (fp32; its matrices bfloat16 with the "
                         "compiled kernels, as loaded), nothing else running",
    "decode_tok_s_busy1": "the same beside busy1 loops", "decode_tok_s_busy2": "the same beside busy2 loops",
    "decode_fair_share_busy1": "decode_tok_s_busy1 / idle / (cores / (cores + loops)) (target >= 0.8)",
    "decode_fair_share_busy2": "the same for busy2 (target >= 0.8)",
    "encode_s_idle": "v2 encode of one 1024-px global view (no tiles), s",
    "encode_s_busy1": "the same beside busy1 loops, s",
    "encode_fair_share_busy1": "encode_s_idle / encode_s_busy1 / (cores / (cores + loops)) (target >= 0.8)",
    # serve (bench/serve.py: `dsocr serve` under 1, 4 and 16 concurrent clients, issue 41)
    "serve_model": "the served model: real widths, fewer layers (which), random weights",
    "serve_mode": "v1 mode of every request (tiny: one 512 px view)",
    "serve_requests": "requests per setting (each sent once)",
    "serve_page_tokens": "max_tokens of a page request (random weights: every page decodes exactly this many)",
    "serve_line_tokens": "max_tokens of a one-line region request",
    "serve_mix": "the images the requests carry",
    "serve_load_s": "engine.load of the served checkpoint, s",
    "serve_sequential_s": "the 64 requests' images one after another in-process (engine.ocr, as `dsocr ocr`): "
                          "each distinct image's time alone, summed over the mix, s",
    "serve_sequential_requests_per_minute": "requests per minute of that sequential run",
    "serve_sequential_pages_per_hour": "images (pages and lines) per hour of that sequential run",
    "serve_sequential_page_s": "one page alone in-process (median of the 8), s",
    "serve_sequential_line_s": "one line alone in-process (median of the 4), s",
    "serve_line_alone_s": "a one-line region through the idle server (median of 3), s",
    "serve_line_alone_same_text": "its text equal to engine.ocr's",
    "serve_16_over_1_client": "16 clients' requests per minute / 1 client's (goal >= 2)",
    "serve_16_over_sequential": "16 clients' requests per minute / the sequential in-process run's",
    "serve_line_under_load_over_alone": "p99 of the one-line region while 16 clients run / its time alone "
                                        "(goal < 3)",
    "serve_nothing_lost": "every request of every setting answered once, status 200, with engine.ocr's text",
    "serve_wall_s": "wall time of the serve section, s",
}

PATTERNS = (  # (prefix, suffix, meaning with {})
    ("prefill_", "_second_page", "prefill {}, of a second page run in the same process (what every page after an app's "
                                 "first gets; the first pays the page faults of memory touched for the first time)"),
    ("decode_fraction_of_bound", "_second_page", "decode_fraction_of_bound{}, of a second page run in the same "
                                                 "process"),
    ("v2_", "", "as the v1 key, for v2 (6 tiles of 768 + global 1024; SAM + Qwen2 causal-flow encoder)"),
    ("decode_fp32_tok_s_", "_layers", "ours, fp32, at {} layers, tokens/s"),
    ("decode_fp32_mlxvlm_tok_s_", "_layers", "mlx-vlm, fp32, at {} layers, tokens/s"),
    ("decode_bf16_tok_s_", "_layers", "ours, bf16, at {} layers, tokens/s"),
    ("decode_bf16_mlxvlm_tok_s_", "_layers", "mlx-vlm, bf16, at {} layers, tokens/s"),
    ("decode_q4_tok_s_", "_layers", "ours, 4-bit, at {} layers, tokens/s"),
    ("decode_q4_mlxvlm_tok_s_", "_layers", "mlx-vlm, 4-bit, at {} layers, tokens/s"),
    ("decode_", "_mlxvlm_error", "{}: why mlx-vlm could not decode in this precision here"),
    ("decode_", "_ms_per_moe_layer", "{}: ms per MoE layer per token (slope between 2 and 4 layers)"),
    ("decode_", "_full_model_tok_s_est", "{}: tokens/s extrapolated to the real 12 layers"),
    ("real_v2_fp32_small_machine_", "", "the page run under a 16 GB machine's cap: {}"),
    ("real_v2_fp32_numpy_kernels_", "", "the page run without the compiled kernels (DSOCR_JIT=0): {}"),
    ("real_v2_fp32_", "", "the page run with the default cap: {}"),
    ("decode_bound_tok_s_", "", "bandwidth bound of the {} page run (its bytes per token), tokens/s"),
    ("decode_fraction_of_bound_", "", "decode tokens/s / bound, {} page run"),
    # unlimited (bench/unlimited.py): {what}_{generated tokens}_{layers}_layers
    ("unlimited_decode_tok_s_", "", "Unlimited-OCR (window W=128) decode at {} (generated tokens, LM layers), tokens/s"),
    ("v1_decode_tok_s_", "", "v1 (growing KV cache) decode at {} (generated tokens, LM layers), tokens/s"),
    ("unlimited_kv_mb_", "", "Unlimited-OCR KV-cache bytes at {} (generated tokens, LM layers), MiB"),
    ("v1_kv_mb_", "", "v1 KV-cache bytes at {} (generated tokens, LM layers), MiB"),
    ("unlimited_over_v1_decode_", "", "Unlimited-OCR / v1 decode tokens/s at {} (goal at 8192: >= 1.3)"),
    ("unlimited_real_decode_kv_mb_", "", "a real greedy decode through the window (1 layer): KV bytes after {} "
                                         "tokens, MiB"),
    ("document_", "", "10-page document, one prompt vs page by page: {}"),
    ("vision_", "", "real-size vision encoder, one 1024 px view: {}"),
)

SERVE_FIELDS = {  # serve_{N}_clients_{field}: the run with N concurrent clients
    "requests": "requests to send", "answered": "requests answered", "answered_ok": "answered with status 200",
    "answered_twice": "requests answered more than once (must be 0)", "not_sent": "requests not sent (deadline)",
    "same_text": "answers whose text equals engine.ocr's for the same image and options",
    "errors": "statuses other than 200", "differing": "images whose served text differed from engine.ocr's",
    "wall_s": "first request sent to last answer, s", "requests_per_minute": "answered requests per minute",
    "pages_per_hour": "images (pages and lines) answered per hour",
    "full_pages_per_hour": "page requests (not lines) answered per hour",
    "p50_s": "median request latency, s", "p99_s": "99th percentile latency, s",
    "line_under_load_n": "one-line region requests sent by the extra client meanwhile",
    "line_under_load_p50_s": "their median latency, s", "line_under_load_p99_s": "their 99th percentile, s",
    "line_under_load_bad": "those not answered 200 with engine.ocr's text", "max_batch": "the server's --max-batch",
    "joins": "requests that joined a running decode batch",
    "admissions": "admissions into the decode batch (each one batched encode)",
    "encoded_together": "requests encoded in a group of two or more",
    "largest_group": "the most requests encoded in one graph",
    "express_runs": "short requests run ahead of the batch (engine/service/admission.py)",
    "line_under_load_s": "every latency of the one-line probe, s",
    "unlimited_prompt_tokens": "prompt positions of the decode runs", "unlimited_window": "W",
    "unlimited_lm_layers": "LM layer counts measured (the real model has 12)",
    "unlimited_kv_flat_after_window": "the real decode's KV bytes equal at every mark (must be true)",
}


def meaning(key: str) -> str | None:
    if key in MEANINGS:
        return MEANINGS[key]
    m = re.fullmatch(r"serve_(\d+)_clients_(\w+)", key)
    if m and m.group(2) in SERVE_FIELDS:
        return f"{m.group(1)} concurrent clients: {SERVE_FIELDS[m.group(2)]}"
    for prefix, suffix, text in PATTERNS:
        if key.startswith(prefix) and key.endswith(suffix):
            mid = key[len(prefix):len(key) - len(suffix)] if suffix else key[len(prefix):]
            if prefix == "v2_":
                v1 = MEANINGS.get("v1_" + mid)
                return re.sub(r" \(target [^)]*\)", "", v1.replace("v1", "v2")) if v1 else text
            return text.format(mid.replace("_", " "))
    return None


def fmt(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    return "n/a" if v is None else str(v)


def table(res: dict) -> str:
    rows = ["| key | value | meaning |", "|---|---|---|"]
    other = []
    for k, v in res.items():
        m = meaning(k)
        if m is None:
            other.append(k)
            m = "other"
        value, m = (x.replace("|", "\\|") for x in (fmt(v), m))  # a cell must not end the row
        rows.append(f"| `{k}` | {value} | {m} |")
    return "\n".join(rows) + ("\n\nKeys without a documented meaning: " + ", ".join(other) if other else "")


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text())))
