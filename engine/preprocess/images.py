"""Open an image the way the official pipeline does (EXIF transpose, then RGB), with clear errors.

One loader serves planning, preprocessing, the CLI and the app, so a broken file is reported before any
model work and a valid one is planned at its visible (EXIF-rotated) size. Animated images and multi-page
TIFFs use their first frame, as `Image.open` does in the official code.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .source import tag_image

# Largest image we decode: 150 megapixels (e.g. 12247 x 12247, or an A0 scan at 600 dpi). Larger files are
# refused before decoding: they would take gigabytes of memory and the model sees at most 9 tiles anyway.
MAX_PIXELS = 150_000_000

ImageSource = str | os.PathLike | bytes | Image.Image


class ImageError(ValueError):
    """An input that is not a usable image. The message names the input and says what to do."""


def _describe(source) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"image data ({len(source)} bytes)"
    if isinstance(source, Image.Image):
        return "image"
    return str(source)


# Signatures of the formats Pillow reads here: a file that starts like one but still cannot be identified
# has a damaged header (or declares an empty image, which Pillow refuses).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)
_SUPPORTED = "PNG, JPEG, WebP, TIFF, BMP, GIF"


def _sniff(path: Path) -> str:
    """Why a file that Pillow does not identify is not an image, and what to do (one clause)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "the file is empty (0 bytes); re-export or re-download it"
    if head.startswith(b"%PDF"):
        return "it is a PDF: open it as a PDF (pages are rendered one by one)"
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive; extract the images first"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<svg")):
        return "it is an HTML/XML text file; save the image itself"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc", b"ftypavif"):
        return "it is a HEIC/AVIF image, which this build cannot decode: convert it to PNG or JPEG"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "it is a WebP file with a damaged header; re-export or re-download it"
    for magic, fmt in _SIGNATURES:
        if head.startswith(magic):
            if fmt == "PNG" and head[12:16] == b"IHDR":
                w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
                if w == 0 or h == 0:
                    return f"the PNG declares an empty image ({w}x{h} pixels); re-export it"
            return f"it starts like a {fmt} file but its header is damaged; re-export or re-download it"
    try:
        head.decode("utf-8")
        return "it is a text file; choose an image or PDF file"
    except UnicodeDecodeError:
        return f"its format is not recognised (supported: {_SUPPORTED}, PDF); convert it to PNG or JPEG"


def special_file(path: Path) -> str | None:
    """Why an existing path that is neither a regular file nor a folder cannot be read as an input (reading a
    named pipe would wait forever), as one clause; None for a regular file or a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or unreadable: the caller's own checks say so
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    return f"is {kind}, not a regular file; give an image or PDF file (or a folder of them)"


def _bomb_message(name: str, error: Exception, max_pixels: int) -> str:
    m = re.search(r"\((\d+) pixels\)", str(error))
    declared = f"declares {int(m.group(1)) / 1e6:,.0f} megapixels" if m else "is far too large"
    return (f"{name}: the image {declared}, more than the {max_pixels // 1_000_000} megapixel limit "
            "(a possible decompression bomb); scale it down first")


def _open_lazy(source: ImageSource, max_pixels: int) -> tuple[str, Image.Image]:
    """(name, opened image with only its header read), or ImageError with a one-line reason."""
    name = _describe(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            fp = io.BytesIO(source)
        else:
            path = Path(source)
            try:
                exists, is_dir = path.exists(), path.is_dir()
            except PermissionError:
                raise ImageError(f"{name}: permission denied; check the permissions of its folder") from None
            if not exists:
                raise ImageError(f"{name}: no such file; check the path")
            if is_dir:
                raise ImageError(f"{name}: is a folder, not an image; choose an image file inside it")
            special = special_file(path)
            if special:
                raise ImageError(f"{name}: {special}")
            if not os.access(path, os.R_OK):
                raise ImageError(f"{name}: permission denied; check the file's permissions")
            fp = path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
                img = Image.open(fp)
        except Image.DecompressionBombError as e:
            raise ImageError(_bomb_message(name, e, max_pixels)) from None
        except UnidentifiedImageError:
            if isinstance(fp, Path):
                try:
                    reason = _sniff(fp)
                except OSError:
                    reason = f"its format is not recognised (supported: {_SUPPORTED})"
                raise ImageError(f"{name}: not an image: {reason}") from None
            raise ImageError(f"{name}: not a recognised image format (supported: {_SUPPORTED})") from None
        except PermissionError:
            raise ImageError(f"{name}: permission denied; check the file's permissions") from None
        except OSError as e:
            reason = e.strerror or str(e) or type(e).__name__
            raise ImageError(f"{name}: the file is truncated or damaged ({reason}); re-export or re-download it") \
                from None
    w, h = img.size
    problem = None
    if w <= 0 or h <= 0:
        problem = f"{name}: the image is empty ({w}x{h} pixels); re-export it"
    elif w * h > max_pixels:
        problem = (f"{name}: the image is {w}x{h} pixels, more than the {max_pixels // 1_000_000} "
                   "megapixel limit; scale it down first")
    if problem:
        if img is not source:
            img.close()
        raise ImageError(problem)
    return name, img


def check_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> None:
    """Raise ImageError (as `open_image` would) when `source` is not an image, reading only its header."""
    _name, img = _open_lazy(source, max_pixels)
    if img is not source:
        img.close()


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Return the image as RGB at its visible orientation, or raise ImageError with a one-line reason."""
    name, img = _open_lazy(source, max_pixels)
    try:
        img.load()
        try:
            visible = ImageOps.exif_transpose(img)  # the official code falls back to the plain image on error
        except Exception:  # noqa: BLE001 - a damaged EXIF block must not reject a readable image
            visible = img
        out = visible.convert("RGB")
        if not isinstance(source, (bytes, bytearray, Image.Image)):
            tag_image(out, source)
        return out
    except Image.DecompressionBombError as e:
        raise ImageError(_bomb_message(name, e, max_pixels)) from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode this image; scale it down first") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        reason = str(e) or type(e).__name__
        if "truncated" in reason or "broken data stream" in reason or isinstance(e, SyntaxError):
            raise ImageError(f"{name}: the file is truncated or damaged ({reason}); re-export or re-download it") from None
        raise ImageError(f"{name}: the image data is damaged ({reason}); re-export or re-download it") from None
    finally:
        if img is not source:
            img.close()  # the RGB copy returned holds its own pixels; release the file now


def image_size(source: ImageSource) -> tuple[int, int]:
    """Visible (width, height) of an image, decoded with the same loader the OCR path uses."""
    return open_image(source).size
