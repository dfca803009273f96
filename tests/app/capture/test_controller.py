"""The capture flow in-process, on a known screenshot (the real screen grab is tested on Xvfb): region -> OCR
on the window's model -> clipboard, queue, answer; the model loading while the user selects; cancel; errors."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QPixmap

from dsocr_app.capture.screens import Shot
from dsocr_app.queue_model import State


@pytest.fixture
def known(tmp_path):
    """Known pixels: a 400x300 screen's screenshot."""
    path = tmp_path / "known.png"
    Image.fromarray((np.random.default_rng(1).random((300, 400, 3)) * 255).astype(np.uint8)).save(path)
    return path


def controller(window, known):
    c = window.capturer
    c.grab = lambda: [Shot(QGuiApplication.primaryScreen(), (0, 0, 400, 300), QPixmap(str(known)))]
    return c


@pytest.fixture
def hidden_window(qtbot, settings, tiny_v2):
    """The resident instance's main window: never shown, the tiny model remembered but not loaded."""
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    w.quiet = True
    w.set_max_tokens(6)
    settings.model = str(tiny_v2)
    yield w
    w.runs.close()
    w.deleteLater()


def run_capture(qtbot, controller, **kw):
    answers = []
    controller.capture(done=answers.append, **kw)
    qtbot.waitUntil(lambda: bool(answers), timeout=120000)
    return answers[0]


def test_region_capture_delivers_clipboard_queue_and_answer(qtbot, known, hidden_window, tmp_path):
    c = controller(hidden_window, known)
    answer = run_capture(qtbot, c, region=[30, 40, 200, 120], save=str(tmp_path / "cap.png"))
    assert answer["ok"], answer
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cap.png").convert("RGB")), np.asarray(Image.open(known))[40:160, 30:230])
    assert QGuiApplication.clipboard().text() == answer["text"]
    assert answer["tokens"] > 0 and answer["seconds"] > 0
    item = hidden_window.queue.items[-1]
    assert item.name == "Capture 1" and item.targets[0].state == State.DONE
    assert item.targets[0].text == answer["text"]
    assert item.targets[0].result.plan.image_size == (200, 120)
    assert "Free OCR." in item.targets[0].result.prompt  # the capture task, not the window's (markdown)
    assert item.targets[0].task == ""  # a later re-run follows the window's task
    assert not hidden_window.isVisible()


def test_model_loads_while_the_user_selects(qtbot, known, hidden_window):
    c = controller(hidden_window, known)
    answers = []
    c.capture(done=answers.append)
    assert hidden_window.runs.loading  # started with the selection, not after it
    overlay = c.selector.overlays[0]
    qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    qtbot.mouseMove(overlay, QPoint(110, 60))
    qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(110, 60))
    qtbot.waitUntil(lambda: bool(answers), timeout=120000)
    assert answers[0]["ok"], answers[0]
    assert hidden_window.queue.items[-1].targets[0].result.plan.image_size == (100, 50)


def test_escape_cancels_without_a_run(qtbot, known, hidden_window):
    c = controller(hidden_window, known)
    answers = []
    c.capture(done=answers.append)
    qtbot.keyClick(c.selector.overlays[0], Qt.Key.Key_Escape)
    assert answers == [{"ok": False, "error": "cancelled", "cancelled": True}]
    assert not hidden_window.queue.items and not c.busy


def test_markdown_task_puts_a_markdown_flavour_on_the_clipboard(qtbot, known, hidden_window):
    c = controller(hidden_window, known)
    c.settings.task = "markdown"
    answer = run_capture(qtbot, c, region=[0, 0, 120, 80])
    assert answer["ok"], answer
    mime = QGuiApplication.clipboard().mimeData()
    assert bytes(mime.data("text/markdown")).decode() == answer["text"]


def test_without_a_model_the_capture_says_what_to_do(qtbot, known, hidden_window, settings):
    settings.model = ""
    c = controller(hidden_window, known)
    notes = []
    c.notify.connect(lambda title, text: notes.append(text))
    answer = run_capture(qtbot, c, region=[0, 0, 10, 10])
    assert not answer["ok"] and "choose a model" in answer["error"] and notes
    assert not c.busy


