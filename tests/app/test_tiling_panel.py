"""The Tiling panel and the scale status label, as widgets on their own (pytest-qt)."""

import engine
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication

from dsocr_app.tiling_panel import ScaleStatus, TilingPanel


def _panel(qtbot, plan):
    panel = TilingPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 520)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_plan(plan)
    return panel


def _row_of(panel, grid):
    return next(r for r in range(panel.table.rowCount()) if panel.grid_at(r) == grid)


def _hover(qtbot, panel, row):
    rect = panel.table.visualItemRect(panel.table.item(row, 1))
    qtbot.mouseMove(panel.table.viewport(), rect.center())


def test_lists_the_candidates_in_the_official_order(qtbot):
    plan = engine.plan((1240, 1754), "v1")
    panel = _panel(qtbot, plan)
    rows = panel.rows()
    assert [r[0] for r in rows] == [f"{c}\u00d7{r}" for c, r in (c.grid for c in plan.candidates)]
    chosen = rows[_row_of(panel, (2, 3))]
    assert chosen[4].replace("\u202f", "") == "903" and chosen[5] == "official (closest ratio)"
    assert chosen[2] == f"{next(c for c in plan.candidates if c.grid == (2, 3)).stretch:+.1%}"
    assert sum(bool(r[5]) for r in rows) == 1
    assert panel.reason.text().startswith("2x3: closest aspect ratio")
    assert panel.table.item(_row_of(panel, (2, 3)), 0).font().bold()
    assert not panel.automatic_button.isEnabled()


def test_hover_previews_and_leaving_ends_the_preview(qtbot):
    panel = _panel(qtbot, engine.plan((1240, 1754), "v1"))
    seen = []
    panel.gridHovered.connect(seen.append)
    _hover(qtbot, panel, _row_of(panel, (3, 1)))
    qtbot.waitUntil(lambda: seen[-1:] == [(3, 1)], timeout=1000)
    _hover(qtbot, panel, _row_of(panel, (1, 2)))
    qtbot.waitUntil(lambda: seen[-1:] == [(1, 2)], timeout=1000)
    QApplication.sendEvent(panel.table.viewport(), QEvent(QEvent.Type.Leave))
    assert seen[-1] is None


def test_click_forces_a_grid_and_the_official_row_or_automatic_undoes(qtbot):
    plan = engine.plan((1240, 1754), "v1")
    panel = _panel(qtbot, plan)
    chosen = []
    panel.gridChosen.connect(chosen.append)
    rect = panel.table.visualItemRect(panel.table.item(_row_of(panel, (3, 1)), 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen == [(3, 1)]
    # the window re-plans with that grid: the panel marks it forced, the official one stays marked
    panel.set_plan(engine.plan((1240, 1754), "v1", grid=(3, 1)))
    rows = panel.rows()
    assert rows[_row_of(panel, (3, 1))][5] == "forced"
    assert rows[_row_of(panel, (2, 3))][5] == "official (closest ratio)"
    assert "forced: not the official tiling" in panel.reason.text()
    assert panel.automatic_button.isEnabled()
    qtbot.mouseClick(panel.automatic_button, Qt.MouseButton.LeftButton)
    assert chosen[-1] is None
    # clicking the official row is also "back to automatic"
    rect = panel.table.visualItemRect(panel.table.item(_row_of(panel, (2, 3)), 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen[-1] is None and len(chosen) == 3


def test_untiled_plans_and_no_plan(qtbot):
    panel = _panel(qtbot, engine.plan((1240, 1754), "v1", "base"))
    assert panel.table.rowCount() == 0 and not panel.table.isEnabled()
    assert "global view only" in panel.reason.text()
    small = engine.plan((700, 500), "v2")  # under the threshold: listed, none official, a click tiles it
    panel.set_plan(small)
    assert panel.table.rowCount() == len(small.candidates) and panel.table.isEnabled()
    assert all(r[5] == "" for r in panel.rows()) and "not tiled" in panel.reason.text()
    chosen = []
    panel.gridChosen.connect(chosen.append)
    panel.table.cellActivated.emit(_row_of(panel, (2, 1)), 0)  # keyboard: Enter on a row
    assert chosen == [(2, 1)]
    panel.set_plan(None)
    assert panel.table.rowCount() == 0 and panel.reason.text() == "No image"


def test_scale_status_says_the_scale_and_warns(qtbot):
    label = ScaleStatus()
    qtbot.addWidget(label)
    label.set_plan(engine.plan((3456, 5184), "v1"))
    assert "page shrunk 2.7x to 1280x1920 tile pixels" in label.text()
    assert label.warning and "Gundam-M" in label.warning and "small text at risk" in label.text()
    assert "21 px" in label.toolTip()
    label.set_plan(engine.plan((2480, 3508), "v1"))
    assert label.warning is None and label.text() == "page shrunk 1.9x to 1280x1920 tile pixels, 6% narrower"
    label.set_plan(engine.plan((2480, 3508), "v1"), dpi=150)  # the same pixels from a 150 dpi source
    assert label.warning is not None
    label.set_plan(None)
    assert label.text() == "" and label.warning is None
