"""Open an image the way the official pipeline does (EXIF transpose, then RGB), with clear errors.

One loader serves planning, preprocessing, the CLI and the app, so a broken file is reported before any
model work and a valid one is planned at its visible (EXIF-rotated) size. Animated images and multi-page
TIFFs use their first frame, as `Image.open` does in the official code.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

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


def _sniff(path: Path) -> str:
    head = path.read_bytes()[:512] if path.stat().st_size else b""
    if not head:
        return "the file is empty (0 bytes)"
    if head.startswith(b"%PDF"):
        return "it is a PDF: open it as a PDF (pages are rendered one by one)"
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive, not an image"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<svg")):
        return "it is an HTML/XML text file, not an image"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc", b"ftypavif"):
        return "it is a HEIC/AVIF image, which this build cannot decode: convert it to PNG or JPEG"
    try:
        head.decode("utf-8")
        return "it is a text file, not an image"
    except UnicodeDecodeError:
        return "its format is not recognised (supported: PNG, JPEG, WebP, TIFF, BMP, GIF)"


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Return the image as RGB at its visible orientation, or raise ImageError with a one-line reason."""
    name = _describe(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            fp = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.exists():
                raise ImageError(f"{name}: no such file; check the path")
            if path.is_dir():
                raise ImageError(f"{name}: is a folder, not an image")
            if not os.access(path, os.R_OK):
                raise ImageError(f"{name}: permission denied; check the file's permissions")
            fp = path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
                img = Image.open(fp)
        except (UnidentifiedImageError, Image.DecompressionBombError) as e:
            if isinstance(e, UnidentifiedImageError) and isinstance(fp, Path):
                raise ImageError(f"{name}: not an image: {_sniff(fp)}") from None
            if isinstance(e, UnidentifiedImageError):
                raise ImageError(f"{name}: not a recognised image format") from None
            raise ImageError(f"{name}: the image is too large to open safely ({e}); "
                             f"the limit is {max_pixels // 1_000_000} megapixels") from None
        except OSError as e:
            raise ImageError(f"{name}: cannot be read ({e})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageError(f"{name}: the image is empty ({w}x{h} pixels)")
    if w * h > max_pixels:
        raise ImageError(f"{name}: the image is {w}x{h} pixels, more than the {max_pixels // 1_000_000} "
                         "megapixel limit; scale it down first")
    try:
        img.load()
        try:
            visible = ImageOps.exif_transpose(img)  # the official code falls back to the plain image on error
        except Exception:  # noqa: BLE001 - a damaged EXIF block must not reject a readable image
            visible = img
        return visible.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        reason = str(e) or type(e).__name__
        if "truncated" in reason or "broken data stream" in reason or isinstance(e, SyntaxError):
            raise ImageError(f"{name}: the file is truncated or damaged ({reason}); re-export or re-download it") from None
        raise ImageError(f"{name}: the image data is damaged ({reason})") from None


def image_size(source: ImageSource) -> tuple[int, int]:
    """Visible (width, height) of an image, decoded with the same loader the OCR path uses."""
    return open_image(source).size
