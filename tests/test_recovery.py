"""Recovery from repetition loops: rollback to the loop start with the KV cache cut back (single and batched),
the ladder in order, the text before the loop kept byte for byte, cancel in a retry, and the CLI/JSON report.

A scripted language model (`ScriptLM`) loops on cue; the tiny v2 checkpoint loops by itself on show1.jpg."""

import json
import threading
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import engine
import engine.language.generate as generate
from engine.language.generate import Cancelled, GenerationConfig, Rewind, Step, generate_batch, generate_tokens
from engine.language.kv_cache import BatchKVCache, KVCache, left_pad, make_batch_cache, make_cache
from engine.language.recovery import LoopBan, ladder, penalize
from engine.pipeline import Rollback

V, EOS = 100, 1
SHOW1 = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "show1.jpg"


def chain(*ids):
    return list(zip(ids, ids[1:]))


class ScriptLM:
    """Logits depend on the last token fed only: `first[prev]` scores 100, `second[prev]` 50, all else -10.
    It keeps a one-slot cache per call so that offsets and trims are real, and records every call."""

    def __init__(self, first, second=()):
        t = np.full((V, V), -10.0, np.float32)
        for a, b in second:
            t[a, b] = 50.0
        for a, b in first:
            t[a, b] = 100.0
        self.table = mx.array(t)
        self.layers = [None]
        self.calls = []  # (new positions, offsets before the call, ids fed)

    def embed(self, ids):
        return (mx.arange(V)[None, None] == ids[..., None]).astype(mx.float32)

    def make_cache(self, window=True):
        return make_cache(self)

    def make_batch_cache(self, lengths, window=True):
        return make_batch_cache(self, lengths)

    def __call__(self, x, cache=None, last_only=False):
        b, length, _ = x.shape
        before = cache[0].offset
        self.calls.append((length, np.array(before).tolist(), mx.argmax(x[:, -1], axis=-1).tolist()))
        z = mx.zeros((b, 1, length, 1))
        cache[0].update_and_fetch(z, z)
        out = x @ self.table
        return out[:, -1:] if last_only else out


PREFIX = list(range(10, 30))
# prompt ending in 3: 20 distinct ids, then the cycle 30 31 32; its way out (second choice after 32) is 40..49, EOS
RECOVERS = chain(3, *PREFIX, 30, 31, 32, 30) + chain(40, *range(41, 50), EOS)
RECOVERS_2 = [(32, 40)]
# prompt ending in 5: cycle 70-73, out to cycle 80-82, out to cycle 90-92: loops in every attempt
ALWAYS = chain(5, 70, 71, 72, 73, 70) + chain(80, 81, 82, 80) + chain(90, 91, 92, 90)
ALWAYS_2 = [(73, 80), (82, 90)]
# prompt ending in 4: never loops
CLEAN = chain(4, *range(60, 70), EOS)


def script():
    return ScriptLM(RECOVERS + ALWAYS + CLEAN, RECOVERS_2 + ALWAYS_2)


def prompt(lm, *ids):
    return lm.embed(mx.array([list(ids)]))[0]


CFG = dict(max_tokens=2000, ngram_size=0)


def run(lm, emb, **kw):
    stats = generate.GenerationStats()
    events = list(generate_tokens(lm, emb, EOS, GenerationConfig(**{**CFG, **kw}), stats=stats))
    return events, stats


def tokens_of(events):
    ids = []
    for e in events:
        if isinstance(e, Rewind):
            del ids[e.keep:]
        else:
            ids.append(e.token)
    return ids


