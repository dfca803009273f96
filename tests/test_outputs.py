"""Grounding parsing, markdown clean-up (against the official script's logic), copy formats and exports."""

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.outputs.export as export_mod
from engine.outputs.export import (ExportError, atomic_write, export_json, export_markdown, export_result,
                                   figure_name, output_stem, render, unique_path)
from engine.outputs.grounding import Box, parse_grounding
from engine.outputs.markdown import (EOS_TEXT, clean_markdown, crop_figures, plain_text, single_line, tables,
                                     tables_tsv)

RAW = ("<|ref|>title<|/ref|><|det|>[[100, 50, 899, 120]]<|/det|>\n# Report\n\n"
       "<|ref|>image<|/ref|><|det|>[[0, 200, 499, 599]]<|/det|>\n"
       "<|ref|>text<|/ref|><|det|>[[10, 600, 990, 700], [10, 710, 990, 800]]<|/det|>\nTotal \\coloneqq 5 "
       "and a \\eqqcolon b\n<|ref|>image<|/ref|><|det|>[[500, 800, 999, 999]]<|/det|>\n<|ref|>table<|/ref|>"
       "<|det|>[[1, 2, 3, 4]]<|/det|>\n<table><tr><td>a</td><td>b</td></tr></table>")


# ---- grounding ---------------------------------------------------------------------------------------------

def test_parse_normal_and_several_boxes():
    regions = parse_grounding(RAW, (999, 1998))
    assert [r.label for r in regions] == ["title", "image", "text", "image", "table"]
    title = regions[0]
    assert title.boxes[0].rect == (100, 100, 899, 240) and tuple(title.boxes[0]) == (100, 100, 899, 240)
    assert title.boxes[0].label == "title" and title.boxes[0].grid == (100, 50, 899, 120)
    assert len(regions[2].boxes) == 2 and regions[2].boxes[1].grid == (10, 710, 990, 800)
    assert title.text == "# Report" and regions[1].text == ""
    for r in regions:  # spans point into the raw text: the tag, then the text it labels
        start, end = r.span
        assert RAW[start:end].startswith("<|ref|>") and RAW[start:end].endswith("<|/det|>")
        assert RAW[slice(*r.text_span)] == r.text
        assert all(b.span == r.span for b in r.boxes)
    assert regions[2].text.startswith("Total \\coloneqq 5")
    assert regions[4].text == "<table><tr><td>a</td><td>b</td></tr></table>"
    json.dumps([r.to_dict() for r in regions])  # JSON-ready


def test_pixels_follow_the_official_formula_and_are_clamped():
    (region,) = parse_grounding("<|ref|>a<|/ref|><|det|>[[333, 500, 999, 999]]<|/det|>", (1240, 1754))
    assert region.boxes[0].rect == (int(333 / 999 * 1240), int(500 / 999 * 1754), 1240, 1754)
    (region,) = parse_grounding("<|ref|>a<|/ref|><|det|>[[-5, 10, 1500, 20]]<|/det|>", (100, 100))
    assert region.boxes[0].rect == (0, 1, 100, 2) and region.boxes[0].grid == (0, 10, 999, 20)
    assert region.boxes[0].written == (-5, 10, 1500, 20)  # normalised, and what the model wrote is kept
    assert region.to_dict()["boxes_as_written"] == [[-5, 10, 1500, 20]]
    (region,) = parse_grounding("<|ref|>a<|/ref|><|det|>[[800, 900, 100, 200]]<|/det|>", (999, 999))
    assert region.boxes[0].rect == (100, 200, 800, 900)  # corners put in order
    box = region.boxes[0].scaled((1998, 999))
    assert box.rect == (int(100 / 999 * 1998), 200, int(800 / 999 * 1998), 900) and box.grid == (100, 200, 800, 900)
    assert box.written == (800, 900, 100, 200)


def test_tolerant_of_spacing_floats_and_newlines():
    raw = "<|ref|> text <|/ref|>\n<|det|>[ [ 1 ,2, 3 , 4 ],\n[5.0, 6, 7.9, 8] ]<|/det|>body"
    (region,) = parse_grounding(raw, (999, 999))
    assert region.label == "text" and [b.grid for b in region.boxes] == [(1, 2, 3, 4), (5, 6, 7, 8)]
    assert region.text == "body"


