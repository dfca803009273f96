"""The QApplication subclass: app identity, and files opened from the Dock or Finder (`QFileOpenEvent`).

File-open events can arrive before the window exists (a launch by double-clicking a document), so they are
kept until a receiver connects.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from . import __version__
from .qt_compat import emit
from .settings import APPLICATION, ORGANIZATION


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
                    emit(self.fileOpenRequested, path)
                return True
        return super().event(event)
