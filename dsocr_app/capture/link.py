"""The one place the capture flow talks to the main window: plan options, the model, the run queue, the queue.

The window owns the model (its RunQueue and worker thread). A capture becomes an item of the window's queue
("Capture 1", ...) whose target runs with the capture task; it waits its turn in the RunQueue like any run,
streams into the window, and can then be inspected, re-run in another mode or exported; once done it is kept in
the history (`record_capture`), which then holds its image. The options a later
`dsocr-app` hands over apply to the window as they would to a window started with them (`apply_options`).
"""

from __future__ import annotations

import sys


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


def apply_options(window, options: dict) -> str:
    """Apply the plan and run options handed over by a later `dsocr-app` (`version`, `mode`, `min_tiles`,
    `max_tiles`, `max_tokens`; `model` is checked here, loaded by `load_model`): '' when applied, else why not
    (and nothing is changed)."""
    max_tokens, model, version = options.get("max_tokens"), options.get("model"), options.get("version")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return f"--max-tokens {max_tokens}: give at least 1"
    loaded = window.model
    if version and not model and loaded is not None and loaded.version != version:
        return (f"--version {version}: the running DSOCR has a {loaded.version} model loaded ({loaded.name}); "
                f"add --model with a {version} model")
    if model and window.runs.running is not None and not _has_model(window, model):
        return f"--model {model}: the running DSOCR is running an OCR; try again when it is done (or cancel it)"
    try:
        window.set_plan_options(**{k: options.get(k) for k in ("version", "mode", "min_tiles", "max_tiles")})
    except ValueError as e:
        return str(e)
    if max_tokens is not None:
        window.set_max_tokens(max_tokens)  # for this session, as --max-tokens at start (not saved)
    return ""


def _has_model(window, source: str) -> bool:
    return (window.model is not None and window.model.name == source) or window.runs.loading == source


def load_model(window, source: str, done) -> None:
    """Have the window load `source` unless it has or loads it; `done('')` once it is ready, `done(message)`
    when the load fails."""
    if window.model is not None and window.model.name == source:
        done("")
        return

    def finish(message: str = "") -> None:
        window.modelReady.disconnect(finish)
        window.modelError.disconnect(finish)
        done(message)

    window.modelReady.connect(finish)
    window.modelError.connect(finish)
    if window.runs.loading != source:
        window.load_model(source)


def plan_status(window) -> dict:
    """What the window plans and runs with (for the instance's status answer)."""
    o = window.options()
    return {"version": o.version, "mode": o.mode, "min_tiles": o.min_tiles, "max_tiles": o.max_tiles,
            "max_tokens": int(window.max_tokens)}


def connect_runs(window, finished, failed) -> None:
    """`finished(target, result)` / `failed(target, message)` for every run of the window's RunQueue."""
    window.runs.finished.connect(lambda job, result: finished(job.key, result))
    window.runs.failed.connect(lambda job, message: failed(job.key, message))


def queue_capture(window, image, name: str, task: str):
    """Add the captured image to the window's queue and run it with `task`; its queue Target."""
    target = window.intake.add_capture(image, name, task)
    window.runs.submit([target])
    return target


def record_capture(window, target, result, task: str) -> None:
    """Keep a finished capture in the history; the queue then reads its image from there."""
    window.history.record(target, result, task)


def record_code_capture(window, image, text: str) -> None:
    """Keep a capture that was mostly a code (no OCR ran) in the history."""
    window.history.record_codes(image, text)


def start_history(window) -> None:
    """This DSOCR runs for the user: its history's retention applies now, problems said on stderr too."""
    window.history.problem.connect(lambda line: print(f"dsocr-app: {line}", file=sys.stderr))
    window.history.start()


def end_capture_task(window, target) -> None:
    """Later runs of a capture's target follow the window's task."""
    window.queue.set_task(target, "")


def work_in_progress(window, capturing: bool = False) -> str:
    """What quitting now would cancel, in words ('' when nothing): the running OCR, the waiting runs, a model
    load, a capture."""
    runs, parts = window.runs, []
    if capturing and not (runs.running is not None and runs.running.key is window.capturer.target):
        parts.append("the capture in progress")
    if runs.running is not None:
        item = window.queue.item_of(runs.running.key)
        name = item.name if item is not None else "an image"
        parts.append(f"the OCR of {name}")
    if runs.pending:
        parts.append(f"{len(runs.pending)} waiting run{'s' if len(runs.pending) > 1 else ''}")
    if runs.loading:
        parts.append(f"loading the model {runs.loading}")
    return ", ".join(parts)


def queue_names(window) -> list[list[str]]:
    """`[[name, state], ...]` of the window's queue (for the instance's status answer)."""
    return [[item.name, item.targets[0].state.value] for item in window.queue.items]


def model_name(window) -> str:
    return window.model.name if window.model is not None else ""


def show(window) -> None:
    window.show()
    window.raise_()
    window.activateWindow()
