"""The QApplication subclass: app identity, files opened from the Dock or Finder (`QFileOpenEvent`), and the
clipboard left clean at quit.

File-open events can arrive before the window exists (a launch by double-clicking a document), so they are
kept until a receiver connects.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QFileOpenEvent, QGuiApplication
from PySide6.QtWidgets import QApplication
from shiboken6 import Shiboken

from . import __version__
from .settings import APPLICATION, ORGANIZATION


def release_clipboard() -> bool:
    """Clear the clipboard if it holds a QMimeData made in Python; True if it did.

    Such an object, left on the clipboard, is deleted by Qt after the interpreter has started to finalise and
    the process dies with a segfault at exit. The app itself copies through Qt's setters (Qt makes and owns
    that data, which survives); this is the safety net for any Python-made data, called at quit."""
    app = QGuiApplication.instance()
    mime = app.clipboard().mimeData() if app is not None else None
    if mime is not None and Shiboken.isValid(mime) and Shiboken.createdByPython(mime):
        app.clipboard().clear()
        return True
    return False


class DsocrApplication(QApplication):
    fileOpenRequested = Signal(str)

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self.setOrganizationName(ORGANIZATION)
        self.setApplicationName(APPLICATION)
        self.setApplicationDisplayName("DSOCR")
        self.setApplicationVersion(__version__)
        self.setDesktopFileName("dsocr-app")
        self._early_files: list[str] = []
        self._receiver = None
        self.aboutToQuit.connect(release_clipboard)

    def connect_file_open(self, slot) -> None:
        """Send file-open requests to `slot` (a Slot of a GUI object), including those that came earlier."""
        self._receiver = slot
        self.fileOpenRequested.connect(slot)
        early, self._early_files = self._early_files, []
        for path in early:
            slot(path)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen:
            ev = QFileOpenEvent(event) if not isinstance(event, QFileOpenEvent) else event
            path = ev.file() or ev.url().toLocalFile()
            if path:
                if self._receiver is None:
                    self._early_files.append(path)
                else:
                    self.fileOpenRequested.emit(path)
                return True
        return super().event(event)
