"""The run commands: run the shown target, run the queue, cancel, remove the shown item.

`RunCommands` decides what a command asks of the run queue (a model is loaded first when none is: the
remembered one, else the user chooses) and says why when there is nothing to do; `changed` tells
`ActionStates` that the run queue may have changed without a signal of its own (a cancel).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from .messages import Messages
from .model_control import ModelControl
from .queue_model import QueueModel, State, Target
from .run_queue import RunQueue
from .selection import Selection


class RunCommands(QObject):
    changed = Signal()

    def __init__(self, selection: Selection, queue: QueueModel, runs: RunQueue, models: ModelControl,
                 messages: Messages):
        super().__init__()
        self.selection, self.queue, self.runs, self.models, self.messages = selection, queue, runs, models, messages

    @Slot()
    def run_current(self) -> None:
        item, target = self.selection.current()
        if item is None:
            self.messages.report("Nothing to run: add an image first")
        elif item.error:
            self.messages.report(item.error)
        else:
            self.submit([self.queue.run_target(target)])  # a document's page: the whole document

    @Slot()
    def run_all(self) -> None:
        targets = [i.targets[0] for i in self.queue.items
                   if not i.error and i.targets[0].state in (State.PLANNED, State.FAILED, State.CANCELLED)]
        if not targets:
            self.messages.report("Every item in the queue has run")
            return
        self.submit(targets)

    def submit(self, targets: list[Target]) -> None:
        """Queue runs of `targets`, loading a model first when none is."""
        if not self.models.ensure_loaded():
            return
        self.runs.submit(targets)
        self.changed.emit()

    @Slot()
    def cancel(self) -> None:
        """Stop the running job at once and drop the rest of the run queue (and any model download)."""
        if self.runs.is_busy():
            self.messages.notify("Cancelling\u2026", 3000)
        self.runs.cancel()
        self.changed.emit()

    @Slot()
    def remove_current(self) -> None:
        """Remove the shown item from the queue (not while it runs); its neighbour is shown."""
        item = self.selection.item()
        if item is None or item.state == State.RUNNING:
            return
        for t in item.targets:
            self.runs.drop(t)
        self.queue.remove(self.selection.row)
