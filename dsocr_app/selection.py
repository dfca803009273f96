"""What the window shows: one queue row (-1: none) and one of its targets.

`Selection` is the one owner of both. `show_row` and `show_target` change them; `itemShown` says the item
changed (then `targetShown` follows), `targetShown` that the target changed (or the item's list of targets);
`rowShown(row)` lets the queue list follow. It follows the queue by itself: a removed row shows its
neighbour, a removed region the whole image.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Signal, Slot

from .queue_model import QueueItem, QueueModel, Target


class Selection(QObject):
    itemShown = Signal()  # the shown item changed (its image); `targetShown` follows
    targetShown = Signal()  # the shown target changed, or the list of the shown item's targets
    rowShown = Signal(int)  # the row now shown, for the queue list

    def __init__(self, queue: QueueModel, parent: QObject | None = None):
        super().__init__(parent)
        self.queue = queue
        self._row, self._index = -1, 0
        self._shown: Target | None = None  # the target shown, followed when the item's targets change
        self._showing = False
        queue.rowsRemoved.connect(self._on_rows_removed)
        queue.modelReset.connect(lambda: self.show_row(-1))
        queue.targetsChanged.connect(self._on_targets_changed)

    @property
    def row(self) -> int:
        return self._row

    @property
    def index(self) -> int:
        return self._index

    def item(self) -> QueueItem | None:
        return self.queue.items[self._row] if 0 <= self._row < len(self.queue.items) else None

    def current(self) -> tuple[QueueItem, Target] | tuple[None, None]:
        """The shown item and target, (None, None) when nothing is shown."""
        item = self.item()
        if item is None or not 0 <= self._index < len(item.targets):
            return None, None
        return item, item.targets[self._index]

    def target(self) -> Target | None:
        return self.current()[1]

    def is_shown(self, target: Target) -> bool:
        return target is not None and self.target() is target

    @Slot(int)
    def show_row(self, row: int) -> None:
        """Show queue row `row` (its whole image first); -1 shows nothing."""
        if self._showing and row == self._row:  # the queue list following us comes back here
            return
        self._showing = True
        try:
            self._row, self._index = (row if 0 <= row < len(self.queue.items) else -1), 0
            self._shown = self.target()
            self.rowShown.emit(self._row)
            self.itemShown.emit()
            self.targetShown.emit()
        finally:
            self._showing = False

    @Slot(int)
    def show_target(self, index: int) -> None:
        """Show target `index` of the shown item."""
        self._index = index if self.item() is not None else 0
        self._shown = self.target()
        self.targetShown.emit()

    @Slot(QModelIndex, int, int)
    def _on_rows_removed(self, _parent, first: int, last: int) -> None:
        if first <= self._row <= last:
            self.show_row(min(first, len(self.queue.items) - 1))
        elif self._row > last:
            self._row -= last - first + 1

    @Slot(int)
    def _on_targets_changed(self, row: int) -> None:
        if row != self._row:
            return
        targets = self.item().targets
        self.show_target(next((k for k, t in enumerate(targets) if t is self._shown), 0))
