"""Parse grounding output: `<|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>`, without eval.

Coordinates are integers on a 0-999 grid of the original image; pixels are `int(x / 999 * W)`, as the
official script computes them, clamped to the image. Truncated or malformed output is tolerated:
- a `<|det|>` without `<|/det|>` ends where its box list ends (the outer `]`), at a newline, at the next tag,
  or at the end of the text, and keeps its complete boxes;
- a box that is not exactly four numbers (junk, a cut-off list) is skipped and the other boxes are kept;
- a `<|ref|>` whose label or `<|det|>` never comes is ignored;
- a label whose `<|ref|>` is missing (hosted APIs cut the first token: `text<|/ref|><|det|>[[...]]`) still
  opens a region, the label being what stands on the line before `<|/ref|>`;
- a box outside the grid (coordinates above 999 or below 0) or with its corners swapped (x1 > x2) is
  normalised: corners ordered, coordinates clipped to 0-999; its `written` field keeps what the model wrote.
Each `Region` keeps its character span in the raw text and the text that follows it up to the next tag
(the content the box labels), so an app can go from a box to its text and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REF_OPEN, REF_CLOSE, DET_OPEN, DET_CLOSE = "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"
EOS_TEXT = "<｜end▁of▁sentence｜>"
GRID = 999  # coordinates run 0..999 over the original image

# `<|ref|>` label `<|/ref|>` optional whitespace `<|det|>`; the label may not contain another tag. Without
# its `<|ref|>`, the label is the rest of the line before `<|/ref|>` (at the start of a line or after a tag)
_HEAD_RE = re.compile(r"<\|ref\|>((?:(?!<\|).)*?)<\|/ref\|>\s*<\|det\|>"
                      r"|(?:^|(?<=\n)|(?<=\|>)|(?<=｜>))([^\n<]{0,100}?)<\|/ref\|>\s*<\|det\|>", re.S)
_BOX_RE = re.compile(r"\[([^\[\]]*)\]")  # one innermost [...] group
_NUM_RE = re.compile(r"[+-]?\d+(?:\.\d*)?")


@dataclass(frozen=True)
class Box:
    """One box: `label`, pixels in the original image (x0, y0, x1, y1: left, top, right, bottom),
    the model's 0-999 coordinates (`grid`: ordered and clipped to the grid), and the span [start, end) of its
    tag in the raw text. `written` holds the coordinates as the model wrote them when they had to be
    normalised (None when they were fine). Iterating a Box gives its four pixel coordinates."""

    label: str
    x0: int
    y0: int
    x1: int
    y1: int
    grid: tuple[int, int, int, int] = (0, 0, 0, 0)
    span: tuple[int, int] = (0, 0)
    written: tuple[int, int, int, int] | None = None

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
        return box_from_grid(self.written or self.grid, image_size, self.label, self.span)

    def to_dict(self) -> dict:
        d = {"label": self.label, "box": list(self.rect), "box_0_999": list(self.grid), "span": list(self.span)}
        if self.written is not None:
            d["box_as_written"] = list(self.written)
        return d


@dataclass
class Region:
    """A labelled grounding tag: its boxes, its span [start, end) in the raw text and the text it labels."""

    label: str
    boxes: list[Box]
    span: tuple[int, int]  # [start, end) of `<|ref|>...<|/det|>` in the raw text
    text: str = ""  # what follows the tag up to the next tag, stripped (the content of the region)
    text_span: tuple[int, int] = field(default=(0, 0))  # [start, end) of `text` in the raw text

    def to_dict(self) -> dict:
        d = {"label": self.label, "boxes": [list(b.rect) for b in self.boxes],
             "boxes_0_999": [list(b.grid) for b in self.boxes], "span": list(self.span),
             "text": self.text, "text_span": list(self.text_span)}
        if any(b.written is not None for b in self.boxes):
            d["boxes_as_written"] = [list(b.written or b.grid) for b in self.boxes]
        return d


def _pixel(v: int, size: int) -> int:
    return min(max(int(v / GRID * size), 0), size)


def normalise_grid(grid) -> tuple[int, int, int, int]:
    """0-999 coordinates (x1, y1, x2, y2) with the corners ordered and every value clipped to the grid."""
    x0, y0, x1, y1 = (min(max(int(v), 0), GRID) for v in grid)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def box_from_grid(grid, image_size: tuple[int, int] | None, label: str = "", span: tuple[int, int] = (0, 0)) -> Box:
    """A Box from 0-999 coordinates (x1, y1, x2, y2) as the model wrote them: normalised (`normalise_grid`;
    `written` keeps the original when that changed it). Without `image_size` the pixel fields hold the
    0-999 coordinates themselves."""
    written = tuple(int(v) for v in grid)
    g = normalise_grid(written)
    if image_size is None:
        px = g
    else:
        w, h = int(image_size[0]), int(image_size[1])
        px = (_pixel(g[0], w), _pixel(g[1], h), _pixel(g[2], w), _pixel(g[3], h))
    return Box(label, *px, g, tuple(span), None if written == g else written)


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
        label = m.group(1) if m.group(1) is not None else m.group(2)
        yield label, raw[body:payload_end], m.start(), tag_end
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
