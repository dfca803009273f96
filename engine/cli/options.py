"""Argument types and options shared by the subcommands: every number is range-checked by the parser."""

from __future__ import annotations

import argparse

from ..preprocess.modes import DEFAULT_TILES, MODES, TILE_RANGE

MAX_TILES = max(hi for _, hi in TILE_RANGE.values())


def number(kind: type = int, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None):
    """An argparse `type` that reads a `kind` (int or float) and checks minimum <= x <= maximum (x > above)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole number' if kind is int else 'number'}") \
                from None
        if kind is float and value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
        if value != value or (minimum is not None and value < minimum) or (above is not None and value <= above) \
                or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {describe()} (got {text})")
        return value

    def describe() -> str:
        lo = f"at least {minimum:g}" if minimum is not None else f"above {above:g}" if above is not None else ""
        hi = f"at most {maximum:g}" if maximum is not None else ""
        return " and ".join(x for x in (lo, hi) if x)

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_tile_options(p: argparse.ArgumentParser) -> None:
    """--mode, --min-tiles, --max-tiles (plan, ocr, dump)."""
    lows = {v: lo for v, (lo, _) in DEFAULT_TILES.items()}
    lo = f"{lows['v1']}" if len(set(lows.values())) == 1 else ", ".join(f"{n} for {v}" for v, n in lows.items())
    modes = "; ".join(f"{v}: {', '.join(MODES[v])}" for v in MODES)
    highs = ", ".join(f"{hi} for {v}" for v, (_, hi) in DEFAULT_TILES.items())
    p.add_argument("--mode", default=None, help=f"resolution mode (default gundam; {modes})")
    p.add_argument("--min-tiles", type=number(int, 1, MAX_TILES), default=None, metavar="N",
                   help=f"fewest tiles of a tiled image (default {lo}; lowered to "
                        "--max-tiles when only that is given and it is smaller)")
    p.add_argument("--max-tiles", type=number(int, 1, MAX_TILES), default=None, metavar="N",
                   help=f"most tiles (default and limit: {highs})")


def add_document_options(p: argparse.ArgumentParser) -> None:
    """--document and --page-by-page (plan, ocr): how Unlimited-OCR reads several pages."""
    p.add_argument("--document", action="store_true",
                   help="Unlimited-OCR: read all the inputs' pages (in the order given) as one document, in one "
                        "prompt")
    p.add_argument("--page-by-page", action="store_true",
                   help="Unlimited-OCR: read each PDF page on its own (default: a PDF is one document)")


def grid_value(text: str) -> tuple[int, int]:
    """An argparse `type` for --grid: 'CxR' -> (cols, rows), a typo rejected by the parser (exit 2, one line)."""
    from ..preprocess.plan import parse_grid

    try:
        return parse_grid(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


grid_value.__name__ = "grid"


def add_grid_option(p: argparse.ArgumentParser) -> None:
    """--grid CxR (plan, ocr): force a tile grid instead of the official choice."""
    p.add_argument("--grid", type=grid_value, default=None, metavar="CxR",
                   help="force a grid of C columns and R rows, e.g. 3x2 (not the official tiling)")


def pages_value(text: str) -> str:
    """An argparse `type` for --pages: the ranges are read when the command line is (a typo, page 0 or a
    range that runs backwards is exit 2 before any work); pages past a PDF's end are found per PDF."""
    from ..preprocess.pdf import parse_page_spec

    try:
        parse_page_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


pages_value.__name__ = "pages"


def add_pdf_options(p: argparse.ArgumentParser) -> None:
    """--pages and --dpi (plan, ocr): which PDF pages, rendered at what resolution."""
    from ..preprocess.pdf import DEFAULT_DPI

    p.add_argument("--pages", type=pages_value, default=None, help="PDF pages, e.g. 1-3,5 (default all)")
    p.add_argument("--dpi", type=number(int, 36, 1200), default=DEFAULT_DPI,
                   help=f"PDF render resolution, 36-1200 (default {DEFAULT_DPI})")
