"""Settings > Local API: the app serves `dsocr serve`'s HTTP API from the model it has loaded (one model in memory),
each request a run in its queue. Real clients (`openai`, `httpx`) call from a thread while the GUI thread's event
loop runs; servers listen on 127.0.0.1, free ports, stopped by the test (or by closing the window)."""

import concurrent.futures
import socket
import threading

import pytest

from dsocr_app import engine_bridge as eb
from dsocr_app.local_api.settings import ApiSettings
from dsocr_app.queue_model import State
from dsocr_app.sample import document_page
from dsocr_app.settings_dialog import SettingsDialog
from engine.outputs.export import render
from engine.service import discovery

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pool():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        yield ex


def call(qtbot, pool, fn):
    """`fn()` in a client thread while this (the GUI) thread's event loop runs, so the app can answer."""
    future = pool.submit(fn)
    qtbot.waitUntil(future.done, timeout=TIMEOUT_S * 1000)
    return future.result()


@pytest.fixture
def loads(monkeypatch):
    """Every model load the app does (the worker's `engine.load`)."""
    seen = []
    load = eb.load_model

    def counted(source, **kw):
        seen.append(source)
        return load(source, **kw)

    monkeypatch.setattr(eb, "load_model", counted)
    return seen


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "note.png"
    document_page(640, 480).save(path)
    return path


@pytest.fixture
def serving(make_window, settings, tiny_v1, qtbot, loads):
    """A window with the Local API on (a free port) and the remembered tiny model: turning it on loads the model,
    then serves it."""
    api = ApiSettings.of(settings)
    api.enabled, api.port = True, free_port()
    settings.model = str(tiny_v1)
    window = make_window()
    window.serve_local_api()
    qtbot.waitUntil(lambda: window.local_api.url != "", timeout=TIMEOUT_S * 1000)
    assert window.local_api.url == f"http://127.0.0.1:{api.port}"
    return window


def _client(window, **kw):
    return openai.OpenAI(base_url=window.local_api.url + "/v1", api_key=kw.pop("api_key", "unused"), max_retries=0,
                         timeout=TIMEOUT_S, **kw)


def _messages(path, text="free"):
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": _data_url(path)}}]}]


def _data_url(path) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _api_items(window):
    return [i for i in window.queue.items if i.name.startswith("API #")]


def test_the_api_answers_from_the_apps_one_model_as_its_own_run_does(serving, image_file, pool, qtbot, loads):
    window = serving
    client = _client(window)
    assert call(qtbot, pool, lambda: [m.id for m in client.models.list()]) == ["tiny-v1"]

    def streamed():
        return list(client.chat.completions.create(model="tiny-v1", messages=_messages(image_file), max_tokens=12,
                                                   stream=True, extra_body={"mode": "small"}))

    chunks = call(qtbot, pool, streamed)
    pieces = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason).model_extra["dsocr"]
    reply = call(qtbot, pool, lambda: client.chat.completions.create(
        model="tiny-v1", messages=_messages(image_file), max_tokens=12, extra_body={"mode": "small"}))

    # the app's own run of the same image, task and options
    window.add_paths([image_file])
    window.set_plan_options(mode="small", task="free")
    window.set_max_tokens(12)
    with qtbot.waitSignal(window.runFinished, timeout=TIMEOUT_S * 1000):
        window.run_current()
    own = window.current()[1].result
    assert own.generated_tokens > 0 and own.raw_text == final["raw_text"]
    # the pieces add up to the clean text, the content of the same request unstreamed and of the app's own run
    assert pieces == reply.choices[0].message.content == final["text"] == render(own, "md")
    assert reply.usage.completion_tokens == own.generated_tokens

    # each request was a run in the queue, with its state and text
    items = _api_items(window)
    assert [i.name.split(":")[0] for i in items] == ["API #1", "API #2"]
    assert "OpenAI/Python" in items[0].name and items[0].name.endswith("(640\u00d7480)")
    assert [i.state for i in items] == [State.DONE, State.DONE]
    assert [i.targets[0].result.raw_text for i in items] == [own.raw_text, own.raw_text]

    # one model: the one the app loaded once, which the worker runs and the server serves
    assert loads == [str(window.settings.model)]
    assert window.local_api.bridge.model is window.model is window.runs.host.worker.model
    health = call(qtbot, pool, lambda: httpx.get(window.local_api.url + "/health", timeout=10).json())
    assert (health["model"], health["max_batch"], health["pending"]) == ("tiny-v1", 1, 0)
    assert window.local_api.url in [s["url"] for s in discovery.servers()]  # `dsocr mcp` finds it


