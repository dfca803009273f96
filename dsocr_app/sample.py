"""A generated document page (title, paragraphs, a table, a figure): for tests, demos and the README screenshot.

Drawn with PIL alone, so every machine renders the same layout without shipping an image file.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

WORDS = ("the model reads each tile of the page and the global view before it writes markdown with tables "
         "figures and headings so a long invoice report or paper keeps its layout local private offline fast "
         "token grid cost preview region export clipboard queue stream cancel").split()


def _font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    names = ("DejaVuSans-Bold.ttf", "Arial Bold.ttf") if bold else ("DejaVuSans.ttf", "Arial.ttf")
    for name in names:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def document_page(width: int = 1240, height: int = 1754, seed: int = 0, title: str = "Quarterly Report") -> Image.Image:
    """An RGB page of `width` x `height` pixels that looks like a scanned document."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (252, 251, 248))
    d = ImageDraw.Draw(img)
    s = width / 1240
    margin = int(90 * s)
    y = int(100 * s)
    d.text((margin, y), title, fill=(20, 20, 20), font=_font(int(56 * s), bold=True))
    y += int(100 * s)
    body = _font(int(24 * s))
    line_h = int(36 * s)

    def paragraph(lines: int) -> None:
        nonlocal y
        for i in range(lines):
            n = rng.randint(9, 12) if i < lines - 1 else rng.randint(4, 8)
            words = " ".join(rng.choice(WORDS) for _ in range(n))
            d.text((margin, y), words.capitalize() if i == 0 else words, fill=(30, 30, 30), font=body)
            y += line_h
        y += int(24 * s)

    def heading(text: str) -> None:
        nonlocal y
        d.text((margin, y), text, fill=(20, 20, 20), font=_font(int(34 * s), bold=True))
        y += int(62 * s)

    heading("1. Summary")
    paragraph(5)
    heading("2. Figures")
    # a table
    cols, rows = 4, 5
    tw, rh = width - 2 * margin, int(46 * s)
    cw = tw // cols
    for r in range(rows + 1):
        d.line([(margin, y + r * rh), (margin + cw * cols, y + r * rh)], fill=(60, 60, 60), width=max(1, int(2 * s)))
    for c in range(cols + 1):
        d.line([(margin + c * cw, y), (margin + c * cw, y + rows * rh)], fill=(60, 60, 60), width=max(1, int(2 * s)))
    header = ("Item", "Q1", "Q2", "Total")
    for r in range(rows):
        for c in range(cols):
            text = header[c] if r == 0 else (f"Line {r}" if c == 0 else f"{rng.randint(10, 999)}.{rng.randint(0, 99):02d}")
            d.text((margin + c * cw + int(12 * s), y + r * rh + int(10 * s)), text, fill=(25, 25, 25),
                   font=_font(int(22 * s), bold=(r == 0)))
    y += rows * rh + int(50 * s)
    paragraph(3)
    # a figure: a small bar chart
    heading("3. Chart")
    fx0, fy0, fx1, fy1 = margin, y, width - margin, min(height - int(300 * s), y + int(320 * s))
    if fy1 - fy0 < 40:  # a short page: no room for the chart
        return img
    d.rectangle([fx0, fy0, fx1, fy1], outline=(90, 90, 90), width=max(1, int(2 * s)))
    n = 8
    bw = (fx1 - fx0) / (n * 1.5 + 0.5)
    for i in range(n):
        bx = fx0 + bw * (0.5 + 1.5 * i)
        bh = rng.uniform(0.2, 0.9) * (fy1 - fy0 - 20)
        d.rectangle([bx, fy1 - 10 - bh, bx + bw, fy1 - 10], fill=(70 + 20 * i, 110, 170))
    y = fy1 + int(40 * s)
    paragraph(max(0, min(5, (height - y - int(120 * s)) // line_h)))
    d.text((width // 2 - int(20 * s), height - int(70 * s)), "- 1 -", fill=(80, 80, 80), font=body)
    return img
