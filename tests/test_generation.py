"""Streaming generation on tiny checkpoints: streamed == blocking, cancel, repetition stop, batched decode,
quantized models, and the official prompt ids."""

import threading

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image, ImageDraw

import engine
from engine.language.generate import GenerationConfig, generate_tokens
from engine.pipeline import prepare_for, splice, encode
from engine.weights.load import read_checkpoint
from engine.weights.quantized_model import quantize_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return engine.load(engine.write_tiny_checkpoint(tmp_path_factory.mktemp("m") / "v2", "v2", seed=3))


def page(w=500, h=700, seed=0):
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    for i in range(12):
        d.text((20, 20 + 50 * i), f"Line {i} of page {seed}: invoice 12{i}5", fill="black")
    return img


def collect(model, image, **kw):
    text, result = "", None
    for ev in engine.stream(model, image, engine.RunOptions.of(**kw)):
        if isinstance(ev, engine.TextDelta):
            text += ev.text
        else:
            result = ev
    return text, result


def test_streamed_text_equals_blocking_text(tiny):
    text, result = collect(tiny, page(), max_tokens=24)
    blocking = engine.ocr(tiny, page(), engine.RunOptions.of(max_tokens=24))
    assert text == result.raw_text == blocking.raw_text
    assert result.generated_tokens == 24 and result.stop_reason == "max_tokens"
    assert result.prompt_tokens > result.plan.image_tokens
    assert result.plan == engine.plan((500, 700), "v2")
    d = result.to_dict()
    assert d["tokens"]["image"] == result.plan.image_tokens and d["stop_reason"] == "max_tokens"


def test_prompt_embeddings_follow_the_plan(tiny):
    prep = prepare_for(tiny, page(1300, 900))
    ids = engine.language.prompt.prompt_ids(tiny.tokenizer, engine.task_prompt("free"), prep.plan.image_tokens)
    (emb,) = encode(tiny, [prep])
    spliced = splice(tiny, ids, emb)
    slots = np.flatnonzero(np.asarray(ids) == tiny.tokenizer.image_id)
    assert len(slots) == prep.plan.image_tokens == emb.shape[0]
    assert np.allclose(np.asarray(spliced[mx.array(slots)]), np.asarray(emb))


def test_cancel_stops_within_one_step(tiny):
    from engine.language.generate import Cancelled

    emb = tiny.language_model.embed(mx.array([[tiny.tokenizer.bos_id, 20, 21, 22]]))[0]
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for step in generate_tokens(tiny.language_model, emb, -1, GenerationConfig(max_tokens=500, ngram_size=0,
                                                                                    loop_guard=False), cancel):
            seen.append(step.token)
            if len(seen) == 3:
                cancel.set()
    assert len(seen) == 3  # no step after the one that saw the cancel
    cancel = threading.Event()
    cancel.set()  # cancelled before it starts: no work, a clean result
    (res,) = list(engine.stream(tiny, page(), cancel=cancel))
    assert res.stop_reason == "cancelled" and res.generated_tokens == 0


def test_cancel_mid_run_ends_the_stream_with_a_result(tiny, monkeypatch):
    import engine.pipeline as pipeline

    cancel = threading.Event()
    real = pipeline.generate_tokens

    def counting(*args, **kwargs):
        for k, step in enumerate(real(*args, **kwargs)):
            if k == 2:
                cancel.set()
            yield step

    monkeypatch.setattr(pipeline, "generate_tokens", counting)
    events = list(engine.stream(tiny, page(), engine.RunOptions.of(max_tokens=200, ngram_size=0), cancel=cancel))
    result = events[-1]
    assert isinstance(result, engine.Result) and result.stop_reason == "cancelled"
    assert result.generated_tokens == 3


class LoopingLM:
    """Wraps a language model so that its logits always favour a fixed cycle of ids."""

    def __init__(self, lm, cycle):
        self.lm, self.cycle, self.layers, self.step = lm, cycle, lm.layers, 0

    def embed(self, ids):
        return self.lm.embed(ids)

    def make_cache(self, window=True):
        return self.lm.make_cache(window)

    def make_batch_cache(self, lengths, window=True):
        return self.lm.make_batch_cache(lengths, window)

    def __call__(self, x, cache=None, last_only=False, **kw):
        out = self.lm(x, cache=cache, last_only=last_only, **kw)
        tok = self.cycle[self.step % len(self.cycle)]
        self.step += 1
        return out + 100.0 * (mx.arange(out.shape[-1]) == tok)


def test_forced_loop_stops_with_reason_repetition(tiny):
    lm = LoopingLM(tiny.language_model, [10, 11, 12, 13, 14])
    emb = tiny.language_model.embed(mx.array([[tiny.tokenizer.bos_id, 20, 21]]))[0]
    config = GenerationConfig(max_tokens=1000, ngram_size=0, recover=False)
    steps = list(generate_tokens(lm, emb, tiny.tokenizer.eos_id, config))
    assert steps[-1].stop == "repetition" and len(steps) < 200


def test_batched_decoding_gives_the_same_text_per_page(tiny):
    pages = [page(500, 700, 0), page(900, 1300, 1), page(300, 300, 2)]
    alone = [engine.ocr(tiny, p, engine.RunOptions.of(max_tokens=12, ngram_size=0)).raw_text for p in pages]
    together = {}
    for i, ev in engine.stream_batch(tiny, pages, engine.RunOptions.of(max_tokens=12, ngram_size=0)):
        if isinstance(ev, engine.Result):
            together[i] = ev.raw_text
    assert [together[i] for i in range(3)] == alone


def test_quantized_tiny_model_loads_and_generates(tmp_path):
    src = engine.write_tiny_checkpoint(tmp_path / "src", "v1", seed=1)
    out = quantize_checkpoint(read_checkpoint(src), tmp_path / "q8", bits=8, group_size=32)
    q = engine.load(out)
    assert q.checkpoint.config.quantization == {"bits": 8, "group_size": 32}
    assert type(q.language_model.layers[1].mlp.switch_mlp.gate_proj).__name__ == "QuantizedSwitchLinear"
    full = engine.load(src)
    a = engine.ocr(q, page(), engine.RunOptions.of(max_tokens=6, ngram_size=0))
    b = engine.ocr(full, page(), engine.RunOptions.of(max_tokens=6, ngram_size=0))
    assert a.generated_tokens == 6 and a.raw_text == b.raw_text  # 8-bit keeps the greedy path of this tiny model
