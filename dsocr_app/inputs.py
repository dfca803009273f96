"""Inputs: dropped or opened files and folders (expanded by the engine, as the command line does), and images
from the clipboard or a drop.

Folders give their images and PDFs (sorted, not their subfolders: the engine's rule); a file named explicitly
is always queued, so a broken one gets a clear message in its row instead of vanishing silently.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from . import engine_bridge as eb

OPEN_FILTER = (f"Images and PDFs ({' '.join('*' + s for s in sorted(eb.IMAGE_SUFFIXES))} *.pdf);;"
               "All files (*)")


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
