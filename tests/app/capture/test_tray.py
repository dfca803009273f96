"""The tray / menu-bar icon's menu, and staying resident: closing the window hides it, Quit quits."""

import sys

from PySide6.QtWidgets import QApplication

from dsocr_app.capture.resident import Resident
from dsocr_app.capture.settings import CaptureSettings
from dsocr_app.capture import tray as tray_module
from dsocr_app.capture.tray import Tray, tray_icon


def actions(menu):
    return {a.text(): a for a in menu.actions() if a.text()}


def test_menu_captures_shows_quits_and_sets_the_task(qtbot, settings):
    s = CaptureSettings(settings.q)
    tray = Tray(s)
    items = actions(tray.menu)
    assert {"Capture text", "Show window", "Capture as", "Keep running in the menu bar", "Quit DSOCR"} <= set(items)
    for text, signal in (("Capture text", tray.captureRequested), ("Show window", tray.showRequested),
                         ("Quit DSOCR", tray.quitRequested)):
        with qtbot.waitSignal(signal):
            items[text].trigger()
    tasks = actions(items["Capture as"].menu())
    assert tasks["Free OCR"].isChecked()
    tasks["Markdown"].trigger()
    assert CaptureSettings(settings.q).task == "markdown"
    items["Keep running in the menu bar"].trigger()
    assert CaptureSettings(settings.q).keep_running


def test_icon_is_a_template_on_macos(qapp):
    icon = tray_icon()
    assert not icon.isNull() and icon.isMask() == (sys.platform == "darwin")


def test_resident_window_hides_on_close_and_keeps_its_worker(qtbot, settings):
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    w.quiet = True
    qtbot.addWidget(w)
    w.show()
    r = Resident(QApplication.instance(), w, stay=True)
    try:
        assert not QApplication.instance().quitOnLastWindowClosed()
        w.close()
        assert not w.isVisible() and w.runs.host.thread.isRunning()  # hidden, the model stays loaded
        r.show_window()
        assert w.isVisible()
        r.shutdown()  # quit() without app.exit(), which would end every later event loop of the tests
        assert not w.isVisible() and not w.runs.host.thread.isRunning()
    finally:
        QApplication.instance().setQuitOnLastWindowClosed(True)
        r.server.close()


def test_plain_window_closes_for_real(qtbot, settings):
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    r = Resident(QApplication.instance(), w, stay=False)
    try:
        w.close()
        assert not w.runs.host.thread.isRunning()
    finally:
        r.server.close()


def test_keep_running_set_in_the_settings_dialog_takes_effect_at_close(qtbot, settings):
    from dsocr_app.settings_dialog import CaptureSection, SettingsDialog
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    r = Resident(QApplication.instance(), w, stay=False)  # a plain start: closing would quit
    try:
        dialog = SettingsDialog(settings, w)
        section = [s for s in dialog.sections if isinstance(s, CaptureSection)][0]
        assert section.task.currentData() == "free" and not section.keep.isChecked()
        section.task.setCurrentIndex(section.task.findData("markdown"))
        section.keep.setChecked(True)
        dialog.accept()
        assert (CaptureSettings(settings.q).task, CaptureSettings(settings.q).keep_running) == ("markdown", True)
        w.close()
        assert not w.isVisible() and w.runs.host.thread.isRunning()  # hidden, not closed: now resident
        assert not QApplication.instance().quitOnLastWindowClosed()
    finally:
        r.shutdown()  # quit() without app.exit(), which would end every later event loop of the tests
        QApplication.instance().setQuitOnLastWindowClosed(True)


def _resident(settings, qtbot, monkeypatch, tray: bool):
    """A window kept running (as with --tray) with or without a system tray; its app's exit recorded."""
    from dsocr_app.window import MainWindow

    monkeypatch.setattr(Tray, "available", staticmethod(lambda: tray))
    w = MainWindow(settings)
    w.quiet = True
    qtbot.addWidget(w)
    w.show()
    app = QApplication.instance()
    exits = []
    monkeypatch.setattr(app, "exit", exits.append)  # app.exit would end every later event loop of the tests
    r = Resident(app, w, stay=True)
    return w, r, exits


def test_without_a_tray_file_quit_quits(qtbot, settings, monkeypatch):
    w, r, exits = _resident(settings, qtbot, monkeypatch, tray=False)
    try:
        assert not w.acts["close_window"].isVisible()  # no tray to come back from: no "Close window"
        w.acts["quit"].trigger()
        assert exits == [0] and not w.isVisible() and not w.runs.host.thread.isRunning()
    finally:
        QApplication.instance().setQuitOnLastWindowClosed(True)
        r.server.close()


