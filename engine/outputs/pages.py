"""A whole document's output split into its pages at the model's page marks, and joined back for reading.

Unlimited-OCR writes the plain text `<PAGE>` before each page (not a special token; the official
`infer_multi` splits its decoded text with `split('<PAGE>')[1:]`). Here nothing is dropped: text before the
first mark belongs to the first page, marks beyond the page count fold into the last page, and a short count
leaves the missing pages empty; `PageSplit.note` says which of those happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..language.prompt import PAGE_MARK


@dataclass
class PageSplit:
    texts: list[str]  # one raw text per page, marks removed
    marks: int  # page marks the model wrote
    note: str  # '' when the marks matched the pages


def split_pages(raw: str, pages: int) -> PageSplit:
    """Split `raw` into `pages` texts at the page marks (see the module docstring)."""
    if pages < 1:
        raise ValueError("a document has at least one page")
    pieces = raw.split(PAGE_MARK)
    lead, marked = pieces[0], pieces[1:]
    if not marked:
        marked = [lead]
    elif lead.strip():
        marked[0] = lead + marked[0]
    marks = raw.count(PAGE_MARK)
    note = ""
    if len(marked) > pages:
        note = f"the model marked {marks} pages in a document of {pages}; the text after page {pages}'s mark is kept on page {pages}"
        marked = marked[:pages - 1] + [PAGE_MARK.join(marked[pages - 1:])]
    elif marks < pages and pages > 1:
        note = f"the model marked {marks} of {pages} pages; the pages after the last mark are empty"
    texts = [t.strip("\n") for t in marked] + [""] * (pages - len(marked))
    return PageSplit(texts, marks, note)


def page_break(number: int) -> str:
    """The line between pages in a whole document's markdown: an HTML comment, invisible when rendered."""
    return f"<!-- page {number} -->"


def join_pages(texts: list[str], numbers: list[int] | None = None) -> str:
    """The pages' markdown as one document, each page after its `page_break` line (`numbers`: the pages'
    1-based numbers, default 1, 2, ...)."""
    numbers = numbers or list(range(1, len(texts) + 1))
    return "\n\n".join(f"{page_break(n)}\n\n{t}".rstrip() for n, t in zip(numbers, texts)) + "\n"
