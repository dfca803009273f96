"""`dsocr plan IMAGE`: the tiling plan and token counts of an image, without any model."""

from __future__ import annotations

import json

from ..preprocess.images import open_image
from ..preprocess.plan import plan


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="show the tile grid and token counts of an image (no model needed)")
    p.add_argument("image", help="image file")
    p.add_argument("--version", default="v2", help="v1 (DeepSeek-OCR) or v2 (DeepSeek-OCR-2); default v2")
    p.add_argument("--mode", default=None, help="resolution mode (default gundam)")
    p.add_argument("--min-tiles", type=int, default=None)
    p.add_argument("--max-tiles", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
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
    return "\n".join(lines)


def run(args) -> int:
    img = open_image(args.image)
    pl = plan(img.size, args.version, args.mode, args.min_tiles, args.max_tiles)
    print(json.dumps(pl.to_dict()) if args.json else describe(pl))
    return 0