def test_turning_it_off_stops_the_server(serving, settings, pool, qtbot):
    window, url = serving, serving.local_api.url
    assert call(qtbot, pool, lambda: httpx.get(url + "/health", timeout=10).status_code) == 200
    d = SettingsDialog(settings)
    qtbot.addWidget(d)
    section = next(s for s in d.sections if s.title == "Local API")
    assert section.enabled.isChecked() and section.port.value() == ApiSettings.of(settings).port
    section.enabled.setChecked(False)
    d.accept()
    window.serve_local_api()
    assert window.local_api.url == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=5)
    assert url not in [s["url"] for s in discovery.servers()]
    window.serve_local_api()  # off stays off
    assert window.local_api.url == ""


def test_the_same_checks_as_dsocr_serve(serving, settings, pool, qtbot):
    url = serving.local_api.url
    origin = call(qtbot, pool, lambda: httpx.get(url + "/v1/models", headers={"Origin": "https://evil.example"},
                                                  timeout=10))
    rebinding = call(qtbot, pool, lambda: httpx.get(url + "/v1/models", headers={"Host": "evil.example"},
                                                     timeout=10))
    assert (origin.status_code, rebinding.status_code) == (403, 403)
    assert "access-control-allow-origin" not in origin.headers
    # an API key, set in the settings: the server restarts with it
    ApiSettings.of(settings).key = "s3cret"
    serving.serve_local_api()
    url = serving.local_api.url
    assert call(qtbot, pool, lambda: httpx.get(url + "/v1/models", timeout=10).status_code) == 401
    with_key = call(qtbot, pool, lambda: httpx.get(url + "/v1/models", timeout=10,
                                                   headers={"Authorization": "Bearer s3cret"}))
    assert with_key.status_code == 200


def test_a_port_in_use_is_said_in_the_app(make_window, settings, qtbot):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        api = ApiSettings.of(settings)
        api.enabled, api.port = True, port
        window = make_window()
        window.serve_local_api()
        assert window.local_api.url == "" and window.model is None and not window.runs.loading  # nothing loaded
        assert window.last_error.startswith(f"Local API: port {port} is in use by another program; choose another "
                                            "port in Settings")
        assert window.status.currentMessage() == window.last_error


def test_changing_the_model_refuses_then_serves_the_new_one(serving, image_file, pool, qtbot, monkeypatch,
                                                            tmp_path):
    window = serving
    tiny_v2 = eb.write_tiny_checkpoint(tmp_path / "tiny-v2", version="v2")
    gate = threading.Event()
    load = eb.load_model

    def held(source, **kw):  # the new model loads once the test has asked the server during the load
        assert gate.wait(TIMEOUT_S)
        return load(source, **kw)

    monkeypatch.setattr(eb, "load_model", held)
    window.load_model(str(tiny_v2))
    qtbot.waitUntil(lambda: window.local_api.bridge is not None and window.local_api.bridge.refusal != "",
                    timeout=TIMEOUT_S * 1000)
    body = {"model": "tiny-v1", "messages": _messages(image_file), "max_tokens": 4}
    url = window.local_api.url
    busy = call(qtbot, pool, lambda: httpx.post(url + "/v1/chat/completions", json=body, timeout=30))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert "loading the model" in busy.json()["error"]["message"]
    gate.set()
    qtbot.waitUntil(lambda: window.model is not None and window.local_api.bridge is not None
                    and window.local_api.bridge.model is window.model, timeout=TIMEOUT_S * 1000)
    client = _client(window)
    assert call(qtbot, pool, lambda: [m.id for m in client.models.list()]) == ["tiny-v2"]
    reply = call(qtbot, pool, lambda: client.chat.completions.create(
        model="tiny-v2", messages=_messages(image_file), max_tokens=4))
    assert reply.usage.completion_tokens > 0 and _api_items(window)[-1].state == State.DONE


