"""Pick the next token from logits: greedy by default, or temperature with optional top-p (nucleus)."""

from __future__ import annotations

import mlx.core as mx


def sample(logits: mx.array, temperature: float = 0.0, top_p: float = 1.0, key: mx.array | None = None) -> mx.array:
    """logits [V] or [B, V] (float32) -> token ids [] or [B]. temperature 0 means argmax."""
    if temperature <= 0.0:
        return mx.argmax(logits, axis=-1)
    logits = logits / temperature
    if top_p < 1.0:
        probs = mx.softmax(logits, axis=-1)
        order = mx.argsort(-probs, axis=-1)
        sorted_probs = mx.take_along_axis(probs, order, axis=-1)
        cum = mx.cumsum(sorted_probs, axis=-1)
        keep_sorted = (cum - sorted_probs) < top_p  # always keeps the most likely token
        keep = mx.put_along_axis(mx.zeros_like(keep_sorted), order, keep_sorted, axis=-1)
        logits = mx.where(keep, logits, -mx.inf)
    return mx.random.categorical(logits, axis=-1, key=key)
