"""One running DSOCR per user: the first instance listens on a local socket, later ones hand it their request.

A request is one line of JSON (`{"action": "capture", "region": [x, y, w, h], "print": true, ...}`,
`{"action": "open", "files": [...]}`, `{"action": "show"}`); the answer is one line of JSON
(`{"ok": true, "text": ..., "message": ...}` or `{"ok": false, "error": ...}`), sent when the request is
done (for a capture: when its text is on the clipboard). The socket name is per user; `DSOCR_INSTANCE`
overrides it (tests use this to stay apart from a real running instance).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


CONNECT_MS = 500


def server_name() -> str:
    """The per-user socket name (short: Unix socket paths are limited to ~100 characters)."""
    override = os.environ.get("DSOCR_INSTANCE")
    if override:
        return override
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: fall back to the uid / a fixed name
        user = str(getattr(os, "getuid", lambda: "user")())
    return "dsocr-" + hashlib.sha1(user.encode()).hexdigest()[:12]


def encode(message: dict) -> bytes:
    return (json.dumps(message) + "\n").encode()


def decode(line: bytes) -> dict:
    """One JSON line -> a dict; a malformed line becomes `{"action": "invalid"}`."""
    try:
        value = json.loads(bytes(line).decode("utf-8", "replace"))
    except ValueError:
        return {"action": "invalid"}
    return value if isinstance(value, dict) else {"action": "invalid"}


def send(message: dict, name: str | None = None, timeout_s: float = 600.0) -> dict | None:
    """Hand `message` to the running instance and wait for its answer; None when no instance is running.

    Blocking (no event loop needed). A running instance that does not answer in `timeout_s` gives
    `{"ok": False, "error": ...}`."""
    sock = QLocalSocket()
    sock.connectToServer(name or server_name())
    if not sock.waitForConnected(CONNECT_MS):
        return None
    sock.write(encode(message))
    sock.flush()
    sock.waitForBytesWritten(CONNECT_MS * 4)
    buf = b""
    remaining_ms = int(timeout_s * 1000)
    while b"\n" not in buf and remaining_ms > 0:
        if sock.bytesAvailable() == 0 and not sock.waitForReadyRead(min(remaining_ms, 1000)):
            remaining_ms -= 1000
            if sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
                break
            continue
        buf += bytes(sock.readAll())
    sock.disconnectFromServer()
    if b"\n" not in buf:
        return {"ok": False, "error": "the running DSOCR did not answer (it may be busy or stuck); "
                                      "quit it from its menu-bar icon and try again"}
    return decode(buf.split(b"\n", 1)[0])


class Request:
    """One received request; `reply(...)` answers it (once) and closes the connection."""

    def __init__(self, message: dict, socket: QLocalSocket):
        self.message = message
        self._socket = socket

    @property
    def action(self) -> str:
        return str(self.message.get("action", ""))

    def reply(self, **answer) -> None:
        sock, self._socket = self._socket, None
        if sock is None:
            return
        if sock.state() == QLocalSocket.LocalSocketState.ConnectedState:
            sock.write(encode(answer))
            sock.flush()
            sock.disconnectFromServer()
        sock.deleteLater()


class InstanceServer(QObject):
    """Listens for later instances' requests (`requested(Request)`); `listen()` is False when another
    instance already listens."""

    requested = Signal(object)

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        # ask first: with UserAccessOption, Qt would silently replace a live instance's socket file
        probe = QLocalSocket()
        probe.connectToServer(self.name)
        if probe.waitForConnected(CONNECT_MS):
            probe.disconnectFromServer()
            return False
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # a stale socket file left by a crash
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            buf, done = bytearray(), []

            def read(sock=sock, buf=buf, done=done):
                buf.extend(bytes(sock.readAll()))
                if b"\n" in buf and not done:
                    done.append(True)
                    self.requested.emit(Request(decode(bytes(buf).split(b"\n", 1)[0]), sock))

            sock.readyRead.connect(read)
            sock.disconnected.connect(lambda sock=sock, done=done: None if done else sock.deleteLater())
            if sock.bytesAvailable():
                read()
