"""Who joins the running decode next, and when: the service's admission policy (pure, no model, no clock).

While newcomers are encoded and prefilled the running batch waits (one model, one thread), so every admission
trades the queue's waiting against the batch's. The policy weighs both sides with one measure, a request's
*slowdown*: the seconds the service has made it lose, over the seconds it would take alone. A queued request
loses its time in the queue; a decoding one loses every admission that ran between two of its steps.

- **Order**: the queue is served most slowed first. A short request (a one-line region, alone ~1 s) overtakes
  long ones within a fraction of a second; a long one gains slowdown too as it waits, so it is never passed for
  ever (no priority classes, no starvation rule).
- **Pacing**: a decoding request at most SHORTER as long as a newcomer (alone) is not held up for it more than
  the newcomer has been held up in the queue: the newcomer is admitted only when its slowdown is at least what
  the admission would make theirs. Without it a one-line region decoding among fifteen pages waits for a
  newcomer's encode between every few of its tokens (bench/serve.py: 11.7x its time alone at 16 clients when
  every free slot was filled before each step). Requests of about the newcomer's size or longer are not
  protected: among equals, holding newcomers back only empties slots (measured: 16 clients at 1.4x one
  client's throughput when every decoding request was protected, the slots waiting for the queue to catch up).
- **Express**: a short request, one whose decode alone takes no longer than its admission (a one-line region:
  16 tokens at a single sequence's step time vs the encode of its view), does not join the batch: the short
  requests waiting run together (one alone: with the same calls as `engine.stream`) to their end, ahead of
  the batch. In a batch of sixteen pages each of a line's steps would take a batch step (4-5x a single one
  here) and admissions would come between them; run ahead it is done in about its time alone, and the batch
  waits about twice what admitting it would have cost. The batch and express runs take turns (`scheduler`):
  after a run of t seconds the batch has at least BATCH_TURN * t before the next, so a stream of one-line
  regions takes at most two thirds of the time and cannot stop the pages.
- **Groups**: the admitted newcomers are encoded together in one batched graph (the engine's encoder batches
  every view of one size). A request joins a group only while the group's extra encode delays the group's first
  request by at most GROUP_DELAY of that request's time alone: pages go together, a shorter request at the head
  waits for few of them before its first token.

A request's time alone is estimated from what the service has measured (`Estimates`): encode seconds per
megapixel of views, prefill seconds per prompt token, and the fastest decode step of one sequence seen, times
the request's expected length: its `max_tokens`, at most TOKENS_PER_IMAGE_TOKEN per image token (DeepSeek-OCR
decodes text of up to ~10x its vision tokens: the paper's compression ratio). Until the first admission and
step are measured nothing is known: the first request in the queue is admitted alone (so the service measures
it) and the next ones wait for those measurements. docs/benchmarks.md ("Serving") has the figures of each rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

TOKENS_PER_IMAGE_TOKEN = 10
GROUP_DELAY = 0.5
SHORTER = 0.5
BATCH_TURN = 0.5  # after an express run of t seconds, the batch decodes and admits for at least this * t
EMA = 0.3  # weight of the newest measurement in the running means


class Waiting(Protocol):
    """What the policy reads of a queued request (`scheduler.Ticket`)."""

    queued_at: float
    megapixels: float  # of the views its encode runs
    prompt_tokens: int
    expected_tokens: int


class Decoding(Protocol):
    """What the policy reads of a decoding request (`batching.Slot`)."""

    stalled_s: float  # admissions run while it was in the batch
    alone_s: float  # its time alone, as estimated when it joined


def expected_tokens(max_tokens: int, image_tokens: int) -> int:
    """The tokens a request is expected to decode: its budget, at most what its image can hold."""
    return max(1, min(max_tokens, TOKENS_PER_IMAGE_TOKEN * max(image_tokens, 1)))


def view_megapixels(plan) -> float:
    """Megapixels the encoder runs for a `TilePlan`: its tiles and its global view."""
    return (len(plan.tiles) * plan.tile_size ** 2 + plan.global_size ** 2) / 1e6


def _mean(old: float | None, new: float) -> float:
    return new if old is None else (1 - EMA) * old + EMA * new


@dataclass
class Estimates:
    """Running measurements of the service's model on this machine (None: not measured yet)."""

    encode_s_per_mp: float | None = None
    prefill_s_per_token: float | None = None
    step_s: float | None = None  # the fastest decode step of one sequence seen
    batch_step_s: float | None = None  # the fastest step of several sequences seen, per sequence

    @property
    def known(self) -> bool:
        return None not in (self.encode_s_per_mp, self.prefill_s_per_token) and self.single_step_s is not None

    @property
    def single_step_s(self) -> float | None:
        """One sequence's step: measured, else (a service that has only decoded batches so far) a batch step's
        share per sequence, a lower bound (a batch never steps faster than its sequences would alone, one after
        another); the first short request run alone then measures it."""
        return self.step_s if self.step_s is not None else self.batch_step_s

    def saw_encode(self, seconds: float, megapixels: float) -> None:
        if megapixels > 0:
            self.encode_s_per_mp = _mean(self.encode_s_per_mp, seconds / megapixels)

    def saw_prefill(self, seconds: float, tokens: int) -> None:
        if tokens > 0:
            self.prefill_s_per_token = _mean(self.prefill_s_per_token, seconds / tokens)

    def saw_step(self, seconds: float, sequences: int = 1) -> None:
        if sequences == 1:
            self.step_s = seconds if self.step_s is None else min(self.step_s, seconds)
        elif sequences > 1:
            share = seconds / sequences
            self.batch_step_s = share if self.batch_step_s is None else min(self.batch_step_s, share)

    def admission_s(self, r: Waiting) -> float:
        """What admitting `r` costs the running batch: its encode and its prefill."""
        return (self.encode_s_per_mp or 0.0) * r.megapixels + (self.prefill_s_per_token or 0.0) * r.prompt_tokens

    def alone_s(self, r: Waiting) -> float:
        """`r`'s time alone: admission, then one step per expected token."""
        return self.admission_s(r) + (self.single_step_s or 0.0) * r.expected_tokens


