"""The image view: a zoomable QGraphicsView with the engine's tile plan, region selection and grounding boxes.

Scene coordinates are original-image pixels, so every overlay is drawn where the engine's numbers put it, at
any zoom and on any display scale: lines use cosmetic pens (constant width on screen) and labels ignore the
view transform. Colours come from the palette, except the tile colour, which has a contrasting outline.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (QApplication, QFrame, QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem,
                               QGraphicsScene, QGraphicsView, QStyleOptionGraphicsItem, QWidget)


TILE_COLOR = QColor(255, 140, 0)  # the one fixed colour: tile lines, drawn over a dark outline
TILE_OUTLINE = QColor(0, 0, 0, 170)
TILE_FILL = QColor(255, 140, 0, 22)


def pil_to_qimage(img: Image.Image) -> QImage:
    """An independent QImage copy of an RGB PIL image."""
    img = img.convert("RGB")
    w, h = img.size
    data = img.tobytes("raw", "RGB")
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _cosmetic(color: QColor, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(color, width, style)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    return pen


class BadgeItem(QGraphicsItem):
    """A small label with a palette-coloured background, at constant screen size anchored at a scene point.

    `anchor`: 'topleft' or 'bottomright': the badge sits a few pixels inside that corner at the point."""

    PAD = 4.0

    def __init__(self, lines: list[str], anchor: str = "topleft", parent=None):
        super().__init__(parent)
        self.lines = lines
        self.anchor = anchor
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.font = QFont(QApplication.font())
        self.font.setPointSizeF(max(7.0, self.font.pointSizeF() * 0.9))
        fm = QFontMetricsF(self.font)
        w = max(fm.horizontalAdvance(line) for line in lines) + 2 * self.PAD
        h = fm.height() * len(lines) + 2 * self.PAD
        self._rect = QRectF(-w - 6, -h - 6, w, h) if anchor == "bottomright" else QRectF(6, 6, w, h)
        self._line_h = fm.height()
        self._ascent = fm.ascent()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        pal = QApplication.palette()
        bg = QColor(pal.color(QPalette.ColorRole.ToolTipBase))
        bg.setAlpha(225)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(_cosmetic(TILE_COLOR, 1.0))
        painter.setBrush(bg)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self.font)
        painter.setPen(pal.color(QPalette.ColorRole.ToolTipText))
        y = self._rect.top() + self.PAD
        for line in self.lines:
            painter.drawText(QRectF(self._rect.left(), y, self._rect.width(), self._line_h),
                             Qt.AlignmentFlag.AlignCenter, line)
            y += self._line_h


class PlanOverlay(QGraphicsItem):
    """The tile grid of one plan, placed at `origin` (the region's top-left) in original-image pixels.

    Only lines are drawn over the page: a tile's label ("Tile 2 \u00b7 col 2, row 1 \u00b7 100 tokens", counted
    from 1) appears while the pointer is over that tile, so labels never hide the text. The totals are in the
    plan summary below the image."""

    def __init__(self, plan, origin: tuple[float, float] = (0.0, 0.0), parent=None):
        super().__init__(parent)
        self.plan = plan
        self.origin = origin
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        w, h = plan.image_size
        self._rect = QRectF(origin[0], origin[1], w, h)
        self.badges: list[BadgeItem] = []
        for t in plan.tiles:
            badge = BadgeItem([f"Tile {t.index + 1} \u00b7 col {t.col + 1}, row {t.row + 1} \u00b7 {t.tokens} tokens"],
                              "topleft", self)
            badge.setPos(self.tile_rect(t).topLeft())
            badge.setVisible(False)
            self.badges.append(badge)
        self.hovered: int | None = None

    def set_hovered(self, index: int | None) -> None:
        """Show the label of tile `index` (None: no label)."""
        if index != self.hovered:
            self.hovered = index
            for k, badge in enumerate(self.badges):
                badge.setVisible(k == index)

    def tile_rect(self, tile) -> QRectF:
        x0, y0, x1, y1 = tile.box
        ox, oy = self.origin
        return QRectF(QPointF(ox + x0, oy + y0), QPointF(ox + x1, oy + y1))

    def tile_at(self, scene_pos: QPointF) -> int | None:
        for t in self.plan.tiles:
            if self.tile_rect(t).contains(scene_pos):
                return t.index
        return None

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        rects = [self.tile_rect(t) for t in self.plan.tiles] or [self._rect]
        if self.plan.tiles:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TILE_FILL)
            for t, r in zip(self.plan.tiles, rects):
                if (t.col + t.row) % 2 == 0:
                    painter.drawRect(r)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen in (_cosmetic(TILE_OUTLINE, 4.0), _cosmetic(TILE_COLOR, 2.0)):
            painter.setPen(pen)
            for r in rects:
                painter.drawRect(r)


class BoxItem(QGraphicsRectItem):
    """One grounding box; `index` is the region's index in the result."""

    def __init__(self, index: int, rect: QRectF, label: str):
        super().__init__(rect)
        self.index = index
        self.label = label
        self.setToolTip(label)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        color = QApplication.palette().color(QPalette.ColorRole.Highlight)
        self.setPen(_cosmetic(color, 3.0 if selected else 1.5))
        fill = QColor(color)
        fill.setAlpha(70 if selected else 18)
        self.setBrush(QBrush(fill))
        self.setZValue(3 if selected else 2)


