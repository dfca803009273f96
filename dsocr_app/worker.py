"""The OCR worker: one long-lived QObject in its own QThread that owns the loaded model and runs jobs.

Jobs arrive through queued signals; the worker answers with signals (model loading and download progress,
text deltas with live counters, finished, failed). Cancel is a `threading.Event` per job, checked by the
engine between decode steps, and by the download progress hook, so both stop at once. `WorkerHost` owns the
thread and shuts it down cleanly (cancel, quit, wait) when the window closes.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from dataclasses import dataclass, field

from PIL import Image
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from . import engine_bridge as eb
from .qt_compat import emit


class DownloadCancelled(Exception):
    """Raised from the progress hook to stop a model download."""


class LoadCancelled(Exception):
    """Raised from the load progress hook to stop reading the weights."""


def progress_class(report, cancel: threading.Event):
    """A tqdm-compatible class (for the hub download) that reports (bytes done, bytes total, description) and
    stops the download when `cancel` is set."""
    from tqdm.std import tqdm

    class QtProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)  # huggingface_hub's own bar class takes a name; tqdm does not
            kwargs["disable"] = False
            kwargs["file"] = _NullFile()
            kwargs.setdefault("mininterval", 0.1)
            super().__init__(*args, **kwargs)

        def display(self, *args, **kwargs):  # tqdm calls this at most every `mininterval`
            if self.unit == "B":
                report(int(self.n or 0), int(self.total or 0), str(self.desc or ""))
            return True

        def update(self, n=1):
            if cancel.is_set():
                raise DownloadCancelled
            return super().update(n)

    return QtProgress


def _in_hub_cache(repo_id: str) -> bool:
    """True if the model is already in the Hugging Face cache (then there is nothing to download)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001
        return False


class _NullFile:
    def write(self, *_):
        return 0

    def flush(self):
        pass


_job_ids = itertools.count(1)


@dataclass
class Job:
    """One run: the image (already cropped to the region) and the engine options."""

    image: Image.Image
    options: dict
    row: int = -1  # queue row
    target: int = 0  # target index within the item
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_job_ids))


