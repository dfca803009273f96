"""Load an optimized CBLAS before `mlx.core` on Linux, so MLX's CPU matmuls run ~30x faster.

MLX's Linux CPU wheel links a reference BLAS. If OpenBLAS or MKL is loaded into the process with
RTLD_GLOBAL before `mlx.core` is imported, MLX's `cblas_sgemm` calls resolve to it. This module finds such
a library, loads it once, and remembers which one it used (`blas_library()`); when none is found it warns
once with the install hint. On macOS (Accelerate/Metal) it does nothing.

Set `DSOCR_BLAS=/path/to/libopenblas.so` to choose a library, or `DSOCR_BLAS=none` to skip the search.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import warnings

_CANDIDATES = (
    # Debian / Ubuntu packages (libopenblas0-pthread, libopenblas0-openmp, libmkl-rt)
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libmkl_rt.so",
)
INSTALL_HINT = (
    "MLX is using its slow reference BLAS (about 30x slower matmuls on this CPU). Install an optimized one: "
    "'sudo apt-get install libopenblas0-pthread' (Debian/Ubuntu) or 'pip install mkl', "
    "or point DSOCR_BLAS at a libopenblas/libmkl_rt shared library."
)

_loaded: str | None = None
_tried = False


def _pip_mkl() -> list[str]:
    found = []
    for prefix in {sys.prefix, sys.base_prefix}:
        found += sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")))
    return found


def load_fast_blas() -> str | None:
    """Load an optimized CBLAS globally (Linux only); return its path, or None. Safe to call repeatedly.

    Must run before the first `import mlx.core` to have an effect; `engine` calls it on import."""
    global _loaded, _tried
    if _tried or not sys.platform.startswith("linux"):
        return _loaded
    _tried = True
    choice = os.environ.get("DSOCR_BLAS", "").strip()
    if choice.lower() == "none":
        return None
    candidates = [choice] if choice else [*_CANDIDATES, *_pip_mkl()]
    for path in candidates:
        if path and os.path.exists(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            _loaded = path
            return path
    if "mlx.core" not in sys.modules or choice:
        warnings.warn(INSTALL_HINT, RuntimeWarning, stacklevel=2)
    return None


def blas_library() -> str:
    """Which BLAS MLX uses on this machine, in words (for `dsocr --version`, the About box, benchmarks)."""
    if not sys.platform.startswith("linux"):
        return "Accelerate (macOS)" if sys.platform == "darwin" else "MLX default"
    return _loaded or "reference BLAS (slow)"
