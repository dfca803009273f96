"""Run presentation: the RunQueue's runs recorded in the queue, and told in the status bar.

`RunPresenter` listens to the `RunQueue` (started, delta, rolled back, finished, failed) and hands each event
to the queue model (`start`, `token`, `rewind`, `finish`, `fail`), which owns the targets and signals the
change (what is shown follows through `ShownPresenter`); it keeps the status bar in step, reports a failed run
and re-emits `runFinished(row, index)` and `textStreamed(text, tokens)` for scripts and tests.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from .messages import Messages
from .queue_model import QueueModel
from .results_pane import run_summary
from .run_queue import CANCELLED, RunQueue
from .selection import Selection
from .status_bar import StatusBar


class RunPresenter(QObject):
    runFinished = Signal(int, int)  # queue row, target index (done, cancelled or failed)
    textStreamed = Signal(str, int)  # a streamed text delta and the tokens generated so far

    def __init__(self, runs: RunQueue, queue: QueueModel, selection: Selection, status: StatusBar,
                 messages: Messages):
        super().__init__()
        self.queue, self.selection, self.status, self.messages = queue, selection, status, messages
        runs.started.connect(self._on_started)
        runs.delta.connect(self._on_delta)
        runs.rolledBack.connect(self._on_rollback)
        runs.finished.connect(self._on_finished)
        runs.failed.connect(self._on_failed)

    @Slot(object)
    def _on_started(self, job) -> None:
        where = self.queue.locate(job.key)
        self.queue.start(job.key)
        self.status.busy("Running")
        self.status.showMessage(f"Reading {self.queue.items[where[0]].name}\u2026")

    @Slot(object, str, int, float, float)
    def _on_delta(self, job, text: str, tokens: int, elapsed: float, tps: float) -> None:
        self.queue.token(job.key, text, tokens, elapsed, tps)
        self.status.run_progress(tokens, tps)
        self.textStreamed.emit(text, tokens)

    @Slot(object, int, int, str)
    def _on_rollback(self, job, keep: int, loop_start: int, strategy: str) -> None:
        self.queue.rewind(job.key, keep, loop_start, strategy)

    @Slot(object, object)
    def _on_finished(self, job, result) -> None:
        where = self.queue.locate(job.key)
        if where is None:
            return
        self.queue.finish(job.key, result)  # a document's: its whole target's result sums the run up
        self.status.showMessage(f"{self.queue.items[where[0]].name}: {run_summary(job.key.result)}", 8000)
        self.runFinished.emit(*where)

    @Slot(object, str)
    def _on_failed(self, job, message: str) -> None:
        where = self.queue.locate(job.key)
        if where is None:
            return
        self.queue.fail(job.key, message, cancelled=message == CANCELLED)
        if message != CANCELLED:  # why is said beside the target when it is shown, else here
            name = self.queue.items[where[0]].name
            shown = self.selection.is_shown(job.key)
            self.messages.report(f"{name}: the run failed" if shown else f"{name}: {message}")
        self.runFinished.emit(*where)

    def apply_result(self, row: int, index: int, result) -> None:
        """Store an engine Result on target `index` of queue row `row` (scripts and tests), as a run would."""
        self.queue.finish(self.queue.items[row].targets[index], result)
