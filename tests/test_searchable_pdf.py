"""Searchable PDF export: the text layer read back by two independent extractors (pypdf, pdfminer.six), the
page images rendered back (pypdfium2), the CLI's `--format pdf`, all built from real DeepSeek-OCR outputs
(tests/data/searchable_pdf, see SOURCES.md)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pypdf
import pypdfium2 as pdfium
import pytest
from pdfminer.high_level import extract_pages
from pdfminer.layout import LTChar, LTPage
from PIL import Image, ImageDraw

import engine
from engine.cli.main import main
from engine.outputs import searchable_pdf as sp
from engine.outputs.markdown import plain_text

DATA = Path(__file__).parent / "data" / "searchable_pdf"
MATH = (DATA / "math_tables_de.raw.md").read_text(encoding="utf-8")
FIGURE = (DATA / "figure_math_de.raw.md").read_text(encoding="utf-8")
FREE_ZH = (DATA / "free_ocr_zh.raw.md").read_text(encoding="utf-8")


def result_from_raw(raw: str, image) -> engine.Result:
    """A real engine.Result for raw model output on `image`, as the pipeline builds it, without a model."""
    text, figures = engine.clean_markdown(raw, image_size=image.size)
    return engine.Result(text=text.strip(), raw_text=raw, plan=engine.plan(image.size, "v1"),
                         regions=engine.parse_grounding(raw, image.size), prompt="", prompt_tokens=0,
                         generated_tokens=0, encode_s=0.0, prefill_s=0.0, decode_tokens_per_s=0.0, elapsed_s=0.0,
                         peak_memory_mb=0.0, stop_reason="eos", model="test", figures=figures, image=image)


def squash(text: str) -> str:
    return "".join(text.split())


def page_image(tmp_path, size=(1240, 1754), dpi=150, name="page.png"):
    """A page image file (drawn lines, so it is not blank) opened the way the OCR path opens it."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    for y in range(100, size[1] - 100, 37):
        d.line((120, y, size[0] - 120, y), fill=(20, 20, 90), width=3)
    path = tmp_path / name
    img.save(path, dpi=(dpi, dpi))
    return engine.open_image(path)


def chars(pdf: bytes) -> list[list[LTChar]]:
    """pdfminer's characters, page by page."""
    def walk(obj):
        if isinstance(obj, LTChar):
            yield obj
        elif hasattr(obj, "__iter__"):
            for child in obj:
                yield from walk(child)

    pages = list(extract_pages(io.BytesIO(pdf)))
    assert all(isinstance(p, LTPage) for p in pages)
    return [list(walk(p)) for p in pages]


def text_of(found: list[LTChar]) -> str:
    """The characters read line by line (top to bottom, left to right), whitespace removed."""
    return squash("".join(c.get_text() for c in sorted(found, key=lambda c: (-round(c.y0, 1), c.x0))))


