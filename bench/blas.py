"""Compare the BLAS libraries MLX can use on Linux: fp32 matmul GFLOP/s through MLX, and what each costs on disk.

    python bench/blas.py [LIBRARY ...] [--threads N] [--json]

Without arguments it measures every library `engine/runtime/blas.py` would find on this machine (in its order of
preference) and MLX's bundled reference BLAS (`none`). Each library is measured in a fresh process with
`DSOCR_BLAS` pointing at it (so the engine loads it the way it loads its own choice, OpenBLAS core type
included), as MLX fp32 matmuls: 1024^3, 2048^3 (the encoder's limit) and 1 x 1280 @ 1280 x 1280 (one row, as in
a decode step); the best of several runs after a warm-up (the best, not the median: on a shared machine it is
the figure least disturbed by other work). The reference BLAS gets 1024^3 only (a second per product).
`--threads N` sets OPENBLAS_NUM_THREADS / MKL_NUM_THREADS (default: the library's own, one per core). `size_mb`
is the library's installed footprint: for a pip-installed one the distribution that holds it and its own
requirements (mkl pulls in intel-openmp, tbb and their runtimes), for a system one the file alone.
Results: docs/benchmarks.md, "Which BLAS".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_CHILD = r"""
import json, sys, time
import engine
import mlx.core as mx
from engine.runtime import blas

def best(fn, reps):
    fn()
    runs = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); runs.append(time.perf_counter() - t)
    return min(runs)

out = {"blas": engine.blas_library()}
reference = blas._loaded is None
shapes = {(1024, 1024, 1024): 2} if reference else {(1024, 1024, 1024): 10, (2048, 2048, 2048): 5,
                                                     (1, 1280, 1280): 50}
for (m, k, n), reps in shapes.items():
    a, b = mx.random.normal((m, k)), mx.random.normal((k, n))
    mx.eval(a, b)
    s = best(lambda: mx.eval(a @ b), reps)
    out[f"gflops_{m}x{k}x{n}"] = round(2 * m * k * n / s / 1e9, 1)
print(json.dumps(out))
"""


def _dist_mb(path: str) -> float | None:
    """Installed MB of the pip distribution holding `path` and of its requirements; None if none holds it."""
    from importlib import metadata

    real = os.path.realpath(path)
    dists = {d.metadata["Name"].lower(): d for d in metadata.distributions()}
    owner = next((d for d in dists.values() for f in (d.files or [])
                  if os.path.realpath(d.locate_file(f)) == real), None)
    if owner is None:
        return None
    todo, seen, total = [owner], set(), 0
    while todo:
        d = todo.pop()
        name = d.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        total += sum(os.path.getsize(d.locate_file(f)) for f in d.files or [] if os.path.isfile(d.locate_file(f)))
        for req in d.requires or []:
            dep = req.split(";")[0].split("(")[0].split("<")[0].split(">")[0].split("=")[0].split("[")[0].strip()
            if dep.lower() in dists and "extra ==" not in req:
                todo.append(dists[dep.lower()])
    return round(total / 2**20, 1)


def measure(lib: str, threads: int | None = None) -> dict:
    """One library (a path, or `none` for MLX's reference BLAS) measured in a fresh process, with `threads`
    BLAS threads (None: the library's default, one per core)."""
    env = dict(os.environ, DSOCR_BLAS=lib)
    if threads:
        env.update(OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    run = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, cwd=ROOT,
                         timeout=900)
    if run.returncode:
        return {"library": lib, "error": run.stderr.strip().splitlines()[-1:]}
    out = {"library": lib, **json.loads(run.stdout.strip().splitlines()[-1])}
    if lib != "none":
        out["size_mb"] = _dist_mb(lib) or round(os.path.getsize(os.path.realpath(lib)) / 2**20, 1)
    return out


def main(argv=None) -> int:
    from engine.runtime import blas

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("libraries", nargs="*", help="library paths, or 'none' (default: all found, and none)")
    ap.add_argument("--threads", type=int, help="BLAS threads (default: one per core)")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args(argv)
    libs = args.libraries or [*blas.candidates(), "none"]
    for lib in libs:
        res = measure(lib, args.threads)
        print(json.dumps(res) if args.json else "  ".join(f"{k}={v}" for k, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
