"""The CPU kernels' thread pool and shared plumbing: jobs spread over the cores, numpy's BLAS kept
single-threaded meanwhile, cancel checks per job, results written straight into MLX buffers.

One thread per core (`DSOCR_CPU_KERNELS_THREADS` sets another count): the calling thread and `THREADS - 1`
pool threads take jobs in turn (`share_jobs`), so a thread that other programs' work deschedules costs its
jobs, not the whole product. Each job first checks the run's cancel flag (`runtime.cancel`), so a cancel lands
within one job (a few MB of attention scores, one expert's products).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import mlx.core as mx
import numpy as np

from .. import cancel
from ..blas import numpy_openblas
from ..settings import env_number

THREADS = env_number("DSOCR_CPU_KERNELS_THREADS", 0) or (os.cpu_count() or 1)
_pool_obj = None


# (get, set) thread-count functions of numpy's own OpenBLAS: names with and without numpy's symbol prefix
_THREAD_FUNCS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                 ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                 ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                 ("openblas_get_num_threads", "openblas_set_num_threads"))


@lru_cache(maxsize=1)
def _numpy_blas_threads():
    """(get, set) for the thread count of the OpenBLAS bundled with numpy, or None (another BLAS)."""
    import ctypes

    lib = numpy_openblas()
    for get_name, set_name in _THREAD_FUNCS:
        get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
        if get is not None and put is not None:
            put.argtypes = [ctypes.c_int]
            return get, put
    return None


def get():
    global _pool_obj
    if THREADS <= 1:
        return None
    if _pool_obj is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool_obj = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="dsocr-cpu")  # + the calling thread
    return _pool_obj


def on_pool(pool, run, jobs) -> None:
    """Run `run(job)` for every job on the pool, numpy's BLAS single-threaded meanwhile: the pool is the
    parallelism, and BLAS threads on top of it slow each other down several-fold. The thread count is global
    to numpy's OpenBLAS (a per-thread setting leaks into the calling thread in the builds numpy ships), so it
    is set around the pooled work and restored afterwards for the main thread's few-row matmuls."""
    funcs = _numpy_blas_threads()
    prev = funcs[0]() if funcs else 1
    if prev > 1:
        funcs[1](1)
    try:
        share_jobs(pool, run, list(jobs))
    finally:
        if prev > 1:
            funcs[1](prev)


def share_jobs(pool, run, jobs: list) -> None:
    """Run the jobs on the calling thread and `THREADS - 1` pool threads, each taking the next job when done
    (the caller works instead of waiting: on a machine whose cores other programs share, a descheduled
    thread's jobs are taken by the one that runs). The first error stops the others taking more jobs, and is
    raised once every thread has stopped."""
    lock = threading.Lock()
    state = {"next": 0, "stop": False}

    def drain():
        while True:
            with lock:
                if state["stop"] or state["next"] >= len(jobs):
                    return
                job = jobs[state["next"]]
                state["next"] += 1
            try:
                run(job)
            except BaseException:
                state["stop"] = True
                raise

    helpers = [pool.submit(drain) for _ in range(min(THREADS, len(jobs)) - 1)]
    try:
        drain()
    finally:
        for helper in helpers:
            helper.exception()  # wait for it
    for helper in helpers:
        if helper.exception() is not None:
            raise helper.exception()


def as_numpy(x: mx.array) -> np.ndarray:
    """float32 numpy view of an evaluated MLX array (zero-copy when float32 and row-contiguous)."""
    return np.asarray(x if x.dtype == mx.float32 else x.astype(mx.float32))


SMALL_OUTPUT = 1 << 16  # elements: a result this small is written into numpy and copied (a decode step's)


def output(shape) -> tuple[mx.array | None, np.ndarray]:
    """A new float32 MLX array and a writable numpy view of its memory, so that results are written straight
    into MLX's buffer (no copy back); (None, a numpy buffer) for a small result (making and evaluating an MLX
    array costs ~0.1 ms, copying 256 KB far less) or if MLX does not expose a writable one."""
    if int(np.prod(shape)) <= SMALL_OUTPUT:
        return None, np.empty(shape, np.float32)
    res = mx.zeros(shape, mx.float32)
    mx.eval(res)
    view = np.asarray(res)
    if view.flags.writeable and view.flags.c_contiguous and view.shape == tuple(shape):
        return res, view
    return None, np.empty(shape, np.float32)


def in_dtype(a: mx.array, dtype: mx.Dtype) -> mx.array:
    """A float32 result `a` in the caller's dtype."""
    return a if dtype == mx.float32 else a.astype(dtype)


def run_jobs(run, jobs, res: mx.array | None, buf: np.ndarray, dtype: mx.Dtype) -> mx.array:
    """Run `run(job)` for every job (on the pool when there are several), then return the MLX array the jobs
    wrote into (`res`, or a copy of `buf` when MLX gave no writable view) in `dtype`. Each job first checks
    the run's cancel flag (`runtime.cancel`), so a cancel lands within one job (a few MB of attention scores,
    one expert's products), not at the end of a whole attention or MoE layer."""
    event = cancel.current()

    def checked(job):
        if event is not None and event.is_set():
            raise cancel.Cancelled
        run(job)

    pool = get()
    if pool is None or len(jobs) == 1:
        for job in jobs:
            checked(job)
    else:
        on_pool(pool, checked, jobs)
    return in_dtype(mx.array(buf) if res is None else res, dtype)


SCRATCH_ELEMENTS = 1 << 18  # the least a scratch buffer holds (float32: 1 MB; the activations' row chunks)
_local = threading.local()


def scratch(k: int, shape) -> list[np.ndarray]:
    """k float32 temporaries of `shape`, reused per thread (no allocation or page faults per chunk)."""
    n = int(np.prod(shape))
    bufs = getattr(_local, "bufs", None)
    if bufs is None or len(bufs) < k or bufs[0].size < n:
        bufs = _local.bufs = [np.empty(max(n, SCRATCH_ELEMENTS), np.float32) for _ in range(max(k, 4))]
    return [b[:n].reshape(shape) for b in bufs[:k]]
