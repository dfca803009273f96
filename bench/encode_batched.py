"""Batched vs one-tile-at-a-time encoding of a 2x3 page at real dims (random weights), in one run.

    python bench/encode_batched.py [--version v1|v2] [--repeats N]

Prints one JSON line: seconds for the whole page (6 tiles + global view) encoded as one batch, and with
`max_batch_tiles=1` (each tile its own graph evaluation), plus their ratio. Medians of N runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402  (loads the fast BLAS before MLX)
import mlx.core as mx  # noqa: E402
from PIL import Image  # noqa: E402

from engine.model import DeepseekOCR  # noqa: E402
from engine.preprocess.pixels import prepare  # noqa: E402
from engine.testing import real_config  # noqa: E402
from engine.vision.encoder import encode_images  # noqa: E402
from engine.weights.config import parse_config  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="v1")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    cfg = parse_config(real_config(args.version))
    vision = DeepseekOCR(cfg).vision
    mx.eval(vision.parameters())
    size = (1240, 1754) if args.version == "v1" else (1500, 2100)
    prep = prepare(Image.new("RGB", size, "white"), args.version)
    assert prep.plan.grid == (2, 3), prep.plan.grid
    batched = timed(lambda: encode_images(vision, [prep], mx.float32), args.repeats)
    single = timed(lambda: encode_images(vision, [prep], mx.float32, max_batch_tiles=1), args.repeats)
    print(json.dumps({
        "version": args.version, "grid": list(prep.plan.grid), "image_tokens": prep.plan.image_tokens,
        f"{args.version}_page_batched_s": round(batched, 2), f"{args.version}_page_one_tile_at_a_time_s": round(single, 2),
        "batched_over_one_at_a_time": round(batched / single, 3), "blas": engine.blas_library(),
        "repeats": args.repeats, "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    main()
