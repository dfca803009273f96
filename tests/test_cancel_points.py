"""A cancel lands inside every phase of a run: between the encoders' blocks, between the prefill's layers, and
before the next decode step; the rest of the phase and everything after it never runs (tiny checkpoints; the
real-size latencies are in bench/run.py --only resources)."""

import threading

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

import engine
from engine.language import deepseek_v2
from engine.runtime import cancel as cancel_points
from engine.runtime import ops
from engine.runtime.kernels import attention as attn, products, route
from engine.runtime.device import on_gpu
from engine.vision import causal_flow, clip, sam


@pytest.fixture(scope="module", params=["v1", "v2"])
def model(request, tmp_path_factory):
    return engine.load(engine.write_tiny_checkpoint(tmp_path_factory.mktemp("m") / request.param, request.param))


numpy_kernels = pytest.mark.skipif(on_gpu(), reason="the numpy kernels run on a CPU only")


def page():
    return Image.new("RGB", (1400, 900), "white")  # tiled: a tile batch and a global view


def _trip(monkeypatch, cls, event: threading.Event, after: int) -> list:
    """Count `cls.__call__` calls; set `event` once `after` calls have finished."""
    calls = []
    original = cls.__call__

    def wrapped(self, *args, **kwargs):
        calls.append(1)
        out = original(self, *args, **kwargs)
        if len(calls) == after:
            event.set()
        return out

    monkeypatch.setattr(cls, "__call__", wrapped)
    return calls


def _run(model, event, **kw):
    events = list(engine.stream(model, page(), engine.RunOptions.of(max_tokens=40, ngram_size=0, **kw), cancel=event))
    assert len(events) >= 1 and isinstance(events[-1], engine.Result)
    return events[-1]


def _cancel_after_first(model, monkeypatch, block, *counted):
    """Set the cancel once the first `block` call has returned; run; return the Result and the call counts of
    the `counted` classes."""
    event = threading.Event()
    _trip(monkeypatch, block, event, after=1)
    calls = [_trip(monkeypatch, cls, threading.Event(), after=-1) for cls in counted]
    res = _run(model, event)
    assert res.stop_reason == "cancelled" and res.generated_tokens == 0
    return res, [len(c) for c in calls]


def test_cancel_between_sam_blocks_stops_the_encode(model, monkeypatch):
    _, (attention,) = _cancel_after_first(model, monkeypatch, sam.Block, sam.Attention)
    assert attention == 1  # the next block (of this batch or the next one) stopped at its start


@pytest.mark.parametrize("second", ["clip", "flow"])
def test_cancel_in_the_second_encoder_stops_it(model, monkeypatch, second):
    if (second == "clip") != (model.version == "v1"):
        pytest.skip("the other version's encoder")
    part = {"clip": clip, "flow": causal_flow}[second]
    block = part.TransformerBlock if second == "clip" else part.DecoderLayer
    _, (attention, prefill) = _cancel_after_first(model, monkeypatch, block, part.Attention, deepseek_v2.DecoderLayer)
    assert attention == 1 and prefill == 0


def test_cancel_between_prefill_layers_stops_the_prefill(model, monkeypatch):
    _, (attention,) = _cancel_after_first(model, monkeypatch, deepseek_v2.DecoderLayer, deepseek_v2.Attention)
    assert attention == 1  # layer 0 of the first chunk only; no further layer, chunk or decode step


def test_cancel_between_the_halves_of_a_layer(model, monkeypatch):
    _, (attention, mlp) = _cancel_after_first(model, monkeypatch, deepseek_v2.Attention, deepseek_v2.Attention,
                                              deepseek_v2.MLP)
    assert attention == 1 and mlp == 0  # layer 0's MLP never ran


def test_cancel_during_decode_stops_before_the_next_step(model):
    event = threading.Event()
    seen = 0
    result = None
    for ev in engine.stream(model, page(), engine.RunOptions.of(max_tokens=40, ngram_size=0), cancel=event):
        if isinstance(ev, engine.TextDelta):
            seen = ev.generated_tokens
            if seen >= 2:
                event.set()
        else:
            result = ev
    assert result.stop_reason == "cancelled" and result.generated_tokens == seen


def test_cancel_points_do_nothing_outside_a_run():
    x = mx.ones((2, 2)) + 1
    cancel_points.point(x)  # no current flag: not even evaluated, no error
    event = threading.Event()
    with cancel_points.scope(event):
        cancel_points.point(x)
        event.set()
        with pytest.raises(cancel_points.Cancelled):
            cancel_points.point(x)
        with cancel_points.scope(None):
            cancel_points.point(x)  # an inner scope without a flag
    cancel_points.point(x)


@numpy_kernels
def test_cancel_between_the_experts_jobs(model, monkeypatch):
    event = threading.Event()
    calls = []
    original = products._expert_product

    def product(*args):
        calls.append(1)
        event.set()
        return original(*args)

    monkeypatch.setattr(products, "_expert_product", product)
    res = _run(model, event)
    assert res.stop_reason == "cancelled" and res.generated_tokens == 0
    # the job that saw the cancel and one job in flight on another thread finish; the other experts never start
    assert 1 <= len(calls) <= 6 < 3 * model.language_model.config.n_routed_experts