def test_loop_rolls_back_to_its_start_and_recovers_with_the_cache_reused():
    lm = script()
    plain, plain_stats = run(lm, prompt(lm, 2, 3), recover=False)
    assert plain[-1].stop == "repetition"
    lm = script()
    events, stats = run(lm, prompt(lm, 2, 3))
    ids = tokens_of(events)
    keep = len(PREFIX) + 3  # the prefix and the cycle once
    assert ids == PREFIX + [30, 31, 32] + list(range(40, 50)) + [EOS]
    assert ids[:keep] == tokens_of(plain)[:keep]  # the text before the loop, untouched
    assert events[-1].stop == "recovered" == stats.stop_reason
    rewinds = [e for e in events if isinstance(e, Rewind)]
    assert [r.keep for r in rewinds] == [keep]
    assert [(a.strategy, a.start, a.stop, a.loop_start, a.period) for a in stats.attempts] == [
        ("greedy", 0, "repetition", len(PREFIX), 3), ("loop-ban+penalty", keep, "recovered", None, None)]
    assert sum(a.tokens for a in stats.attempts) == stats.decode_steps == plain_stats.decode_steps + 11
    assert stats.generated == len(ids)
    # one prefill only; after the rollback the cache holds the prompt and ids[:keep-1], and ids[keep-1] is fed
    assert [c[0] for c in lm.calls].count(2) == 1 and all(c[0] == 1 for c in lm.calls[1:])
    after = lm.calls[plain_stats.decode_steps]  # the call right after the looping token
    assert after[1] == 2 + keep - 1 and after[2] == [ids[keep - 1]]


def test_every_strategy_runs_in_order_and_the_last_loop_stops():
    lm = script()
    events, stats = run(lm, prompt(lm, 5))
    assert [a.strategy for a in stats.attempts] == ["greedy", "loop-ban+penalty", "low-temperature"]
    assert [a.stop for a in stats.attempts] == ["repetition"] * 3 and events[-1].stop == "repetition"
    ids = tokens_of(events)
    assert ids[:9] == [70, 71, 72, 73, 80, 81, 82, 90, 91]  # each cycle once, then the next way out
    assert [a.start for a in stats.attempts] == [0, 4, 7]
    # recovery off: the first loop stops the run
    _, off = run(script(), prompt(lm, 5), recover=False)
    assert [a.strategy for a in off.attempts] == ["greedy"] and off.stop_reason == "repetition"


def test_cancel_in_a_retry_stops_within_one_step():
    lm = script()
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for e in generate_tokens(lm, prompt(lm, 5), EOS, GenerationConfig(**CFG), cancel):
            seen.append(e)
            if isinstance(e, Rewind) and e.attempt.strategy == "low-temperature":
                cancel.set()
    assert isinstance(seen[-1], Rewind)  # nothing decoded after the cancel


def test_batched_sequences_recover_on_their_own_without_stalling_the_others():
    prompts = [(2, 3), (2, 2, 2, 4), (5,)]
    alone = []
    for p in prompts:
        lm = script()
        events, stats = run(lm, prompt(lm, *p))
        alone.append((tokens_of(events), [a.to_dict() for a in stats.attempts]))
    lm = script()
    stats = [generate.GenerationStats() for _ in prompts]
    per_seq = {i: [] for i in range(3)}
    order = []
    for i, e in generate_batch(lm, [prompt(lm, *p) for p in prompts], EOS, GenerationConfig(**CFG), stats=stats):
        per_seq[i].append(e)
        order.append((i, e))
    for i in range(3):
        assert tokens_of(per_seq[i]) == alone[i][0]
        assert [a.to_dict() for a in stats[i].attempts] == alone[i][1]
    # one batched forward per step: the rollbacks add no steps (the longest sequence sets the count)
    decode_calls = [c for c in lm.calls if c[0] == 1]
    assert len(lm.calls) - len(decode_calls) == 1
    assert len(decode_calls) == max(s.decode_steps for s in stats) - 1
    # the clean sequence finished at its own pace, while the others were still looping
    finish = next(k for k, (i, e) in enumerate(order) if i == 1 and isinstance(e, Step) and e.stop)
    assert finish < next(k for k, (i, e) in enumerate(order) if isinstance(e, Rewind))


