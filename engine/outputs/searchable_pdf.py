"""Searchable PDF: each page's image as it was, with the recognised text invisible on top where it stands.

A page is the page image (a PDF input's page at the original page's size; an image input at its DPI, 72 if
it records none) and a text layer drawn in render mode 3 (invisible) in a glyph-less font, the way
Tesseract and OCRmyPDF make their PDFs: a Type0 font with 2-byte codes that are the characters' Unicode
values, a ToUnicode map that says so for every code used (characters outside the BMP get codes from
the surrogate range, which text never uses, each mapped to its UTF-16 pair), every code drawn with the
font's one empty glyph (`glyphless.ttf`, built by `tests/glyphless_font.py`), half an em wide (a full em for
East Asian wide characters, as in a monospaced CJK font). So every script extracts as it was recognised, and
viewers select and search it like any text.

Where the text goes: each grounding region's text (markup removed: `plain_text`) goes into its box, one PDF
text line per line of text, scaled horizontally (`Tz`) to the line's share of the box width. A paragraph the
model wrote as one line is wrapped into as many lines as its box probably holds (estimated from the box's
shape and the amount of text), so selection follows the printed lines. Tables (one line per row, cells
separated by spaces) and equations (their LaTeX source) stay plain text in reading order; image regions get
no text. A stretched line stretches its other characters only, its spaces stay half an em wide
(`line_scale`): extractors that read by layout (`pdftotext`'s default mode) then read each table row as one
line, in order, instead of taking wide spaces for column gaps and mixing the rows. Results without
grounding, and results whose text was edited after the run (the boxes then no longer match it), put their
text over the whole page in reading order, long lines wrapped to the page.

Images are embedded without re-encoding where the input allows: a JPEG file's own bytes (DCTDecode, placed
through its EXIF orientation), a scanned PDF page's own JPEG; anything else losslessly (Flate with PNG
predictors, from Pillow's PNG encoder; greyscale pages as one channel).

`text_layer_pdf` is the same text layer alone, a one-page PDF without the image, which OCRmyPDF grafts onto
the page it keeps (`engine/integrations/ocrmypdf.py`).

Library: pikepdf (qpdf) builds the objects and writes the file; `pikepdf.canvas.ContentStreamBuilder` writes
the content streams, so no PDF syntax is written by hand except the ToUnicode CMap (a text resource PDF
defines). pypdfium2, already used to render PDFs, has no API for Type0 fonts with a custom ToUnicode map,
text render modes or horizontal scaling; pikepdf has all of them and is what OCRmyPDF itself builds on.
"""

from __future__ import annotations

import io
import math
import os
import struct
import textwrap
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..preprocess.source import PageSource, page_source
from .files import ExportError, atomic_write
from .markdown import clean_markdown, plain_text

FONT_FILE = Path(__file__).with_name("glyphless.ttf")
FONT_NAME = "GlyphLessFont"
FONT_KEY = "/F0"  # the font's name in a page's resources
HALF_EM = 500  # glyph width of a narrow character, in 1/1000 em
MAX_PAGE_PT = 14400.0  # the largest page side viewers accept (200 inches)
WHOLE_PAGE_MARGIN = 0.05  # text over the whole page keeps this share of the page width/height free
WHOLE_PAGE_MAX_LINES = 50  # ... and uses lines no taller than 1/50 of the page
LINE_ASPECT = 2.4  # line height / width of a narrow character (1.2 line spacing, half-em characters)
_SURROGATES = (0xD800, 0xE000)  # codes for characters outside the BMP are taken from this range


