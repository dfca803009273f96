"""The tile counts beside the text: which tile a box falls in (pure), and the strip in the window, visible with
the text while it streams and after, at 800x600 too, the tiles that hold the result's boxes highlighted."""

import engine
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication

from dsocr_app.queue_model import State
from dsocr_app.tile_counts import TileShare, box_in_tiles, tile_shares

from .conftest import make_result
from .helpers import plan_of

TILES = [(0, 0, 100, 100), (100, 0, 200, 100), (0, 100, 100, 200), (100, 100, 200, 200)]  # a 2x2 grid


def test_a_box_inside_one_tile_falls_in_that_tile():
    assert box_in_tiles((10, 10, 50, 50), TILES) == {0: 1.0}
    assert box_in_tiles((110, 120, 190, 180), TILES) == {3: 1.0}


def test_a_box_across_tiles_is_shared_by_area():
    assert box_in_tiles((50, 10, 150, 30), TILES) == {0: 0.5, 1: 0.5}
    parts = box_in_tiles((50, 50, 150, 200), TILES)  # a quarter of it above the middle line
    assert set(parts) == {0, 1, 2, 3}
    assert parts[0] == pytest.approx(1 / 6) and parts[2] == pytest.approx(1 / 3) and sum(parts.values()) == 1


def test_boxes_without_area_or_off_the_tiles():
    assert box_in_tiles((150, 150, 150, 150), TILES) == {3: 1.0}  # a point: the tile holding it
    assert box_in_tiles((300, 300, 400, 400), TILES) == {}


def test_tile_shares_count_boxes_and_split_the_area():
    shares = tile_shares(TILES, [(10, 10, 50, 50), (50, 10, 150, 50)])  # areas 1600 and 4000
    assert [s.boxes for s in shares] == [2, 1, 0, 0]
    assert shares[0].share == pytest.approx((1600 + 2000) / 5600)
    assert shares[1].share == pytest.approx(2000 / 5600)
    assert shares[2] == TileShare(0, 0.0)
    assert tile_shares(TILES, []) == [TileShare(0, 0.0)] * 4


# ---- in the window ----------------------------------------------------------------------------------------

ONE_BOX = "<|ref|>title<|/ref|><|det|>[[50, 50, 300, 150]]<|/det|>\n# Title\n\nbody text\n"  # inside tile 1


def _inside(widget, window) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(top_left, widget.size()))


def _tinted(counts, col) -> bool:
    return counts.item(0, col).background().style() != Qt.BrushStyle.NoBrush


@pytest.mark.parametrize("size", [(800, 600), (1440, 900)])
def test_counts_stay_beside_the_text_while_it_streams(settings, page, size, qtbot):
    from dsocr_app.window import MainWindow

    window = MainWindow(settings)  # as dsocr-app starts: files added, then the window shown at its size
    qtbot.addWidget(window)
    window.quiet = True
    window.resize(*size)
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.width() == size[0])
    plan = plan_of(window)
    results, counts = window.results, window.results.tile_counts
    target = window.current()[1]
    target.state = State.RUNNING  # as the RunPresenter marks a started run; the window shows the stream
    window.show_target(0)
    QApplication.processEvents()
    assert results.tabs.currentWidget() is results.editor
    assert counts.isVisible() and _inside(counts, window) and counts.height() >= 2 * counts.fontMetrics().height()
    assert counts.columns() == [str(k) for k in range(1, len(plan.tiles) + 1)] + ["Global", "All"]
    n = [t.tokens for t in plan.tiles] + [plan.global_tokens, plan.image_tokens]
    assert counts.row("Tokens") == [f"{v:,}".replace(",", "\u202f") for v in n]
    assert counts.row("Boxes") == []  # nothing read yet
    results.append_delta("# Quarterly", 3, 0.5, 6.0)
    results._flush()
    assert results.text() == "# Quarterly" and counts.isVisible()
    # every column readable without scrolling at this width (6 tiles of a page)
    last = counts.columnCount() - 1
    header = counts.horizontalHeader()
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= counts.viewport().width()
    # above the text, not on top of it
    assert counts.mapTo(window, QPoint(0, counts.height())).y() <= results.editor.mapTo(window, QPoint(0, 0)).y()


