"""One instance per user and display: requests and answers over the local socket, a stale socket, the name (user
and display) and its folder (only the user can enter it)."""

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

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
    assert os.path.basename(server.name) == name and server.listen()
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
    path = instance.server_name()
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
    assert os.path.basename(n).startswith("dsocr-") and len(n) < 100 and n == instance.server_name()


@pytest.fixture
def runtime_dir(monkeypatch):
    """A short $XDG_RUNTIME_DIR of this test's own (socket paths must stay under ~100 characters)."""
    path = tempfile.mkdtemp(prefix="xdg-")
    os.chmod(path, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", path)
    monkeypatch.delenv("DSOCR_INSTANCE", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    yield path
    for root, dirs, files in os.walk(path, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for d in dirs:
            os.rmdir(os.path.join(root, d))
    os.rmdir(path)


@pytest.mark.skipif(sys.platform != "linux", reason="X11 / Wayland displays")
def test_the_name_is_per_display_and_its_folder_only_the_users(runtime_dir, monkeypatch):
    names = {}
    for display in (":1", ":1.0", "unix:1", ":2", "localhost:10.0"):
        monkeypatch.setenv("DISPLAY", display)
        names[display] = instance.server_name()
    assert names[":1"] == names[":1.0"] == names["unix:1"]  # screens of one display: one instance
    assert len({names[":1"], names[":2"], names["localhost:10.0"]}) == 3
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-1")
    assert instance.server_name() not in names.values()
    folder = os.path.dirname(names[":1"])
    assert folder == os.path.join(runtime_dir, "dsocr")
    st = os.lstat(folder)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()


def test_a_folder_others_can_enter_is_closed_and_a_foreign_one_refused(runtime_dir, monkeypatch):
    folder = os.path.join(runtime_dir, "dsocr")
    os.mkdir(folder)
    os.chmod(folder, 0o777)
    instance.server_name()
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    os.rmdir(folder)
    os.symlink(tempfile.gettempdir(), folder)  # a link planted to put the socket elsewhere
    with pytest.raises(instance.InstanceError, match="not a folder"):
        instance.server_name()
    os.unlink(folder)
    monkeypatch.delenv("XDG_RUNTIME_DIR")  # then a folder of the user's own in the temp folder
    monkeypatch.setattr(tempfile, "tempdir", runtime_dir)
    assert os.path.dirname(instance.server_name()) == os.path.join(runtime_dir, f"dsocr-{os.getuid()}")


def test_macos_ignores_the_display(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":3")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert instance.display_key("darwin") == "" and instance.display_key("linux") == ":3"


@pytest.mark.skipif(sys.platform != "linux", reason="X11")
def test_a_second_x_session_does_not_reach_the_first_ones_instance(runtime_dir, tmp_path):
    from .xsession import XSession, missing_tools

    if missing_tools():
        pytest.skip("Xvfb / xclip not installed")
    first, second = XSession(tmp_path / "a"), XSession(tmp_path / "b")
    try:
        for s in (first, second):
            s.env.pop("DSOCR_INSTANCE")  # the real name: user and display
            s.env["XDG_RUNTIME_DIR"] = runtime_dir
        if first.qt_problem():
            pytest.skip(f"Qt cannot start on X11 here ({first.qt_problem()})")
        first.start_resident()
        assert second.status() is None  # the second display has no instance of its own yet
        second.start_resident()
        assert first.status()["ok"] and second.status()["ok"]
        folder = os.path.join(runtime_dir, "dsocr")
        assert len(os.listdir(folder)) == 2 and stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    finally:
        first.close()
        second.close()