def slowdown(lost_s: float, alone_s: float) -> float:
    return lost_s / alone_s if alone_s > 0 else float("inf")


def is_short(r: Waiting, est: Estimates) -> bool:
    """Whether `r` decodes alone in no more time than its admission takes (a one-line region): it then runs
    alone ahead of the batch (`express`) instead of joining it."""
    return est.known and r.expected_tokens * est.single_step_s <= est.admission_s(r)


def express(queue: Sequence[Waiting], est: Estimates, now: float, most: int) -> list:
    """The short requests to run now ahead of the batch, most slowed first (at most `most`), or []. Short
    requests that wait together run together (one encode, one small decode batch): one after another, the
    last of them would wait for every other's run and a turn of the batch between each two."""
    short = [r for r in queue if is_short(r, est)]
    short.sort(key=lambda r: (-slowdown(now - r.queued_at, est.alone_s(r)), r.queued_at))
    return short[:most]


def choose(queue: Sequence[Waiting], running: Sequence[Decoding], free: int, est: Estimates,
           now: float) -> list:
    """The queued requests to admit now, as one group (first: the most slowed), or [] to decode a step first.
    Short requests are left to `express`."""
    if not est.known:  # measure one request first: a first group of everything queued could hold all up long
        return list(queue)[:1] if free > 0 and not running else []
    queue = [r for r in queue if not is_short(r, est)]
    if free <= 0 or not queue:
        return []
    waited = {id(r): slowdown(now - r.queued_at, est.alone_s(r)) for r in queue}
    ranked = sorted(queue, key=lambda r: (-waited[id(r)], r.queued_at))
    head = ranked[0]
    alone = est.alone_s(head)
    shorter = [d for d in running if d.alone_s <= SHORTER * alone]  # the decoding requests this one may not rush
    if max((slowdown(d.stalled_s + est.admission_s(head), d.alone_s) for d in shorter), default=0.0) > waited[id(head)]:
        return []  # a shorter request would lose more than the queue has lost: one more step first
    group, extra = [head], 0.0
    for r in ranked[1:]:
        if len(group) == free:
            break
        cost = est.admission_s(r)
        if extra + cost > GROUP_DELAY * alone:
            continue
        worst = max((slowdown(d.stalled_s + est.admission_s(head) + extra + cost, d.alone_s)
                     for d in running if d.alone_s <= SHORTER * est.alone_s(r)), default=0.0)
        if worst > waited[id(r)]:
            continue  # it has not waited enough to hold a shorter request up longer
        group.append(r)
        extra += cost
    return group
