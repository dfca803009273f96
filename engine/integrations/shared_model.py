"""One model per process for a host program that asks for pages from several threads (OCRmyPDF's page
workers): loaded once, on first use, and run by an in-process `OcrService`, whose worker thread alone touches
the model. A host thread prepares its page (pixels only, no model work), hands it over and waits for the
`Result`; pages handed over at the same time decode together (continuous batching, as `dsocr serve` does).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

log = logging.getLogger(__name__)
_lock = threading.Lock()
_services: dict[tuple, object] = {}
loads = 0  # models loaded by this process


def service(model: str, dtype: str | None = None, max_batch: int = 4):
    """The `OcrService` of `model` (hub id or folder) in `dtype`, loading the model the first time it is asked
    for in this process. Raises what `engine.load` raises for a model that cannot be loaded."""
    global loads
    key = (str(model), dtype)
    with _lock:
        found = _services.get(key)
        if found is None:
            from ..model import load
            from ..service.scheduler import OcrService

            t0 = time.perf_counter()
            loaded = load(str(model), dtype=dtype)
            found = _services[key] = OcrService(loaded, max_batch=max_batch,
                                                max_pending=1024)  # the host bounds its own threads
            loads += 1
            log.info("DSOCR: loaded %s (%s) in %.1f s", model, loaded.version, time.perf_counter() - t0)
            if loads == 1:
                atexit.register(close_all)
        return found


def close_all() -> None:
    """Stop every service's worker thread (at exit: a thread still inside MLX when the interpreter ends
    aborts the process)."""
    with _lock:
        found = list(_services.values())
        _services.clear()
    for svc in found:
        svc.close()


def ocr_page(svc, image, options):
    """OCR one page (a path or an image) on `svc`, blocking this thread until its `Result` is there; an error
    of the run is raised here."""
    from ..pipeline import Result, prepare_for

    prep = prepare_for(svc.model, image, options.tiling)
    done, out = threading.Event(), []

    def sink(event) -> None:
        if isinstance(event, (Result, BaseException)) and not done.is_set():
            out.append(event)
            done.set()

    ticket = svc.submit(prep, options, sink)
    try:
        done.wait()
    finally:
        if not done.is_set():  # this thread was interrupted: free the page's slot
            ticket.cancel()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]