# ---- the caches cut back, checked against the real tiny language model -----------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return engine.load(engine.write_tiny_checkpoint(tmp_path_factory.mktemp("rec") / "v2", "v2", seed=3))


def _feed(lm, cache, ids):
    return lm(lm.embed(mx.array(ids)), cache=cache, last_only=True)[:, -1]


def test_trimmed_caches_give_the_logits_of_a_fresh_run(tiny):
    lm = tiny.language_model
    a = [0, 20, 21, 22, 23, 24, 25]
    cache = make_cache(lm)
    _feed(lm, cache, [a + [40, 41, 42]])
    for c in cache:
        c.trim(4)
    got = _feed(lm, cache, [[a[-1]]])
    fresh = _feed(lm, make_cache(lm), [a])
    assert np.allclose(np.asarray(got), np.asarray(fresh), atol=1e-4)
    with pytest.raises(ValueError):
        KVCache().trim(1)
    # a batch: sequence 0 is cut back by 3, sequence 1 goes on untouched
    seqs = [lm.embed(mx.array([a + [40, 41, 42]]))[0], lm.embed(mx.array([[0, 30, 31, 32]]))[0]]
    padded, lengths = left_pad(seqs)
    bcache = make_batch_cache(lm, lengths)
    lm(padded, cache=bcache, last_only=True)
    for c in bcache:
        c.trim([3, 0])
    got = _feed(lm, bcache, [[42], [33]])  # sequence 0 now holds `a` only
    ref0 = _feed(lm, make_cache(lm), [a + [42]])
    ref1 = _feed(lm, make_cache(lm), [[0, 30, 31, 32, 33]])
    assert np.allclose(np.asarray(got[0]), np.asarray(ref0[0]), atol=1e-4)
    assert np.allclose(np.asarray(got[1]), np.asarray(ref1[0]), atol=1e-4)
    assert isinstance(bcache[0], BatchKVCache) and bcache[0].offset.tolist() == [8, 5]


def test_loop_ban_and_penalty_follow_their_rules():
    ban = LoopBan()
    ban.add([7, 8, 9])
    assert ban.banned([1, 7, 8, 9]) == {7} and ban.banned([8, 9, 7]) == {8} and ban.banned([9, 9, 7]) == set()
    ban.add([5])  # a period-1 loop: 5 may not follow 5
    assert ban.banned([3, 5]) == {5} and ban.banned([5, 3]) == set()
    logits = mx.array([2.0, -2.0, 1.0])
    assert penalize(logits, [0, 1, 1], 2.0).tolist() == [1.0, -4.0, 1.0]
    assert logits.tolist() == [2.0, -2.0, 1.0]
    with pytest.raises(ValueError, match="at least 1.0"):
        ladder(0.9)


# ---- end to end on the tiny checkpoint, which loops on show1.jpg ------------------------------------------

@pytest.fixture(scope="module")
def looping_runs(tiny):
    """show1.jpg without and with recovery (the tiny v2 model loops there within ~800 tokens)."""
    counts = {"encode": 0, "prefill": 0}
    import engine.pipeline as pipeline

    real_encode, real_prefill = pipeline.encode, generate.prefill

    def encode(*a, **k):
        counts["encode"] += 1
        return real_encode(*a, **k)

    def prefill(*a, **k):
        counts["prefill"] += 1
        return real_prefill(*a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "encode", encode)
    mp.setattr(generate, "prefill", prefill)
    try:
        plain = engine.ocr(tiny, SHOW1, engine.RunOptions.of(max_tokens=900, recover=False))
        counts_plain = dict(counts)
        events = list(engine.stream(tiny, SHOW1, engine.RunOptions.of(max_tokens=plain.generated_tokens + 60)))
        counts_rec = {k: v - counts_plain[k] for k, v in counts.items()}
    finally:
        mp.undo()
    return plain, events, counts_plain, counts_rec


