"""A whole document in one pass (Unlimited-OCR): every page's view encoded as one batch, one prefill, one
decode, the output split into pages at the model's page marks.

`stream_document(model, pages, options)` yields `TextDelta`s (the whole document's text as it decodes, page
marks included; a `Rollback` when a loop is rolled back) and ends with a `DocumentResult`: one `Result` per
page (its markdown, grounding boxes, figures, as a page-by-page run gives) plus the whole document's
markdown. A document whose prompt and `max_tokens` would not fit the model's context is read as consecutive
page ranges that do (`preprocess.document.page_ranges`), one prompt each, and `DocumentResult.notes` says so.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import mlx.core as mx

from .language.generate import Cancelled, GenerationConfig, Step, generate_tokens
from .language.prompt import prompt_ids
from .options import RunOptions, Tiling
from .outputs.pages import join_pages, split_pages
from .pipeline import PageJob, Result, encode, prepare_for, splice, token_whitelist
from .preprocess.document import DocumentPlan, plan_document
from .preprocess.modes import DOCUMENT_MODE


@dataclass
class DocumentResult:
    """A document's pages (one `Result` each, in order), its whole markdown and how it was read."""

    pages: list[Result]
    plan: DocumentPlan
    text: str  # the whole document's markdown, a page-break comment before each page
    raw_text: str  # as generated, all parts one after another
    stop_reason: str  # the last part's: eos, recovered, max_tokens, repetition, cancelled
    model: str
    version: str  # the model's ("unlimited")
    notes: list[str] = field(default_factory=list)  # split into parts, page marks that did not match
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "text": self.text, "raw_text": self.raw_text, "stop_reason": self.stop_reason,
                "document": self.plan.to_dict(), "notes": self.notes, "elapsed_s": round(self.elapsed_s, 4),
                "pages": [{"page": _page_number(r, i), **r.to_dict()} for i, r in enumerate(self.pages)]}


def _page_number(result: Result, index: int) -> int:
    """1-based: the PDF page number when the page came from a PDF, else its place in the document."""
    src = result.source
    return src.page + 1 if src.page is not None else index + 1


def context_of(model) -> int:
    """The tokens a prompt and its output may take together (`max_position_embeddings`, 32768 here)."""
    return int(model.language_model.config.max_position_embeddings)


def text_tokens(tokenizer, options: RunOptions | None = None) -> int:
    """BOS and the document prompt's words: a document prompt's tokens besides its pages' (a tokenizer is
    enough: no weights needed)."""
    return len(prompt_ids(tokenizer, (options or RunOptions()).document_prompt_text(), 0))


def plan_for(model, sizes: list[tuple[int, int]], options: RunOptions | None = None) -> DocumentPlan:
    """The token budget of a document of pages of `sizes` read by `model` with `options` (no pixels needed)."""
    options = options if options is not None else RunOptions()
    return plan_document(sizes, model.version, text_tokens(model.tokenizer, options), options.decoding.max_tokens,
                         context_of(model))


class _PartJob(PageJob):
    """One prompt of a document (all its pages or a range of them): a PageJob whose 'image' is the pages."""

    def __init__(self, model, preps, prompt_text: str, t_start: float, styles: dict):
        super().__init__(model, preps[0], prompt_text, t_start, styles, sum(p.plan.image_tokens for p in preps))
        self.preps = preps

    def page_results(self, notes: list[str]) -> list[Result]:
        """One Result per page of this part, from the part's text split at the page marks."""
        raw = self.decoder.text + self.decoder.flush()
        split = split_pages(raw, len(self.preps))
        if split.note:
            notes.append(split.note)
        self.close_attempts()
        return [self.result_of(page_raw, prep) for prep, page_raw in zip(self.preps, split.texts)]


def stream_document(model, pages: list, options: RunOptions | None = None, *,
                    cancel: threading.Event | None = None):
    """Read `pages` (image sources or PreparedImages, in order) as one document; yield `TextDelta`s /
    `Rollback`s, then one `DocumentResult`. `options.max_batch_tiles` bounds the views encoded in one graph;
    the task is the document prompt (a custom `options.prompt` replaces it). Pages must be valid (prepare them
    first to report bad ones)."""
    options = options if options is not None else RunOptions()
    t_start = time.perf_counter()
    mx.reset_peak_memory()
    preps = [prepare_for(model, p, Tiling(DOCUMENT_MODE)) for p in pages]
    doc = plan_for(model, [p.plan.image_size for p in preps], options)
    prompt_text = options.document_prompt_text()
    styles = {"math": options.output.math, "tables": options.output.tables}
    config = GenerationConfig.of(options.decoding, options.recovery)
    tok = model.tokenizer
    notes = [doc.range_note()] if doc.split else []
    results: list[Result] = []
    raws: list[str] = []
    stop = "cancelled"
    for start, end in doc.ranges:
        job = _PartJob(model, preps[start:end], prompt_text, t_start, styles)
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            t0 = time.perf_counter()
            image_embeds = mx.concatenate(encode(model, job.preps, options.max_batch_tiles, cancel))
            job.encode_s = time.perf_counter() - t0
            embeds = splice(model, job.ids, image_embeds)
            for step in generate_tokens(model.language_model, embeds, tok.eos_id, config, cancel,
                                        token_whitelist(tok), job.stats):
                event = job.push(step)
                if event is not None:
                    yield event
                if isinstance(step, Step) and step.stop:
                    break
        except Cancelled:
            job.stop = "cancelled"
        stop = job.stop
        results += job.page_results(notes)
        raws.append(job.decoder.text)
        if stop == "cancelled":
            break
    for prep in preps[len(results):]:  # pages of parts a cancel never reached: empty, said so
        results.append(Result(text="", raw_text="", plan=prep.plan, regions=[], prompt=prompt_text,
                              prompt_tokens=0, generated_tokens=0, encode_s=0.0, prefill_s=0.0,
                              decode_tokens_per_s=0.0, elapsed_s=time.perf_counter() - t_start,
                              peak_memory_mb=mx.get_peak_memory() / 2**20, stop_reason="cancelled",
                              model=model.name, image=prep.image))
    text = join_pages([r.text for r in results], [_page_number(r, i) for i, r in enumerate(results)])
    yield DocumentResult(results, doc, text, "".join(raws), stop, model.name, model.version, notes,
                         time.perf_counter() - t_start)


def ocr_document(model, pages: list, options: RunOptions | None = None, *,
                 cancel: threading.Event | None = None) -> DocumentResult:
    """Blocking form of `stream_document`: the `DocumentResult`."""
    result = None
    for event in stream_document(model, pages, options, cancel=cancel):
        result = event
    return result

