"""Messages to the user: a problem (`report`: the status bar, kept as `last_error`, a dialog when asked unless
scripted) and a passing note (`notify`). The one owner of `quiet` (scripted: never open a dialog)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from .status_bar import StatusBar


class Messages(QObject):
    def __init__(self, status: StatusBar, parent: QWidget):
        super().__init__(parent)
        self.status, self.parent_widget = status, parent  # dialogs are parented to the window
        self.quiet = False
        self.last_error = ""
        self._box: QMessageBox | None = None

    def set_quiet(self, quiet: bool) -> None:
        self.quiet = bool(quiet)

    def report(self, message: str, title: str = "DSOCR", dialog: bool = False) -> None:
        """Show a problem in the status bar (and in a non-blocking box when `dialog`, unless scripted)."""
        self.last_error = message
        self.status.showMessage(message, 10000)
        if dialog and not self.quiet:
            if self._box is not None:
                self._box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                              self.parent_widget)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            box.open()
            self._box = box

    def notify(self, message: str, timeout_ms: int = 0) -> None:
        """A passing message in the status bar."""
        self.status.showMessage(message, timeout_ms)
