"""Real-size resources measured the way a user meets them: a checkpoint on disk, `engine.load`, one page.

Each measurement runs in a child process of its own (`python bench/resources.py measure FOLDER ...`), so that
its peak resident memory (`VmHWM` of /proc/self/status, what `/usr/bin/time -v` calls the maximum resident set
size) belongs to that load and run alone. The child prints one JSON object: load seconds, resident memory after
the load and its peak, then the page's encode / prefill / decode figures and the run's peak.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    t0 = time.perf_counter()
    model = engine.load(folder, dtype=dtype, **load_kw)
    res["load_s"] = time.perf_counter() - t0
    st = vm_status()
    res["rss_after_load_gb"], res["peak_rss_load_gb"] = st["VmRSS"], st["VmHWM"]
    if run:
        prep = encoders.page(model.version, size=PAGE)
        result = engine.ocr(model, prep, max_tokens=tokens)
        st = vm_status()
        res.update(encode_s=result.encode_s, prefill_s=result.prefill_s, prompt_tokens=result.prompt_tokens,
                   decode_tok_s=result.decode_tokens_per_s, generated=result.generated_tokens,
                   mlx_peak_gb=result.peak_memory_mb * 2**20 / 1e9, peak_rss_run_gb=st["VmHWM"],
                   rss_after_run_gb=st["VmRSS"])
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
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.folder, args.dtype, args.tokens, not args.no_run,
                             memory_limit_gb=args.memory_limit_gb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
