"""Cancel points inside long graphs: the encoders' blocks and the prefill's layers.

A run's cancel flag (a `threading.Event`) is made current for the calling thread with `scope(event)` while the
encoder or a prefill chunk is built and run; the models call `point(x)` between their blocks' halves. With a
flag current, `point` evaluates `x` (so the work so far is done, and no more is queued) and raises
`Cancelled` when the flag is set; without one it does nothing, so graphs built outside a run (tests,
benchmarks, `mx.compile`) are unchanged. On a CPU the numpy kernels evaluate at these boundaries anyway; on a
GPU they become evaluation points of their own (a few per block), pipelined: a point queues its part with
`mx.async_eval` and waits only for the part before it, so the GPU always has the next part queued while the
flag is checked, and a cancel still stops within two parts. On an H200 a page's encode / prefill took
+30% / +86% with points that wait, -2% / +25% pipelined (docs/benchmarks.md, "On a GPU").
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import mlx.core as mx

from .device import on_gpu

_local = threading.local()


class Cancelled(Exception):
    """Raised inside a run when its cancel flag is set; callers turn it into stop_reason 'cancelled'."""


@contextmanager
def scope(event: threading.Event | None, pipelined: bool | None = None):
    """Make `event` the current thread's cancel flag inside the block (nested scopes restore the outer one).
    `pipelined` (default: on a GPU) makes each point wait for the part before it instead of its own."""
    prev = getattr(_local, "event", None), getattr(_local, "pipelined", False), getattr(_local, "pending", ())
    _local.event = event
    _local.pipelined = on_gpu() if pipelined is None else pipelined
    _local.pending = ()
    try:
        yield
    finally:
        _local.event, _local.pipelined, _local.pending = prev


def current() -> threading.Event | None:
    """The current thread's cancel flag (None outside a run), for work handed to other threads."""
    return getattr(_local, "event", None)


def point(*arrays: mx.array) -> None:
    """A cancel point: with a cancel flag current, raise Cancelled if it is set, else evaluate `arrays` and
    check again; without one, nothing."""
    event = current()
    if event is None:
        return
    if event.is_set():
        raise Cancelled
    if _local.pipelined:
        mx.async_eval(*arrays)
        before, _local.pending = _local.pending, arrays
        mx.eval(*before)
    else:
        mx.eval(*arrays)
    if event.is_set():
        raise Cancelled