# ---- text: what goes where ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """Text for one area of the page: `box` in image pixels (x0, y0, x1, y1), None for the whole page;
    `label` the grounding label; `lines` the lines of plain text."""

    box: tuple[float, float, float, float] | None
    label: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TextLine:
    """One line of the text layer in PDF points: baseline start (x, y), font size, horizontal scale (%), and
    `space_kern`: how much narrower than its scaled width each space is drawn (thousandths of an em, a TJ
    adjustment; 0 for a line that is not stretched). See `line_scale`."""

    x: float
    y: float
    size: float
    scale: float
    text: str
    space_kern: float = 0.0


def line_scale(text: str, width: float, size: float) -> tuple[float, float]:
    """(horizontal scale in %, space kern) that make `text` at font `size` exactly `width` points wide.

    Only the other characters are stretched: a space stays at most half an em wide, as in unstretched text.
    `pdftotext` (default mode) takes a gap much wider than the font size for a column gap; stretched spaces
    (a table row or a short equation across a wide box: 2-3x and more) split a row into pieces that it read
    mixed with the next rows' pieces. Narrow spaces keep each line one line of words, read in order
    (`tests/test_searchable_pdf_tables.py` checks it with pdftotext and pdfminer)."""
    units, spaces = _units(text), text.count(" ")
    half = HALF_EM / 1000 * size  # a narrow character (and a space) at 100%
    th = width / max(units * half, 1e-9)
    if th <= 1 or spaces == units:
        return 100.0 * th, 0.0
    th = (width - spaces * half) / ((units - spaces) * half)  # spaces at 100%, the rest stretched to fill
    return 100.0 * th, HALF_EM * (1 - 1 / th)  # TJ: a space advances (500 - kern) / 1000 em * th


def _lines(markdown: str) -> tuple[str, ...]:
    text = plain_text(clean_markdown(markdown)[0])
    return tuple(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _squash(text: str) -> str:
    return "".join(text.split())


def text_blocks(result) -> list[Block]:
    """The page's text as blocks in reading order: one per grounding region with text (image regions
    without text are skipped), or one whole-page block when the result has no boxes or its text no longer
    matches them (edited)."""
    whole = _lines(result.text)
    regions = [r for r in getattr(result, "regions", None) or [] if r.boxes]
    blocks = []
    for r in regions:
        lines = _lines(r.text)
        if not lines:
            continue
        xs0, ys0, xs1, ys1 = zip(*(b.rect for b in r.boxes))
        blocks.append(Block((min(xs0), min(ys0), max(xs1), max(ys1)), r.label, lines))
    boxed = _squash("".join("".join(b.lines) for b in blocks))
    if not blocks or boxed != _squash("".join(whole)):
        return [Block(None, "", whole)] if whole else []
    return blocks


def _units(text: str) -> int:
    """Width of `text` in half ems: East Asian wide and fullwidth characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(line: str, n: int) -> list[str]:
    """`line` in about `n` lines of similar length: at spaces, or anywhere in text without spaces (CJK)."""
    if n <= 1 or len(line) < 2:
        return [line]
    width = max(1, math.ceil(len(line) / n))
    spaced = " " in line
    out = textwrap.wrap(line, width, break_long_words=not spaced, break_on_hyphens=False)
    return out or [line]


def _visual_lines(block: Block, box_w: float, box_h: float) -> list[str]:
    """The block's lines as they probably stand in the box: paragraphs wrapped to the box's shape."""
    lines = list(block.lines)
    if block.label in ("table", "equation") or box_w <= 0 or box_h <= 0:
        return lines
    units = [_units(s) for s in lines]
    total = sum(units)
    # k lines of total/k half-em characters fill w x h when (total/k) * c = w and k * LINE_ASPECT * c = h
    k = round(math.sqrt(box_h * total / (LINE_ASPECT * box_w)))
    if k <= len(lines):
        return lines
    out = []
    for s, u in zip(lines, units):
        out += _wrap(s, max(1, round(k * u / total)))
    return out


