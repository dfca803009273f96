"""The tile counts beside the text: one column per tile of the plan (its tokens), then the global view and the
image total, in a strip that stays above the text while it streams.

When a result with grounding boxes is shown, two more rows say how many boxes touch each tile and what share
of the boxed area lies in it, and the tiles that hold boxes are highlighted. A whole document (Unlimited-OCR,
`set_document`) shows one column per page instead, then the prompt's text, the whole prompt and what is left
for the output, and (when it does not fit one prompt) the part each page is read in; the page shown is
highlighted. Which tile a box falls in is
`box_in_tiles` (pure: boxes and tile boxes in the same image pixels, as the engine gives them).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHeaderView, QTableWidget, QTableWidgetItem

Rect = tuple[float, float, float, float]


def _area(r: Rect) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def box_in_tiles(box: Rect, tiles: list[Rect]) -> dict[int, float]:
    """The fraction of `box`'s area inside each tile it overlaps: {tile position: fraction}. Boxes and tiles
    are (x0, y0, x1, y1) in the same pixels. A box without area (a line or a point) counts whole for the tile
    that holds its centre."""
    if _area(box) <= 0:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        for k, t in enumerate(tiles):
            if t[0] <= cx <= t[2] and t[1] <= cy <= t[3]:
                return {k: 1.0}
        return {}
    out = {}
    for k, t in enumerate(tiles):
        inter = _area((max(box[0], t[0]), max(box[1], t[1]), min(box[2], t[2]), min(box[3], t[3])))
        if inter > 0:
            out[k] = inter / _area(box)
    return out


@dataclass(frozen=True)
class TileShare:
    """One tile's part of a result's boxes: how many boxes touch it, and its share of the boxed area (0..1)."""

    boxes: int
    share: float


def tile_shares(tiles: list[Rect], boxes: list[Rect]) -> list[TileShare]:
    """For each tile: the boxes that touch it and the share of all boxes' area inside it (shares add up to 1
    when every box lies on the tiles)."""
    counts = [0] * len(tiles)
    areas = [0.0] * len(tiles)
    weights = [max(_area(b), 1.0) for b in boxes]  # a box without area still counts a little
    total = sum(weights)
    for box, weight in zip(boxes, weights):
        for k, fraction in box_in_tiles(box, tiles).items():
            counts[k] += 1
            areas[k] += fraction * weight
    return [TileShare(c, a / total if total else 0.0) for c, a in zip(counts, areas)]


def _fmt(n: int) -> str:
    return f"{int(n):,}".replace(",", "\u202f")


class TileCounts(QTableWidget):
    """The plan's token counts per tile as one compact strip (tiles as columns), and where a result's boxes fall."""

    ROWS = ("Tokens", "Boxes", "Share")
    DOCUMENT_ROWS = ("Tokens", "Part")

    def __init__(self, parent=None):
        super().__init__(0, 0, parent)
        self.setAccessibleName("Tokens per tile, and where the text's boxes fall")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        line = self.fontMetrics().height() + 4
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setMinimumSectionSize(12)
        self.verticalHeader().setDefaultSectionSize(line)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(False)
        self.horizontalScrollBar().rangeChanged.connect(lambda *_: self._fit_height())
        self.plan = None  # the TilePlan shown, or a document's DocumentPlan
        self.shares: list[TileShare] = []
        self.current: int | None = None  # a document's page column highlighted
        self.set_plan(None)

    def set_plan(self, plan, boxes: list[Rect] | None = None) -> None:
        """Show `plan`'s tiles (None: nothing); `boxes` are a result's grounding boxes in the plan's image pixels
        (None or empty: no result with boxes, only the token row)."""
        self.plan = plan
        self.current = None
        tiles = list(plan.tiles) if plan is not None else []
        self.shares = tile_shares([t.box for t in tiles], boxes) if boxes else []
        self.clear()
        rows = self.ROWS if self.shares else self.ROWS[:1]
        self.setRowCount(len(rows))
        self.setVerticalHeaderLabels(list(rows))
        if plan is None:
            self.setColumnCount(0)
            return
        columns = [f"{t.index + 1}" for t in tiles] + ["Global", "All"]
        self.setColumnCount(len(columns))
        self.setHorizontalHeaderLabels(columns)
        tint = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        tint.setAlpha(70)
        for c, t in enumerate(tiles):
            x0, y0, x1, y1 = t.box
            tip = f"Tile {t.index + 1}: col {t.col + 1}, row {t.row + 1}, {_fmt(t.tokens)} tokens"
            self.horizontalHeaderItem(c).setToolTip(tip)
            self._put(0, c, _fmt(t.tokens), tip)
            if self.shares:
                s = self.shares[c]
                box_tip = (f"Tile {t.index + 1}: {s.boxes} of {len(boxes)} boxes touch it, "
                           f"{s.share:.0%} of the boxed area lies in it")
                for r, text in ((1, str(s.boxes)), (2, f"{s.share:.0%}")):
                    item = self._put(r, c, text, box_tip)
                    if s.boxes:
                        item.setBackground(QBrush(tint))
                if s.boxes:
                    self.item(0, c).setBackground(QBrush(tint))
                    font = QFont(self.horizontalHeaderItem(c).font())
                    font.setBold(True)
                    self.horizontalHeaderItem(c).setFont(font)
        g = len(tiles)
        self.horizontalHeaderItem(g).setToolTip(f"Global view ({plan.global_view.size} px): sees the whole image")
        self._put(0, g, _fmt(plan.global_tokens), "The global view: the whole image, shrunk")
        self.horizontalHeaderItem(g + 1).setToolTip("The image's tokens: tiles, global view, newlines, separator")
        self._put(0, g + 1, _fmt(plan.image_tokens), f"Image total ({plan.version} {plan.mode})")
        if self.shares:
            self._put(1, g + 1, str(len(boxes)), "Boxes in the result")
        self._fit_height()

    def set_document(self, doc, numbers: list[int], current: int | None = None, exact: bool = True) -> None:
        """Show a document's budget (`doc`: the engine's DocumentPlan): a column per page (`numbers`: their page
        numbers) with its tokens, then the prompt's text, the whole prompt and what is left for the output; the
        part each page is read in when it does not fit one prompt. `current`: the page (0-based, in the
        document) to highlight; `exact`: the text tokens were counted by the model's tokenizer."""
        self.plan, self.shares, self.current = doc, [], current
        self.clear()
        rows = self.DOCUMENT_ROWS if doc.split else self.DOCUMENT_ROWS[:1]
        self.setRowCount(len(rows))
        self.setVerticalHeaderLabels(list(rows))
        about = "" if exact else "about "
        self.setColumnCount(len(numbers) + 3)
        self.setHorizontalHeaderLabels([f"p{n}" for n in numbers] + ["Text", "Prompt", "Output"])
        tint = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        tint.setAlpha(70)
        for c, (n, tokens) in enumerate(zip(numbers, doc.page_tokens)):
            tip = f"Page {n}: one {doc.pages[c].mode} view, {_fmt(tokens)} tokens"
            self.horizontalHeaderItem(c).setToolTip(tip)
            item = self._put(0, c, _fmt(tokens), tip)
            if doc.split:
                part = next(k for k, (a, b) in enumerate(doc.ranges, 1) if a <= c < b)
                self._put(1, c, str(part), f"Page {n} is read in part {part} of {len(doc.ranges)}")
            if c == current:
                item.setBackground(QBrush(tint))
                font = QFont(self.horizontalHeaderItem(c).font())
                font.setBold(True)
                self.horizontalHeaderItem(c).setFont(font)
        g = len(numbers)
        for c, (value, tip) in enumerate((
                (doc.text_tokens, f"{about}{doc.text_tokens} tokens: the start token and the prompt's words"),
                (doc.prompt_tokens, (f"The whole document as one prompt: {about}{doc.prompt_tokens} of the "
                                     f"model's {_fmt(doc.context)} tokens")),
                (doc.left_for_output, (f"Left for the output: {about}{doc.left_for_output} tokens (the run asks "
                                       f"for at most {_fmt(doc.max_tokens)})"
                                       + (f"; {doc.range_note()}" if doc.split else "")))), g):
            self.horizontalHeaderItem(c).setToolTip(tip)
            self._put(0, c, about.replace("about ", "~") + _fmt(value), tip)
        if doc.split:
            self._put(1, g + 2, f"{len(doc.ranges)} parts", doc.range_note())
        self._fit_height()

    def _put(self, row: int, col: int, text: str, tip: str) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setToolTip(tip)
        self.setItem(row, col, item)
        return item

    def _fit_height(self) -> None:
        """Exactly as tall as its rows (and the scroll bar when the tiles do not fit the width)."""
        h = self.horizontalHeader().sizeHint().height() + self.rowCount() * self.verticalHeader().defaultSectionSize()
        if self.horizontalScrollBar().maximum() > 0:
            h += self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(h + 2 * self.frameWidth())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    # ---- for tests and copying ------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        return [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]

    def row(self, name: str) -> list[str]:
        labels = [self.verticalHeaderItem(r).text() if self.verticalHeaderItem(r) else "" for r in range(self.rowCount())]
        if name not in labels:
            return []
        r = labels.index(name)
        return [self.item(r, c).text() if self.item(r, c) else "" for c in range(self.columnCount())]

    def highlighted(self) -> list[int]:
        """Tile numbers (from 1) highlighted as holding boxes."""
        return [k + 1 for k, s in enumerate(self.shares) if s.boxes]
