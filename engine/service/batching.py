"""Continuous batching: a request joins the running decode at the next step and leaves it when it is done or
cancelled, freeing its slot at once.

The engine's `generate_batch` decodes a fixed set of prompts that were prefilled together. Here the requests
the admission policy lets in together (`admission.choose`) are encoded as one batched graph (`pipeline.encode`,
as `engine.stream_batch` encodes several images), each is prefilled alone with the same calls as `engine.stream`,
and its KV cache is then spliced into the running batch's cache (`join_caches`: both right-aligned, the shorter
one left-padded, which `BatchKVCache` already hides from the attention); every decode step then runs all active
sequences as one batch, each with its own options (sampling, guards, recovery, max tokens). A sequence that
stops or whose ticket is cancelled is filtered out of the cache before the next step. While newcomers are
encoded and prefilled the others wait (one model, one thread): the policy decides when that is worth it.
"""

from __future__ import annotations

import time

import mlx.core as mx

from ..language.generate import GenerationConfig, Rewind, Step, Sequence, prefill
from ..language.kv_cache import BatchKVCache, filter_cache, join_caches, to_batch_cache, trim_batch_cache
from ..language.window_cache import BatchRingKVCache, cut_back, rebuild_rows
from ..language.sampling import sample
from ..pipeline import PageJob, encode, splice, token_whitelist  # the engine's own per-page bookkeeping
from ..runtime.cancel import Cancelled
from .admission import Estimates


class Slot:
    """One sequence in the batch: its ticket, the engine's per-page job (prompt, detokenizer, Result), its
    decoding state (`Sequence`), and what the admission policy reads: its time alone (estimated) and the
    seconds later admissions have held it up."""

    def __init__(self, ticket, job: PageJob, seq: Sequence, config: GenerationConfig, alone_s: float):
        self.ticket, self.job, self.seq, self.config = ticket, job, seq, config
        self.t_decode = time.perf_counter()
        self.alone_s, self.stalled_s = alone_s, 0.0


class _AllCancelled:
    """A group's cancel flag for the encoder's cancel points: set once every ticket in the group is."""

    def __init__(self, tickets: list):
        self.tickets = tickets

    def is_set(self) -> bool:
        return all(t.cancelled.is_set() for t in self.tickets)


