"""The no-repeat n-gram ban equals the official vLLM-style processor; the loop detector stops real loops only."""

import random

import mlx.core as mx
import numpy as np
import pytest

from engine.language.loop_guard import LoopDetector
from engine.language.ngram import NoRepeatNGram


def reference_banned(ids, n, window, whitelist):
    """Straight transcription of the official NoRepeatNGramLogitsProcessor (generated ids only)."""
    if len(ids) < n:
        return set()
    prefix = ids[len(ids) - n + 1:] if n > 1 else []
    banned = set()
    for i in range(max(0, len(ids) - window), len(ids) - n + 1):
        if ids[i:i + n - 1] == prefix:
            banned.add(ids[i + n - 1])
    return {t for t in banned if t not in whitelist}


def _sequence(rng, vocab, length):
    """Random ids with planted repeats and loops, so that bans actually happen."""
    ids = []
    while len(ids) < length:
        r = rng.random()
        if r < 0.5 or len(ids) < 4:
            ids.append(rng.randrange(vocab))
        elif r < 0.8:  # copy an earlier stretch
            a = rng.randrange(len(ids))
            ids += ids[a:a + rng.randrange(1, 40)]
        else:  # a short loop
            ids += [rng.randrange(vocab) for _ in range(rng.randrange(1, 6))] * rng.randrange(2, 12)
    return ids[:length]


SETTINGS = [(1, 5), (2, 10), (3, 12), (4, 20), (5, 4), (8, 8), (20, 50), (30, 90), (40, 90)]


def _case(seed):
    rng = random.Random(seed)
    n, window = rng.choice(SETTINGS)
    vocab = rng.choice([2, 3, 4, 6, 50])
    ids = _sequence(rng, vocab, rng.randrange(0, 260))
    whitelist = {0, 1} if seed % 3 == 0 else ({2} if seed % 3 == 1 else set())
    return n, window, ids, whitelist


@pytest.mark.parametrize("seed", range(60))
def test_bans_exactly_what_the_reference_bans(seed):
    n, window, ids, whitelist = _case(seed)
    proc = NoRepeatNGram(n, window, whitelist)
    for length in range(len(ids) + 1):
        got = proc.banned(ids[:length])
        assert got == sorted(reference_banned(ids[:length], n, window, whitelist)), (n, window, length)


def test_the_random_cases_exercise_bans_and_whitelists():
    banned_steps = whitelisted_steps = 0
    for seed in range(60):
        n, window, ids, whitelist = _case(seed)
        for length in range(len(ids) + 1):
            plain = reference_banned(ids[:length], n, window, set())
            banned_steps += bool(plain - whitelist)
            whitelisted_steps += bool(plain & whitelist)
    assert banned_steps > 1000 and whitelisted_steps > 200


def test_loop_of_one_id_and_whitelist():
    proc = NoRepeatNGram(3, 10, whitelist={7})
    assert proc.banned([5, 5, 5]) == [5]
    assert proc.banned([7, 7, 7, 7]) == []  # whitelisted ids are never banned
    assert proc.banned([1, 2, 3, 1, 2]) == [3]
    assert proc.banned([1, 2, 3, 4, 1, 2]) == [3]
    assert NoRepeatNGram(3, 4).banned([1, 2, 3, 4, 1, 2]) == []  # the earlier 1 2 3 left the window
    assert proc.banned([1, 2]) == []  # fewer than n ids


def test_large_ids_and_tuples():
    proc = NoRepeatNGram(2, 90, whitelist={128821, 128822})
    ids = (128821, 128822, 128821, 5, 128821, 99999, 128821)
    assert proc.banned(ids) == [5, 99999]


def test_apply_sets_banned_logits_to_minus_inf_with_one_scatter():
    proc = NoRepeatNGram(2, 10, whitelist={5})
    logits = mx.arange(8).astype(mx.float32)
    out = np.asarray(proc.apply(logits, [3, 4, 3, 5, 3]))  # after 3: 4 and 5 followed it; 5 is whitelisted
    assert np.isneginf(out[4]) and np.array_equal(np.delete(out, 4), np.delete(np.arange(8.0), 4))
    assert np.array_equal(np.asarray(logits), np.arange(8.0))  # the input is left as it was
    same = proc.apply(logits, [1, 2])
    assert same is logits  # nothing banned: no copy
    batch = mx.zeros((2, 8), dtype=mx.bfloat16)
    out = np.asarray(proc.apply(batch, [1, 6, 1]).astype(mx.float32))
    assert np.isneginf(out[:, 6]).all() and np.isfinite(np.delete(out, 6, axis=1)).all()


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        NoRepeatNGram(0, 10)
    with pytest.raises(ValueError):
        NoRepeatNGram(3, 0)


