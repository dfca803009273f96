"""One instance per user: requests and answers over the local socket, a stale socket, the per-user name."""

import os
import socket
import sys
import threading

import pytest
from PySide6.QtCore import QDir

from dsocr_app.capture import instance


@pytest.fixture
def name():
    return os.environ["DSOCR_INSTANCE"]  # the test's own (conftest)


def ask(message, results):
    results.append(instance.send(message, timeout_s=30))


def test_request_and_answer(qtbot, name):
    server = instance.InstanceServer()
    assert server.name == name and server.listen()
    got = []
    server.requested.connect(lambda r: (got.append(r.message), r.reply(ok=True, text="Hello\nworld")))
    results = []
    t = threading.Thread(target=ask, args=({"action": "capture", "region": [1, 2, 3, 4]}, results))
    t.start()
    qtbot.waitUntil(lambda: bool(results), timeout=40000)  # past send()'s own 30 s: it always answers
    t.join()
    assert got == [{"action": "capture", "region": [1, 2, 3, 4]}]
    assert results == [{"ok": True, "text": "Hello\nworld"}]
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
