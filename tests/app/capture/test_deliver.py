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


PARAGRAPHS = "# Note\n\nThe exam-\nple reads\non.\n\n- one\n- two"


def test_clipboard_texts_join_lines_and_choose_the_plain_form():
    joined = "# Note\n\nThe example reads on.\n\n- one\n- two"
    assert deliver.clipboard_texts("free", PARAGRAPHS) == {"text/plain": PARAGRAPHS}
    assert deliver.clipboard_texts("free", PARAGRAPHS, join=True) == {"text/plain": joined}
    md = deliver.clipboard_texts("markdown", PARAGRAPHS, form="markdown", join=True)
    assert md == {"text/plain": joined, "text/markdown": joined}
    plain = deliver.clipboard_texts("markdown", PARAGRAPHS, form="plain", join=True)
    assert plain == {"text/plain": eb.text_form("plain", joined), "text/markdown": joined}
    assert "#" not in plain["text/plain"] and "The example reads on." in plain["text/plain"]


def test_copy_appends_each_flavour_after_a_blank_line(qapp):
    from PySide6.QtGui import QGuiApplication

    board = QGuiApplication.clipboard()
    board.setText("held before")
    deliver.copy(board, "free", "first", append=True)
    assert board.text() == "held before\n\nfirst"
    deliver.copy(board, "markdown", "**second**", form="markdown", append=True)
    assert board.text() == "held before\n\nfirst\n\n**second**"
    assert bytes(board.mimeData().data("text/markdown")).decode() == "held before\n\nfirst\n\n**second**"
    deliver.copy(board, "free", "replaced")
    assert board.text() == "replaced"
    board.clear()
    deliver.copy(board, "free", "into an empty clipboard", append=True)
    assert board.text() == "into an empty clipboard"
    board.clear()


def test_copy_as_markdown_or_plain_whatever_the_task(qapp):
    from PySide6.QtGui import QGuiApplication

    board = QGuiApplication.clipboard()
    deliver.copy_as(board, "markdown", MARKDOWN)
    assert board.text() == MARKDOWN and bytes(board.mimeData().data("text/markdown")).decode() == MARKDOWN
    deliver.copy_as(board, "plain", MARKDOWN)
    assert board.text() == eb.text_form("plain", MARKDOWN) and not board.mimeData().hasFormat("text/markdown")
    deliver.copy_as(board, "plain", "exam-\nple", join=True)
    assert board.text() == "example"
    board.clear()


def test_code_notification_and_text():
    codes = [eb.Code("QR Code", "https://a.b", ((0, 0), (9, 0), (9, 9), (0, 9))),
             eb.Code("EAN-13", "4006381333931", ((0, 20), (9, 20), (9, 29), (0, 29)))]
    assert deliver.codes_text(codes) == "https://a.b\n4006381333931"
    assert deliver.code_notification(codes, 0.04) == ("QR Code: https://a.b\n"
                                                      "2 codes \u00b7 0.0 s \u00b7 copied to the clipboard")
    assert deliver.code_notification(codes[:1], 0.2, append=True).endswith(
        "1 code \u00b7 0.2 s \u00b7 appended to the clipboard")
    assert deliver.notification("x", 3, 1.0, append=True).endswith("appended to the clipboard")


def test_clipboard_settings(settings):
    s = CaptureSettings(settings.q)
    assert (s.line_breaks, s.form, s.append) == ("keep", "plain", False)
    s.line_breaks, s.form, s.append = "join", "markdown", True
    s2 = CaptureSettings(settings.q)
    assert (s2.line_breaks, s2.form, s2.append) == ("join", "markdown", True)
    settings.q.setValue("capture/line_breaks", "sideways")
    settings.q.setValue("capture/clipboard_form", "html")
    assert (s2.line_breaks, s2.form) == ("keep", "plain")
