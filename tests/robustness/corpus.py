"""Generators of bad inputs and of unusual but valid images, written on the fly (no binaries committed).

`bad_inputs(folder)` returns {case name: (path, words the message must contain)}: every path must be
refused with one clear line that names it. `unusual_images(folder)` returns {case name: path} of images that
are valid and must plan and run exactly as the official pipeline loads them:
`Image.open -> ImageOps.exif_transpose -> convert("RGB")`.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps


def page(w: int = 420, h: int = 560, seed: int = 0) -> Image.Image:
    """A small generated document page (text lines on white)."""
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    for i in range(max(1, h // 60)):
        d.text((12, 12 + 50 * i), f"Line {i} of page {seed}: total 12{i}5 EUR", fill="black")
    return img


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares `width` x `height` RGB pixels, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(encoded(Image.new("RGB", (4, 4)), "BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def noisy(size=(320, 240)) -> Image.Image:
    """Incompressible pixels, so that half of an encoded file really is half of its data."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def damaged_png_chunk() -> bytes:
    """A PNG whose IDAT chunk has ten bytes overwritten (the CRC no longer matches, the zlib stream breaks)."""
    data = bytearray(encoded(noisy(), "PNG"))
    i = data.find(b"IDAT")
    data[i + 40:i + 50] = b"\x00" * 10
    return bytes(data)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("scan.png", encoded(page(), "PNG"))
    return buf.getvalue()


def heic_bytes() -> bytes:
    """The start of a HEIC file (ftyp box, brand heic); Pillow has no HEIC decoder without a plugin."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 200


def pdf_pages(path: Path, n: int = 2) -> Path:
    pages = [page(300, 400, i) for i in range(n)]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


def encrypted_pdf(path: Path) -> Path:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    with open(path, "wb") as f:
        writer.write(f)
    return path


def empty_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree holds no pages."""
    import pypdf

    with open(path, "wb") as f:
        pypdf.PdfWriter().write(f)
    return path


# case -> (file name, bytes maker, words the message must contain)
BAD_FILES = {
    "zero-byte file": ("empty.png", lambda: b"", "empty (0 bytes)"),
    "text named .png": ("notes.png", lambda: b"Meeting notes\nnot an image at all\n", "text file"),
    "HTML named .jpg": ("page.jpg", lambda: b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
    "zip named .png": ("archive.png", zip_bytes, "zip archive"),
    "truncated PNG": ("cut.png", lambda: encoded(noisy(), "PNG")[:6000], "truncated or damaged"),
    "truncated JPEG": ("cut.jpg", lambda: encoded(noisy(), "JPEG")[:3000], "truncated or damaged"),
    "truncated WebP": ("cut.webp", lambda: encoded(noisy(), "WEBP")[:3000], "truncated or damaged"),
    "truncated TIFF": ("cut.tif", lambda: encoded(noisy(), "TIFF")[:6000], "truncated or damaged"),
    "PNG with a damaged chunk": ("chunk.png", damaged_png_chunk, "damaged"),
    "PNG bomb 100000x100000": ("bomb.png", lambda: png_declaring(100_000, 100_000), "decompression bomb"),
    "BMP bomb 100000x100000": ("bomb.bmp", lambda: bmp_declaring(100_000, 100_000), "decompression bomb"),
    "image over 150 megapixels": ("big.png", lambda: png_declaring(13_000, 12_000), "13000x12000 pixels"),
    "zero-width PNG": ("zero-width.png", lambda: png_declaring(0, 10), "empty image (0x10 pixels)"),
    # with a HEIC plugin (pillow-heif) registered, these bytes are a damaged HEIC instead
    "HEIC without a plugin": ("photo.heic", heic_bytes,
                              "HEIC" if ".heic" not in Image.registered_extensions() else "damaged"),
    "corrupt PDF": ("corrupt.pdf", lambda: b"%PDF-1.4\n1 0 obj garbage\n%%EOF", "not a readable PDF"),
}


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Write every bad input into `folder`; {case: (path, words its message contains)}."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for case, (name, make, words) in BAD_FILES.items():
        path = folder / name
        path.write_bytes(make())
        out[case] = (path, words)
    out["encrypted PDF"] = (encrypted_pdf(folder / "locked.pdf"), "is encrypted")
    out["PDF with zero pages"] = (empty_pdf(folder / "no-pages.pdf"), "no pages")
    (folder / "folder.png").mkdir(exist_ok=True)
    out["folder named like an image"] = (folder / "folder.png", "folder")
    out["path that does not exist"] = (folder / "missing.png", "no such file")
    return out


def exif_rotated(path: Path, orientation: int = 6, size=(360, 120)) -> Path:
    """A JPEG stored `size` wide whose EXIF orientation shows it rotated (6: 90 degrees clockwise)."""
    img = page(*size)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", exif=exif, quality=95)
    return path


def unusual_images(folder: Path) -> dict[str, Path]:
    """Valid images in unusual modes, orientations, frame counts and sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    base = page(240, 180)
    out: dict[str, Path] = {}

    def save(name, img, **kw):
        out[name] = folder / name
        img.save(out[name], **kw)

    save("cmyk.jpg", base.convert("CMYK"), quality=95)
    save("cmyk.tif", base.convert("CMYK"))
    grey16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    save("gray16.png", Image.fromarray(grey16))  # mode I;16: values above 255 clip, as the official code sees them
    save("float.tif", Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 2))  # mode F
    save("bilevel.png", base.convert("1"))
    save("bilevel.tif", base.convert("1"), compression="group4")
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("palette-transparent.png", pal, transparency=0)
    save("la.png", base.convert("LA"))
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    save("rgba.png", rgba)
    out["exif-rotated.jpg"] = exif_rotated(folder / "exif-rotated.jpg")
    out["exif-mirrored.jpg"] = exif_rotated(folder / "exif-mirrored.jpg", orientation=2)
    frames = [page(200, 150, i) for i in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = folder / "animated.gif"
    frames[0].save(folder / "pages.tif", save_all=True, append_images=frames[1:])
    out["pages.tif"] = folder / "pages.tif"
    save("one-pixel.png", Image.new("RGB", (1, 1), (10, 20, 30)))
    save("1x20000.png", Image.new("L", (1, 20000), 200))
    save("20000x1.png", Image.new("L", (20000, 1), 200))
    return out


def official_load(path) -> Image.Image:
    """How the official DeepSeek-OCR code loads an image (load_image in its process utilities)."""
    img = Image.open(path)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - the official code falls back to the plain image
        pass
    return img.convert("RGB")


# A message says what to do: one of these verbs follows the reason.
ADVICE = re.compile(r"\b(check|re-export|re-download|download|choose|convert|remove|scale|save|extract|open|"
                    r"give|use|connect|supply|try|install)\b", re.IGNORECASE)


def assert_clear(message: str, name) -> None:
    """One line, no traceback, names the input (`name`), and advises what to do."""
    assert message, "empty message"
    lines = message.strip().splitlines()
    assert len(lines) == 1, f"not one line: {message!r}"
    assert "Traceback" not in message and 'File "' not in message, message
    assert str(name) in message, f"{name} not named in: {message}"
    assert ADVICE.search(message), f"no advice in: {message}"
