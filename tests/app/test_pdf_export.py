"""Export > Searchable PDF: one item as a one-page PDF, the whole queue as one PDF per source file."""

import io
from pathlib import Path

import engine
import pypdf
from PIL import Image

from dsocr_app import exporting, pdf_export
from dsocr_app.queue_model import QueueItem, Target

DATA = Path(__file__).parents[1] / "data" / "searchable_pdf"
MATH = (DATA / "math_tables_de.raw.md").read_text(encoding="utf-8")
FIGURE = (DATA / "figure_math_de.raw.md").read_text(encoding="utf-8")


def done_target(image, raw, rect=None):
    """A target as the window keeps it after a run: the result without its image, the text shown."""
    text, figures = engine.clean_markdown(raw, image_size=image.size)
    result = engine.Result(text=text.strip(), raw_text=raw, plan=engine.plan(image.size, "v1"),
                           regions=engine.parse_grounding(raw, image.size), prompt="", prompt_tokens=0,
                           generated_tokens=0, encode_s=0, prefill_s=0, decode_tokens_per_s=0, elapsed_s=0,
                           peak_memory_mb=0, stop_reason="eos", model="test", figures=figures, image=None)
    return Target(rect=rect, result=result, text=result.text)


def squash(text):
    return "".join(text.split())


def read_again(item, target):
    return item.read_image()


def queue(tmp_path):
    pages = [Image.new("RGB", (600, 800), (255, 255, 255 - 50 * i)) for i in range(3)]
    pages[0].save(tmp_path / "report.pdf", save_all=True, append_images=pages[1:], resolution=72)
    Image.new("RGB", (500, 700), "white").save(tmp_path / "photo.png")
    items = [QueueItem(tmp_path / "report.pdf", page=2), QueueItem(tmp_path / "photo.png"),
             QueueItem(tmp_path / "report.pdf", page=0), QueueItem(tmp_path / "report.pdf", page=1)]
    items[0].targets = [done_target(items[0].read_image(), FIGURE)]
    items[1].targets = [done_target(items[1].read_image(), MATH)]
    items[2].targets = [done_target(items[2].read_image(), MATH), done_target(items[2].read_image(), FIGURE,
                                                                               rect=(0, 0, 100, 100))]
    items[3].targets = [Target()]  # not run: no page
    return items


def test_queue_export_writes_one_pdf_per_source_in_queue_order(tmp_path):
    items = queue(tmp_path)
    items[2].targets[0].text = "An edited page\n\nwith new words"
    out = tmp_path / "out"
    written = pdf_export.export_queue_pdfs(out, items, read_again)
    assert [p.name for p in written] == ["report.pdf", "photo.pdf"]
    report = pypdf.PdfReader(out / "report.pdf")
    assert len(report.pages) == 2  # page 3 then page 1, as queued; page 2 was not run; regions are no pages
    assert squash(report.pages[0].extract_text()) == squash(engine.plain_text(items[0].targets[0].text))
    assert squash(report.pages[1].extract_text()) == "Aneditedpagewithnewwords"
    assert [float(v) for v in report.pages[0].mediabox] == [0, 0, 600, 800]
    photo = pypdf.PdfReader(out / "photo.pdf")
    assert len(photo.pages) == 1 and "Übungsblatt" in photo.pages[0].extract_text()
    # again: new names, nothing replaced
    again = pdf_export.export_queue_pdfs(out, items, read_again)
    assert [p.name for p in again] == ["report (2).pdf", "photo (2).pdf"]


def test_one_item_saves_as_a_one_page_pdf(tmp_path):
    items = queue(tmp_path)
    item, target = items[1], items[1].targets[0]
    written = exporting.write_target(tmp_path / "one", "pdf", item, target, image=item.read_image())
    assert [p.name for p in written] == ["one.pdf"]
    (page,) = pypdf.PdfReader(io.BytesIO(written[0].read_bytes())).pages
    assert squash(page.extract_text()) == squash(engine.plain_text(target.text))
    assert "Searchable PDF" in exporting.EXPORT_CHOICES and exporting.EXPORT_CHOICES["Every format"][-1] == "pdf"


def test_window_saves_and_exports_searchable_pdfs(window, page, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMenu

    from .conftest import make_result
    from .helpers import plan_of

    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    window.run_view.apply_result(0, 0, make_result(window.queue.image(0), plan_of(window), MATH))
    assert window.acts["save_pdf"].isEnabled() and window.acts["export_pdf"].isEnabled()
    file_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&File")
    assert {"Save as searchable &PDF\u2026", "Export all as searchable P&DF\u2026"} <= {a.text() for a in file_menu.actions()}
    # Save as searchable PDF: the dialog starts on a .pdf name with the PDF filter chosen
    asked = {}

    def fake_save(parent, caption, start, filters, selected):
        asked.update(start=start, selected=selected)
        return str(tmp_path / "saved.pdf"), selected

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    window.acts["save_pdf"].trigger()
    assert asked["start"].endswith("page.pdf") and asked["selected"] == exporting.FILE_FORMATS["pdf"].filter
    saved = pypdf.PdfReader(tmp_path / "saved.pdf")
    assert "Übungsblatt" in saved.pages[0].extract_text()
    # Export all as searchable PDF: no format question, one PDF per file
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: str(tmp_path / "all")))
    window.acts["export_pdf"].trigger()
    assert [p.name for p in (tmp_path / "all").iterdir()] == ["page.pdf"]
