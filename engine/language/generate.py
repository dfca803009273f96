"""Token-by-token generation from prompt embeddings: chunked prefill, KV-cached decode, guards, cancel.

`generate_tokens` yields one `Step` per new token (`generate_batch`: (sequence index, Step) for several
prompts decoded together). Greedy by default; the vLLM-style no-repeat n-gram ban and the loop detector run
on generated ids only. When the detector fires and `recover` is on, the sequence rolls back to where the
loop began and continues with the next strategy of the recovery ladder (`recovery.py`): a `Rewind` is
yielded instead of a Step, the KV cache is cut back (a batch cuts only that sequence's row, the others go on
in the same step), and every attempt is recorded in `GenerationStats.attempts`. A `threading.Event` is
checked between prefill chunks and before every decode step, so a cancel takes effect within one step, in
any attempt. Each step's forward pass is dispatched
(`mx.async_eval`) before the previous token is handed to the caller, so that on a GPU detokenizing and
painting overlap it (on a CPU the numpy kernels of `runtime.kernels` compute it on the spot).

The decode step is not wrapped in `mx.compile`. Measured on the CPU (`bench/run.py`, key
`decode_compiled_mlp_tok_s`): compiling the MLP / MoE blocks gains ~10% over MLX's own kernels, while the numpy
matrix-vector path of `runtime.kernels.products` (which a compiled graph cannot contain) is ~1.9x faster; the
step is bound by reading weights, which compilation does not change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import mlx.core as mx

from ..runtime.cancel import Cancelled
from ..runtime.cancel import scope as cancel_scope
from ..options import Decoding, Recovery
from .recovery import PENALTY_WINDOW, Attempt, LoopBan, ban, ladder, penalize
from .sampling import sample
from .window_cache import cut_back, end_prefill, rebuild_rows


_DECODING, _RECOVERY = Decoding(), Recovery()  # the run defaults, written once in `engine/options.py`


@dataclass
class GenerationConfig:
    """Decoding settings of the generation loop: a run's `Decoding` and `Recovery` (`of`), plus the loop's own
    knobs. `ngram_size=0` turns the n-gram ban off (as parity dumps need). `recover` rolls a loop back and
    retries it with the ladder of `recovery.py`; `repetition_penalty` is the penalty of its first rung.
    `max_tokens` bounds the tokens kept (a rollback gives back the ones it drops)."""

    max_tokens: int = _DECODING.max_tokens
    temperature: float = _DECODING.temperature
    top_p: float = _DECODING.top_p
    ngram_size: int = _DECODING.ngram_size
    ngram_window: int = _DECODING.ngram_window
    loop_guard: bool = True
    prefill_chunk: int = 1024  # positions per prefill step (a page's prompt is ~300-1200); more rows per expert GEMM
    seed: int | None = None
    window: bool = True  # Unlimited-OCR's decode window (False: full attention, as parity's `--no-window`)
    recover: bool = _RECOVERY.enabled
    repetition_penalty: float = _RECOVERY.repetition_penalty

    @classmethod
    def of(cls, decoding: Decoding, recovery: Recovery) -> "GenerationConfig":
        """The loop's settings for a run's decoding and recovery options."""
        return cls(max_tokens=decoding.max_tokens, temperature=decoding.temperature, top_p=decoding.top_p,
                   ngram_size=decoding.ngram_size, ngram_window=decoding.ngram_window, recover=recovery.enabled,
                   repetition_penalty=recovery.repetition_penalty)


@dataclass
class Step:
    """One generated token and, on the last step, why generation stopped."""

    token: int
    index: int
    stop: str | None = None  # "eos", "recovered" (eos after a recovery), "max_tokens", "repetition" (last step)


@dataclass
class Rewind:
    """A loop was found: the generated tokens from `keep` on are dropped, and decoding goes on from there
    with `attempt` (the new attempt's strategy; the attempt before it says where the loop began)."""

    keep: int
    attempt: Attempt


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    generated: int = 0  # tokens kept (the output's length)
    decode_steps: int = 0  # tokens decoded, those a rollback dropped included
    stop_reason: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    first_logits: mx.array | None = field(default=None, repr=False)

    @property
    def decode_tokens_per_s(self) -> float:
        return self.decode_steps / self.decode_s if self.decode_s > 0 else 0.0


def prefill(lm, embeds: mx.array, cache, chunk: int, cancel: threading.Event | None) -> mx.array:
    """Run prompt embeddings [L, H] (or a left-padded batch [B, L, H]) through the model in chunks; return the
    last position's logits [V] (or [B, V])."""
    x = embeds if embeds.ndim == 3 else embeds[None]
    length = x.shape[1]
    logits = None
    with cancel_scope(cancel):  # also checked between the halves of every layer (runtime.cancel)
        for start in range(0, length, chunk):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            last = start + chunk >= length
            logits = lm(x[:, start:start + chunk], cache=cache, last_only=last)
            mx.eval(logits if last else [c.state for c in cache])
    end_prefill(cache)
    logits = logits[:, -1]
    return logits if embeds.ndim == 3 else logits[0]


class Sequence:
    """One sequence's decoding state: its ids, guards, sampling key, recovery ladder and attempts.

    `next_logits` applies the guards of the current attempt; `push` takes the sampled id and returns the
    `Step` to hand out, or a `Rewind` after which `trim` cache positions must be dropped and `feed` fed next."""

    def __init__(self, config: GenerationConfig, eos_id: int, whitelist: frozenset[int], stats: GenerationStats,
                 seed: int | None):
        self.config, self.eos_id, self.stats = config, eos_id, stats
        self.ngram, self.loops = _guards(config, whitelist)
        self.rungs = ladder(config.repetition_penalty) if config.recover and self.loops is not None else ()
        self.temperature, self.penalty, self.penalty_from = config.temperature, 1.0, 0
        self.seed = seed
        self.key = mx.random.key(seed) if seed is not None else None
        self.loop_ban = LoopBan()
        self.generated: list[int] = []
        self.trim, self.feed = 0, None
        stats.attempts = [Attempt("greedy" if config.temperature <= 0 else "sampling", 0)]

    def next_logits(self, logits: mx.array) -> mx.array:
        ids = self.generated
        if self.ngram is not None:
            logits = self.ngram.apply(logits, ids)
        if self.loop_ban:
            logits = ban(logits, self.loop_ban.banned(ids))
        if self.penalty != 1.0:
            logits = penalize(logits, ids[max(self.penalty_from, len(ids) - PENALTY_WINDOW):], self.penalty)
        return logits

    def next_key(self):
        if self.key is None:
            return None
        self.key, sub = mx.random.split(self.key)
        return sub

    def push(self, token: int) -> Step | Rewind:
        ids = self.generated
        ids.append(token)
        self.stats.decode_steps += 1
        attempt = self.stats.attempts[-1]
        attempt.tokens += 1
        stop = None
        if token == self.eos_id:
            stop = "recovered" if len(self.stats.attempts) > 1 else "eos"
        elif self.loops is not None and self.loops.push(token):
            attempt.loop_start, attempt.period = self.loops.start, self.loops.period
            if len(self.stats.attempts) <= len(self.rungs):
                return self._rewind()
            stop = "repetition"
        elif len(ids) >= self.config.max_tokens:
            stop = "max_tokens"
        self.stats.generated = len(ids)
        if stop:
            attempt.stop = self.stats.stop_reason = stop
        return Step(token, len(ids) - 1, stop)

    def _rewind(self) -> Rewind:
        """Drop the loop's repeats (keep its first period), switch to the next rung, say what the cache loses."""
        ids, loops = self.generated, self.loops
        start, period = loops.start, loops.period
        keep = start + period
        self.loop_ban.add(ids[start:keep])
        self.trim = len(ids) - keep  # the cache holds all ids but the last; it must end before ids[keep - 1]
        self.feed = ids[keep - 1]
        del ids[keep:]
        self.stats.attempts[-1].stop = "repetition"
        strategy = self.rungs[len(self.stats.attempts) - 1]
        self.penalty, self.penalty_from = strategy.penalty, start
        if strategy.temperature is not None and strategy.temperature != self.temperature:
            self.temperature = strategy.temperature
            if self.key is None:  # reproducible: the run's seed, else 0
                self.key = mx.random.key(0 if self.seed is None else self.seed)
        loops.reset()
        for t in ids:
            loops.push(t)
        attempt = Attempt(strategy.name, keep)
        self.stats.attempts.append(attempt)
        self.stats.generated = keep
        return Rewind(keep, attempt)


def generate_tokens(lm, embeds: mx.array, eos_id: int, config: GenerationConfig | None = None,
                    cancel: threading.Event | None = None, whitelist: frozenset[int] = frozenset(),
                    stats: GenerationStats | None = None):
    """Yield `Step`s (and `Rewind`s) for the prompt embeddings [L, H]. Raises Cancelled when `cancel` is set."""
    config = config or GenerationConfig()
    stats = stats if stats is not None else GenerationStats()
    stats.prompt_tokens = int(embeds.shape[0])
    seq = Sequence(config, eos_id, whitelist, stats, config.seed)
    cache = lm.make_cache(config.window)

    t0 = time.perf_counter()
    logits = prefill(lm, embeds, cache, config.prefill_chunk, cancel)
    stats.first_logits = logits
    stats.prefill_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    while True:
        if cancel is not None and cancel.is_set():
            stats.decode_s = time.perf_counter() - t1
            raise Cancelled
        key = seq.next_key()
        token = int(sample(seq.next_logits(logits), seq.temperature, config.top_p, key))  # the host streams it
        event = seq.push(token)
        stats.decode_s = time.perf_counter() - t1
        if isinstance(event, Step) and event.stop:
            yield event
            return
        if isinstance(event, Rewind):
            cut_back(lm, cache, seq.trim, seq.generated)
            token = seq.feed
        # dispatch the next step before handing this token out: the consumer's work overlaps the forward pass
        logits = lm(lm.embed(mx.array([[token]])), cache=cache, last_only=True).reshape(-1)
        mx.async_eval(logits)
        yield event


def _guards(config: GenerationConfig, whitelist: frozenset[int]):
    ngram = loops = None
    if config.ngram_size > 0:
        from .ngram import NoRepeatNGram

        ngram = NoRepeatNGram(config.ngram_size, config.ngram_window, whitelist)
    if config.loop_guard:
        from .loop_guard import LoopDetector

        loops = LoopDetector(relaxed_ids=whitelist)
    return ngram, loops


def _sample_rows(logits: list[mx.array], seqs: list[Sequence], top_p: float) -> list[int]:
    """One id per row: all rows at once when they share a temperature and need no key (the usual case)."""
    keys = [s.next_key() for s in seqs]
    if all(k is None for k in keys) and len({s.temperature for s in seqs}) == 1:
        return sample(mx.stack(logits), seqs[0].temperature, top_p).tolist()
    return [int(sample(row, s.temperature, top_p, k)) for row, s, k in zip(logits, seqs, keys)]


def generate_batch(lm, embeds: list[mx.array], eos_id: int, config: GenerationConfig | None = None,
                   cancel: threading.Event | None = None, whitelist: frozenset[int] = frozenset(),
                   stats: list[GenerationStats] | None = None):
    """Decode several prompts [L_i, H] together; yield (sequence index, Step or Rewind). Finished sequences
    drop out.

    The prompts are left-padded into one batch (a `BatchKVCache` hides the padding and gives every sequence
    its own positions); each decode step runs all unfinished sequences as one batch. A sequence that rolls
    back a loop feeds its rollback token in the next batched step, so the others never wait for it.
    Sequence i samples with seed `seed + i` (the same as decoding it alone when i = 0)."""
    from .kv_cache import filter_cache, left_pad, trim_batch_cache

    config = config or GenerationConfig()
    n = len(embeds)
    stats = stats if stats is not None else [GenerationStats() for _ in range(n)]
    seqs = [Sequence(config, eos_id, whitelist, stats[i], None if config.seed is None else config.seed + i)
            for i in range(n)]
    padded, lengths = left_pad(embeds)
    cache = lm.make_batch_cache(lengths, config.window)
    t0 = time.perf_counter()
    logits = prefill(lm, padded, cache, config.prefill_chunk, cancel)
    prefill_s = time.perf_counter() - t0
    for i, s in enumerate(stats):
        s.prompt_tokens, s.prefill_s, s.first_logits = lengths[i], prefill_s, logits[i]
    active = list(range(n))
    t1 = time.perf_counter()
    while active:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        rows = [seqs[i].next_logits(logits[r]) for r, i in enumerate(active)]
        tokens = _sample_rows(rows, [seqs[i] for i in active], config.top_p)
        keep, events, feed, trims = [], [], [], []
        for r, (i, token) in enumerate(zip(active, tokens)):
            event = seqs[i].push(token)
            stats[i].decode_s = time.perf_counter() - t1
            if isinstance(event, Rewind):
                keep.append(r)
                feed.append(seqs[i].feed)
                trims.append(seqs[i].trim)
            elif not event.stop:
                keep.append(r)
                feed.append(token)
                trims.append(0)
            events.append((i, event))
        if keep:
            # dispatch the next step before handing these tokens out (the consumer's work overlaps it)
            if len(keep) < len(active):
                filter_cache(cache, keep)
            if any(trims):
                trims = rebuild_rows(lm, cache, trims, [seqs[active[r]].generated for r in keep])
                trim_batch_cache(cache, trims)
            logits = lm(lm.embed(mx.array([[t] for t in feed])), cache=cache, last_only=True)[:, -1]
            mx.async_eval(logits)
        yield from events
        active = [active[r] for r in keep]
