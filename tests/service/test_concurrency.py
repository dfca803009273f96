"""Several clients at once: requests join the running decode (continuous batching) and get the text they
would get alone, a full queue answers 503 with Retry-After, a client that goes away frees its slot within
0.5 s. Bounded: at most a handful of requests, each test well under a minute."""

import threading
import time

import httpx
import pytest

import engine
from engine.service import OcrService

from .conftest import chat_body, client, data_url, png_bytes

# greedy, the tiny model writes ~1000 tokens of noise before its loop is caught and recovered (~10-20 s on a
# CPU): a request that runs until the test cancels it (bounded all the same)
LONG = {"max_tokens": 8192}


def _wait(predicate, timeout=20.0, what="condition"):
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - t0


def _collect(service, prep, options, out: list, started: threading.Event | None = None):
    done = threading.Event()

    def sink(event):
        out.append(event)
        if started is not None and isinstance(event, engine.TextDelta):
            started.set()
        if isinstance(event, (engine.Result, BaseException)):
            done.set()
    return service.submit(prep, options, sink), done


def test_joining_a_running_batch_keeps_each_text(model):
    """B joins A's decode after A has written tokens; both texts are what each gets alone."""
    from engine.pipeline import prepare_for

    a_opts = engine.RunOptions.of(task="free", max_tokens=300)  # long enough for B to have waited its turn
    b_opts = engine.RunOptions.of(task="ocr", max_tokens=200, mode="base")  # other options and tiling: fine
    img_a, img_b = engine.open_image(png_bytes()), engine.open_image(png_bytes((900, 700), "lightyellow"))
    alone_a, alone_b = engine.ocr(model, img_a, a_opts), engine.ocr(model, img_b, b_opts)
    service = OcrService(model, max_batch=4, max_pending=4)
    try:
        a_events, b_events, a_started = [], [], threading.Event()
        _, a_done = _collect(service, prepare_for(model, img_a, a_opts.tiling), a_opts, a_events, a_started)
        assert a_started.wait(30)
        _, b_done = _collect(service, prepare_for(model, img_b, b_opts.tiling), b_opts, b_events)
        assert a_done.wait(60) and b_done.wait(60)
        assert service.decoder.joins == 1 and service.express_runs == 0
        (a,), (b,) = [e for e in a_events if isinstance(e, engine.Result)], \
            [e for e in b_events if isinstance(e, engine.Result)]
        assert a.text == alone_a.text and a.generated_tokens == alone_a.generated_tokens
        assert b.text == alone_b.text and b.stop_reason == alone_b.stop_reason
    finally:
        service.close()


def test_requests_queued_together_are_encoded_as_one_batch(model):
    """Three pages queued at once on a service that has measured itself: one batched encode, then one decode
    batch; each text is what the page gets alone."""
    from engine.pipeline import prepare_for

    opts = engine.RunOptions.of(task="free", max_tokens=400)  # long enough to be worth a shared encode's wait
    images = [engine.open_image(png_bytes((300 + 40 * k, 200), text=True)) for k in range(3)]
    alone = [engine.ocr(model, im, opts) for im in images]
    service = OcrService(model, max_batch=4, max_pending=4)
    try:
        warm, warm_done = _collect(service, prepare_for(model, images[0], opts.tiling), opts, [])
        assert warm_done.wait(30) and service.decoder.estimates.known
        events = [[] for _ in images]
        dones = [threading.Event() for _ in images]

        def sink(k):
            def put(e):
                events[k].append(e)
                if isinstance(e, (engine.Result, BaseException)):
                    dones[k].set()
            return put
        service.submit_many([prepare_for(model, im, opts.tiling) for im in images], opts, [sink(k) for k in range(3)])
        assert all(d.wait(60) for d in dones)
        assert service.decoder.groups[-1] == 3 and service.express_runs == 0
        for k, a in enumerate(alone):
            (r,) = [e for e in events[k] if isinstance(e, engine.Result)]
            assert r.text == a.text and r.generated_tokens == a.generated_tokens
    finally:
        service.close()


