"""The selection overlay: a borderless full-screen window per screen over its frozen screenshot.

While the user drags, the overlay draws the tile grid the selection would get and its token count, from
the same plan the preview uses (`planner(size)` -> `engine.plan(...)` through the engine bridge), sized in
the physical pixels that will be captured. Esc cancels; Enter runs the current selection; releasing a
drag runs it; a click without a drag picks the whole screen under the pointer.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ..preview_view import TILE_COLOR, TILE_OUTLINE
from . import geometry as geo
from .screens import Shot

DIM = QColor(0, 0, 0, 110)
HINT = "Drag over the text \u00b7 click: whole screen \u00b7 Enter: run \u00b7 Esc: cancel"


def plan_label(plan, size: tuple[int, int]) -> str:
    """`"812x240 px · 2x1 tiles · 356 tokens"` for a plan of a selection of `size` physical pixels."""
    tiles = f"{plan.grid[0]}x{plan.grid[1]} tiles" if plan.tiled else "no tiles (global view only)"
    return f"{size[0]}x{size[1]} px \u00b7 {tiles} \u00b7 {plan.image_tokens} tokens"


class SelectionOverlay(QWidget):
    """One screen's overlay. `selected` carries the chosen screen-local logical rectangle."""

    selected = Signal(object)
    cancelled = Signal()

    def __init__(self, shot: Shot, planner):
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.shot = shot
        self.planner = planner
        self.setWindowTitle("DSOCR capture")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        self._press: QPoint | None = None
        self.selection: geo.Rect | None = None
        self.plan = None
        self.label = ""

    def show_on_screen(self) -> None:
        self.setScreen(self.shot.screen)
        self.setGeometry(QRect(*self.shot.geometry))
        self.showFullScreen()

    def whole(self) -> geo.Rect:
        return 0, 0, self.shot.geometry[2], self.shot.geometry[3]

    def set_selection(self, rect: geo.Rect | None) -> None:
        """Select a screen-local logical rectangle and re-plan it (None clears)."""
        self.selection = rect
        self.plan, self.label = None, ""
        box = self.shot.physical(rect) if rect else None
        if box is not None:
            self.plan = self.planner((box[2], box[3]))
            if self.plan is not None:
                self.label = plan_label(self.plan, (box[2], box[3]))
        self.update()

    def accept(self, rect: geo.Rect | None = None) -> None:
        self.selected.emit(rect or self.selection or self.whole())

    # ---- input ---------------------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self.set_selection(None)
        elif event.button() == Qt.MouseButton.RightButton:
            self.cancelled.emit()

    def mouseMoveEvent(self, event) -> None:
        if self._press is not None:
            p = event.position().toPoint()
            self.set_selection(geo.rect_from_points((self._press.x(), self._press.y()), (p.x(), p.y())))

    def mouseReleaseEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        p0, p = self._press, event.position().toPoint()
        self._press = None
        if geo.is_click((p0.x(), p0.y()), (p.x(), p.y())):
            self.accept(self.whole())
        else:
            self.accept(geo.rect_from_points((p0.x(), p0.y()), (p.x(), p.y())))

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
        else:
            super().keyPressEvent(event)

    # ---- painting ------------------------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.drawPixmap(self.rect(), self.shot.pixmap)
        sel = QRectF(*self.selection) if self.selection else None
        dim = QColor(DIM)
        if sel is None:
            p.fillRect(self.rect(), dim)
        else:
            outside = QRectF(self.rect())
            for part in (QRectF(outside.left(), outside.top(), outside.width(), sel.top()),
                         QRectF(outside.left(), sel.bottom(), outside.width(), outside.height() - sel.bottom()),
                         QRectF(outside.left(), sel.top(), sel.left(), sel.height()),
                         QRectF(sel.right(), sel.top(), outside.width() - sel.right(), sel.height())):
                p.fillRect(part, dim)
            self._paint_plan(p, sel)
        self._paint_text(p, HINT, QRectF(self.rect()).adjusted(0, 12, 0, 0), Qt.AlignmentFlag.AlignHCenter)
        p.end()

    def _paint_plan(self, p: QPainter, sel: QRectF) -> None:
        box = self.shot.physical(self.selection)
        ratio = self.shot.ratio
        for color, width in ((TILE_OUTLINE, 3.0), (TILE_COLOR, 1.5)):
            p.setPen(QPen(color, width))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(sel)
            if self.plan is not None and box is not None:
                for tile in self.plan.tiles:
                    p.drawRect(QRectF(*geo.to_logical(tile.box, ratio, box[:2])))
        if self.label:
            below = sel.bottom() + 30 < self.height()
            anchor = QRectF(sel.left(), sel.bottom() + 6 if below else sel.top() - 30, max(sel.width(), 320), 24)
            self._paint_text(p, self.label, anchor, Qt.AlignmentFlag.AlignLeft)

    def _paint_text(self, p: QPainter, text: str, area: QRectF, align) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(11.0, font.pointSizeF()))
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 16, metrics.height() + 8
        x = area.left() + (area.width() - w) / 2 if align == Qt.AlignmentFlag.AlignHCenter else area.left()
        badge = QRectF(max(0.0, min(x, self.width() - w)), area.top(), w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 190))
        p.drawRoundedRect(badge, 5, 5)
        p.setPen(QColor(255, 255, 255))
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class RegionSelector(QObject):
    """One overlay per screen; `chosen(shot, local_rect)` when the user picks a region, or `cancelled`."""

    chosen = Signal(object, object)
    cancelled = Signal()

    def __init__(self, shots: list[Shot], planner, parent: QObject | None = None):
        super().__init__(parent)
        self.overlays = [SelectionOverlay(s, planner) for s in shots]
        for o in self.overlays:
            o.selected.connect(lambda rect, o=o: self._finish(o, rect))
            o.cancelled.connect(lambda: self._finish(None, None))

    def start(self) -> None:
        for o in self.overlays:
            o.show_on_screen()
        under = QGuiApplication.screenAt(self.overlays[0].cursor().pos()) if self.overlays else None
        for o in self.overlays:
            if o.shot.screen is under or under is None:
                o.raise_()
                o.activateWindow()
                o.setFocus()
                break

    def close(self) -> None:
        """Close every overlay without an answer."""
        overlays, self.overlays = self.overlays, []
        for o in overlays:
            o.close()

    def _finish(self, overlay: SelectionOverlay | None, rect) -> None:
        if not self.overlays:
            return
        shot = overlay.shot if overlay is not None else None
        self.close()
        if shot is None:
            self.cancelled.emit()
        else:
            self.chosen.emit(shot, rect)
