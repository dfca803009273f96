"""QR codes and barcodes (engine/outputs/codes.py): decoded with zxing-cpp from generated codes, and the rule
that says a region is mostly a code."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

import engine
from engine.outputs.codes import Code, _union_area

qrcode = pytest.importorskip("qrcode")
zxingcpp = pytest.importorskip("zxingcpp")

URL = "https://example.com/dsocr?q=1"


def qr_image(text: str = URL, box_size: int = 6) -> Image.Image:
    return qrcode.make(text, box_size=box_size, border=2).get_image().convert("RGB")


def on_page(code: Image.Image, size=(900, 700), at=(40, 30)) -> Image.Image:
    page = Image.new("RGB", size, "white")
    page.paste(code, at)
    ImageDraw.Draw(page).text((at[0] + code.width + 20, at[1]), "Scan to read the menu", fill="black")
    return page


def code(box, fmt="QR Code", text="x"):
    x0, y0, x1, y1 = box
    return Code(fmt, text, ((x0, y0), (x1 - 1, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)))


def test_a_generated_qr_code_is_read_with_its_corners():
    image = qr_image()
    codes = engine.read_codes(image)
    assert [(c.format, c.text) for c in codes] == [("QR Code", URL)]
    x0, y0, x1, y1 = codes[0].box
    assert 10 <= x0 <= 14 and 10 <= y0 <= 14 and image.width - 14 <= x1 <= image.width - 10  # inside the border
    assert codes[0].url == URL and codes[0].line() == f"QR Code: {URL}"
    assert engine.mostly_code(codes, image.size)
    assert Code.from_dict(codes[0].to_dict()) == codes[0]
    # the same pixels as an RGB ndarray, as grey, in a palette image: the same code
    for same in (np.asarray(image), np.asarray(image.convert("L")), image.convert("P")):
        assert [c.text for c in engine.read_codes(same)] == [URL]


@pytest.mark.parametrize("fmt, text", [("Code128", "DSOCR-12345"), ("EAN13", "4006381333931")])
def test_a_barcode_made_by_zxing_is_read(fmt, text):
    made = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    bars = Image.fromarray(np.asarray(made.to_image(scale=3, add_hrt=True)))
    codes = engine.read_codes(on_page(bars.convert("RGB"), size=(800, 400)))
    assert [c.text for c in codes] == [text] and codes[0].url == ""
    assert codes[0].format == {"Code128": "Code 128", "EAN13": "EAN-13"}[fmt]


def test_a_code_on_a_page_is_found_but_the_page_is_no_code():
    page = on_page(qr_image())
    codes = engine.read_codes(page)
    assert [c.text for c in codes] == [URL]
    assert not engine.mostly_code(codes, page.size)
    x0, y0, x1, y1 = codes[0].box
    assert engine.mostly_code(codes, (x1 + 10, y1 + 10))  # a region selected around the code only


def test_no_code_and_unreadable_images_give_none():
    assert engine.read_codes(Image.new("RGB", (300, 200), "white")) == []
    noise = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    assert engine.read_codes(noise) == []
    assert not engine.mostly_code([], (100, 100))


def test_mostly_code_rule():
    assert engine.MOSTLY_CODE == 0.4
    assert engine.mostly_code([code((0, 0, 64, 64))], (100, 100))  # 41%
    assert not engine.mostly_code([code((0, 0, 60, 60))], (100, 100))  # 36%: a code beside something else
    assert engine.mostly_code([code((10, 10, 90, 90))], (100, 100), share=0.64)
    assert not engine.mostly_code([code((10, 10, 90, 90))], (100, 100), share=0.65)
    # two codes side by side fill the region; overlapping ones are counted once
    assert engine.mostly_code([code((0, 0, 50, 100)), code((50, 0, 100, 100))], (100, 100), share=1.0)
    assert not engine.mostly_code([code((0, 0, 50, 80)), code((0, 0, 50, 80))], (100, 100), share=0.41)
    # a code partly outside the region counts only inside it; a degenerate region is never a code
    assert not engine.mostly_code([code((-100, -100, 60, 60))], (100, 100))
    assert not engine.mostly_code([code((0, 0, 10, 10))], (0, 10))


def test_union_area_counts_overlaps_once():
    assert _union_area([]) == 0
    assert _union_area([(0, 0, 10, 10)]) == 100
    assert _union_area([(0, 0, 10, 10), (5, 5, 15, 15)]) == 175
    assert _union_area([(0, 0, 10, 10), (2, 2, 4, 4)]) == 100
    assert _union_area([(0, 0, 10, 2), (0, 5, 10, 7), (3, 0, 4, 10)]) == 20 + 20 + 6


def test_code_urls():
    assert engine.code_url("https://a.b/c") == "https://a.b/c"
    assert engine.code_url("  www.example.org ") == "https://www.example.org"
    assert engine.code_url("HTTP://X.ORG") == "HTTP://X.ORG"
    for text in ("mailto:a@b.c", "see https://a.b", "4006381333931", "ftp://x", ""):
        assert engine.code_url(text) == ""
    assert code((0, 0, 1, 1), text="line one\nline two").line() == "QR Code: line one line two"
