"""One instance per user: requests and answers over the local socket, a stale socket, the per-user name."""

import json
import os
import socket
import subprocess
import sys

import pytest
from PySide6.QtCore import QDir

from dsocr_app.capture import instance


@pytest.fixture
def name():
    return os.environ["DSOCR_INSTANCE"]  # the test's own (conftest)


def ask(message: dict) -> subprocess.Popen:
    """A second DSOCR asking: `send` from another process, as `dsocr-app --capture` does (Qt objects made in
    a bare Python thread of this process are not what the app does, and crashed the event loop once)."""
    code = ("import json, sys; from dsocr_app.capture.instance import send; "
            "print(json.dumps(send(json.loads(sys.argv[1]), timeout_s=30)))")
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(message)], stdout=subprocess.PIPE, text=True)


def test_request_and_answer(qtbot, name):
    server = instance.InstanceServer()
    assert server.name == name and server.listen()
    got = []
    server.requested.connect(lambda r: (got.append(r.message), r.reply(ok=True, text="Hello\nworld")))
    client = ask({"action": "capture", "region": [1, 2, 3, 4]})
    qtbot.waitUntil(lambda: client.poll() is not None, timeout=60000)  # the server answers from this event loop
    assert got == [{"action": "capture", "region": [1, 2, 3, 4]}]
    assert json.loads(client.stdout.read()) == {"ok": True, "text": "Hello\nworld"}
    assert not instance.InstanceServer().listen()  # the name is taken while the first one runs
    server.close()


def test_no_instance_means_none(qapp, name):
    assert instance.send({"action": "show"}) is None


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket files")
def test_a_stale_socket_left_by_a_crash_is_taken_over(qapp, name):
    path = os.path.join(QDir.tempPath(), name)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)  # a socket file nobody listens on
    s.close()
    try:
        server = instance.InstanceServer()
        assert server.listen()
        server.close()
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_malformed_message_and_names(monkeypatch):
    assert instance.decode(b"not json") == {"action": "invalid"}
    assert instance.decode(b"[1, 2]") == {"action": "invalid"}
    assert instance.decode(instance.encode({"a": "\u00e9"})) == {"a": "\u00e9"}
    monkeypatch.delenv("DSOCR_INSTANCE", raising=False)
    n = instance.server_name()
    assert n.startswith("dsocr-") and len(n) < 40 and n == instance.server_name()
