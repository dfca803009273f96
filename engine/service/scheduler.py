"""`OcrService`: the one owner of the model. A worker thread takes requests from a bounded queue and decodes
them in batches; no Qt, so `dsocr serve` and the tray app can both host it.

Requests are `Ticket`s: one prepared page and its `RunOptions`; the worker hands every event of its run
(`TextDelta`, `Rollback`, the final `Result`, or the exception that ended it) to the ticket's `sink`, from
the worker thread. Batching: when the worker starts a batch it takes the oldest request and every queued
request that can share its decode (the same options apart from tiling, which is done per page beforehand),
up to `max_batch`, and runs them through `engine.stream_batch`. A request that arrives while a batch decodes
waits for the next batch: joining a running decode would need the engine to splice a newly prefilled
sequence into the batch's KV cache between steps, which `generate_batch` does not offer (see the report in
`docs/` when it lands). Beyond `max_pending` queued requests `submit` raises `Busy` (the server's 503).

Cancel: `Ticket.cancel()` from any thread. A queued ticket is dropped; a running one alone in its batch
stops within one decode step (the engine's `cancel=` event); in a batch of several, its events stop at once
and the batch is cancelled as soon as every ticket in it is.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable

from ..options import RunOptions, Tiling


class Busy(Exception):
    """Too many requests are waiting: try again later (`retry_after` seconds, a guess)."""

    def __init__(self, pending: int, retry_after: int = 1):
        super().__init__(f"the server is busy: {pending} requests are already waiting; retry in {retry_after} s")
        self.retry_after = retry_after


class Ticket:
    """One request in the service: a prepared page, its options, where its events go, and its cancel flag."""

    def __init__(self, prep, options: RunOptions, sink: Callable[[object], None]):
        self.prep, self.options, self.sink = prep, options, sink
        self.cancelled = threading.Event()
        self.batch: _Batch | None = None
        self.queued_at = time.monotonic()

    def cancel(self) -> None:
        """Stop this request (its client went away): no more events; its decode stops as soon as it can."""
        self.cancelled.set()
        batch = self.batch
        if batch is not None:
            batch.check()

    def deliver(self, event) -> None:
        if not self.cancelled.is_set():
            self.sink(event)


class _Batch:
    """The tickets decoded together and the engine's cancel event, set once every ticket is cancelled."""

    def __init__(self, tickets: list[Ticket]):
        self.tickets, self.cancel = tickets, threading.Event()
        for t in tickets:
            t.batch = self
        self.check()

    def check(self) -> None:
        if all(t.cancelled.is_set() for t in self.tickets):
            self.cancel.set()


def batch_key(options: RunOptions) -> RunOptions:
    """What requests decoded together must share: everything but the tiling (each page is prepared alone)."""
    return dataclasses.replace(options, tiling=Tiling())


class OcrService:
    """The model, its request queue and the worker thread that decodes. `submit` from any thread; `close`
    stops the worker (queued requests get a RuntimeError event, a running batch is cancelled)."""

    def __init__(self, model, max_batch: int = 4, max_pending: int = 16):
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be at least 1")
        self.model, self.max_batch, self.max_pending = model, max_batch, max_pending
        self._queue: collections.deque[Ticket] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._running: _Batch | None = None
        self.batches: list[int] = []  # the size of every batch run (for tests and /health)
        self._thread = threading.Thread(target=self._work, name="dsocr-service", daemon=True)
        self._thread.start()

    # ---- the public side ----
    def submit(self, prep, options: RunOptions, sink: Callable[[object], None]) -> Ticket:
        """Queue one prepared page; its events go to `sink` (called on the worker thread). Raises Busy."""
        ticket = Ticket(prep, options, sink)
        with self._cond:
            if self._closed:
                raise RuntimeError("the OCR service is closed")
            self._drop_cancelled()
            if len(self._queue) >= self.max_pending:
                raise Busy(len(self._queue))
            self._queue.append(ticket)
            self._cond.notify()
        return ticket

    def submit_many(self, preps: list, options: RunOptions, sinks: list) -> list[Ticket]:
        """Queue several pages at once (a PDF's), all or none (Busy when they do not all fit)."""
        tickets = [Ticket(p, options, s) for p, s in zip(preps, sinks)]
        with self._cond:
            if self._closed:
                raise RuntimeError("the OCR service is closed")
            self._drop_cancelled()
            if len(self._queue) + len(tickets) > self.max_pending:
                raise Busy(len(self._queue))
            self._queue.extend(tickets)
            self._cond.notify()
        return tickets

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def running(self) -> int:
        batch = self._running
        return 0 if batch is None else sum(not t.cancelled.is_set() for t in batch.tickets)

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            left, self._queue = list(self._queue), collections.deque()
            self._cond.notify_all()
        for t in left:
            t.deliver(RuntimeError("the server is shutting down"))
        batch = self._running
        if batch is not None:
            batch.cancel.set()
        self._thread.join(timeout)

    # ---- the worker ----
    def _drop_cancelled(self) -> None:
        if any(t.cancelled.is_set() for t in self._queue):
            self._queue = collections.deque(t for t in self._queue if not t.cancelled.is_set())

    def _next_batch(self) -> list[Ticket] | None:
        """The oldest request and the queued ones that can share its decode (None once closed)."""
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._closed:
                    return None
                if self._queue:
                    break
                self._cond.wait(0.5)
            first = self._queue.popleft()
            key, batch, rest = batch_key(first.options), [first], collections.deque()
            while self._queue:
                t = self._queue.popleft()
                if len(batch) < self.max_batch and batch_key(t.options) == key:
                    batch.append(t)
                else:
                    rest.append(t)
            self._queue = rest
            return batch

    def _work(self) -> None:
        from ..pipeline import Result, stream_batch

        while True:
            tickets = self._next_batch()
            if tickets is None:
                return
            batch = _Batch(tickets)
            self._running = batch
            self.batches.append(len(tickets))
            finished: set[int] = set()
            try:
                for i, event in stream_batch(self.model, [t.prep for t in tickets], tickets[0].options,
                                             cancel=batch.cancel):
                    tickets[i].deliver(event)
                    if isinstance(event, Result):
                        finished.add(i)
            except BaseException as e:  # noqa: BLE001 - one failed batch must not stop the service
                for i, t in enumerate(tickets):
                    if i not in finished:
                        t.deliver(e)
            finally:
                self._running = None
