"""PDF pages as images (pypdfium2), with page-range parsing and clear errors for bad PDFs.

Every pdfium object (document, page, bitmap) is closed as soon as it is done with, and pdfium calls are
serialised by one lock (pdfium is not thread-safe), so the app's worker thread and its GUI thread may both
open PDFs.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image

from .images import ImageError
from .source import tag_image

DEFAULT_DPI = 144
MAX_PIXELS = 80_000_000  # a page larger than this at the chosen dpi is rendered at a lower dpi

_LOCK = threading.RLock()


class InputError(ImageError):
    """An input (PDF, folder, page range) that cannot be used; the message names it and says what to do.
    A ValueError (through ImageError)."""


def _pages_word(n: int) -> str:
    return f"{n} page" if n == 1 else f"{n} pages"


def parse_page_spec(spec: str | None) -> list[tuple[int, int | None]] | None:
    """'1-3,5,7-' -> [(1, 3), (5, 5), (7, None)]: the ranges asked for, 1-based, None for "to the last page";
    None for every page (None, '', 'all' or '*'). Raises InputError for text that names no pages whatever
    the PDF: a typo, page 0, a range that runs backwards. Checked when the command line is read."""
    text = "" if spec is None else str(spec).strip().lower()
    if text in ("", "all", "*"):
        return None
    ranges: list[tuple[int, int | None]] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            raise InputError(f"page range {spec!r}: empty entry; use pages like 1-3,5")
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if not m or not (m.group(1) or m.group(3)) or (not m.group(2) and not m.group(1)):
            raise InputError(f"page range {spec!r}: cannot read {part!r}; use pages like 1-3,5")
        first = int(m.group(1)) if m.group(1) else 1
        last = (int(m.group(3)) if m.group(3) else None) if m.group(2) else first
        for p in (first, last):
            if p is not None and p < 1:
                raise InputError(f"page range {spec!r}: page {p} does not exist: pages are numbered from 1")
        if last is not None and last < first:
            raise InputError(f"page range {spec!r}: {part!r} runs backwards; use {last}-{first}")
        ranges.append((first, last))
    return ranges


def parse_page_ranges(spec: str | None, n_pages: int) -> list[int]:
    """'1-3,5' -> [0, 1, 2, 4]: 1-based pages and ranges in, 0-based indices out, in the order given, each
    page once. 'N-' runs to the last page, '-N' from the first; None, '', 'all' or '*' mean every page."""
    if n_pages < 1:
        raise InputError(f"page range {spec!r}: the PDF has no pages; check the file")
    ranges = parse_page_spec(spec)
    if ranges is None:
        return list(range(n_pages))
    pages: list[int] = []
    seen: set[int] = set()
    for first, last in ranges:
        last = n_pages if last is None else last
        for p in (first, last):
            if p > n_pages:
                raise InputError(f"page range {spec!r}: page {p} does not exist: the PDF has {_pages_word(n_pages)}; "
                                 f"choose pages from 1 to {n_pages}")
        for p in range(first - 1, last):
            if p not in seen:
                seen.add(p)
                pages.append(p)
    return pages


def _open(path: str | os.PathLike, password: str | None = None):
    """An open pdfium document (the caller closes it), or InputError naming the file and the problem."""
    import pypdfium2 as pdfium

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a PDF; choose a PDF file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; check the file's permissions")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); it is not a readable PDF: re-export or re-download it")
    with _LOCK:
        try:
            doc = pdfium.PdfDocument(str(path), password=password)
        except pdfium.PdfiumError as e:
            msg = str(e).lower()
            # pdfium's last-error code can be stale (left by an earlier document, e.g. a password error before
            # an empty PDF): trust "password" only when the file has an /Encrypt dictionary
            if "password" in msg and _has_encrypt_dict(path):
                if password:
                    raise InputError(f"{path}: the password for this encrypted PDF is wrong; "
                                     f"supply the right password") from None
                raise InputError(f"{path}: the PDF is encrypted (a password is required to open it); "
                                 f"remove the password or supply it") from None
            if "security" in msg:
                raise InputError(f"{path}: the PDF uses an unsupported encryption scheme ({e}); "
                                 f"remove the encryption (save an unprotected copy)") from None
            if _has_empty_page_tree(path):  # pdfium refuses to load a document without pages
                raise InputError(f"{path}: the PDF has no pages; check that this is the right file") from None
            detail = "" if "success" in msg else f" ({e})"
            raise InputError(f"{path}: not a readable PDF{detail}; the file is damaged or not a PDF: re-export or "
                             "re-download it") from None
        except OSError as e:
            raise InputError(f"{path}: cannot be read ({e.strerror or e}); "
                             f"check the file and its permissions") from None
        try:
            count = len(doc)
        except Exception:  # noqa: BLE001 - a damaged page tree
            doc.close()
            raise InputError(f"{path}: not a readable PDF (damaged page tree); re-export or re-download it") from None
        if count == 0:
            doc.close()
            raise InputError(f"{path}: the PDF has no pages; check that this is the right file")
    return doc


_ENCRYPT_RE = re.compile(rb"/Encrypt(?![a-zA-Z])")


def _has_encrypt_dict(path: Path) -> bool:
    """True when the file's trailer names an /Encrypt dictionary (trailers are never compressed)."""
    try:
        with open(path, "rb") as f:
            tail = b""
            while block := f.read(1 << 20):
                if _ENCRYPT_RE.search(tail + block):
                    return True
                tail = block[-16:]
    except OSError:
        return True  # cannot tell: keep pdfium's word
    return False


