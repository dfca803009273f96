"""Parse grounding output: `<|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>`, without eval.

Coordinates are integers on a 0-999 grid of the original image; pixels are `int(x / 999 * W)`, as the
official script computes them, clamped to the image. Truncated or malformed output is tolerated:
- a `<|det|>` without `<|/det|>` ends where its box list ends (the outer `]`), at a newline, at the next tag,
  or at the end of the text, and keeps its complete boxes;
- a box that is not exactly four numbers (junk, a cut-off list) is skipped and the other boxes are kept;
- a `<|ref|>` whose label or `<|det|>` never comes is ignored.
Each `Region` keeps its character span in the raw text and the text that follows it up to the next tag
(the content the box labels), so an app can go from a box to its text and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REF_OPEN, REF_CLOSE, DET_OPEN, DET_CLOSE = "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"
EOS_TEXT = "<｜end▁of▁sentence｜>"
GRID = 999  # coordinates run 0..999 over the original image

# `<|ref|>` label `<|/ref|>` optional whitespace `<|det|>`; the label may not contain another tag
_HEAD_RE = re.compile(r"<\|ref\|>((?:(?!<\|).)*?)<\|/ref\|>\s*<\|det\|>", re.S)
_BOX_RE = re.compile(r"\[([^\[\]]*)\]")  # one innermost [...] group
_NUM_RE = re.compile(r"[+-]?\d+(?:\.\d*)?")


@dataclass(frozen=True)
class Box:
    """One box: `label`, pixels in the original image (x0, y0, x1, y1: left, top, right, bottom),
    the model's 0-999 coordinates as written (`grid`), and the span [start, end) of its tag in the raw text.
    Iterating a Box gives its four pixel coordinates."""

    label: str
    x0: int
    y0: int
    x1: int
    y1: int
    grid: tuple[int, int, int, int] = (0, 0, 0, 0)
    span: tuple[int, int] = (0, 0)

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def __iter__(self):
        return iter(self.rect)

    def scaled(self, image_size: tuple[int, int]) -> Box:
        """The same box in the pixels of an image of `image_size` (W, H), from its 0-999 coordinates."""
        return box_from_grid(self.grid, image_size, self.label, self.span)

    def to_dict(self) -> dict:
        return {"label": self.label, "box": list(self.rect), "box_0_999": list(self.grid), "span": list(self.span)}


@dataclass
class Region:
    """A labelled grounding tag: its boxes, its span [start, end) in the raw text and the text it labels."""

    label: str
    boxes: list[Box]
    span: tuple[int, int]  # [start, end) of `<|ref|>...<|/det|>` in the raw text
    text: str = ""  # what follows the tag up to the next tag, stripped (the content of the region)
    text_span: tuple[int, int] = field(default=(0, 0))  # [start, end) of `text` in the raw text

    def to_dict(self) -> dict:
        return {"label": self.label, "boxes": [list(b.rect) for b in self.boxes],
                "boxes_0_999": [list(b.grid) for b in self.boxes], "span": list(self.span),
                "text": self.text, "text_span": list(self.text_span)}


def _pixel(v: int, size: int) -> int:
    return min(max(int(v / GRID * size), 0), size)


def box_from_grid(grid, image_size: tuple[int, int] | None, label: str = "", span: tuple[int, int] = (0, 0)) -> Box:
    """A Box from 0-999 coordinates (x1, y1, x2, y2). Without `image_size` the pixel fields hold the 0-999
    coordinates themselves. Corners are ordered (left <= right, top <= bottom)."""
    gx0, gy0, gx1, gy1 = (int(v) for v in grid)
    if image_size is None:
        px = (gx0, gy0, gx1, gy1)
    else:
        w, h = int(image_size[0]), int(image_size[1])
        px = (_pixel(gx0, w), _pixel(gy0, h), _pixel(gx1, w), _pixel(gy1, h))
    return Box(label, min(px[0], px[2]), min(px[1], px[3]), max(px[0], px[2]), max(px[1], px[3]),
               (gx0, gy0, gx1, gy1), tuple(span))


def _number(text: str) -> int | None:
    text = text.strip()
    if not _NUM_RE.fullmatch(text):
        return None
    return int(float(text)) if "." in text else int(text)


def parse_det(payload: str) -> list[tuple[int, int, int, int]]:
    """Every well-formed `[x1, y1, x2, y2]` of a det payload (0-999 ints); malformed boxes are skipped."""
    boxes = []
    for m in _BOX_RE.finditer(payload):
        parts = m.group(1).split(",")
        if len(parts) != 4:
            continue
        values = [_number(p) for p in parts]
        if any(v is None for v in values):
            continue
        boxes.append(tuple(values))
    return boxes


_MORE_BOXES_RE = re.compile(r"[ \t]*,[ \t]*(?=\[)")


def _unterminated_end(raw: str, start: int, stop: int) -> int:
    """Where an unterminated det payload raw[start:stop] ends: after its box list (the outer `]`, unless a
    comma and another list follow), at a newline, or at anything else outside the brackets."""
    depth = 0
    i = start
    while i < stop:
        c = raw[i]
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth <= 0:
                more = _MORE_BOXES_RE.match(raw, i + 1, stop)
                if more is None:
                    return i + 1
                depth, i = 0, more.end()
                continue
        elif c == "\n" or (depth == 0 and not c.isspace()):
            return i
        i += 1
    return stop


def iter_tags(raw: str):
    """(label, det payload, tag start, tag end) for every grounding tag, in order; tolerant of truncation."""
    pos = 0
    while True:
        m = _HEAD_RE.search(raw, pos)
        if m is None:
            return
        body = m.end()
        nxt = raw.find("<|", body)
        nxt_eos = raw.find(EOS_TEXT, body)
        stop = len(raw) if nxt < 0 else nxt
        if 0 <= nxt_eos < stop:
            stop = nxt_eos
        if raw.startswith(DET_CLOSE, stop):
            payload_end, tag_end = stop, stop + len(DET_CLOSE)
        else:  # unterminated: the box list ends the tag
            payload_end = tag_end = _unterminated_end(raw, body, stop)
        yield m.group(1), raw[body:payload_end], m.start(), tag_end
        pos = tag_end


def parse_grounding(raw: str, image_size: tuple[int, int] | None) -> list[Region]:
    """All grounding regions of the raw model output, in order, with boxes in pixels of `image_size` (W, H)."""
    tags = list(iter_tags(raw))
    end_of_text = raw.find(EOS_TEXT)
    end_of_text = len(raw) if end_of_text < 0 else end_of_text
    regions = []
    for k, (label, payload, start, end) in enumerate(tags):
        label = label.strip()
        limit = tags[k + 1][2] if k + 1 < len(tags) else max(end, end_of_text)
        body = raw[end:limit]
        # the content stops at the next tag-like marker too (a dangling `<|ref|>` of truncated output)
        cut = body.find("<|ref|>")
        if cut >= 0:
            body = body[:cut]
        lead = len(body) - len(body.lstrip())
        text = body.strip()
        boxes = [box_from_grid(g, image_size, label, (start, end)) for g in parse_det(payload)]
        regions.append(Region(label, boxes, (start, end), text, (end + lead, end + lead + len(text))))
    return regions
