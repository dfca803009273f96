"""The benchmarks' timer: the median of several calls after a warm-up (used by run.py, resources.py, gpu.py)."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeats: int, warmup=True, keep: list | None = None) -> float:
    """Median seconds of `repeats` calls of fn, after one warm-up call (`warmup` True) or `warmup()`;
    the last call's result is appended to `keep` when given."""
    if warmup is True:
        fn()
    elif callable(warmup):
        warmup()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    if keep is not None:
        keep.append(out)
    return statistics.median(runs)
