"""`OcrService`: the one owner of the model. A worker thread takes requests from a bounded queue and decodes
them with continuous batching; no Qt, so `dsocr serve` and the tray app can both host it.

Requests are `Ticket`s: one prepared page and its `RunOptions`; the worker hands every event of its run
(`TextDelta`, `Rollback`, the final `Result`, or the exception that ended it) to the ticket's `sink`, from
the worker thread. Between two decode steps the worker asks the admission policy (`admission.py`) what comes
next: a short request to run alone to its end ahead of the batch (`express`; the batch then gets a turn
before the next one), or the queued requests, if any, that join the batch now (`choose`, at most its
free slots of `max_batch`): they are encoded together, prefilled and join the running decode
(`batching.Decoder`); a request that stops leaves it at once. Beyond `max_pending` queued requests `submit`
raises `Busy` (the server's 503).

Cancel: `Ticket.cancel()` from any thread. A queued ticket is dropped; one being encoded or prefilled stops
at the engine's next cancel point; a decoding one leaves the batch before the next step (its slot is free).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from ..options import RunOptions
from .admission import BATCH_TURN, choose, expected_tokens, express, view_megapixels


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
        plan = prep.plan  # what the admission policy weighs
        self.megapixels = view_megapixels(plan)
        self.prompt_tokens = plan.image_tokens
        self.expected_tokens = expected_tokens(options.decoding.max_tokens, plan.image_tokens)

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
        self.express_decoder = Decoder(model, self.decoder.estimates)  # short requests, alone (`admission`)
        self.express_runs = 0
        self._owed = 0.0  # seconds the batch decodes before the next express run
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
        slots = list(self.decoder.slots) + list(self.express_decoder.slots)
        return sum(not t.cancelled.is_set() for t in [s.ticket for s in slots] + self._admitting)

    _admitting: list[Ticket] = []

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            left, self._queue = list(self._queue), collections.deque()
            self._cond.notify_all()
        for t in left:
            t.deliver(RuntimeError("the server is shutting down"))
            t.cancel()
        for s in list(self.decoder.slots) + list(self.express_decoder.slots):
            s.ticket.deliver(RuntimeError("the server is shutting down"))
            s.ticket.cancel()
        for t in self._admitting:
            t.cancel()
        self._thread.join(timeout)

    # ---- the worker ----
    def _drop_cancelled(self) -> None:
        if any(t.cancelled.is_set() for t in self._queue):
            self._queue = collections.deque(t for t in self._queue if not t.cancelled.is_set())

    def _take(self) -> tuple[list[Ticket], list[Ticket]] | None:
        """What to do next (waits while nothing decodes and nothing is queued): (short tickets to run ahead of
        the batch, []) or ([], the group to admit; [] to decode a step first); None once closed."""
        decoder = self.decoder
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._closed:
                    return None
                if self._queue or decoder.slots:
                    break
                self._cond.wait(0.5)
            now = time.monotonic()
            if self._owed <= 0 or not decoder.slots:
                short = express(self._queue, decoder.estimates, now, self.max_batch)
                for t in short:
                    self._queue.remove(t)
                if short:
                    return short, []
            group = choose(self._queue, decoder.slots, self.max_batch - len(decoder.slots), decoder.estimates, now)
            for t in group:
                self._queue.remove(t)
            return [], group

    def _work(self) -> None:
        import mlx.core as mx

        try:
            self._serve()
        finally:  # this thread's MLX streams and compile cache, freed while Python runs: left to the thread's
            mx.clear_streams()  # exit, their destructors may need the GIL during interpreter shutdown (abort)

    def _serve(self) -> None:
        decoder = self.decoder
        while True:
            taken = self._take()
            if taken is None:
                return
            short, group = taken
            if short:
                self._hold(self._run_ahead, short)
                continue
            t0 = time.perf_counter()
            if group:
                self._hold(self._admit, group)
            self._step(decoder)
            self._owed -= time.perf_counter() - t0  # the batch's turn: its admissions and its step

    def _hold(self, work, arg) -> None:
        """Run `work(arg)` while the batch waits: its seconds count as every decoding request's stall."""
        waiting = list(self.decoder.slots)
        t0 = time.monotonic()
        work(arg)
        held = time.monotonic() - t0
        for s in waiting:
            s.stalled_s += held

    def _admit(self, group: list[Ticket], decoder=None) -> None:
        self._admitting = group
        try:
            failed = (decoder or self.decoder).admit(group)
        finally:
            self._admitting = []
        for ticket, error in failed:
            ticket.deliver(error)

    def _run_ahead(self, short: list[Ticket]) -> None:
        """Encode, prefill and decode short requests to their end (a `Decoder` of their own) while the batch
        waits; the batch then has at least BATCH_TURN of that time before the next express run."""
        t0 = time.perf_counter()
        self._admit(short, self.express_decoder)
        while self.express_decoder.slots:
            self._step(self.express_decoder)
        self.express_runs += len(short)
        self._owed = BATCH_TURN * (time.perf_counter() - t0)

    def _step(self, decoder) -> None:
        try:
            events = decoder.step()
        except BaseException as e:  # noqa: BLE001 - a failed step fails the batch, not the service
            for s in decoder.slots:
                s.ticket.deliver(e)
            decoder.reset()
            return
        for ticket, event in events:
            ticket.deliver(event)
