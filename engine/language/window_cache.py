"""Unlimited-OCR's decode window (R-SWA): the whole prompt's keys/values plus a ring of the last W generated.

Prefill is ordinary causal attention and every prompt position is kept. In decode, each layer keeps those
prefill entries and a ring of W slots after them: generated token k (k = 0 is the one sampled from the
prefill) is written to slot `prefill + k mod W`, so once W tokens exist the oldest is overwritten, and a new
token attends, with no mask, over the prefill plus the last min(k + 1, W) generated tokens, itself included.
Keys carry RoPE at their true position `prefill + k`. Slot order does not matter (a softmax over a set).
Decode memory is therefore prefill + W positions per layer, however long the output.

`RingKVCache` is one sequence, `BatchRingKVCache` a left-padded batch (several documents decoded together);
both have the interface of `kv_cache.KVCache` / `BatchKVCache` (`offset`, `make_mask`, `update_and_fetch`,
`state`, `trim`, `end_prefill`).

Several generated tokens at once (after a rollback, below) attend through a banded mask: prefill, plus the
ring and the new tokens no more than W - 1 tokens before each query, which is exactly what feeding them one
at a time computes.

Rollback (loop recovery) in the ring: cutting back n tokens keeps the window exact while no generated token
has been overwritten yet (at most W generated). Further on, the entries the shorter output needs were
overwritten: `trim` then empties the ring (`needs_refeed`), and the caller feeds the kept generated tokens
again (all but the last, which the next step feeds as usual) through the banded mask, in chunks (`refeed`),
which rebuilds the same window: such a rollback costs about a prefill of the kept output, never a wrong window.
In a batch, the row is taken out, rebuilt alone and put back (`row_cache`, `put_row`).
"""

from __future__ import annotations

import mlx.core as mx

from .kv_cache import append, pad_left, padded_causal_mask

REFEED_CHUNK = 512  # generated tokens fed again per step of a rebuild


