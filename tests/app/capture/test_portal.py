"""Wayland's screenshot through the XDG desktop portal, against a fake portal (fake_portal.py, jeepney) on a
private D-Bus session bus (dbus-daemon started here): the Screenshot call and its Request's Response, the
image DSOCR gets, a cancel, a portal that never answers, no portal at all; and the capture flow on it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtDBus import QDBusConnection
from PySide6.QtGui import QGuiApplication

from dsocr_app.capture.portal import PortalScreenshot, request_path
from dsocr_app.capture.settings import CaptureSettings

FAKE = Path(__file__).with_name("fake_portal.py")
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:dir={folder}</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/>
</policy></busconfig>"""


class Bus:
    """A private session bus (no service activation: only what a test starts answers) and a fake portal on it."""

    def __init__(self, folder: Path):
        config = folder / "bus.conf"
        config.write_text(BUS_CONFIG.format(folder=folder))
        self.daemon = subprocess.Popen(["dbus-daemon", "--config-file", str(config), "--nofork", "--print-address"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = self.daemon.stdout.readline().strip()
        self.portal = None
        self.name = f"dsocr-test-{os.getpid()}-{id(self)}"
        self.connection = QDBusConnection.connectToBus(self.address, self.name)
        assert self.connection.isConnected(), self.address

    def start_portal(self, mode: str, image: Path) -> None:
        self.portal = subprocess.Popen([sys.executable, str(FAKE), self.address, mode, str(image)],
                                       stdout=subprocess.PIPE, text=True)
        assert self.portal.stdout.readline().strip() == "ready"

    def calls(self) -> dict:
        """The options of the portal's next Screenshot call."""
        return json.loads(self.portal.stdout.readline())

    def close(self) -> None:
        QDBusConnection.disconnectFromBus(self.name)
        for p in (self.portal, self.daemon):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)


@pytest.fixture
def bus(tmp_path):
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not installed (apt-get install dbus; .ci/run installs it)")
    pytest.importorskip("jeepney", reason="jeepney (the fake portal's D-Bus library) is a test dependency")
    b = Bus(tmp_path)
    yield b
    b.close()


@pytest.fixture
def desktop(qapp, tmp_path):
    """A screenshot of the whole (offscreen) desktop, as the portal writes it: known random pixels."""
    g = QGuiApplication.primaryScreen().geometry()
    path = tmp_path / "Screenshot.png"
    Image.fromarray((np.random.default_rng(3).random((g.height(), g.width(), 3)) * 255).astype(np.uint8)).save(path)
    return path, np.asarray(Image.open(path).convert("RGB"))


def take(qtbot, portal, interactive):
    outcome = []
    portal.taken.connect(lambda image: outcome.append(("taken", image)))
    portal.cancelled.connect(lambda: outcome.append(("cancelled", None)))
    portal.failed.connect(lambda message: outcome.append(("failed", message)))
    portal.take(interactive=interactive)
    qtbot.waitUntil(lambda: bool(outcome), timeout=20000)
    return outcome


def test_the_request_path_follows_the_portal_spec():
    assert request_path(":1.42", "dsocr_ab") == "/org/freedesktop/portal/desktop/request/1_42/dsocr_ab"


def test_the_portal_screenshot_is_what_dsocr_gets(bus, desktop, qtbot):
    path, pixels = desktop
    bus.start_portal("answer", path)
    portal = PortalScreenshot(bus.connection)
    outcome = take(qtbot, portal, interactive=True)
    options = bus.calls()
    assert options["interactive"] is True and options["modal"] is True and options["handle_token"].startswith("dsocr_")
    assert [kind for kind, _ in outcome] == ["taken"]
    image = outcome[0][1]
    from dsocr_app.inputs import qimg_to_rgb

    assert np.array_equal(np.asarray(qimg_to_rgb(image)), pixels)
    assert not path.exists()  # the portal's file was DSOCR's screenshot: read, then removed
    assert not portal.busy


def test_a_cancel_in_the_portal_dialog_is_a_cancel(bus, desktop, qtbot):
    bus.start_portal("cancel", desktop[0])
    outcome = take(qtbot, PortalScreenshot(bus.connection), interactive=True)
    assert outcome == [("cancelled", None)] and desktop[0].exists()


def test_a_portal_that_never_answers_is_said(bus, desktop, qtbot):
    bus.start_portal("silent", desktop[0])
    portal = PortalScreenshot(bus.connection)
    portal.response_timeout_ms = 300
    outcome = take(qtbot, portal, interactive=False)
    assert outcome == [("failed", "the desktop portal did not deliver the screenshot in time; try again")]
    assert bus.calls()["interactive"] is False


def test_no_portal_on_the_bus_is_said(bus, qtbot):
    outcome = take(qtbot, PortalScreenshot(bus.connection), interactive=False)
    assert outcome[0][0] == "failed"
    message = outcome[0][1]
    assert message.startswith("no XDG desktop portal answered on the session bus (")
    assert "install xdg-desktop-portal" in message and "X11 session" in message


@pytest.fixture
def wayland_window(qtbot, settings, tiny_v2, bus):
    """The resident's hidden window, its capture controller taking screenshots through the fake portal."""
    from dsocr_app.window import MainWindow

    w = MainWindow(settings)
    w.quiet = True
    w.set_max_tokens(4)
    settings.model = str(tiny_v2)
    w.capturer.use_portal(PortalScreenshot(bus.connection, w.capturer))
    yield w
    w.runs.close()
    w.deleteLater()


def capture(qtbot, controller, **kw):
    answers = []
    controller.capture(done=answers.append, **kw)
    qtbot.waitUntil(lambda: bool(answers), timeout=120000)
    return answers[0]


def test_a_wayland_region_capture_cuts_the_portal_screenshot(bus, desktop, wayland_window, qtbot, tmp_path):
    path, pixels = desktop
    bus.start_portal("answer", path)
    answer = capture(qtbot, wayland_window.capturer, region=[30, 40, 200, 120], save=str(tmp_path / "cap.png"))
    assert answer["ok"], answer
    assert bus.calls()["interactive"] is False  # the whole desktop, cut here
    saved = np.asarray(Image.open(tmp_path / "cap.png").convert("RGB"))
    assert np.array_equal(saved, pixels[40:160, 30:230])
    assert wayland_window.queue.items[-1].name == "Capture 1"


def test_the_portal_dialog_picks_the_region_when_asked(bus, desktop, wayland_window, qtbot, tmp_path, settings):
    path, pixels = desktop
    CaptureSettings.of(settings).portal_dialog = True
    bus.start_portal("answer", path)  # the fake's "selection" is its whole image
    answer = capture(qtbot, wayland_window.capturer, save=str(tmp_path / "cap.png"))
    assert answer["ok"], answer
    assert bus.calls()["interactive"] is True
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cap.png").convert("RGB")), pixels)


def test_a_wayland_capture_without_a_portal_says_so(bus, wayland_window, qtbot):
    answer = capture(qtbot, wayland_window.capturer, region=[0, 0, 10, 10])
    assert answer["ok"] is False and answer["error"].startswith("no XDG desktop portal answered")
    assert not wayland_window.capturer.busy and not wayland_window.queue.items
