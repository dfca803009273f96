"""`ApiBridge`: what the engine's HTTP app (`create_app`) calls in place of an `OcrService`, from the server's
threads. It holds no model thread of its own: `submit_many` makes one `ApiTicket` per page and hands it to the
GUI thread through the queued signal `requested` (where `ApiRequests` queues it as a run of the app); an
`ApiTicket` whose client goes away says so through `cancelRequested`. Nothing here calls Qt from those
threads except emitting these two signals (queued to the GUI thread).

While the app cannot take requests (its model is loading or failed to load, the API is stopping) the bridge
refuses them at once: 503 with Retry-After and the reason. `max_batch` is 1: the app runs one page at a time.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from .. import engine_bridge as eb


class Unavailable(eb.Busy):
    """The app cannot take requests now (the server answers 503 with Retry-After and this reason)."""

    def __init__(self, reason: str, retry_after: int = 5):
        Exception.__init__(self, reason)
        self.retry_after = retry_after


def unavailable(reason: str) -> Exception:
    """The error a request's feed gets when the app ends it without a result (503: retrying may work)."""
    return eb.ApiError(503, reason, code="unavailable", headers={"Retry-After": "5"})


class ApiTicket(eb.Ticket):
    """One page of an API request: the engine's `Ticket`, and its `bridge` told when its client goes away."""

    bridge: ApiBridge | None = None
    client = ""  # who sent it: the first word of its User-Agent

    def cancel(self) -> None:
        first = not self.cancelled.is_set()
        super().cancel()
        if first and self.bridge is not None:
            self.bridge.cancelRequested.emit(self)  # queued to the GUI thread


class ApiBridge(QObject):
    """The service `create_app` serves for one loaded model: `model`, `max_batch`, `max_pending`, `pending`,
    `running`, `submit`, `submit_many`, `close` (any thread); `refuse`, `started`, `ended` (the GUI thread)."""

    requested = Signal(object)  # an ApiTicket to run (emitted on a server thread)
    cancelRequested = Signal(object)  # an ApiTicket whose client went away (emitted on a server thread)

    def __init__(self, model, max_pending: int = 16):
        super().__init__()
        self.model, self.max_batch, self.max_pending = model, 1, max_pending
        self._lock = threading.Lock()
        self._waiting: set[ApiTicket] = set()
        self._running: set[ApiTicket] = set()
        self._refusal = ""
        self._closed = False

    # ---- the OcrService side: the server's threads ----------------------------------------------------------

    def submit(self, prep, options, sink) -> ApiTicket:
        return self.submit_many([prep], options, [sink])[0]

    def submit_many(self, preps: list, options, sinks: list) -> list[ApiTicket]:
        """Queue pages (all or none) as runs of the app; raises Busy (too many waiting) or Unavailable."""
        client = eb.request_client.get()
        with self._lock:
            if self._closed:
                raise Unavailable("DSOCR's Local API is stopping", retry_after=10)
            if self._refusal:
                raise Unavailable(self._refusal)
            waiting = sum(not t.cancelled.is_set() for t in self._waiting)
            if waiting + len(preps) > self.max_pending:
                raise eb.Busy(waiting)
            tickets = [ApiTicket(p, options, s) for p, s in zip(preps, sinks)]
            for t in tickets:
                t.bridge, t.client = self, client
            self._waiting.update(tickets)
        for t in tickets:
            self.requested.emit(t)  # queued to the GUI thread
        return tickets

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(not t.cancelled.is_set() for t in self._waiting)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def close(self, timeout: float | None = None) -> None:
        """No more requests (the server stops); those in the app are ended by `ApiRequests`."""
        with self._lock:
            self._closed = True

    # ---- the GUI thread's side -----------------------------------------------------------------------------

    @property
    def refusal(self) -> str:
        """Why requests are refused now ('' when they are taken)."""
        with self._lock:
            return "DSOCR's Local API is stopping" if self._closed else self._refusal

    def refuse(self, reason: str) -> None:
        """Refuse new requests with 503 and `reason` ('' takes them again)."""
        with self._lock:
            self._refusal = reason

    def started(self, ticket: ApiTicket) -> None:
        with self._lock:
            self._waiting.discard(ticket)
            self._running.add(ticket)

    def ended(self, ticket: ApiTicket) -> None:
        with self._lock:
            self._waiting.discard(ticket)
            self._running.discard(ticket)
