"""Grounding regions of a result: their boxes for the overlay and where their text sits in the markdown.

The engine gives each region (`engine.Region`) a label, boxes in run-image pixels and the text that follows
its tag; that text is found again, in order, in the clean (and possibly edited) markdown, so a click on a
box can select its text and the caret can find its box.
"""

from __future__ import annotations

import re

from . import engine_bridge as eb

_SPECIAL = re.compile(r"<\|/?(?:ref|det|grounding)\|>|</?t[dr]>")


def region_boxes(regions: list[eb.Region]) -> list[tuple[tuple[float, float, float, float], str, int]]:
    """((x0, y0, x1, y1), label, region index) for every box of every region."""
    return [(tuple(float(v) for v in b.rect), r.label, i) for i, r in enumerate(regions) for b in r.boxes]


def region_contents(regions: list[eb.Region]) -> list[str]:
    """The text each region introduces (the engine cut it out of the raw output), tags removed, stripped."""
    return [_SPECIAL.sub("", r.text).strip() for r in regions]


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
