"""Draw DSOCR's app icon, `resources/icon.png` (1024 x 1024), with Pillow alone.

A rounded page with text lines under a tile grid: the app's idea (see the tiles before reading). PyInstaller
turns the PNG into the macOS `.icns` at build time (Pillow installed); Linux needs no icon file format.
Run `python packaging/make_icon.py` to redraw it; the PNG is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 1024
OUT = Path(__file__).resolve().parent.parent / "resources" / "icon.png"


def draw(size: int = SIZE) -> Image.Image:
    s = size / 1024
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    # macOS icon grid: an 824 px rounded square centred in 1024, with a soft shadow
    shadow = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rounded_rectangle([100 * s, 112 * s, 924 * s, 936 * s], 185 * s, fill=(0, 0, 0, 90))
    img.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(14 * s)))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([100 * s, 100 * s, 924 * s, 924 * s], 185 * s, fill=(32, 74, 135, 255))
    # the page
    page = [262 * s, 190 * s, 762 * s, 834 * s]
    d.rounded_rectangle(page, 28 * s, fill=(250, 250, 246, 255))
    d.rectangle([320 * s, 250 * s, 600 * s, 292 * s], fill=(40, 40, 48, 255))  # title
    y = 340
    for width in (380, 330, 380, 260, 380, 350, 300, 380, 220):
        d.rounded_rectangle([320 * s, y * s, (320 + width) * s, (y + 22) * s], 11 * s, fill=(120, 124, 134, 255))
        y += 52
    # the tile grid over the page (2 x 3 tiles)
    grid = (255, 140, 0, 255)
    x0, y0, x1, y1 = page
    w = 12 * s
    d.rounded_rectangle(page, 28 * s, outline=grid, width=int(w))
    for i in (1,):
        x = x0 + (x1 - x0) * i / 2
        d.line([x, y0, x, y1], fill=grid, width=int(w))
    for j in (1, 2):
        y = y0 + (y1 - y0) * j / 3
        d.line([x0, y, x1, y], fill=grid, width=int(w))
    return img


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(out, optimize=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
