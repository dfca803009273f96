"""Token-by-token generation from prompt embeddings: chunked prefill, KV-cached decode, guards, cancel.

`generate_tokens` yields one `Step` per new token. Greedy by default; the vLLM-style no-repeat n-gram ban and
the loop detector run on generated ids only; a `threading.Event` is checked between prefill chunks and
before every decode step, so a cancel takes effect within one step. Each step's forward pass is dispatched
(`mx.async_eval`) before the previous token is handed to the caller, so that on a GPU detokenizing and
painting overlap it (on a CPU the numpy kernels of `runtime.cpu_kernels` compute it on the spot).

The decode step is not wrapped in `mx.compile`. Measured on the CPU (`bench/run.py`, key
`decode_compiled_mlp_tok_s`): compiling the MLP / MoE blocks gains ~10% over MLX's own kernels, while the numpy
matrix-vector path of `runtime.cpu_kernels` (which a compiled graph cannot contain) is ~1.9x faster; the
step is bound by reading weights, which compilation does not change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import mlx.core as mx

from ..runtime.cancel import Cancelled
from ..runtime.cancel import scope as cancel_scope
from .kv_cache import make_cache
from .sampling import sample


@dataclass
class GenerationConfig:
    """Decoding settings. `ngram_size=0` turns the n-gram ban off (as parity dumps need)."""

    max_tokens: int = 8192
    temperature: float = 0.0
    top_p: float = 1.0
    ngram_size: int = 30
    ngram_window: int = 90
    loop_guard: bool = True
    prefill_chunk: int = 512
    seed: int | None = None


@dataclass
class Step:
    """One generated token and, on the last step, why generation stopped."""

    token: int
    index: int
    stop: str | None = None  # "eos", "max_tokens", "repetition" (set on the final step)


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    generated: int = 0
    stop_reason: str = ""
    first_logits: mx.array | None = field(default=None, repr=False)

    @property
    def decode_tokens_per_s(self) -> float:
        return self.generated / self.decode_s if self.decode_s > 0 else 0.0


def prefill_chunks(lm, embeds: mx.array, cache, chunk: int, cancel: threading.Event | None) -> mx.array:
    """Run prompt embeddings [B, L, H] through the model in chunks of `chunk` positions; return the last
    position's logits [B, V]. `cancel` is checked between chunks and, through `runtime.cancel`, between the
    halves of every layer inside a chunk (so a cancel lands within a fraction of a layer)."""
    length = embeds.shape[1]
    logits = None
    with cancel_scope(cancel):
        for start in range(0, length, chunk):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            last = start + chunk >= length
            logits = lm(embeds[:, start:start + chunk], cache=cache, last_only=last)
            mx.eval(logits if last else [c.state for c in cache])
    return logits[:, -1]


def prefill(lm, embeds: mx.array, cache, chunk: int, cancel: threading.Event | None) -> mx.array:
    """Run the prompt embeddings [L, H] through the model in chunks; return the last position's logits [V]."""
    return prefill_chunks(lm, embeds[None], cache, chunk, cancel)[0]


def generate_tokens(lm, embeds: mx.array, eos_id: int, config: GenerationConfig | None = None,
                    cancel: threading.Event | None = None, whitelist: frozenset[int] = frozenset(),
                    stats: GenerationStats | None = None):
    """Yield `Step`s for the prompt embeddings [L, H]. Raises Cancelled when `cancel` is set."""
    config = config or GenerationConfig()
    stats = stats if stats is not None else GenerationStats()
    stats.prompt_tokens = int(embeds.shape[0])
    key = mx.random.key(config.seed) if config.seed is not None else None
    ngram, loops = _guards(config, whitelist)
    cache = make_cache(lm)

    t0 = time.perf_counter()
    logits = prefill(lm, embeds, cache, config.prefill_chunk, cancel)
    stats.first_logits = logits
    stats.prefill_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    generated: list[int] = []
    while True:
        if cancel is not None and cancel.is_set():
            stats.decode_s = time.perf_counter() - t1
            raise Cancelled
        if ngram is not None:
            logits = ngram.apply(logits, generated)
        if key is not None:
            key, sub = mx.random.split(key)
        else:
            sub = None
        token = int(sample(logits, config.temperature, config.top_p, sub))  # the host needs the id to stream it
        generated.append(token)
        stop = _stop_reason(token, len(generated), eos_id, loops, config)
        stats.generated = len(generated)
        stats.decode_s = time.perf_counter() - t1
        if stop:
            stats.stop_reason = stop
            yield Step(token, len(generated) - 1, stop)
            return
        # dispatch the next step before handing this token out: the consumer's work overlaps the forward pass
        logits = lm(lm.embed(mx.array([[token]])), cache=cache, last_only=True).reshape(-1)
        mx.async_eval(logits)
        yield Step(token, len(generated) - 1)


