"""Unlimited-OCR's decode window (engine/language/window_cache.py) against the plain cache and against itself:
the window engages at W, a chunk through the banded mask equals feeding one at a time, rollbacks (inside
and behind the ring) equal a fresh decode of the kept tokens, batches and joined batches equal single
sequences, and decode memory stays flat past W."""

import mlx.core as mx
import numpy as np
import pytest

from engine.language.generate import prefill
from engine.language.kv_cache import join_caches, to_batch_cache
from engine.language.window_cache import BatchRingKVCache, RingKVCache, cut_back, rebuild_rows
from engine.model import load
from engine.testing import write_tiny_checkpoint
from test_generation import LoopingLM

W = 8


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    folder = write_tiny_checkpoint(tmp_path_factory.mktemp("unlimited") / "tiny", "unlimited", window=W)
    return load(folder, dtype="float32").language_model


def prompt(lm, n, seed):
    rng = np.random.default_rng(seed)
    return lm.embed(mx.array(rng.integers(3, lm.config.vocab_size - 12, (1, n))))[0]


def ids(n, seed=1):
    return np.random.default_rng(seed).integers(3, 250, n).tolist()


def feed(lm, cache, tokens):
    """Logits [V] after each token fed one at a time."""
    out = []
    for t in tokens:
        logits = lm(lm.embed(mx.array([[t]])), cache=cache, last_only=True).reshape(-1)
        mx.eval(logits)
        out.append(np.asarray(logits))
    return np.stack(out)


def primed(lm, n=20, seed=0, window=True):
    cache = lm.make_cache(window)
    prefill(lm, prompt(lm, n, seed), cache, 1024, None)
    return cache


def test_the_window_engages_at_w(lm):
    tokens = ids(3 * W)
    ring, full = feed(lm, primed(lm), tokens), feed(lm, primed(lm, window=False), tokens)
    assert isinstance(primed(lm)[0], RingKVCache)
    np.testing.assert_allclose(ring[:W], full[:W], atol=1e-5)
    assert np.abs(ring[W:] - full[W:]).max() > 1e-3  # from token W on, the oldest generated ones are gone


def test_a_chunk_through_the_band_equals_one_at_a_time(lm):
    tokens = ids(2 * W + 3)
    one = primed(lm)
    step_logits = feed(lm, one, tokens)
    chunk = primed(lm)
    last = lm(lm.embed(mx.array([tokens])), cache=chunk, last_only=True).reshape(-1)
    np.testing.assert_allclose(np.asarray(last), step_logits[-1], atol=1e-5)
    more = ids(W + 2, seed=5)  # and the ring it leaves is the same window
    np.testing.assert_allclose(feed(lm, chunk, more), feed(lm, one, more), atol=1e-5)


@pytest.mark.parametrize("generated,back", [(W - 2, 3), (W, 4), (3 * W + 1, 2), (3 * W, W + 3)],
                         ids=["inside", "full-ring", "behind-ring", "more-than-W"])
def test_rollback_equals_a_fresh_decode_of_the_kept_tokens(lm, generated, back):
    """The cache holds `generated` tokens; cutting `back` of them and feeding the next one gives the logits a
    fresh decode of the kept tokens gives (the rebuild behind the ring included)."""
    tokens = ids(generated + 1)
    cache = primed(lm)
    feed(lm, cache, tokens[:generated])
    kept = tokens[:generated - back + 1]  # as `Sequence` keeps them: the last kept one is fed next
    cut_back(lm, cache, back, kept)
    assert cache[0].fed == len(kept) - 1
    got = feed(lm, cache, [kept[-1]] + tokens[:W])
    want = feed(lm, primed(lm), kept + tokens[:W])[len(kept) - 1:]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_decode_memory_is_prompt_plus_window(lm):
    cache = primed(lm, n=30)
    feed(lm, cache, ids(W + 1))
    after_w = sum(a.nbytes for c in cache for a in c.state)
    feed(lm, cache, ids(5 * W, seed=3))
    assert sum(a.nbytes for c in cache for a in c.state) == after_w
    assert all(c.keys.shape[2] == 30 + W for c in cache)


