"""Export > Searchable PDF for the whole queue: one PDF per source file, its OCR'd pages in queue order.

A PDF's pages that were run become the pages of `<name>.pdf` (an image file gives a one-page PDF, a pasted
image `pasted.pdf`), through the engine's searchable-PDF writer: the page image as it was, the text invisible
on top. Only whole-page results make pages (a region's result covers a crop, not a page; a document's pages
are its page targets); what goes in is the text as shown, with the user's edits. Existing files are kept: a new name is picked, as for the other
queue exports. One item alone is saved by `exporting.write_target(..., "pdf", ...)`.
"""

from __future__ import annotations

from pathlib import Path

from . import engine_bridge as eb
from .exporting import edited_result, free_stem


def pdf_groups(items, image_for=None) -> list[tuple[str, list]]:
    """(stem, results) per source file, in queue order (the engine's `pdf_documents` rule): the whole-image
    results with the edited text; files without one are left out. `image_for(item, target)` gives the image
    a run saw, when its result no longer holds it."""
    pages = []
    for item in items:
        for whole in item.page_targets:
            image = image_for(item, whole) if image_for is not None else None
            result = edited_result(whole, image)
            if result is not None and getattr(result, "image", None) is not None:
                pages.append((item.source, result))
    return [(eb.output_stem(source) if source is not None else "pasted", [r for _, r in group])
            for source, group in eb.pdf_documents(pages, lambda page: page[0])]


def document_pdf(path: str | Path, item, image_for, overwrite: bool = False) -> Path:
    """A document item's pages with results as one searchable PDF at `path` (`image_for(item, target)`: a
    page's image)."""
    doc = eb.SearchablePdf()
    for target in item.page_targets:
        result = edited_result(target, image_for(item, target))
        if result is not None and result.image is not None:
            doc.add(result)
    return doc.save(path, overwrite=overwrite)


def export_queue_pdfs(folder: str | Path, items, image_for=None) -> list[Path]:
    """Write one searchable PDF per source file with results into `folder`; returns the PDFs written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, results in pdf_groups(items, image_for):
        doc = eb.SearchablePdf()
        for result in results:
            doc.add(result)
        written.append(doc.save(folder / f"{free_stem(folder, stem, ('pdf',))}.pdf"))
    return written
