"""Regions on the page: region targets added and removed, and a result's boxes linked to their text.

`RegionCommands` turns a rectangle dragged with the region tool, a double-clicked tile or a script's
`add_region` into a target of the shown item (and removes one); `BoxLinks` draws the shown result's boxes and
links them to the markdown both ways (a click on a box selects its text, the cursor in the text selects its box).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRect, Slot
from PySide6.QtGui import QAction

from .plan_presenter import origin
from .preview_view import PreviewView
from .queue_model import QueueModel, State, Target
from .regions import locate_in_text, region_at, region_boxes, region_contents
from .results_pane import ResultsPane
from .run_queue import RunQueue
from .status_bar import StatusBar


class RegionCommands(QObject):
    def __init__(self, queue: QueueModel, runs: RunQueue, view: PreviewView, status: StatusBar, tool: QAction,
                 current: Callable, plan: Callable, show_target: Callable[[int], None], parent: QObject | None = None):
        super().__init__(parent)
        self.queue, self.runs, self.view, self.status, self.tool = queue, runs, view, status, tool
        self.current, self.plan, self.show_target = current, plan, show_target  # the shown item and target; plan
        view.regionSelected.connect(self._on_region_selected)
        view.tileActivated.connect(self.add_tile_region)

    def add_region(self, rect: tuple[int, int, int, int]) -> int:
        """Add a region (x0, y0, x1, y1) of the current image as a new target and show it; returns its index."""
        item, _ = self.current()
        if item is None or item.size is None:
            return -1
        w, h = item.size
        x0, y0, x1, y1 = (int(v) for v in rect)
        box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            return -1
        index = next((k for k, t in enumerate(item.targets) if t.rect == box), None)
        if index is None:
            item.targets.append(Target(rect=box))
            index = len(item.targets) - 1
        self.show_target(index)
        return index

    @Slot(QRect)
    def _on_region_selected(self, rect: QRect) -> None:
        self.tool.setChecked(False)
        self.add_region((rect.left(), rect.top(), rect.left() + rect.width(), rect.top() + rect.height()))

    @Slot(int)
    def add_tile_region(self, index: int) -> None:
        """Make tile `index` of the plan shown into a region."""
        _, target = self.current()
        plan = self.plan()
        if plan is None or not 0 <= index < len(plan.tiles):
            return
        ox, oy = origin(target)
        x0, y0, x1, y1 = plan.tiles[index].box
        self.add_region((round(ox + x0), round(oy + y0), round(ox + x1), round(oy + y1)))

    @Slot()
    def remove_region(self) -> None:
        """Remove the region shown (never the whole image, nor a running one) and show the whole image."""
        item, target = self.current()
        if item is None or target.state == State.RUNNING:
            return
        row, index = self.queue.locate(target)
        if index == 0:
            return
        self.runs.drop(target)
        del item.targets[index]
        self.show_target(0)
        self.queue.changed(row)

    def toggle_region_mode(self, on: bool) -> None:
        self.view.set_region_mode(bool(on))
        if on:
            self.status.showMessage("Drag a rectangle on the image to OCR only that region (double-click a "
                                    "tile to pick it)", 5000)


class BoxLinks(QObject):
    def __init__(self, view: PreviewView, results: ResultsPane, status: StatusBar, current: Callable,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.view, self.results, self.status, self.current = view, results, status, current
        self.spans: list = []  # per region: its (start, end) in the markdown, or None where not found
        view.boxClicked.connect(self._on_box_clicked)
        results.cursorMoved.connect(self._on_cursor_moved)
        results.textEdited.connect(self._on_text_edited)

    def clear(self) -> None:
        self.spans = []
        self.view.set_boxes([])

    def show(self, target: Target) -> None:
        """Draw the boxes of `target`'s result (shown in the results pane) and link them to its text."""
        boxes = region_boxes(target.result.regions)
        self.view.set_boxes([(b, label) for b, label, _ in boxes], origin(target))
        for box_item, (_, _, region) in zip(self.view.boxes, boxes):
            box_item.index = region
        self._update_spans()

    def _update_spans(self) -> None:
        _, target = self.current()
        if target is None or target.result is None:
            self.spans = []
            return
        self.spans = locate_in_text(self.results.text(), region_contents(target.result.regions))

    @Slot(int)
    def _on_box_clicked(self, region: int) -> None:
        self.view.select_box(region, ensure_visible=False)
        if 0 <= region < len(self.spans) and self.spans[region] is not None:
            self.results.select_span(*self.spans[region])
            self.status.showMessage("Selected the text of this box", 3000)
        else:
            self.status.showMessage("This box's text was not found in the markdown", 3000)

    @Slot(int)
    def _on_cursor_moved(self, position: int) -> None:
        if self.view.boxes:
            self.view.select_box(region_at(self.spans, position))

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        _, target = self.current()
        if target is not None and target.state != State.RUNNING:
            target.text = text
            self._update_spans()
