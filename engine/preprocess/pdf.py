"""PDF pages as images (pypdfium2), with page-range parsing and clear errors for bad PDFs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

from PIL import Image

from .images import ImageError

DEFAULT_DPI = 144


class InputError(ImageError):
    """An input (PDF, folder, page range) that cannot be used; the message names it and says what to do."""


def parse_page_ranges(spec: str | None, n_pages: int) -> list[int]:
    """'1-3,5' -> [0, 1, 2, 4] (0-based) for a document of `n_pages`; None or '' means every page."""
    if spec is None or not str(spec).strip():
        return list(range(n_pages))
    pages: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d*))?", part)
        if not m:
            raise InputError(f"page range {spec!r}: cannot read {part!r}; write pages like 1-3,5")
        first = int(m.group(1))
        last = first if m.group(2) is None else (int(m.group(2)) if m.group(2) else n_pages)
        if first < 1 or last < first:
            raise InputError(f"page range {spec!r}: {part!r} is empty or starts before page 1")
        if last > n_pages:
            raise InputError(f"page range {spec!r}: page {last} does not exist: the PDF has {n_pages} pages")
        pages += [p for p in range(first - 1, last) if p not in pages]
    return pages


def _open(path: str | os.PathLike):
    import pypdfium2 as pdfium

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; check the file's permissions")
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        msg = str(e).lower()
        if "password" in msg:
            raise InputError(f"{path}: the PDF is encrypted (password required); remove the password first") from None
        raise InputError(f"{path}: not a readable PDF ({e}); the file is damaged or not a PDF") from None
    if len(doc) == 0:
        doc.close()
        raise InputError(f"{path}: the PDF has no pages")
    return doc


def pdf_page_count(path: str | os.PathLike) -> int:
    doc = _open(path)
    try:
        return len(doc)
    finally:
        doc.close()


def render_pdf_pages(path: str | os.PathLike, pages: list[int] | str | None = None,
                     dpi: int = DEFAULT_DPI) -> Iterator[tuple[int, Image.Image]]:
    """Yield (0-based page index, RGB image) for the chosen pages, rendered at `dpi`."""
    doc = _open(path)
    try:
        indices = pages if isinstance(pages, list) else parse_page_ranges(pages, len(doc))
        for i in indices:
            try:
                page = doc[i]
                bitmap = page.render(scale=dpi / 72)
                img = bitmap.to_pil().convert("RGB")
                page.close()
            except Exception as e:  # noqa: BLE001 - pdfium raises plain errors for damaged pages
                raise InputError(f"{path}: page {i + 1} cannot be rendered ({e})") from None
            yield i, img
    finally:
        doc.close()