def test_a_short_request_runs_alone_ahead_of_a_long_one(model):
    """A request whose decode is shorter than its encode does not join the batch: it runs alone, ahead of it,
    and gets the text it gets alone, while the long one goes on afterwards."""
    from engine.pipeline import prepare_for

    long_opts = engine.RunOptions.of(task="free", **LONG)
    short_opts = engine.RunOptions.of(task="ocr", max_tokens=2)
    img = engine.open_image(png_bytes((500, 60)))
    alone = engine.ocr(model, img, short_opts)
    service = OcrService(model, max_batch=4, max_pending=4)
    try:
        a_events, b_events, a_started = [], [], threading.Event()
        a_ticket, a_done = _collect(service, prepare_for(model, engine.open_image(png_bytes()), long_opts.tiling),
                                    long_opts, a_events, a_started)
        assert a_started.wait(30)
        _wait(lambda: service.decoder.estimates.known, what="the service's first measurements")
        _, b_done = _collect(service, prepare_for(model, img, short_opts.tiling), short_opts, b_events)
        assert b_done.wait(30)
        assert service.express_runs == 1 and service.decoder.joins == 0
        assert not a_done.is_set() and service.running == 1  # the long one waits, then goes on
        (b,) = [e for e in b_events if isinstance(e, engine.Result)]
        assert b.text == alone.text and b.generated_tokens == alone.generated_tokens
        n = len(a_events)
        _wait(lambda: len(a_events) > n, what="the long one to decode again")
        a_ticket.cancel()
    finally:
        service.close()


def test_requests_over_http_decode_together(start_server):
    server = start_server(max_batch=4)
    url = data_url(png_bytes())
    results = {}

    def ask(k, c):
        results[k] = c.post("/v1/chat/completions", json=chat_body(url, max_tokens=150 + k)).json()

    with client(server) as c:
        with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as long_one:
            lines = long_one.iter_lines()  # kept: a dropped iterator closes the response (a disconnect)
            next(lines)
            threads = [threading.Thread(target=ask, args=(k, c)) for k in range(3)]
            for t in threads:
                t.start()
            _wait(lambda: server.service.decoder.joins >= 3, what="three requests joining the decode")
            assert server.service.running >= 1  # the long one still decodes
            for t in threads:
                t.join(60)
        assert sorted(r["usage"]["completion_tokens"] for r in results.values()) == [150, 151, 152]
        _wait(lambda: c.get("/health").json()["running"] == 0, 5, "the slots to be free")


def test_full_queue_answers_503(start_server):
    server = start_server(max_batch=1, max_pending=1)
    url = data_url(png_bytes())
    with client(server) as c:
        with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as running:
            lines = running.iter_lines()
            next(lines)
            with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as waiting:
                assert waiting.status_code == 200
                assert c.get("/health").json()["pending"] == 1
                busy = c.post("/v1/chat/completions", json=chat_body(url, max_tokens=2))
                assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
                assert "busy" in busy.json()["error"]["message"]
        _wait(lambda: (lambda h: h["running"] == 0 and h["pending"] == 0)(c.get("/health").json()), 5,
              "the queue to empty")
        assert c.post("/v1/chat/completions", json=chat_body(url, max_tokens=2)).status_code == 200


@pytest.mark.parametrize("streaming", [True, False])
def test_disconnect_cancels_within_half_a_second(start_server, streaming):
    server = start_server()
    url = data_url(png_bytes())
    service = server.service
    if streaming:
        with client(server) as c:
            with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as r:
                lines = r.iter_lines()
                while '"delta": {"content"' not in next(lines):  # until it decodes
                    pass
                assert service.running == 1
        t0 = time.monotonic()  # the connection is closed now
    else:
        with pytest.raises(httpx.ReadTimeout):
            with httpx.Client(base_url=server.url, timeout=httpx.Timeout(60, read=1.5)) as c:
                c.post("/v1/chat/completions", json=chat_body(url, **LONG))
        t0 = time.monotonic()
    _wait(lambda: service.running == 0, 5, "the slot to be freed")
    freed = time.monotonic() - t0
    assert freed < 0.5, f"the slot was freed {freed:.2f} s after the client went away"
    with client(server) as c:  # and the server goes on serving
        assert c.post("/v1/chat/completions", json=chat_body(url, max_tokens=2)).status_code == 200