def pypdf_text(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def box_pt(box, image_size, page_size):
    """A pixel box (x0, y0, x1, y1, top-left origin) in PDF points (bottom-left origin)."""
    sx, sy = page_size[0] / image_size[0], page_size[1] / image_size[1]
    x0, y0, x1, y1 = box
    return x0 * sx, page_size[1] - y1 * sy, x1 * sx, page_size[1] - y0 * sy


def inside(c: LTChar, box, tol=0.5) -> bool:
    cx, cy = (c.x0 + c.x1) / 2, (c.y0 + c.y1) / 2
    return box[0] - tol <= cx <= box[2] + tol and box[1] - tol <= cy <= box[3] + tol


def test_the_shipped_font_is_the_reproducible_build():
    sys.path.insert(0, str(Path(__file__).parent))
    import glyphless_font

    assert glyphless_font.build() == sp.FONT_FILE.read_bytes()


def test_grounded_math_page_text_and_positions(tmp_path):
    img = page_image(tmp_path)
    result = result_from_raw(MATH, img)
    path = engine.export_result(result, tmp_path / "out", "math", "pdf")[0]
    pdf = path.read_bytes()
    # page size from the image's DPI
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    w, h = float(page.mediabox.width), float(page.mediabox.height)
    assert (w, h) == pytest.approx((1240 * 72 / 150, 1754 * 72 / 150), abs=0.01)
    # the text, as two independent extractors read it, is the result's plain text
    (text,) = pypdf_text(pdf)
    assert squash(text) == squash(plain_text(result.text))
    assert "E(X)=-\\frac{2}{8}" in squash(text) and "Linearitätssatz" in text
    # every region's text lies in its box, lines filling the box from its top-left corner to its bottom
    (found,) = chars(pdf)  # pdfminer orders text by its own layout analysis: compare the characters
    assert sorted(squash("".join(c.get_text() for c in found))) == sorted(squash(plain_text(result.text)))
    for region in result.regions:
        box = box_pt(region.boxes[0].rect, img.size, (w, h))
        mine = [c for c in found if inside(c, box)]
        assert text_of(mine) == squash(plain_text(engine.clean_markdown(region.text)[0]))
        assert min(c.x0 for c in mine) == pytest.approx(box[0], abs=1.0)
        assert max(c.x1 for c in mine) == pytest.approx(box[2], abs=1.0)  # the longest line spans the box
        assert max(c.y1 for c in mine) == pytest.approx(box[3], abs=1.0)
        assert min(c.y0 for c in mine) == pytest.approx(box[1], abs=1.0)


def test_paragraphs_are_wrapped_into_the_lines_of_their_box(tmp_path):
    img = page_image(tmp_path)
    result = result_from_raw(MATH, img)
    (region,) = [r for r in result.regions if r.text.startswith("- Sie kennen")]
    (block,) = [b for b in sp.text_blocks(result) if b.lines[0].startswith("- Sie kennen")]
    x0, y0, x1, y1 = block.box
    lines = sp._visual_lines(block, x1 - x0, y1 - y0)
    assert len(lines) == 2 and " ".join(lines) == block.lines[0]  # the printed page shows it on two lines
    # tables keep one line per row, equations their lines
    (table,) = [b for b in sp.text_blocks(result) if b.label == "table" and b.lines[0].startswith("xi -1")]
    assert table.lines == ("xi -1 0 1 2 3", "f(xi) 0,1 0,3 0,4 0,15 0,05")


def test_image_regions_get_no_text(tmp_path):
    img = page_image(tmp_path)
    result = result_from_raw(FIGURE, img)
    pdf = engine.export_result(result, tmp_path, "fig", "pdf")[0].read_bytes()
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    size = (float(page.mediabox.width), float(page.mediabox.height))
    (found,) = chars(pdf)
    (figure,) = [r for r in result.regions if r.label == "image"]
    fig_box = box_pt(figure.boxes[0].rect, img.size, size)
    assert found and not [c for c in found if inside(c, fig_box, tol=-1.0)]
    assert squash(pypdf_text(pdf)[0]) == squash(plain_text(result.text))


def test_cjk_and_math_symbols_extract_as_written(tmp_path):
    # constructed from real snippets (free_ocr_zh, math_tables_de) plus characters outside the BMP
    raw = ("<|ref|>title<|/ref|><|det|>[[100, 50, 900, 90]]<|/det|>\n# 第一条 民事主体 ∑ x_i² ≤ ∞\n\n"
           "<|ref|>text<|/ref|><|det|>[[100, 120, 900, 300]]<|/det|>\n"
           "民事主体在民事活动中的法律地位一律平等。\\(𝑥 ∈ 𝔸\\) α→β ∀ε>0 ∃δ 😀 ｱｲｳ 한국어\n\n")
    img = page_image(tmp_path)
    result = result_from_raw(raw, img)
    pdf = engine.export_result(result, tmp_path, "zh", "pdf")[0].read_bytes()
    want = squash(plain_text(result.text))
    assert "𝔸" in want and "民事" in want
    assert squash(pypdf_text(pdf)[0]) == want
    (found,) = chars(pdf)
    assert text_of(found) == want
    # the title line: wide characters take a full em, so it spans its box
    title = box_pt(result.regions[0].boxes[0].rect, img.size, sp.page_size(result, result.source))
    mine = [c for c in found if inside(c, title)]
    assert min(c.x0 for c in mine) == pytest.approx(title[0], abs=1) and max(c.x1 for c in mine) == pytest.approx(title[2], abs=1)


def test_free_ocr_text_covers_the_whole_page(tmp_path):
    img = page_image(tmp_path, size=(1000, 1400), dpi=0)  # no usable DPI: 72
    result = result_from_raw(FREE_ZH, img)
    assert result.regions == [] and result.source.dpi is None
    pdf = engine.export_result(result, tmp_path, "free", "pdf")[0].read_bytes()
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (1000, 1400)
    assert squash(pypdf_text(pdf)[0]) == squash(plain_text(result.text))
    (found,) = chars(pdf)
    assert text_of(found) == squash(plain_text(result.text))  # top to bottom is reading order
    # lines of 28 pt (1/50 of the page) from the top margin, none wider than the page inside its margins
    assert min(c.x0 for c in found) == pytest.approx(50, abs=1) and max(c.x1 for c in found) <= 950 + 1
    tops = sorted({round(c.y1, 1) for c in found}, reverse=True)
    assert tops[0] == pytest.approx(1400 - 70, abs=1) and tops[0] - tops[1] == pytest.approx(28, abs=0.1)
    longest = max(len(s) for s in plain_text(result.text).split("\n"))
    assert longest * 28 > 900 and len(tops) > len([s for s in plain_text(result.text).split("\n") if s.strip()])


def test_edited_text_goes_over_the_whole_page(tmp_path):
    img = page_image(tmp_path)
    result = result_from_raw(MATH, img)
    result.text = "An edited result\n\nwhose boxes no longer match"
    (block,) = sp.text_blocks(result)
    assert block.box is None and block.lines == ("An edited result", "whose boxes no longer match")
    pdf = engine.export_result(result, tmp_path, "edited", "pdf")[0].read_bytes()
    assert squash(pypdf_text(pdf)[0]) == squash(result.text)


def _render(pdf: bytes, index: int, scale: float) -> np.ndarray:
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[index]
        bitmap = page.render(scale=scale)
        arr = np.asarray(bitmap.to_pil().convert("RGB"), dtype=np.int16)
        bitmap.close()
        page.close()
        return arr
    finally:
        doc.close()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_input_is_embedded_as_is_and_shown_upright(tmp_path, orientation):
    base = Image.new("RGB", (300, 200), "white")
    d = ImageDraw.Draw(base)
    d.rectangle((10, 10, 120, 60), fill=(200, 30, 30))  # asymmetric: a red block top-left, a blue bar right
    d.rectangle((250, 20, 290, 190), fill=(30, 30, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo{orientation}.jpg"
    base.save(path, quality=95, exif=exif.tobytes())
    visible = engine.open_image(path)
    result = result_from_raw("<|ref|>text<|/ref|><|det|>[[10, 10, 500, 200]]<|/det|>\nHello\n", visible)
    pdf = engine.export_result(result, tmp_path, "photo", "pdf")[0].read_bytes()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        (xobj,) = doc.pages[0].Resources.XObject.values()
        assert xobj.Filter == "/DCTDecode" and xobj.read_raw_bytes() == path.read_bytes()
        assert [float(v) for v in doc.pages[0].mediabox] == [0, 0, *visible.size]
    shown = _render(pdf, 0, 1.0)
    assert shown.shape[:2] == (visible.height, visible.width)
    assert np.abs(shown - np.asarray(visible, dtype=np.int16)).mean() < 3


def _vector_pdf(path: Path) -> None:
    """A one-page PDF with drawn (vector) content only, 300 x 400 pt."""
    from pikepdf.canvas import ContentStreamBuilder

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 400))
    cs = ContentStreamBuilder()
    cs.set_fill_color(0.8, 0.1, 0.1).append_rectangle(20, 300, 120, 60).fill()
    cs.set_fill_color(0.1, 0.1, 0.6).append_rectangle(200, 20, 40, 350).fill()
    page.Contents = pikepdf.Stream(pdf, cs.build())
    pdf.save(path)


def test_pdf_input_keeps_page_size_order_and_images(tmp_path):
    scans = [Image.new("RGB", (620, 877), (255, 255, 255 - 40 * i)) for i in range(2)]
    for i, s in enumerate(scans):
        ImageDraw.Draw(s).text((50, 50 + 100 * i), f"page {i + 1}", fill="black")
    scans[0].save(tmp_path / "scan.pdf", save_all=True, append_images=scans[1:], resolution=75)  # JPEG pages
    _vector_pdf(tmp_path / "drawn.pdf")
    doc = sp.SearchablePdf()
    sources = []
    for name in ("scan.pdf", "drawn.pdf"):
        for k, img in engine.render_pdf_pages(tmp_path / name, dpi=144):
            raw = f"<|ref|>text<|/ref|><|det|>[[100, 100, 600, 150]]<|/det|>\n{name} page {k + 1}\n"
            doc.add(result_from_raw(raw, img))
            sources.append((name, k, img))
    pdf = doc.to_bytes()
    assert pypdf_text(pdf) == [f"{name} page {k + 1}" for name, k, _ in sources]
    with pikepdf.open(io.BytesIO(pdf)) as out, pikepdf.open(tmp_path / "scan.pdf") as scan:
        assert len(out.pages) == 3
        for i in range(2):  # the scans' own JPEG bytes, at their page size
            assert [float(v) for v in out.pages[i].mediabox] == pytest.approx([float(v) for v in scan.pages[i].mediabox])
            (mine,) = out.pages[i].Resources.XObject.values()
            (theirs,) = scan.pages[i].Resources.XObject.values()
            assert mine.Filter == "/DCTDecode" and mine.read_raw_bytes() == theirs.read_raw_bytes()
        assert [float(v) for v in out.pages[2].mediabox] == [0, 0, 300, 400]
        (drawn,) = out.pages[2].Resources.XObject.values()
        assert drawn.Filter == "/FlateDecode"  # rendered page: lossless
    for i, (_, _, img) in enumerate(sources):  # rendered back at the same resolution: the same picture
        back = _render(pdf, i, 2.0)
        assert back.shape[:2] == (img.height, img.width)
        assert np.abs(back - np.asarray(img, dtype=np.int16)).mean() < (3 if i < 2 else 0.5)


def test_export_result_pdf_is_atomic_and_never_overwrites(tmp_path):
    img = page_image(tmp_path)
    result = result_from_raw(MATH, img)
    (path,) = engine.export_result(result, tmp_path / "d", "scan", "pdf")
    assert path == tmp_path / "d" / "scan.pdf" and len(pypdf.PdfReader(path).pages) == 1
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        engine.export_result(result, tmp_path / "d", "scan", "pdf")
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["scan.pdf"]
    engine.export_result(result, tmp_path / "d", "scan", "pdf", overwrite=True)
    with pytest.raises(ValueError, match="not a text format"):
        engine.outputs.export.render(result, "pdf")


def test_result_without_image_is_a_clear_error(tmp_path):
    result = result_from_raw(MATH, page_image(tmp_path))
    result.image = None
    with pytest.raises(engine.ExportError, match="needs the page image"):
        engine.export_result(result, tmp_path, "x", "pdf")


# ---- the command line --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("spdf") / "v1", "v1", seed=2)


def test_cli_format_md_pdf_writes_one_pdf_per_input(tmp_path, model_dir, capsys):
    pages = [Image.new("RGB", (400, 500), (255, 255, 250 - 60 * i)) for i in range(3)]
    pages[0].save(tmp_path / "report.pdf", save_all=True, append_images=pages[1:], resolution=50)
    Image.new("RGB", (300, 200), "white").save(tmp_path / "scan.png", dpi=(100, 100))
    out = tmp_path / "d"
    args = ["ocr", str(tmp_path / "report.pdf"), str(tmp_path / "scan.png"), "--model", str(model_dir),
            "--max-tokens", "6", "--ngram", "0", "--mode", "tiny", "--out", str(out), "--format", "md,pdf",
            "--batch", "2"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["report-p001.md", "report-p002.md", "report-p003.md",
                                                      "report.pdf", "scan.md", "scan.pdf"]
    assert f"searchable PDF -> {out / 'report.pdf'}" in err and "Traceback" not in err
    report = pypdf.PdfReader(out / "report.pdf")
    assert len(report.pages) == 3
    assert [float(p.mediabox.width) for p in report.pages] == [576, 576, 576]  # 400 px at 50 dpi
    for k, page in enumerate(report.pages):  # each page carries its own result's text, in page order
        md = (out / f"report-p{k + 1:03d}.md").read_text()
        assert squash(page.extract_text()) == squash(plain_text(md))
    scan = pypdf.PdfReader(out / "scan.pdf").pages[0]
    assert (float(scan.mediabox.width), float(scan.mediabox.height)) == (216, 144)  # 300 x 200 px at 100 dpi
    # a second run skips the inputs whose PDF exists, all their pages, before any model work
    before = (out / "report.pdf").read_bytes()
    assert main(args[:-4] + ["--format", "pdf"]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped") == 5 and f"{out / 'report.pdf'} exists" in err
    assert (out / "report.pdf").read_bytes() == before
    # missing outputs are redone one file at a time: page 3's markdown is kept, the PDF made whole again
    page3 = (out / "report-p003.md").read_bytes()
    for name in ("report.pdf", "report-p001.md", "report-p002.md"):
        (out / name).unlink()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert (out / "report-p001.md").exists() and (out / "report-p003.md").read_bytes() == page3
    assert len(pypdf.PdfReader(out / "report.pdf").pages) == 3
    skipped = [line for line in err.splitlines() if line.startswith("dsocr: skipped ")]
    assert len(skipped) == 1 and skipped[0].startswith(f"dsocr: skipped {tmp_path / 'scan.png'}: ")
    # the input itself is never a target, even with --overwrite (exit 2 before any work); a PDF needs --out
    assert main(["ocr", str(tmp_path / "report.pdf"), "--model", str(model_dir), "--format", "pdf", "--out",
                 str(tmp_path), "--overwrite"]) == 2
    assert "would replace an input file" in capsys.readouterr().err
    assert len(pypdf.PdfReader(tmp_path / "report.pdf").pages) == 3
    assert main(["ocr", str(tmp_path / "scan.png"), "--model", str(model_dir), "--format", "md,pdf"]) == 2
    assert "add --out FOLDER" in capsys.readouterr().err


def test_cli_rejects_an_unknown_format(capsys):
    assert main(["ocr", "x.png", "--format", "md,docx"]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'docx'" in err and len(err.strip().splitlines()) == 1


def test_a_crop_keeps_its_physical_size_not_the_page(tmp_path):
    Image.new("RGB", (600, 800), "white").save(tmp_path / "one.pdf", resolution=100)  # 432 x 576 pt
    ((_, img),) = list(engine.render_pdf_pages(tmp_path / "one.pdf", dpi=144))
    assert img.size == (864, 1152) and img.info["dpi"] == pytest.approx((144, 144))
    full = result_from_raw("x", img).source
    assert full.page == 0 and full.page_size == pytest.approx((432, 576))
    crop = img.crop((0, 0, 288, 144))  # Pillow copies `info`: the page tag must not apply to the crop
    result = result_from_raw("<|ref|>text<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\nregion\n", crop)
    assert result.source.page is None and result.source.page_size is None
    assert sp.page_size(result, result.source) == pytest.approx((144, 72))  # 288 x 144 px at 144 dpi


def test_a_rotated_pdf_page_keeps_its_shown_orientation(tmp_path):
    Image.new("RGB", (600, 300), "white").save(tmp_path / "rot.pdf", resolution=72)
    with pikepdf.open(tmp_path / "rot.pdf", allow_overwriting_input=True) as doc:
        doc.pages[0].Rotate = 90
        doc.save(tmp_path / "rot.pdf")
    ((_, img),) = list(engine.render_pdf_pages(tmp_path / "rot.pdf", dpi=72))
    assert img.size == (300, 600)
    pdf = engine.export_result(result_from_raw("Rotated page", img), tmp_path, "out", "pdf")[0]
    with pikepdf.open(pdf) as doc:
        assert [float(v) for v in doc.pages[0].mediabox] == [0, 0, 300, 600] and "/Rotate" not in doc.pages[0]
        (xobj,) = doc.pages[0].Resources.XObject.values()
        assert xobj.Filter == "/FlateDecode"  # the scan's JPEG is stored sideways: the rendered page is used


def test_cli_a_pdf_that_cannot_be_written_fails_the_run(tmp_path, model_dir, capsys, monkeypatch):
    Image.new("RGB", (300, 200), "white").save(tmp_path / "scan.png")

    def full_disk(self, path, overwrite=False):
        raise engine.ExportError(f"{path}: write failed (No space left on device); check the disk and try again")

    monkeypatch.setattr(sp.SearchablePdf, "save", full_disk)
    rc = main(["ocr", str(tmp_path / "scan.png"), "--model", str(model_dir), "--max-tokens", "3", "--mode", "tiny",
               "--out", str(tmp_path / "d"), "--format", "md,pdf"])
    err = capsys.readouterr().err
    assert rc == 1 and "scan.pdf: write failed (No space left on device)" in err and "Traceback" not in err
    assert (tmp_path / "d" / "scan.md").exists()  # the other format is kept


def test_one_document_per_input_file_in_first_seen_order():
    from engine.outputs.searchable_pdf import pdf_documents

    pages = [("b.pdf", 1), ("a.png", 1), ("b.pdf", 2), (None, 1), ("a.png", 2), (None, 2)]
    docs = pdf_documents(pages, lambda p: p[0])
    assert [(src, [n for _, n in ps]) for src, ps in docs] == [
        ("b.pdf", [1, 2]), ("a.png", [1, 2]), (None, [1]), (None, [2])]  # a page without a file stands alone
