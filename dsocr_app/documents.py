"""Whole documents (Unlimited-OCR): a PDF read in one pass as one queue item, its pages listed as targets.

Pure helpers, no widgets: the pages a run loads (`DocumentInput`, loaded in the worker thread), the whole
document's result made from the engine's `DocumentResult` (`whole_result`, so the queue and the results pane
treat it as any result), the streamed text with visible page breaks (`stream_text`) and the document's token
budget (`budget`: the engine's plan, with the model's tokenizer when an Unlimited-OCR model is loaded, else
the engine's estimate of the prompt's text tokens).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from . import engine_bridge as eb

VERSION = "unlimited"  # the model version that reads a document in one pass
NOMINAL_SIZE = (1024, 1024)  # a page of unknown size: every page is one padded 1024 px view (the same tokens)
_BREAK = re.compile(r"^<!-- page (\d+) -->$", re.MULTILINE)


def reads_documents(version: str) -> bool:
    """Whether a PDF opened for `version` becomes one document item (else one item per page)."""
    return version == VERSION


@dataclass(frozen=True)
class DocumentInput:
    """The pages of a document run: PDF `path`, its pages (0-based, in order) at `dpi`; `load` renders them
    (raises ImageError / InputError with the engine's message)."""

    path: Path
    pages: tuple[int, ...]
    dpi: int

    def load(self) -> list:
        return [image for _, image in eb.render_pdf_pages(self.path, list(self.pages), self.dpi)]


def whole_result(doc):
    """The whole document as one engine Result: its markdown (a page-break line before each page), the raw
    stream, the first page's plan and the run's numbers (tokens of every part, the whole prompt); no boxes,
    figures or image (those are the pages')."""
    first = doc.pages[0]
    generated = sum(doc.pages[a].generated_tokens for a, _ in doc.plan.ranges if a < len(doc.pages))
    return dataclasses.replace(first, text=doc.text, raw_text=doc.raw_text, regions=[], figures=[], image=None,
                               stop_reason=doc.stop_reason, elapsed_s=doc.elapsed_s, generated_tokens=generated,
                               prompt_tokens=doc.plan.prompt_tokens,
                               codes=[c for page in doc.pages for c in page.codes])


def stream_text(raw: str, numbers: list[int], clean) -> str:
    """The text streamed so far as a document: cut at the model's page marks, each page cleaned (`clean`), a
    page-break line before each (the page numbers `numbers`, counting on past the last). A page mark still
    arriving at the end is held back."""
    mark = eb.PAGE_MARK
    for k in range(len(mark) - 1, 0, -1):
        if raw.endswith(mark[:k]):
            raw = raw[:-k]
            break
    pieces = raw.split(mark)
    if len(pieces) > 1 and not pieces[0].strip():
        pieces = pieces[1:]
    last = numbers[-1] if numbers else 0
    nums = [numbers[k] if k < len(numbers) else last + k - len(numbers) + 1 for k in range(len(pieces))]
    return eb.join_pages([clean(p).strip("\n") for p in pieces], nums)


def visible_breaks(markdown: str) -> str:
    """The document's markdown with each page-break line (an HTML comment, invisible when rendered) drawn as
    a rule and the page's number, for the rendered view."""
    return _BREAK.sub(lambda m: f"\n---\n\n**Page {m.group(1)}**\n", markdown)


def is_break(line: str) -> bool:
    """Whether `line` is a page-break line of a document's markdown."""
    return bool(_BREAK.fullmatch(line))


def budget(pages: int, size: tuple[int, int] | None, max_tokens: int, model=None):
    """(DocumentPlan, exact) of a document of `pages` pages: the engine's token budget, counted with the model's
    tokenizer when `model` reads documents (`exact`), else with the engine's estimate of the prompt's words.
    Raises ValueError when a page cannot fit at all (a `max_tokens` as large as the context)."""
    sizes = [size or NOMINAL_SIZE] * pages
    if model is not None and reads_documents(model.version):
        return eb.plan_for(model, sizes, eb.RunOptions.of(max_tokens=max_tokens)), True
    return eb.document_plan(sizes, max_tokens), False


def budget_line(doc, exact: bool) -> str:
    """The budget in one line: pages x tokens, the prompt, what is left for the output, the parts."""
    about = "" if exact else "about "
    per = sorted(set(doc.page_tokens))
    each = f"{per[0]}" if len(per) == 1 else f"{per[0]}\u2013{per[-1]}"
    n = len(doc.pages)
    line = (f"{n} page{'s' if n != 1 else ''} \u00d7 {each} tokens + {about}{doc.text_tokens} text = {about}"
            f"{doc.prompt_tokens} prompt tokens of {doc.context}")
    if doc.split:
        return f"{line}; {doc.range_note()}"
    return f"{line}; {about}{doc.left_for_output} left for the output (asked {doc.max_tokens}): one prompt"


def part_of(doc, index: int) -> int:
    """The part (1-based) page `index` (0-based, in the document) is read in."""
    return next(k for k, (a, b) in enumerate(doc.ranges, 1) if a <= index < b)
