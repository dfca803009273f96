"""Inputs: dropped or opened files and folders (expanded by the engine, as the command line does), and images
from the clipboard or a drop.

Folders give their images and PDFs (sorted, not their subfolders: the engine's rule); a file named explicitly
is always queued, so a broken one gets a clear message in its row instead of vanishing silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from . import engine_bridge as eb
from .queue_model import QueueItem

OPEN_FILTER = (f"Images and PDFs ({' '.join('*' + s for s in sorted(eb.IMAGE_SUFFIXES))} *.pdf);;"
               "All files (*)")


def queue_items(paths, pages: str | None, dpi: int, ask_pages: Callable[[Path, int], list[int] | None],
                document: bool = False) -> list[QueueItem]:
    """Queue items for files and folders, in order: one per image, one per chosen page of a PDF (the engine
    expands them with `pages`; `ask_pages(path, count)` then picks among a PDF's pages, None skipping it), or
    with `document` (an Unlimited-OCR model) one document item per PDF of two or more chosen pages. An input
    that cannot be used becomes an item with its error."""
    entries: list = []  # QueueItems, and [path, pages] for each PDF
    pdfs: dict[Path, list] = {}
    for found in eb.expand_inputs(paths, pages=pages, dpi=dpi):
        if found.page is None:
            entries.append(QueueItem(found.path, error=found.error or ""))
        elif found.path in pdfs:
            pdfs[found.path][1].append(found.page)
        else:
            pdfs[found.path] = [found.path, [found.page]]
            entries.append(pdfs[found.path])
    out: list[QueueItem] = []
    for entry in entries:
        if isinstance(entry, QueueItem):
            out.append(entry)
            continue
        path, found_pages = entry
        chosen = [found_pages[k] for k in ask_pages(path, len(found_pages)) or []]
        if document and len(chosen) > 1:
            out.append(QueueItem(path, pages=tuple(chosen), dpi=dpi, checked=True))
        else:
            out.extend(QueueItem(path, page=p, dpi=dpi, checked=True) for p in chosen)
    return out


def paths_from_mime(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


def image_from_mime(mime: QMimeData) -> Image.Image | None:
    """The image in clipboard or drop data (pixels, or image file bytes), or None."""
    if mime.hasImage():
        qimg = mime.imageData()
        if isinstance(qimg, QImage) and not qimg.isNull():
            return qimg_to_rgb(qimg)
    for fmt in ("image/png", "image/jpeg", "image/tiff", "image/bmp", "image/webp"):
        if mime.hasFormat(fmt):
            try:
                return Image.open(io.BytesIO(bytes(mime.data(fmt)))).convert("RGB")
            except OSError:
                continue
    return None


def qimg_to_rgb(qimg: QImage) -> Image.Image:
    qimg = qimg.convertToFormat(QImage.Format.Format_RGB888)
    w, h = qimg.width(), qimg.height()
    ptr = qimg.constBits()
    stride = qimg.bytesPerLine()
    data = bytes(ptr)[: stride * h]
    return Image.frombuffer("RGB", (w, h), data, "raw", "RGB", stride, 1).copy()
