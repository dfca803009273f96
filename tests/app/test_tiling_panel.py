"""The Tiling panel and the scale status label, as widgets on their own (pytest-qt)."""

import engine
from PIL import Image
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
    """The pointer enters `row`: Qt's own `cellEntered`, as the table emits it for a mouse move (a synthetic
    move is not delivered once an earlier test in the same process has left the pointer state elsewhere)."""
    panel.table.cellEntered.emit(row, 1)


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
    tinted = [r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).background().style() != Qt.NoBrush]
    assert tinted == [_row_of(panel, (3, 1))]  # the previewed row is marked
    _hover(qtbot, panel, _row_of(panel, (1, 2)))
    qtbot.waitUntil(lambda: seen[-1:] == [(1, 2)], timeout=1000)
    QApplication.sendEvent(panel.table.viewport(), QEvent(QEvent.Type.Leave))
    assert seen[-1] is None
    assert all(panel.table.item(r, 0).background().style() == Qt.NoBrush for r in range(panel.table.rowCount()))


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


# ---- in the window: beside the token table, hover previews on the page, click re-plans, the status line ----------

def test_window_tiling_tab_hover_click_and_undo(window, page, qtbot):
    from .helpers import plan_of, tile_rows

    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    tabs = window.results.tabs
    panel = window.results.tiling
    assert tabs.tabText(tabs.indexOf(panel)) == "Tiling"
    assert tabs.indexOf(panel) == tabs.indexOf(window.results.table) + 1  # beside the token table
    official = engine.plan((1240, 1754), "v1")
    assert [panel.grid_at(r) for r in range(panel.table.rowCount())] == [c.grid for c in official.candidates]
    assert window.scale_status.text() == engine.scale_note(official) == "page enlarged 1.1x to 1280x1920 tile pixels, 6% narrower"

    tabs.setCurrentWidget(panel)
    _hover(qtbot, panel, _row_of(panel, (3, 1)))  # hover: the page shows that grid, nothing is chosen
    qtbot.waitUntil(lambda: plan_of(window).grid == (3, 1), timeout=1000)
    assert window.current_plan.grid == (2, 3) and window.current()[1].grid is None
    QApplication.sendEvent(panel.table.viewport(), QEvent(QEvent.Type.Leave))
    assert plan_of(window).grid == (2, 3)

    rect = panel.table.visualItemRect(panel.table.item(_row_of(panel, (3, 1)), 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # click: re-plan
    forced = engine.plan((1240, 1754), "v1", grid=(3, 1))
    assert window.current()[1].grid == (3, 1)
    assert window.current_plan.to_dict() == plan_of(window).to_dict() == forced.to_dict()
    assert len(tile_rows(window)) == 3 and "not the official tiling" in window.plan_label.text()
    assert panel.rows()[_row_of(panel, (3, 1))][5] == "forced" and panel.automatic_button.isEnabled()
    assert window.scale_status.text().startswith(engine.scale_note(forced))

    qtbot.mouseClick(panel.automatic_button, Qt.MouseButton.LeftButton)  # undo: back to automatic
    assert window.current()[1].grid is None and window.current_plan.to_dict() == official.to_dict()
    assert "not the official" not in window.plan_label.text()


def test_window_drops_a_forced_grid_the_new_options_cannot_take(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    window.planner.set_grid((4, 2))  # 8 tiles: fine for v1, too many for v2
    assert window.current_plan.grid == (4, 2)
    window.set_plan_options(version="v2")
    assert window.current()[1].grid is None and window.current_plan.grid == (2, 3) and window.current_plan.official
    assert "automatic grid" in window.statusBar().currentMessage()


def test_window_status_warns_when_small_text_is_at_risk(window, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (3456, 5184), "white").save(big)
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([big])
    assert "page shrunk 2.7x to 1280x1920 tile pixels" in window.scale_status.text()
    assert "small text at risk" in window.scale_status.text() and "Gundam-M" in window.scale_status.warning
    window.set_plan_options(mode="gundam-m")  # the suggestion helps: 3x3 of 1024 px
    assert window.scale_status.warning is None


def test_run_with_a_forced_grid(window, tiny_v1, page, qtbot):
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    window.set_plan_options(mode="gundam")
    window.add_paths([page])
    window.set_max_tokens(3)
    window.planner.set_grid((1, 2))
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    result = window.current()[1].result
    assert result is not None, window.current()[1].error
    assert result.plan.grid == (1, 2) and not result.plan.official and len(result.plan.tiles) == 2
    assert result.plan.to_dict() == engine.plan((1240, 1754), "v1", grid=(1, 2)).to_dict()


def test_a_new_plan_clears_the_last_ones_selection(qtbot):
    panel = _panel(qtbot, engine.plan((1240, 1754), "v1"))
    assert [i.row() for i in panel.table.selectionModel().selectedRows()] == [_row_of(panel, (2, 3))]
    small = engine.plan((700, 500), "v2")  # untiled, its candidates listed: none is in use, none highlighted
    panel.set_plan(small)
    assert not small.tiled and panel.table.rowCount() > 0
    assert panel.table.selectionModel().selectedRows() == [] and panel.table.selectedItems() == []
    wide = engine.plan((3000, 1000), "v1")  # another tiled plan: only its own grid's row
    panel.set_plan(wide)
    assert [i.row() for i in panel.table.selectionModel().selectedRows()] == [_row_of(panel, wide.grid)]


def test_the_panel_says_what_a_click_does(window, page, qtbot):
    panel = window.results.tiling
    assert "Run" in panel.hint.text() and "nothing runs" in panel.hint.text()
    assert "click to OCR" not in panel.hint.text()
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    window.results.tabs.setCurrentWidget(panel)
    rect = panel.table.visualItemRect(panel.table.item(_row_of(panel, (3, 1)), 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    target = window.current()[1]
    assert target.grid == (3, 1) and target.state.value == "planned" and not window.is_busy()
    assert "nothing has run" in window.statusBar().currentMessage()
