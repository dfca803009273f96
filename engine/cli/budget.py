"""A whole document's token budget as `dsocr plan` shows it (Unlimited-OCR): tokens per page, the prompt, what
is left for the output at --max-tokens, and the page ranges a document that does not fit is read in.

Without a model the document prompt's text tokens are `TEXT_TOKENS_ABOUT` (said "about"); with `--model`
its tokenizer counts them (only config.json and the tokenizer are read: `weights.head`)."""

from __future__ import annotations

from ..document import text_tokens as document_text_tokens
from ..preprocess.document import DEFAULT_CONTEXT, TEXT_TOKENS_ABOUT, DocumentPlan, plan_document
from ..preprocess.modes import DOCUMENT_MODE, MODES

def text_tokens(head) -> int:
    """BOS and the document prompt's words: counted by `head`'s tokenizer, else `TEXT_TOKENS_ABOUT`."""
    if head is None:
        return TEXT_TOKENS_ABOUT
    return document_text_tokens(head.tokenizer)


def document_plan(sizes: list[tuple[int, int]], max_tokens: int, head=None) -> DocumentPlan:
    """The plan of a document of pages of `sizes` (raises ValueError when a page cannot fit at all)."""
    context = head.context if head is not None else DEFAULT_CONTEXT
    return plan_document(sizes, "unlimited", text_tokens(head), max_tokens, context)


def describe_document(doc: DocumentPlan, labels: list[str], exact: bool) -> str:
    """The budget as a short table: one line per page, the prompt, what is left, how it is read."""
    about = "" if exact else "about "
    mode = MODES["unlimited"][DOCUMENT_MODE]
    lines = [(f"document of {len(doc.pages)} page{'s' if len(doc.pages) != 1 else ''}, read by Unlimited-OCR in "
              f"one prompt per part; each page in mode {mode.name} ({mode.description})")]
    for k, (pl, label) in enumerate(zip(doc.pages, labels)):
        w, h = pl.image_size
        lines.append(f"  page {k + 1:3d}  {pl.image_tokens} tokens  ({label}, {w}x{h})")
    page_total = sum(doc.page_tokens)
    lines.append(f"pages {page_total} tokens + prompt text {about}{doc.text_tokens} tokens = {about}"
                 f"{doc.prompt_tokens} prompt tokens"
                 + ("" if exact else " (--model reads the exact count from the tokenizer)"))
    if doc.split:
        lines.append(f"context {doc.context}: --max-tokens {doc.max_tokens} does not fit beside all the pages; "
                     f"{doc.range_note()}")
        for a, b in doc.ranges:
            tokens = doc.text_tokens + sum(doc.page_tokens[a:b])
            pages = f"pages {a + 1}-{b}" if b - a > 1 else f"page {b}"
            lines.append(f"  part {pages}: {about}{tokens} prompt tokens, {about}{doc.context - tokens} "
                         "left for its output")
    else:
        lines.append(f"context {doc.context}: {about}{doc.left_for_output} tokens left for the output; "
                     f"--max-tokens {doc.max_tokens} fits, the document is read in one prompt")
    return "\n".join(lines)


def document_json(doc: DocumentPlan, inputs: list[str], exact: bool) -> dict:
    """`DocumentPlan.to_dict()` with the inputs and whether the text tokens were counted or estimated."""
    return {"inputs": inputs, "version": "unlimited", **doc.to_dict(), "text_tokens_exact": exact}
