"""Dropping a page shows exactly the engine's tile plan, re-planned at once when the options change."""

import engine
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from dsocr_app.plan_options import PlanOptions
from dsocr_app.preview_view import BadgeItem, TILE_COLOR

from .helpers import drop_files, plan_of, tile_rows


def _expected(window, size):
    return engine.plan(size, version=window.options().version, mode=window.options().mode, min_tiles=window.options_bar.min_spin.value(),
                       max_tiles=window.options_bar.max_spin.value())


def _badge_texts(window):
    return [b.lines for b in window.view.plan_overlay.badges]


def test_dropped_page_shows_engine_plan(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    assert drop_files(window.view.viewport(), [page])
    assert len(window.queue.items) == 1
    assert window.queue.items[0].size == (1240, 1754)
    shown = plan_of(window)
    want = engine.plan((1240, 1754), version="v1", mode="gundam")
    assert shown.to_dict() == want.to_dict()
    assert want.grid == (2, 3) and len(want.tiles) == 6
    # every tile labelled (counted from 1) with its token count; the totals are spelled out below the image
    badges = _badge_texts(window)
    assert badges == [[f"Tile {t.index + 1} \u00b7 col {t.col + 1}, row {t.row + 1} \u00b7 {t.tokens} tokens"]
                      for t in want.tiles]
    assert f"global view 1024 px: {want.global_tokens} tokens" in window.plan_label.text()
    assert f"total {want.image_tokens} image tokens" in window.plan_label.text()
    # the table lists one row per tile, then the other parts
    rows = tile_rows(window)
    assert len(rows) == len(want.tiles)
    assert [int(r[2]) for r in rows] == [t.tokens for t in want.tiles]
    parts = {r[0]: r[2] for r in window.results.table_rows()}
    assert int(parts["Global view"]) == want.global_tokens
    assert int(parts["Newlines"]) == want.newline_tokens
    assert int(parts["Separator"]) == want.separator_tokens
    assert int(parts["Image total"].replace("\u202f", "")) == want.image_tokens


def test_options_replan_instantly(window, page, qtbot):
    window.add_paths([page])
    size = (1240, 1754)
    window.set_plan_options(version="v1")
    assert [window.options_bar.mode_combo.itemData(i) for i in range(window.options_bar.mode_combo.count())] == list(engine.MODES["v1"])
    for mode in engine.MODES["v1"]:
        with qtbot.waitSignal(window.planChanged, timeout=1000) if mode != window.options().mode else _null():
            window.set_plan_options(mode=mode)
        want = _expected(window, size)
        assert plan_of(window).to_dict() == want.to_dict(), mode
        tiled = engine.MODES["v1"][mode].tiled
        assert window.options_bar.min_spin.isEnabled() == tiled
        assert len(tile_rows(window)) == len(want.tiles)
        assert sum(1 for b in _badge_texts(window) if b[0].startswith("Tile ")) == len(want.tiles)
    # tile limits
    window.set_plan_options(mode="gundam", min_tiles=2, max_tiles=4)
    want = engine.plan(size, version="v1", mode="gundam", min_tiles=2, max_tiles=4)
    assert plan_of(window).to_dict() == want.to_dict()
    assert len(want.tiles) <= 4
    window.set_plan_options(min_tiles=9, max_tiles=9)
    assert (window.options().min_tiles, window.options().max_tiles) == (9, 9)
    assert plan_of(window).to_dict() == engine.plan(size, "v1", "gundam", 9, 9).to_dict()
    # v2 has its own modes and tile range
    window.set_plan_options(version="v2")
    assert [window.options_bar.mode_combo.itemData(i) for i in range(window.options_bar.mode_combo.count())] == list(engine.MODES["v2"])
    assert window.options_bar.max_spin.maximum() == 6
    assert plan_of(window).to_dict() == _expected(window, size).to_dict()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_small_image_is_not_tiled(window, tmp_path):
    from dsocr_app.sample import document_page

    path = tmp_path / "small.png"
    document_page(600, 500).save(path)
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([path])
    shown = plan_of(window)
    assert not shown.tiled and shown.to_dict() == engine.plan((600, 500), "v1", "gundam").to_dict()
    assert tile_rows(window) == []


def test_options_are_remembered(make_window, settings, page):
    w = make_window(settings)
    w.set_plan_options(version="v1", mode="gundam-m", min_tiles=3, max_tiles=5)
    w.close()
    w2 = make_window(settings)
    assert w2.options() == PlanOptions("v1", "gundam-m", 3, 5)


def test_region_drag_plans_the_region(window, page, qtbot):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    view = window.view
    window.acts["region"].trigger()
    assert view.region_mode()
    a = view.mapFromScene(QPointF(100, 200))
    b = view.mapFromScene(QPointF(1100, 900))
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, pos=QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(vp, pos=b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    item = window.queue.items[0]
    assert len(item.targets) == 2 and window.current_target == 1
    x0, y0, x1, y1 = item.targets[1].rect
    # the drag is quantised by the zoom: allow a few image pixels
    scale = 1 / view.zoom()
    assert abs(x0 - 100) <= 2 * scale and abs(y0 - 200) <= 2 * scale
    assert abs(x1 - 1100) <= 2 * scale and abs(y1 - 900) <= 2 * scale
    shown = plan_of(window)
    assert shown.to_dict() == engine.plan((x1 - x0, y1 - y0), "v1", "gundam").to_dict()
    assert view.plan_overlay.origin == (x0, y0)
    assert not view.region_mode()  # one drag per selection
    # the whole image's plan is still one pick away; the region is kept
    window.target_bar.combo.setCurrentIndex(0)
    assert plan_of(window).image_size == (1240, 1754)
    window.target_bar.combo.setCurrentIndex(1)
    assert plan_of(window).image_size == (x1 - x0, y1 - y0)


def test_double_click_tile_makes_region(window, page, qtbot):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    tile = plan_of(window).tiles[3]
    x0, y0, x1, y1 = tile.box
    pos = window.view.mapFromScene(QPointF((x0 + x1) / 2 + 37, (y0 + y1) / 2 + 41))  # off the label
    qtbot.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    target = window.queue.items[0].targets[-1]
    assert target.rect == (round(x0), round(y0), round(x1), round(y1))
    assert plan_of(window).image_size == (round(x1) - round(x0), round(y1) - round(y0))


def _is_tile_colour(c):
    return abs(c.red() - TILE_COLOR.red()) < 40 and abs(c.green() - TILE_COLOR.green()) < 50 and c.blue() < 90


@pytest.mark.parametrize("version,mode", [("v1", "gundam"), ("v2", "gundam")])
def test_grid_lines_are_drawn_where_the_plan_puts_them(window, page, version, mode):
    window.set_plan_options(version=version, mode=mode)
    window.add_paths([page])
    plan = plan_of(window)
    assert plan.tiled
    view = window.view
    view.set_boxes([])
    image = view.viewport().grab().toImage()
    badges = [b.deviceTransform(view.viewportTransform()).mapRect(b.boundingRect()).adjusted(-3, -3, 3, 3)
              for b in view.plan_overlay.badges]

    def near_badge(p):  # labels cover the lines there
        return any(r.contains(QPointF(p)) for r in badges)

    def hits(points, radius=2):
        found, total = 0, 0
        for p in points:
            if near_badge(p):
                continue
            total += 1
            found += any(_is_tile_colour(image.pixelColor(p.x() + dx, p.y() + dy))
                         for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)
                         if 0 <= p.x() + dx < image.width() and 0 <= p.y() + dy < image.height())
        return found / max(total, 1)

    cols, rows = plan.grid
    w, h = plan.image_size
    ys = [h * (k + 0.5) / 40 for k in range(40)]
    xs = [w * (k + 0.5) / 40 for k in range(40)]
    for c in range(cols + 1):  # vertical lines, including the outer ones
        x = w * c / cols
        assert hits([view.mapFromScene(QPointF(x, y)) for y in ys]) > 0.9, f"no line at x={x}"
    for r in range(rows + 1):
        y = h * r / rows
        assert hits([view.mapFromScene(QPointF(x, y)) for x in xs]) > 0.9, f"no line at y={y}"
    # and none in the middle of the tiles
    for c in range(cols):
        x = w * (c + 0.5) / cols
        assert hits([view.mapFromScene(QPointF(x, y)) for y in ys], radius=0) < 0.15
    # a line drawn 40 image pixels off would be caught
    x = w / cols + 40
    assert hits([view.mapFromScene(QPointF(x, y)) for y in ys], radius=0) < 0.15


def test_overlay_labels_keep_screen_size(window, page):
    window.add_paths([page])
    view = window.view
    badge = next(b for b in view.plan_overlay.badges if isinstance(b, BadgeItem))

    def screen_width():
        return badge.deviceTransform(view.viewportTransform()).mapRect(badge.boundingRect()).width()

    tile = view.plan_overlay.tile_rect(view.plan_overlay.plan.tiles[0])
    before, tile_before = screen_width(), view.mapFromScene(tile).boundingRect().width()
    view.zoom_by(2.0)
    assert screen_width() == pytest.approx(before)  # labels stay readable at any zoom
    assert view.mapFromScene(tile).boundingRect().width() == pytest.approx(2 * tile_before, rel=0.02)  # the grid scales
