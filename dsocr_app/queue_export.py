"""Export > the whole queue: every target with a result, in the chosen file formats, into one folder.

Each target goes through `exporting.write_target` under a free name (existing files are kept): a document's
whole text (`report.md`) and each of its pages (`report-p001.md`, ...); searchable PDFs are one per source
file, not one per page (`pdf_export.py`).
"""

from __future__ import annotations

from pathlib import Path

from . import exporting
from .pdf_export import export_queue_pdfs


def export_queue(folder: str | Path, items, formats: tuple[str, ...] = ("md",), image_for=None) -> list[Path]:
    """Export every target with a result into `folder`; existing files are kept and new names picked.

    `image_for(item, target)` gives the image a run saw, for figure crops and PDF pages. Searchable PDFs are
    one per source file (a PDF's pages together), not one per page."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "pdf" in formats:
        written += export_queue_pdfs(folder, items, image_for)
        formats = tuple(f for f in formats if f != "pdf")
    needs_image = any(exporting.FILE_FORMATS[f].needs_image for f in formats)
    for item in items:
        for k, target in enumerate(item.targets):
            if target.result is None and not target.text:
                continue
            stem = exporting.free_stem(folder, item.stem_of(target), formats)  # a document: whole, then pages
            image = image_for(item, target) if image_for is not None and needs_image else None
            for fmt in formats:
                written.extend(exporting.write_target(folder / f"{stem}.{fmt}", fmt, item, target, image=image))
    return written
