"""Build `engine/outputs/glyphless.ttf`, the invisible text layer's font, with fontTools (test extra).

The font has two glyphs without outlines (`.notdef` and glyph 1), both half an em wide, ascent one em and
descent zero: the searchable PDF maps every character to glyph 1 (CIDToGIDMap) and sets the widths itself.
It plays the role of Tesseract's / OCRmyPDF's `pdf.ttf` ("GlyphLessFont"). Timestamps are fixed, so the
build is reproducible: `tests/test_searchable_pdf.py` checks that the shipped file equals this build.

Regenerate: `python tests/glyphless_font.py`.
"""

from __future__ import annotations

import io
from pathlib import Path

FONT_PATH = Path(__file__).resolve().parents[1] / "engine" / "outputs" / "glyphless.ttf"


def build() -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "glyph1"])
    fb.setupCharacterMap({0x20: "glyph1"})
    empty = TTGlyphPen(None).glyph()
    fb.setupGlyf({".notdef": empty, "glyph1": empty})
    fb.setupHorizontalMetrics({".notdef": (500, 0), "glyph1": (500, 0)})
    fb.setupHorizontalHeader(ascent=1000, descent=0)
    fb.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular",
                       "uniqueFontIdentifier": "DSOCR GlyphLessFont", "fullName": "GlyphLessFont",
                       "psName": "GlyphLessFont", "version": "Version 1.0"})
    fb.setupOS2(sTypoAscender=1000, sTypoDescender=0, sTypoLineGap=0, usWinAscent=1000, usWinDescent=0,
                achVendID="NONE")
    fb.setupPost()
    fb.updateHead(created=0, modified=0)
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


if __name__ == "__main__":
    FONT_PATH.write_bytes(build())
    print(f"wrote {FONT_PATH} ({FONT_PATH.stat().st_size} bytes)")
