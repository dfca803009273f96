"""Grounding regions of a result: their boxes for the overlay and where their text sits in the markdown.

The engine gives each region a label, boxes in run-image pixels and a span in the raw output. The text that
belongs to a region is what follows its tag up to the next tag; it is found again, in order, in the clean
(and possibly edited) markdown, so a click on a box can select its text and the caret can find its box.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"<\|ref\|>.*?<\|/ref\|><\|det\|>.*?<\|/det\|>", re.S)
_SPECIAL = re.compile(r"<\|/?(?:ref|det|grounding)\|>|</?t[dr]>")


def _get(region, name, default=None):
    if isinstance(region, dict):
        return region.get(name, default)
    return getattr(region, name, default)


def region_boxes(regions) -> list[tuple[tuple[float, float, float, float], str, int]]:
    """((x0, y0, x1, y1), label, region index) for every box of every region."""
    out = []
    for i, r in enumerate(regions or []):
        label = str(_get(r, "label", "") or "")
        boxes = _get(r, "boxes", None)
        if boxes is None:
            box = _get(r, "box", None)
            boxes = [box] if box is not None else []
        for b in boxes:
            x0, y0, x1, y1 = (float(v) for v in getattr(b, "rect", b))
            out.append(((x0, y0, x1, y1), label, i))
    return out


def region_contents(raw_text: str, regions) -> list[str]:
    """The text each region introduces in the raw output (tags removed, stripped)."""
    regions = list(regions or [])
    spans = []
    for r in regions:
        span = _get(r, "span", None)
        spans.append(tuple(span) if span is not None else None)
    out = []
    for i, span in enumerate(spans):
        own = _get(regions[i], "text", None)
        if isinstance(own, str):  # the engine already cut the region's text out
            out.append(_SPECIAL.sub("", own).strip())
            continue
        if span is None:
            out.append("")
            continue
        start, end = span
        if raw_text[start:end].startswith("<|ref|>"):  # the span is the tag: the content follows it
            nxt = next((s[0] for s in spans[i + 1:] if s is not None and s[0] >= end), None)
            if nxt is None:
                m = _TAG.search(raw_text, end)
                nxt = m.start() if m else len(raw_text)
            content = raw_text[end:nxt]
        else:  # the span is the content itself
            content = raw_text[start:end]
        out.append(_SPECIAL.sub("", content).strip())
    return out


def locate_in_text(text: str, contents: list[str]) -> list[tuple[int, int] | None]:
    """Where each content string sits in `text`, searching in order; None where it cannot be found."""
    out: list[tuple[int, int] | None] = []
    pos = 0
    for content in contents:
        found = None
        for probe in (content, content.splitlines()[0] if content else ""):
            probe = probe.strip()
            if not probe:
                continue
            at = text.find(probe, pos)
            if at < 0:
                at = text.find(probe)
            if at >= 0:
                found = (at, at + len(probe))
                break
        out.append(found)
        if found is not None:
            pos = found[1]
    return out


def region_at(spans: list[tuple[int, int] | None], offset: int) -> int | None:
    """The region whose text contains the caret `offset` (None if none)."""
    for i, span in enumerate(spans):
        if span is not None and span[0] <= offset <= span[1]:
            return i
    return None