def _guards(config: GenerationConfig, whitelist: frozenset[int]):
    ngram = loops = None
    if config.ngram_size > 0:
        from .ngram import NoRepeatNGram

        ngram = NoRepeatNGram(config.ngram_size, config.ngram_window, whitelist)
    if config.loop_guard:
        from .loop_guard import LoopDetector

        loops = LoopDetector(relaxed_ids=whitelist)
    return ngram, loops


def _stop_reason(token: int, n_generated: int, eos_id: int, loops, config: GenerationConfig) -> str | None:
    if token == eos_id:
        return "eos"
    if loops is not None and loops.push(token):
        return "repetition"
    if n_generated >= config.max_tokens:
        return "max_tokens"
    return None


def generate_batch(lm, embeds: list[mx.array], eos_id: int, config: GenerationConfig | None = None,
                   cancel: threading.Event | None = None, whitelist: frozenset[int] = frozenset(),
                   stats: list[GenerationStats] | None = None):
    """Decode several prompts [L_i, H] together; yield (sequence index, Step). Finished sequences drop out.

    The prompts are left-padded into one batch (a `BatchKVCache` hides the padding and gives every sequence
    its own positions); each decode step runs all unfinished sequences as one batch."""
    from .kv_cache import filter_cache, left_pad, make_batch_cache

    config = config or GenerationConfig()
    n = len(embeds)
    stats = stats if stats is not None else [GenerationStats() for _ in range(n)]
    guards = [_guards(config, whitelist) for _ in range(n)]
    key = mx.random.key(config.seed) if config.seed is not None else None
    padded, lengths = left_pad(embeds)
    cache = make_batch_cache(lm, lengths)
    t0 = time.perf_counter()
    logits = prefill_chunks(lm, padded, cache, config.prefill_chunk, cancel)
    prefill_s = time.perf_counter() - t0
    for i, s in enumerate(stats):
        s.prompt_tokens, s.prefill_s, s.first_logits = lengths[i], prefill_s, logits[i]
    active = list(range(n))
    generated: list[list[int]] = [[] for _ in range(n)]
    t1 = time.perf_counter()
    while active:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        rows = [guards[i][0].apply(logits[r], generated[i]) if guards[i][0] is not None else logits[r]
                for r, i in enumerate(active)]
        if key is not None:
            key, sub = mx.random.split(key)
        else:
            sub = None
        tokens = sample(mx.stack(rows), config.temperature, config.top_p, sub).tolist()
        keep, steps = [], []
        for r, (i, token) in enumerate(zip(active, tokens)):
            generated[i].append(token)
            stop = _stop_reason(token, len(generated[i]), eos_id, guards[i][1], config)
            stats[i].generated = len(generated[i])
            stats[i].decode_s = time.perf_counter() - t1
            if stop:
                stats[i].stop_reason = stop
            else:
                keep.append(r)
            steps.append((i, Step(token, len(generated[i]) - 1, stop)))
        if keep:
            # dispatch the next step before handing these tokens out (the consumer's work overlaps it)
            if len(keep) < len(active):
                filter_cache(cache, keep)
            next_ids = mx.array([[tokens[r]] for r in keep])
            logits = lm(lm.embed(next_ids), cache=cache, last_only=True)[:, -1]
            mx.async_eval(logits)
        yield from steps
        active = [active[r] for r in keep]
