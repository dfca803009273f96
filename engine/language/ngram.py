"""The vLLM-style no-repeat n-gram ban of the official DeepSeek-OCR scripts (generated ids only, windowed).

With L generated ids and n-gram size n: if L >= n, the prefix is the last n-1 ids; for every start i in
[max(0, L - window), L - n] where ids[i:i+n-1] equals the prefix, the id ids[i+n-1] is banned (-inf),
unless it is whitelisted (`<td>`, `</td>`: table cells legitimately repeat).

Every id the rule looks at lies in the last `window` ids, so the ban is computed on that slice alone: the
ids are packed as 8-byte integers and the prefix is searched with `bytes.find` (C speed, O(window) per step;
only matches at id boundaries count). Each decode step costs a few microseconds.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import mlx.core as mx

_ITEM = array("q").itemsize  # 8 bytes per id


class NoRepeatNGram:
    """Bans the continuation of any n-gram that already occurred in the last `window` generated ids."""

    def __init__(self, n: int = 30, window: int = 90, whitelist: Iterable[int] = frozenset()):
        if n < 1 or window < 1:
            raise ValueError(f"no-repeat n-gram needs n >= 1 and window >= 1 (got n={n}, window={window})")
        self.n, self.window, self.whitelist = int(n), int(window), frozenset(int(i) for i in whitelist)

    def banned(self, generated_ids: Sequence[int]) -> list[int]:
        """Ids that may not come next after `generated_ids` (the generated ids only), sorted and unique."""
        n, length = self.n, len(generated_ids)
        if length < n:
            return []
        recent = list(generated_ids[max(0, length - self.window):])
        if n == 1:  # empty prefix: every id of the window was a continuation of it
            return sorted(set(recent) - self.whitelist)
        if len(recent) < n:  # window < n: no start fits
            return []
        data = array("q", recent).tobytes()
        prefix = data[-(n - 1) * _ITEM:]
        haystack = data[:-_ITEM]  # n-grams ending before the last id: starts 0 .. W-n
        out = set()
        pos = haystack.find(prefix)
        while pos >= 0:
            if pos % _ITEM == 0:
                out.add(recent[pos // _ITEM + n - 1])
            pos = haystack.find(prefix, (pos // _ITEM + 1) * _ITEM)
        return sorted(out - self.whitelist)

    def apply(self, logits: mx.array, generated_ids: Sequence[int]) -> mx.array:
        """`logits` [..., V] with the banned ids set to -inf along the last axis (one scatter); input untouched."""
        ban = self.banned(generated_ids)
        if not ban:
            return logits
        out = mx.array(logits)  # a new array: the caller's logits stay as they were
        out[..., mx.array(ban, dtype=mx.int32)] = -mx.inf
        return out
