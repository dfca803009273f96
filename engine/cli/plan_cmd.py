"""`dsocr plan INPUT`: the tiling plan and token counts of an image or of PDF pages, without any model.

A PDF is planned page by page as `dsocr ocr` would read it (`--pages`, rendered at `--dpi`): each page's
plan under a `==> name <==` header, or with `--json` one JSON object per page on its own line."""

from __future__ import annotations

import json
from pathlib import Path

from ..preprocess.explain import grid_reason, scale_note, small_text_warning
from ..preprocess.images import ImageError, open_image, special_file
from ..preprocess.inputs import expand_inputs, is_pdf
from ..preprocess.modes import VERSIONS
from ..preprocess.plan import plan
from .options import add_grid_option, add_pdf_options, add_tile_options


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="show the tile grid and token counts of an image (no model needed)")
    p.add_argument("image", metavar="INPUT", help="image file, or a PDF (its pages: --pages)")
    p.add_argument("--version", default="v2", choices=VERSIONS, help="v1 (DeepSeek-OCR) or v2 (DeepSeek-OCR-2); default v2")
    add_tile_options(p)
    add_pdf_options(p)
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    add_grid_option(p)
    p.add_argument("--candidates", action="store_true", help="also list every grid the official rule weighed")
    p.set_defaults(func=run)


def describe(pl, dpi: float | None = None) -> str:
    """A short human-readable table of a plan (`dpi`: a PDF page's render resolution, for the small-text
    warning)."""
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
    warning = small_text_warning(pl, dpi=dpi)
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
    path = Path(args.image)
    if path.exists() and special_file(path) is None and is_pdf(path):
        items = expand_inputs([path], args.pages, args.dpi)
        if items[0].error:
            raise ImageError(items[0].error)
        pages = [(it, it.load()) for it in items]
    else:
        if args.pages is not None:
            raise ValueError(f"--pages: {path} is not a PDF; --pages chooses the pages of a PDF")
        pages = [(None, open_image(args.image))]
    for k, (item, img) in enumerate(pages):
        pl = plan(img.size, args.version, args.mode, args.min_tiles, args.max_tiles, args.grid)
        if args.json:
            head = {"input": str(item.path), "page": item.page + 1} if item is not None else {}
            print(json.dumps({**head, **pl.to_dict()}))
            continue
        if len(pages) > 1:
            print(f"{chr(10) if k else ''}==> {item.label} <==")
        print(describe(pl, item.dpi if item is not None else None) + ("\n" + candidates_table(pl) if args.candidates else ""))
    return 0