def test_tiny_model_loop_is_recovered_end_to_end(looping_runs):
    plain, events, counts_plain, counts_rec = looping_runs
    assert plain.stop_reason == "repetition" and len(plain.attempts) == 1
    result = events[-1]
    rollbacks = [e for e in events if isinstance(e, Rollback)]
    assert len(rollbacks) >= 1 and result.attempts[1].strategy == "loop-ban+penalty"
    assert result.stop_reason in ("recovered", "max_tokens") and result.generated_tokens > plain.generated_tokens
    # the streamed text, cut back at each Rollback, is the final raw text
    text = ""
    for e in events[:-1]:
        text = text[:e.text_length] if isinstance(e, Rollback) else text + e.text
    assert text == result.raw_text
    # the text before the loop, byte for byte
    first = rollbacks[0]
    assert result.raw_text[:first.text_length] == plain.raw_text[:first.text_length]
    assert first.loop_start == plain.attempts[0].loop_start and first.text_length > 0
    assert counts_plain == counts_rec == {"encode": 1, "prefill": 1}  # the rollback reused the cache
    d = result.to_dict()
    assert d["attempts"][0]["stop"] == "repetition" and d["attempts"][1]["start"] == first.generated_tokens
    assert [a.text_start for a in result.attempts][:2] == [0, first.text_length]
    assert result.recovery_note().startswith(f"a loop at token {first.loop_start} was recovered by loop-ban+penalty")


def test_cancel_during_a_retry_ends_with_a_cancelled_result(tiny):
    cancel = threading.Event()
    events = []
    for e in engine.stream(tiny, SHOW1, engine.RunOptions.of(max_tokens=2000, repetition_penalty=1.3), cancel=cancel):
        events.append(e)
        if isinstance(e, Rollback):
            cancel.set()
    result = events[-1]
    assert isinstance(events[-2], Rollback) and result.stop_reason == "cancelled"
    assert [a.stop for a in result.attempts] == ["repetition", "cancelled"]


def test_cli_recover_options_and_summary(tiny, tmp_path, capsys):
    from engine.cli.main import main

    model_dir = tiny.checkpoint.folder
    assert main(["ocr", str(SHOW1), "--model", str(model_dir), "--repetition-penalty", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--repetition-penalty" in err and "at least 1" in err and err.count("\n") == 1
    assert main(["ocr", str(SHOW1), "--model", str(model_dir), "--no-recover", "--max-tokens", "900",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["stop_reason"] == "repetition" and len(data["attempts"]) == 1
    assert "repeating itself" in out.err
    # with recovery (the default) the summary line of a written page says what happened
    assert main(["ocr", str(SHOW1), "--model", str(model_dir), "--max-tokens", "850", "--out",
                 str(tmp_path / "o"), "--format", "json"]) == 0
    err = capsys.readouterr().err
    data = json.loads((tmp_path / "o" / "show1.json").read_text())
    assert [a["strategy"] for a in data["attempts"]][:2] == ["greedy", "loop-ban+penalty"]
    assert f"a loop at token {data['attempts'][0]['loop_start']} was recovered by loop-ban+penalty" in err
    assert "[1/1] " in err and "show1.json (850 tokens" in err


def test_batched_pages_recover_through_the_pipeline(tiny):
    from PIL import Image

    pages = [SHOW1, Image.new("RGB", (300, 300), "white")]
    streamed, results = {0: "", 1: ""}, {}
    for i, ev in engine.stream_batch(tiny, pages, engine.RunOptions.of(max_tokens=850)):
        if isinstance(ev, Rollback):
            streamed[i] = streamed[i][:ev.text_length]
        elif isinstance(ev, engine.TextDelta):
            streamed[i] += ev.text
        else:
            results[i] = ev
    assert results[0].recoveries and results[0].attempts[1].strategy == "loop-ban+penalty"
    for i in (0, 1):  # each page's stream, cut back at its own rollbacks, is its own final text
        assert streamed[i] == results[i].raw_text and results[i].stop_reason != "cancelled"
