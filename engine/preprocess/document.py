"""A whole document read in one prompt (Unlimited-OCR): each page's view, the token budget, the page ranges.

Every page is read in the document mode (`modes.DOCUMENT_MODE`, "base": a 1024 px padded view, 273 tokens),
and the pages' image slots follow each other in one prompt with a single `<image>` tag. The prompt and the
output share the model's context (`max_position_embeddings`, 32768): a document whose prompt plus
`max_tokens` would not fit is split into consecutive page ranges that do, each read as its own prompt.
Pure functions: sizes in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

from .modes import DOCUMENT_MODE
from .plan import TilePlan, plan as make_plan

DEFAULT_CONTEXT = 32768  # max_position_embeddings when a config leaves it out (DeepSeek-OCR's and Unlimited-OCR's)
# BOS + "Multi page parsing." in DeepSeek's 128k byte-level BPE ("Multi", " page", " parsing", "."): an estimate
# for plans made without a tokenizer (pages take 273 tokens each: a token or two off moves a split only when a
# range is within that of the context)
TEXT_TOKENS_ABOUT = 5


@dataclass(frozen=True)
class DocumentPlan:
    """The token budget of a document: its pages' plans, the prompt's text tokens, what is left for output."""

    pages: tuple[TilePlan, ...]
    text_tokens: int  # BOS and the prompt's words
    max_tokens: int  # the output asked for
    context: int  # the model's context: prompt + output must fit in it
    ranges: tuple[tuple[int, int], ...]  # [start, end) page ranges, each read as one prompt

    @property
    def page_tokens(self) -> list[int]:
        return [p.image_tokens for p in self.pages]

    @property
    def prompt_tokens(self) -> int:
        """The prompt of the whole document as one prompt (image slots and text)."""
        return sum(self.page_tokens) + self.text_tokens

    @property
    def left_for_output(self) -> int:
        """Tokens the output may take in the first range's prompt (the context minus that prompt)."""
        start, end = self.ranges[0]
        return self.context - self.text_tokens - sum(self.page_tokens[start:end])

    @property
    def split(self) -> bool:
        return len(self.ranges) > 1

    def range_note(self) -> str:
        """One line saying how the document is split ('' when it is read in one prompt)."""
        if not self.split:
            return ""
        parts = ", ".join(f"{a + 1}-{b}" if b - a > 1 else f"{a + 1}" for a, b in self.ranges)
        return (f"{len(self.pages)} pages do not fit one prompt of {self.context} tokens with {self.max_tokens} for "
                f"the output; read as {len(self.ranges)} parts: pages {parts}")

    def to_dict(self) -> dict:
        return {"mode": self.pages[0].mode if self.pages else DOCUMENT_MODE, "pages": len(self.pages),
                "page_tokens": self.page_tokens, "text_tokens": self.text_tokens,
                "prompt_tokens": self.prompt_tokens, "max_tokens": self.max_tokens, "context": self.context,
                "left_for_output": self.left_for_output,
                "ranges": [[a + 1, b] for a, b in self.ranges]}  # 1-based, inclusive page numbers


def page_ranges(page_tokens: list[int], text_tokens: int, max_tokens: int, context: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) ranges, as few as possible (greedy, in page order), each with
    text + its pages' tokens + max_tokens <= context. A page that cannot fit even alone is a ValueError."""
    budget = context - text_tokens - max_tokens
    ranges, start, used = [], 0, 0
    for i, n in enumerate(page_tokens):
        if n > budget:
            raise ValueError(f"page {i + 1} needs {n} tokens but only {max(budget, 0)} are left in the context of "
                             f"{context} after the prompt and --max-tokens {max_tokens}; lower --max-tokens")
        if used + n > budget:
            ranges.append((start, i))
            start, used = i, 0
        used += n
    if page_tokens:
        ranges.append((start, len(page_tokens)))
    return ranges


def plan_document(sizes: list[tuple[int, int]], version: str = "unlimited", text_tokens: int = TEXT_TOKENS_ABOUT,
                  max_tokens: int = 8192, context: int = DEFAULT_CONTEXT) -> DocumentPlan:
    """Plan the pages of `sizes` ((width, height) each) for one document prompt of `version`. Without a model:
    the prompt's text tokens estimated (`TEXT_TOKENS_ABOUT`) and the real model's context."""
    if not sizes:
        raise ValueError("a document needs at least one page")
    pages = tuple(make_plan(size, version, DOCUMENT_MODE) for size in sizes)
    ranges = page_ranges([p.image_tokens for p in pages], text_tokens, max_tokens, context)
    return DocumentPlan(pages, text_tokens, max_tokens, context, tuple(ranges))
