"""Platform rules: Wayland is told to use X11, macOS checks the Screen Recording permission; a capture that
cannot work says why instead of grabbing nothing."""

import sys

import pytest

from dsocr_app.capture import platform_rules as pr


def test_wayland_is_detected_and_explained():
    assert pr.is_wayland("wayland", {})
    assert pr.is_wayland("wayland-egl", {})
    assert not pr.is_wayland("xcb", {"XDG_SESSION_TYPE": "wayland"})  # XWayland: X11 capture works
    assert pr.is_wayland("", {"XDG_SESSION_TYPE": "wayland"})
    assert "X11" in pr.capture_problem("wayland")


@pytest.mark.skipif(sys.platform == "darwin", reason="the permission is real on macOS")
def test_elsewhere_no_permission_and_no_dock():
    assert pr.capture_problem("xcb") is None
    assert pr.set_dock_icon(False) is False


def test_a_capture_that_cannot_work_says_why(qtbot, settings, monkeypatch):
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    monkeypatch.setattr(pr, "capture_problem", lambda _name: pr.PERMISSION_MESSAGE)
    notes, answers = [], []
    w.capturer.notify.connect(lambda title, text: notes.append(text))
    w.capturer.capture(region=[0, 0, 10, 10], done=answers.append)
    assert answers == [{"ok": False, "error": pr.PERMISSION_MESSAGE}] and notes == [pr.PERMISSION_MESSAGE]
    assert "Screen Recording" in pr.PERMISSION_MESSAGE and not w.queue.items
