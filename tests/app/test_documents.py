"""Unlimited-OCR in the app: the model choice, a PDF as one document item with its pages and token budget, its run
streamed with page breaks, cancelled, exported per page and whole; v2 keeps one item per page."""

import json

import pypdf
import pytest
from PIL import Image

from dsocr_app import documents
from dsocr_app import engine_bridge as eb
from dsocr_app.model_dialog import ModelDialog
from dsocr_app.queue_model import State
from dsocr_app.results_pane import ResultsPane
from dsocr_app.sample import document_page
from dsocr_app.settings_dialog import ModelSection

from .helpers import plan_of


@pytest.fixture(scope="module")
def tiny_unlimited(tmp_path_factory):
    return eb.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-unlimited", "unlimited", window=8)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A three-page PDF."""
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    pages = [document_page(620, 877, seed=k, title=f"Page {k + 1}") for k in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


@pytest.fixture
def unlimited_window(window):
    window.set_plan_options(version="unlimited")
    return window


def test_the_model_choice_lists_unlimited_ocr(window, qtbot):
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    ids = [dialog.hub.itemText(i) for i in range(dialog.hub.count())]
    assert ids[:3] == ["deepseek-ai/DeepSeek-OCR", "deepseek-ai/DeepSeek-OCR-2", "baidu/Unlimited-OCR"]
    dialog.hub.setCurrentText("baidu/Unlimited-OCR")
    assert dialog.hub_name.text() == "Unlimited-OCR" and dialog.source() == "baidu/Unlimited-OCR"
    combo = window.options_bar.version_combo
    assert combo.itemText(combo.findData("unlimited")) == "Unlimited-OCR"
    options = window.set_plan_options(version="unlimited")
    assert (options.min_tiles, options.max_tiles) == eb.DEFAULT_TILES["unlimited"] == (2, 32)
    assert window.options_bar.max_spin.maximum() == 32
    assert window.settings.version == "unlimited"  # remembered, as the other versions


def test_the_tiling_inspector_covers_the_32_tile_search(unlimited_window, tmp_path):
    wide = tmp_path / "wide.png"
    document_page(3000, 1000, seed=1).save(wide)
    unlimited_window.add_paths([wide])
    plan = plan_of(unlimited_window)
    assert plan.version == "unlimited" and plan.mode == "gundam"
    assert max(c.grid[0] * c.grid[1] for c in plan.candidates) == 32  # every grid up to 32 tiles weighed
    rows = unlimited_window.results.tiling.rows()
    assert len(rows) == len(plan.candidates) and any(r[0] in ("8\u00d74", "4\u00d78") for r in rows)
    assert len(plan.tiles) > 9  # more tiles than v1 allows: a wide page takes many
    assert len(unlimited_window.results.tile_counts.columns()) == len(plan.tiles) + 2


def test_a_pdf_with_unlimited_ocr_is_one_document_with_its_budget(unlimited_window, report):
    w = unlimited_window
    assert w.add_paths([report]) == 1
    item = w.queue.items[0]
    assert item.pages == (0, 1, 2) and item.name == "report.pdf \u2014 document, 3 pages"
    assert item.labels == ["Whole document (3 pages)", "Page 1", "Page 2", "Page 3"]
    assert w.target_bar.combo.count() == 4  # the pages listed in the item's view
    counts = w.results.tile_counts
    assert counts.columns() == ["p1", "p2", "p3", "Text", "Prompt", "Output"]
    tokens = counts.row("Tokens")
    assert tokens[:3] == ["273"] * 3
    text = int(tokens[3].lstrip("~"))
    assert tokens[3].startswith("~")  # no model loaded: the prompt's words estimated
    assert int(tokens[4].lstrip("~").replace("\u202f", "")) == 3 * 273 + text
    assert int(tokens[5].lstrip("~").replace("\u202f", "")) == 32768 - 3 * 273 - text
    assert counts.row("Part") == []  # it fits one prompt
    rows = {r[0]: r for r in w.results.table_rows()}
    assert [rows[f"Page {n}"][2] for n in (1, 2, 3)] == ["273"] * 3 and "Left for the output" in rows
    assert "3 pages \u00d7 273 tokens" in w.results.stats.text()
    w.show_target(2)  # page 2: its own image, the budget with its column highlighted
    assert counts.current == 1 and plan_of(w).mode == "base" and plan_of(w).image_tokens == 273
    w.set_max_tokens(32_400)  # the output asked does not fit beside all pages: read in parts, said so
    w.show_target(0)
    assert counts.row("Part")[:3] == ["1", "2", "3"] and "read as 3 parts" in rows_text(w)


def rows_text(window):
    return " ".join(" ".join(r) for r in window.results.table_rows())


def test_a_pdf_with_v2_stays_one_item_per_page(window, report):
    window.set_plan_options(version="v2")
    assert window.add_paths([report]) == 3
    assert [(i.page, i.pages) for i in window.queue.items] == [(0, ()), (1, ()), (2, ())]
    assert window.results.tile_counts.columns()[-2:] == ["Global", "All"]


def test_one_page_of_a_pdf_is_read_as_a_page(unlimited_window, report):
    assert unlimited_window.add_paths([report], pages="2") == 1
    item = unlimited_window.queue.items[0]
    assert (item.page, item.pages) == (1, ())


def test_the_stream_shows_page_breaks(qtbot):
    pane = ResultsPane()
    qtbot.addWidget(pane)
    doc = documents.budget(3, (620, 877), 8192)[0]
    pane.show_document(doc, [1, 2, 3])
    pane.begin_stream()
    pane.append_delta("<PAGE># One\n\nfirst<PAGE>## Two<PA", 9, 1.0, 9.0)
    pane._flush()
    assert pane.text() == "<!-- page 1 -->\n\n# One\n\nfirst\n\n<!-- page 2 -->\n\n## Two\n"  # a mark arriving: held
    pane.append_delta("GE>third", 12, 1.5, 8.0)
    pane._flush()
    assert pane.text().endswith("<!-- page 2 -->\n\n## Two\n\n<!-- page 3 -->\n\nthird\n")
    pane._render()
    assert "Page 2" in pane.rendered.toPlainText() and "Page 3" in pane.rendered.toPlainText()
    assert "<PAGE>" in pane.raw.toPlainText()  # the raw view keeps the model's marks


@pytest.fixture
def loaded(unlimited_window, tiny_unlimited, qtbot):
    with qtbot.waitSignal(unlimited_window.modelReady, timeout=120_000):
        unlimited_window.load_model(str(tiny_unlimited))
    return unlimited_window


def test_a_document_runs_in_one_pass_and_exports_per_page_and_whole(loaded, report, tmp_path, qtbot):
    w = loaded
    w.set_max_tokens(24)
    w.add_paths([report])
    item = w.queue.items[0]
    assert not w.results.tile_counts.row("Tokens")[3].startswith("~")  # the model's tokenizer counted them
    streamed = []
    w.textStreamed.connect(lambda text, tokens: streamed.append(tokens))
    w.show_target(2)  # a page shown: Run reads the whole document, its stream shows here
    w.run_current()
    assert w.wait_idle(300)
    assert streamed and streamed == sorted(streamed) and streamed[-1] <= 24
    whole, pages = item.targets[0], item.targets[1:]
    assert [t.state for t in item.targets] == [State.DONE] * 4
    assert all(t.result.plan.mode == "base" and t.result.plan.image_tokens == 273 for t in pages)
    assert whole.result.prompt_tokens == 3 * 273 + int(w.results.tile_counts.row("Tokens")[3])
    assert whole.text.startswith("<!-- page 1 -->") and "<!-- page 3 -->" in whole.text
    assert whole.result.generated_tokens == streamed[-1]
    w.show_target(1)
    assert w.results.text() == pages[0].text and "stop: max_tokens" in w.results.stats.text()

    written = w.exports.export_all(tmp_path / "out", ("md", "json", "pdf"))
    names = sorted(p.name for p in written)
    assert names == ["report-p001.json", "report-p001.md", "report-p002.json", "report-p002.md",
                     "report-p003.json", "report-p003.md", "report.json", "report.md", "report.pdf"]
    assert (tmp_path / "out" / "report.md").read_text() == whole.text + "\n"
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [p["page"] for p in data["document_pages"]] == [1, 2, 3]
    assert json.loads((tmp_path / "out" / "report-p002.json").read_text())["page"] == 2
    assert len(pypdf.PdfReader(tmp_path / "out" / "report.pdf").pages) == 3
    w.show_target(0)
    saved = w.exports.save_target(tmp_path / "whole.pdf")
    assert len(pypdf.PdfReader(saved[0]).pages) == 3
    w.show_target(3)
    assert [p.name for p in w.exports.save_target(tmp_path / "third.md")] == ["third.md"]


def test_cancel_stops_a_document_run(loaded, report, qtbot):
    w = loaded
    w.set_max_tokens(100_000 // 10)
    w.add_paths([report])
    item = w.queue.items[0]
    w.textStreamed.connect(lambda *_: w.cancel())  # at the first streamed token
    w.run_current()
    assert w.wait_idle(300)
    assert [t.state for t in item.targets] == [State.CANCELLED] * 4
    assert item.targets[0].result is None or item.targets[0].result.stop_reason == "cancelled"
    assert not w.is_busy() and w.acts["run"].isEnabled()


def test_a_document_needs_an_unlimited_model(window, tiny_v1, report, qtbot):
    window.set_plan_options(version="unlimited")
    window.add_paths([report])
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    window.run_current()
    assert window.wait_idle(120)
    target = window.queue.items[0].targets[0]
    assert target.state == State.FAILED and "needs an Unlimited-OCR model" in target.error
    assert all(t.state == State.FAILED for t in window.queue.items[0].targets)


def test_the_vision_encoder_in_float32_is_a_model_setting(settings, qtbot):
    section = ModelSection()
    qtbot.addWidget(section)
    section.load(settings)
    assert not section.vision_float32.isChecked() and "vision_dtype" not in settings.load_options()
    section.vision_float32.setChecked(True)
    section.save(settings)
    assert settings.vision_float32 and settings.load_options()["vision_dtype"] == "float32"


def test_a_document_page_image_is_that_page(unlimited_window, report):
    w = unlimited_window
    w.add_paths([report])
    w.show_target(3)
    shown = w.queue.page_image(0, 2)
    assert isinstance(shown, Image.Image) and shown.size == w.queue.items[0].size
    assert w.view.scene() is not None


def test_a_documents_pages_stay_listed(unlimited_window, report):
    w = unlimited_window
    w.add_paths([report])
    w.show_target(2)
    assert not w.target_bar.remove_button.isVisibleTo(w.target_bar)  # a page is no region to remove
    page = w.queue.items[0].targets[2]
    assert not w.queue.remove_region(page) and len(w.queue.items[0].targets) == 4
    assert w.regions.add_region((10, 10, 300, 300)) == -1  # no regions on a document: said why
    assert "read whole" in w.status.currentMessage()
    assert len(w.queue.items[0].targets) == 4
