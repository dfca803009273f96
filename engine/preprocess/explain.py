"""Plain-language notes on a plan: why this grid, how much the page is shrunk, whether small text is at risk.

Pure functions of a `TilePlan`, shared by `dsocr plan` and the app's status line.

The small-text threshold. The official rule gives an A4/Letter page a 2x3 grid, so the model normally reads
a page on a canvas of 1280x1920 (v1) or 1536x2304 (v2) pixels: 164-197 dpi, where 8 pt footnotes have an
x-height of about 9-11 px. We take MIN_X_HEIGHT_PX = 8 px (half a 16-px encoder patch) as the floor of what
the model is used to. Body text of BODY_TEXT_PT = 10 pt has an x-height of about half its size, so 21 px in a
300 dpi scan; it falls below the floor once the page is shrunk more than 21 / 8 = 2.6x (scale < 0.38). The
check uses the smaller of the two axis scales (a squeezed axis hurts as much as a shrunk page) and the
image's resolution when it is known (PDF pages are rendered at a known dpi); otherwise it assumes 300 dpi.
"""

from __future__ import annotations

from .modes import MODES, TILING_THRESHOLD
from .plan import AREA_TIE_BREAK, TilePlan, plan as make_plan

MIN_X_HEIGHT_PX = 8.0  # smallest letter x-height (canvas pixels) we trust the model to read
BODY_TEXT_PT = 10.0  # typical body text size
X_HEIGHT_EM = 0.5  # x-height as a fraction of the font size (Latin fonts: 0.45-0.55)
ASSUMED_DPI = 300  # scans


def small_text_scale(dpi: float = ASSUMED_DPI) -> float:
    """The scale below which body text of an image at `dpi` drops under MIN_X_HEIGHT_PX (0.38 at 300 dpi)."""
    return MIN_X_HEIGHT_PX / (BODY_TEXT_PT / 72 * dpi * X_HEIGHT_EM)


def axis_scales(p: TilePlan) -> tuple[float, float, tuple[int, int], str]:
    """(x scale, y scale, canvas size, what the canvas is): the view that carries the page's detail.

    Tiled: the tile canvas (cols*T x rows*T). Not tiled: the image inside the global view."""
    w, h = p.image_size
    if p.tiled:
        canvas, what = (p.grid[0] * p.tile_size, p.grid[1] * p.tile_size), "tile"
    else:
        canvas, what = p.global_view.scaled, "global-view"
    return canvas[0] / w, canvas[1] / h, canvas, what


def scale_note(p: TilePlan) -> str:
    """'page shrunk 2.7x to 1280x1920 tile pixels' (and how much the aspect ratio changes, when it does)."""
    sx, sy, (cw, ch), what = axis_scales(p)
    s = (sx * sy) ** 0.5
    if round(1 / s, 1) > 1:
        text = f"page shrunk {1 / s:.1f}x to {cw}x{ch} {what} pixels"
    elif round(s, 1) > 1:
        text = f"page enlarged {s:.1f}x to {cw}x{ch} {what} pixels"
    else:
        text = f"page kept at about its size: {cw}x{ch} {what} pixels"
    stretch = sx / sy - 1
    if abs(stretch) >= 0.05:
        text += f", {abs(stretch):.0%} {'wider' if stretch > 0 else 'narrower'}"
    return text


def small_text_warning(p: TilePlan, dpi: float | None = None) -> str | None:
    """A warning when body text is likely to shrink below MIN_X_HEIGHT_PX, with what to try; else None."""
    dpi = dpi or ASSUMED_DPI
    sx, sy, _, _ = axis_scales(p)
    worst = min(sx, sy)
    limit = small_text_scale(dpi)
    if worst >= limit:
        return None
    better = _more_pixels(p, worst)
    return (f"small text at risk: letters shrink {1 / worst:.1f}x (more than {1 / limit:.1f}x at {dpi:g} dpi); "
            f"try {better + ' or ' if better else ''}OCR a region")


def small_text_rule(dpi: float | None = None) -> str:
    """The warning's threshold in words (for tooltips and help)."""
    dpi = dpi or ASSUMED_DPI
    x_height = BODY_TEXT_PT / 72 * dpi * X_HEIGHT_EM
    return (f"{BODY_TEXT_PT:g} pt body text at {dpi:g} dpi has lowercase letters about {x_height:.0f} px high; shrunk more "
            f"than {1 / small_text_scale(dpi):.1f}x they fall under {MIN_X_HEIGHT_PX:g} px, half an encoder patch, "
            "below the smallest print the official tiling normally gives the model")


def _more_pixels(p: TilePlan, worst: float) -> str | None:
    """What gives this image clearly more pixels: the automatic grid (after a forced one) or another mode."""
    best, best_scale = None, worst * 1.1
    for name in MODES[p.version]:
        if name == p.mode and p.official:
            continue
        q = make_plan(p.image_size, p.version, name, p.min_tiles, p.max_tiles)
        sx, sy, _, _ = axis_scales(q)
        if min(sx, sy) > best_scale:
            best = "the automatic grid" if name == p.mode else f"{name.title()} (more pixels per tile)"
            best_scale = min(sx, sy)
    return best


def grid_reason(p: TilePlan) -> str:
    """Why the plan has its grid, in one sentence."""
    chosen = next((c for c in p.candidates if c.chosen), None)
    if not p.official:
        cols, rows = p.grid
        rule = f"the official rule picks {_grid(chosen.grid)}" if chosen else "the official rule does not tile it"
        return (f"grid {cols}x{rows} forced: not the official tiling ({rule}); the models were trained on the "
                "official rule")
    if not p.tiled:
        if not p.candidates:
            return f"not tiled: mode {p.mode} uses the global view only"
        return f"not tiled: both sides fit in {TILING_THRESHOLD[p.version]} px, the official rule tiles only larger images"
    ties = [c for c in p.candidates if c.aspect_error == chosen.aspect_error and c is not chosen]
    if chosen.won_by == AREA_TIE_BREAK:
        return (f"{_grid(chosen.grid)}: closest aspect ratio, tied with {', '.join(_grid(c.grid) for c in ties)}; "
                f"the area tie-break takes the later, larger grid because the image has more than half its pixels")
    text = f"{_grid(chosen.grid)}: closest aspect ratio ({chosen.grid[0] / chosen.grid[1]:.3f} vs the image's " \
           f"{p.image_size[0] / p.image_size[1]:.3f})"
    if ties:
        text += (f"; tied with {', '.join(_grid(c.grid) for c in ties)}, kept because the image has no more than "
                 "half the larger grid's pixels")
    return text


def _grid(grid: tuple[int, int]) -> str:
    return f"{grid[0]}x{grid[1]}"