def test_ban_cost_is_small_per_step():
    import time

    proc = NoRepeatNGram(30, 90)
    rng = random.Random(0)
    ids = [rng.randrange(100) for _ in range(5000)]
    t0 = time.perf_counter()
    for length in range(1000, 3000):
        proc.banned(ids[:length])
    per_step = (time.perf_counter() - t0) / 2000
    assert per_step < 1e-3  # microseconds in practice; a decode step takes milliseconds


# ---- loop detector -----------------------------------------------------------------------------------


def _first_stop(det, ids):
    return next((i for i, t in enumerate(ids) if det.push(t)), None)


@pytest.mark.parametrize("period", [1, 2, 7, 37, 61, 120, 200])
def test_forced_loops_stop(period):
    rng = random.Random(period)
    prefix = [rng.randrange(1000, 2000) for _ in range(300)]
    cycle = [rng.randrange(2000, 3000) for _ in range(period)]
    det = LoopDetector()
    ids = prefix + cycle * (2000 // period + 4)
    stop = _first_stop(det, ids)
    assert stop is not None and det.period == period
    # it stops as soon as the repeated tail covers max(150, 3 periods) ids, not later
    need = max(150, 3 * period)
    assert stop - len(prefix) + 1 <= need + 1


def test_loop_is_found_after_varied_text_and_reset():
    det = LoopDetector(max_period=50, min_span=60, min_repeats=3)
    assert _first_stop(det, list(range(500))) is None
    assert _first_stop(det, [1, 2, 3, 4, 5] * 20) is not None and det.period == 5
    det.reset()
    assert det.count == 0 and det.period is None
    assert _first_stop(det, [1, 2, 3, 4, 5] * 11) is None  # 55 ids < 60


def test_period_longer_than_max_is_not_reported():
    det = LoopDetector(max_period=50)
    cycle = list(range(1000, 1080))
    assert _first_stop(det, cycle * 10) is None


def test_varied_text_and_tables_do_not_trigger():
    rng = random.Random(0)
    det = LoopDetector()
    text = [rng.randrange(5000) for _ in range(5000)]
    assert _first_stop(det, text) is None
    # table rows: same structure every row, but different numbers
    det = LoopDetector()
    rows = [t for r in range(400) for t in (128823, 128821, rng.randrange(10, 3000), 128822, 128821,
                                           rng.randrange(10, 3000), 128822, 128824)]
    assert _first_stop(det, rows) is None
    # a line repeated only twice, then something else: not a loop
    det = LoopDetector()
    line = [rng.randrange(5000) for _ in range(100)]
    assert _first_stop(det, line + line + [rng.randrange(5000) for _ in range(300)]) is None


def test_relaxed_ids_need_a_longer_span():
    td, td_end, tr, tr_end = 128821, 128822, 128823, 128824
    empty_row = [tr] + [td, td_end] * 6 + [tr_end]  # an empty table row, 14 ids
    strict = LoopDetector()
    assert _first_stop(strict, empty_row * 40) is not None  # 560 ids of identical rows
    relaxed = LoopDetector(relaxed_ids={td, td_end, tr, tr_end}, relaxed_span=1024)
    assert _first_stop(relaxed, empty_row * 40) is None  # a long empty table is fine
    stop = _first_stop(relaxed, empty_row * 200)  # but not an endless one
    assert stop is not None and stop < 1024 + 14 and relaxed.period == 14
    # a cycle that contains other ids is held to the normal span even with relaxed ids set
    relaxed = LoopDetector(relaxed_ids={td, td_end})
    stop = _first_stop(relaxed, [td, 5, td_end] * 100)
    assert stop is not None and stop < 160


def test_push_is_cheap():
    import time

    det = LoopDetector()
    rng = random.Random(1)
    ids = [rng.randrange(5000) for _ in range(20000)]
    t0 = time.perf_counter()
    for t in ids:
        det.push(t)
    assert (time.perf_counter() - t0) / len(ids) < 2e-4