def test_a_second_capture_while_one_runs_is_refused(qtbot, known, hidden_window):
    c = controller(hidden_window, known)
    first, second = [], []
    c.capture(done=first.append)
    c.capture(region=[0, 0, 10, 10], done=second.append)
    assert second == [{"ok": False, "error": "a capture is already running"}]
    c.selector.overlays[0].accept((0, 0, 50, 50))
    qtbot.waitUntil(lambda: bool(first), timeout=120000)
    assert first[0]["ok"]


def test_the_window_steps_aside_and_comes_back_with_the_capture(qtbot, known, hidden_window):
    """The toolbar's Capture: the window hides for the screenshot, the overlay opens, and after the run the
    window is back, the capture selected in its queue and the app still running."""
    from PySide6.QtWidgets import QApplication

    hidden_window.show()
    c = controller(hidden_window, known)
    hidden_window.acts["capture"].trigger()
    assert not hidden_window.isVisible()
    qtbot.waitUntil(lambda: c.selector is not None, timeout=5000)
    assert not QApplication.instance().quitOnLastWindowClosed()  # the overlays closing must not quit the app
    c.selector.overlays[0].accept((0, 0, 120, 90))
    qtbot.waitUntil(lambda: not c.busy, timeout=120000)
    assert hidden_window.isVisible() and QApplication.instance().quitOnLastWindowClosed()
    assert hidden_window.current_item().name == "Capture 1"
    assert hidden_window.current()[1].state.value == "done"


URL = "https://example.com/menu"


@pytest.fixture
def with_qr(tmp_path):
    """A 400x300 screenshot: random pixels on the left, a QR code of `URL` on white at the right."""
    qrcode = pytest.importorskip("qrcode")
    shot = Image.new("RGB", (400, 300), "white")
    shot.paste(Image.fromarray((np.random.default_rng(2).random((300, 200, 3)) * 255).astype(np.uint8)), (0, 0))
    code = qrcode.make(URL, box_size=4, border=2).get_image().convert("RGB")
    shot.paste(code, (240, 40))
    path = tmp_path / "qr-shot.png"
    shot.save(path)
    return path, (240, 40, code.width, code.height)


def test_a_region_that_is_mostly_a_code_copies_the_code_without_ocr(qtbot, with_qr, hidden_window):
    path, (x, y, w, h) = with_qr
    c = controller(hidden_window, path)
    c.settings.append = True
    QGuiApplication.clipboard().setText("held before")
    answer = run_capture(qtbot, c, region=[x - 10, y - 10, w + 20, h + 20])
    assert answer["ok"] and answer["source"] == "codes" and answer["tokens"] == 0, answer
    assert answer["text"] == URL and [(d["format"], d["text"]) for d in answer["codes"]] == [("QR Code", URL)]
    assert QGuiApplication.clipboard().text() == "held before\n\n" + URL
    assert answer["message"].startswith(f"QR Code: {URL}\n1 code")
    assert not hidden_window.queue.items  # no OCR run
    (kept,) = hidden_window.history.entries()  # but the capture is in the history, with the code's text
    assert (kept.text, kept.task, kept.tokens) == (URL, "codes", 0)
    assert Image.open(kept.image).size == (w + 20, h + 20)
    QGuiApplication.clipboard().clear()


def test_codes_beside_text_come_with_the_ocr_and_show_in_the_window(qtbot, with_qr, hidden_window):
    path, _ = with_qr
    c = controller(hidden_window, path)
    answer = run_capture(qtbot, c, region=[0, 0, 400, 300])
    assert answer["ok"] and answer["source"] == "ocr" and answer["tokens"] > 0, answer
    assert [d["text"] for d in answer["codes"]] == [URL]
    assert QGuiApplication.clipboard().text() == answer["text"]  # the OCR text, not the code
    target = hidden_window.queue.items[-1].targets[0]
    assert [code.text for code in target.result.codes] == [URL]  # the worker scanned the image it read
    hidden_window.selection.show_row(0)
    bar = hidden_window.results.codes
    assert not bar.isHidden() and f'<a href="{URL}">' in bar.text() and bar.openExternalLinks()