_EMPTY_TREE_RE = re.compile(rb"/Count\s+0(?![\d.])")
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _has_empty_page_tree(path: Path) -> bool:
    """True when the (unreadable to pdfium) file looks like a PDF whose page tree is empty: a `/Count 0`
    and no page object. Only chooses the wording of the error; compressed object streams are not looked into."""
    try:
        with open(path, "rb") as f:
            data = f.read(4 << 20)
    except OSError:
        return False
    return data.startswith(b"%PDF-") and bool(_EMPTY_TREE_RE.search(data)) and not _PAGE_RE.search(data)


def pdf_page_count(path: str | os.PathLike, password: str | None = None) -> int:
    """The number of pages of the PDF at `path` (InputError for a damaged, encrypted or empty PDF)."""
    doc = _open(path, password)
    with _LOCK:
        try:
            return len(doc)
        finally:
            doc.close()


def _render_page(doc, index: int, dpi: float, path=None) -> Image.Image:
    """Page `index` as an RGB image, tagged with its index and visible size in points (`source.py`)."""
    with _LOCK:
        page = doc[index]
        try:
            w_pt, h_pt = page.get_size()
            scale = dpi / 72
            if w_pt * h_pt * scale * scale > MAX_PIXELS:  # a poster-sized page: keep the bitmap bounded
                scale = (MAX_PIXELS / max(w_pt * h_pt, 1.0)) ** 0.5
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
            try:
                img = bitmap.to_pil().convert("RGB")  # convert copies out of pdfium's buffer
                tag_image(img, path, index, (w_pt, h_pt))
                return img
            finally:
                bitmap.close()
        finally:
            page.close()


def render_pdf_pages(path: str | os.PathLike, pages: Sequence[int] | str | None = None, dpi: float = DEFAULT_DPI,
                     password: str | None = None) -> Iterator[tuple[int, Image.Image]]:
    """Yield (0-based page index, RGB image) for the chosen pages, rendered at `dpi` on white.

    `pages`: 0-based indices, a 1-based range string such as '1-3,5' (see `parse_page_ranges`), or None for
    every page. The document is closed when the iteration ends, fails or is abandoned."""
    if dpi <= 0:
        raise InputError(f"{path}: dpi must be positive (got {dpi}); use a dpi such as 144")
    doc = _open(path, password)
    try:
        n = len(doc)
        if pages is None or isinstance(pages, str):
            indices = parse_page_ranges(pages, n)
        else:
            indices = [int(i) for i in pages]
            bad = [i for i in indices if not 0 <= i < n]
            if bad:
                raise InputError(f"{path}: page {bad[0] + 1} does not exist: the PDF has {_pages_word(n)}; "
                                 f"choose pages from 1 to {n}")
        for i in indices:
            try:
                img = _render_page(doc, i, dpi, path)
            except Exception as e:  # noqa: BLE001 - pdfium raises plain errors for damaged pages
                raise InputError(f"{path}: page {i + 1} cannot be rendered ({e}); the page is damaged; "
                                 f"try other pages or re-export the PDF") from None
            yield i, img
    finally:
        with _LOCK:
            doc.close()


def page_jpeg(path: str | os.PathLike, index: int, password: str | None = None) -> bytes | None:
    """The JPEG bytes of a scanned page, as stored in the PDF: when page `index` (0-based) shows exactly one
    DCT-encoded RGB or grey image, upright and covering the whole page, and nothing else. None otherwise (and
    for any problem: the caller then uses the rendered page)."""
    import pypdfium2.raw as pdfium_c

    try:
        doc = _open(path, password)
    except ImageError:
        return None
    with _LOCK:
        try:
            page = doc[index]
            try:
                if page.get_rotation() % 360:
                    return None
                objs = list(page.get_objects(max_depth=1))
                if len(objs) != 1 or objs[0].type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
                    return None
                img = objs[0]
                a, b, c, d, _, _ = img.get_matrix().get()
                if img.get_filters() != ["DCTDecode"] or abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
                    return None
                if img.get_metadata().colorspace not in (pdfium_c.FPDF_COLORSPACE_DEVICERGB,
                                                         pdfium_c.FPDF_COLORSPACE_DEVICEGRAY):
                    return None
                box = page.get_cropbox()
                if any(abs(u - v) > 1.0 for u, v in zip(img.get_bounds(), box)):
                    return None
                return bytes(img.get_data(decode_simple=False))
            finally:
                page.close()
        except Exception:  # noqa: BLE001 - a damaged page: fall back to the rendered image
            return None
        finally:
            doc.close()
