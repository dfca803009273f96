"""The tray / menu-bar icon's menu, and staying resident: closing the window hides it, Quit quits."""

import sys

from PySide6.QtWidgets import QApplication

from dsocr_app.capture.resident import Resident
from dsocr_app.capture.settings import CaptureSettings
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
