"""The vLLM-style no-repeat n-gram ban of the official DeepSeek-OCR scripts (generated ids only, windowed).

With L generated ids and n-gram size n: if L >= n, the prefix is the last n-1 ids; for every start i in
[max(0, L - window), L - n] where ids[i:i+n-1] equals the prefix, the id ids[i+n-1] is banned (-inf),
unless it is whitelisted (`<td>`, `</td>`: table cells legitimately repeat).
"""

from __future__ import annotations

import mlx.core as mx


class NoRepeatNGram:
    """Bans the continuation of any n-gram that already occurred in the last `window` generated ids."""

    def __init__(self, n: int = 30, window: int = 90, whitelist: frozenset[int] | set[int] = frozenset()):
        if n < 1 or window < 1:
            raise ValueError(f"no-repeat n-gram needs n >= 1 and window >= 1 (got n={n}, window={window})")
        self.n, self.window, self.whitelist = n, window, frozenset(whitelist)

    def banned(self, ids: list[int]) -> list[int]:
        """Ids that may not come next after the generated `ids` (sorted, unique). O(window * n) per step."""
        n, length = self.n, len(ids)
        if length < n:
            return []
        prefix = ids[length - n + 1:] if n > 1 else []
        out = set()
        for i in range(max(0, length - self.window), length - n + 1):
            if ids[i:i + n - 1] == prefix:
                out.add(ids[i + n - 1])
        return sorted(out - self.whitelist)

    def apply(self, logits: mx.array, ids: list[int]) -> mx.array:
        """logits [V] with the banned ids set to -inf (one scatter)."""
        ban = self.banned(ids)
        if not ban:
            return logits
        logits = mx.array(logits)
        logits[mx.array(ban)] = -mx.inf
        return logits