def test_a_stream_that_leaves_while_queued_is_dropped_within_half_a_second(start_server):
    """Before its first token (waiting in the queue behind a long request) a streaming client that goes away
    is noticed through the stream's keep-alive comments, and its ticket leaves the queue."""
    server = start_server(max_batch=1)
    url, service = data_url(png_bytes()), server.service
    with client(server) as c:
        with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as first:
            lines = first.iter_lines()
            next(lines)
            _wait(lambda: service.running == 1, what="the first request to decode")
            with c.stream("POST", "/v1/chat/completions", json=chat_body(url, **LONG, stream=True)) as queued:
                waiting = queued.iter_lines()
                assert next(waiting).startswith("data: ")  # the role chunk
                assert next(waiting) == ""
                assert next(waiting) == ": waiting"  # no token yet: kept alive
                assert service.pending == 1
            t0 = time.monotonic()  # the queued one's connection is closed now
            _wait(lambda: service.pending == 0, 5, "the queued ticket to be dropped")
            assert time.monotonic() - t0 < 0.5
            assert service.running == 1  # the first one goes on


def test_a_pdf_longer_than_the_queue_is_served(start_server, tmp_path):
    """A 5-page PDF with --max-pending 2: only max_batch of its pages wait at a time, so it is not refused."""
    from PIL import Image

    pages = [Image.new("RGB", (200, 280), "white") for _ in range(5)]
    pages[0].save(tmp_path / "long.pdf", save_all=True, append_images=pages[1:])
    server = start_server(max_batch=2, max_pending=2)
    with client(server) as c:
        r = c.post("/v1/ocr", files={"file": ("long.pdf", (tmp_path / "long.pdf").read_bytes(), "application/pdf")},
                   data={"max_tokens": "3", "format": "json"})
    assert r.status_code == 200, r.text
    assert [p["page"] for p in r.json()["pages"]] == [1, 2, 3, 4, 5]


def test_unlimited_ocr_requests_join_with_their_windows(tmp_path):
    """An Unlimited-OCR model (W = 8): B joins A's decode after A's ring has wrapped; both texts are what
    each gets alone (the window caches join: prefill parts right-aligned, rings kept)."""
    from engine.pipeline import prepare_for

    model = engine.load(str(engine.write_tiny_checkpoint(tmp_path / "u", "unlimited", window=8)))
    a_opts = engine.RunOptions.of(task="free", max_tokens=60, mode="base")
    b_opts = engine.RunOptions.of(max_tokens=40, mode="small")
    img_a, img_b = engine.open_image(png_bytes()), engine.open_image(png_bytes((900, 700), "lightyellow"))
    alone_a, alone_b = engine.ocr(model, img_a, a_opts), engine.ocr(model, img_b, b_opts)
    service = OcrService(model, max_batch=4, max_pending=4)
    try:
        a_events, b_events = [], []
        wrapped = threading.Event()

        def sink_a(event):
            a_events.append(event)
            if isinstance(event, engine.TextDelta) and event.generated_tokens > 12:
                wrapped.set()
        done_a = threading.Event()
        service.submit(prepare_for(model, img_a, a_opts.tiling), a_opts,
                       lambda e: (sink_a(e), isinstance(e, (engine.Result, BaseException)) and done_a.set()))
        assert wrapped.wait(30)
        _, done_b = _collect(service, prepare_for(model, img_b, b_opts.tiling), b_opts, b_events)
        assert done_a.wait(60) and done_b.wait(60)
        assert service.decoder.joins == 1 and service.express_runs == 0
        (a,), (b,) = [e for e in a_events if isinstance(e, engine.Result)], \
            [e for e in b_events if isinstance(e, engine.Result)]
        assert a.raw_text == alone_a.raw_text and b.raw_text == alone_b.raw_text
    finally:
        service.close()
