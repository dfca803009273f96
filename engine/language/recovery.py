"""Recover from a repetition loop: roll back to where it began and go on with a stronger guard.

When the loop detector fires, the ids from the start of the loop's second period on are dropped (the first
period is kept: it is what the page says once; the repeats are the loop), the KV cache is cut back to the
same point, and decoding continues from there with the next strategy of the ladder. The prompt, the image
embeddings and the cache before the loop stay valid, so a retry costs only the tokens it generates: one
decode step to refresh the logits at the rollback point, no new encode or prefill.

The ladder follows what users of DeepSeek-OCR do by hand when a page loops (DeepSeek-OCR #151: 9% of 600
newspaper crops loop on the official code; ollama #13168 / #13345: up to 25% of some images even with
`repeat_penalty`; mlx-vlm #549 / #578; the DeepSeek-OCR-2 paper measures a 2.9-4.2% repetition rate):
a repetition penalty of 1.2, then 1.35, then temperature 0.2. Each rung runs only if the previous one loops
again, so a page that never loops pays nothing and the worst case is bounded (at most `len(ladder) + 1`
attempts, each within the same `max_tokens`):

1. `loop-ban+penalty`: the loop's own n-grams are banned (the cycle cannot start over where it did) and a
   repetition penalty (default 1.2, `repetition_penalty`) is applied with HF semantics (positive logits
   divided, negative ones multiplied) to the ids generated since the loop began, at most the last
   `PENALTY_WINDOW` of them. The window keeps a long page from penalising every common word (ollama's
   `repeat_last_n` idea); 256 covers the longest period the loop detector looks for (200).
2. `low-temperature`: the same bans, a penalty of at least 1.35, and sampling at temperature 0.2 with a
   fixed seed (the run's `seed`, else 0), so a retry is reproducible. Sampling breaks the ties greedy
   decoding falls back into; 0.2 keeps the text close to the greedy reading.

The third step users take, cropping the page into horizontal bands and OCR-ing each, needs a new encode per
band and is not part of the ladder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import mlx.core as mx

PENALTY_WINDOW = 256
DEFAULT_PENALTY = 1.2
MAX_BAN_N = 10  # longest n-gram of a loop's cycle that is banned (a cycle of period p bans (p+1)-grams up to this)


@dataclass(frozen=True)
class Strategy:
    """One rung of the ladder. `temperature` None keeps the run's own temperature."""

    name: str
    penalty: float = 1.0
    temperature: float | None = None


def ladder(penalty: float = DEFAULT_PENALTY) -> tuple[Strategy, ...]:
    """The recovery strategies in the order they are tried (see the module docstring)."""
    if not penalty >= 1.0:
        raise ValueError(f"repetition penalty must be at least 1.0 (1.0 = none; got {penalty}); "
                         f"DeepSeek-OCR users report 1.2-1.35 working")
    return (Strategy("loop-ban+penalty", penalty), Strategy("low-temperature", max(penalty, 1.35), 0.2))


@dataclass
class Attempt:
    """One decoding attempt of a sequence: its strategy, the generated-token index it started at, how many
    tokens it generated, why it stopped, (when it looped) where the loop began and its period, and where its
    text begins in the raw output (`text_start`, characters; filled in by the pipeline)."""

    strategy: str
    start: int
    tokens: int = 0
    stop: str = ""
    loop_start: int | None = None
    period: int | None = None
    text_start: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class LoopBan:
    """Bans the continuation of the n-grams of loops seen before (the infinite repetition of each cycle).

    A cycle c of period p bans every (n = min(p + 1, MAX_BAN_N))-gram of c c c ...: after the first n-1 ids
    of any rotation of the cycle, the id that would continue it is banned."""

    def __init__(self):
        self._bans: dict[int, dict[tuple[int, ...], set[int]]] = {}  # n -> prefix -> banned next ids

    def add(self, cycle: list[int]) -> None:
        p = len(cycle)
        n = min(p + 1, MAX_BAN_N)
        table = self._bans.setdefault(n, {})
        for r in range(p):
            gram = [cycle[(r + k) % p] for k in range(n)]
            table.setdefault(tuple(gram[:-1]), set()).add(gram[-1])

    def banned(self, ids: list[int]) -> set[int]:
        out: set[int] = set()
        for n, table in self._bans.items():
            if len(ids) >= n - 1:
                out |= table.get(tuple(ids[len(ids) - n + 1:]) if n > 1 else (), set())
        return out

    def __bool__(self) -> bool:
        return bool(self._bans)


def penalize(logits: mx.array, ids, penalty: float) -> mx.array:
    """HF repetition penalty on `logits` [V] for `ids`: positive logits divided by `penalty`, negative ones
    multiplied; a new array (the input stays as it was)."""
    if penalty == 1.0 or not ids:
        return logits
    idx = mx.array(sorted(set(ids)), dtype=mx.int32)
    picked = logits[idx]
    out = mx.array(logits)
    out[idx] = mx.where(picked < 0, picked * penalty, picked / penalty)
    return out


def ban(logits: mx.array, ids) -> mx.array:
    """`logits` [V] with `ids` set to -inf; a new array."""
    if not ids:
        return logits
    out = mx.array(logits)
    out[mx.array(sorted(ids), dtype=mx.int32)] = -mx.inf
    return out