def layout(blocks: list[Block], image_size: tuple[int, int], page_size: tuple[float, float]) -> list[TextLine]:
    """Text lines in PDF points (origin bottom left) for `blocks` on a page of `page_size` points showing
    an image of `image_size` pixels. Each block's lines share its box's height equally; a line's width is
    its share of the box width by character count (the longest line spans the box)."""
    img_w, img_h = image_size
    page_w, page_h = page_size
    sx, sy = page_w / max(img_w, 1), page_h / max(img_h, 1)
    out: list[TextLine] = []
    for block in blocks:
        if block.box is None:  # lines of at most the page width at the tallest line height, top down
            mx, my = page_w * WHOLE_PAGE_MARGIN, page_h * WHOLE_PAGE_MARGIN
            left, top, width = mx, page_h - my, page_w - 2 * mx
            line_h = page_h / WHOLE_PAGE_MAX_LINES
            per_line = max(1, int(width / (HALF_EM / 1000 * line_h)))
            lines = [w for s in block.lines for w in _wrap(s, math.ceil(_units(s) / per_line))]
            line_h = min((page_h - 2 * my) / len(lines), line_h)
        else:
            x0, y0, x1, y1 = block.box
            left, top, width = x0 * sx, page_h - y0 * sy, max((x1 - x0) * sx, 1e-3)
            height = max((y1 - y0) * sy, 1e-3)
            lines = _visual_lines(block, width, height)
            line_h = height / len(lines)
        widest = max(_units(s) for s in lines)
        for i, s in enumerate(lines):
            scale, kern = line_scale(s, width * _units(s) / widest, line_h)
            out.append(TextLine(left, top - (i + 1) * line_h, line_h, scale, s, kern))
    return out


# ---- the glyph-less font ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _wide_ranges() -> list[tuple[int, int]]:
    """BMP code ranges of East Asian wide / fullwidth characters (drawn a full em wide)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x10000):
        if _SURROGATES[0] <= cp < _SURROGATES[1] or unicodedata.east_asian_width(chr(cp)) not in "WF":
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


class GlyphlessFont:
    """The text layer's font in one PDF: `encode` turns text into its codes; `finish` writes the widths of
    the characters outside the BMP and the ToUnicode map of every code encoded (call it before saving)."""

    def __init__(self, pdf):
        import pikepdf

        self._pdf = pdf
        self._extra: dict[str, int] = {}  # non-BMP character -> its code in the surrogate range
        self._used: set[int] = set()  # BMP codes encoded (each maps to itself)
        ttf = FONT_FILE.read_bytes()
        descriptor = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name(f"/{FONT_NAME}"), Flags=5,
            FontBBox=[0, 0, HALF_EM, 1000], ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000, StemV=80,
            FontFile2=pikepdf.Stream(pdf, ttf, Length1=len(ttf))))
        cid_to_gid = pikepdf.Stream(pdf, b"\x00\x01" * 0x10000)  # every code -> glyph 1 (empty)
        self._cid = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2, BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
            CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                             Supplement=0),
            FontDescriptor=descriptor, DW=HALF_EM, CIDToGIDMap=cid_to_gid))
        self.font = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
            Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[self._cid]))

    def encode(self, text: str) -> bytes:
        """2-byte codes: the character's value in the BMP, a surrogate-range code for other characters
        (U+FFFD once that range is used up); control characters and lone surrogates are dropped."""
        codes = []
        for c in text:
            cp = ord(c)
            if cp < 0x20 or 0x7F <= cp < 0xA0 or _SURROGATES[0] <= cp < _SURROGATES[1]:
                continue
            if cp >= 0x10000:
                if c not in self._extra and len(self._extra) < _SURROGATES[1] - _SURROGATES[0]:
                    self._extra[c] = _SURROGATES[0] + len(self._extra)
                cp = self._extra.get(c, 0xFFFD)
            if not _SURROGATES[0] <= cp < _SURROGATES[1]:
                self._used.add(cp)
            codes.append(cp)
        return struct.pack(f">{len(codes)}H", *codes)

    def finish(self) -> None:
        import pikepdf

        widths: list = []
        for first, last in _wide_ranges():
            widths += [first, last, 2 * HALF_EM]
        for c, code in self._extra.items():
            if unicodedata.east_asian_width(c) in "WF":
                widths += [code, code, 2 * HALF_EM]
        self._cid.W = pikepdf.Array(widths)
        self.font.ToUnicode = pikepdf.Stream(self._pdf, to_unicode_cmap(self._extra, self._used))


def to_unicode_cmap(extra: dict[str, int], used=()) -> bytes:
    """The ToUnicode CMap: each BMP code in `used` maps to itself, each code in `extra` (character -> code)
    to its character's UTF-16 pair; one `bfchar` entry per code (100 to a section, the format's limit).
    Not ranges of 256 codes: Ghostscript 10.0's pdfwrite, which OCRmyPDF runs to make PDF/A, misreads them
    and garbles every character above U+00FF (`tests/test_ocrmypdf_plugin.py` checks the text through it)."""
    chars = [f"<{code:04X}> <{code:04X}>" for code in sorted(used)]
    chars += [f"<{code:04X}> <{c.encode('utf-16-be').hex().upper()}>" for c, code in extra.items()]
    body = []
    for start in range(0, len(chars), 100):
        part = chars[start:start + 100]
        body += [f"{len(part)} beginbfchar", *part, "endbfchar"]
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange", *body,
        "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end", ""]).encode("ascii")


# ---- the page image --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageImage:
    """An image ready to embed: encoded `data` with its `filter` and `decode_parms`, pixel size as stored,
    colour space, and `orientation` (EXIF, 1 = upright) to place it by."""

    data: bytes
    filter: str
    width: int
    height: int
    gray: bool
    decode_parms: dict | None = None
    orientation: int = 1


def _jpeg(data: bytes, orientation: int | None = None) -> PageImage | None:
    """`data` as a passthrough JPEG, if it is a baseline/progressive RGB or grey JPEG."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG" or im.mode not in ("RGB", "L"):
                return None
            if orientation is None:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            return PageImage(data, "/DCTDecode", im.width, im.height, im.mode == "L",
                             orientation=orientation if 1 <= orientation <= 8 else 1)
    except Exception:  # noqa: BLE001 - not a readable JPEG: re-encode the pixels instead
        return None


