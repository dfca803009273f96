"""The OCR worker: one long-lived QObject in its own QThread that owns the loaded model and runs jobs.

Jobs arrive through queued signals; the worker answers with signals (model loading and download progress,
text deltas with live counters, finished, failed). Cancel is a `threading.Event` per job, checked by the
engine between decode steps, and by the download progress hook, so both stop at once. `WorkerHost` owns the
thread and shuts it down cleanly (cancel, quit, wait) when the window closes.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import traceback
from dataclasses import dataclass, field

from PIL import Image
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from . import engine_bridge as eb
from .documents import DocumentInput


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


class _NullFile:
    def write(self, *_):
        return 0

    def flush(self):
        pass


_job_ids = itertools.count(1)


@dataclass
class Job:
    """One run: the image (already cropped to the region) or a document's pages (`documents.DocumentInput`,
    loaded here, in the worker), the engine options, and the caller's `key` (what the run is for; the app uses
    the queue's Target)."""

    image: Image.Image | DocumentInput
    options: eb.RunOptions | None
    key: object = None
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
    jobRollback = Signal(int, int, int, str)  # job id, characters of streamed text kept, loop start, new strategy
    jobFinished = Signal(int, object)  # job id, engine.Result
    jobFailed = Signal(int, str)
    stopped = Signal()

    def __init__(self):
        super().__init__()
        self.model = None

    @Slot(str, object, object)
    def load_model(self, source: str, cancel: threading.Event, options: dict) -> None:
        if cancel.is_set():
            self.modelFailed.emit("Loading the model was cancelled.")
            return
        self.modelLoading.emit(source)
        size = eb.pending_download_size(source)
        if size:
            self.downloadSize.emit(int(size))
        progress = progress_class(lambda n, t, d: self.downloadProgress.emit(n, t, d), cancel)
        shown = [-1]

        def load_progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise LoadCancelled
            permille = int(1000 * done / max(total, 1))
            if permille != shown[0]:
                shown[0] = permille
                self.loadProgress.emit(permille)

        try:
            model = eb.load_model(source, progress=progress, load_progress=load_progress, **options)
        except DownloadCancelled:
            self.modelFailed.emit("The model download was cancelled.")
            return
        except LoadCancelled:
            self.modelFailed.emit("Loading the model was cancelled.")
            return
        except eb.CheckpointError as e:
            if cancel.is_set():  # the engine wraps our DownloadCancelled into a download error
                self.modelFailed.emit("The model download was cancelled.")
                return
            self.modelFailed.emit(str(e))
            return
        except MemoryError:
            self.modelFailed.emit("Not enough memory to load this model.")
            return
        except Exception as e:  # noqa: BLE001 - any failure becomes a message, never a crash
            traceback.print_exc()
            self.modelFailed.emit(f"Could not load {source}: {type(e).__name__}: {e}")
            return
        self.model = model
        self.modelLoaded.emit(model)

    @Slot(object)
    def run_job(self, job: Job) -> None:
        if job.cancel.is_set():
            self.jobFailed.emit(job.id, "cancelled")
            return
        if self.model is None:
            self.jobFailed.emit(job.id, "No model is loaded.")
            return
        self.jobStarted.emit(job.id)
        result = None
        try:
            pages = job.image.load() if isinstance(job.image, DocumentInput) else None
            events = (eb.stream(self.model, job.image, job.options, cancel=job.cancel) if pages is None else
                      eb.stream_document(self.model, pages, job.options, cancel=job.cancel))
            for event in events:
                if isinstance(event, (eb.Result, eb.DocumentResult)):
                    result = event
                elif isinstance(event, eb.Rollback):
                    self.jobRollback.emit(job.id, event.text_length, event.loop_start, event.strategy)
                else:
                    self.jobDelta.emit(job.id, event.text, int(event.generated_tokens), float(event.elapsed_s),
                                       float(event.tokens_per_s))
        except MemoryError:
            self.jobFailed.emit(job.id, "Not enough memory for this image: try fewer tiles or a smaller mode.")
            return
        except eb.ImageError as e:  # a document's page that cannot be rendered: the engine's message
            self.jobFailed.emit(job.id, str(e))
            return
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            self.jobFailed.emit(job.id, f"{type(e).__name__}: {e}")
            return
        if result is None:
            self.jobFailed.emit(job.id, "The engine returned no result.")
        elif pages is not None:  # each page's QR codes and barcodes too, here, off the GUI thread
            coded = [dataclasses.replace(r, codes=eb.read_codes(p)) for r, p in zip(result.pages, pages)]
            self.jobFinished.emit(job.id, dataclasses.replace(result, pages=coded))
        else:  # the QR codes and barcodes of the image too, here, off the GUI thread
            self.jobFinished.emit(job.id, dataclasses.replace(result, codes=eb.read_codes(job.image)))

    @Slot()
    def shutdown(self) -> None:
        self.model = None
        self.stopped.emit()


class WorkerHost(QObject):
    """Owns the worker thread (parented to `parent`) and the queued signals that reach the worker. Cancelling a
    job is its own `cancel` event (the RunQueue sets it); closing cancels the load and waits for the thread."""

    requestLoad = Signal(str, object, object)  # source, cancel event, engine.load keyword arguments
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
        self.load_cancel = threading.Event()
        self._closed = False
        self.thread.start()

    def load(self, source: str, options: dict | None = None) -> None:
        self.load_cancel = threading.Event()
        self.requestLoad.emit(source, self.load_cancel, dict(options or {}))

    def run(self, job: Job) -> None:
        self.requestRun.emit(job)

    def cancel_load(self) -> None:
        """Stop a model load (a download stops at once)."""
        self.load_cancel.set()

    def close(self, timeout_ms: int = 30000) -> bool:
        """Cancel, ask the worker to stop, quit the thread and wait for it."""
        if self._closed:
            return True
        self._closed = True
        self.cancel_load()
        if self.thread.isRunning():
            self.requestShutdown.emit()
            ok = self.thread.wait(timeout_ms)
            if not ok:  # the engine is inside a long non-cancellable step (e.g. encoding): stop the loop anyway
                self.thread.quit()
                ok = self.thread.wait(timeout_ms)
            return ok
        return True