def test_truncated_output():
    cut = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4], [5, 6"
    (region,) = parse_grounding(cut, (999, 999))
    assert [b.rect for b in region.boxes] == [(1, 2, 3, 4)] and region.text == ""
    cut = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]], [[5, 6"
    (region,) = parse_grounding(cut, (999, 999))
    assert [b.rect for b in region.boxes] == [(1, 2, 3, 4)] and region.text == ""
    # a missing <|/det|> followed by the content and another region: both regions survive
    raw = ("<|ref|>a<|/ref|><|det|>[[1,2,3,4],[5,6,7,8]]\nHello [1, 2, 3, 4]"
           "<|ref|>b<|/ref|><|det|>[[9,9,9,9]]<|/det|>Bye")
    a, b = parse_grounding(raw, (999, 999))
    assert [x.grid for x in a.boxes] == [(1, 2, 3, 4), (5, 6, 7, 8)] and a.text == "Hello [1, 2, 3, 4]"
    assert b.label == "b" and b.text == "Bye"
    assert parse_grounding("<|ref|>a<|/ref|>", (9, 9)) == [] and parse_grounding("<|ref|>a", (9, 9)) == []
    (empty,) = parse_grounding("<|ref|>a<|/ref|><|det|>", (9, 9))
    assert empty.boxes == []


def test_junk_is_skipped_and_never_evaluated(monkeypatch):
    import builtins

    def no_eval(*a, **k):
        raise AssertionError("eval must not be used")

    monkeypatch.setattr(builtins, "eval", no_eval)
    raw = ("<|ref|>x<|/ref|><|det|>[[a, b, c, d], [1, 2, 3, 4], [__import__('os'), 1, 2, 3], [1, 2, 3], "
           "[1, 2, 3, 4, 5], [5, 6, 7, 8]]<|/det|> after")
    (r,) = parse_grounding(raw, (999, 999))
    assert [b.grid for b in r.boxes] == [(1, 2, 3, 4), (5, 6, 7, 8)] and r.text == "after"
    assert parse_grounding("no tags at all", (10, 10)) == []


def test_eos_ends_the_last_region():
    raw = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nLast words." + EOS_TEXT
    (r,) = parse_grounding(raw, (999, 999))
    assert r.text == "Last words."


# ---- clean markdown ----------------------------------------------------------------------------------------

def official_clean(outputs: str) -> str:
    """The official script's clean-up (run_dpsk_ocr_image.py: re_match, then replace), transcribed."""
    pattern = r"(<\|ref\|>(.*?)<\|/ref\|><\|det\|>(.*?)<\|/det\|>)"
    matches = re.findall(pattern, outputs, re.DOTALL)
    images = [m[0] for m in matches if "<|ref|>image<|/ref|>" in m[0]]
    other = [m[0] for m in matches if "<|ref|>image<|/ref|>" not in m[0]]
    for idx, a_match_image in enumerate(images):
        outputs = outputs.replace(a_match_image, "![](images/" + str(idx) + ".jpg)\n")
    for a_match_other in other:
        outputs = outputs.replace(a_match_other, "").replace("\\coloneqq", ":=").replace("\\eqqcolon", "=:")
    return outputs


@pytest.mark.parametrize("raw", [
    RAW,
    "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nHello\n\n<|ref|>image<|/ref|><|det|>[[0, 0, 10, 10]]<|/det|>\n",
    "<|ref|>sub_title<|/ref|><|det|>[[10, 20, 30, 40]]<|/det|>\n## A \\coloneqq B\n",
    "plain text, no tags at all \\eqqcolon x",  # the official script only replaces inside its loop...
])
def test_clean_markdown_matches_the_official_script(raw):
    md, figures = clean_markdown(raw)
    expected = official_clean(raw)
    if "<|ref|>" not in raw:  # ...which does not run without tags; we always replace
        expected = expected.replace("\\eqqcolon", "=:")
    assert md == expected
    assert [f.name for f in figures] == [f"images/{k}.jpg" for k in range(raw.count("<|ref|>image<|/ref|>"))]


def test_clean_markdown_figures_and_eos():
    md, figures = clean_markdown(RAW + EOS_TEXT + "\n", image_size=(400, 300))
    assert "![](images/0.jpg)\n" in md and "![](images/1.jpg)\n" in md
    assert "<|" not in md and "end▁of▁sentence" not in md and "Total := 5 and a =: b" in md
    (n0, b0), (n1, b1) = figures  # unpacks as (name, box)
    assert (n0, n1) == ("images/0.jpg", "images/1.jpg")
    assert b0.grid == (0, 200, 499, 599) and b0.label == "image"
    assert b0.rect == (0, int(200 / 999 * 300), int(499 / 999 * 400), int(599 / 999 * 300))
    image = Image.new("RGB", (400, 300))
    assert clean_markdown(RAW, image=image)[1] == figures  # the image's size is used
    assert clean_markdown(RAW)[1][0].box.rect == (0, 200, 499, 599)  # without a size: the 0-999 grid


def test_clean_markdown_unusual_image_regions_and_truncation():
    raw = ("<|ref|>image<|/ref|><|det|>[[10, 10, 20, 20], [50, 60, 70, 80]]<|/det|>\n"
           "<|ref|>image<|/ref|><|det|>[[junk]]<|/det|>\nText\n<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4], [5")
    md, figures = clean_markdown(raw)
    assert md == "![](images/0.jpg)\n\n\nText\n"  # junk image region dropped, truncated tag removed
    assert figures[0].box.grid == (10, 10, 70, 80)  # one figure covering all boxes of the region
    assert clean_markdown("Text <|ref|>title<|/ref|>")[0] == "Text "  # a tag cut before its boxes
    assert clean_markdown("A<|grounding|>B<|/det|>C")[0] == "ABC"


def test_crop_figures():
    image = Image.new("RGB", (400, 300), (10, 20, 30))
    image.paste((200, 100, 50), (0, 66, 199, 179))
    _, figures = clean_markdown(RAW)  # no size given: crops rescale from the 0-999 grid
    (n0, c0), (n1, c1) = crop_figures(image, figures)
    assert n0 == "images/0.jpg" and c0.size == (199, 179 - 60) and c0.mode == "RGB"
    assert c0.getpixel((100, 60)) == (200, 100, 50)
    assert c1.size == (400 - int(500 / 999 * 400), 300 - int(800 / 999 * 300))
    tiny = clean_markdown("<|ref|>image<|/ref|><|det|>[[5, 5, 5, 9]]<|/det|>")[1]
    assert crop_figures(image, tiny) == []  # zero width: skipped


# ---- copy formats ------------------------------------------------------------------------------------------

def test_tables_html_and_pipes_in_document_order():
    md = ("| x | y |\n|---|:-:|\n| 3 | a\\|b |\n\ntext\n\n"
          "<table><tr><th>h1</th><th>h2</th></tr><tr><td>1 &amp; 2</td><td><b>bold</b><br>next</td></tr></table>"
          "\n\nk | v\n--- | ---\nm | **n**\n")
    assert tables(md) == [[["x", "y"], ["3", "a|b"]], [["h1", "h2"], ["1 & 2", "bold next"]], [["k", "v"], ["m", "n"]]]
    assert tables_tsv(md) == "x\ty\n3\ta|b\n\nh1\th2\n1 & 2\tbold next\n\nk\tv\nm\tn"


def test_tables_spans_tabs_and_truncation():
    html = ('<table><tr><td rowspan="2">A</td><td colspan="2">B</td></tr><tr><td>c</td><td>d</td></tr>'
            '<tr><td>1\t2</td><td>x\ny</td><td>3</td></tr></table>')
    assert tables_tsv(html) == "A\tB\t\n\tc\td\n1 2\tx y\t3"
    cut = "<table><tr><td>a</td><td>b</td></tr><tr><td>c"  # truncated output keeps what is there
    assert tables(cut) == [[["a", "b"], ["c"]]]
    assert tables_tsv("no tables | here") == ""


def test_plain_text_and_single_line():
    md = ("# Title\n\nSome **bold**, *it* and `code`, a [link](http://x) ![](images/0.jpg)\n\n"
          "> quoted\n\n---\n\n<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>\n\n"
          "| x | y |\n|---|---|\n| 3 | 4 |\n\nEnd &amp; \\*done\\* \\(x^2\\)")
    plain = plain_text(md)
    assert plain == ("Title\n\nSome bold, it and code, a link\n\nquoted\n\na\tb\n1\t2\n\nx\ty\n3\t4\n\n"
                     "End & *done* \\(x^2\\)")
    assert single_line(md) == "Title Some bold, it and code, a link quoted a b 1 2 x y 3 4 End & *done* \\(x^2\\)"
    assert single_line("  line one\n\n  line\ttwo  ") == "line one line two"


# ---- exports -----------------------------------------------------------------------------------------------

def test_atomic_write_never_overwrites_silently(tmp_path):
    p = tmp_path / "a.md"
    assert atomic_write(p, "one") == p
    with pytest.raises(FileExistsError, match="a.md: already exists; choose another name or allow overwriting"):
        atomic_write(p, "two")
    with pytest.raises(ExportError):
        atomic_write(p, b"two")
    assert p.read_text() == "one"
    atomic_write(p, b"two", overwrite=True)
    assert p.read_bytes() == b"two"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.md"]  # no temp files left behind
    atomic_write(tmp_path / "new" / "deep" / "b.txt", "ü")  # folders are made
    assert (tmp_path / "new" / "deep" / "b.txt").read_text(encoding="utf-8") == "ü"


def test_atomic_write_file_modes(tmp_path):
    p = tmp_path / "mode.txt"
    atomic_write(p, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    p.chmod(0o640)
    atomic_write(p, "y", overwrite=True)
    assert p.stat().st_mode & 0o777 == 0o640  # replacing keeps the file's mode


def test_atomic_write_race_with_a_file_created_meanwhile(tmp_path, monkeypatch):
    p = tmp_path / "race.md"
    p.write_text("theirs")
    monkeypatch.setattr(export_mod.os.path, "lexists", lambda path: False)  # the check misses the file
    with pytest.raises(FileExistsError, match="already exists"):
        atomic_write(p, "ours")
    monkeypatch.undo()
    assert p.read_text() == "theirs" and sorted(f.name for f in tmp_path.iterdir()) == ["race.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions (the next test covers the message)")
def test_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="ro: permission denied") as info:
            atomic_write(ro / "x.md", "x")
        assert isinstance(info.value, ExportError)
    finally:
        ro.chmod(0o700)


def test_unwritable_folder_message_even_as_root(tmp_path, monkeypatch):
    import tempfile

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    with pytest.raises(ExportError, match=f"{re.escape(str(tmp_path))}: permission denied .*choose a folder you can "
                                          f"write to") as info:
        atomic_write(tmp_path / "x.md", "x")
    assert isinstance(info.value, PermissionError) and not str(info.value).startswith("[Errno")


def test_unique_path(tmp_path):
    p = tmp_path / "a.md"
    assert unique_path(p) == p
    p.write_text("")
    assert unique_path(p).name == "a (2).md"
    (tmp_path / "a (2).md").write_text("")
    assert unique_path(p).name == "a (3).md"
    assert unique_path(tmp_path / "a (2).md").name == "a (3).md"
    (tmp_path / "noext").write_text("")
    assert unique_path(tmp_path / "noext").name == "noext (2)"
    (tmp_path / "x.tar.gz").write_text("")
    assert unique_path(tmp_path / "x.tar.gz").name == "x.tar (2).gz"


def _page_image():
    image = Image.new("RGB", (400, 300), (200, 100, 50))
    image.paste((0, 0, 255), (200, 240, 400, 300))  # figure 1 area is blue
    return image


def test_export_markdown_round_trip(tmp_path):
    image = _page_image()
    md, figures = clean_markdown(RAW, image=image)
    written = export_markdown(tmp_path, "scan", md, figures, image)
    assert written[0] == (tmp_path / "scan.md").resolve()
    text = (tmp_path / "scan.md").read_text(encoding="utf-8")
    assert text == md.replace("images/0.jpg", "images/scan-0.jpg").replace("images/1.jpg", "images/scan-1.jpg") + "\n"
    crops = dict(crop_figures(image, figures))
    for k in range(2):
        with Image.open(tmp_path / "images" / f"scan-{k}.jpg") as saved:
            expected = crops[f"images/{k}.jpg"]
            assert saved.size == expected.size and saved.format == "JPEG"
            diff = np.abs(np.asarray(saved, np.int16) - np.asarray(expected, np.int16))
            assert diff.mean() < 3  # JPEG: near-identical pixels
    # every link of the markdown resolves to a written file
    links = re.findall(r"!\[\]\(([^)]+)\)", text)
    assert links == ["images/scan-0.jpg", "images/scan-1.jpg"] and all((tmp_path / l).is_file() for l in links)
    # a second export refuses before writing anything, then overwrites when asked
    with pytest.raises(FileExistsError):
        export_markdown(tmp_path, "scan", "changed", figures, image)
    assert (tmp_path / "scan.md").read_text(encoding="utf-8") == text
    export_markdown(tmp_path, "scan", "changed", figures, image, overwrite=True)
    assert (tmp_path / "scan.md").read_text(encoding="utf-8") == "changed\n"


def test_export_markdown_without_image_keeps_links_and_writes_no_figures(tmp_path):
    md, figures = clean_markdown(RAW)
    assert export_markdown(tmp_path, "page", md, figures, None) == [(tmp_path / "page.md").resolve()]
    assert (tmp_path / "page.md").read_text(encoding="utf-8") == md + "\n" and not (tmp_path / "images").exists()


def test_figure_names_are_ours_and_stay_inside(tmp_path):
    assert figure_name("my scan (2)", 3) == "images/my_scan_2-3.jpg"
    assert figure_name("../../etc/passwd", 0) == "images/etc_passwd-0.jpg"
    assert figure_name("报告", 1) == "images/报告-1.jpg"
    assert figure_name("..", 0) == "images/page-0.jpg"
    image = _page_image()
    md, figures = clean_markdown(RAW, image=image)
    written = export_markdown(tmp_path, "my scan (2)", md, figures, image)
    assert all(tmp_path.resolve() in p.parents for p in written)
    assert "![](images/my_scan_2-0.jpg)" in (tmp_path / "my scan (2).md").read_text(encoding="utf-8")
    for stem in ("../evil", "/etc/evil", "sub/../../evil"):
        with pytest.raises(ExportError, match="outside the export folder"):
            export_markdown(tmp_path / "out", stem, "x", [], None)
    assert not (tmp_path / "evil.md").exists()


@dataclasses.dataclass
class _Timing:
    seconds: float


def test_export_json_round_trip(tmp_path):
    regions = parse_grounding(RAW, (400, 300))
    obj = {"text": "über ✓", "regions": regions, "grid": np.array([[1, 2], [3, 4]]), "tokens": np.int64(7),
           "path": Path("/x/scan.png"), "timing": _Timing(0.5), "boxes": regions[0].boxes[0]}
    p = export_json(tmp_path / "scan.json", obj)
    back = json.loads(p.read_text(encoding="utf-8"))
    assert back["text"] == "über ✓" and "über" in p.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    assert back["regions"] == [r.to_dict() for r in regions]
    assert back["grid"] == [[1, 2], [3, 4]] and back["tokens"] == 7 and back["path"] == "/x/scan.png"
    assert back["timing"] == {"seconds": 0.5} and back["boxes"]["box"] == list(regions[0].boxes[0].rect)
    with pytest.raises(ExportError, match="JSON cannot store"):
        export_json(tmp_path / "nan.json", {"x": float("nan")})
    assert not (tmp_path / "nan.json").exists()


class FakeResult:
    def __init__(self, text, figures, image):
        self.text, self.figures, self.image = text, figures, image

    def to_dict(self):
        return {"text": self.text, "figures": [f.name for f in self.figures]}


def test_export_result_all_formats_round_trip(tmp_path):
    image = _page_image()
    md, figures = clean_markdown(RAW)  # as the pipeline calls it today: no size (rescaled on export)
    res = FakeResult(md, figures, image)
    written = export_result(res, tmp_path, "report-p003", "md")
    assert [p.name for p in written] == ["report-p003.md", "report-p003-0.jpg", "report-p003-1.jpg"]
    assert (tmp_path / "report-p003.md").read_text(encoding="utf-8") == render(res, "md", "report-p003")
    with Image.open(tmp_path / "images" / "report-p003-1.jpg") as crop:
        assert crop.size == (400 - int(500 / 999 * 400), 300 - int(800 / 999 * 300))
        assert crop.getpixel((crop.width - 5, crop.height - 5))[2] > 200  # the blue corner
    export_result(res, tmp_path, "report-p003", "txt")
    assert (tmp_path / "report-p003.txt").read_text(encoding="utf-8") == plain_text(md) + "\n"
    export_result(res, tmp_path, "report-p003", "json")
    assert json.loads((tmp_path / "report-p003.json").read_text(encoding="utf-8")) == res.to_dict()
    with pytest.raises(ExportError, match="already exists"):
        export_result(res, tmp_path, "report-p003", "txt")
    with pytest.raises(ValueError, match="unknown format"):
        export_result(res, tmp_path, "x", "docx")


def test_output_stems():
    assert output_stem("/a/scan.png") == "scan"
    assert output_stem("report.pdf", 3) == "report-p003"
    assert output_stem("report.pdf", 1234) == "report-p1234"
    assert output_stem("archive.tar.gz") == "archive.tar"


def test_box_is_a_plain_value():
    b = Box("text", 1, 2, 3, 4, (5, 6, 7, 8), (0, 10))
    assert list(b) == [1, 2, 3, 4] and b.width == 2 and b.height == 2
    assert b.to_dict() == {"label": "text", "box": [1, 2, 3, 4], "box_0_999": [5, 6, 7, 8], "span": [0, 10]}
