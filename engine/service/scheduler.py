"""`OcrService`: the one owner of the model. A worker thread takes requests from a bounded queue and decodes
them with continuous batching; no Qt, so `dsocr serve` and the tray app can both host it.

Requests are `Ticket`s: one prepared page and its `RunOptions`; the worker hands every event of its run
(`TextDelta`, `Rollback`, the final `Result`, or the exception that ended it) to the ticket's `sink`, from
the worker thread. Between two decode steps the worker admits queued requests while the batch has fewer
than `max_batch` sequences: each is encoded and prefilled alone and joins the running decode
(`batching.Decoder`); a request that stops leaves it at once. Beyond `max_pending` queued requests
`submit` raises `Busy` (the server's 503).

Cancel: `Ticket.cancel()` from any thread. A queued ticket is dropped; one being encoded or prefilled stops
at the engine's next cancel point; a decoding one leaves the batch before the next step (its slot is free).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from ..options import RunOptions


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
        self.queued_at = time.monotonic()

    def cancel(self) -> None:
        """Stop this request (its client went away): no more events; its slot is freed before the next step."""
        self.cancelled.set()

    def deliver(self, event) -> None:
        if not self.cancelled.is_set():
            self.sink(event)


class OcrService:
    """The model, its request queue and the worker thread that decodes. `submit` from any thread; `close`
    stops the worker (queued and running requests get a RuntimeError event)."""

    def __init__(self, model, max_batch: int = 4, max_pending: int = 16):
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be at least 1")
        from .batching import Decoder

        self.model, self.max_batch, self.max_pending = model, max_batch, max_pending
        self.decoder = Decoder(model)
        self._queue: collections.deque[Ticket] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="dsocr-service", daemon=True)
        self._thread.start()

    # ---- the public side ----
    def submit(self, prep, options: RunOptions, sink: Callable[[object], None]) -> Ticket:
        """Queue one prepared page; its events go to `sink` (called on the worker thread). Raises Busy."""
        return self.submit_many([prep], options, [sink])[0]

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
            return sum(not t.cancelled.is_set() for t in self._queue)

    @property
    def running(self) -> int:
        """Requests in the decode batch (or being admitted to it), cancelled ones not counted."""
        return sum(not s.ticket.cancelled.is_set() for s in list(self.decoder.slots)) + \
            (self._admitting is not None and not self._admitting.cancelled.is_set())

    _admitting: Ticket | None = None

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            left, self._queue = list(self._queue), collections.deque()
            self._cond.notify_all()
        for t in left:
            t.deliver(RuntimeError("the server is shutting down"))
            t.cancel()
        for s in list(self.decoder.slots):
            s.ticket.deliver(RuntimeError("the server is shutting down"))
            s.ticket.cancel()
        if self._admitting is not None:
            self._admitting.cancel()
        self._thread.join(timeout)

    # ---- the worker ----
    def _drop_cancelled(self) -> None:
        if any(t.cancelled.is_set() for t in self._queue):
            self._queue = collections.deque(t for t in self._queue if not t.cancelled.is_set())

    def _take(self) -> list[Ticket] | None:
        """Queued tickets for the free slots (waits while nothing decodes and nothing is queued); None once
        closed."""
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._closed:
                    return None
                if self._queue or self.decoder.slots:
                    break
                self._cond.wait(0.5)
            free = self.max_batch - len(self.decoder.slots)
            return [self._queue.popleft() for _ in range(min(free, len(self._queue)))]

    def _work(self) -> None:
        import mlx.core as mx

        try:
            self._serve()
        finally:  # this thread's MLX streams and compile cache, freed while Python runs: left to the thread's
            mx.clear_streams()  # exit, their destructors may need the GIL during interpreter shutdown (abort)

    def _serve(self) -> None:
        from ..runtime.cancel import Cancelled

        decoder = self.decoder
        while True:
            new = self._take()
            if new is None:
                return
            for ticket in new:
                self._admitting = ticket
                try:
                    decoder.admit(ticket)
                except Cancelled:
                    pass  # its client went away during the encode or prefill
                except BaseException as e:  # noqa: BLE001 - one bad request must not stop the service
                    ticket.deliver(e)
                finally:
                    self._admitting = None
            try:
                events = decoder.step()
            except BaseException as e:  # noqa: BLE001 - a failed step fails the batch, not the service
                for s in decoder.slots:
                    s.ticket.deliver(e)
                decoder.reset()
                continue
            for ticket, event in events:
                ticket.deliver(event)
