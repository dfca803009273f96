"""Inputs: dropped or opened files and folders, PDFs (one item per page) and images from the clipboard.

Folders are walked for images and PDFs; a file named explicitly is always queued, so a broken one gets a
clear message instead of vanishing silently.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".jfif"}
PDF_SUFFIXES = {".pdf"}
OPEN_FILTER = "Images and PDFs (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif *.pdf);;All files (*)"
MAX_FOLDER_FILES = 5000


def expand_paths(paths) -> list[Path]:
    """Files as given, and the images and PDFs inside given folders (recursively, sorted)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted((f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")
                            and f.suffix.lower() in IMAGE_SUFFIXES | PDF_SUFFIXES), key=lambda f: str(f).lower())
            out.extend(found[:MAX_FOLDER_FILES])
        else:
            out.append(p)
    return list(dict.fromkeys(out))


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
