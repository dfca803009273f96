"""The results pane beside the image: text, rendered view, token table, boxes linked to their text, flags."""

from PySide6.QtCore import QPointF, Qt

import engine
from dsocr_app.regions import locate_in_text, region_at, region_contents

from .conftest import grounded_result
from .helpers import plan_of, tile_rows


def _loaded(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    image = window.queue.image(0)
    result = grounded_result(image, plan_of(window))
    window.run_view.apply_result(0, 0, result)
    return result


def test_result_fills_every_tab(window, page):
    result = _loaded(window, page)
    assert window.results.text() == result.text
    assert "Quarterly Report" in window.results.rendered.toPlainText()
    assert "<|ref|>" in window.results.raw.toPlainText()
    assert len(tile_rows(window)) == len(result.plan.tiles)
    parts = {r[0]: r for r in window.results.table_rows()}
    assert parts["Generated tokens"][2] == "42" and parts["Generated tokens"][1] == "eos"
    assert parts["Prompt tokens"][2] == "950"
    assert "Decode speed" in parts and "Elapsed" in parts
    assert window.queue.data(window.queue.index(0), Qt.ItemDataRole.DisplayRole).endswith("done")
    assert not window.results.banner.isVisibleTo(window.results)


def test_boxes_are_drawn_and_linked_to_text(window, page, qtbot):
    result = _loaded(window, page)
    view = window.view
    assert len(view.boxes) == 3
    rect = result.regions[1].boxes[0].rect  # pixels of the 0-999 grid, as the engine computes them
    assert view.boxes[1].rect().getCoords() == rect
    assert rect == (int(72 / 999 * 1240), int(154 / 999 * 1754), int(726 / 999 * 1240), int(251 / 999 * 1754))
    # clicking a box selects its text
    pos = view.mapFromScene(QPointF((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    cursor = window.results.editor.textCursor()
    assert cursor.selectedText() == "Or reads with private local report and layout."
    assert view.boxes[1].pen().widthF() > 2 and view.boxes[0].pen().widthF() < 2
    # and the caret in a region's text selects its box
    cursor.setPosition(3)
    window.results.editor.setTextCursor(cursor)
    assert view.boxes[0].pen().widthF() > 2 and view.boxes[1].pen().widthF() < 2
    assert result.regions[0].label == "title"


def test_boxes_of_a_region_sit_on_the_region(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    k = window.regions.add_region((200, 300, 1000, 1100))
    crop = window.queue.image(0).crop((200, 300, 1000, 1100))
    result = grounded_result(crop, plan_of(window))
    window.run_view.apply_result(0, k, result)
    x0, y0, x1, y1 = result.regions[0].boxes[0].rect  # in the region's pixels
    assert x1 - x0 < 800 and y1 - y0 < 800
    assert window.view.boxes[0].rect().getCoords() == (200 + x0, 300 + y0, 200 + x1, 300 + y1)
    # results are kept per region
    window.target_bar.combo.setCurrentIndex(0)
    assert window.results.text() == "" and window.view.boxes == []
    window.target_bar.combo.setCurrentIndex(k)
    assert "Quarterly Report" in window.results.text()


def test_repetition_stop_is_flagged(window, page):
    window.add_paths([page])
    result = grounded_result(window.queue.image(0), plan_of(window), stop_reason="repetition")
    window.run_view.apply_result(0, 0, result)
    assert window.results.banner.isVisibleTo(window.results)
    assert "repetition guard" in window.results.banner_message()
    parts = {r[0]: r for r in window.results.table_rows()}
    assert parts["Generated tokens"][1] == "repetition"


def test_edits_are_kept(window, page):
    _loaded(window, page)
    window.results.editor.setPlainText("# Edited\n\nnew text")
    assert window.queue.items[0].targets[0].text == "# Edited\n\nnew text"
    window.show_row(0)
    assert window.results.text() == "# Edited\n\nnew text"


def test_region_text_mapping():
    raw = ("<|ref|>title<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\n# A\n\n"
           "<|ref|>text<|/ref|><|det|>[[5, 6, 7, 8]]<|/det|>\nbody one\nbody two\n")
    regions = engine.parse_grounding(raw, (1000, 1000))  # the engine's Regions, used as they are
    contents = region_contents(regions)
    assert contents == ["# A", "body one\nbody two"]
    spans = locate_in_text("# A\n\nbody one\nbody two", contents)
    assert spans == [(0, 3), (5, 22)]
    assert region_at(spans, 7) == 1 and region_at(spans, 4) is None


def test_repetition_shows_in_the_queue(window, page):
    window.add_paths([page])
    window.run_view.apply_result(0, 0, grounded_result(window.queue.image(0), plan_of(window), stop_reason="repetition"))
    assert "repetition" in window.queue.data(window.queue.index(0), Qt.ItemDataRole.DisplayRole)


def test_results_do_not_hold_file_images(window, page):
    window.add_paths([page])
    window.run_view.apply_result(0, 0, grounded_result(window.queue.image(0), plan_of(window)))
    assert window.queue.items[0].targets[0].result.image is None  # read again from the file when exporting
