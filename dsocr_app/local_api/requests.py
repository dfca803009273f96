"""`ApiRequests`: API requests as items of the queue and runs of the app's run queue (GUI thread).

A request (`ApiTicket`) arriving from the `ApiBridge` becomes a queue item named "API #N: <client> (W×H)" whose
run is given the request's image and options (`RunSetup.give`), not the window's; it waits its turn with the
user's runs and captures in the one worker thread. The run queue's events (started, text, rollback,
finished, failed) reach the queue model as every run's do (`RunPresenter`), and here go back to the request's
feed as the engine's events. A client that goes away cancels its run; a run cancelled or dropped in the app
ends its request with a 503. Only the last `KEEP` finished API items stay in the queue: a resident app
serves for days.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot

from .. import engine_bridge as eb
from ..queue_model import QueueItem, QueueModel, State, Target
from ..run_queue import CANCELLED, RunQueue
from ..run_setup import RunSetup
from .bridge import ApiBridge, ApiTicket, unavailable

KEEP = 16
CANCELLED_IN_APP = "the request was cancelled in the DSOCR app"
MODEL_CHANGED = "DSOCR is changing its model; retry in a few seconds"


class ApiRequests(QObject):
    def __init__(self, runs: RunQueue, queue: QueueModel, setup: RunSetup, parent: QObject | None = None):
        super().__init__(parent)
        self.runs, self.queue, self.setup = runs, queue, setup
        self.open: list[tuple[Target, ApiTicket]] = []  # requests in the app: queued or running
        self.items: list[QueueItem] = []  # the queue items requests made, oldest first
        self.count = 0
        runs.started.connect(self._on_started)
        runs.delta.connect(self._on_delta)
        runs.rolledBack.connect(self._on_rollback)
        runs.finished.connect(self._on_finished)
        runs.failed.connect(self._on_failed)
        runs.busyChanged.connect(self._sweep)  # after a Cancel, a failed model load: runs dropped unsaid
        queue.rowsRemoved.connect(self._sweep)
        queue.modelReset.connect(self._sweep)

    def connect_bridge(self, bridge: ApiBridge) -> None:
        """Take `bridge`'s requests and cancels (emitted on server threads: queued to this thread)."""
        bridge.requested.connect(self.take, Qt.ConnectionType.QueuedConnection)
        bridge.cancelRequested.connect(self.cancel, Qt.ConnectionType.QueuedConnection)

    # ---- requests in ---------------------------------------------------------------------------------------

    @Slot(object)
    def take(self, ticket: ApiTicket) -> None:
        """Queue a request as an item and a run (or refuse it: the model changed since it was prepared)."""
        bridge = ticket.bridge
        if ticket.cancelled.is_set():
            bridge.ended(ticket)
            return
        stale = self.runs.model is not bridge.model or bool(self.runs.loading)
        problem = bridge.refusal or (MODEL_CHANGED if stale else "")
        if problem:
            self._end(ticket, unavailable(problem))
            return
        image = ticket.prep.image
        self.count += 1
        name = f"API #{self.count}: {ticket.client or 'a program'} ({image.width}\u00d7{image.height})"
        item = QueueItem(None, pixels=image, name=name)
        self.queue.add([item])
        target = item.targets[0]
        self.setup.give(target, image, ticket.options)
        ticket.prep = None  # its pixel arrays: the worker prepares the image again, exactly as for the app's runs
        self.open.append((target, ticket))
        self.items.append(item)
        self.runs.submit([target])
        self._prune()

    @Slot(object)
    def cancel(self, ticket: ApiTicket) -> None:
        """The client went away: its run is dropped, or stopped at the next decode step."""
        target = self._target_of(ticket)
        if target is None:
            ticket.bridge.ended(ticket)
            return
        running = self._running(target)
        self.runs.drop(target)
        if not running:  # a running one ends when its run does (cancelled)
            self._end(ticket, None)
            self._mark_cancelled(target)

    def drop_all(self, reason: str) -> None:
        """End every request in the app with a 503 saying `reason` (their runs are dropped or stopped)."""
        for target, ticket in list(self.open):
            running = self._running(target)
            self.runs.drop(target)
            self._end(ticket, unavailable(reason))
            if not running:
                self._mark_cancelled(target)

    # ---- run events out --------------------------------------------------------------------------------------

    @Slot(object)
    def _on_started(self, job) -> None:
        ticket = self._ticket_of(job.key)
        if ticket is not None:
            ticket.bridge.started(ticket)

    @Slot(object, str, int, float, float)
    def _on_delta(self, job, text: str, tokens: int, elapsed: float, tps: float) -> None:
        ticket = self._ticket_of(job.key)
        if ticket is not None:
            ticket.deliver(eb.TextDelta(text, tokens, elapsed, tps))

    @Slot(object, int, int, str)
    def _on_rollback(self, job, keep: int, loop_start: int, strategy: str) -> None:
        ticket = self._ticket_of(job.key)
        if ticket is not None:
            ticket.deliver(eb.Rollback(keep, loop_start, strategy, 0))

    @Slot(object, object)
    def _on_finished(self, job, result) -> None:
        ticket = self._ticket_of(job.key)
        if ticket is not None:
            cancelled = result.stop_reason == "cancelled" and not ticket.cancelled.is_set()
            self._end(ticket, unavailable(CANCELLED_IN_APP) if cancelled else result)
            self._prune()

    @Slot(object, str)
    def _on_failed(self, job, message: str) -> None:
        ticket = self._ticket_of(job.key)
        if ticket is None:
            return
        if message == CANCELLED or message == "removed from the queue":
            error = unavailable(CANCELLED_IN_APP)
        elif message.startswith("Not enough memory"):
            error = unavailable(message)
        else:
            error = eb.ApiError(500, f"the run failed in DSOCR: {message}")
        self._end(ticket, error)

    @Slot()
    def _sweep(self, *_) -> None:
        """End the requests whose runs left the run queue without an event (Cancel, a failed model load, their
        item removed)."""
        for target, ticket in list(self.open):
            if not self.runs.is_queued(target):
                self._end(ticket, unavailable(CANCELLED_IN_APP))
                self._mark_cancelled(target)

    # ---- bookkeeping ---------------------------------------------------------------------------------------

    def _ticket_of(self, target) -> ApiTicket | None:
        return next((k for t, k in self.open if t is target), None)

    def _target_of(self, ticket: ApiTicket) -> Target | None:
        return next((t for t, k in self.open if k is ticket), None)

    def _running(self, target: Target) -> bool:
        return self.runs.running is not None and self.runs.running.key is target

    def _end(self, ticket: ApiTicket, event) -> None:
        """The request's last event (its Result or an error; None: nothing, its client is gone)."""
        for target in [t for t, k in self.open if k is ticket]:
            self.setup.forget(target)  # a run dropped before its turn
        self.open = [(t, k) for t, k in self.open if k is not ticket]
        if event is not None:
            ticket.deliver(event)
        ticket.bridge.ended(ticket)

    def _mark_cancelled(self, target: Target) -> None:
        if self.queue.locate(target) is not None and target.state == State.PLANNED:
            self.queue.fail(target, "", cancelled=True)

    def _prune(self) -> None:
        """Remove the oldest finished API items beyond the last KEEP."""
        self.items = [i for i in self.items if any(i is j for j in self.queue.items)]
        done = [i for i in self.items if i.state not in (State.PLANNED, State.RUNNING)]
        for item in done[:max(0, len(done) - KEEP)]:
            row = next(r for r, j in enumerate(self.queue.items) if j is item)
            self.queue.remove(row)
            self.items.remove(item)
