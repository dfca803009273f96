"""Load an optimized CBLAS before `mlx.core` on Linux, so MLX's CPU matmuls run ~30x faster.

MLX's Linux CPU wheel links a reference BLAS. If OpenBLAS or MKL is loaded into the process with
RTLD_GLOBAL before `mlx.core` is imported, MLX's `cblas_sgemm` calls resolve to it. This module finds such
a library, loads it once, and remembers which one it used (`blas_library()`); when none is found it says so
once (one line on stderr) with the install hint. On macOS (Accelerate/Metal) it does nothing.

Where it looks, in this order (`candidates()`): the system OpenBLAS (Debian/Ubuntu `libopenblas0-*`, Fedora,
Arch), the system MKL (`libmkl-rt`), then the MKL that `pip install` brings into the environment on Linux
x86-64 (the `mkl` wheel puts `libmkl_rt.so.N` in `<prefix>/lib`: the virtual environment's, the base
Python's, or the user base for `pip install --user`). A system OpenBLAS goes first because someone installed
it on purpose, because it measured faster on large products where measured (docs/benchmarks.md, "Which
BLAS": 1.3x MKL's on an AMD EPYC, where MKL loads its default kernels rather than its AVX2 ones), and because
the engine tunes it (core type, thread timeout); the pip MKL makes sure that a plain `pip install` never
leaves MLX on the reference BLAS.

OpenBLAS picks its kernels from the CPU model at load time, and releases older than the CPU do not know it:
OpenBLAS 0.3.21 (Debian 12) takes a Xeon "Emerald Rapids" for a generic "Prescott" and runs SSE3 kernels at
~15-25 GFLOP/s instead of ~130 with the AVX-512 ones (6x). Unless `OPENBLAS_CORETYPE` is set by the user,
the core type is therefore chosen here from the CPU's flags (SkylakeX kernels when AVX-512 F/BW/DQ/VL are
present, Haswell ones with AVX2 + FMA) for the load only; the environment is restored afterwards. Likewise
`OPENBLAS_THREAD_TIMEOUT` (idle workers sleep after ~1000 cycles instead of spinning for ~0.1 s).
`blas_library()` reports the core in use and the thread count (OpenBLAS's default: one per core).

numpy brings its own OpenBLAS (used by the numpy kernels of `runtime.kernels`), loaded when numpy is first
imported, usually before this module could set its environment. Its idle threads spin for ~0.1 s after each
call; on a machine where other programs keep the cores busy that spinning takes the time slices the working
thread needs (decode beside one busy process fell to 0.42 of its idle speed, 0.63 of a fair share).
`calm_numpy_blas()` therefore re-reads the environment in numpy's OpenBLAS with the same thread timeout and
restarts its threads (`openblas_read_env`, `blas_thread_shutdown_`, `blas_thread_init`, all exported by it).

Set `DSOCR_BLAS=/path/to/libopenblas.so` to choose a library, or `DSOCR_BLAS=none` to skip the search.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

from .settings import warn_once

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
_handle: ctypes.CDLL | None = None
_tried = False
_numpy_handle: ctypes.CDLL | None = None
_numpy_tried = False

# log2 of the cycles an idle OpenBLAS worker spins (calling sched_yield) before it sleeps; OpenBLAS's default
# (28, ~0.1 s) keeps MLX's BLAS threads busy between matmuls, stealing the cores from the numpy kernels and
# from MLX's own elementwise work (seconds of system time per page here)
THREAD_TIMEOUT = "10"

# OpenBLAS core types by required CPU flags, best first (fp32 GEMM: Cooperlake/SapphireRapids use these too)
_CORE_TYPES = (
    ("SkylakeX", ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")),
    ("Haswell", ("avx2", "fma")),
)


def _pip_prefixes() -> list[str]:
    """Where pip puts a wheel's data files (`<prefix>/lib/...`): this environment, the base Python, the
    user base; each once, in that order."""
    import site

    out: list[str] = []
    for prefix in (sys.prefix, sys.base_prefix, site.getuserbase() if site.ENABLE_USER_SITE else None):
        if prefix and os.path.realpath(prefix) not in map(os.path.realpath, out):
            out.append(prefix)
    return out


def _pip_mkl(prefixes: list[str] | None = None) -> list[str]:
    """MKL's runtime library as the `mkl` wheel installs it (`libmkl_rt.so.N`, newest first) in `prefixes`."""
    found = []
    for prefix in _pip_prefixes() if prefixes is None else prefixes:
        found += sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")), reverse=True)
    return found


def candidates(system: tuple[str, ...] | None = None, prefixes: list[str] | None = None) -> list[str]:
    """The optimized BLAS libraries present on this machine, in the order `load_fast_blas` tries them:
    the system ones (`system`, default the usual paths), then pip's MKL in `prefixes` (default: this
    environment, the base Python, the user base)."""
    system = _CANDIDATES if system is None else system
    return [p for p in system if os.path.exists(p)] + _pip_mkl(prefixes)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_core_type(flags: set[str] | None = None) -> str | None:
    """The OpenBLAS core type to force for this CPU (None: leave OpenBLAS's own detection)."""
    flags = _cpu_flags() if flags is None else flags
    for core, needed in _CORE_TYPES:
        if all(f in flags for f in needed):
            return core
    return None


