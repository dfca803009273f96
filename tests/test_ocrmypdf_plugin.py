"""The OCRmyPDF plugin (`engine.integrations.ocrmypdf`): `ocrmypdf` run as a real subprocess with a tiny
checkpoint, its output read back (pypdf, pdfminer) and compared with what the engine gives for the page image
OCRmyPDF rasterised; OCRmyPDF's API in-process with a grounded result (real DeepSeek-OCR output,
tests/data/searchable_pdf) to check the text lands where `--format pdf` puts it, in a PDF/A made without
Ghostscript and in one made by Ghostscript (skipped where `gs` is not installed)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ocrmypdf
import pikepdf
import pypdf
import pytest
from PIL import Image, ImageDraw

import engine
from engine.integrations import ocrmypdf as plugin
from engine.integrations import shared_model
from engine.outputs import searchable_pdf as sp
from engine.outputs.markdown import plain_text
from test_searchable_pdf import FREE_ZH, MATH, chars, page_image, result_from_raw, squash

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "samples" / "show1.jpg"
PLUGIN = "engine.integrations.ocrmypdf"
TINY_ARGS = ["--dsocr-mode", "tiny", "--dsocr-max-tokens", "12"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("ocrmypdf") / "tiny-v1", "v1", seed=2)


def ocrmypdf_cmd() -> list[str]:
    script = Path(sys.executable).with_name("ocrmypdf")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ocrmypdf"]


def run_ocrmypdf(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(work), "PYTHONPATH": str(ROOT)}
    return subprocess.run([*ocrmypdf_cmd(), "--plugin", PLUGIN, *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tmp_path)


def two_page_pdf(path: Path) -> list[tuple[float, float]]:
    """A scan (the sample photo, or a drawn page) and a drawn page, at 100 dpi; their sizes in points."""
    first = Image.open(SAMPLE).convert("RGB") if SAMPLE.exists() else Image.new("RGB", (600, 700), "white")
    first.thumbnail((600, 700))
    second = Image.new("RGB", (500, 400), "white")
    d = ImageDraw.Draw(second)
    for y in range(60, 360, 40):
        d.line((50, y, 450, y), fill=(30, 30, 30), width=4)
    first.save(path, save_all=True, append_images=[second], resolution=100)
    return [(im.width * 0.72, im.height * 0.72) for im in (first, second)]


def positions(pdf: bytes, page: int = 0) -> list[tuple[str, float, float]]:
    """(character, x0, y0) of every character pdfminer reads on `page`, rounded to 0.1 pt."""
    return sorted((c.get_text(), round(c.x0, 1), round(c.y0, 1)) for c in chars(pdf)[page])


def test_ocrmypdf_runs_dsocr_on_every_page_with_one_model(tmp_path, tiny_dir):
    sizes = two_page_pdf(tmp_path / "in.pdf")
    r = run_ocrmypdf(["--dsocr-model", str(tiny_dir), *TINY_ARGS, "--output-type", "pdf", "-j", "2", "-k",
                      "--sidecar", "out.txt", "in.pdf", "out.pdf"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert r.stderr.count("DSOCR: loaded") == 1  # two pages in two worker threads, one model
    out = (tmp_path / "out.pdf").read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(out))
    got = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert [v for size in got for v in size] == pytest.approx([v for size in sizes for v in size])
    # what the engine gives for the page images OCRmyPDF rasterised is the text on each page, placed as the
    # engine's own text layer places it (no grounding from a tiny model: the text spans the page)
    (work,) = (tmp_path / "work").glob("ocrmypdf.io.*")
    model = engine.load(str(tiny_dir))
    options = engine.RunOptions.of(mode="tiny", max_tokens=12)
    sidecar = []
    for k, page in enumerate(reader.pages):
        image = engine.open_image(work / f"{k + 1:06d}_ocr.png")
        expected = engine.ocr(model, image, options)
        text = plugin.page_text(expected)
        assert squash(text), "the tiny model gave no text: the check would be empty"
        assert squash(page.extract_text()) == squash(text)
        assert positions(out, k) == positions(sp.text_layer_pdf(expected))
        for ch in chars(out)[k]:
            assert 0 <= ch.x0 and ch.x1 <= sizes[k][0] and 0 <= ch.y0 and ch.y1 <= sizes[k][1]
        sidecar.append(text)
    assert squash((tmp_path / "out.txt").read_text(encoding="utf-8")) == squash("".join(sidecar))


def test_bad_options_stop_the_run_with_one_line(tmp_path, tiny_dir):
    two_page_pdf(tmp_path / "in.pdf")
    cases = [
        (["--dsocr-model", str(tmp_path / "missing")], "--dsocr-model"),
        (["--dsocr-model", str(tiny_dir), "--ocr-engine", "tesseract"], "replaces Tesseract"),
        (["--dsocr-model", str(tiny_dir), "--pdf-renderer", "fpdf2"], "leave out --pdf-renderer"),
        (["--dsocr-model", str(tiny_dir), "--dsocr-mode", "gundam-m", "--dsocr-max-tokens", "0"], "--dsocr-max-tokens"),
    ]
    for args, message in cases:
        r = run_ocrmypdf([*args, "--output-type", "pdf", "in.pdf", "out.pdf"], tmp_path)
        assert r.returncode not in (0, 134), (args, r.stderr[-2000:])
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr[-2000:])
        assert not (tmp_path / "out.pdf").exists()


# ---- in-process: a grounded page through OCRmyPDF's pipeline ----------------------------------------------

@pytest.fixture
def grounded(monkeypatch):
    """The plugin's OCR answers `raw` (real model output with grounding) for whatever page image it gets."""
    seen = []

    def fake_ocr_page(svc, image, options):
        result = result_from_raw(grounded.raw, image)
        seen.append(result)
        return result

    grounded.raw, grounded.seen = MATH, seen
    monkeypatch.setattr(shared_model, "ocr_page", fake_ocr_page)
    return grounded


