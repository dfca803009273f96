"""The one place the capture flow talks to the main window: plan options, the model, the run queue, the queue.

The window owns the model (its RunQueue and worker thread). A capture becomes an item of the window's queue
("Capture 1", ...) whose target runs with the capture task; it waits its turn in the RunQueue like any run,
streams into the window, and can then be inspected, re-run in another mode or exported.
"""

from __future__ import annotations

from .. import engine_bridge as eb


def planner(window):
    """`size -> TilePlan` with the window's plan options (None for a size the engine cannot plan)."""
    o = window.options()

    def plan(size: tuple[int, int]):
        try:
            return o.plan(size)
        except ValueError:
            return None

    return plan


def loading(window) -> bool:
    return bool(window.runs.loading)


def ensure_model(window, failed) -> None:
    """Have the window load its remembered model unless it has or loads one; `failed(message)` when there is
    none to load or the load fails (the runs waiting for it are then dropped)."""
    if window.model is not None:
        return
    source = window.settings.model
    if not loading(window) and not source:
        failed("No model is chosen yet: open DSOCR, choose a model (Model menu), or start it with --model")
        return

    def on_error(message: str):
        disconnect()
        failed(message)

    def disconnect():
        window.modelReady.disconnect(disconnect)
        window.modelError.disconnect(on_error)

    window.modelReady.connect(disconnect)
    window.modelError.connect(on_error)
    if not loading(window):
        window.load_model(source)


def connect_runs(window, finished, failed) -> None:
    """`finished(target, result)` / `failed(target, message)` for every run of the window's RunQueue."""
    window.runs.finished.connect(lambda job, result: finished(job.key, result))
    window.runs.failed.connect(lambda job, message: failed(job.key, message))


def queue_capture(window, image, name: str, task: str):
    """Add the captured image to the window's queue and run it with `task`; its queue Target."""
    window.add_image(image, name)
    target = window.queue.items[-1].targets[0]
    target.task = task
    window.runs.submit([target])
    return target


def queue_names(window) -> list[list[str]]:
    """`[[name, state], ...]` of the window's queue (for the instance's status answer)."""
    return [[item.name, item.targets[0].state.value] for item in window.queue.items]


def model_name(window) -> str:
    return window.model.name if window.model is not None else ""


def show(window) -> None:
    window.show()
    window.raise_()
    window.activateWindow()
