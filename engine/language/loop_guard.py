"""Stop a run stuck in a loop: the same cycle of token ids repeated over and over.

The n-gram ban blocks exact repeats of 30 tokens, but a model can still cycle (e.g. a line repeated with
a counter, or a period longer than the window). This detector looks for an exact period p (1..max_period)
at the end of the generated ids that covers at least `min_span` tokens and `min_repeats` full cycles.
Only exact id cycles count, so varied but repetitive content (table rows with different numbers) does not.
"""

from __future__ import annotations


class LoopDetector:
    """Feed generated ids one by one; `push` returns True once the tail is a loop worth stopping."""

    def __init__(self, max_period: int = 200, min_span: int = 160, min_repeats: int = 3, check_every: int = 8):
        self.max_period, self.min_span, self.min_repeats = max_period, min_span, min_repeats
        self.check_every = check_every
        self.ids: list[int] = []
        self.period: int | None = None

    def push(self, token: int) -> bool:
        self.ids.append(int(token))
        if len(self.ids) % self.check_every:
            return False
        return self.check()

    def check(self) -> bool:
        """True when the last ids are one period repeated (>= min_repeats times and >= min_span tokens)."""
        ids = self.ids
        n = len(ids)
        for p in range(1, min(self.max_period, n // self.min_repeats) + 1):
            span = max(self.min_span, p * self.min_repeats)
            if span > n:
                continue
            tail = ids[n - span:]
            if tail[p:] == tail[:-p]:  # the tail is p-periodic
                self.period = p
                return True
        return False
