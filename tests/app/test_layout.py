"""The window at the sizes people use (800x600 up to 1440x900), and what it shows in plain words: every part
visible and whole, no toolbar overflow, one region tool, tile labels that leave the page readable, and the
decode speed kept apart from the total time."""

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QToolBar, QToolButton

from .conftest import grounded_result
from .helpers import plan_of


def _inside(widget, window) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return QRect(top_left, widget.size()).intersected(window.rect()) == QRect(top_left, widget.size())


@pytest.mark.parametrize("size", [(800, 600), (1440, 900)])
def test_every_part_is_visible_and_whole(make_window, page, size, qtbot, settings):
    from dsocr_app.window import MainWindow

    window = MainWindow(settings)  # as dsocr-app starts: files added, then the window shown
    qtbot.addWidget(window)
    window.quiet = True
    window.resize(*size)
    window.add_paths([page])
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.width() == size[0])
    QApplication.processEvents()
    assert (window.width(), window.height()) == size, "the window is wider or taller than asked"
    results = window.results
    for part in (window.queue_view, window.view, results, results.tabs, results.table, window.plan_label):
        assert part.isVisible() and part.width() >= 100 and _inside(part, window), part.accessibleName()
    bar = results.tabs.tabBar()
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count())), "tabs are cut off"
    results.tabs.setCurrentWidget(results.table)
    header = results.table.horizontalHeader()
    last = results.table.columnCount() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= results.table.viewport().width()
    status = window.statusBar()
    assert status.currentMessage().startswith("Added 1 item")
    assert not window.scale_status.isVisible(), "the message is drawn over the page-scale note"
    for tb in window.findChildren(QToolBar):
        ext = tb.findChild(QToolButton, "qt_toolbar_ext_button")
        assert ext is None or not ext.isVisible(), f"{tb.windowTitle()} overflows into >>"


def test_one_region_tool_on_screen(window, page):
    window.add_paths([page])
    shown = [b for b in window.findChildren(QAbstractButton)
             if b.isVisible() and b.text().replace("&", "") == "Select region"]
    assert len(shown) == 1


def _hover(view, scene_point):
    pos = QPointF(view.mapFromScene(scene_point))
    ev = QMouseEvent(QMouseEvent.Type.MouseMove, pos, view.viewport().mapToGlobal(pos), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)


def test_tile_labels_leave_the_page_readable(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    overlay = window.view.plan_overlay
    plan = plan_of(window)
    assert len(plan.tiles) == 6
    visible = [b for b in overlay.childItems() if b.isVisible()]
    assert visible == [], "labels drawn over the page"
    _hover(window.view, overlay.tile_rect(plan.tiles[4]).center())
    shown = [b.lines for b in overlay.childItems() if b.isVisible()]
    assert shown == [["Tile 5 \u00b7 col 1, row 3 \u00b7 " f"{plan.tiles[4].tokens} tokens"]]
    assert f"total {plan.image_tokens} image tokens" in window.plan_label.text()  # the summary, off the page


def test_decode_speed_and_total_time_are_told_apart(window, page):
    window.add_paths([page])
    from dsocr_app.results_pane import run_summary

    result = grounded_result(window.queue.image(0), plan_of(window))
    text = run_summary(result)
    assert "decode 12.5 tokens/s" in text and "total 4.0 s" in text
    assert "tokens in" not in text  # "42 tokens in 4.0 s" reads as a second, different rate
    window.run_view.apply_result(0, 0, result)
    assert window.results.stats.text() == text
    window.results.begin_stream()
    window.results.append_delta("x", 10, 2.0, 7.5)
    assert "decode 7.5 tokens/s" in window.results.stats.text() and "2.0 s so far" in window.results.stats.text()
