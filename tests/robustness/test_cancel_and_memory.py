"""Cancellation (issue item 5, engine side): a cancel set from another thread during prefill or decode ends the
stream with a `Result` (stop_reason "cancelled") within 200 ms on a tiny model, no further model work is done,
and MLX's active memory returns to the idle level once the run's objects are gone.

Latency is measured as the user sees it: from `cancel.set()` in another thread to the stream's final Result.
The vision encode is one graph evaluation and cannot be interrupted inside (docs/robustness.md)."""

import dataclasses
import gc
import threading
import time

import mlx.core as mx
import pytest

import engine

from .corpus import page

LATENCY_S = 0.2


@pytest.fixture
def endless(monkeypatch):
    """Decoding that only a cancel stops: no loop guard (random tiny weights repeat themselves quickly)."""
    import engine.pipeline as pipeline
    from engine.language.generate import GenerationConfig

    @dataclasses.dataclass
    class Endless(GenerationConfig):
        loop_guard: bool = False

    monkeypatch.setattr(pipeline, "GenerationConfig", Endless)


class ModelView:
    """The loaded model with its language model (or vision) swapped for an instrumented wrapper."""

    def __init__(self, model, language_model=None, vision=None):
        self._model = model
        self.language_model = language_model or model.language_model
        self.vision = vision or model.vision

    def __getattr__(self, name):
        return getattr(self._model, name)


class PrefillGate:
    """Wraps a language model: the first prefill chunk announces itself, waits for the cancel, then runs.
    So the cancel lands while a prefill chunk is being computed, and the chunk's own compute time counts."""

    def __init__(self, lm, cancel):
        self.lm, self.layers, self.cancel = lm, lm.layers, cancel
        self.started = threading.Event()
        self.prefill_calls = 0
        self.decode_calls = 0

    def embed(self, ids):
        return self.lm.embed(ids)

    def make_cache(self, window=True):
        return self.lm.make_cache(window)

    def __call__(self, x, cache=None, last_only=False, **kw):
        if x.shape[1] > 1:
            self.prefill_calls += 1
            if not self.started.is_set():
                self.started.set()
                assert self.cancel.wait(10)
        else:
            self.decode_calls += 1
        return self.lm(x, cache=cache, last_only=last_only, **kw)


def consume_in_thread(events, cancel, when, stamp):
    """Iterate `events` in a worker thread; the main thread sets `cancel` once `when()` is true."""
    out = {}

    def worker():
        result = None
        for ev in events:
            if isinstance(ev, tuple):
                ev = ev[1]
            out.setdefault("deltas", 0)
            if isinstance(ev, engine.TextDelta):
                out["deltas"] += 1
            else:
                result = ev
                out.setdefault("results", []).append(ev)
        out["end"] = time.perf_counter()
        out["result"] = result

    th = threading.Thread(target=worker)
    th.start()
    deadline = time.perf_counter() + 120
    while not when(out) and time.perf_counter() < deadline:
        time.sleep(0.001)
    stamp["cancel"] = time.perf_counter()
    cancel.set()
    th.join(60)
    assert not th.is_alive()
    return out


def test_cancel_during_prefill(tiny_v2):
    image = page(800, 1600)  # a 1x2 grid: 545 image tokens, so the prompt is prefilled in two chunks of 512
    cancel = threading.Event()
    gate = PrefillGate(tiny_v2.language_model, cancel)
    stamp = {}
    opts = engine.RunOptions.of(max_tokens=100, ngram_size=0)
    out = consume_in_thread(engine.stream(ModelView(tiny_v2, gate), image, opts, cancel=cancel), cancel,
                            lambda o: gate.started.is_set(), stamp)
    result = out["result"]
    assert result.stop_reason == "cancelled" and result.generated_tokens == 0
    assert result.prompt_tokens > 512
    assert gate.prefill_calls == 1 and gate.decode_calls == 0  # no chunk after the cancel, no decode step
    assert out["end"] - stamp["cancel"] < LATENCY_S


def test_cancel_during_decode(tiny_v2, endless):
    cancel = threading.Event()
    stamp = {}
    opts = engine.RunOptions.of(max_tokens=100_000, ngram_size=0)
    out = consume_in_thread(engine.stream(tiny_v2, page(), opts, cancel=cancel),
                            cancel, lambda o: o.get("deltas", 0) >= 5, stamp)
    result = out["result"]
    assert result.stop_reason == "cancelled" and 5 <= result.generated_tokens < 100_000
    assert result.raw_text  # the text so far is kept
    assert out["end"] - stamp["cancel"] < LATENCY_S


def test_cancel_during_batched_decode(tiny_v2, endless):
    cancel = threading.Event()
    stamp = {}
    opts = engine.RunOptions.of(max_tokens=100_000, ngram_size=0)
    out = consume_in_thread(engine.stream_batch(tiny_v2, [page(seed=1), page(500, 300, seed=2)], opts, cancel=cancel),
                            cancel, lambda o: o.get("deltas", 0) >= 6, stamp)
    results = out["results"]
    assert len(results) == 2 and {r.stop_reason for r in results} == {"cancelled"}
    assert out["end"] - stamp["cancel"] < LATENCY_S


def test_cancel_during_encode_skips_the_language_model(tiny_v2):
    """The encode itself runs to its end (one evaluation); nothing after it runs."""
    cancel = threading.Event()

    class CancellingVision:
        def __init__(self, vision):
            self.vision = vision

        def __call__(self, pixels):
            cancel.set()  # as if the user pressed Cancel while the encoder runs
            return self.vision(pixels)

        def __getattr__(self, name):
            return getattr(self.vision, name)

    gate = PrefillGate(tiny_v2.language_model, cancel)
    events = list(engine.stream(ModelView(tiny_v2, gate, CancellingVision(tiny_v2.vision)), page(), cancel=cancel))
    (result,) = events
    assert result.stop_reason == "cancelled" and result.generated_tokens == 0
    assert gate.prefill_calls == 0 and gate.decode_calls == 0


def idle_memory() -> int:
    gc.collect()
    mx.clear_cache()
    return mx.get_active_memory()


@pytest.mark.parametrize("how", ["cancelled", "abandoned"])
def test_memory_returns_to_idle_after_a_cancelled_run(tiny_v2, how, endless):
    engine.ocr(tiny_v2, page(), engine.RunOptions.of(max_tokens=2))  # first-run allocations happen once
    idle = idle_memory()
    cancel = threading.Event()
    events = engine.stream(tiny_v2, page(), engine.RunOptions.of(max_tokens=100_000, ngram_size=0), cancel=cancel)
    during = 0
    for k, ev in enumerate(events):
        during = max(during, mx.get_active_memory())
        if k == 20:
            if how == "cancelled":
                cancel.set()  # the stream ends itself with a Result
            else:
                break  # the caller walks away: closing the generator frees its state
    if how == "abandoned":
        events.close()
    else:
        assert isinstance(ev, engine.Result) and ev.stop_reason == "cancelled"
    del events, ev
    assert during > idle + 256 * 1024  # the run really held memory (image embeddings, KV cache)
    after = idle_memory()
    assert after <= idle + 64 * 1024, (idle, during, after)
