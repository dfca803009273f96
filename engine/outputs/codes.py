"""QR codes and barcodes in an image (zxing-cpp), and the rule that says a region is mostly a code.

`read_codes(image)` decodes every code it finds in a PIL image or an RGB / grey ndarray: `Code(format, text,
position)`, `position` the code's four corners (x, y) in the image's pixels. `mostly_code(codes, size)` is True
when the codes cover `MOSTLY_CODE` of the image or more: what a user selected was the code, not text about it.
`code_url(text)` is the web address a code holds ('' when none). No Qt here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

MOSTLY_CODE = 0.4  # the share of a region the codes must cover for the region to be "mostly a code"
_URL = re.compile(r"(?i)^(https?://|www\.)\S+$")


class Code(NamedTuple):
    """One decoded code: its format's name ("QR Code", "EAN-13", ...), its text, its four corners."""

    format: str
    text: str
    position: tuple[tuple[int, int], ...]  # top-left, top-right, bottom-right, bottom-left

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The axis-aligned box (x0, y0, x1, y1) around the corners."""
        xs, ys = [p[0] for p in self.position], [p[1] for p in self.position]
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1

    @property
    def url(self) -> str:
        return code_url(self.text)

    def line(self) -> str:
        """`"QR Code: https://example.com"` on one line (line breaks in the text become spaces)."""
        return f"{self.format}: {' '.join(self.text.split())}"

    def to_dict(self) -> dict:
        return {"format": self.format, "text": self.text, "position": [list(p) for p in self.position]}

    @classmethod
    def from_dict(cls, d: dict) -> Code:
        return cls(str(d["format"]), str(d["text"]), tuple((int(x), int(y)) for x, y in d["position"]))


def code_url(text: str) -> str:
    """The web address `text` is (http, https or www.), '' for any other text."""
    text = text.strip()
    if not _URL.match(text):
        return ""
    return text if "://" in text else "https://" + text


def _corners(position) -> tuple[tuple[int, int], ...]:
    return tuple((int(p.x), int(p.y)) for p in (position.top_left, position.top_right, position.bottom_right,
                                                    position.bottom_left))


def read_codes(image) -> list[Code]:
    """Every QR code and barcode zxing-cpp finds in `image` (PIL image or uint8 ndarray), in reading order
    (top to bottom, then left to right). [] when zxing-cpp is not installed or cannot read the image."""
    try:
        import zxingcpp
    except ImportError:
        return []
    if isinstance(image, np.ndarray):
        if image.ndim == 3:
            image = image[:, :, 2::-1] if image.shape[2] >= 3 else image[:, :, 0]  # zxing-cpp reads BGR
        image = np.ascontiguousarray(image, dtype=np.uint8)
    else:
        image = np.asarray(image.convert("L"))  # any PIL mode (palette, 1-bit, RGBA, ...)
    try:
        found = zxingcpp.read_barcodes(image)
    except (ValueError, TypeError, RuntimeError):
        return []
    codes = [Code(str(b.format), b.text, _corners(b.position)) for b in found if b.valid and b.text]
    return sorted(codes, key=lambda c: (c.box[1], c.box[0]))


def _union_area(boxes: list[tuple[int, int, int, int]]) -> int:
    """The area covered by axis-aligned boxes (overlaps counted once): a sweep over the x edges."""
    xs = sorted({x for b in boxes for x in (b[0], b[2])})
    area = 0
    for x0, x1 in zip(xs, xs[1:]):
        spans = sorted((b[1], b[3]) for b in boxes if b[0] <= x0 and b[2] >= x1)
        covered, top = 0, None
        for y0, y1 in spans:
            if top is None or y0 > top:
                covered += y1 - y0
                top = y1
            elif y1 > top:
                covered += y1 - top
                top = y1
        area += covered * (x1 - x0)
    return area


def mostly_code(codes: list[Code], size: tuple[int, int], share: float = MOSTLY_CODE) -> bool:
    """True when the codes' boxes (clipped to the `size` = (width, height) region, overlaps once) cover at least
    `share` of it: a region selected around a code, whose content is the code's, not text to read."""
    w, h = size
    if not codes or w <= 0 or h <= 0:
        return False
    boxes = []
    for c in codes:
        x0, y0, x1, y1 = c.box
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
    return _union_area(boxes) >= share * w * h