def test_a_result_highlights_the_tiles_its_boxes_fall_in(window, page):
    window.resize(800, 600)
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    plan = plan_of(window)
    result = make_result(window.queue.image(0), plan, ONE_BOX)
    (x0, y0, x1, y1) = result.regions[0].boxes[0].rect
    assert plan.tiles[0].box[2] > x1 and plan.tiles[0].box[3] > y1  # the box lies in tile 1 only
    window.run_view.apply_result(0, 0, result)
    results, counts = window.results, window.results.tile_counts
    assert results.tabs.currentWidget() is results.editor and counts.isVisible()
    assert counts.row("Boxes")[:6] == ["1", "0", "0", "0", "0", "0"] and counts.row("Boxes")[-1] == "1"
    assert counts.row("Share")[:6] == ["100%"] + ["0%"] * 5
    assert counts.highlighted() == [1]
    assert _tinted(counts, 0) and not any(_tinted(counts, c) for c in range(1, counts.columnCount()))
    # the three boxes of the usual page: the figure across the lower rows lights them too
    from .conftest import grounded_result

    window.run_view.apply_result(0, 0, grounded_result(window.queue.image(0), plan))
    boxes = [b.rect for r in window.current()[1].result.regions for b in r.boxes]
    want = sorted({k + 1 for b in boxes for k in box_in_tiles(b, [t.box for t in plan.tiles])})
    assert counts.highlighted() == want and len(want) > 1
    assert sum(float(s.rstrip("%")) for s in counts.row("Share")[:6]) == pytest.approx(100, abs=3)


def test_counts_leave_the_token_and_tiling_tabs_alone(window, page):
    window.add_paths([page])
    results, counts = window.results, window.results.tile_counts
    assert results.tabs.currentWidget() is results.table and not counts.isVisible()  # not run: the token table
    results.tabs.setCurrentWidget(results.raw)
    assert counts.isVisible()
    results.tabs.setCurrentWidget(results.tiling)
    assert not counts.isVisible()
    window.show_row(-1)
    results.tabs.setCurrentWidget(results.editor)
    assert not counts.isVisible() and counts.columnCount() == 0  # no image, no counts


def test_an_untiled_plan_shows_the_global_view_and_total(qtbot):
    from dsocr_app.tile_counts import TileCounts

    counts = TileCounts()
    qtbot.addWidget(counts)
    plan = engine.plan((1240, 1754), "v1", "base")
    counts.set_plan(plan, [(0, 0, 100, 100)])
    assert counts.columns() == ["Global", "All"] and counts.row("Tokens") == [str(plan.global_tokens),
                                                                            str(plan.image_tokens)]
    assert counts.highlighted() == []


def test_tiles_that_do_not_fit_scroll_and_stay_readable(qtbot):
    from dsocr_app.tile_counts import TileCounts

    counts = TileCounts()
    qtbot.addWidget(counts)
    counts.resize(160, 60)
    counts.show()
    qtbot.waitExposed(counts)
    counts.set_plan(engine.plan((3000, 3000), "v1", "gundam", grid=(3, 3)))
    assert counts.columnCount() == 11
    bar = counts.horizontalScrollBar()
    qtbot.waitUntil(lambda: bar.isVisible())
    rows_h = counts.horizontalHeader().height() + counts.rowHeight(0)
    assert counts.viewport().height() >= counts.rowHeight(0) and counts.height() >= rows_h + bar.height()


def test_a_real_run_streams_beside_the_counts(window, tiny_v1, page, qtbot):
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    window.set_plan_options(mode="gundam")
    window.add_paths([page])
    window.set_max_tokens(6)
    plan, counts = window.current_plan, window.results.tile_counts
    seen = []
    window.textStreamed.connect(lambda _t, n: seen.append((counts.isVisible(), counts.columns(),
                                                           window.results.tabs.currentWidget())))
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    assert seen, "nothing streamed"
    visible, columns, tab = seen[0]
    assert visible and tab is window.results.editor
    assert columns == [str(k) for k in range(1, len(plan.tiles) + 1)] + ["Global", "All"]
    assert counts.isVisible() and counts.row("Tokens")[-1] == str(window.current()[1].result.plan.image_tokens)
