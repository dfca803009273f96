"""`dsocr plan INPUT...`: the tiling plan and token counts of images or of PDF pages, without any model.

A PDF is planned page by page as `dsocr ocr` would read it (`--pages`, rendered at `--dpi`): each page's
plan under a `==> name <==` header, or with `--json` one JSON object per page on its own line. With
`--version unlimited` a PDF (or several inputs with `--document`) is one document, as `dsocr ocr` reads it:
its token budget (`budget`), or with `--json` one `DocumentPlan` object; `--page-by-page` plans its pages
one by one instead. `--model` reads the model's config and tokenizer (no weights): its version, context and
the document prompt's exact token count."""

from __future__ import annotations

import json
from pathlib import Path

from ..options import DEFAULTS as D
from ..preprocess.explain import grid_reason, scale_note, small_text_warning
from ..preprocess.images import ImageError, open_image, special_file
from ..preprocess.inputs import expand_inputs, is_pdf
from ..preprocess.modes import VERSION_NAMES, VERSIONS
from ..preprocess.plan import plan
from . import budget
from .options import add_document_options, add_grid_option, add_pdf_options, add_tile_options, number

VERSION_HELP = "; ".join(f"{v}: {name}" for v, name in VERSION_NAMES.items())


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="show the tile grid and token counts of an image, or a document's token "
                                    "budget (no model needed)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or PDFs (a PDF's pages: --pages)")
    p.add_argument("--version", default=None, choices=VERSIONS,
                   help=f"the model the plan is for ({VERSION_HELP}); default v2, or the version of --model")
    p.add_argument("--model", default=None,
                   help="read the version, context and tokenizer of this model (hub id or folder; no weights "
                        "are read): a document's prompt tokens are then counted, not estimated")
    add_tile_options(p)
    add_pdf_options(p)
    add_document_options(p)
    p.add_argument("--max-tokens", type=number(int, 1), default=D.decoding.max_tokens, metavar="N",
                   help=f"a document's output budget, as dsocr ocr --max-tokens (default {D.decoding.max_tokens})")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object (per page, or per "
                                                       "document)")
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


def _version(args, head) -> str:
    """--version, else the version of --model, else v2; a --version that contradicts --model is refused."""
    if head is not None and args.version is not None and args.version != head.version:
        raise ValueError(f"--version {args.version}: {args.model} is a {VERSION_NAMES[head.version]} "
                         f"({head.version}) model; drop one of them")
    return args.version or (head.version if head is not None else "v2")


def _units(args, as_documents: bool) -> list[tuple[str, list]]:
    """What is planned, in input order: ("page", [page]) for each page read on its own, ("document", pages) for
    each document (each PDF, or every input with --document); a page is (item, image, label), item None for
    an image file."""
    units: list[tuple[str, list]] = []
    any_pdf = False
    for raw in args.inputs:
        path = Path(raw)
        if path.exists() and special_file(path) is None and is_pdf(path):
            any_pdf = True
            items = expand_inputs([path], args.pages, args.dpi)
            if items[0].error:
                raise ImageError(items[0].error)
            pages = [(it, it.load(), it.label) for it in items]
            units += [("document", pages)] if as_documents else [("page", [pg]) for pg in pages]
        else:
            units.append(("page", [(None, open_image(raw), str(raw))]))
    if args.pages is not None and not any_pdf:
        raise ValueError(f"--pages: {args.inputs[0]} is not a PDF; --pages chooses the pages of a PDF")
    if args.document:
        units = [("document", [pg for _, pages in units for pg in pages])]
    return units


def run(args) -> int:
    from ..weights.head import read_head

    head = read_head(args.model) if args.model else None
    version = _version(args, head)
    if args.document and args.page_by_page:
        raise ValueError("--document and --page-by-page contradict each other; drop one of them")
    if args.document and version != "unlimited":
        raise ValueError(f"--document: only Unlimited-OCR (--version unlimited) reads several pages as one "
                         f"document; {VERSION_NAMES[version]} ({version}) reads each page on its own")
    units = _units(args, version == "unlimited" and not args.page_by_page)
    headers = len(units) > 1
    for k, (kind, pages) in enumerate(units):
        if kind == "document":
            _print_document(args, pages, head, headers, k > 0)
            continue
        ((item, img, label),) = pages
        pl = plan(img.size, version, args.mode, args.min_tiles, args.max_tiles, args.grid)
        if args.json:
            where = {"input": str(item.path), "page": item.page + 1} if item is not None else \
                {"input": label} if headers else {}
            print(json.dumps({**where, **pl.to_dict()}))
            continue
        if headers:
            print(f"{chr(10) if k else ''}==> {label} <==")
        print(describe(pl, item.dpi if item is not None else None) + ("\n" + candidates_table(pl) if args.candidates else ""))
    return 0


def _print_document(args, pages: list, head, header: bool, gap: bool) -> None:
    doc = budget.document_plan([img.size for _, img, _ in pages], args.max_tokens, head)
    inputs = list(dict.fromkeys(str(it.path) if it is not None else label for it, _, label in pages))
    if args.json:
        print(json.dumps(budget.document_json(doc, inputs, head is not None)))
        return
    if header or args.document:
        name = inputs[0] if len(inputs) == 1 else f"{', '.join(inputs[:3])}{', ...' if len(inputs) > 3 else ''}"
        print(f"{chr(10) if gap else ''}==> {name} <==")
    print(budget.describe_document(doc, [label for _, _, label in pages], head is not None))