class OcrWorker(QObject):
    """Lives in the worker thread. Slots are called through queued connections from the GUI thread."""

    modelLoading = Signal(str)
    downloadProgress = Signal(int, int, str)  # bytes done, bytes total, description
    downloadSize = Signal(int)
    loadProgress = Signal(int)  # weights read and converted, per mille
    modelLoaded = Signal(object)  # the engine model
    modelFailed = Signal(str)
    jobStarted = Signal(int)
    jobDelta = Signal(int, str, int, float, float)  # job id, text, generated tokens, elapsed s, tokens/s
    jobFinished = Signal(int, object)  # job id, engine.Result
    jobFailed = Signal(int, str)
    stopped = Signal()

    def __init__(self):
        super().__init__()
        self.model = None

    @Slot(str, object, object)
    def load_model(self, source: str, cancel: threading.Event, options: dict | None = None) -> None:
        """Load `source`; `options`: `dtype` ("auto", "float32", "bfloat16") and `memory_limit_gb` (0: auto)."""
        if cancel.is_set():
            emit(self.modelFailed, "Loading the model was cancelled.")
            return
        emit(self.modelLoading, source)
        if eb.is_repo_id(source) and not _in_hub_cache(source):
            size = eb.hub_download_size(source)
            if size:
                emit(self.downloadSize, int(size))
        progress = progress_class(lambda n, t, d: emit(self.downloadProgress, n, t, d), cancel)
        shown = [-1]

        def load_progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise LoadCancelled
            permille = int(1000 * done / max(total, 1))
            if permille != shown[0]:
                shown[0] = permille
                emit(self.loadProgress, permille)

        options = options or {}
        try:
            model = eb.load_model(source, progress=progress, dtype=options.get("dtype"),
                                  memory_limit_gb=options.get("memory_limit_gb"), load_progress=load_progress)
        except DownloadCancelled:
            emit(self.modelFailed, "The model download was cancelled.")
            return
        except LoadCancelled:
            emit(self.modelFailed, "Loading the model was cancelled.")
            return
        except eb.CheckpointError as e:
            if cancel.is_set():  # the engine wraps our DownloadCancelled into a download error
                emit(self.modelFailed, "The model download was cancelled.")
                return
            emit(self.modelFailed, str(e))
            return
        except MemoryError:
            emit(self.modelFailed, "Not enough memory to load this model.")
            return
        except Exception as e:  # noqa: BLE001 - any failure becomes a message, never a crash
            traceback.print_exc()
            emit(self.modelFailed, f"Could not load {source}: {type(e).__name__}: {e}")
            return
        self.model = model
        emit(self.modelLoaded, model)

    @Slot(object)
    def run_job(self, job: Job) -> None:
        if job.cancel.is_set():
            emit(self.jobFailed, job.id, "cancelled")
            return
        if self.model is None:
            emit(self.jobFailed, job.id, "No model is loaded.")
            return
        emit(self.jobStarted, job.id)
        result = None
        try:
            for event in eb.stream(self.model, job.image, cancel=job.cancel, **job.options):
                if eb.is_result(event):
                    result = event
                else:
                    emit(self.jobDelta, job.id, event.text, int(event.generated_tokens), float(event.elapsed_s),
                                       float(event.tokens_per_s))
        except MemoryError:
            emit(self.jobFailed, job.id, "Not enough memory for this image: try fewer tiles or a smaller mode.")
            return
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            emit(self.jobFailed, job.id, f"{type(e).__name__}: {e}")
            return
        if result is None:
            emit(self.jobFailed, job.id, "The engine returned no result.")
        else:
            emit(self.jobFinished, job.id, result)

    @Slot()
    def shutdown(self) -> None:
        self.model = None
        emit(self.stopped)


class WorkerHost(QObject):
    """Owns the worker thread (parented to the window) and the queued signals that reach the worker."""

    requestLoad = Signal(str, object, object)
    requestRun = Signal(object)
    requestShutdown = Signal()

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.thread = QThread(parent)
        self.thread.setObjectName("dsocr-worker")
        self.worker = OcrWorker()
        self.worker.moveToThread(self.thread)
        self.requestLoad.connect(self.worker.load_model, Qt.ConnectionType.QueuedConnection)
        self.requestRun.connect(self.worker.run_job, Qt.ConnectionType.QueuedConnection)
        self.requestShutdown.connect(self.worker.shutdown, Qt.ConnectionType.QueuedConnection)
        self.worker.stopped.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.worker.deleteLater)
        self.current: Job | None = None
        self.load_cancel = threading.Event()
        self._closed = False
        self.thread.start()

    def load(self, source: str, dtype: str | None = None, memory_limit_gb: float | None = None) -> None:
        self.load_cancel = threading.Event()
        emit(self.requestLoad, source, self.load_cancel, {"dtype": dtype, "memory_limit_gb": memory_limit_gb})

    def run(self, job: Job) -> None:
        self.current = job
        emit(self.requestRun, job)

    def cancel(self) -> None:
        """Stop the running job and any download, at the next decode step."""
        if self.current is not None:
            self.current.cancel.set()
        self.load_cancel.set()

    def close(self, timeout_ms: int = 30000) -> bool:
        """Cancel, ask the worker to stop, quit the thread and wait for it."""
        if self._closed:
            return True
        self._closed = True
        self.cancel()
        if self.thread.isRunning():
            emit(self.requestShutdown)
            ok = self.thread.wait(timeout_ms)
            if not ok:  # the engine is inside a long non-cancellable step (e.g. encoding): stop the loop anyway
                self.thread.quit()
                ok = self.thread.wait(timeout_ms)
            return ok
        return True
