"""The selection overlay: drag -> live tile plan and token count (physical pixels), Esc, click, Enter."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPixmap

from dsocr_app import engine_bridge as eb
from dsocr_app.capture.overlay import RegionSelector, SelectionOverlay, plan_label
from dsocr_app.capture.screens import Shot
from dsocr_app.preview_view import TILE_COLOR

OPTIONS = {"version": "v2", "mode": "gundam", "min_tiles": 2, "max_tiles": 6}


def planner(size):
    return eb.plan(size, **OPTIONS)


@pytest.fixture
def shot(qapp):
    """A 2x (Retina-like) screen: 700x450 logical points, 1400x900 physical pixels."""
    pm = QPixmap(1400, 900)
    pm.fill(QColor(240, 240, 240))
    return Shot(QGuiApplication.primaryScreen(), (0, 0, 700, 450), pm)


@pytest.fixture
def overlay(qtbot, shot):
    o = SelectionOverlay(shot, planner)
    qtbot.addWidget(o)
    o.setGeometry(0, 0, 700, 450)
    o.show()
    qtbot.waitExposed(o)
    return o


def drag(qtbot, widget, a, b):
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=QPoint(*a))
    qtbot.mouseMove(widget, QPoint((a[0] + b[0]) // 2, (a[1] + b[1]) // 2))
    qtbot.mouseMove(widget, QPoint(*b))


def test_dragging_plans_the_physical_pixels_live(qtbot, overlay):
    drag(qtbot, overlay, (20, 30), (620, 430))
    assert overlay.selection == (20, 30, 600, 400)
    expected = eb.plan((1200, 800), **OPTIONS)  # the pixels that will be captured, not the points
    assert overlay.plan == expected and expected.tiled
    assert overlay.label == plan_label(expected, (1200, 800))
    assert f"{expected.image_tokens} tokens" in overlay.label
    assert f"{expected.grid[0]}x{expected.grid[1]} tiles" in overlay.label
    with qtbot.waitSignal(overlay.selected) as sig:
        qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(620, 430))
    assert sig.args == [(20, 30, 600, 400)]


def test_the_tile_grid_is_drawn_over_the_selection(qtbot, overlay):
    overlay.set_selection((20, 30, 600, 400))
    image = overlay.grab().toImage()
    inner = [geo for geo in overlay.plan.tiles if geo.col == 1 and geo.row == 0][0]
    x = round((2 * 20 + inner.box[0]) / 2)  # the inner tile edge, in points
    assert overlay.plan.grid[0] >= 2
    hits = [image.pixelColor(x + dx, 200) for dx in (-1, 0, 1)]
    assert any(c.red() > 200 and 100 < c.green() < 180 and c.blue() < 60 for c in hits), hits  # TILE_COLOR
    assert TILE_COLOR.red() > 200
    outside = image.pixelColor(5, 440)
    assert outside.red() < 200  # dimmed outside the selection


def test_small_selection_has_no_tiles(overlay):
    overlay.set_selection((10, 10, 100, 40))
    assert not overlay.plan.tiled and "no tiles" in overlay.label


def test_escape_cancels_and_click_takes_the_whole_screen(qtbot, overlay):
    with qtbot.waitSignal(overlay.cancelled):
        qtbot.keyClick(overlay, Qt.Key.Key_Escape)
    with qtbot.waitSignal(overlay.selected) as sig:
        qtbot.mouseClick(overlay, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert sig.args == [(0, 0, 700, 450)]


def test_enter_runs_the_current_selection(qtbot, overlay):
    overlay.set_selection((5, 6, 70, 80))
    with qtbot.waitSignal(overlay.selected) as sig:
        qtbot.keyClick(overlay, Qt.Key.Key_Return)
    assert sig.args == [(5, 6, 70, 80)]


def test_selector_closes_every_overlay_and_gives_the_crop(qtbot, shot):
    selector = RegionSelector([shot, shot], planner)
    overlays = list(selector.overlays)
    selector.start()
    with qtbot.waitSignal(selector.chosen) as sig:
        overlays[1].accept((10, 20, 30, 40))
    got_shot, rect = sig.args
    assert got_shot is shot and rect == (10, 20, 30, 40)
    assert got_shot.crop(rect).size == (60, 80)  # 2x: physical pixels
    assert not selector.overlays
    qtbot.waitUntil(lambda: not any(o.isVisible() for o in overlays if _alive(o)))


def _alive(widget) -> bool:
    try:
        widget.isVisible()
        return True
    except RuntimeError:  # deleted on close
        return False