class PreviewView(QGraphicsView):
    """Zoomable image with overlays. Emits region selections, tile and box clicks, and drops."""

    regionSelected = Signal(QRect)  # in original-image pixels
    tileActivated = Signal(int)  # double-click on a tile of the shown plan
    boxClicked = Signal(int)
    mimeDropped = Signal(object)  # QMimeData
    zoomChanged = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.boxes: list[BoxItem] = []
        self.setScene(QGraphicsScene(self))
        self.setAccessibleName("Image preview")
        self.setAccessibleDescription("The image with the tile grid the engine will use and the grounding boxes")
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.viewport().setMouseTracking(True)  # tile labels follow the pointer
        self.pixmap_item: QGraphicsPixmapItem | None = None
        self.plan_overlay: PlanOverlay | None = None
        self.region_item: QGraphicsRectItem | None = None
        self._region_mode = False
        self._drag_start: QPointF | None = None
        self._rubber: QGraphicsRectItem | None = None
        self._fit = True
        self.show_tiles = True
        self.show_boxes = True

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # dark/light switch: the boxes take the new palette
            for b in self.boxes:
                b.set_selected(b.pen().widthF() > 2)
            self.viewport().update()
        super().changeEvent(event)

    # content
    def clear(self) -> None:
        self.scene().clear()
        self.pixmap_item = self.plan_overlay = self.region_item = None
        self.boxes = []
        self._rubber = None

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show a new image (fit to the window); removes every overlay."""
        self.clear()
        qimg = image if isinstance(image, QImage) else pil_to_qimage(image)
        self.pixmap_item = self.scene().addPixmap(QPixmap.fromImage(qimg))
        self.pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.pixmap_item.setZValue(0)
        self.scene().setSceneRect(QRectF(qimg.rect()))
        self._fit = True
        self.fit()

    def image_rect(self) -> QRectF:
        return self.pixmap_item.boundingRect() if self.pixmap_item else QRectF()

    def set_plan(self, plan, origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Draw `plan` (of an image or of a region whose top-left is `origin`)."""
        if self.plan_overlay is not None:
            self.scene().removeItem(self.plan_overlay)
            self.plan_overlay = None
        if self.region_item is not None:
            self.scene().removeItem(self.region_item)
            self.region_item = None
        if plan is None:
            return
        self.plan_overlay = PlanOverlay(plan, origin)
        self.plan_overlay.setZValue(1)
        self.plan_overlay.setVisible(self.show_tiles)
        self.scene().addItem(self.plan_overlay)
        if origin != (0, 0) or tuple(plan.image_size) != (int(self.image_rect().width()), int(self.image_rect().height())):
            highlight = QApplication.palette().color(QPalette.ColorRole.Highlight)
            self.region_item = self.scene().addRect(QRectF(origin[0], origin[1], *plan.image_size),
                                                    _cosmetic(highlight, 2.0, Qt.PenStyle.DashLine))
            self.region_item.setZValue(1.5)

    def set_tiles_visible(self, visible: bool) -> None:
        self.show_tiles = visible
        if self.plan_overlay is not None:
            self.plan_overlay.setVisible(visible)

    def set_boxes(self, boxes: list[tuple[tuple[float, float, float, float], str]],
                  origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Grounding boxes as ((x0, y0, x1, y1) in the run image's pixels, label), shifted by `origin`."""
        for b in self.boxes:
            self.scene().removeItem(b)
        self.boxes = []
        ox, oy = origin
        for i, ((x0, y0, x1, y1), label) in enumerate(boxes):
            item = BoxItem(i, QRectF(QPointF(ox + x0, oy + y0), QPointF(ox + x1, oy + y1)), label)
            item.setVisible(self.show_boxes)
            self.scene().addItem(item)
            self.boxes.append(item)

    def set_boxes_visible(self, visible: bool) -> None:
        self.show_boxes = visible
        for b in self.boxes:
            b.setVisible(visible)

    def select_box(self, index: int | None, ensure_visible: bool = True) -> None:
        for b in self.boxes:
            b.set_selected(b.index == index)
        if index is not None and ensure_visible:
            for b in self.boxes:
                if b.index == index:
                    self.ensureVisible(b, 20, 20)

    # zoom
    def fit(self) -> None:
        if self.pixmap_item is not None:
            self.fitInView(self.pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)
            self._fit = True
            self.zoomChanged.emit(self.zoom())

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        z = self.zoom() * factor
        if 0.02 <= z <= 40:
            self.scale(factor, factor)
            self._fit = False
            self.zoomChanged.emit(self.zoom())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.0015 ** event.angleDelta().y())
            event.accept()
        else:
            super().wheelEvent(event)

    # region selection
    def set_region_mode(self, on: bool) -> None:
        self._region_mode = on
        self.setDragMode(QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor)

    def region_mode(self) -> bool:
        return self._region_mode

    def _clamped(self, a: QPointF, b: QPointF) -> QRect:
        r = QRectF(a, b).normalized().intersected(self.image_rect())
        x0, y0 = int(round(r.left())), int(round(r.top()))
        x1, y1 = int(round(r.right())), int(round(r.bottom()))
        return QRect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.pixmap_item is not None:
            pos = self.mapToScene(event.position().toPoint())
            if self._region_mode:
                self._drag_start = pos
                highlight = QApplication.palette().color(QPalette.ColorRole.Highlight)
                self._rubber = self.scene().addRect(QRectF(pos, pos), _cosmetic(highlight, 1.5, Qt.PenStyle.DashLine))
                self._rubber.setZValue(5)
                event.accept()
                return
            for item in self.items(event.position().toPoint()):
                if isinstance(item, BoxItem) and item.isVisible():
                    self.boxClicked.emit(item.index)
                    event.accept()
                    return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self.plan_overlay is not None:
            self.plan_overlay.set_hovered(self.plan_overlay.tile_at(self.mapToScene(event.position().toPoint())))
        if self._drag_start is not None and self._rubber is not None:
            pos = self.mapToScene(event.position().toPoint())
            self._rubber.setRect(QRectF(self._clamped(self._drag_start, pos)))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_start is not None:
            pos = self.mapToScene(event.position().toPoint())
            rect = self._clamped(self._drag_start, pos)
            self._drag_start = None
            if self._rubber is not None:
                self.scene().removeItem(self._rubber)
                self._rubber = None
            if rect.width() >= 8 and rect.height() >= 8:
                self.regionSelected.emit(rect)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if self.plan_overlay is not None and self.plan_overlay.isVisible():
            index = self.plan_overlay.tile_at(self.mapToScene(event.position().toPoint()))
            if index is not None:
                self.tileActivated.emit(index)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    # drops: the window decides what a drop means
    def leaveEvent(self, event) -> None:
        if self.plan_overlay is not None:
            self.plan_overlay.set_hovered(None)
        super().leaveEvent(event)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
            self.mimeDropped.emit(event.mimeData())
        else:
            super().dropEvent(event)