def test_closing_the_window_stops_the_server(serving, qtbot):
    url = serving.local_api.url
    serving.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=5)


@pytest.fixture
def held_runs(monkeypatch):
    """Runs wait (in the worker thread) until the returned event is set."""
    gate = threading.Event()
    stream = eb.stream

    def held(*args, **kw):
        assert gate.wait(TIMEOUT_S)
        yield from stream(*args, **kw)

    monkeypatch.setattr(eb, "stream", held)
    return gate


def test_a_client_that_goes_away_cancels_its_run(serving, image_file, pool, qtbot, held_runs):
    window = serving
    body = {"messages": _messages(image_file), "max_tokens": 8}

    def impatient():
        try:
            httpx.post(window.local_api.url + "/v1/chat/completions", json=body, timeout=httpx.Timeout(10, read=1.0))
        except httpx.ReadTimeout:
            return "gone"

    future = pool.submit(impatient)
    qtbot.waitUntil(lambda: window.runs.running is not None, timeout=TIMEOUT_S * 1000)
    item = _api_items(window)[0]
    assert item.state == State.RUNNING
    qtbot.waitUntil(lambda: window.runs.running.cancel.is_set(), timeout=TIMEOUT_S * 1000)  # the client left
    assert future.result(TIMEOUT_S) == "gone"
    held_runs.set()
    assert window.wait_idle(TIMEOUT_S)
    assert item.state == State.CANCELLED and item.targets[0].result.stop_reason == "cancelled"
    assert (window.local_api.bridge.pending, window.local_api.bridge.running) == (0, 0)


def test_the_apps_cancel_ends_api_requests_with_503(serving, image_file, pool, qtbot, held_runs):
    window = serving
    body = {"messages": _messages(image_file), "max_tokens": 8}

    def ask():
        return httpx.post(window.local_api.url + "/v1/chat/completions", json=body, timeout=TIMEOUT_S)

    first, second = pool.submit(ask), pool.submit(ask)
    qtbot.waitUntil(lambda: len(_api_items(window)) == 2 and window.runs.running is not None,
                    timeout=TIMEOUT_S * 1000)
    window.cancel()  # the app's Cancel: the running run stops, the waiting one is dropped
    held_runs.set()
    qtbot.waitUntil(lambda: first.done() and second.done(), timeout=TIMEOUT_S * 1000)
    for answer in (first.result(), second.result()):
        assert answer.status_code == 503
        assert answer.json()["error"]["message"] == "the request was cancelled in the DSOCR app"
    assert [i.state for i in _api_items(window)] == [State.CANCELLED, State.CANCELLED]


def test_the_tray_instance_serves_with_its_window_closed_and_stops_when_it_quits(serving, monkeypatch, pool, qtbot):
    import os

    from PySide6.QtWidgets import QApplication

    from dsocr_app.capture.resident import Resident

    monkeypatch.setenv("DSOCR_INSTANCE", f"dsocr-t{os.getpid()}-local-api")  # never the user's running DSOCR
    window, url = serving, serving.local_api.url
    resident = Resident(QApplication.instance(), window, stay=True)  # `dsocr-app --tray`
    try:
        window.close()  # hides the window: DSOCR stays in the tray with its model, and serves
        assert not window.isVisible() and window.local_api.url == url
        assert call(qtbot, pool, lambda: httpx.get(url + "/health", timeout=10).status_code) == 200
    finally:
        resident.shutdown()  # Quit DSOCR (without ending the test's event loop)
        QApplication.instance().setQuitOnLastWindowClosed(True)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=5)
