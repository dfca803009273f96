"""`Feed`: events handed over from the service's worker thread to one request's asyncio handler.

The worker calls `put` (any thread); the handler awaits `get`, which wakes at least every `poll` seconds so a
non-streaming handler can check whether its client is still there.
"""

from __future__ import annotations

import asyncio
import collections


class Feed:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.loop = loop or asyncio.get_running_loop()
        self.items: collections.deque = collections.deque()
        self.ready = asyncio.Event()

    def sink(self, tag):
        """A callable for `OcrService.submit` that puts (tag, event) here."""
        return lambda event: self.put((tag, event))

    def put(self, item) -> None:
        self.items.append(item)  # deque appends are thread-safe
        try:
            self.loop.call_soon_threadsafe(self.ready.set)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    async def get(self, poll: float = 0.1):
        """The next item, or None when `poll` seconds passed without one."""
        if not self.items:
            self.ready.clear()
            if not self.items:
                try:
                    await asyncio.wait_for(self.ready.wait(), poll)
                except asyncio.TimeoutError:
                    return None
        return self.items.popleft() if self.items else None