class Decoder:
    """The running batch: its slots, KV cache (a plain `KVCache` list while one sequence runs alone since its
    prefill, as `engine.stream` decodes; a `BatchKVCache` list once another joined) and next logits."""

    def __init__(self, model, estimates: Estimates | None = None):
        self.model, self.lm, self.tok = model, model.language_model, model.tokenizer
        self.whitelist = token_whitelist(self.tok)
        self.slots: list[Slot] = []
        self.cache = None
        self.logits = None  # [V] alone, [B, V] batched
        self.joins = 0  # requests that joined a batch already decoding (for /health and tests)
        self.groups: list[int] = []  # the size of each admitted group's batched encode (for tests and benches)
        self.estimates = estimates or Estimates()  # measured here, read by the admission policy
        self._stepped_at = None  # when the last step's tokens were sampled (None: something else ran since)

    @property
    def batched(self) -> bool:
        return self.cache is not None and isinstance(self.cache[0], (BatchKVCache, BatchRingKVCache))

    def reset(self) -> None:
        self.slots, self.cache, self.logits, self._stepped_at = [], None, None, None

    def admit(self, tickets: list) -> list[tuple[object, BaseException]]:
        """Encode a group of requests in one batched graph, prefill each alone (each its own cancel flag) and
        add them to the batch; their (ticket, error) pairs for those that failed (a cancelled one is left out
        silently). The group's encode stops once every ticket in it is cancelled."""
        model, failed = self.model, []
        self._stepped_at = None
        if not self.slots:  # a Result's peak memory: since its batch began (as `engine.stream` measures a run)
            mx.reset_peak_memory()
        jobs = []
        for ticket in tickets:
            options = ticket.options
            styles = {"math": options.output.math, "tables": options.output.tables}
            jobs.append(PageJob(model, ticket.prep, options.prompt_text(model.version), time.perf_counter(), styles))
        limits = [t.options.max_batch_tiles for t in tickets if t.options.max_batch_tiles]
        t0 = time.perf_counter()
        try:
            image_embeds = encode(model, [j.prep for j in jobs], min(limits, default=None), _AllCancelled(tickets))
        except Cancelled:
            return []
        except BaseException as e:  # noqa: BLE001 - the group fails, the service goes on
            return [(t, e) for t in tickets]
        encode_s = time.perf_counter() - t0
        self.groups.append(len(tickets))
        self.estimates.saw_encode(encode_s, sum(t.megapixels for t in tickets))
        for ticket, job, embeds in zip(tickets, jobs, image_embeds):
            job.encode_s = encode_s  # the group's: what this request waited for its embeddings
            try:
                self._join(ticket, job, embeds)
            except Cancelled:
                pass  # its client went away during the prefill
            except BaseException as e:  # noqa: BLE001 - one bad request must not stop the others
                failed.append((ticket, e))
        return failed

    def _join(self, ticket, job: PageJob, image_embeds: mx.array) -> None:
        """Prefill one request alone, with the same calls as `engine.stream`, and splice it into the batch."""
        config = GenerationConfig.of(ticket.options.decoding, ticket.options.recovery)
        embeds = splice(self.model, job.ids, image_embeds)
        stats = job.stats
        stats.prompt_tokens = int(embeds.shape[0])
        seq = Sequence(config, self.tok.eos_id, self.whitelist, stats, config.seed)
        cache = self.lm.make_cache()
        t1 = time.perf_counter()
        logits = prefill(self.lm, embeds, cache, config.prefill_chunk, ticket.cancelled)
        stats.first_logits, stats.prefill_s = logits, time.perf_counter() - t1
        self.estimates.saw_prefill(stats.prefill_s, stats.prompt_tokens)
        slot = Slot(ticket, job, seq, config, self.estimates.alone_s(ticket))
        if not self.slots:
            self.cache, self.logits, self.slots = cache, logits, [slot]
            return
        mine = self.cache if self.batched else to_batch_cache(self.cache)
        rows = self.logits if self.batched else self.logits[None]
        self.cache = join_caches(mine, to_batch_cache(cache))
        self.logits = mx.concatenate([rows, logits[None]])
        self.slots.append(slot)
        self.joins += 1

    def drop_cancelled(self) -> None:
        keep = [r for r, s in enumerate(self.slots) if not s.ticket.cancelled.is_set()]
        if len(keep) == len(self.slots):
            return
        if not keep:
            return self.reset()
        if not self.batched:  # one slot, kept: nothing to drop
            return
        filter_cache(self.cache, keep)
        self.logits = self.logits[mx.array(keep)]
        self.slots = [self.slots[r] for r in keep]

    def _sample(self) -> list[int]:
        slots = self.slots
        if not self.batched:  # exactly as `generate_tokens` samples
            s = slots[0]
            key = s.seq.next_key()
            return [int(sample(s.seq.next_logits(self.logits), s.seq.temperature, s.config.top_p, key))]
        rows = [s.seq.next_logits(self.logits[r]) for r, s in enumerate(slots)]
        keys = [s.seq.next_key() for s in slots]
        if all(k is None for k in keys) and len({(s.seq.temperature, s.config.top_p) for s in slots}) == 1:
            return sample(mx.stack(rows), slots[0].seq.temperature, slots[0].config.top_p).tolist()
        return [int(sample(row, s.seq.temperature, s.config.top_p, k)) for row, s, k in zip(rows, slots, keys)]

    def step(self) -> list[tuple[object, object]]:
        """One decode step of every active sequence: the (ticket, event) pairs to deliver (TextDelta,
        Rollback, and a Result for each sequence that stopped, which leaves the batch)."""
        self.drop_cancelled()
        if not self.slots:
            self._stepped_at = None
            return []
        tokens = self._sample()  # waits for the step queued last time (`mx.async_eval` below)
        now = time.perf_counter()
        if self._stepped_at is not None:  # a step follows a step: the time between them is one step's
            self.estimates.saw_step(now - self._stepped_at, len(self.slots))
        self._stepped_at = now
        events, keep, feed, trims = [], [], [], []
        for r, (s, token) in enumerate(zip(self.slots, tokens)):
            event = s.seq.push(token)
            s.job.stats.decode_s = now - s.t_decode
            if isinstance(event, Rewind):
                keep.append(r)
                feed.append(s.seq.feed)
                trims.append(s.seq.trim)
            elif not event.stop:
                keep.append(r)
                feed.append(token)
                trims.append(0)
            out = s.job.push(event)
            if out is not None:
                events.append((s.ticket, out))
            if isinstance(event, Step) and event.stop:
                events.append((s.ticket, s.job.result()))
        if not keep:
            self.reset()
            return events
        if self.batched:
            if len(keep) < len(self.slots):
                filter_cache(self.cache, keep)
            if any(trims):
                trims = rebuild_rows(self.lm, self.cache, trims, [self.slots[r].seq.generated for r in keep])
                trim_batch_cache(self.cache, trims)
            self.logits = self.lm(self.lm.embed(mx.array([[t] for t in feed])), cache=self.cache, last_only=True)[:, -1]
        else:
            if trims[0]:
                cut_back(self.lm, self.cache, trims[0], self.slots[0].seq.generated)
            self.logits = self.lm(self.lm.embed(mx.array([[feed[0]]])), cache=self.cache, last_only=True).reshape(-1)
        mx.async_eval(self.logits)  # the next step computes while these tokens are handed out
        self.slots = [self.slots[r] for r in keep]
        return events
