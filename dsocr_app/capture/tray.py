"""The tray / menu-bar icon: Capture text, Show window, the capture task, "Keep running in the menu bar",
"Last capture", Quit; and the capture notifications. On macOS the icon is a template image (drawn black, tinted
by the system for light and dark menu bars).

A notification cannot carry buttons (QSystemTrayIcon), so a capture's "Copy as markdown" / "Copy as plain text"
(and its codes: copy, open the link) are the "Last capture" submenu, which also pops up where the user clicks
the capture's notification (where the platform reports that click)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QRectF, Qt, QUrl, Signal
from PySide6.QtGui import (QAction, QActionGroup, QColor, QCursor, QDesktopServices, QGuiApplication, QIcon, QPainter,
                           QPen, QPixmap)
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .. import engine_bridge as eb
from ..plan_options import TASK_LABELS
from . import deliver
from .settings import CaptureSettings

CLICK_HINT = "Click: copy as markdown or plain text"


def tray_icon() -> QIcon:
    """A selection frame around three text lines; a mask (template) icon on macOS."""
    mac = sys.platform == "darwin"
    color = QColor(0, 0, 0) if mac else QColor(255, 140, 0)
    icon = QIcon()
    for size in (16, 22, 32, 44, 64):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 16
        p.setPen(QPen(color, 1.4 * s, Qt.PenStyle.DashLine))
        p.drawRect(QRectF(1.5 * s, 1.5 * s, 13 * s, 13 * s))
        p.setPen(QPen(color, 1.6 * s))
        for i, width in enumerate((8, 9, 6)):
            y = (5 + 3 * i) * s
            p.drawLine(QRectF(4 * s, y, width * s, 0).topLeft(), QRectF(4 * s, y, width * s, 0).topRight())
        p.end()
        icon.addPixmap(pm)
    icon.setIsMask(mac)
    return icon


class Tray(QObject):
    """The icon and its menu. Signals: `captureRequested`, `showRequested`, `quitRequested`."""

    captureRequested = Signal()
    showRequested = Signal()
    quitRequested = Signal()

    def __init__(self, settings: CaptureSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.icon = QSystemTrayIcon(tray_icon(), self)
        self.icon.setToolTip("DSOCR: capture text from the screen")
        self.menu = QMenu()
        self.menu.addAction("Capture text", lambda: self.captureRequested.emit())
        self.menu.addAction("Show window", lambda: self.showRequested.emit())
        self.menu.addSeparator()
        tasks = self.menu.addMenu("Capture as")
        group = QActionGroup(self)
        for task in eb.TASKS:
            a = QAction(TASK_LABELS.get(task, task), group, checkable=True)
            a.setData(task)
            a.setChecked(task == settings.task)
            tasks.addAction(a)
        group.triggered.connect(lambda a: setattr(self.settings, "task", a.data()))
        self.keep = self.menu.addAction("Keep running in the menu bar")
        self.keep.setCheckable(True)
        self.keep.setChecked(settings.keep_running)
        self.keep.toggled.connect(lambda on: setattr(self.settings, "keep_running", on))
        self.last_menu = self.menu.addMenu("Last capture")  # filled by `offer`
        self.last_menu.setEnabled(False)
        self.last: dict | None = None
        self._offered = self._clickable = False
        self.menu.addSeparator()
        self.menu.addAction("Quit DSOCR", lambda: self.quitRequested.emit())
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_message_clicked)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def message(self, title: str, text: str) -> None:
        """Show a notification; the one right after `offer` (that capture's) says a click offers its copies."""
        self._clickable, self._offered = self._offered, False
        if self._clickable:
            text = f"{text}\n{CLICK_HINT}"
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 6000)

    def offer(self, answer: dict) -> None:
        """A finished capture (the controller's answer): its copies in the "Last capture" menu."""
        if not answer.get("ok"):
            return
        self.last, self._offered = answer, True
        menu = self.last_menu
        menu.clear()
        for form, label in (("markdown", "Copy as markdown"), ("plain", "Copy as plain text")):
            menu.addAction(label, lambda f=form: self.copy_last(f)).setEnabled(answer.get("source") != "codes")
        for code in (eb.Code.from_dict(c) for c in answer.get("codes") or []):
            menu.addAction(f"Copy {code.format}: {deliver.first_line(code.text, 40)}",
                           lambda t=code.text: QGuiApplication.clipboard().setText(t))
            if code.url:
                menu.addAction(f"Open {deliver.first_line(code.url, 60)}",
                               lambda u=code.url: QDesktopServices.openUrl(QUrl(u)))
        menu.setEnabled(True)

    def copy_last(self, form: str) -> None:
        """The last capture's text again, as markdown or as plain text (lines joined if the settings say so)."""
        if self.last is not None:
            deliver.copy_as(QGuiApplication.clipboard(), form, self.last.get("text", ""),
                            self.settings.line_breaks == "join")

    def _on_message_clicked(self) -> None:
        if self._clickable and self.last is not None:
            self.last_menu.popup(QCursor.pos())

    def _on_activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger and sys.platform != "darwin":
            self.captureRequested.emit()  # a left click captures (on macOS a click opens the menu)
