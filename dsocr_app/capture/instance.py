"""One running DSOCR per user and display: the first instance listens on a local socket, later ones hand it their
request.

A request is one line of JSON (`{"action": "capture", "region": [x, y, w, h], "options": {...}, ...}`,
`{"action": "open", "files": [...]}`, `{"action": "show"}`); the answer is one line of JSON
(`{"ok": true, "text": ..., "message": ...}` or `{"ok": false, "error": ...}`), sent when the request is
done (for a capture: when its text is on the clipboard).

The socket is named after the user and the display (X11 `DISPLAY`, `WAYLAND_DISPLAY`; on macOS the user only),
so a second desktop session of the same user gets its own instance and captures its own screen; it lies in a
folder only the user can enter (0700): `$XDG_RUNTIME_DIR/dsocr`, else `dsocr-UID` in the temp folder.
`DSOCR_INSTANCE` replaces the name in that folder (tests use this to stay apart from a real running instance).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import stat
import sys
import tempfile

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


CONNECT_MS = 500
MAX_PATH = 100  # Unix socket paths: 104 (macOS) or 108 (Linux) bytes at most


class InstanceError(OSError):
    """The socket folder is not safe to use (one line that says why)."""


def display_key(platform: str = sys.platform) -> str:
    """The desktop session this process shows on: `WAYLAND_DISPLAY` and the X11 display (screens of one display
    are one session: ':1.0' is ':1'); '' on macOS and Windows (one session per user)."""
    if platform in ("darwin", "win32"):
        return ""
    x11 = os.environ.get("DISPLAY", "")
    if x11:
        host, _, rest = x11.rpartition(":")
        x11 = f"{'' if host == 'unix' else host}:{rest.split('.')[0]}"
    return " ".join(part for part in (os.environ.get("WAYLAND_DISPLAY", ""), x11) if part)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: fall back to the uid / a fixed name
        return str(getattr(os, "getuid", lambda: "user")())


def socket_folder() -> str:
    """The user's own folder for the socket, made 0700 if need be; InstanceError when it is a link or someone
    else's."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    uid = os.getuid()
    if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == uid and len(runtime) < MAX_PATH - 30:
        folder = os.path.join(runtime, "dsocr")
    else:
        folder = os.path.join(tempfile.gettempdir(), f"dsocr-{uid}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise InstanceError(f"{folder} is not a folder (a link?): remove it so DSOCR can keep its socket there")
    if st.st_uid != uid:
        raise InstanceError(f"{folder} belongs to another user: remove it so DSOCR can keep its socket there")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


def server_name() -> str:
    """The socket of this user's instance on this display (a path; a pipe name on Windows)."""
    name = os.environ.get("DSOCR_INSTANCE") or "dsocr-" + hashlib.sha1(
        f"{_user()}\0{display_key()}".encode()).hexdigest()[:12]
    if sys.platform == "win32":
        return name
    return os.path.join(socket_folder(), name)


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
        self.server = QLocalServer(self)  # the folder is the user's own (0700); the socket file too:
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
