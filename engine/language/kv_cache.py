"""Key/value caches for the language model: one sequence (`KVCache`) or a left-padded batch (`BatchKVCache`).

Both keep keys/values as [B, kv_heads, S, head_dim] in buffers that grow in steps of `step` positions (as
mlx-lm's KVCache does), and expose what the attention needs before it appends new keys:
- `offset`: the RoPE position of the next token (an int, or an int32 array [B] for a batch);
- `make_mask(L)`: the attention mask for L new queries (None, "causal", or a bool array [B, 1, L, S]).

A batch holds prompts of different lengths left-padded to the same length. Sequence b has
`left_padding[b]` padding slots in front; its real tokens get positions 0, 1, ... (padding excluded), and the
mask hides the padding keys. `filter(keep)` drops finished sequences and trims padding no longer needed.

Both can be cut back (a loop's rollback, `recovery.py`): `KVCache.trim(n)` forgets the last n positions;
`BatchKVCache.trim(amounts)` forgets the last `amounts[b]` positions of sequence b only, by shifting its row
right and widening its padding (the stored keys carry their RoPE positions, so they stay valid).
"""

from __future__ import annotations

import mlx.core as mx


def _grow(buf: mx.array | None, used: int, new: mx.array, step: int) -> mx.array:
    """A buffer with room for `used + new.shape[2]` positions (the first `used` kept)."""
    need = used + new.shape[2]
    if buf is not None and need <= buf.shape[2]:
        return buf
    n = ((new.shape[2] + step - 1) // step) * step
    extra = mx.zeros((*new.shape[:2], n, new.shape[3]), new.dtype)
    if buf is None:
        return extra
    return mx.concatenate([buf[..., :used, :], extra], axis=2)


def append(keys_buf: mx.array | None, values_buf: mx.array | None, used: int, keys: mx.array, values: mx.array,
           step: int) -> tuple[mx.array, mx.array]:
    """Buffers (grown in `step`s when needed) with `keys`/`values` written after their first `used` positions."""
    keys_buf, values_buf = _grow(keys_buf, used, keys, step), _grow(values_buf, used, values, step)
    end = used + keys.shape[2]
    keys_buf[..., used:end, :] = keys
    values_buf[..., used:end, :] = values
    return keys_buf, values_buf


class KVCache:
    """Growing key/value cache of one layer for a batch of sequences that all have the same length."""

    step = 256

    def __init__(self):
        self.keys: mx.array | None = None
        self.values: mx.array | None = None
        self.offset = 0  # positions stored so far = RoPE position of the next token

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        """Append keys/values [B, kv_heads, L, D]; return all of them so far."""
        self.keys, self.values = append(self.keys, self.values, self.offset, keys, values, self.step)
        self.offset += keys.shape[2]
        return self.keys[..., :self.offset, :], self.values[..., :self.offset, :]

    def make_mask(self, length: int):
        """Mask for `length` new queries: causal (bottom-right aligned) when more than one, else none."""
        return "causal" if length > 1 else None

    @property
    def state(self) -> list[mx.array]:
        """The stored keys and values (what to `mx.eval` between prefill chunks)."""
        if self.keys is None:
            return []
        return [self.keys[..., :self.offset, :], self.values[..., :self.offset, :]]

    def end_prefill(self) -> None:
        """Nothing changes after the prompt (a window cache's hook: `window_cache.py`)."""

    def as_batch(self) -> "BatchKVCache":
        """This sequence as a batch cache of one row (no padding)."""
        b = BatchKVCache([0])
        b.keys, b.values = self.keys[..., :self.offset, :], self.values[..., :self.offset, :]
        b._idx, b.offset = self.offset, mx.array([self.offset], dtype=mx.int32)
        return b

    def trim(self, n: int) -> None:
        """Forget the last `n` positions (the buffers keep them until they are overwritten)."""
        if not 0 <= n <= self.offset:
            raise ValueError(f"cannot trim {n} of {self.offset} cached positions")
        self.offset -= n


def padded_causal_mask(filled: int, length: int, left_padding: mx.array) -> mx.array:
    """Bool mask [B, 1, L, S] of `length` new queries after `filled` slots: causal, padding keys hidden
    (a padding query sees its own key, so no row is empty)."""
    total = filled + length
    q = mx.arange(filled, total)[:, None]
    k = mx.arange(total)[None, :]
    real = k[None] >= left_padding[:, None, None]  # [B, 1, S]
    return (((k <= q)[None] & real) | (k == q)[None])[:, None]


class BatchKVCache:
    """Key/value cache of one layer for left-padded sequences of different lengths decoded together."""

    step = 256

    def __init__(self, left_padding):
        self.left_padding = mx.array(left_padding, dtype=mx.int32)  # [B] padding slots in front of each sequence
        self.offset = -self.left_padding  # [B] real tokens seen = RoPE position of the next token
        self._idx = 0  # slots filled in the buffers (padding included)
        self.keys: mx.array | None = None
        self.values: mx.array | None = None

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        """Append keys/values [B, kv_heads, L, D] (the same L for every sequence); return all so far."""
        self.keys, self.values = append(self.keys, self.values, self._idx, keys, values, self.step)
        self._idx += keys.shape[2]
        self.offset = self.offset + keys.shape[2]
        return self.keys[..., :self._idx, :], self.values[..., :self._idx, :]

    def make_mask(self, length: int) -> mx.array:
        """Bool mask [B, 1, L, S] for `length` new queries: causal, padding keys hidden.

        A query always sees its own key, so the rows of padding slots are never empty (no NaN); the real
        tokens' rows are unaffected because their own key is a real one.
        """
        return padded_causal_mask(self._idx, length, self.left_padding)

    def end_prefill(self) -> None:
        """Nothing changes after the prompt (a window cache's hook: `window_cache.py`)."""

    def filter(self, keep) -> None:
        """Keep only the sequences at `keep` (indices into the current batch, in the new order)."""
        keep = mx.array(keep, dtype=mx.int32)
        self.left_padding = self.left_padding[keep]
        self.offset = self.offset[keep]
        if self.keys is not None:
            self.keys = self.keys[keep]
            self.values = self.values[keep]
        shift = int(mx.min(self.left_padding).item()) if keep.size else 0
        if shift > 0 and self.keys is not None:  # padding every remaining sequence has: drop it
            self.keys = self.keys[..., shift:, :]
            self.values = self.values[..., shift:, :]
            self._idx -= shift
            self.left_padding = self.left_padding - shift

    def join(self, other: "BatchKVCache") -> "BatchKVCache":
        """This batch's rows then `other`'s, right-aligned: the shorter one gets padding in front (hidden by the
        mask; the stored keys keep their RoPE positions)."""
        size = max(self._idx, other._idx)
        pa, pb = size - self._idx, size - other._idx
        c = BatchKVCache(mx.concatenate([self.left_padding + pa, other.left_padding + pb]).tolist())
        c.keys = mx.concatenate([pad_left(self.keys[..., :self._idx, :], pa), pad_left(other.keys[..., :other._idx, :], pb)])
        c.values = mx.concatenate([pad_left(self.values[..., :self._idx, :], pa),
                                   pad_left(other.values[..., :other._idx, :], pb)])
        c._idx, c.offset = size, mx.concatenate([self.offset, other.offset])
        return c

    def trim(self, amounts) -> None:
        """Forget the last `amounts[b]` positions of each sequence b: its row moves right by that much and
        the slots in front become padding. The other sequences are untouched."""
        shift = mx.array(amounts, dtype=mx.int32)
        if self.keys is None or not any(int(a) for a in amounts):
            return
        src = mx.maximum(mx.arange(self._idx)[None] - shift[:, None], 0)[:, None, :, None]  # [B, 1, S, 1]
        self.keys = mx.take_along_axis(self.keys[..., :self._idx, :], src, axis=2)
        self.values = mx.take_along_axis(self.values[..., :self._idx, :], src, axis=2)
        self.left_padding = self.left_padding + shift
        self.offset = self.offset - shift

    @property
    def state(self) -> list[mx.array]:
        if self.keys is None:
            return [self.offset]
        return [self.keys[..., :self._idx, :], self.values[..., :self._idx, :], self.offset]


def make_cache(model) -> list[KVCache]:
    """One empty `KVCache` per layer of `model` (anything with a `layers` list)."""
    return [KVCache() for _ in model.layers]


def make_batch_cache(model, lengths) -> list[BatchKVCache]:
    """One `BatchKVCache` per layer for prompts of the given lengths, left-padded to the longest."""
    lengths = [int(n) for n in lengths]
    longest = max(lengths)
    return [BatchKVCache([longest - n for n in lengths]) for _ in model.layers]


def filter_cache(cache: list[BatchKVCache], keep) -> None:
    """Drop the sequences not in `keep` from every layer's batch cache."""
    for c in cache:
        c.filter(keep)


def trim_batch_cache(cache: list[BatchKVCache], amounts) -> None:
    """Cut sequence b of every layer's batch cache back by `amounts[b]` positions."""
    for c in cache:
        c.trim(amounts)


def left_pad(sequences: list[mx.array]) -> tuple[mx.array, list[int]]:
    """Per-sequence embeddings [L_i, H] -> zero-left-padded [B, max L, H] and the lengths L_i."""
    lengths = [int(s.shape[0]) for s in sequences]
    longest = max(lengths)
    rows = [mx.concatenate([mx.zeros((longest - s.shape[0], *s.shape[1:]), s.dtype), s]) if s.shape[0] < longest
            else s for s in sequences]
    return mx.stack(rows), lengths


# ---- joining batches (continuous batching: a sequence prefilled alone joins a running decode) -----------

def to_batch_cache(cache: list) -> list:
    """A one-sequence cache (growing or windowed) as a batch cache of one row (no padding)."""
    return [c.as_batch() for c in cache]


def join_caches(a: list, b: list) -> list:
    """The rows of `a` then those of `b` in one batch cache per layer (`BatchKVCache.join`)."""
    return [ca.join(cb) for ca, cb in zip(a, b)]


def pad_left(x: mx.array, n: int) -> mx.array:
    """[B, H, S, D] with `n` zero positions in front."""
    if n == 0:
        return x
    return mx.concatenate([mx.zeros((*x.shape[:2], n, x.shape[3]), x.dtype), x], axis=2)
