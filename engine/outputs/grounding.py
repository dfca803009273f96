"""Parse grounding output: `<|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>`, without eval.

Coordinates are integers on a 0-999 grid of the original image; pixels are `int(x / 999 * W)` as the
official script computes them (clamped to the image). Truncated or malformed output is tolerated: a box
that cannot be read is skipped, the others are kept, and an unterminated `<|det|>` keeps its complete boxes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REF_RE = re.compile(r"<\|ref\|>(.*?)<\|/ref\|>\s*<\|det\|>(.*?)(?:<\|/det\|>|$)", re.S)
BOX_RE = re.compile(r"\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]")


@dataclass(frozen=True)
class Box:
    """One box: pixels in the original image (x0, y0, x1, y1) and the model's 0-999 coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int
    grid: tuple[int, int, int, int]

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass
class Region:
    """A labelled grounding match: its boxes, its span in the raw text and the text it labels."""

    label: str
    boxes: list[Box]
    span: tuple[int, int]  # [start, end) of the tag in the raw text
    text: str = ""  # what follows the tag up to the next one (the content of the region)
    text_span: tuple[int, int] = field(default=(0, 0))

    def to_dict(self) -> dict:
        return {"label": self.label, "boxes": [list(b.rect) for b in self.boxes],
                "boxes_0_999": [list(b.grid) for b in self.boxes], "span": list(self.span),
                "text": self.text, "text_span": list(self.text_span)}


def to_pixels(grid: tuple[float, float, float, float], size: tuple[int, int]) -> Box:
    w, h = size
    x0, y0, x1, y1 = grid

    def cx(v):
        return min(max(int(v / 999 * w), 0), w)

    def cy(v):
        return min(max(int(v / 999 * h), 0), h)

    px = (cx(x0), cy(y0), cx(x1), cy(y1))
    return Box(min(px[0], px[2]), min(px[1], px[3]), max(px[0], px[2]), max(px[1], px[3]),
               tuple(int(float(v)) for v in grid))


def parse_boxes(det: str, size: tuple[int, int]) -> list[Box]:
    """Every well-formed [x1, y1, x2, y2] inside a det payload, in pixels."""
    return [to_pixels(tuple(float(v) for v in m.groups()), size) for m in BOX_RE.finditer(det)]


def parse_grounding(raw: str, image_size: tuple[int, int]) -> list[Region]:
    """All grounding regions in the raw model output, in order."""
    matches = list(REF_RE.finditer(raw))
    regions = []
    for k, m in enumerate(matches):
        end_text = matches[k + 1].start() if k + 1 < len(matches) else len(raw)
        body = raw[m.end():end_text]
        lead = len(body) - len(body.lstrip())
        text = body.strip()
        regions.append(Region(m.group(1).strip(), parse_boxes(m.group(2), image_size), (m.start(), m.end()),
                              text, (m.end() + lead, m.end() + lead + len(text))))
    return regions