class RingKVCache:
    """One layer's prefill keys/values plus a ring of the last `window` generated tokens (one sequence)."""

    step = 256

    def __init__(self, window: int):
        self.window = int(window)
        self.keys: mx.array | None = None
        self.values: mx.array | None = None
        self.offset = 0  # RoPE position of the next token
        self.prefill: int | None = None  # positions of the prompt, fixed by `end_prefill`
        self.fed = 0  # generated tokens fed since (their count, not the slots they use)
        self.needs_refeed = False

    # -- the interface the attention uses -------------------------------------------------------------------
    def make_mask(self, length: int):
        if self.prefill is None:
            return "causal" if length > 1 else None
        if length == 1:
            return None
        return self._band(length)

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        length = keys.shape[2]
        if self.prefill is None:  # the prompt: appended as a growing cache does
            self.keys, self.values = append(self.keys, self.values, self.offset, keys, values, self.step)
            self.offset += length
            return self.keys[..., :self.offset, :], self.values[..., :self.offset, :]
        if length == 1:
            slot = self.prefill + self.fed % self.window
            self.keys[..., slot:slot + 1, :] = keys
            self.values[..., slot:slot + 1, :] = values
            self.fed += 1
            self.offset += 1
            used = self.prefill + min(self.fed, self.window)
            return self.keys[..., :used, :], self.values[..., :used, :]
        return self._update_many(keys, values)

    def end_prefill(self) -> None:
        """The prompt is in: from now on generated tokens go to the ring (room for W is made once, here)."""
        if self.prefill is not None:
            return
        self.prefill = self.offset
        if self.keys is None:
            raise ValueError("the window cache got no prompt")
        room = self.prefill + self.window
        if self.keys.shape[2] < room:
            pad = mx.zeros((*self.keys.shape[:2], room - self.keys.shape[2], self.keys.shape[3]), self.keys.dtype)
            self.keys = mx.concatenate([self.keys[..., :self.prefill, :], pad], axis=2)
            self.values = mx.concatenate([self.values[..., :self.prefill, :], pad.astype(self.values.dtype)], axis=2)
        else:  # a prefill buffer with spare room: keep exactly prefill + W
            self.keys, self.values = self.keys[..., :room, :], self.values[..., :room, :]

    @property
    def state(self) -> list[mx.array]:
        if self.keys is None:
            return []
        used = self.offset if self.prefill is None else self.prefill + min(self.fed, self.window)
        return [self.keys[..., :used, :], self.values[..., :used, :]]

    def trim(self, n: int) -> None:
        """Forget the last `n` generated tokens; when the window they leave was overwritten, empty the ring
        and set `needs_refeed` (the caller feeds the kept generated tokens again)."""
        if self.prefill is None:
            raise ValueError("cannot trim a window cache before its prompt is in")
        if not 0 <= n <= self.fed:
            raise ValueError(f"cannot trim {n} of {self.fed} generated positions")
        if n == 0:
            return
        if self.fed <= self.window:  # nothing overwritten yet: the slots of the kept tokens are intact
            self.fed -= n
            self.offset -= n
            return
        self.offset = self.prefill
        self.fed = 0
        self.needs_refeed = True

    def as_batch(self) -> "BatchRingKVCache":
        """This sequence as a batch window cache of one row (no padding)."""
        b = BatchRingKVCache(self.window, [0])
        room = self.prefill + self.window
        b.keys, b.values = self.keys[..., :room, :], self.values[..., :room, :]
        b._idx = b.prefill = self.prefill
        b.fed = mx.array([self.fed], dtype=mx.int32)
        b.offset = mx.array([self.offset], dtype=mx.int32)
        return b

    # -- several generated tokens at once (a rebuild) -------------------------------------------------------
    def _ring_in_order(self) -> tuple[mx.array, mx.array]:
        """The ring's entries oldest first."""
        n, w, p = min(self.fed, self.window), self.window, self.prefill
        ring_k, ring_v = self.keys[..., p:p + n, :], self.values[..., p:p + n, :]
        if self.fed > w:  # wrapped: the oldest is at the next write position
            start = self.fed % w
            ring_k = mx.concatenate([ring_k[..., start:, :], ring_k[..., :start, :]], axis=2)
            ring_v = mx.concatenate([ring_v[..., start:, :], ring_v[..., :start, :]], axis=2)
        return ring_k, ring_v

    def _band(self, length: int) -> mx.array:
        """Bool mask [length, prefill + ring + length] of `length` new tokens (see the module docstring)."""
        n = min(self.fed, self.window)
        q = self.fed + mx.arange(length)[:, None]  # generated index of each query
        k_gen = mx.concatenate([mx.arange(self.fed - n, self.fed), self.fed + mx.arange(length)])[None, :]
        seen = (k_gen <= q) & (k_gen > q - self.window)
        return mx.concatenate([mx.ones((length, self.prefill), mx.bool_), seen], axis=1)

    def _update_many(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        length = keys.shape[2]
        ring_k, ring_v = self._ring_in_order()
        p, w = self.prefill, self.window
        all_k = mx.concatenate([self.keys[..., :p, :], ring_k, keys], axis=2)
        all_v = mx.concatenate([self.values[..., :p, :], ring_v, values], axis=2)
        fed = self.fed + length
        last = min(fed, w)  # the newest `last` generated tokens stay, each at slot p + (index mod W)
        tail_k, tail_v = all_k[..., all_k.shape[2] - last:, :], all_v[..., all_v.shape[2] - last:, :]
        first = fed - last  # generated index of tail[0]
        order = [(first + i) % w for i in range(last)]
        slots = sorted(range(last), key=lambda i: order[i])  # tail entries in slot order
        self.keys[..., p:p + last, :] = mx.take(tail_k, mx.array(slots), axis=2)
        self.values[..., p:p + last, :] = mx.take(tail_v, mx.array(slots), axis=2)
        self.fed, self.offset = fed, self.offset + length
        return all_k, all_v


class BatchRingKVCache:
    """`RingKVCache` for left-padded sequences decoded together: one ring per row, each with its own count
    of generated tokens (a row that rolled back, or joined later, is at another point of its window)."""

    step = 256

    def __init__(self, window: int, left_padding):
        self.window = int(window)
        self.left_padding = mx.array(left_padding, dtype=mx.int32)
        self.offset = -self.left_padding  # [B] RoPE position of each row's next token
        self.keys: mx.array | None = None
        self.values: mx.array | None = None
        self._idx = 0  # prefill slots filled (padding included)
        self.prefill: int | None = None  # prefill slots, fixed by `end_prefill`
        self.fed = mx.zeros(self.left_padding.shape, mx.int32)  # [B] generated tokens fed

    def make_mask(self, length: int) -> mx.array:
        if self.prefill is None:
            return padded_causal_mask(self._idx, length, self.left_padding)
        if length != 1:
            raise ValueError("a batch decodes one token per row at a time")
        k = mx.arange(self.prefill + self.window)[None, :]
        used = mx.minimum(self.fed + 1, self.window)[:, None]
        seen = (k >= self.left_padding[:, None]) & ((k < self.prefill) | (k < self.prefill + used))
        return seen[:, None, None, :]

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        length = keys.shape[2]
        if self.prefill is None:
            self.keys, self.values = append(self.keys, self.values, self._idx, keys, values, self.step)
            self._idx += length
            self.offset = self.offset + length
            return self.keys[..., :self._idx, :], self.values[..., :self._idx, :]
        slot = (self.prefill + self.fed % self.window)[:, None, None, None]  # [B, 1, 1, 1]
        here = mx.arange(self.prefill + self.window)[None, None, :, None] == slot
        self.keys = mx.where(here, keys, self.keys)
        self.values = mx.where(here, values, self.values)
        self.fed = self.fed + 1
        self.offset = self.offset + 1
        return self.keys, self.values

    def end_prefill(self) -> None:
        if self.prefill is not None:
            return
        self.prefill = self._idx
        b, h, _, d = self.keys.shape
        pad = mx.zeros((b, h, self.window, d), self.keys.dtype)
        self.keys = mx.concatenate([self.keys[..., :self.prefill, :], pad], axis=2)
        self.values = mx.concatenate([self.values[..., :self.prefill, :], pad.astype(self.values.dtype)], axis=2)

    @property
    def state(self) -> list[mx.array]:
        if self.keys is None:
            return [self.offset]
        return [self.keys, self.values, self.offset, self.fed]

    def join(self, other: "BatchRingKVCache") -> "BatchRingKVCache":
        """This batch's rows then `other`'s (both decoding): prefill parts right-aligned (the shorter padded in
        front), then the rings."""
        size = max(self.prefill, other.prefill)
        c = BatchRingKVCache(self.window, mx.concatenate([self.left_padding + size - self.prefill,
                                                          other.left_padding + size - other.prefill]).tolist())

        def rows(x, prefill):
            return mx.concatenate([pad_left(x[..., :prefill, :], size - prefill), x[..., prefill:, :]], axis=2)

        c.keys = mx.concatenate([rows(self.keys, self.prefill), rows(other.keys, other.prefill)])
        c.values = mx.concatenate([rows(self.values, self.prefill), rows(other.values, other.prefill)])
        c._idx = c.prefill = size
        c.fed, c.offset = mx.concatenate([self.fed, other.fed]), mx.concatenate([self.offset, other.offset])
        return c

    def filter(self, keep) -> None:
        keep = mx.array(keep, dtype=mx.int32)
        self.left_padding, self.offset, self.fed = self.left_padding[keep], self.offset[keep], self.fed[keep]
        if self.keys is not None:
            self.keys, self.values = self.keys[keep], self.values[keep]

    def trim(self, amounts) -> None:
        """Cut row b back by `amounts[b]` generated tokens, exactly while its ring has not wrapped; a row
        whose window was overwritten cannot be cut back in a batch (`generate_batch` rebuilds it alone)."""
        amounts = [int(a) for a in amounts]
        fed = self.fed.tolist()
        for b, n in enumerate(amounts):
            if n and fed[b] > self.window:
                raise ValueError(f"row {b}: its window was overwritten; rebuild the row with `row_cache`")
        cut = mx.array(amounts, dtype=mx.int32)
        self.fed, self.offset = self.fed - cut, self.offset - cut

    # -- one row out and back in (a row's rebuild after a long rollback) ------------------------------------
    def row_cache(self, b: int) -> RingKVCache:
        """Row b as a one-sequence window cache (its padding dropped), ring emptied for a refeed."""
        pad = self.left_padding.tolist()[b]
        c = RingKVCache(self.window)
        c.keys, c.values = self.keys[b:b + 1, :, pad:, :], self.values[b:b + 1, :, pad:, :]
        c.prefill = self.prefill - pad
        c.offset = c.prefill
        c.needs_refeed = True
        return c

    def put_row(self, b: int, c: RingKVCache) -> None:
        """Write a rebuilt one-sequence window cache back into row b."""
        pad = self.left_padding.tolist()[b]
        row_k = mx.concatenate([self.keys[b:b + 1, :, :pad, :], c.keys[..., :c.prefill + self.window, :]], axis=2)
        row_v = mx.concatenate([self.values[b:b + 1, :, :pad, :], c.values[..., :c.prefill + self.window, :]], axis=2)
        pick = mx.arange(self.keys.shape[0])[:, None, None, None] == b
        self.keys = mx.where(pick, row_k, self.keys)
        self.values = mx.where(pick, row_v, self.values)
        fed, offset = self.fed.tolist(), self.offset.tolist()
        fed[b], offset[b] = c.fed, c.offset
        self.fed, self.offset = mx.array(fed, dtype=mx.int32), mx.array(offset, dtype=mx.int32)


def make_ring_cache(model, window: int) -> list[RingKVCache]:
    return [RingKVCache(window) for _ in model.layers]


def make_batch_ring_cache(model, window: int, lengths) -> list[BatchRingKVCache]:
    lengths = [int(n) for n in lengths]
    longest = max(lengths)
    return [BatchRingKVCache(window, [longest - n for n in lengths]) for _ in model.layers]


def end_prefill(cache: list) -> None:
    """Tell every layer's cache that the prompt is in (growing caches ignore it)."""
    for c in cache:
        c.end_prefill()


def refeed(lm, cache: list[RingKVCache], ids: list[int]) -> None:
    """Feed generated `ids` again after `trim` emptied the ring (in chunks, each through the banded mask), so
    the window is what feeding them one at a time built."""
    for start in range(0, len(ids), REFEED_CHUNK):
        lm(lm.embed(mx.array([ids[start:start + REFEED_CHUNK]])), cache=cache, last_only=True)
        mx.eval([c.state for c in cache])
    for c in cache:
        c.needs_refeed = False


def rebuild_rows(lm, cache: list, trims: list[int], kept_ids: list[list[int]]) -> list[int]:
    """Rows of a batch window cache whose rollback (`trims[r]` tokens) reaches behind their ring are taken
    out, rebuilt alone from their kept output `kept_ids[r]` (all but the last id, which the next step feeds)
    and put back; returns the trims still to make (0 for the rebuilt rows). A growing cache needs none."""
    if not isinstance(cache[0], BatchRingKVCache):
        return trims
    fed = cache[0].fed.tolist()
    out = list(trims)
    for r, n in enumerate(trims):
        if n and fed[r] > cache[0].window:
            rows = [c.row_cache(r) for c in cache]
            refeed(lm, rows, kept_ids[r][:-1])
            for c, row in zip(cache, rows):
                c.put_row(r, row)
            out[r] = 0
    return out


def cut_back(lm, cache: list, n: int, kept_ids: list[int]) -> None:
    """A one-sequence rollback of `n` generated tokens: trimmed, and the window rebuilt from the kept output
    (all but the last id) when it was overwritten."""
    for c in cache:
        c.trim(n)
    if getattr(cache[0], "needs_refeed", False):
        refeed(lm, cache, kept_ids[:-1])
