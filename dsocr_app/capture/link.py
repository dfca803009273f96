"""The one place the capture flow talks to the main window: plan options, the model, the worker, the queue.

The window owns the model and its worker thread; a capture runs as its own job on that worker (queued
behind a job that is running, never loading the model twice) and is then added to the window's queue with
its result, so it can be inspected, re-run in another mode or exported like any other item.
"""

from __future__ import annotations

from .. import engine_bridge as eb
from ..qt_compat import emit
from ..worker import Job


def plan_options(window) -> dict:
    """The version, mode and tile limits the window plans with (the preview's plan options)."""
    lo, hi = window.tiles()
    return {"version": window.version(), "mode": window.mode(), "min_tiles": lo, "max_tiles": hi}


def planner(window):
    """`size -> TilePlan` with the window's plan options (None for a size the engine cannot plan)."""
    options = plan_options(window)

    def plan(size: tuple[int, int]):
        try:
            return eb.plan(size, **options)
        except ValueError:
            return None

    return plan


def when_model_ready(window, ready, failed) -> None:
    """Call `ready()` once the window has a model (loading the remembered one if none is loading), or
    `failed(message)`."""
    if window.model is not None:
        ready()
        return

    def on_ready():
        disconnect()
        ready()

    def on_error(message: str):
        disconnect()
        failed(message)

    def disconnect():
        window.modelReady.disconnect(on_ready)
        window.modelError.disconnect(on_error)

    source = window.settings.model
    if not window.loading and not source:
        failed("No model is chosen yet: open DSOCR, choose a model (Model menu), or start it with --model")
        return
    window.modelReady.connect(on_ready)
    window.modelError.connect(on_error)
    if not window.loading:
        window.load_model(source)


def connect_jobs(window, finished, failed) -> None:
    """Connect the worker's job signals to `finished(job_id, result)` / `failed(job_id, message)`: Slots of a
    QObject in the GUI thread (queued across the thread; a plain function would run in the worker thread)."""
    window.host.worker.jobFinished.connect(finished)
    window.host.worker.jobFailed.connect(failed)


def submit(window, image, task: str) -> Job:
    """Run `image` with `task` and the window's plan options on the window's worker; the job (for its id)."""
    options = {k: v for k, v in plan_options(window).items() if k != "version"}
    job = Job(image, {"task": task, "max_tokens": int(window.max_tokens), **options})
    emit(window.host.requestRun, job)
    return job


def add_to_queue(window, image, name: str, result=None) -> int:
    """Queue the captured image (with its result when there is one); its queue row."""
    window.add_image(image, name)
    row = len(window.queue.items) - 1
    if result is not None:
        window.apply_result(row, 0, result)
    return row


def queue_names(window) -> list[list[str]]:
    """`[[name, state], ...]` of the window's queue (for the instance's status answer)."""
    return [[item.name, str(getattr(item.targets[0].state, "value", item.targets[0].state))]
            for item in window.queue.items]


def show(window) -> None:
    window.show()
    window.raise_()
    window.activateWindow()
