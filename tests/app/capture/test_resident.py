"""The running instance's side of a hand-over: the options a later `dsocr-app` hands over are applied to what it
opens (or refused, with the reason in the answer and nothing changed); status tells what it plans with."""

import json

import pytest
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QApplication

from dsocr_app.capture.instance import Request
from dsocr_app.capture.resident import Resident


class Answer:
    """Stands in for the caller's socket: keeps the one-line answer."""

    def __init__(self):
        self.data = b""

    def state(self):
        return QLocalSocket.LocalSocketState.ConnectedState

    def write(self, data):
        self.data += bytes(data)

    def flush(self):
        pass

    def disconnectFromServer(self):
        pass

    def deleteLater(self):
        pass

    @property
    def value(self):
        return json.loads(self.data) if self.data else None


@pytest.fixture
def resident(window):
    r = Resident(QApplication.instance(), window, stay=True)
    yield r
    r.shutdown()  # quit() without app.exit(), which would end every later event loop of the tests
    QApplication.instance().setQuitOnLastWindowClosed(True)


def ask(resident, qtbot, message):
    answer = Answer()
    resident.handle(Request(message, answer))
    qtbot.waitUntil(lambda: answer.value is not None, timeout=60000)
    return answer.value


def test_options_handed_over_apply_to_what_is_opened(resident, window, qtbot, page):
    assert window.options().version == "v2"
    got = ask(resident, qtbot, {"action": "open", "files": [str(page)], "options": {
        "version": "v1", "mode": "gundam-m", "max_tiles": 6, "max_tokens": 7}})
    assert got["ok"], got
    o = window.options()
    assert (o.version, o.mode, o.max_tiles, window.max_tokens) == ("v1", "gundam-m", 6, 7)
    assert [i.name for i in window.queue.items] == ["page.png"]
    plan = window.current_plan  # the opened page is planned with them
    assert (plan.version, plan.mode) == ("v1", "gundam-m")
    status = ask(resident, qtbot, {"action": "status"})
    assert status["plan"] == {"version": "v1", "mode": "gundam-m", "min_tiles": o.min_tiles, "max_tiles": 6,
                              "max_tokens": 7}


@pytest.mark.parametrize("options, words", [
    ({"mode": "huge"}, "unknown mode 'huge'"),
    ({"version": "v2", "mode": "tiny"}, "unknown mode 'tiny' for v2"),
    ({"max_tiles": 99}, "max=99"),
    ({"max_tokens": 0}, "--max-tokens 0"),
])
def test_options_the_instance_cannot_take_are_refused(resident, window, qtbot, page, options, words):
    before = (window.options(), window.max_tokens)
    got = ask(resident, qtbot, {"action": "open", "files": [str(page)], "options": options})
    assert got["ok"] is False and got["refused"] and words in got["error"], got
    assert (window.options(), window.max_tokens) == before and window.queue.items == []  # nothing done


def test_a_handed_model_is_loaded_before_the_answer(resident, window, qtbot, tiny_v1):
    got = ask(resident, qtbot, {"action": "show", "options": {"model": str(tiny_v1)}})
    assert got["ok"], got
    assert window.model is not None and window.model.name == str(tiny_v1) and window.options().version == "v1"
    got = ask(resident, qtbot, {"action": "show", "options": {"version": "v2"}})  # the loaded model is v1
    assert not got["ok"] and got["refused"] and "v1 model" in got["error"] and window.options().version == "v1"
    got = ask(resident, qtbot, {"action": "show", "options": {"model": "/nowhere/model"}})
    assert not got["ok"] and "/nowhere/model" in got["error"] and "refused" not in got


def test_unknown_request_is_refused(resident, qtbot):
    got = ask(resident, qtbot, {"action": "explode"})
    assert got == {"ok": False, "error": "unknown request 'explode'"}


def test_a_sample_is_handed_over_too(resident, window, qtbot):
    got = ask(resident, qtbot, {"action": "open", "files": [], "sample": True, "options": {"mode": "base"}})
    assert got["ok"] and [i.name for i in window.queue.items] == ["Sample page"]
    assert window.current_plan.mode == "base"


def test_a_capture_while_one_runs_changes_nothing(resident, window, qtbot, monkeypatch):
    monkeypatch.setattr(type(resident.controller), "busy", property(lambda self: True))
    before = window.options()
    got = ask(resident, qtbot, {"action": "capture", "region": [0, 0, 10, 10], "options": {"mode": "tiny"}})
    assert got == {"ok": False, "error": "a capture is already running"} and window.options() == before
