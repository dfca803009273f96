"""The capture flow: screenshot (on Wayland the desktop portal's) -> region (overlay, `--region`, or the portal's
dialog) -> OCR on the warm model -> clipboard,
notification, queue, and an answer for whoever asked (the tray menu, this process's command line, or a
later `dsocr-app --capture` through the instance socket).

The model starts loading when the capture starts, so it loads while the user is still selecting. The region
is scanned for QR codes and barcodes first: a region that is mostly a code (`engine.mostly_code`) gives the
code's text at once and runs no OCR (what was selected is the code; its modules are no text to read); otherwise
the codes found come with the OCR text. The answer is `{"ok": True, "text", "tokens", "seconds", "model_s",
"message", "task", "source", "codes"}` (seconds: release to clipboard; model_s: the engine's part of it;
source: "ocr" or "codes"; codes: `Code.to_dict()`s) or
`{"ok": False, "error"}`; a cancelled selection is `{"ok": False, "error": "cancelled", "cancelled": True}`.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap

from .. import engine_bridge as eb
from ..inputs import qimg_to_rgb
from . import deliver, link, platform_rules
from .overlay import RegionSelector
from .screens import crop_global, desktop_shots, grab_screens
from .settings import CaptureSettings

STEP_ASIDE_MS = 300


class CaptureController(QObject):
    """Runs one capture at a time for the main window `window` (which owns the model and the queue)."""

    notify = Signal(str, str)  # title, message (the tray shows it)
    delivered = Signal(dict)  # the answer of every finished capture
    settingsSaved = Signal()  # the settings dialog saved (the resident re-registers the capture shortcut)

    def __init__(self, window, parent: QObject | None = None):
        super().__init__(parent)
        self.window = window
        self.settings = CaptureSettings.of(window.settings)
        self.selector: RegionSelector | None = None
        self._done = None
        self._save: str | None = None
        self._target = None
        self._restore = False
        self._quit_on_close = True
        self._started = 0.0
        self._count = 0
        self._codes: list = []  # the QR codes / barcodes of the capture being OCRed
        self.grab = grab_screens  # the screenshot source (tests give known pixels)
        self.portal = None  # on Wayland: the desktop portal takes the screenshot (`use_portal`)
        self._region = None
        if platform_rules.uses_portal(QGuiApplication.platformName()):
            from .portal import PortalScreenshot

            self.use_portal(PortalScreenshot(parent=self))
        link.connect_runs(window, self._on_run_finished, self._on_run_failed)

    @property
    def busy(self) -> bool:
        return self._done is not None

    def capture(self, region=None, save: str | None = None, done=None) -> None:
        """Start a capture; `done(answer)` is called once with the answer. A shown main window steps aside for
        the screenshot (after `STEP_ASIDE_MS`, for the compositor) and comes back showing the capture."""
        done = done or (lambda _answer: None)
        if self.busy:
            done({"ok": False, "error": "a capture is already running"})
            return
        problem = platform_rules.capture_problem(QGuiApplication.platformName())
        if problem:
            self._answer_now(done, problem)
            return
        self._done, self._save = done, save
        app = QGuiApplication.instance()  # closing the overlays must not quit an app whose window stepped aside
        self._quit_on_close = app.quitOnLastWindowClosed()
        app.setQuitOnLastWindowClosed(False)
        link.ensure_model(self.window, self._fail)  # it loads while the user selects
        if not self.busy:  # no model to load
            return
        self._restore = self.window.isVisible()
        if self._restore:
            self.window.hide()
            QTimer.singleShot(STEP_ASIDE_MS, lambda: self._grab(region))
        else:
            self._grab(region)

    def use_portal(self, portal) -> None:
        """Take the screenshots through the desktop portal `portal` (a `PortalScreenshot`): on Wayland."""
        self.portal = portal
        portal.taken.connect(self._on_portal_shot)
        portal.cancelled.connect(lambda: self._cancelled() if self.busy else None)
        portal.failed.connect(self._fail)

    def _grab(self, region) -> None:
        if self.portal is not None:  # the answer comes later: `_on_portal_shot`
            self._region = region
            self.portal.take(interactive=region is None and self.settings.portal_dialog)
            return
        self._select(self.grab(), region)

    def _on_portal_shot(self, image) -> None:
        if not self.busy:
            return
        if self._region is None and self.settings.portal_dialog:  # the portal's dialog picked the region
            self._chosen(None if image.isNull() else qimg_to_rgb(image))
            return
        self._select(desktop_shots(QPixmap.fromImage(image)), self._region)

    def _select(self, shots, region) -> None:
        """The region of `shots` (the screenshots): `region` cut out, or the one the user selects."""
        if not shots:
            self._fail("could not take a screenshot (no screen found)")
            return
        if region is not None:
            try:
                _shot, _local, image = crop_global(shots, tuple(region))
            except ValueError as e:
                self._fail(str(e))
                return
            self._chosen(image)
            return
        self.selector = RegionSelector(shots, link.planner(self.window), self)
        self.selector.chosen.connect(lambda shot, rect: self._chosen(shot.crop(rect)))
        self.selector.cancelled.connect(self._cancelled)
        self.selector.start()

    @property
    def target(self):
        """The queue Target of the capture being OCRed (None before the selection and after the answer)."""
        return self._target

    def abort(self, message: str) -> bool:
        """End the capture in progress now (DSOCR quits): its asker gets `message`, the window stays as it is;
        False when no capture runs."""
        if not self.busy:
            return False
        self._restore = False
        self._finish({"ok": False, "error": message})
        return True

    def _answer_now(self, done, message: str) -> None:
        self.notify.emit("DSOCR capture", message)
        done({"ok": False, "error": message})

    def _chosen(self, image) -> None:
        self.selector = None
        if image is None:
            self._fail("the selection holds no pixels")
            return
        self._started = time.perf_counter()
        if self._save:
            try:
                Path(self._save).parent.mkdir(parents=True, exist_ok=True)
                image.save(self._save, format="PNG")
            except (OSError, ValueError) as e:
                self._fail(f"could not save the capture to {self._save}: {e}")
                return
        self._codes = eb.read_codes(image)
        if eb.mostly_code(self._codes, image.size):  # the user selected a code: its content, no OCR
            self._deliver_codes(image)
            return
        self._count += 1  # the run waits in the window's run queue for the model, if it is still loading
        self._target = link.queue_capture(self.window, image, f"Capture {self._count}", self.settings.task)

    def _cancelled(self) -> None:
        self.selector = None
        self._finish({"ok": False, "error": "cancelled", "cancelled": True})

    def _fail(self, message: str) -> None:
        if self.busy:
            self.notify.emit("DSOCR capture failed", message)
            self._finish({"ok": False, "error": message})

    def _on_run_finished(self, target, result) -> None:
        if target is not self._target or target is None:
            return
        task = target.task
        link.end_capture_task(self.window, target)  # later re-runs follow the window's task
        if result.stop_reason == "cancelled":  # cancelled in the window: no partial text on the clipboard
            self._fail("cancelled")
            return
        text, s = result.text, self.settings
        deliver.copy(QGuiApplication.clipboard(), task, text, s.form, s.line_breaks == "join", s.append)
        seconds = time.perf_counter() - self._started
        tokens = int(result.generated_tokens)
        message = deliver.notification(text, tokens, seconds, s.append)
        link.record_capture(self.window, target, result, task)  # before the answer: the history lists it then
        self._finish({"ok": True, "text": text, "tokens": tokens, "seconds": round(seconds, 3),
                      "model_s": round(float(result.elapsed_s), 3), "message": message, "task": task,
                      "source": "ocr", "codes": [c.to_dict() for c in self._codes]})
        self.notify.emit("DSOCR capture", message)  # after `delivered`: the tray offers this capture's copies

    def _deliver_codes(self, image) -> None:
        """A region that is mostly a QR code or barcode: the codes' text goes to the clipboard (and the capture
        to the history), no OCR runs."""
        codes, append = self._codes, self.settings.append
        text = deliver.codes_text(codes)
        deliver.copy(QGuiApplication.clipboard(), "free", text, append=append)
        link.record_code_capture(self.window, image, text)
        seconds = time.perf_counter() - self._started
        message = deliver.code_notification(codes, seconds, append)
        self._finish({"ok": True, "text": text, "tokens": 0, "seconds": round(seconds, 3), "model_s": 0.0,
                      "message": message, "task": "", "source": "codes", "codes": [c.to_dict() for c in codes]})
        self.notify.emit("DSOCR capture", message)

    def _on_run_failed(self, target, message: str) -> None:
        if target is self._target and target is not None:
            link.end_capture_task(self.window, target)
            self._fail(message)

    def _finish(self, answer: dict) -> None:
        done, self._done = self._done, None
        if self.selector is not None:
            self.selector.close()
            self.selector = None
        self._target = None
        QGuiApplication.instance().setQuitOnLastWindowClosed(self._quit_on_close)
        if self._restore:
            self._restore = False
            link.show(self.window)
            if answer.get("ok"):
                self.window.statusBar().showMessage(answer["message"].replace("\n", " \u2014 "), 8000)
            elif not answer.get("cancelled"):
                self.window.report(answer["error"])
        self.delivered.emit(answer)
        if done is not None:
            done(answer)
