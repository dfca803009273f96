"""What is shown of the selected item: its page (or why it cannot be), its targets, its plan and its result.

`ShownPresenter` follows the `Selection` (an item shown: its image and the window title; a target shown: the
target bar, the plan, the result) and the queue (a run of the shown target started, streamed, rolled back,
finished or failed). It emits `titleChanged(title)` and `resultShown(target)` (the target whose result is shown,
for its boxes; None first, and when there is none), and hands the user's edits of the text to the queue.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from . import engine_bridge as eb
from .page_pane import PagePane
from .plan_presenter import PlanPresenter
from .queue_model import QueueModel, State, Target
from .results_pane import ResultsPane
from .selection import Selection


class ShownPresenter(QObject):
    titleChanged = Signal(str)  # the window title for the item shown
    resultShown = Signal(object)  # the Target whose result the results pane now shows; None when none

    def __init__(self, selection: Selection, queue: QueueModel, planner: PlanPresenter, page: PagePane,
                 results: ResultsPane):
        super().__init__()
        self.selection, self.queue, self.planner, self.page, self.results = selection, queue, planner, page, results
        self.plan = None  # the plan shown
        selection.itemShown.connect(self.show_item)
        selection.targetShown.connect(self.show_target)
        planner.planShown.connect(self._on_plan)
        queue.stateChanged.connect(self._on_state_changed)
        queue.streamed.connect(self._on_streamed)
        queue.rewound.connect(self._on_rewound)
        results.textEdited.connect(self._on_text_edited)

    @Slot()
    def show_item(self) -> None:
        """The shown item's image (decoded now; one that cannot be read shows why), and the title."""
        item, image = self.selection.item(), None
        if item is not None and not item.error:
            try:
                image = self.queue.image(self.selection.row)
            except eb.ImageError:
                pass  # recorded on the item
        if image is None:
            self.page.show_message(None if item is None else f"Cannot open {item.name}")  # why: in the results
        else:
            self.page.show_image(image)
        self.titleChanged.emit(f"{item.name} \u2014 DSOCR" if item is not None else "DSOCR")

    @Slot()
    def show_target(self) -> None:
        """The shown target: the target bar, its plan, and its result or live stream."""
        item, target = self.selection.current()
        self.page.set_targets(item.labels if item is not None else [], self.selection.index if item is not None else -1,
                              target is not None and target.rect is not None)
        if target is not None and target.page is not None:  # a document's page: that page's image
            try:
                self.page.show_image(self.queue.page_image(self.selection.row, target.page))
            except eb.ImageError as e:
                self.page.show_message(str(e))
        elif item is not None and item.is_document and not item.error:
            self.show_item()
        self.planner.replan()
        self.show_result()

    @Slot(object)
    def _on_plan(self, plan) -> None:
        self.plan = plan
        self.results.show_plan(plan)
        target = self.selection.target()
        if plan is not None and target.result is None and target.state != State.RUNNING and not target.error:
            self.results.set_table(plan)

    def show_result(self) -> None:
        """The shown target's result, live stream, failure or (not run yet) its token table."""
        item, target = self.selection.current()
        self.resultShown.emit(None)
        if item is None:
            self.results.clear()
        elif item.error:
            self.results.show_failure(item.reason)
        elif target.state == State.RUNNING:
            self.results.begin_stream(self.queue.partial, self.plan)
        elif target.result is not None:
            self.results.show_result(target.result, target.text)
            self.resultShown.emit(target)
        elif target.error:
            self.results.show_failure(target.error, self.plan)
        else:
            self.results.clear(self.plan)

    @Slot(object)
    def _on_state_changed(self, target: Target) -> None:
        if not self.selection.is_shown(target):
            return
        if target.state != State.RUNNING:
            self.results.end_stream()
        self.show_result()

    def _streams_here(self, target: Target) -> bool:
        """Whether `target`'s run streams into what is shown (a document's run into each of its pages)."""
        return target is not None and self.queue.run_target(self.selection.target()) is target

    @Slot(object, str, int, float, float)
    def _on_streamed(self, target: Target, text: str, tokens: int, elapsed: float, tps: float) -> None:
        if self._streams_here(target):
            self.results.append_delta(text, tokens, elapsed, tps)

    @Slot(object, int, int, str)
    def _on_rewound(self, target: Target, keep: int, loop_start: int, strategy: str) -> None:
        if self._streams_here(target):
            self.results.rewind_stream(keep, loop_start, strategy)

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        target = self.selection.target()
        if target is not None and target.state != State.RUNNING:
            self.queue.set_text(target, text)
