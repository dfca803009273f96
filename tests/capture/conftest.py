"""Capture test set-up: offscreen Qt for in-process widget tests; a real X server (Xvfb, started here) and
DSOCR processes on it for the end-to-end tests; a tiny model."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from dsocr_app import engine_bridge as eb  # noqa: E402
from dsocr_app.app import DsocrApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOW_IMAGE = r"""
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
label = QLabel()
label.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
label.setPixmap(QPixmap(sys.argv[1]))
label.setGeometry(0, 0, label.pixmap().width(), label.pixmap().height())
label.show()
for _ in range(20):
    app.processEvents()
print("shown", flush=True)
app.exec()
"""


@pytest.fixture(autouse=True)
def own_instance_name(monkeypatch, request):
    """In-process servers listen on a test's own name, never on the user's running DSOCR."""
    monkeypatch.setenv("DSOCR_INSTANCE", f"dsocr-t{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}")


@pytest.fixture(scope="session")
def qapp_cls():
    return DsocrApplication


@pytest.fixture(scope="session")
def tiny_v2(tmp_path_factory):
    return eb.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v2", version="v2")


@pytest.fixture
def xserver(tmp_path):
    """A fresh Xvfb (800x600, 24 bit) and the environment of a DSOCR process on it: its own settings folder,
    its own instance name, offline. Skips when Xvfb or xclip is not installed (.ci/run installs both)."""
    for tool in ("Xvfb", "xclip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install xvfb xclip)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        display = f.readline().strip()
    env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "DSOCR_INSTANCE": f"dsocr-test-{os.getpid()}-{display}", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("WAYLAND_DISPLAY", None)
    procs: list[subprocess.Popen] = []
    _qt_starts_on_x11(env)
    yield {"env": env, "procs": procs}
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    proc.terminate()
    proc.wait(10)


_QT_X11: list[str] = []


def _qt_starts_on_x11(env) -> None:
    """Skip (once asked, every time) when Qt's xcb plugin cannot load: X11 libraries missing (see .ci/run)."""
    if not _QT_X11:
        probe = subprocess.run([sys.executable, "-c", "from PySide6.QtGui import QGuiApplication; QGuiApplication([])"],
                               env=env, capture_output=True, text=True, timeout=60)
        _QT_X11.append("" if probe.returncode == 0 else probe.stderr.strip().splitlines()[0])
    if _QT_X11[0]:
        pytest.skip(f"Qt cannot start on X11 here ({_QT_X11[0]}); .ci/run lists the packages it needs")


def show_image(xserver, path):
    """Show the image at the screen's top-left corner in a frameless window (a child process)."""
    p = subprocess.Popen([sys.executable, "-c", SHOW_IMAGE, str(path)], env=xserver["env"], stdout=subprocess.PIPE,
                         text=True)
    xserver["procs"].append(p)
    assert p.stdout.readline().strip() == "shown"
    time.sleep(0.3)
    return p


def dsocr_app(xserver, *args, timeout=180):
    """Run `dsocr-app ARGS` on the X server to its end."""
    return subprocess.run([sys.executable, "-m", "dsocr_app", *args], env=xserver["env"], capture_output=True,
                          text=True, timeout=timeout)


def start_resident(xserver, *args):
    """`dsocr-app --tray ARGS` in the background; returns once it answers (model loaded when one was given)."""
    p = subprocess.Popen([sys.executable, "-m", "dsocr_app", "--tray", *args], env=xserver["env"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    xserver["procs"].append(p)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = status(xserver)
        if answer and answer.get("ok") and not answer.get("loading") and (answer.get("model") or "--model" not in args):
            return p
        assert p.poll() is None, p.communicate()
        time.sleep(0.3)
    raise AssertionError("the resident DSOCR did not come up")


def status(xserver):
    """The running instance's status answer (None when none runs), asked through the instance socket."""
    code = ("import json, sys; from dsocr_app.capture.instance import send; "
            "print(json.dumps(send({'action': 'status'}, timeout_s=10)))")
    out = subprocess.run([sys.executable, "-c", code], env=xserver["env"], capture_output=True, text=True, timeout=60)
    import json

    return json.loads(out.stdout or "null")


def clipboard(xserver) -> str:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=xserver["env"], capture_output=True,
                          text=True, timeout=10).stdout


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from dsocr_app.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
