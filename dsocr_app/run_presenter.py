"""Run presentation: the RunQueue's runs shown as queue states, the live stream of the shown target and status.

`RunPresenter` listens to the `RunQueue` (started, delta, rolled back, finished, failed) and keeps the queue's
targets, the results pane and the status bar in step; it re-emits `runFinished(row, index)` and
`textStreamed(text, tokens)` for scripts and tests. What the window shows it learns through `shown(target)`,
and asks the window to redraw with `show_result()` and `update_actions()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from .queue_model import QueueModel, State, Target
from .results_pane import ResultsPane, run_summary
from .run_queue import CANCELLED, RunQueue
from .status_bar import StatusBar


class RunPresenter(QObject):
    runFinished = Signal(int, int)  # queue row, target index (done, cancelled or failed)
    textStreamed = Signal(str, int)  # a streamed text delta and the tokens generated so far

    def __init__(self, runs: RunQueue, queue: QueueModel, results: ResultsPane, status: StatusBar,
                 shown: Callable[[Target], bool], show_result: Callable[[], None],
                 update_actions: Callable[[], None], report: Callable, parent: QObject | None = None):
        super().__init__(parent)
        self.queue, self.results, self.status = queue, results, status
        self.shown, self.show_result, self.update_actions, self.report = shown, show_result, update_actions, report
        runs.started.connect(self._on_started)
        runs.delta.connect(self._on_delta)
        runs.rolledBack.connect(self._on_rollback)
        runs.finished.connect(self._on_finished)
        runs.failed.connect(self._on_failed)

    @Slot(object)
    def _on_started(self, job) -> None:
        where = self.queue.locate(job.key)
        job.key.state, job.key.error, job.key.result = State.RUNNING, "", None
        self.queue.changed(where[0])
        if self.shown(job.key):
            self.show_result()
        self.status.busy("Running")
        self.status.showMessage(f"Reading {self.queue.items[where[0]].name}\u2026")
        self.update_actions()

    @Slot(object, str, int, float, float)
    def _on_delta(self, job, text: str, tokens: int, elapsed: float, tps: float) -> None:
        if self.shown(job.key):
            self.results.append_delta(text, tokens, elapsed, tps)
        self.status.run_progress(tokens, tps)
        self.textStreamed.emit(text, tokens)

    @Slot(object, int, int, str)
    def _on_rollback(self, job, keep: int, loop_start: int, strategy: str) -> None:
        if self.shown(job.key):
            self.results.rewind_stream(keep, loop_start, strategy)

    @Slot(object, object)
    def _on_finished(self, job, result) -> None:
        where = self.queue.locate(job.key)
        if where is None:
            return
        if self.shown(job.key):
            self.results.end_stream()
        self.apply_result(*where, result)
        self.status.showMessage(f"{self.queue.items[where[0]].name}: {run_summary(result)}", 8000)
        self.runFinished.emit(*where)

    @Slot(object, str)
    def _on_failed(self, job, message: str) -> None:
        where = self.queue.locate(job.key)
        if where is None:
            return
        target = job.key
        target.state = State.CANCELLED if message == CANCELLED else State.FAILED
        target.error = "" if message == CANCELLED else message
        self.queue.changed(where[0])
        if self.shown(target):
            self.results.end_stream()
            self.show_result()
        if message != CANCELLED:  # why is said beside the target when it is shown, else here
            name = self.queue.items[where[0]].name
            self.report(f"{name}: the run failed" if self.shown(target) else f"{name}: {message}")
        self.runFinished.emit(*where)

    def apply_result(self, row: int, index: int, result) -> None:
        """Store an engine Result on target `index` of queue row `row`, and show it if that target is shown."""
        item = self.queue.items[row]
        target = item.targets[index]
        if item.source is not None and result.image is not None:
            # the page can be read again for figure crops: do not hold every page of a long batch in memory
            result = dataclasses.replace(result, image=None)
        target.result, target.text, target.error = result, result.text, ""
        target.state = State.CANCELLED if result.stop_reason == "cancelled" else State.DONE
        self.queue.changed(row)
        if self.shown(target):
            self.show_result()
        self.update_actions()
