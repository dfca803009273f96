"""The running instance's side: answer later instances' requests, keep running without a window (tray /
menu bar, model kept loaded), and quit for real only from the menu.

While DSOCR stays resident, closing the window hides it; on macOS the Dock icon goes away while no window
shows and comes back with the window.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from . import link, platform_rules
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
        if stay or self.controller.settings.keep_running:
            self.start_tray()

    def start_tray(self) -> None:
        already, self.stay = self.stay, True
        self.app.setQuitOnLastWindowClosed(False)
        if self.tray is None and Tray.available():
            self.tray = Tray(self.controller.settings, self)
            self.tray.captureRequested.connect(lambda: self.controller.capture())
            self.tray.showRequested.connect(self.show_window)
            self.tray.quitRequested.connect(lambda: self.quit())
            self.tray.show()
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
        """Stop answering, close the window for real (its worker thread stops)."""
        self.quitting = True
        self.server.close()
        self.window.close()

    def quit(self, code: int = 0) -> None:
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
        return False

    def handle(self, request: Request) -> None:
        """A later instance's request: capture, open files, show the window, or status (model, queue)."""
        m = request.message
        if request.action == "capture":
            self.controller.capture(m.get("region"), m.get("save"), done=lambda answer: request.reply(**answer))
        elif request.action == "open":
            self.show_window()
            try:
                self.window.add_paths([str(f) for f in m.get("files", [])], pages=m.get("pages"))
            except ValueError as e:  # e.g. --pages beyond a PDF's end
                request.reply(ok=False, error=str(e))
                return
            request.reply(ok=True, message="opened in the running DSOCR")
        elif request.action == "tray":
            self.start_tray()
            request.reply(ok=True, message="DSOCR already runs; it now stays in the tray / menu bar")
        elif request.action == "status":
            request.reply(ok=True, model=link.model_name(self.window), loading=link.loading(self.window),
                          busy=self.controller.busy, queue=link.queue_names(self.window))
        elif request.action == "show":
            self.show_window()
            request.reply(ok=True, message="shown the running DSOCR")
        else:
            request.reply(ok=False, error=f"unknown request {request.action!r}")
