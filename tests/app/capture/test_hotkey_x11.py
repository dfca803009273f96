"""The global shortcut on a real X server (Xvfb): pressed with xdotool it fires (also with Num Lock on), a key
another X client holds is reported as owned by another program, and a resident DSOCR starts a capture on it."""

import shutil
import time

import pytest
from Xlib import X
from Xlib import display as xdisplay

from dsocr_app.capture.hotkey_x11 import X11Hotkey

pytestmark = pytest.mark.skipif(shutil.which("xdotool") is None,
                                reason="xdotool not installed (apt-get install xdotool; .ci/run installs it)")


def test_the_shortcut_pressed_on_the_x_server_fires(xserver, qtbot):
    h = X11Hotkey(xserver.env["DISPLAY"])
    assert h.register("Ctrl+Shift+2") is None and h.text == "Ctrl+Shift+2"
    try:
        with qtbot.waitSignal(h.pressed, timeout=5000):
            xserver.xdotool("key", "ctrl+shift+2")
        xserver.xdotool("key", "Num_Lock")  # the lock variants are grabbed too
        with qtbot.waitSignal(h.pressed, timeout=5000):
            xserver.xdotool("key", "ctrl+shift+2")
        with qtbot.assertNotEmitted(h.pressed, wait=500):
            xserver.xdotool("key", "ctrl+shift+3")
        assert h.register("Alt+Shift+K") is None  # changed in Settings: the old one is let go
        with qtbot.waitSignal(h.pressed, timeout=5000):
            xserver.xdotool("key", "alt+shift+k")
        with qtbot.assertNotEmitted(h.pressed, wait=500):
            xserver.xdotool("key", "ctrl+shift+2")
    finally:
        h.close()


class OtherProgram:
    """Another X client holding Ctrl+Shift+2 (as a screenshot tool might)."""

    def __init__(self, display: str):
        self.d = xdisplay.Display(display)
        self.keycode = self.d.keysym_to_keycode(ord("2"))
        self.d.screen().root.grab_key(self.keycode, X.ControlMask | X.ShiftMask, True, X.GrabModeAsync,
                                      X.GrabModeAsync)
        self.d.sync()
        self.open = True

    def close(self):
        if self.open:
            self.open = False
            self.d.close()


def test_a_shortcut_another_program_holds_is_reported(xserver):
    other = OtherProgram(xserver.env["DISPLAY"])
    h = X11Hotkey(xserver.env["DISPLAY"])
    try:
        problem = h.register("Ctrl+Shift+2")
        assert problem == ("The capture shortcut Ctrl+Shift+2 is owned by another program: choose another one in "
                           "Settings > Capture, or free it in that program")
        assert h.text == "" and h._display is None  # nothing kept
        assert h.register("Ctrl+Shift+3") is None  # another key is free
        other.close()
        assert h.register("Ctrl+Shift+2") is None  # and once the other program lets go, so is this one
    finally:
        h.close()
        other.close()


def wait_for(check, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_shortcut_starts_a_capture_in_the_resident_dsocr(xserver, tiny_v2, tmp_path):
    from PIL import Image

    page = tmp_path / "page.png"
    Image.new("RGB", (400, 300), (255, 255, 255)).save(page)
    xserver.show_image(page)
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "8")
    assert not xserver.status()["busy"]
    xserver.xdotool("key", "ctrl+shift+2")  # the overlay comes up: the capture is running
    wait_for(lambda: xserver.status()["busy"], 30)
    time.sleep(0.5)
    xserver.xdotool("mousemove", "30", "40", "mousedown", "1", "mousemove", "120", "100", "mousemove", "230", "160",
                    "mouseup", "1")
    wait_for(lambda: xserver.status()["queue"] == [["Capture 1", "done"]])
    assert not xserver.status()["busy"]
    assert xserver.clipboard().strip(), "the capture's text is not on the clipboard"


def test_a_resident_dsocr_says_when_another_program_owns_its_shortcut(xserver):
    other = OtherProgram(xserver.env["DISPLAY"])
    try:
        p = xserver.start_resident()
        p.terminate()
        _out, err = p.communicate(timeout=30)
    finally:
        other.close()
    assert "dsocr-app: The capture shortcut Ctrl+Shift+2 is owned by another program" in err
    assert "Traceback" not in err
