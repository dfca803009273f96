"""PDF input: page ranges, rendering, and clear errors for damaged, encrypted and empty PDFs."""

import pytest
from PIL import Image

from engine.preprocess.inputs import expand_inputs
from engine.preprocess.pdf import InputError, parse_page_ranges, pdf_page_count, render_pdf_pages


@pytest.fixture
def pdf(tmp_path):
    pages = [Image.new("RGB", (300 + 10 * i, 400), (255, 255 - 40 * i, 255)) for i in range(4)]
    path = tmp_path / "report.pdf"
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


def test_page_ranges():
    assert parse_page_ranges("1-3,5", 6) == [0, 1, 2, 4]
    assert parse_page_ranges(None, 3) == [0, 1, 2]
    assert parse_page_ranges("2-", 4) == [1, 2, 3]
    assert parse_page_ranges("3,1-2,3", 4) == [2, 0, 1]
    with pytest.raises(InputError, match="page 9 does not exist: the PDF has 4 pages"):
        parse_page_ranges("1,9", 4)
    with pytest.raises(InputError, match="cannot read"):
        parse_page_ranges("a-b", 4)
    with pytest.raises(InputError):
        parse_page_ranges("0", 4)


def test_render_chosen_pages(pdf):
    assert pdf_page_count(pdf) == 4
    pages = list(render_pdf_pages(pdf, "2,4", dpi=144))
    assert [i for i, _ in pages] == [1, 3]
    assert pages[0][1].size == (620, 800) and pages[0][1].mode == "RGB"  # 310x400 pt at 2x
    items = expand_inputs([pdf], pages="1-2")
    assert [(it.page, it.stem) for it in items] == [(0, "report-p001"), (1, "report-p002")]
    assert items[1].load().size == (620, 800)


def test_bad_pdfs(tmp_path, pdf):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n garbage garbage")
    with pytest.raises(InputError, match="corrupt.pdf: not a readable PDF"):
        pdf_page_count(corrupt)
    with pytest.raises(InputError, match="no such file"):
        pdf_page_count(tmp_path / "missing.pdf")
    (item,) = expand_inputs([corrupt])
    assert item.error and "not a readable PDF" in item.error


def test_encrypted_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf", reason="pypdf writes the encrypted test PDF")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    with pytest.raises(InputError, match="encrypted"):
        pdf_page_count(path)