def test_cancel_between_the_experts_products_on_the_mlx_path(model, monkeypatch):
    monkeypatch.setattr(route, "_mode", "mlx")
    _, (calls,) = _cancel_after_first(model, monkeypatch, deepseek_v2.SwitchLinear, deepseek_v2.SwitchLinear)
    assert calls == 2  # gate and up of the first MoE layer; its down projection never ran


@numpy_kernels
def test_cancel_between_the_attention_chunks(monkeypatch):
    """The numpy attention's chunks (a few MB of scores each) check the flag: a cancel set while the first
    chunk runs stops the others from starting."""
    monkeypatch.setattr(attn, "CHUNK_ELEMENTS", 16 * 16)  # one query row block per job: many jobs
    rng = np.random.default_rng(0)
    q, k, v = (mx.array(rng.standard_normal((1, 2, 64, 8), np.float32)) for _ in range(3))
    event = threading.Event()
    chunks = []
    original = np.exp

    def exp(x, *a, **kw):
        chunks.append(1)
        event.set()
        return original(x, *a, **kw)

    monkeypatch.setattr(np, "exp", exp)
    with cancel_points.scope(event), pytest.raises(cancel_points.Cancelled):
        attn.attention(q, k, v, 0.3)
    monkeypatch.setattr(np, "exp", original)
    assert 1 <= len(chunks) <= 2 < 2 * 64 // 16  # the chunk(s) in flight finish, the rest never start


def test_cancel_after_the_sam_qkv_projection(model, monkeypatch):
    """A cancel set while SAM's first qkv projection runs stops before its attention (the projection of a
    page's tile batch alone takes ~0.15 s at real size)."""
    event = threading.Event()
    block = model.vision.sam_model.blocks[0]
    linear = type(block.attn.qkv)

    class Tripping(linear):  # this one layer sets the cancel flag when it is called
        def __call__(self, x):
            event.set()
            return linear.__call__(self, x)

    block.attn.qkv.__class__ = Tripping
    attention_calls = []
    real_attention = ops.attention
    monkeypatch.setattr(ops, "attention", lambda *a, **kw: attention_calls.append(1) or real_attention(*a, **kw))
    try:
        res = _run(model, event)
    finally:
        block.attn.qkv.__class__ = linear
    assert res.stop_reason == "cancelled" and res.generated_tokens == 0
    assert attention_calls == []


def test_pipelined_points_wait_for_the_part_before(monkeypatch):
    """On a GPU a point queues its part and waits for the previous one, so the device never idles between
    parts; a set flag still raises at the next point, before anything more is queued."""
    calls = []
    monkeypatch.setattr(cancel_points.mx, "eval", lambda *a: calls.append(("eval", a)))
    monkeypatch.setattr(cancel_points.mx, "async_eval", lambda *a: calls.append(("async", a)))
    a, b, c = (mx.ones((2,)) * i for i in range(3))
    event = threading.Event()
    with cancel_points.scope(event, pipelined=True):
        cancel_points.point(a)
        cancel_points.point(b)
        event.set()
        with pytest.raises(cancel_points.Cancelled):
            cancel_points.point(c)
    assert [(k, tuple(id(x) for x in arrs)) for k, arrs in calls] == [
        ("async", (id(a),)), ("eval", ()), ("async", (id(b),)), ("eval", (id(a),))]
    calls.clear()
    with cancel_points.scope(threading.Event(), pipelined=False):
        cancel_points.point(a)
    assert [k for k, _ in calls] == ["eval"]


def test_points_are_pipelined_by_default_on_a_gpu_only(monkeypatch):
    for gpu in (False, True):
        monkeypatch.setattr(cancel_points, "on_gpu", lambda: gpu)
        with cancel_points.scope(threading.Event()):
            assert cancel_points._local.pipelined is gpu
    assert cancel_points._local.pipelined is False  # restored


def test_pipelined_cancel_between_sam_blocks_stops_the_encode(model, monkeypatch):
    monkeypatch.setattr(cancel_points, "on_gpu", lambda: True)  # the GPU's pipelined points, here on the CPU
    _, (attention,) = _cancel_after_first(model, monkeypatch, sam.Block, sam.Attention)
    assert attention == 1


def test_pipelined_points_give_the_same_result(model, monkeypatch):
    plain = engine.ocr(model, page(), engine.RunOptions.of(max_tokens=8, ngram_size=0))
    monkeypatch.setattr(cancel_points, "on_gpu", lambda: True)
    piped = engine.ocr(model, page(), engine.RunOptions.of(max_tokens=8, ngram_size=0), cancel=threading.Event())
    assert piped.stop_reason == plain.stop_reason and piped.text == plain.text
    assert piped.generated_tokens == plain.generated_tokens
