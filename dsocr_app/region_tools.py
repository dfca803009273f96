"""Regions on the page: region targets added and removed, and a result's boxes linked to their text.

`RegionCommands` turns a rectangle dragged with the region tool, a double-clicked tile or a script's
`add_region` into a target of the shown item through the queue (and removes one), then shows it; `message`
says how the region tool works. `BoxLinks` draws the boxes of the result `ShownPresenter` shows and links them
to the markdown both ways (a click on a box selects its text, the cursor in the text selects its box).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QRect, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from .page_pane import PagePane
from .plan_presenter import PlanPresenter, origin
from .preview_view import PreviewView
from .queue_model import QueueModel, State, Target
from .regions import locate_in_text, region_at, region_boxes, region_contents
from .results_pane import ResultsPane
from .run_queue import RunQueue
from .selection import Selection
from .status_bar import StatusBar


class RegionCommands(QObject):
    message = Signal(str, int)  # a hint for the status bar, its timeout in ms

    def __init__(self, selection: Selection, queue: QueueModel, runs: RunQueue, planner: PlanPresenter,
                 page: PagePane):
        super().__init__()
        self.selection, self.queue, self.runs, self.planner, self.page = selection, queue, runs, planner, page
        page.regionSelected.connect(self._on_region_selected)
        page.tileActivated.connect(self.add_tile_region)
        page.removeRequested.connect(self.remove_region)

    def add_region(self, rect: tuple[int, int, int, int]) -> int:
        """Add a region (x0, y0, x1, y1) of the current image as a new target and show it; returns its index."""
        if self.selection.item() is None:
            return -1
        index = self.queue.add_region(self.selection.row, rect)
        if index >= 0:
            self.selection.show_target(index)
        elif self.selection.item().is_document:
            self.message.emit("A document's pages are read whole: regions are for single pages (add the PDF "
                              "with a DeepSeek-OCR model to read one page by page)", 8000)
        return index

    @Slot(QRect)
    def _on_region_selected(self, rect: QRect) -> None:
        self.page.end_region_mode()
        self.add_region((rect.left(), rect.top(), rect.left() + rect.width(), rect.top() + rect.height()))

    @Slot(int)
    def add_tile_region(self, index: int) -> None:
        """Make tile `index` of the plan shown into a region."""
        plan = self.planner.plan
        if plan is None or not 0 <= index < len(plan.tiles):
            return
        ox, oy = origin(self.selection.target())
        x0, y0, x1, y1 = plan.tiles[index].box
        self.add_region((round(ox + x0), round(oy + y0), round(ox + x1), round(oy + y1)))

    @Slot()
    def remove_region(self) -> None:
        """Remove the region shown (never the whole image, nor a running one); the whole image is shown."""
        target = self.selection.target()
        if target is None or target.state == State.RUNNING or self.selection.index == 0:
            return
        self.runs.drop(target)
        self.queue.remove_region(target)

    @Slot(bool)
    def toggle_region_mode(self, on: bool) -> None:
        self.page.set_region_mode(bool(on))
        if on:
            self.message.emit("Drag a rectangle on the image to OCR only that region (double-click a "
                              "tile to pick it)", 5000)


class PageMenu(QObject):
    """The page's context menu: the tile under the pointer as a region, the region tool, zoom and layers."""

    ITEMS = ("region", None, "zoom_in", "zoom_out", "fit", "tiles", "boxes")

    def __init__(self, page: PagePane, actions: dict[str, QAction], regions: RegionCommands):
        super().__init__()
        self.page, self.actions, self.regions = page, actions, regions
        page.view.customContextMenuRequested.connect(self.open)

    @Slot(QPoint)
    def open(self, pos: QPoint) -> None:
        menu = QMenu(self.page)
        tile = self.page.tile_at(pos)
        if tile is not None:
            menu.addAction(f"OCR tile {tile + 1} as a region", lambda: self.regions.add_tile_region(tile))
        for name in self.ITEMS:
            menu.addSeparator() if name is None else menu.addAction(self.actions[name])
        menu.exec(self.page.view.mapToGlobal(pos))


class BoxLinks(QObject):
    def __init__(self, shown: QObject, view: PreviewView, results: ResultsPane, status: StatusBar):
        super().__init__()
        self.view, self.results, self.status = view, results, status
        self.target: Target | None = None  # the target whose result's boxes are drawn
        self.spans: list = []  # per region: its (start, end) in the markdown, or None where not found
        shown.resultShown.connect(self._on_result_shown)
        view.boxClicked.connect(self._on_box_clicked)
        results.cursorMoved.connect(self._on_cursor_moved)
        results.textEdited.connect(self._update_spans)

    @Slot(object)
    def _on_result_shown(self, target: Target | None) -> None:
        if target is None:
            self.clear()
        else:
            self.show(target)

    def clear(self) -> None:
        self.target, self.spans = None, []
        self.view.set_boxes([])

    def show(self, target: Target) -> None:
        """Draw the boxes of `target`'s result (shown in the results pane) and link them to its text."""
        self.target = target
        boxes = region_boxes(target.result.regions)
        self.view.set_boxes([(b, label) for b, label, _ in boxes], origin(target))
        for box_item, (_, _, region) in zip(self.view.boxes, boxes):
            box_item.index = region
        self._update_spans()

    @Slot()
    def _update_spans(self, *_) -> None:
        if self.target is None or self.target.result is None:
            self.spans = []
            return
        self.spans = locate_in_text(self.results.text(), region_contents(self.target.result.regions))

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
