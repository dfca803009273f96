"""The queue: one item per image or PDF page, each with its whole-page and region targets and their states.

`QueueModel` is a list model, shown by `QueueView`. Items are checked soon after they are added (decoded one per
event-loop turn, a few stay cached), so an item that cannot be read says why in its row before it is shown
or run; PDF pages are checked when they are rendered. Memory stays flat however long the queue: an item holds
its path, never its decoded pixels (the cache keeps the last few, within `CACHE_BYTES`); pasted or captured
pixels go to a PNG on disk once their run is done (`keep_on_disk`: the history's copy, else the queue's own
spool folder), and a finished run keeps no image (exports read it again).

The model is the one owner of every change to an item and its targets: the other parts call its methods
(`add`, `remove`, `set_grid`, `set_task`, `set_text`, `add_region`, `remove_region`, `start`, `token`, `rewind`,
`finish`, `fail`, `keep_on_disk`) and listen to its signals (`stateChanged`, `targetChanged`, `targetsChanged`,
`streamed`, `rewound`, and Qt's row signals); no other module writes a field of a `QueueItem` or a `Target`.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QApplication, QListView, QStyle, QStyledItemDelegate

from . import documents
from . import engine_bridge as eb


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
    result: eb.Result | None = None
    text: str = ""  # the markdown shown (and possibly edited) for this target
    error: str = ""
    grid: tuple[int, int] | None = None  # a forced (cols, rows) grid; None: the official choice
    task: str = ""  # the task of its next run ("": the window's), e.g. a screen capture's
    page: int | None = None  # a document's page (0-based PDF page) this target reads; None: not a page of one

    @property
    def label(self) -> str:
        if self.page is not None:
            return f"Page {self.page + 1}"
        if self.rect is None:
            return "Whole image"
        x0, y0, x1, y1 = self.rect
        return f"Region {x1 - x0}\u00d7{y1 - y0} at ({x0}, {y0})"


@dataclass
class QueueItem:
    """One image: a file, a PDF page (0-based `page`) or pasted pixels (`pixels`; once done, `stored`: a PNG
    of them on disk, and `pixels` None). A document (`pages`: a PDF's pages read in one pass by Unlimited-OCR)
    has the whole document as its first target and one target per page after it; its image is its first page."""

    source: Path | None
    page: int | None = None
    pixels: Image.Image | None = None
    stored: Path | None = None
    name: str = ""
    dpi: int = eb.DEFAULT_DPI
    size: tuple[int, int] | None = None
    error: str = ""
    checked: bool = False  # decoded once (or found broken) since it was added
    targets: list[Target] = field(default_factory=lambda: [Target()])
    pages: tuple[int, ...] = ()  # a document's PDF pages (0-based, in order); () when it is not a document
    thumb: Image.Image | None = field(default=None, repr=False)  # a small copy for the queue row (once decoded)

    def __post_init__(self):
        if self.pages and len(self.targets) == 1:
            self.targets = [Target(), *(Target(page=p) for p in self.pages)]
        if not self.name:
            if self.pages:
                self.name = f"{self.source.name} \u2014 document, {len(self.pages)} pages"
            elif self.source is None:
                self.name = "Pasted image"
            elif self.page is not None:
                self.name = f"{self.source.name} \u2014 page {self.page + 1}"
            else:
                self.name = self.source.name

    @property
    def input(self) -> eb.InputItem | None:
        """The engine's view of a file or PDF page (its naming and loading; a document's first page); None for
        pasted pixels."""
        if self.source is None:
            return None
        return eb.InputItem(self.source, self.pages[0] if self.pages else self.page, self.dpi)

    @property
    def stem(self) -> str:
        """The file-name stem for exports (the engine's, as the command line names them; a document's: its
        PDF's, as the whole-document files of `dsocr ocr`)."""
        if self.pages:
            return eb.output_stem(self.source)
        return self.input.stem if self.source is not None else "pasted"

    @property
    def is_document(self) -> bool:
        return bool(self.pages)

    def stem_of(self, target: Target) -> str:
        """The export stem of one of its targets: a document page's own (`report-p002`), a region's
        (`stem-region1`), else the item's."""
        if target.page is not None:
            return eb.InputItem(self.source, target.page, self.dpi).stem
        if target.rect is not None:
            return f"{self.stem}-region{self.targets.index(target)}"
        return self.stem

    @property
    def labels(self) -> list[str]:
        """Its targets' names, as the target bar lists them (a document's first: the whole document)."""
        names = [t.label for t in self.targets]
        if self.pages:
            names[0] = f"Whole document ({len(self.pages)} pages)"
        return names

    @property
    def page_targets(self) -> list[Target]:
        """The targets that are whole pages: a document's pages, else the whole image."""
        if self.pages:
            return self.targets[1:]
        return [t for t in self.targets[:1] if t.rect is None]

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

    @property
    def reason(self) -> str:
        """The error without the leading file name (the row shows the name already)."""
        for prefix in (f"{self.source}: ", f"{self.source.name}: " if self.source else None):
            if prefix and self.error.startswith(prefix):
                return self.error[len(prefix):]
        return self.error

    def read_image(self) -> Image.Image:
        """Decode the image (raises engine.ImageError)."""
        if self.pixels is not None:
            return self.pixels
        if self.stored is not None:
            if not self.stored.is_file():
                raise eb.ImageError(f"{self.name}: its image {self.stored} is gone (deleted from the history?)")
            return eb.open_image(self.stored)
        return self.input.load()


_STATE_ICON = {
    State.PLANNED: QStyle.StandardPixmap.SP_FileIcon,
    State.RUNNING: QStyle.StandardPixmap.SP_MediaPlay,
    State.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
    State.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
    State.CANCELLED: QStyle.StandardPixmap.SP_DialogCancelButton,
}

StateRole = Qt.ItemDataRole.UserRole + 1
THUMB_PX = 32  # the queue row's thumbnail: its longer side, px (the state icon drawn on its corner)


def thumbnail(image: Image.Image) -> Image.Image:
    """A small RGB copy of `image` for its queue row (~5 KB: what an item keeps instead of its pixels)."""
    thumb = image.convert("RGB") if image.mode != "RGB" else image.copy()
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    return thumb


class QueueModel(QAbstractListModel):
    """The list of queue items with their states; owns the small image cache and every change to an item."""

    CACHE_BYTES = 32 << 20  # decoded images kept (the newest one always)
    stateChanged = Signal(object)  # a Target whose run started, finished or failed (state, result, error)
    targetChanged = Signal(object)  # a Target whose options for its next run changed (grid, task)
    targetsChanged = Signal(int)  # a row whose list of targets changed (a region added or removed)
    streamed = Signal(object, str, int, float, float)  # Target, text delta, tokens so far, elapsed s, tokens/s
    rewound = Signal(object, int, int, str)  # Target, characters of streamed text kept, loop start, strategy

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[QueueItem] = []
        self.partial = ""  # the text streamed so far by the running target
        self._cache: OrderedDict[int, Image.Image] = OrderedDict()
        self._icons: dict[tuple[int, State], QIcon] = {}  # rows' thumbnails with their state icon
        self._spool: tempfile.TemporaryDirectory | None = None  # done pasted pixels, removed at exit
        self._page: tuple = (None, None)  # the document page rendered last: (source, page, dpi), image
        self._checker = QTimer(self)
        self._checker.setInterval(0)
        self._checker.timeout.connect(self.check_next)

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
        if role == Qt.ItemDataRole.ToolTipRole:  # the full text of the row, which elides it
            tip = str(item.source) if item.source else item.name
            return f"{tip}\n{self.state_text(item)}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(item)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{item.name}, {self.state_text(item)}"
        if role == StateRole:
            return state.value
        return None

    def _decoration(self, item: QueueItem):
        """The row's icon: the item's thumbnail with its state's icon on the corner (the state icon alone until
        the item is decoded); made once per item and state."""
        icon = QApplication.style().standardIcon(_STATE_ICON[item.state])
        if item.thumb is None:
            return icon
        key = (id(item), item.state)
        if key not in self._icons:
            t = item.thumb
            canvas = QPixmap(THUMB_PX, THUMB_PX)
            canvas.fill(Qt.GlobalColor.transparent)
            painter = QPainter(canvas)
            image = QImage(t.tobytes(), t.width, t.height, 3 * t.width, QImage.Format.Format_RGB888)
            painter.drawImage((THUMB_PX - t.width) // 2, (THUMB_PX - t.height) // 2, image)
            badge = THUMB_PX * 2 // 5
            painter.drawPixmap(THUMB_PX - badge, THUMB_PX - badge, icon.pixmap(badge, badge))
            painter.end()
            self._icons = {k: v for k, v in self._icons.items() if k[0] != id(item)}  # its older states
            self._icons[key] = QIcon(canvas)
        return self._icons[key]

    @staticmethod
    def state_text(item: QueueItem) -> str:
        """'done', 'running', ...; a failed item says why, a run the repetition guard stopped says so."""
        text = item.state.value
        if item.error:
            return f"{text} \u2014 {item.reason}"
        failed = next((t.error for t in item.targets if t.state == State.FAILED and t.error), "")
        if failed:
            return f"{text} \u2014 {failed}"
        stops = [t.result.stop_reason for t in item.targets if t.result is not None]
        if "repetition" in stops:
            text += " \u2014 repetition stopped"
        elif "max_tokens" in stops:
            text += " \u2014 token limit"
        elif any(t.result.recoveries for t in item.targets if t.result is not None):
            text += " \u2014 loop recovered"
        return text

    # queue API
    def add(self, items: list[QueueItem]) -> int:
        """Append items; return the row of the first one."""
        first = len(self.items)
        if items:
            self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
            self.items.extend(items)
            self.endInsertRows()
            self._checker.start()
        return first

    def unchecked(self) -> int:
        return sum(not i.checked for i in self.items)

    def check_next(self) -> bool:
        """Check the next unchecked item (decode it); False when every item is checked."""
        row = next((r for r, i in enumerate(self.items) if not i.checked), None)
        if row is None:
            self._checker.stop()
            return False
        item = self.items[row]
        if item.page is None and not item.error:
            try:
                self.image(row)
            except eb.ImageError:
                pass  # recorded on the item
        item.checked = True
        return True

    def locate(self, target: Target) -> tuple[int, int] | None:
        """(row, target index) of a target, None if it is no longer in the queue."""
        for r, item in enumerate(self.items):
            for k, t in enumerate(item.targets):
                if t is target:
                    return r, k
        return None

    def item_of(self, target: Target) -> QueueItem | None:
        """The item a target belongs to, None if it is no longer in the queue."""
        where = self.locate(target)
        return self.items[where[0]] if where is not None else None

    def remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.items[row]
        self.endRemoveRows()
        self._cache = OrderedDict((k if k < row else k - 1, v) for k, v in self._cache.items() if k != row)

    def clear(self) -> None:
        self.beginResetModel()
        self.items.clear()
        self._cache.clear()
        self._icons.clear()
        self.endResetModel()

    def changed(self, row: int) -> None:
        """Tell views that the item's state changed."""
        if 0 <= row < len(self.items):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    # ---- changes to targets: each says what changed ----------------------------------------------------

    def _state_changed(self, target: Target) -> None:
        where = self.locate(target)
        if where is not None:
            self.changed(where[0])
        self.stateChanged.emit(target)

    def set_grid(self, target: Target, grid) -> None:
        """Force a (cols, rows) grid on a target's next run, or None for the official choice."""
        target.grid = tuple(grid) if grid is not None else None
        self.targetChanged.emit(target)

    def set_task(self, target: Target, task: str) -> None:
        """The task of a target's next run ('': the window's)."""
        target.task = task
        self.targetChanged.emit(target)

    def set_text(self, target: Target, text: str) -> None:
        """The markdown of a target as edited by the user."""
        target.text = text

    def add_region(self, row: int, rect: tuple[int, int, int, int]) -> int:
        """Add region `rect` (x0, y0, x1, y1, clipped to the image) of row `row` as a target; its index (that of
        the same region if it is there already), -1 when the item has no size yet or the region is too small."""
        item = self.items[row]
        if item.size is None or item.pages:  # a document's pages are read whole
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
            self.targetsChanged.emit(row)
        return index

    def remove_region(self, target: Target) -> bool:
        """Remove a region target (never the whole image, nor a running one); False when nothing was removed."""
        where = self.locate(target)
        if where is None or target.rect is None or target.state == State.RUNNING:  # the whole image, a page
            return False
        row, index = where
        del self.items[row].targets[index]
        self.targetsChanged.emit(row)
        self.changed(row)
        return True

    def run_target(self, target: Target | None) -> Target | None:
        """The target whose run reads `target`: a document page's whole document, else itself."""
        item = self.item_of(target) if target is not None and target.page is not None else None
        return item.targets[0] if item is not None else target

    def _covered(self, target: Target) -> list[Target]:
        """The targets one run of `target` reads: a whole document's pages too."""
        item = self.item_of(target)
        if item is not None and item.pages and target is item.targets[0]:
            return list(item.targets)
        return [target]

    def start(self, target: Target) -> None:
        """A target's run started: running, its old result and error gone (a document's pages too)."""
        self.partial = ""
        for t in self._covered(target):
            t.state, t.error, t.result = State.RUNNING, "", None
            self._state_changed(t)

    def token(self, target: Target, text: str, tokens: int, elapsed: float, tps: float) -> None:
        """Text streamed by a target's run (`tokens` generated so far)."""
        self.partial += text
        self.streamed.emit(target, text, tokens, elapsed, tps)

    def rewind(self, target: Target, keep: int, loop_start: int, strategy: str) -> None:
        """A repetition loop was rolled back: the streamed text is cut back to `keep` characters."""
        self.partial = self.partial[:keep]
        self.rewound.emit(target, keep, loop_start, strategy)

    def finish(self, target: Target, result) -> None:
        """Store an engine Result on a target (done, or cancelled when the run was stopped); an engine
        DocumentResult on a document's whole target and each of its pages."""
        if isinstance(result, eb.DocumentResult):
            covered = self._covered(target)
            for t, r in zip(covered, [documents.whole_result(result), *result.pages]):
                self.finish(t, r)
            return
        if result.image is not None:  # the image can be read again (figure crops): never one per done item
            result = dataclasses.replace(result, image=None)
        target.result, target.text, target.error = result, result.text, ""
        target.state = State.CANCELLED if result.stop_reason == "cancelled" else State.DONE
        self.partial = ""
        where = self.locate(target)
        if where is not None and self.items[where[0]].pixels is not None:
            self._spill(where[0])
        self._state_changed(target)

    def keep_on_disk(self, target: Target, path: Path) -> None:
        """The pixels of `target`'s item are saved as the PNG `path` (e.g. by the history): read from there from
        now on, and dropped from memory."""
        item = self.item_of(target)
        if item is not None and item.source is None:
            item.stored, item.pixels = Path(path), None

    def _spill(self, row: int) -> None:
        """Write a done item's pasted pixels to the queue's spool folder and drop them from memory (kept in
        memory when the disk refuses)."""
        item = self.items[row]
        if self._spool is None:
            self._spool = tempfile.TemporaryDirectory(prefix="dsocr-queue-")  # 0700
        path = Path(self._spool.name) / f"{next(_spilled)}.png"
        try:
            item.pixels.save(path, format="PNG", compress_level=1)
        except (OSError, ValueError):
            return
        item.stored, item.pixels = path, None

    def fail(self, target: Target, message: str, cancelled: bool = False) -> None:
        """A target's run failed with `message` (or was cancelled before it had a result)."""
        self.partial = ""
        for t in self._covered(target):
            t.state = State.CANCELLED if cancelled else State.FAILED
            t.error = "" if cancelled else message
            self._state_changed(t)
        where = self.locate(target)
        if where is not None and self.items[where[0]].pixels is not None:  # a re-run reads it from disk
            self._spill(where[0])

    def page_image(self, row: int, page: int):
        """Page `page` (0-based PDF page) of a document item, rendered (the last one is kept); raises
        engine.ImageError."""
        item = self.items[row]
        key = (item.source, page, item.dpi)
        if self._page[0] != key:
            self._page = (key, eb.InputItem(item.source, page, item.dpi).load())
        return self._page[1]

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
        item.checked = True
        if item.thumb is None:
            item.thumb = thumbnail(img)
            self.changed(row)
        if item.error:
            item.error = ""
            self.changed(row)
        self._cache[row] = img
        while len(self._cache) > 1 and sum(_nbytes(i) for i in self._cache.values()) > self.CACHE_BYTES:
            self._cache.popitem(last=False)
        return img


_spilled = itertools.count(1)


def _nbytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


class _RowDelegate(QStyledItemDelegate):
    """Rows as wide as the list (never wider), so a long name or reason is elided rather than scrolled."""

    def sizeHint(self, option, index) -> QSize:
        hint = super().sizeHint(option, index)
        view = self.parent()
        return QSize(min(hint.width(), max(view.viewport().width() - 2, 40)), hint.height())


class QueueView(QListView):
    """The queue list at the window's left: one selected row (the shown item), `remove` in its context menu.
    A row is two lines, the name and the state (a failed item's reason), elided; hovering shows them whole.
    `rowChosen(row)` says which row became current (-1: none); `show_row` follows the selection."""

    rowChosen = Signal(int)

    def __init__(self, model: QueueModel, remove: QAction, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.selectionModel().currentChanged.connect(
            lambda current, _previous: self.rowChosen.emit(current.row() if current.isValid() else -1))
        self.setAccessibleName("Queue")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.addAction(remove)
        self.setAcceptDrops(False)
        self.setWordWrap(False)  # two lines a row (name, state): each elided, the whole text in the tooltip
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setItemDelegate(_RowDelegate(self))
        self.setIconSize(QSize(THUMB_PX, THUMB_PX))  # a thumbnail of each image, its state on the corner
        self.setMinimumWidth(110)

    def show_row(self, row: int) -> None:
        """Make `row` the current row (when it is a row and is not already)."""
        if 0 <= row < self.model().rowCount() and self.currentIndex().row() != row:
            self.setCurrentIndex(self.model().index(row))