def scanned_pdf(tmp_path) -> Path:
    page_image(tmp_path).save(tmp_path / "scan.pdf", resolution=150)  # 1240 x 1754 px at 150 dpi
    return tmp_path / "scan.pdf"


def test_grounded_text_lands_where_format_pdf_puts_it_in_a_pdfa_without_ghostscript(tmp_path, tiny_dir, grounded):
    ocrmypdf.ocr(scanned_pdf(tmp_path), tmp_path / "out.pdf", plugins=[PLUGIN], dsocr_model=str(tiny_dir),
                 output_type="pdfa", pdfa_backend="internal", progress_bar=False)
    out = (tmp_path / "out.pdf").read_bytes()
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
        assert "DSOCR" in str(pdf.docinfo.get("/Creator", ""))
    (result,) = grounded.seen
    assert result.regions and result.image.size == (1240, 1754)
    # the same characters at the same places as `dsocr ocr --format pdf` of that page (to 0.1 pt)
    doc = sp.SearchablePdf()
    doc.add(result)
    assert positions(out) == positions(doc.to_bytes())
    assert squash(pypdf.PdfReader(io.BytesIO(out)).pages[0].extract_text()) == squash(plain_text(result.text))


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed: no PDF/A by Ghostscript")
def test_a_pdfa_made_by_ghostscript_keeps_the_text(tmp_path, tiny_dir, grounded):
    grounded.raw = FREE_ZH  # Chinese and fullwidth punctuation: codes above U+00FF, which Ghostscript rewrites
    ocrmypdf.ocr(scanned_pdf(tmp_path), tmp_path / "out.pdf", plugins=[PLUGIN], dsocr_model=str(tiny_dir),
                 output_type="pdfa-2", pdfa_backend="ghostscript", progress_bar=False)
    out = (tmp_path / "out.pdf").read_bytes()
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    (result,) = grounded.seen
    expected = squash(plain_text(result.text))
    assert len(expected) > 100 and any(ord(c) > 0x4E00 for c in expected)
    assert squash(pypdf.PdfReader(io.BytesIO(out)).pages[0].extract_text()) == expected
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True).stdout
        assert squash(text) == expected