def test_with_a_tray_close_window_hides_and_quit_quits(qtbot, settings, monkeypatch):
    w, r, exits = _resident(settings, qtbot, monkeypatch, tray=True)
    try:
        assert r.tray is not None and w.acts["close_window"].isVisible()
        w.acts["close_window"].trigger()
        assert not w.isVisible() and w.runs.host.thread.isRunning() and exits == []
        r.show_window()
        w.acts["quit"].trigger()
        assert exits == [0] and not w.runs.host.thread.isRunning()
    finally:
        QApplication.instance().setQuitOnLastWindowClosed(True)
        r.server.close()


def test_quit_cancels_the_running_work_and_says_so(qtbot, settings, monkeypatch, capsys, tiny_v1):
    from PySide6.QtGui import QGuiApplication, QPixmap

    from dsocr_app.capture.screens import Shot

    w, r, exits = _resident(settings, qtbot, monkeypatch, tray=False)
    try:
        settings.model = str(tiny_v1)
        answers = []
        shot = QPixmap(200, 100)
        shot.fill()
        w.capturer.grab = lambda: [Shot(QGuiApplication.primaryScreen(), (0, 0, 200, 100), shot)]
        w.capturer.capture(done=answers.append)  # the overlay waits for a selection: a capture in progress
        assert w.capturer.busy
        capsys.readouterr()  # what the start said ("no system tray here")
        w.acts["quit"].trigger()
        assert exits == [0] and not w.capturer.busy
        assert answers and not answers[0]["ok"] and "quit" in answers[0]["error"]  # the asker is told why
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "cancelled" in err[0] and "capture" in err[0], err
    finally:
        QApplication.instance().setQuitOnLastWindowClosed(True)
        r.server.close()


def test_last_capture_offers_markdown_plain_and_its_codes(qtbot, settings):
    from PySide6.QtGui import QGuiApplication

    s = CaptureSettings(settings.q)
    s.line_breaks = "join"
    tray = Tray(s)
    last = actions(tray.menu)["Last capture"]
    assert not last.isEnabled()
    tray.offer({"ok": False, "error": "cancelled"})
    assert not last.isEnabled() and tray.last is None
    code = {"format": "QR Code", "text": "https://a.example", "position": [[0, 0], [9, 0], [9, 9], [0, 9]]}
    tray.offer({"ok": True, "text": "# Title\n\nexam-\nple", "task": "markdown", "source": "ocr", "codes": [code]})
    items = actions(last.menu())
    assert last.isEnabled() and set(items) == {"Copy as markdown", "Copy as plain text",
                                               "Copy QR Code: https://a.example", "Open https://a.example"}
    board = QGuiApplication.clipboard()
    items["Copy as markdown"].trigger()
    assert board.text() == "# Title\n\nexample"  # joined, as the settings say
    items["Copy as plain text"].trigger()
    assert board.text() == "Title\n\nexample"
    items["Copy QR Code: https://a.example"].trigger()
    assert board.text() == "https://a.example"
    tray.offer({"ok": True, "text": "https://a.example", "source": "codes", "codes": [code]})
    items = actions(last.menu())
    assert not items["Copy as markdown"].isEnabled() and items["Copy QR Code: https://a.example"].isEnabled()
    board.clear()


def test_the_capture_notification_says_a_click_offers_the_copies(qtbot, settings, monkeypatch):
    tray = Tray(CaptureSettings(settings.q))
    shown, popped = [], []
    monkeypatch.setattr(tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(tray_module.QSystemTrayIcon, "supportsMessages", staticmethod(lambda: True))
    monkeypatch.setattr(tray.icon, "showMessage", lambda title, text, *a: shown.append(text))
    monkeypatch.setattr(tray.last_menu, "popup", lambda pos: popped.append(pos))
    tray.offer({"ok": True, "text": "Hello", "task": "free", "source": "ocr", "codes": []})
    tray.message("DSOCR capture", "Hello\n3 tokens")
    tray.icon.messageClicked.emit()
    tray.message("DSOCR capture failed", "no screen")  # not a capture's: no offer, a click does nothing
    tray.icon.messageClicked.emit()
    assert shown == ["Hello\n3 tokens\n" + tray_module.CLICK_HINT, "no screen"]
    assert len(popped) == 1
