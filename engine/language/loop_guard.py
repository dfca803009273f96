"""Stop a run stuck in a loop: the same cycle of token ids repeated over and over.

The n-gram ban blocks exact repeats of n ids inside its window, but a model can still cycle: a period longer
than the window allows, whitelisted ids (`<td></td>` forever), or a run with the ban turned off. This
detector stops when the generated ids end in an exact cycle of period p (1 <= p <= max_period) that covers
at least `min_span` ids and at least `min_repeats` full periods. Only exact id cycles count, so repetitive
but varying content (table rows with different numbers) is never flagged.

Per period p it keeps r[p] = how many of the latest ids equal the id p places before them; the tail of
length s is p-periodic exactly when r[p] >= s - p. `push` updates all periods at once with a few numpy
operations on arrays of `max_period` entries (no Python loop over periods), i.e. O(1) Python work per id.

When it fires, `period` is the cycle's length and `start` the index (in the ids pushed) where the periodic
tail begins, i.e. where the loop began: the recovery rolls back to there (`recovery.py`).

Cycles made only of `relaxed_ids` (e.g. the table tags `<tr>`, `<td>`, `</td>`, `</tr>`: an empty table
legitimately repeats its empty rows) need `relaxed_span` ids before they count as a loop.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class LoopDetector:
    """Feed generated ids one by one; `push` returns True once the tail is a loop worth stopping."""

    def __init__(self, max_period: int = 200, min_span: int = 150, min_repeats: int = 3,
                 relaxed_ids: Iterable[int] = frozenset(), relaxed_span: int = 1024):
        if max_period < 1 or min_span < 1 or min_repeats < 2:
            raise ValueError(f"loop detector needs max_period >= 1, min_span >= 1, min_repeats >= 2 "
                             f"(got {max_period}, {min_span}, {min_repeats})")
        self.max_period, self.min_span, self.min_repeats = int(max_period), int(min_span), int(min_repeats)
        self.relaxed_ids, self.relaxed_span = frozenset(int(i) for i in relaxed_ids), int(relaxed_span)
        periods = np.arange(1, self.max_period + 1, dtype=np.int64)
        # a loop of period p is reported when the p-periodic tail reaches this length
        need = np.maximum(self.min_span, self.min_repeats * periods)
        need_relaxed = np.maximum(max(self.relaxed_span, self.min_span), self.min_repeats * periods)
        self._runs_needed = need - periods  # r[p] >= need - p
        self._runs_needed_relaxed = need_relaxed - periods
        self._periods = periods
        self._fewest_needed = int(self._runs_needed.min())
        self.reset()

    def reset(self) -> None:
        """Forget everything (start of a new run)."""
        p = self.max_period
        # the last p ids, written at decreasing slots and twice (slot i and i+p), so that buf[s+1:s+1+p] lists
        # them newest first when s is the slot about to be written; -1 where there is no id yet
        self._buf = np.full(2 * p, -1, dtype=np.int64)
        self._slot = 0
        self._runs = np.zeros(p, dtype=np.int64)  # r[p] of the module docstring, for p = 1..max_period
        self._relaxed_run = 0  # how many of the latest ids are relaxed ids
        self.count = 0
        self.period: int | None = None  # the period found, once push returned True
        self.start: int | None = None  # index of the first id of the periodic tail, once push returned True

    def push(self, token_id: int) -> bool:
        """Add one generated id; True when the ids now end in a loop (see the module docstring)."""
        token = int(token_id)
        p = self.max_period
        s = self._slot = (self._slot - 1) % p
        runs = self._runs
        runs += 1
        runs *= self._buf[s + 1:s + 1 + p] == token  # entry k: the id k+1 places back
        self._buf[s] = self._buf[s + p] = token
        self.count += 1
        if token in self.relaxed_ids:
            self._relaxed_run += 1
            needed = np.where(self._periods <= self._relaxed_run, self._runs_needed_relaxed, self._runs_needed)
        else:
            self._relaxed_run = 0
            if runs.max() < self._fewest_needed:  # the usual case: far from any loop
                return False
            needed = self._runs_needed
        hits = runs >= needed
        if not hits.any():
            return False
        self.period = int(np.argmax(hits)) + 1
        self.start = self.count - int(runs[self.period - 1]) - self.period
        return True
