"""The run queue: runs waiting for their turn, the one running, the model and its loading, the worker wiring.

A run is asked for by a `key` (any object; the window uses the queue's `Target`). When its turn comes,
`prepare(key, model)` gives the image and the engine options (or raises `ImageError`/`ValueError`, which fails that
run only); the worker thread runs it and the queue re-emits what happens as `started`, `delta`, `finished`
and `failed`, each with the `Job` (whose `key` says which run). Nothing here knows about windows, so it is
tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Signal, Slot

from . import engine_bridge as eb
from .worker import Job, WorkerHost

CANCELLED = "cancelled"  # the `failed` message of a run cancelled before it produced a result


class RunQueue(QObject):
    """Pending runs in order, at most one running; loads the model first when a run needs one."""

    modelLoading = Signal(str)  # source
    downloadSize = Signal(int)  # bytes of a first download
    downloadProgress = Signal(int, int, str)  # bytes done, bytes total, description
    loadProgress = Signal(int)  # weights read and converted, per mille
    modelReady = Signal(object)  # engine Model
    modelFailed = Signal(str)
    started = Signal(object)  # Job
    delta = Signal(object, str, int, float, float)  # Job, text, generated tokens, elapsed s, tokens/s
    rolledBack = Signal(object, int, int, str)  # Job, characters of streamed text kept, loop start, strategy
    finished = Signal(object, object)  # Job, engine Result (its stop_reason says eos, cancelled, ...)
    failed = Signal(object, str)  # Job, message (CANCELLED when cancelled before a result)
    busyChanged = Signal(bool)

    def __init__(self, prepare: Callable[[object, object], tuple[object, object]], parent: QObject | None = None):
        super().__init__(parent)
        self.prepare = prepare
        self.model: eb.Model | None = None
        self.loading = ""  # the source being loaded, "" when none
        self.pending: list[object] = []
        self.running: Job | None = None
        self.partial = ""  # text streamed so far by the running job
        self.host = WorkerHost(self)
        w = self.host.worker
        w.modelLoading.connect(self.modelLoading)
        w.downloadSize.connect(self.downloadSize)
        w.downloadProgress.connect(self.downloadProgress)
        w.loadProgress.connect(self.loadProgress)
        w.modelLoaded.connect(self._on_model_loaded)
        w.modelFailed.connect(self._on_model_failed)
        w.jobDelta.connect(self._on_delta)
        w.jobRollback.connect(self._on_rollback)
        w.jobFinished.connect(self._on_finished)
        w.jobFailed.connect(self._on_failed)

    # ---- state ---------------------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self.running is not None or bool(self.pending) or bool(self.loading)

    def is_queued(self, key) -> bool:
        """Waiting or running."""
        return any(k is key for k in self.pending) or (self.running is not None and self.running.key is key)

    # ---- model ---------------------------------------------------------------------------------------------

    def load(self, source: str, options: dict | None = None) -> None:
        """Load a model (hub id or folder; `options`: more `engine.load` keyword arguments) in the worker;
        waiting runs start when it is ready."""
        if self.running is not None:
            raise RuntimeError("wait for the run to finish (or cancel it) before changing the model")
        self.loading = str(source)
        self.model = None
        self.host.load(str(source), options)
        self.busyChanged.emit(True)

    @Slot(object)
    def _on_model_loaded(self, model) -> None:
        self.model = model
        self.loading = ""
        self.modelReady.emit(model)
        self._next()

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self.loading = ""
        self.pending.clear()
        self.modelFailed.emit(message)
        self.busyChanged.emit(False)

    # ---- runs ----------------------------------------------------------------------------------------------

    def submit(self, keys) -> int:
        """Queue runs for `keys` (those already queued are skipped); returns how many were added. They start
        now if a model is loaded, else once `load` has finished."""
        added = [k for k in keys if not self.is_queued(k)]
        self.pending.extend(added)
        if added:
            self.busyChanged.emit(True)
        self._next()
        return len(added)

    def drop(self, key) -> None:
        """Forget a waiting run (e.g. its item was removed); a running one is cancelled."""
        self.pending = [k for k in self.pending if k is not key]
        if self.running is not None and self.running.key is key:
            self.running.cancel.set()

    def cancel(self) -> None:
        """Stop the running job at the next decode step, drop the waiting ones and any model load."""
        self.pending.clear()
        if self.running is not None:
            self.running.cancel.set()
        if self.loading:
            self.host.cancel_load()

    def _next(self) -> None:
        while self.running is None and self.pending and self.model is not None:
            key = self.pending.pop(0)
            try:
                image, options = self.prepare(key, self.model)
            except (eb.ImageError, ValueError) as e:
                self.failed.emit(Job(None, None, key), str(e))
                continue
            job = Job(image, options, key)
            self.running = job
            self.partial = ""
            self.started.emit(job)
            self.host.run(job)
        if not self.is_busy():
            self.busyChanged.emit(False)

    def _take(self, job_id: int) -> Job | None:
        job = self.running
        if job is None or job.id != job_id:
            return None
        self.running = None
        self.partial = ""
        return job

    @Slot(int, str, int, float, float)
    def _on_delta(self, job_id: int, text: str, tokens: int, elapsed: float, tps: float) -> None:
        if self.running is not None and self.running.id == job_id:
            self.partial += text
            self.delta.emit(self.running, text, tokens, elapsed, tps)

    @Slot(int, int, int, str)
    def _on_rollback(self, job_id: int, keep: int, loop_start: int, strategy: str) -> None:
        if self.running is not None and self.running.id == job_id:
            self.partial = self.partial[:keep]
            self.rolledBack.emit(self.running, keep, loop_start, strategy)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result) -> None:
        job = self._take(job_id)
        if job is not None:
            self.finished.emit(job, result)
            self._next()

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        job = self._take(job_id)
        if job is not None:
            self.failed.emit(job, message)
            self._next()

    # ---- scripts and shutdown ------------------------------------------------------------------------------

    def wait_idle(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until nothing runs, waits or loads (scripts, tests); False on timeout."""
        if not self.is_busy():
            return True
        loop = QEventLoop()
        clock = QElapsedTimer()
        clock.start()
        poll = QTimer()
        poll.setInterval(20)
        poll.timeout.connect(lambda: loop.quit() if not self.is_busy() or clock.elapsed() > timeout_s * 1000 else None)
        poll.start()
        loop.exec()
        poll.stop()
        return not self.is_busy()

    def close(self) -> bool:
        """Cancel everything and stop the worker thread (waits for it)."""
        self.cancel()
        return self.host.close()