def _dlopen(path: str) -> ctypes.CDLL:
    """Load `path` globally; for OpenBLAS with the core type and thread timeout chosen here (unless set)."""
    env = {}
    if "openblas" in os.path.basename(path).lower():
        if not os.environ.get("OPENBLAS_CORETYPE"):
            env["OPENBLAS_CORETYPE"] = openblas_core_type()
        if not os.environ.get("OPENBLAS_THREAD_TIMEOUT"):
            env["OPENBLAS_THREAD_TIMEOUT"] = THREAD_TIMEOUT
    env = {k: v for k, v in env.items() if v}
    os.environ.update(env)  # read once, by OpenBLAS's load-time initialiser
    try:
        return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    finally:
        for k in env:
            os.environ.pop(k, None)


def load_fast_blas() -> str | None:
    """Load an optimized CBLAS globally (Linux only); return its path, or None. Safe to call repeatedly.

    Must run before the first `import mlx.core` to have an effect; `engine` calls it on import."""
    global _loaded, _tried, _handle
    if _tried or not sys.platform.startswith("linux"):
        return _loaded
    _tried = True
    choice = os.environ.get("DSOCR_BLAS", "").strip()
    if choice.lower() == "none":
        return None
    problem = None
    if choice:  # the user's library first; when it cannot be used, say so and search the usual places
        if os.path.isfile(choice):
            try:
                _handle = _dlopen(choice)
                _loaded = choice
                return choice
            except OSError as e:
                problem = f"cannot be loaded ({' '.join(str(e).split())})"
        else:
            problem = "no such file" if not os.path.exists(choice) else "not a file"
    for path in candidates():
        try:
            _handle = _dlopen(path)
        except OSError:
            continue
        _loaded = path
        if problem:
            warn_once(f"DSOCR_BLAS={choice}: {problem}; using {path} instead")
        return path
    if problem:
        warn_once(f"DSOCR_BLAS={choice}: {problem}; {INSTALL_HINT}")
    return None


def warn_if_slow() -> None:
    """Say once that MLX computes with its slow reference BLAS. Called where matrix work starts (a model
    load), not on import: `dsocr --help`, `plan` and `tiny-checkpoint` do no matrix work and stay quiet."""
    if sys.platform.startswith("linux") and _tried and _loaded is None \
            and os.environ.get("DSOCR_BLAS", "").strip().lower() != "none":
        warn_once(INSTALL_HINT)


def numpy_openblas() -> ctypes.CDLL | None:
    """The OpenBLAS bundled with numpy (wheels: numpy.libs/lib*openblas*.so), or None (another BLAS)."""
    global _numpy_handle, _numpy_tried
    if not _numpy_tried:
        _numpy_tried = True
        import numpy as np

        for path in sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                                  "lib*openblas*.so*"))):
            try:
                _numpy_handle = ctypes.CDLL(path)
                break
            except OSError:
                continue
    return _numpy_handle


def calm_numpy_blas() -> bool:
    """Restart numpy's OpenBLAS threads with the short idle spin (`THREAD_TIMEOUT`, unless the user set
    OPENBLAS_THREAD_TIMEOUT); True when it was done. Call while no numpy product runs (engine import)."""
    lib = numpy_openblas()
    funcs = [getattr(lib, n, None) if lib is not None else None
             for n in ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")]
    if not all(funcs):
        return False
    user = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = user or THREAD_TIMEOUT
    try:
        for fn in funcs:  # re-read the environment, stop the threads, start them with the new timeout
            fn()
    finally:
        if not user:
            os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
    return True


def numpy_blas_thread_timeout() -> int | None:
    """The thread timeout numpy's OpenBLAS read from the environment (log2 cycles; 0: its default), or None."""
    fn = getattr(numpy_openblas(), "openblas_thread_timeout", None)
    return None if fn is None else fn()


def _openblas_call(name: str, restype=ctypes.c_int):
    """Call the loaded OpenBLAS's getter `name` (no arguments); None for another library."""
    fn = getattr(_handle, name, None) if _handle is not None else None
    if fn is None:
        return None
    fn.restype = restype
    return fn()


def blas_core() -> str | None:
    """The kernel set OpenBLAS runs (e.g. 'SkylakeX'), or None for another library."""
    name = _openblas_call("openblas_get_corename", ctypes.c_char_p)
    return name.decode() if name else None


def blas_threads() -> int | None:
    """The loaded library's thread count (OpenBLAS, MKL), or None for another library."""
    threads = _openblas_call("openblas_get_num_threads")
    return threads if threads is not None else _openblas_call("MKL_Get_Max_Threads")


def mkl_version() -> str | None:
    """MKL's version (e.g. '2026.2') when the loaded library is MKL, else None."""
    fn = getattr(_handle, "MKL_Get_Version_String", None) if _handle is not None else None
    if fn is None:
        return None
    buf = ctypes.create_string_buffer(256)
    fn(buf, len(buf))
    words = buf.value.decode(errors="replace").split()  # "... Library Version 2026.2-Product Build ..."
    return next((w.split("-")[0] for w in words if w[:1].isdigit()), None)


def fast_blas() -> str | None:
    """The path of the optimized BLAS loaded for MLX, or None (MLX computes with its reference BLAS, or
    this is not Linux)."""
    return _loaded


def blas_library() -> str:
    """Which BLAS MLX uses on this machine, in words (for `dsocr --version`, the About box, benchmarks)."""
    if not sys.platform.startswith("linux"):
        return "Accelerate (macOS)" if sys.platform == "darwin" else "MLX default"
    if not _loaded:
        return "reference BLAS (slow)"
    core, threads, mkl = blas_core(), blas_threads(), mkl_version()
    extra = ", ".join(x for x in (f"MKL {mkl}" if mkl else "", f"core {core}" if core else "",
                                  f"{threads} threads" if threads else "") if x)
    return f"{_loaded} ({extra})" if extra else _loaded
