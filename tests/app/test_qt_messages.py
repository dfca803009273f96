"""Qt's own chatter is filtered at app start: known harmless lines dropped, real warnings kept and said once."""

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QLoggingCategory, QtMsgType

from dsocr_app import qt_messages

ROOT = Path(__file__).resolve().parents[2]


def test_harmless_lines_are_dropped_and_real_ones_said_once():
    f = qt_messages.MessageFilter()
    warn = QtMsgType.QtWarningMsg
    assert f.line(warn, "default", "This plugin does not support propagateSizeHints()") is None
    assert f.line(warn, "qt.text.font.db", 'OpenType support missing for "Noto Sans", script 11') is None
    first = f.line(warn, "qt.qpa.xcb", "QXcbConnection: XCB error: 3 (BadWindow)")
    assert first == "dsocr-app: Qt: qt.qpa.xcb: QXcbConnection: XCB error: 3 (BadWindow)"
    assert f.line(warn, "qt.qpa.xcb", "QXcbConnection: XCB error: 3 (BadWindow)") is None  # said once
    assert f.line(QtMsgType.QtCriticalMsg, "default", "QPainter::begin: Paint device returned engine == 0") \
        == "dsocr-app: Qt: QPainter::begin: Paint device returned engine == 0"


def test_install_turns_the_font_database_category_off(qapp):
    rules = qt_messages.install(handler=False)  # the pytest-qt handler stays; only the category rules
    assert "qt.text.font.db" in rules
    assert not QLoggingCategory("qt.text.font.db").isWarningEnabled()
    assert QLoggingCategory("qt.qpa.xcb").isWarningEnabled()


def test_a_screenshot_writes_no_qt_chatter(tmp_path, page):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "DSOCR_INSTANCE": f"dsocr-qtm-{os.getpid()}"}
    r = subprocess.run([sys.executable, "-m", "dsocr_app", "--screenshot", str(shot), "--open", str(page),
                        "--size", "800x600"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0 and shot.exists(), r.stderr
    assert r.stderr == "" and r.stdout == f"{shot}\n"
