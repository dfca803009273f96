"""Clipboard flavours and the notification line of a finished capture."""

from dsocr_app import engine_bridge as eb
from dsocr_app.capture import deliver
from dsocr_app.capture.settings import DEFAULT_TASK, CaptureSettings

MARKDOWN = "# Invoice\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n**Total** 3"


def test_markdown_task_gives_plain_text_and_a_markdown_flavour(qapp):
    texts = deliver.clipboard_texts("markdown", MARKDOWN)
    assert texts["text/markdown"] == MARKDOWN
    assert texts["text/plain"] == eb.text_form("plain", MARKDOWN) != MARKDOWN
    mime = deliver.mime_data("markdown", MARKDOWN)
    assert mime.text() == texts["text/plain"]
    assert bytes(mime.data("text/markdown")).decode() == MARKDOWN


def test_plain_tasks_give_plain_text_only(qapp):
    assert deliver.clipboard_texts("free", "Hello\nworld") == {"text/plain": "Hello\nworld"}
    mime = deliver.mime_data("free", "Hello")
    assert mime.text() == "Hello" and not mime.hasFormat("text/markdown")


def test_copy_plain_text_through_qt_and_markdown_with_a_flavour(qapp):
    from PySide6.QtGui import QGuiApplication
    from shiboken6 import Shiboken

    board = QGuiApplication.clipboard()
    deliver.copy(board, "free", "Hello")
    assert board.text() == "Hello" and not Shiboken.createdByPython(board.mimeData())  # survives the app
    deliver.copy(board, "markdown", MARKDOWN)
    assert board.text() == eb.text_form("plain", MARKDOWN)
    assert bytes(board.mimeData().data("text/markdown")).decode() == MARKDOWN
    board.clear()


def test_notification_shows_the_first_line_tokens_and_time():
    assert deliver.notification("\n\n  Dear Sir,\nthe rest", 42, 1.25) == (
        "Dear Sir,\n42 tokens \u00b7 1.2 s \u00b7 copied to the clipboard")
    assert deliver.notification("", 0, 0.5).startswith("(no text found)\n0 tokens")
    assert deliver.first_line("x" * 200, limit=10) == "x" * 9 + "\u2026"


def test_capture_settings(settings):
    s = CaptureSettings(settings.q)
    assert s.task == DEFAULT_TASK == "free" and s.keep_running is False
    s.task, s.keep_running = "markdown", True
    s2 = CaptureSettings(settings.q)
    assert (s2.task, s2.keep_running) == ("markdown", True)
    settings.q.setValue("capture/task", "nonsense")
    assert s2.task == "free"
