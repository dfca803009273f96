"""The no-repeat n-gram ban equals the official vLLM-style processor; the loop detector stops real loops."""

import random

import mlx.core as mx
import numpy as np
import pytest

from engine.language.loop_guard import LoopDetector
from engine.language.ngram import NoRepeatNGram


def reference_banned(ids, n, window, whitelist):
    """Transcription of the official NoRepeatNGramLogitsProcessor (ngram_norepeat.py)."""
    if len(ids) < n:
        return set()
    prefix = tuple(ids[-(n - 1):]) if n > 1 else ()
    banned = set()
    for i in range(max(0, len(ids) - window), len(ids) - n + 1):
        if tuple(ids[i:i + n - 1]) == prefix:
            banned.add(ids[i + n - 1])
    return banned - set(whitelist)


@pytest.mark.parametrize("seed", range(40))
def test_bans_exactly_what_the_reference_bans(seed):
    rng = random.Random(seed)
    n, window = rng.choice([(2, 10), (3, 12), (4, 20), (30, 90), (20, 50), (1, 5)])
    vocab = rng.choice([3, 4, 6])
    ids = [rng.randrange(vocab) for _ in range(rng.randrange(0, 200))]
    whitelist = {0} if seed % 3 == 0 else set()
    proc = NoRepeatNGram(n, window, whitelist)
    for length in range(len(ids) + 1):
        assert set(proc.banned(ids[:length])) == reference_banned(ids[:length], n, window, whitelist)


def test_apply_sets_banned_logits_to_minus_inf():
    proc = NoRepeatNGram(2, 10, whitelist={5})
    logits = mx.zeros((8,))
    out = np.asarray(proc.apply(logits, [3, 4, 3, 5, 3]))  # after 3: 4 and 5 followed it; 5 is whitelisted
    assert np.isneginf(out[4]) and out[5] == 0 and np.isfinite(np.delete(out, 4)).all()


def test_loop_detector_stops_a_loop_and_not_varied_text():
    det = LoopDetector()
    line = list(range(100, 137))  # a 37-token line repeated
    stopped_at = next(i for i, t in enumerate(line * 20) if det.push(t))
    assert stopped_at < 37 * 6 and det.period == 37
    varied = LoopDetector()
    rng = random.Random(0)
    rows = [t for r in range(200) for t in (7, 8, rng.randrange(1000, 2000), rng.randrange(1000, 2000), 9)]
    assert not any(varied.push(t) for t in rows)  # table rows with different numbers are not a loop
