"""The queue: one item per image or PDF page, each with its whole-page and region targets and their states.

`QueueModel` is a list model for a QListView; items load their image lazily (a few stay cached) so a folder
of hundreds of pages costs nothing until a page is shown or run.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QStyle

from . import engine_bridge as eb
from .qt_compat import emit


class State(str, Enum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Target:
    """What one run reads: the whole image (`rect` None) or a region (x0, y0, x1, y1) in original pixels."""

    rect: tuple[int, int, int, int] | None = None
    state: State = State.PLANNED
    result: object | None = None  # engine.Result
    text: str = ""  # the markdown shown (and possibly edited) for this target
    error: str = ""

    @property
    def label(self) -> str:
        if self.rect is None:
            return "Whole image"
        x0, y0, x1, y1 = self.rect
        return f"Region {x1 - x0}\u00d7{y1 - y0} at ({x0}, {y0})"


@dataclass
class QueueItem:
    """One image: a file, a PDF page (0-based `page`) or pasted pixels (`pixels`)."""

    source: Path | None
    page: int | None = None
    pixels: Image.Image | None = None
    name: str = ""
    dpi: int = 144
    size: tuple[int, int] | None = None
    error: str = ""
    targets: list[Target] = field(default_factory=lambda: [Target()])

    def __post_init__(self):
        if not self.name:
            if self.source is None:
                self.name = "Pasted image"
            elif self.page is not None:
                self.name = f"{self.source.name} \u2014 page {self.page + 1}"
            else:
                self.name = self.source.name

    @property
    def stem(self) -> str:
        """The file-name stem for exports (as the command line names them)."""
        if self.source is None:
            return "pasted"
        return eb.output_stem(self.source, None if self.page is None else self.page + 1)

    @property
    def state(self) -> State:
        """Failed if it cannot load; running while any target runs; else the whole image's, then a region's."""
        if self.error:
            return State.FAILED
        states = [t.state for t in self.targets]
        if State.RUNNING in states:
            return State.RUNNING
        if states[0] != State.PLANNED:  # the whole image decides once it has run
            return states[0]
        for s in (State.DONE, State.FAILED, State.CANCELLED):
            if s in states:
                return s
        return State.PLANNED

    def read_image(self) -> Image.Image:
        """Decode the image (raises engine.ImageError)."""
        if self.pixels is not None:
            return self.pixels
        if self.page is not None:
            return eb.render_pdf_page(self.source, self.page, self.dpi)
        return eb.open_image(self.source)


_STATE_ICON = {
    State.PLANNED: QStyle.StandardPixmap.SP_FileIcon,
    State.RUNNING: QStyle.StandardPixmap.SP_MediaPlay,
    State.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
    State.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
    State.CANCELLED: QStyle.StandardPixmap.SP_DialogCancelButton,
}

StateRole = Qt.ItemDataRole.UserRole + 1


class QueueModel(QAbstractListModel):
    """The list of queue items with their states; owns the small image cache."""

    CACHE = 6

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[QueueItem] = []
        self._cache: OrderedDict[int, Image.Image] = OrderedDict()

    # Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        state = item.state
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{item.name}\n{self.state_text(item)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = str(item.source) if item.source else item.name
            return f"{tip}\n{item.error}" if item.error else tip
        if role == Qt.ItemDataRole.DecorationRole:
            return QApplication.style().standardIcon(_STATE_ICON[state])
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{item.name}, {self.state_text(item)}"
        if role == StateRole:
            return state.value
        return None

    @staticmethod
    def state_text(item: QueueItem) -> str:
        """'done', 'running', ...; a run the repetition guard stopped says so."""
        text = item.state.value
        stops = [getattr(t.result, "stop_reason", "") for t in item.targets if t.result is not None]
        if "repetition" in stops:
            text += " \u2014 repetition stopped"
        elif "max_tokens" in stops:
            text += " \u2014 token limit"
        return text

    # queue API
    def add(self, items: list[QueueItem]) -> int:
        """Append items; return the row of the first one."""
        first = len(self.items)
        if items:
            self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
            self.items.extend(items)
            self.endInsertRows()
        return first

    def remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.items[row]
        self.endRemoveRows()
        self._cache = OrderedDict((k if k < row else k - 1, v) for k, v in self._cache.items() if k != row)

    def clear(self) -> None:
        self.beginResetModel()
        self.items.clear()
        self._cache.clear()
        self.endResetModel()

    def changed(self, row: int) -> None:
        """Tell views that the item's state changed."""
        if 0 <= row < len(self.items):
            idx = self.index(row)
            emit(self.dataChanged, idx, idx)

    def image(self, row: int) -> Image.Image:
        """The item's RGB image (cached); raises engine.ImageError and records the error on the item."""
        if row in self._cache:
            self._cache.move_to_end(row)
            return self._cache[row]
        item = self.items[row]
        try:
            img = item.read_image()
        except (eb.ImageError, OSError, ValueError) as e:
            item.error = str(e) or type(e).__name__
            self.changed(row)
            raise eb.ImageError(item.error) from None
        item.size = img.size
        if item.error:
            item.error = ""
            self.changed(row)
        self._cache[row] = img
        while len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return img
