"""Image in, text out: plan and preprocess, encode (batched), build the prompt, generate, post-process.

`stream(model, image, options)` yields `TextDelta`s while decoding and ends with a `Result`; `ocr` is the
blocking form; `options` is a `RunOptions` (`engine/options.py`). When a repetition loop is rolled back
(recovery is on by default), a `Rollback` comes first: the text streamed so
far is cut back to its `text_length` characters and decoding goes on from there with a stronger guard.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import mlx.core as mx
import numpy as np

from .language.generate import (Cancelled, GenerationConfig, GenerationStats, Rewind, Step, generate_batch,
                                generate_tokens)
from .language.recovery import Attempt
from .language.prompt import prompt_ids
from .options import RunOptions, Tiling
from .outputs.grounding import parse_grounding
from .outputs.markdown import clean_markdown
from .preprocess.images import ImageSource
from .preprocess.pixels import PreparedImage, prepare
from .preprocess.plan import TilePlan
from .preprocess.source import PageSource, page_source
from .runtime.cancel import scope as cancel_scope
from .vision.encoder import encode_images


@dataclass
class TextDelta:
    """New text decoded since the previous event, with live counters."""

    text: str
    generated_tokens: int
    elapsed_s: float
    tokens_per_s: float


@dataclass
class Rollback:
    """A repetition loop beginning at generated token `loop_start` was dropped: keep the first `text_length`
    characters of the text streamed so far and append what follows; decoding goes on with `strategy`."""

    text_length: int
    loop_start: int
    strategy: str
    generated_tokens: int  # tokens kept


@dataclass
class Result:
    """The outcome of one OCR run."""

    text: str  # clean markdown
    raw_text: str  # as generated, special tokens kept
    plan: TilePlan
    regions: list
    prompt: str
    prompt_tokens: int
    generated_tokens: int
    encode_s: float
    prefill_s: float
    decode_tokens_per_s: float
    elapsed_s: float
    peak_memory_mb: float
    stop_reason: str  # eos, recovered (eos after recovering from a loop), max_tokens, cancelled, repetition
    model: str
    figures: list = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)  # one per decoding attempt, the first included
    image: object = field(default=None, repr=False)  # the RGB image the run saw (for crops and overlays)
    codes: list = field(default_factory=list)  # QR codes / barcodes in the image, where a caller scanned it

    @property
    def source(self) -> PageSource:
        """Where the page came from (file, PDF page and its size in points, DPI), as its loader recorded."""
        return page_source(self.image)

    @property
    def recoveries(self) -> list[tuple[int, str]]:
        """(token where a loop began, the strategy that took over) for every loop that was rolled back."""
        return [(a.loop_start, b.strategy) for a, b in zip(self.attempts, self.attempts[1:])]

    def recovery_note(self) -> str:
        """One line about the loops of this run ('' when there were none), for the CLI and the app."""
        notes = [f"a loop at token {start} was recovered by {strategy}" for start, strategy in self.recoveries]
        if self.stop_reason == "repetition":
            last = self.attempts[-1].loop_start if self.attempts else None
            tried = " after " + ", ".join(s for _, s in self.recoveries) if self.recoveries else ""
            where = f" at token {last}" if last is not None else ""
            if self.recoveries:
                notes.append(f"stopped: still looping{where}{tried}; the text before the loop is kept")
            else:  # recovery off: nothing was retried
                notes.append(f"stopped at a loop{where} without a retry (recovery is off); the text before the "
                             "loop is kept")
        return "; ".join(notes)

    @property
    def tile_tokens(self) -> list[int]:
        return [t.tokens for t in self.plan.tiles]

    @property
    def timings(self) -> dict[str, float]:
        """encode_s, prefill_s, decode_tokens_per_s, elapsed_s (rounded): the "timings" of `to_dict()`."""
        return {"encode_s": round(self.encode_s, 4), "prefill_s": round(self.prefill_s, 4),
                "decode_tokens_per_s": round(self.decode_tokens_per_s, 3), "elapsed_s": round(self.elapsed_s, 4)}

    def to_dict(self) -> dict:
        return {
            "model": self.model, "text": self.text, "raw_text": self.raw_text, "prompt": self.prompt,
            "stop_reason": self.stop_reason, "official_tiling": self.plan.official, "plan": self.plan.to_dict(),
            "tokens": {"prompt": self.prompt_tokens, "image": self.plan.image_tokens, "per_tile": self.tile_tokens,
                       "global": self.plan.global_tokens, "newlines": self.plan.newline_tokens,
                       "separator": self.plan.separator_tokens, "generated": self.generated_tokens},
            "timings": self.timings,
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "regions": [r.to_dict() for r in self.regions],
            "attempts": [a.to_dict() for a in self.attempts],
        }


def prepare_for(model, image: ImageSource | PreparedImage, tiling: Tiling | None = None) -> PreparedImage:
    """`image` loaded, planned for the model's version with `tiling` (None: the official tiling) and
    preprocessed; a `PreparedImage` is returned as it is."""
    if isinstance(image, PreparedImage):
        return image
    t = tiling or Tiling()
    return prepare(image, model.version, t.mode, t.min_tiles, t.max_tiles, t.grid)


def encode(model, images: list[PreparedImage], max_batch_tiles: int | None = None,
           cancel: threading.Event | None = None) -> list[mx.array]:
    """Image embeddings [image_tokens, H] for each prepared image (one batched graph). Raises Cancelled
    between the encoders' blocks once `cancel` is set."""
    with cancel_scope(cancel):
        embeds, _ = encode_images(model.vision, images, model.encode_dtype, max_batch_tiles)
    return embeds


