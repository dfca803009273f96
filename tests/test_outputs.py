"""Grounding parsing, markdown clean-up, copy formats and exports."""

import json
import os

import pytest
from PIL import Image

from engine.outputs.export import ExportError, atomic_write, export_result, output_stem, unique_path
from engine.outputs.grounding import parse_grounding
from engine.outputs.markdown import clean_markdown, plain_text, single_line, tables_tsv

RAW = ("<|ref|>title<|/ref|><|det|>[[100, 50, 899, 120]]<|/det|>\n# Report\n\n"
       "<|ref|>image<|/ref|><|det|>[[0, 200, 499, 599]]<|/det|>\n"
       "<|ref|>text<|/ref|><|det|>[[10, 600, 990, 700], [10, 710, 990, 800]]<|/det|>\nTotal \\coloneqq 5")


def test_parse_normal_and_several_boxes():
    regions = parse_grounding(RAW, (999, 1998))
    assert [r.label for r in regions] == ["title", "image", "text"]
    assert regions[0].boxes[0].rect == (100, 100, 899, 240)
    assert len(regions[2].boxes) == 2 and regions[2].boxes[1].grid == (10, 710, 990, 800)
    assert regions[0].text == "# Report"
    start, end = regions[0].text_span
    assert RAW[start:end] == "# Report"


def test_pixels_follow_the_official_formula():
    (region,) = parse_grounding("<|ref|>a<|/ref|><|det|>[[333, 500, 999, 999]]<|/det|>", (1240, 1754))
    assert region.boxes[0].rect == (int(333 / 999 * 1240), int(500 / 999 * 1754), 1240, 1754)


def test_truncated_and_garbage_output():
    cut = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]], [[5, 6"
    (region,) = parse_grounding(cut, (999, 999))
    assert [b.rect for b in region.boxes] == [(1, 2, 3, 4)]
    junk = "<|ref|>x<|/ref|><|det|>[[a, b, c, d]]<|/det|> __import__('os') <|det|>[[1,2]]"
    (r,) = parse_grounding(junk, (100, 100))
    assert r.boxes == []
    assert parse_grounding("no tags at all", (10, 10)) == []


def test_clean_markdown_like_the_official_script():
    md, figures = clean_markdown(RAW + "<｜end▁of▁sentence｜>")
    assert "![](images/0.jpg)" in md and "<|ref|>" not in md and "<|det|>" not in md
    assert "Total := 5" in md and "end▁of▁sentence" not in md
    assert [f.name for f in figures] == ["images/0.jpg"] and figures[0].grid == (0, 200, 499, 599)


def test_copy_formats():
    md = "# Title\n\nSome **bold** text.\n\n<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>\n\n| x | y |\n|---|---|\n| 3 | 4 |\n"
    assert tables_tsv(md) == "a\tb\n1\t2\n\nx\ty\n3\t4"
    plain = plain_text(md)
    assert plain.startswith("Title\n\nSome bold text.") and "a\tb" in plain and "|" not in plain
    assert single_line(md) == "Title Some bold text. a b 1 2 x y 3 4"


class FakeResult:
    def __init__(self, text, figures, image):
        self.text, self.figures, self.image = text, figures, image

    def to_dict(self):
        return {"text": self.text}


def test_exports_round_trip(tmp_path):
    md, figures = clean_markdown(RAW)
    image = Image.new("RGB", (400, 300), (200, 100, 50))
    res = FakeResult(md, figures, image)
    written = export_result(res, tmp_path, "scan", "md")
    text = (tmp_path / "scan.md").read_text()
    assert text == md.replace("images/0.jpg", "images/scan-0.jpg") + "\n"
    crop = Image.open(tmp_path / "images" / "scan-0.jpg")
    assert crop.size == (int(499 / 999 * 400), int(599 / 999 * 300) - int(200 / 999 * 300))
    assert len(written) == 2
    export_result(res, tmp_path, "scan", "txt")
    assert (tmp_path / "scan.txt").read_text() == plain_text(md) + "\n"
    export_result(res, tmp_path, "scan", "json")
    assert json.loads((tmp_path / "scan.json").read_text()) == {"text": md}


def test_no_silent_overwrite_and_atomic(tmp_path):
    p = tmp_path / "a.md"
    atomic_write(p, "one")
    with pytest.raises(ExportError, match="already exists"):
        atomic_write(p, "two")
    assert p.read_text() == "one"
    atomic_write(p, "two", overwrite=True)
    assert p.read_text() == "two"
    assert unique_path(p).name == "a (2).md"
    assert [f.name for f in tmp_path.iterdir()] == ["a.md"]  # no temp files left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ExportError, match="permission denied"):
        atomic_write(ro / "x.md", "x")


def test_names_from_model_output_cannot_escape(tmp_path):
    res = FakeResult("x", [], None)
    with pytest.raises(ExportError, match="outside"):
        export_result(res, tmp_path / "out", "../evil", "md")


def test_output_stems():
    assert output_stem("/a/scan.png") == "scan"
    assert output_stem("report.pdf", 3) == "report-p003"


def test_unwritable_folder_message_even_as_root(tmp_path, monkeypatch):
    import tempfile

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    with pytest.raises(ExportError, match="permission denied; choose a folder you can write to"):
        atomic_write(tmp_path / "x.md", "x")
