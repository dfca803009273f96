"""The tray / menu-bar icon: Capture text, Show window, the capture task, "Keep running in the menu bar",
Quit; and the capture notifications. On macOS the icon is a template image (drawn black, tinted by the
system for light and dark menu bars)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .. import engine_bridge as eb
from ..plan_options import TASK_LABELS
from .settings import CaptureSettings


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
        self.menu.addSeparator()
        self.menu.addAction("Quit DSOCR", lambda: self.quitRequested.emit())
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def message(self, title: str, text: str) -> None:
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 6000)

    def _on_activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger and sys.platform != "darwin":
            self.captureRequested.emit()  # a left click captures (on macOS a click opens the menu)