def _lossless(img) -> PageImage:
    """Pillow's PNG encoding (zlib with PNG predictors) of `img`, taken out of the PNG as a Flate stream."""
    import numpy as np

    a = np.asarray(img.convert("RGB"))
    gray = bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())
    img = img.convert("L" if gray else "RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)
    png = buf.getvalue()
    pos, idat = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat.append(png[pos + 8:pos + 8 + length])
        pos += 12 + length
    parms = {"Predictor": 15, "Colors": 1 if gray else 3, "BitsPerComponent": 8, "Columns": img.width}
    return PageImage(b"".join(idat), "/FlateDecode", img.width, img.height, gray, parms)


def page_image(result, source: PageSource) -> PageImage:
    """How to embed the result's page image: the input's own JPEG when it has one that shows the same
    pixels, the pixels losslessly otherwise."""
    image = result.image
    if source.path is not None and source.page is not None:  # a PDF page: its own scan, if a JPEG
        from ..preprocess.pdf import page_jpeg

        data = page_jpeg(source.path, source.page)
        jpeg = _jpeg(data, orientation=1) if data else None
        if jpeg is not None:
            return jpeg
    elif source.path is not None:
        try:
            data = Path(source.path).read_bytes()
        except OSError:
            data = b""
        jpeg = _jpeg(data) if data[:3] == b"\xff\xd8\xff" else None
        if jpeg is not None:
            shown = (jpeg.height, jpeg.width) if jpeg.orientation >= 5 else (jpeg.width, jpeg.height)
            if shown == tuple(image.size):
                return jpeg
    return _lossless(image)


def placement(orientation: int, width: float, height: float) -> tuple[float, ...]:
    """The `cm` matrix that draws an image stored with EXIF `orientation` upright in width x height points.
    PDF draws the image's unit square: u runs along a stored row, v from the stored bottom row (0) to the
    top row (1)."""
    w, h = width, height
    return {
        1: (w, 0, 0, h, 0, 0),
        2: (-w, 0, 0, h, w, 0),  # mirrored left-right
        3: (-w, 0, 0, -h, w, h),  # rotated 180
        4: (w, 0, 0, -h, 0, h),  # mirrored top-bottom
        5: (0, -h, -w, 0, w, h),  # transposed
        6: (0, -h, w, 0, 0, h),  # shown turned 90 degrees clockwise
        7: (0, h, w, 0, 0, 0),  # transversed
        8: (0, h, -w, 0, w, 0),  # shown turned 90 degrees counter-clockwise
    }.get(orientation, (w, 0, 0, h, 0, 0))


def page_size(result, source: PageSource) -> tuple[float, float]:
    """The page in points: a PDF input's page size; an image at its DPI (72 if unknown), shrunk to fit
    the largest page viewers accept."""
    if source.page_size is not None:
        w, h = source.page_size
    else:
        dx, dy = source.dpi or (72.0, 72.0)
        iw, ih = result.image.size
        w, h = iw * 72.0 / dx, ih * 72.0 / dy
    shrink = min(1.0, MAX_PAGE_PT / max(w, h))
    return (w * shrink, h * shrink)


# ---- the text layer ---------------------------------------------------------------------------------------

def _num(v: float) -> float:
    return round(float(v), 3)


def write_text_layer(cs, font: GlyphlessFont, lines: list[TextLine], font_key: str = FONT_KEY) -> None:
    """Append `lines` to the content stream builder `cs` as invisible text (render mode 3) in `font`, which
    the page's resources name `font_key`. A stretched line is shown word by word, each space followed by
    its kern (`line_scale`), so its spaces stay narrow."""
    import pikepdf

    if not lines:
        return
    cs.begin_text().set_text_rendering(3)
    for line in lines:
        cs.set_text_font(pikepdf.Name(font_key), _num(line.size))
        cs.set_text_horizontal_scaling(_num(line.scale))
        cs.set_text_matrix(pikepdf.Matrix(1, 0, 0, 1, _num(line.x), _num(line.y)))
        if line.space_kern:
            words = line.text.split(" ")
            parts: list = []
            for k, word in enumerate(words):
                parts.append(font.encode(word + (" " if k < len(words) - 1 else "")))
                if k < len(words) - 1:
                    parts.append(_num(line.space_kern))
            cs.show_text_with_kerning(*[p for p in parts if p != b""])
        else:
            cs.show_text(font.encode(line.text))
    cs.end_text()


def text_layer_pdf(result, page_size: tuple[float, float] | None = None, font_key: str = FONT_KEY) -> bytes:
    """A one-page PDF holding only the result's invisible text layer, laid out as `SearchablePdf.add` lays it
    out, without the image: what an OCR engine hands OCRmyPDF to graft onto the page it keeps (its sandwich
    renderer). The page is `page_size` points (default: the size `SearchablePdf` gives the result's page);
    `font_key`: the font's name in the page resources."""
    import pikepdf
    from pikepdf.canvas import ContentStreamBuilder

    if getattr(result, "image", None) is None:
        raise ExportError("a text layer needs the page image's size, and this result has none; "
                          "run the OCR again on the page")
    w, h = page_size or page_size_of(result)
    pdf = pikepdf.new()
    font = GlyphlessFont(pdf)
    cs = ContentStreamBuilder()
    write_text_layer(cs, font, layout(text_blocks(result), result.image.size, (w, h)), font_key)
    font.finish()
    page = pdf.add_blank_page(page_size=(_num(w), _num(h)))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary({font_key: font.font}))
    page.Contents = pikepdf.Stream(pdf, cs.build())
    pdf.docinfo[pikepdf.Name.Producer] = "DSOCR"
    buf = io.BytesIO()
    pdf.save(buf, deterministic_id=True)
    return buf.getvalue()


