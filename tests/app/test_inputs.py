"""Every way in: drops of files and folders, broken files, PDFs with page ranges, the clipboard, the Dock."""

from pathlib import Path

import engine
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QFileOpenEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from dsocr_app import engine_bridge as eb
from dsocr_app.inputs import qimg_to_rgb
from dsocr_app.preview_view import pil_to_qimage
from dsocr_app.queue_model import State
from dsocr_app.sample import document_page

from .helpers import drop_files, plan_of


def test_corrupt_file_gives_a_message_not_a_crash(window, tmp_path, page):
    bad = tmp_path / "scan.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert drop_files(window.view.viewport(), [bad])
    item = window.queue.items[0]
    assert item.state == State.FAILED and "scan.png" in item.error
    assert "scan.png" in window.statusBar().currentMessage()
    assert "scan.png" in window.page.placeholder.text()
    assert window.page.stack.currentWidget() is window.page.placeholder
    assert not window.acts["run"].isEnabled()
    window.run_current()  # refused politely
    assert window.runs.running is None
    # still usable: a good file next
    window.add_paths([empty, page])
    assert window.queue.items[1].state == State.FAILED and "empty" in window.queue.items[1].error
    window.show_row(2)
    assert window.queue.items[2].size == (1240, 1754)
    assert plan_of(window) is not None and window.page.stack.currentWidget() is window.view


def test_folder_drop_queues_images_and_skips_other_files(window, tmp_path):
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    document_page(800, 1000, seed=1).save(folder / "b.png")
    document_page(800, 1000, seed=2).save(folder / "sub" / "a.jpg")
    (folder / "notes.txt").write_text("not an image")
    assert drop_files(window, [folder])  # dropped on the window itself
    names = [i.name for i in window.queue.items]
    assert names == ["b.png"]  # the engine's rule, as in `dsocr ocr FOLDER`: not its subfolders
    assert window.settings.last_folder == str(folder)


def test_pdf_pages_become_items(window, tmp_path, monkeypatch):
    pdf = tmp_path / "report.pdf"
    pages = [document_page(620, 877, seed=k, title=f"Page {k + 1}") for k in range(3)]
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=72)
    asked = []
    monkeypatch.setattr(window.intake, "ask_pages", lambda path, count: asked.append(count) or eb.parse_page_ranges("1,3", count))
    window.add_paths([pdf])
    assert asked == [3]
    assert [i.page for i in window.queue.items] == [0, 2]
    assert [i.name for i in window.queue.items] == ["report.pdf \u2014 page 1", "report.pdf \u2014 page 3"]
    item = window.queue.items[0]
    assert item.error == ""
    w, h = item.size
    assert w > 600 and abs(h / w - 877 / 620) < 0.02  # rendered at the PDF's aspect
    assert plan_of(window).image_size == item.size


def test_page_ranges():
    assert eb.parse_page_ranges("all", 4) == [0, 1, 2, 3]
    assert eb.parse_page_ranges("1-2, 4", 4) == [0, 1, 3]
    with pytest.raises(ValueError):
        eb.parse_page_ranges("3-9", 4)


def test_paste_image_from_clipboard(window):
    img = document_page(900, 700, seed=3)
    QGuiApplication.clipboard().setImage(pil_to_qimage(img))
    assert window.intake.paste() == 1
    item = window.queue.items[-1]
    assert item.source is None and item.size == (900, 700)
    assert plan_of(window).image_size == (900, 700)
    assert window.queue.image(len(window.queue.items) - 1).getpixel((450, 20)) == img.getpixel((450, 20))


def test_paste_without_image_says_so(window):
    QGuiApplication.clipboard().setText("just text")
    assert window.intake.paste() == 0
    assert "no image" in window.statusBar().currentMessage()


def test_paste_file_urls(window, page):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(page))])
    QGuiApplication.clipboard().setMimeData(mime)
    assert window.intake.paste() == 1
    assert window.queue.items[-1].source == Path(page)


def test_file_open_event_from_the_dock(window, page):
    app = QApplication.instance()
    app.connect_file_open(window.open_file)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(str(page)))
        assert [i.source for i in window.queue.items] == [Path(page)]
    finally:
        app.fileOpenRequested.disconnect(window.open_file)
        app._receiver = None


def test_qimage_roundtrip_keeps_pixels():
    img = Image.new("RGB", (33, 17), (10, 200, 30))
    img.putpixel((5, 6), (255, 0, 128))
    back = qimg_to_rgb(pil_to_qimage(img))
    assert back.size == (33, 17) and back.getpixel((5, 6)) == (255, 0, 128)


def test_open_image_errors_are_engine_errors(tmp_path):
    p = tmp_path / "x.png"
    p.write_text("hello")
    with pytest.raises(engine.ImageError):
        eb.open_image(p)
