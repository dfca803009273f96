"""The History view: past captures, newest first, with thumbnails and full-text search; copy one again, open
it in the queue, delete one, clear all.

It reads the `CaptureHistory` when shown and when it changes (while shown), at most `SHOWN` captures at a time,
each with its small thumbnail read from disk (never the full image). `openRequested(path, name)` asks for a
capture's image in the queue (the window hands it to `Intake.add_stored`).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .capture import deliver
from .history import CaptureHistory
from .history_store import Entry

SHOWN = 200
EntryRole = Qt.ItemDataRole.UserRole + 1


def entry_label(entry: Entry) -> str:
    """'2025-05-01 14:03 · 42 tokens' over the capture's first line."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.time))
    head = deliver.first_line(entry.text, 60) or "(no text found)"
    lost = " \u00b7 image lost" if not entry.image_ok else ""
    return f"{when} \u00b7 {entry.tokens} tokens{lost}\n{head}"


def capture_name(entry: Entry) -> str:
    return "Capture " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.time))


class HistoryView(QWidget):
    openRequested = Signal(str, str)  # image path, queue name
    message = Signal(str)  # a passing note for the status bar

    def __init__(self, history: CaptureHistory, parent: QWidget | None = None):
        super().__init__(parent)
        self.history = history
        self.setAccessibleName("Capture history")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the text of past captures")
        self.search.setAccessibleName("Search the history")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Past captures")
        self.list.setIconSize(QSize(96, 64))
        self.list.setWordWrap(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.count = QLabel()
        self.copy_button = QPushButton("Copy again")
        self.open_button = QPushButton("Open in queue")
        self.delete_button = QPushButton("Delete")
        self.clear_button = QPushButton("Clear all\u2026")
        buttons = QHBoxLayout()
        for b in (self.copy_button, self.open_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count)
        layout.addLayout(buttons)
        self._stale = True
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(200)
        self._typing.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _text: self._typing.start())
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.copy_button.clicked.connect(self.copy_selected)
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.clear_button.clicked.connect(self.ask_clear)
        history.changed.connect(self._on_changed)
        self._update_buttons()

    # ---- contents -----------------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _on_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """List the captures matching the search (newest first, at most `SHOWN`)."""
        self._stale = False
        query = self.search.text().strip()
        entries = self.history.entries(query, SHOWN)
        self.list.clear()
        for entry in entries:
            item = QListWidgetItem(entry_label(entry))
            pixmap = QPixmap(str(entry.thumb)) if entry.image_ok else QPixmap()
            if not pixmap.isNull():
                item.setIcon(QIcon(pixmap))
            item.setToolTip(entry.text[:2000] or "(no text found)")
            item.setData(EntryRole, entry)
            self.list.addItem(item)
        total = self.history.count()
        if query:
            self.count.setText(f"{len(entries)}{'+' if len(entries) == SHOWN else ''} of {total} captures match")
        else:
            self.count.setText(f"{total} capture{'s' if total != 1 else ''}" +
                               (f" (the newest {SHOWN} shown)" if total > SHOWN else ""))
        if entries:
            self.list.setCurrentRow(0)
        self._update_buttons()

    def entries(self) -> list[Entry]:
        """The captures listed, top to bottom."""
        return [self.list.item(k).data(EntryRole) for k in range(self.list.count())]

    def selected(self) -> Entry | None:
        item = self.list.currentItem()
        return item.data(EntryRole) if item is not None else None

    def _update_buttons(self) -> None:
        entry = self.selected()
        for b in (self.copy_button, self.delete_button):
            b.setEnabled(entry is not None)
        self.open_button.setEnabled(entry is not None and entry.image_ok)
        self.clear_button.setEnabled(self.list.count() > 0 or bool(self.search.text()))

    # ---- commands -----------------------------------------------------------------------------------------

    def copy_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            deliver.copy(QGuiApplication.clipboard(), entry.task, entry.text)
            self.message.emit("Copied the capture's text again")

    def open_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        if not entry.image_ok:
            self.message.emit(f"The image of this capture is gone ({entry.image})")
            return
        self.openRequested.emit(str(entry.image), capture_name(entry))

    def delete_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            row = self.list.currentRow()
            self.history.delete(entry.id)
            self.list.setCurrentRow(min(row, self.list.count() - 1))

    def ask_clear(self) -> None:
        answer = QMessageBox.question(self, "Clear the history", "Delete every capture of the history (images and "
                                      "text)?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.clear()

    def clear(self) -> None:
        n = self.history.clear()
        self.message.emit(f"Deleted {n} capture{'s' if n != 1 else ''} from the history")
