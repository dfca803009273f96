"""Platform rules: Wayland captures through the desktop portal, macOS checks the Screen Recording permission; a
capture that cannot work says why instead of grabbing nothing."""

import sys

import pytest

from dsocr_app.capture import platform_rules as pr


def test_wayland_is_detected_and_captures_through_the_portal():
    assert pr.is_wayland("wayland", {})
    assert pr.is_wayland("wayland-egl", {})
    assert not pr.is_wayland("xcb", {"XDG_SESSION_TYPE": "wayland"})
    assert pr.is_wayland("", {"XDG_SESSION_TYPE": "wayland"})
    assert pr.uses_portal("wayland", {}) and pr.uses_portal("xcb", {"WAYLAND_DISPLAY": "wayland-0"})  # XWayland
    assert not pr.uses_portal("xcb", {"DISPLAY": ":0"}) and not pr.uses_portal("offscreen", {})
    if sys.platform != "darwin":
        assert pr.capture_problem("wayland") is None  # no longer refused: the portal takes the screenshot


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
