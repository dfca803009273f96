"""A real X session for capture tests and `bench/capture.py`: an Xvfb started here, a known image on its
screen, DSOCR processes on it (a resident instance, one-shot commands), the clipboard as xclip reads it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
X11_TOOLS = ("Xvfb", "xclip")
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


def missing_tools() -> list[str]:
    return [t for t in X11_TOOLS if shutil.which(t) is None]


class XSession:
    """Xvfb (800x600, 24 bit) and the environment of DSOCR processes on it: their own settings folder
    (`config`), their own instance name, offline. `close()` ends every process started here."""

    def __init__(self, config: Path, size: str = "800x600"):
        read, write = os.pipe()
        self.server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24",
                                        "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as f:
            display = f.readline().strip()
        self.env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(config),
                    "DSOCR_DATA_DIR": str(config.parent / "data"),
                    "DSOCR_INSTANCE": f"dsocr-x-{os.getpid()}-{display}", "HF_HUB_OFFLINE": "1",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.env.pop("WAYLAND_DISPLAY", None)
        self.procs: list[subprocess.Popen] = []

    def qt_problem(self) -> str:
        """'' when Qt starts on this X server, else the first line of its complaint (X11 libraries missing)."""
        probe = subprocess.run([sys.executable, "-c", "from PySide6.QtGui import QGuiApplication; QGuiApplication([])"],
                               env=self.env, capture_output=True, text=True, timeout=60)
        return "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["failed"])[0]

    def show_image(self, path) -> None:
        """Show the image at the screen's top-left corner in a frameless window (a child process)."""
        p = subprocess.Popen([sys.executable, "-c", SHOW_IMAGE, str(path)], env=self.env, stdout=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        assert p.stdout.readline().strip() == "shown"
        time.sleep(0.3)

    def dsocr_app(self, *args, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run `dsocr-app ARGS` to its end."""
        return subprocess.run([sys.executable, "-m", "dsocr_app", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start_resident(self, *args) -> subprocess.Popen:
        """`dsocr-app --tray ARGS` in the background; returns once it answers (with its model loaded when
        `--model` is given)."""
        p = subprocess.Popen([sys.executable, "-m", "dsocr_app", "--tray", *args], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = self.status()
            if answer and answer.get("ok") and not answer.get("loading") and (answer.get("model") or "--model" not in args):
                return p
            if p.poll() is not None:
                raise RuntimeError(f"the resident DSOCR exited: {p.communicate()}")
            time.sleep(0.3)
        raise RuntimeError("the resident DSOCR did not come up")

    def ask(self, message: dict, timeout_s: float = 60):
        """Send a request to the running instance (from a separate process); its answer, or None."""
        code = ("import json, sys; from dsocr_app.capture.instance import send; "
                f"print(json.dumps(send(json.loads(sys.argv[1]), timeout_s={timeout_s})))")
        out = subprocess.run([sys.executable, "-c", code, json.dumps(message)], env=self.env, capture_output=True,
                             text=True, timeout=timeout_s + 60)
        return json.loads(out.stdout or "null")

    def status(self):
        return self.ask({"action": "status"}, timeout_s=10)

    def xdotool(self, *args) -> None:
        """Keys and pointer as a user would (`xdotool key ctrl+shift+2`, `mousemove X Y`, ...)."""
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=30)

    def clipboard(self) -> str:
        return subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=self.env, capture_output=True,
                              text=True, timeout=10).stdout

    def close(self) -> None:
        for p in [*self.procs, self.server]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