def page_size_of(result) -> tuple[float, float]:
    """The result's page in points, as `SearchablePdf` sizes it (`page_size` of its recorded source)."""
    return page_size(result, page_source(result.image))


# ---- the document ----------------------------------------------------------------------------------------


class SearchablePdf:
    """A searchable PDF built page by page: `add(result)` for each page in order, then `save(path)` or
    `to_bytes()`. Pages hold their encoded images only, so long documents need little memory."""

    def __init__(self):
        import pikepdf

        self._pikepdf = pikepdf
        self._pdf = pikepdf.new()
        self._font = GlyphlessFont(self._pdf)
        self._finished = False
        self._sources: list = []  # documents whose pages `add_pdf_page` copied, open until the save

    def __len__(self) -> int:
        return len(self._pdf.pages)

    def add(self, result) -> None:
        """Append the result's page (its image and its text). Raises ExportError for a result without an
        image (nothing to show)."""
        pikepdf = self._pikepdf
        from pikepdf.canvas import ContentStreamBuilder

        if self._finished:
            raise RuntimeError("this searchable PDF was already written")
        if getattr(result, "image", None) is None:
            raise ExportError("a searchable PDF needs the page image, and this result has none; "
                              "run the OCR again on the page")
        source = page_source(result.image)
        w, h = page_size(result, source)
        pim = page_image(result, source)
        xobject = pikepdf.Stream(self._pdf, b"")
        xobject.write(pim.data, filter=pikepdf.Name(pim.filter),
                      decode_parms=pikepdf.Dictionary(**pim.decode_parms) if pim.decode_parms else None,
                      type_check=False)
        xobject.Type, xobject.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        xobject.Width, xobject.Height, xobject.BitsPerComponent = pim.width, pim.height, 8
        xobject.ColorSpace = pikepdf.Name.DeviceGray if pim.gray else pikepdf.Name.DeviceRGB

        cs = ContentStreamBuilder()
        cs.push().cm(pikepdf.Matrix(*(_num(v) for v in placement(pim.orientation, w, h))))
        cs.draw_xobject(pikepdf.Name.Im0).pop()
        write_text_layer(cs, self._font, layout(text_blocks(result), result.image.size, (w, h)))
        page = self._pdf.add_blank_page(page_size=(_num(w), _num(h)))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject),
                                            Font=pikepdf.Dictionary({FONT_KEY: self._font.font}))
        page.Contents = pikepdf.Stream(self._pdf, cs.build())

    def add_pdf_page(self, path: str | os.PathLike) -> None:
        """Append the one page of a searchable PDF written earlier (by `export_searchable_pdf` for a single
        result): how a run that was stopped hands its finished pages to the run that completes the document.
        Raises ExportError when the file is missing or damaged."""
        if self._finished:
            raise RuntimeError("this searchable PDF was already written")
        try:
            src = self._pikepdf.open(io.BytesIO(Path(path).read_bytes()))
            if len(src.pages) != 1:
                raise ValueError(f"it has {len(src.pages)} pages, not 1")
            self._pdf.pages.append(src.pages[0])  # copies the page's objects (its image, text and font)
        except (OSError, ValueError, self._pikepdf.PdfError) as e:
            raise ExportError(f"{path}: a page kept by an earlier run cannot be read ({e}); run again with "
                              "--overwrite to redo the document") from None
        self._sources.append(src)  # pikepdf copies stream data when the document is saved

    def to_bytes(self) -> bytes:
        """The finished PDF (no more pages can be added)."""
        if not self._finished:
            self._font.finish()
            self._pdf.docinfo[self._pikepdf.Name.Producer] = "DSOCR"
            self._finished = True
        buf = io.BytesIO()
        self._pdf.save(buf, deterministic_id=True)
        return buf.getvalue()

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the PDF to `path` atomically (never replacing a file without `overwrite`)."""
        if not len(self):
            raise ExportError(f"{path}: no pages to write")
        return atomic_write(path, self.to_bytes(), overwrite)


def pdf_documents(pages, source_of) -> list[tuple[object, list]]:
    """The rule of every multi-page export: one searchable PDF per input file, its pages in the order given.
    Returns (source, pages) per document, in the order the sources first appear; `source_of(page)` is the
    page's input file, None for a page of its own (a pasted image), which makes a document alone. Its
    name: `export.output_stem(source)`."""
    documents: dict[object, tuple[object, list]] = {}
    for k, page in enumerate(pages):
        source = source_of(page)
        documents.setdefault(source if source is not None else ("alone", k), (source, []))[1].append(page)
    return list(documents.values())


def export_searchable_pdf(path: str | os.PathLike, results, overwrite: bool = False) -> Path:
    """Write the results, one page each and in order, as one searchable PDF at `path`."""
    doc = SearchablePdf()
    for result in results:
        doc.add(result)
    return doc.save(path, overwrite)