def splice(model, ids: list[int], image_embeds: mx.array) -> mx.array:
    """Prompt embeddings [L, H]: text embeddings with the `<image>` slots filled in order."""
    ids_np = np.asarray(ids, dtype=np.int32)
    slots = np.flatnonzero(ids_np == model.tokenizer.image_id)
    if len(slots) != image_embeds.shape[0]:
        raise AssertionError(f"{len(slots)} image slots but {image_embeds.shape[0]} image embeddings")
    text = model.language_model.embed(mx.array(ids_np)[None])[0]
    if len(slots) == 0:
        return text
    text[mx.array(slots)] = image_embeds.astype(text.dtype)
    return text


def warm_up(model, tiles: int) -> dict:
    """Encode a worst-case image (`tiles` tiles plus the global view) once; report time and peak memory."""
    from .preprocess.modes import get_mode
    from .preprocess.plan import plan as make_plan

    mode = get_mode(model.version)
    cols = tiles
    p = make_plan((mode.tile_size * cols + 1, mode.tile_size), model.version, mode.name, tiles, tiles)
    t = mode.tile_size
    fake = PreparedImage(p, np.zeros((len(p.tiles), 3, t, t), np.float32),
                         np.zeros((1, 3, p.global_size, p.global_size), np.float32), None)
    mx.reset_peak_memory()
    t0 = time.perf_counter()
    encode(model, [fake])
    return {"tiles": len(p.tiles), "seconds": time.perf_counter() - t0, "peak_memory_mb": mx.get_peak_memory() / 2**20}


class PageJob:
    """Bookkeeping of one image's run: prompt, streaming decoder, counters, and the final Result."""

    def __init__(self, model, prep: PreparedImage, prompt_text: str, t_start: float, styles: dict,
                 image_tokens: int | None = None):
        self.model, self.prep, self.prompt_text, self.t_start = model, prep, prompt_text, t_start
        self.styles = styles  # clean_markdown's math= and tables=
        n = prep.plan.image_tokens if image_tokens is None else image_tokens  # a document: all its pages' slots
        self.ids = prompt_ids(model.tokenizer, prompt_text, n)
        self.decoder = model.tokenizer.stream(skip_special=False)
        self.stats = GenerationStats()
        self.stop = "cancelled"
        self.encode_s = 0.0

    def push(self, step) -> TextDelta | Rollback | None:
        if isinstance(step, Rewind):
            return self.rewind(step)
        if step.stop:
            self.stop = step.stop
        delta = self.decoder.push(step.token) if step.token != self.model.tokenizer.eos_id else ""
        if step.stop:
            delta += self.decoder.flush()
        if not delta:
            return None
        return TextDelta(delta, self.stats.generated, time.perf_counter() - self.t_start,
                         self.stats.decode_tokens_per_s)

    def rewind(self, rewind: Rewind) -> Rollback:
        """Decode the kept ids again: the new decoder's text is exactly the prefix streamed for them."""
        kept = self.decoder.ids[:rewind.keep]
        self.decoder = self.model.tokenizer.stream(skip_special=False)
        for t in kept:
            self.decoder.push(t)
        looped = self.stats.attempts[-2]
        rewind.attempt.text_start = len(self.decoder.text)
        return Rollback(len(self.decoder.text), looped.loop_start, rewind.attempt.strategy, rewind.keep)

    def result(self) -> Result:
        raw = self.decoder.text + self.decoder.flush()
        self.close_attempts()
        if self.stats.attempts:
            self.stats.attempts[0].text_start = 0
        return self.result_of(raw, self.prep)

    def close_attempts(self) -> None:
        """A run that ended without its attempt saying why (cancelled): the attempt under way says so too."""
        s = self.stats
        if s.attempts and not s.attempts[-1].stop:
            s.attempts[-1].stop = self.stop

    def result_of(self, raw: str, prep: PreparedImage) -> Result:
        """The Result of generated text `raw` read as the page `prep` (a document's part: one of its pages)."""
        text, figures = clean_markdown(raw, image_size=prep.plan.image_size, **self.styles)
        s = self.stats
        return Result(
            text=text.strip(), raw_text=raw, plan=prep.plan, regions=parse_grounding(raw, prep.plan.image_size),
            prompt=self.prompt_text, prompt_tokens=s.prompt_tokens or len(self.ids), generated_tokens=s.generated,
            encode_s=self.encode_s, prefill_s=s.prefill_s, decode_tokens_per_s=s.decode_tokens_per_s,
            elapsed_s=time.perf_counter() - self.t_start, peak_memory_mb=mx.get_peak_memory() / 2**20,
            stop_reason=self.stop, model=self.model.name, figures=figures, image=prep.image,
            attempts=list(s.attempts),
        )


