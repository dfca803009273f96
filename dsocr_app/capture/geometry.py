"""Pure rectangle maths of a screen capture: parsing `--region`, drag rectangles, logical -> physical pixels.

Rectangles are `(x, y, w, h)` tuples. Qt works in logical pixels; a screenshot has physical pixels
(`ratio` = physical / logical, e.g. 2 on a Retina screen, 1.25 or 1.5 with fractional scaling). The
captured pixels are exactly the physical pixels under the selection: edges are mapped separately and
rounded, so neighbouring selections never overlap or leave a gap.
"""

from __future__ import annotations

Rect = tuple[int, int, int, int]

CLICK_SLOP = 4  # a drag shorter than this (logical px, each axis) is a click


def parse_region(text: str) -> Rect:
    """`"X,Y,W,H"` (logical screen pixels) -> a rectangle; ValueError with what is wrong otherwise."""
    parts = [p.strip() for p in str(text).replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise ValueError(f"--region wants X,Y,W,H (four whole numbers, logical screen pixels), got {text!r}")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--region wants whole numbers: X,Y,W,H, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--region: width and height must be positive, got {w}x{h}")
    return x, y, w, h


def rect_from_points(p0: tuple[int, int], p1: tuple[int, int]) -> Rect:
    """The rectangle spanned by a drag from p0 to p1 (either direction)."""
    x0, x1 = sorted((int(p0[0]), int(p1[0])))
    y0, y1 = sorted((int(p0[1]), int(p1[1])))
    return x0, y0, x1 - x0, y1 - y0


def is_click(p0: tuple[int, int], p1: tuple[int, int], slop: int = CLICK_SLOP) -> bool:
    """True when the pointer moved less than `slop` on both axes between press and release."""
    return abs(p1[0] - p0[0]) < slop and abs(p1[1] - p0[1]) < slop


def intersect(a: Rect, b: Rect) -> Rect | None:
    """The overlap of two rectangles, or None."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def pick_screen(rect: Rect, screens: list[Rect]) -> int | None:
    """Index of the screen (global logical geometry) that holds most of `rect`; None when it is on none."""
    best, best_area = None, 0
    for i, s in enumerate(screens):
        o = intersect(rect, s)
        if o and o[2] * o[3] > best_area:
            best, best_area = i, o[2] * o[3]
    return best


def to_local(rect: Rect, screen: Rect) -> Rect | None:
    """A global logical rectangle clipped to `screen` and made relative to its top-left corner."""
    o = intersect(rect, screen)
    return None if o is None else (o[0] - screen[0], o[1] - screen[1], o[2], o[3])


def to_physical(rect: Rect, ratio: float, pixel_size: tuple[int, int]) -> Rect | None:
    """A screen-local logical rectangle -> the physical pixel rectangle under it, clipped to the screenshot."""
    x0, y0 = round(rect[0] * ratio), round(rect[1] * ratio)
    x1, y1 = round((rect[0] + rect[2]) * ratio), round((rect[1] + rect[3]) * ratio)
    return intersect((x0, y0, x1 - x0, y1 - y0), (0, 0, int(pixel_size[0]), int(pixel_size[1])))


def to_logical(box: tuple[float, float, float, float], ratio: float, origin: tuple[float, float]):
    """A box `(x0, y0, x1, y1)` in the captured image's pixels -> `(x, y, w, h)` in screen-local logical px,
    for drawing a plan's tile over the selection whose physical top-left is `origin`."""
    return ((origin[0] + box[0]) / ratio, (origin[1] + box[1]) / ratio,
            (box[2] - box[0]) / ratio, (box[3] - box[1]) / ratio)


def pixel_ratio(pixel_size: tuple[int, int], logical_size: tuple[int, int]) -> float:
    """Physical / logical pixels of a screenshot (its devicePixelRatio, measured rather than trusted)."""
    return pixel_size[0] / logical_size[0] if logical_size[0] > 0 else 1.0


def desktop_parts(pixel_size: tuple[int, int], screens: list[Rect]) -> list[Rect | None]:
    """Where each screen (logical desktop rectangles) lies in one screenshot of the whole desktop of `pixel_size`
    physical pixels (the desktop portal's): a physical rectangle per screen, None for one outside the image."""
    if not screens:
        return []
    x0, y0 = min(s[0] for s in screens), min(s[1] for s in screens)
    x1, y1 = max(s[0] + s[2] for s in screens), max(s[1] + s[3] for s in screens)
    sx, sy = pixel_size[0] / max(1, x1 - x0), pixel_size[1] / max(1, y1 - y0)
    parts = []
    for s in screens:
        box = (round((s[0] - x0) * sx), round((s[1] - y0) * sy), round(s[2] * sx), round(s[3] * sy))
        parts.append(intersect(box, (0, 0, int(pixel_size[0]), int(pixel_size[1]))))
    return parts
