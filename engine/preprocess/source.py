"""Where a page image came from: its file, its PDF page and that page's size, its resolution.

The loaders tag the images they return (`Image.info`, which Pillow carries through copies and conversions);
`page_source` reads the tag back. A searchable PDF uses it to give each page the input's page size and to
embed a JPEG input's own bytes instead of re-encoding the pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_KEY = "dsocr.source"
DPI_RANGE = (10.0, 10000.0)  # a resolution outside this range is treated as unknown


@dataclass(frozen=True)
class PageSource:
    """`path`: the input file (None for pasted images); `page`: 0-based PDF page index (None for an image
    file); `page_size`: the PDF page's visible size in points (None for an image file); `dpi`: the image's
    resolution (x, y) when it records a plausible one (a PDF page: its render resolution), else None."""

    path: str | None = None
    page: int | None = None
    page_size: tuple[float, float] | None = None
    dpi: tuple[float, float] | None = None


def tag_image(img, path: str | os.PathLike | None, page: int | None = None,
              page_size: tuple[float, float] | None = None) -> None:
    """Record on `img` (in place) that it is `path` (page `page`, `page_size` points). A PDF page also gets
    its render resolution as its DPI, so a crop of it keeps its physical size."""
    img.info[_KEY] = (None if path is None else os.fspath(path), page,
                      None if page_size is None else (float(page_size[0]), float(page_size[1])), img.size)
    if page_size is not None:
        img.info["dpi"] = (img.width * 72.0 / page_size[0], img.height * 72.0 / page_size[1])


def _dpi(info: dict) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    try:
        x, y = (float(dpi[0]), float(dpi[1]))
    except (TypeError, ValueError, IndexError):
        return None
    lo, hi = DPI_RANGE
    if not (lo <= x <= hi and lo <= y <= hi):
        return None
    # PNG stores pixels per metre: 150 dpi reads back as 149.9876; take the whole number it stands for
    return tuple(float(round(v)) if abs(v - round(v)) < 0.05 else v for v in (x, y))


def page_source(img) -> PageSource:
    """The origin recorded on `img` (an empty PageSource for an untagged image or None). A crop or other
    copy of another size (Pillow copies `info` along) keeps only its DPI."""
    if img is None:
        return PageSource()
    info = getattr(img, "info", None) or {}
    path, page, page_size, size = info.get(_KEY) or (None, None, None, None)
    if size != img.size:
        path, page, page_size = None, None, None
    return PageSource(path, page, page_size, _dpi(info))