def token_whitelist(tok) -> frozenset[int]:
    return frozenset(i for i in (tok.special["td"], tok.special["td_end"]) if i is not None)


def stream(model, image, options: RunOptions | None = None, *, cancel: threading.Event | None = None):
    """OCR one image, yielding `TextDelta`s as text decodes (a `Rollback` when a loop is rolled back) and
    finally a `Result`. `options`: a `RunOptions` (None: the defaults); `cancel`: as in `stream_batch`."""
    for _, event in stream_batch(model, [image], options, cancel=cancel):
        yield event


def stream_batch(model, images: list, options: RunOptions | None = None, *, cancel: threading.Event | None = None):
    """OCR several images together: one batched encode, then batched decoding (one sequence: a plain cache).

    Yields `(index, event)` pairs, index into `images`: `(i, TextDelta)` while image i decodes (`(i, Rollback)`
    when a repetition loop is rolled back) and `(i, Result)` once per image. Images must be valid (prepare them
    first to report bad ones). `options` (a `RunOptions`, None for the defaults) says the task, the tiling of
    every image not already prepared, decoding, recovery and the shape of `Result.text`. `cancel` (a
    threading.Event, set from any thread) ends every image with stop_reason "cancelled"."""
    options = options if options is not None else RunOptions()
    t_start = time.perf_counter()
    mx.reset_peak_memory()
    prompt_text = options.prompt_text(model.version)
    styles = {"math": options.output.math, "tables": options.output.tables}
    jobs = [PageJob(model, prepare_for(model, im, options.tiling), prompt_text, t_start, styles) for im in images]
    config = GenerationConfig.of(options.decoding, options.recovery)
    tok = model.tokenizer
    done: set[int] = set()
    try:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        t0 = time.perf_counter()
        image_embeds = encode(model, [j.prep for j in jobs], options.max_batch_tiles, cancel)
        for j in jobs:
            j.encode_s = time.perf_counter() - t0
        embeds = [splice(model, j.ids, e) for j, e in zip(jobs, image_embeds)]
        if len(jobs) == 1:
            steps = ((0, s) for s in generate_tokens(model.language_model, embeds[0], tok.eos_id, config, cancel,
                                                     token_whitelist(tok), jobs[0].stats))
        else:
            steps = generate_batch(model.language_model, embeds, tok.eos_id, config, cancel, token_whitelist(tok),
                                   [j.stats for j in jobs])
        for i, step in steps:
            delta = jobs[i].push(step)
            if delta is not None:
                yield i, delta
            if isinstance(step, Step) and step.stop:
                done.add(i)
                yield i, jobs[i].result()
    except Cancelled:
        pass
    for i, j in enumerate(jobs):
        if i not in done:
            j.stop = "cancelled"
            yield i, j.result()


def ocr(model, image, options: RunOptions | None = None, *, cancel: threading.Event | None = None) -> Result:
    """Blocking OCR of one image: the final `Result` of `stream`."""
    result = None
    for event in stream(model, image, options, cancel=cancel):
        result = event
    return result
