"""The screenshot on Wayland: the XDG desktop portal's Screenshot interface over QtDBus.

`org.freedesktop.portal.Screenshot.Screenshot(parent_window, {handle_token, interactive, modal})` on
`org.freedesktop.portal.Desktop` answers a Request object's path at once; the screenshot comes later as that
Request's `Response(code, {"uri": ...})` signal (0: done, 1: cancelled by the user, 2: failed). The Request's
path is known before the call (the caller's unique bus name and the token), so the signal is subscribed first.

`take(interactive)` ends in exactly one of `taken(QImage)`, `cancelled()` or `failed(message)`; a portal that
does not answer (none installed, or stuck) is said as such after `call_timeout_ms` / `response_timeout_ms`.
With `interactive` the desktop's own dialog picks the region (the image is the selection); without it the
image is the whole desktop, for DSOCR's overlay. The portal's file is read and then deleted (it is DSOCR's
screenshot, not the user's).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusPendingCallWatcher
from PySide6.QtGui import QImage

SERVICE = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
INTERFACE = "org.freedesktop.portal.Screenshot"
REQUEST = "org.freedesktop.portal.Request"
SLOT = "1_on_response(uint,QVariantMap)"  # Qt's SLOT(): QtDBus hands the a{sv} over as a QVariantMap (a dict)
NO_PORTAL = ("no XDG desktop portal answered on the session bus ({why}): install xdg-desktop-portal and your "
             "desktop's portal (xdg-desktop-portal-gnome, -kde or -wlr), or capture in an X11 session")


def request_path(unique_name: str, token: str) -> str:
    """The Request object the portal makes for a call from `unique_name` (":1.42") with `token`."""
    return f"{PATH}/request/{unique_name.lstrip(':').replace('.', '_')}/{token}"


class PortalScreenshot(QObject):
    """One screenshot at a time from the desktop portal on `bus` (default: the session bus)."""

    taken = Signal(object)  # QImage
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, bus: QDBusConnection | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.bus = bus if bus is not None else QDBusConnection.sessionBus()
        self.call_timeout_ms = 10_000
        self.response_timeout_ms = 300_000  # the user may take a while in the portal's dialog
        self._path = ""
        self._watcher: QDBusPendingCallWatcher | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._end("failed", "the desktop portal did not deliver the "
                                                      "screenshot in time; try again"))

    @property
    def busy(self) -> bool:
        return bool(self._path)

    def take(self, interactive: bool = False) -> None:
        if self.busy:
            self.failed.emit("a portal screenshot is already being taken")
            return
        if not self.bus.isConnected():
            self.failed.emit(NO_PORTAL.format(why="no D-Bus session bus"))
            return
        token = "dsocr_" + secrets.token_hex(6)
        self._path = request_path(self.bus.baseService(), token)
        self.bus.connect(SERVICE, self._path, REQUEST, "Response", self, SLOT)
        call = QDBusMessage.createMethodCall(SERVICE, PATH, INTERFACE, "Screenshot")
        call.setArguments(["", {"handle_token": token, "interactive": bool(interactive), "modal": True}])
        self._watcher = QDBusPendingCallWatcher(self.bus.asyncCall(call, self.call_timeout_ms), self)
        self._watcher.finished.connect(self._on_reply)

    def _on_reply(self, watcher: QDBusPendingCallWatcher) -> None:
        if not self.busy:
            return
        if watcher.isError():
            error = watcher.error()
            self._end("failed", NO_PORTAL.format(why=error.message() or error.name()))
            return
        self._timer.start(self.response_timeout_ms)

    @Slot("uint", "QVariantMap")
    def _on_response(self, code: int, results: dict) -> None:
        if not self.busy:
            return
        if int(code) == 1:
            self._end("cancelled")
            return
        uri = str(results.get("uri", ""))
        if int(code) != 0 or not uri:
            self._end("failed", "the desktop portal could not take the screenshot")
            return
        path = Path(QUrl(uri).toLocalFile())
        image = QImage(str(path))
        if image.isNull():
            self._end("failed", f"could not read the portal's screenshot {uri}")
            return
        path.unlink(missing_ok=True)
        self._end("taken", image)

    def _end(self, outcome: str, value=None) -> None:
        self._timer.stop()
        self.bus.disconnect(SERVICE, self._path, REQUEST, "Response", self, SLOT)
        self._path = ""
        if self._watcher is not None:
            self._watcher.deleteLater()
            self._watcher = None
        if outcome == "taken":
            self.taken.emit(value)
        elif outcome == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(value)