def test_a_batch_decodes_each_row_as_alone(lm):
    lengths, tokens = [20, 13], [ids(3 * W, seed=7), ids(3 * W, seed=8)]
    alone = [feed(lm, primed(lm, n, seed=s), t) for n, s, t in zip(lengths, (0, 1), tokens)]
    embeds = [prompt(lm, n, s) for n, s in zip(lengths, (0, 1))]
    width = max(lengths)
    padded = mx.stack([mx.concatenate([mx.zeros((width - e.shape[0], e.shape[1])), e]) for e in embeds])
    cache = lm.make_batch_cache(lengths)
    assert isinstance(cache[0], BatchRingKVCache)
    prefill(lm, padded, cache, 1024, None)
    rows = []
    for k in range(3 * W):
        logits = lm(lm.embed(mx.array([[tokens[0][k]], [tokens[1][k]]])), cache=cache, last_only=True)[:, -1]
        rows.append(np.asarray(logits))
    got = np.stack(rows, axis=1)
    for r in range(2):
        np.testing.assert_allclose(got[r], alone[r], atol=1e-4)


def test_a_joined_row_and_a_batch_rollback_behind_the_ring(lm):
    """Row 0 decodes 2W tokens alone, then row 1 (prefilled alone) joins; both go on as alone. Then row 0
    rolls back behind its ring (rebuilt alone, put back) while row 1 goes on."""
    a_tok, b_tok = ids(5 * W, seed=11), ids(5 * W, seed=12)
    a = primed(lm, 20, 0)
    feed(lm, a, a_tok[:2 * W])
    b = primed(lm, 9, 1)
    cache = join_caches(to_batch_cache(a), to_batch_cache(b))

    def step(x, y):
        logits = lm(lm.embed(mx.array([[x], [y]])), cache=cache, last_only=True)[:, -1]
        mx.eval(logits)
        return np.asarray(logits)

    got = np.stack([step(a_tok[2 * W + k], b_tok[k]) for k in range(W + 2)], axis=1)
    ref_a = feed(lm, primed(lm, 20, 0), a_tok[:3 * W + 2])[2 * W:]
    ref_b = feed(lm, primed(lm, 9, 1), b_tok[:W + 2])
    np.testing.assert_allclose(got[0], ref_a, atol=1e-4)
    np.testing.assert_allclose(got[1], ref_b, atol=1e-4)

    fed_a = 3 * W + 2  # row 0's generated so far; cut 5 back (its ring has wrapped: a rebuild)
    kept = a_tok[:fed_a - 5 + 1]
    trims = rebuild_rows(lm, cache, [5, 0], [kept, b_tok[:W + 3]])
    assert trims == [0, 0] and cache[0].fed.tolist() == [len(kept) - 1, W + 2]
    nxt = step(kept[-1], b_tok[W + 2])
    np.testing.assert_allclose(nxt[0], feed(lm, primed(lm, 20, 0), kept)[-1], atol=1e-4)
    np.testing.assert_allclose(nxt[1], feed(lm, primed(lm, 9, 1), b_tok[:W + 3])[-1], atol=1e-4)


def test_a_batch_trim_inside_the_ring_is_exact_and_behind_it_refused(lm):
    cache = lm.make_batch_cache([10])
    prefill(lm, prompt(lm, 10, 0)[None], cache, 1024, None)
    for t in ids(W):
        lm(lm.embed(mx.array([[t]])), cache=cache, last_only=True)
    cache[0].trim([3])
    assert cache[0].fed.tolist() == [W - 3]
    for t in ids(W + 4, seed=4):
        lm(lm.embed(mx.array([[t]])), cache=cache, last_only=True)
    with pytest.raises(ValueError, match="overwritten"):
        cache[0].trim([1])


class Looping(LoopingLM):
    """The tiny model pushed into a 5-token cycle (the loop guard then rolls back behind the ring, W = 8),
    recording how many positions each call feeds."""

    def __init__(self, lm):
        super().__init__(lm, [10, 11, 12, 13, 14])
        self.config, self.calls = lm.config, []

    def __call__(self, x, **kw):
        self.calls.append(x.shape[1])
        return super().__call__(x, **kw)


def test_loop_recovery_rolls_back_behind_the_ring_in_a_run_and_in_a_batch(lm):
    from engine.language.generate import GenerationConfig, GenerationStats, Rewind, generate_batch, generate_tokens

    config = GenerationConfig(max_tokens=400, ngram_size=0, recover=True)
    looping, stats = Looping(lm), GenerationStats()
    events = list(generate_tokens(looping, prompt(lm, 12, 0), 1, config, stats=stats))
    rewinds = [e for e in events if isinstance(e, Rewind)]
    assert rewinds and len(stats.attempts) > 1
    assert any(n > 1 for n in looping.calls[1:])  # a rebuild fed the kept output again as one chunk
    looping = Looping(lm)
    stats = [GenerationStats(), GenerationStats()]
    events = list(generate_batch(looping, [prompt(lm, 12, 0), prompt(lm, 7, 1)], 1, config, stats=stats))
    assert {i for i, e in events if isinstance(e, Rewind)} and all(len(s.attempts) > 1 for s in stats)
