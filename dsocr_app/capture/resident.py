"""The running instance's side: answer later instances' requests (applying the options they hand over), keep
running without a window (tray / menu bar, model kept loaded), and quit for real from a menu.

While DSOCR stays resident, closing the window hides it ("Close window" in the File menu when there is a tray
icon to come back from); File > Quit and the icon's "Quit DSOCR" quit, cancelling the running work and saying
so. On macOS the Dock icon goes away while no window shows and comes back with the window.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from . import hotkey, link, platform_rules
from .instance import InstanceServer, Request
from .tray import Tray


class Resident(QObject):
    """Owns the instance server and the tray icon of the running app; captures go to the window's controller."""

    def __init__(self, app: QApplication, window, stay: bool):
        super().__init__(window)
        self.app, self.window = app, window
        self.controller = window.capturer
        self.server = InstanceServer(parent=self)
        self.server.requested.connect(self.handle)
        self.listening = self.server.listen()
        self.tray: Tray | None = None
        self.quitting = False
        self.stay = False
        self.controller.notify.connect(self.message)
        window.installEventFilter(self)
        quit_action = window.acts["quit"]  # File > Quit quits, even while closing the window only hides it
        quit_action.triggered.disconnect()
        quit_action.triggered.connect(lambda: self.quit())
        window.acts["close_window"].setVisible(False)
        self.hotkey = hotkey.create(app.platformName(), self)  # the global capture shortcut
        self.hotkey.pressed.connect(lambda: self.controller.capture())
        if self.listening:
            self.apply_shortcut(startup=True)
        self.controller.settingsSaved.connect(self.apply_shortcut)
        if stay or self.controller.settings.keep_running:
            self.start_tray()

    def apply_shortcut(self, startup: bool = False) -> None:
        """Register the capture shortcut of the settings (again, when they changed); a problem is said on
        stderr at start, and in the window (or the tray) after the settings changed."""
        text = self.controller.settings.shortcut
        if text == self.hotkey.text or not self.listening:
            return
        problem = self.hotkey.register(text)
        if problem and startup:
            print(f"dsocr-app: {problem}", file=sys.stderr)
        elif problem and self.window.isVisible():
            self.window.report(problem, dialog=True)
        elif problem:
            self.message("DSOCR capture shortcut", problem)

    def start_tray(self) -> None:
        already, self.stay = self.stay, True
        self.app.setQuitOnLastWindowClosed(False)
        if self.tray is None and Tray.available():
            self.tray = Tray(self.controller.settings, self)
            self.tray.captureRequested.connect(lambda: self.controller.capture())
            self.tray.showRequested.connect(self.show_window)
            self.tray.quitRequested.connect(lambda: self.quit())
            self.controller.delivered.connect(self.tray.offer)  # before its notification: "Last capture"
            self.tray.show()
            self.window.acts["close_window"].setVisible(True)
        elif self.tray is None and not already:
            print("dsocr-app: no system tray here; DSOCR keeps running in the background "
                  "(`dsocr-app --capture` reaches it, `dsocr-app` shows its window)", file=sys.stderr)
        if not self.window.isVisible():
            platform_rules.set_dock_icon(False)

    def message(self, title: str, text: str) -> None:
        if self.tray is not None:
            self.tray.message(title, text)

    def show_window(self) -> None:
        platform_rules.set_dock_icon(True)
        link.show(self.window)

    def shutdown(self) -> None:
        """Stop answering, end a capture in progress, close the window for real (its worker thread stops)."""
        self.quitting = True
        self.server.close()
        self.hotkey.close()
        self.controller.abort("DSOCR was quit before the capture finished")
        self.window.close()

    def quit(self, code: int = 0) -> None:
        """Quit for real; the running work is cancelled, and said so on stderr (one line)."""
        work = link.work_in_progress(self.window, self.controller.busy)
        if work:
            print(f"dsocr-app: quitting: cancelled {work}", file=sys.stderr)
        self.shutdown()
        self.app.exit(code)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Close and not self.quitting \
                and (self.stay or self.controller.settings.keep_running):  # the setting may be new
            self.start_tray()
            self.window.save_settings()
            self.window.hide()
            platform_rules.set_dock_icon(False)
            event.ignore()
            return True
        if obj is self.window and event.type() == QEvent.Type.Close and not self.quitting:
            work = link.work_in_progress(self.window, self.controller.busy)  # a plain window: closing quits
            if work:
                print(f"dsocr-app: quitting: cancelled {work}", file=sys.stderr)
        return False

    def handle(self, request: Request) -> None:
        """A later instance's request: capture, open files, show the window, stay in the tray, or status (model,
        queue, plan options). The options handed with it are applied first, or the request is refused."""
        m = request.message
        if request.action == "status":
            request.reply(ok=True, model=link.model_name(self.window), loading=link.loading(self.window),
                          busy=self.controller.busy, queue=link.queue_names(self.window),
                          plan=link.plan_status(self.window))
            return
        if request.action not in ("capture", "open", "show", "tray"):
            request.reply(ok=False, error=f"unknown request {request.action!r}")
            return
        if request.action == "capture" and self.controller.busy:  # before its options change what runs
            request.reply(ok=False, error="a capture is already running")
            return
        options = m.get("options") or {}
        problem = link.apply_options(self.window, options) if isinstance(options, dict) else "bad options"
        if problem:
            request.reply(ok=False, error=problem, refused=True)
            return
        model = options.get("model")
        if request.action == "capture":
            if model:  # the capture waits for it (and fails with the load's error)
                link.load_model(self.window, str(model), lambda _error: None)
            self.controller.capture(m.get("region"), m.get("save"), done=lambda answer: request.reply(**answer))
            return
        try:
            message = self._act(request.action, m)
        except ValueError as e:  # e.g. --pages beyond a PDF's end
            request.reply(ok=False, error=str(e))
            return
        if model:
            link.load_model(self.window, str(model), lambda error: request.reply(ok=False, error=error) if error
                            else request.reply(ok=True, message=f"{message}; the model {model} is loaded"))
        else:
            request.reply(ok=True, message=message)

    def _act(self, action: str, m: dict) -> str:
        """Do an `open`, `show` or `tray` request; what was done (ValueError when it cannot be done)."""
        if action == "open":
            self.show_window()
            if m.get("sample"):
                from ..sample import document_page

                self.window.add_image(document_page(), "Sample page")
            if m.get("files"):
                self.window.add_paths([str(f) for f in m.get("files", [])], pages=m.get("pages"))
            return "opened in the running DSOCR"
        if action == "tray":
            self.start_tray()
            return "DSOCR already runs; it now stays in the tray / menu bar"
        self.show_window()
        return "shown the running DSOCR"
