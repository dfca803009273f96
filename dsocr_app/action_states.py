"""Which commands can be used now: the one place the actions are enabled and disabled.

`ActionStates` follows the selection, the plan shown, the queue and the run queue, and enables each action
from them (Run needs a readable item with a plan that is not queued, Cancel something busy, ...). It emits
`versionEditable(bool)`: the model version may change only while nothing runs or waits.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction

from .plan_presenter import PlanPresenter
from .queue_model import QueueModel, State
from .run_queue import RunQueue
from .selection import Selection


class ActionStates(QObject):
    versionEditable = Signal(bool)

    def __init__(self, actions: dict[str, QAction], selection: Selection, queue: QueueModel, runs: RunQueue,
                 planner: PlanPresenter):
        super().__init__()
        self.acts, self.selection, self.queue, self.runs = actions, selection, queue, runs
        self.plan = None  # the plan shown
        planner.planShown.connect(self._on_plan)
        selection.targetShown.connect(self.refresh)
        for signal in (queue.stateChanged, queue.dataChanged, queue.rowsInserted, queue.rowsRemoved,
                       queue.modelReset, runs.busyChanged, runs.started, runs.modelReady, runs.modelFailed):
            signal.connect(self.refresh)

    @Slot(object)
    def _on_plan(self, plan) -> None:
        self.plan = plan
        self.refresh()

    @Slot()
    def refresh(self, *_) -> None:
        item, target = self.selection.current()
        a, runs, items = self.acts, self.runs, self.queue.items
        a["run"].setEnabled(item is not None and not item.error and self.plan is not None
                            and not runs.is_queued(self.queue.run_target(target)))
        a["run_all"].setEnabled(any(not i.error for i in items))
        a["cancel"].setEnabled(runs.is_busy())
        a["save"].setEnabled(target is not None and (target.result is not None or bool(target.text)))
        a["save_pdf"].setEnabled(target is not None and target.result is not None)
        a["export"].setEnabled(any(t.result is not None for i in items for t in i.targets))
        a["export_pdf"].setEnabled(a["export"].isEnabled())
        a["remove"].setEnabled(item is not None and item.state != State.RUNNING)
        a["model"].setEnabled(runs.running is None)
        self.versionEditable.emit(runs.running is None and not runs.pending)
