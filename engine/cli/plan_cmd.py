"""`dsocr plan IMAGE`: the tiling plan and token counts of an image, without any model."""

from __future__ import annotations

import json

from ..preprocess.explain import grid_reason, scale_note, small_text_warning
from ..preprocess.images import open_image
from ..preprocess.modes import VERSIONS
from ..preprocess.plan import plan
from .options import add_grid_option, add_tile_options


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="show the tile grid and token counts of an image (no model needed)")
    p.add_argument("image", help="image file")
    p.add_argument("--version", default="v2", choices=VERSIONS, help="v1 (DeepSeek-OCR) or v2 (DeepSeek-OCR-2); default v2")
    add_tile_options(p)
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    add_grid_option(p)
    p.add_argument("--candidates", action="store_true", help="also list every grid the official rule weighed")
    p.set_defaults(func=run)


def describe(pl) -> str:
    """A short human-readable table of a plan."""
    w, h = pl.image_size
    lines = [f"image {w}x{h}, {pl.version} mode {pl.mode} (global {pl.global_size}px, tile {pl.tile_size}px)"]
    if pl.tiled:
        cols, rows = pl.grid
        lines.append(f"grid {cols}x{rows} (cols x rows), {len(pl.tiles)} tiles of {pl.tiles[0].tokens} tokens")
        for t in pl.tiles:
            x0, y0, x1, y1 = t.box
            lines.append(f"  tile {t.index + 1:2d} (col {t.col + 1}, row {t.row + 1}) box "  # counted from 1, as in the app
                         f"[{x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f}]"
                         f"  {t.tokens} tokens")
    else:
        lines.append("not tiled (global view only)")
    lines.append(f"global view {pl.global_tokens} tokens, newlines {pl.newline_tokens}, "
                 f"separator {pl.separator_tokens}")
    lines.append(f"image tokens {pl.image_tokens}")
    lines.append(f"why: {grid_reason(pl)}")
    lines.append(scale_note(pl))
    warning = small_text_warning(pl)
    if warning:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def candidates_table(pl) -> str:
    """The grids the official rule weighed, in its order, with their figures and the winner marked."""
    if not pl.candidates:
        return f"no candidates: mode {pl.mode} does not tile"
    w, h = pl.image_size
    lines = [f"candidates in the official order (image ratio {w / h:.3f}): the smallest ratio error wins; on a tie",
             "the later, larger grid wins if the image has more than half its pixels. stretch: change of the",
             "page's aspect ratio; scale: tile pixels per image pixel (< 1: shrunk)",
             f"  {'grid':<5} {'ratio':>6}  {'error':>5}  {'stretch':>9}  {'scale':>5}  {'tokens':>6}"]
    for c in pl.candidates:
        cols, rows = c.grid
        mark = f"  <- official choice ({c.won_by})" if c.chosen else ""
        if c.grid == pl.grid and not pl.official:
            mark = "  <- forced"
        lines.append(f"  {f'{cols}x{rows}':<5} {cols / rows:6.3f}  {c.aspect_error:5.3f}  {c.stretch:+9.1%}  "
                     f"{c.scale:5.2f}  {c.image_tokens:6d}{mark}")
    return "\n".join(lines)


def run(args) -> int:
    img = open_image(args.image)
    pl = plan(img.size, args.version, args.mode, args.min_tiles, args.max_tiles, args.grid)
    if args.json:
        print(json.dumps(pl.to_dict()))
    else:
        print(describe(pl) + ("\n" + candidates_table(pl) if args.candidates else ""))
    return 0
