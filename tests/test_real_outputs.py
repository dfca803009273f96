"""The clean-up, the grounding parser and the exports on real DeepSeek-OCR / DeepSeek-OCR-2 outputs
(`tests/data/real_outputs`, sources in its SOURCES.md), and the known cases of issue 16 built on them."""

import json
import re
from pathlib import Path

import pytest
from PIL import Image

import engine
from engine.language.loop_guard import LoopDetector
from engine.outputs.export import export_result, render
from engine.outputs.grounding import parse_grounding
from engine.outputs.markdown import (clean_markdown, math_dollars, plain_text, renderable_markdown, tables,
                                     tables_as_pipes)

DATA = Path(__file__).parent / "data" / "real_outputs"
FILES = sorted(p.name for p in DATA.glob("*.txt"))
BOS = "<｜begin▁of▁sentence｜>"
SPECIAL = re.compile(r"<｜|｜>|<\|[A-Za-z/_]+\|>")


def real(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def make_result(raw: str, size=(1000, 1400), **styles):
    text, figures = clean_markdown(raw, image_size=size, **styles)
    return engine.Result(text=text.strip(), raw_text=raw, plan=engine.plan(size, "v1"),
                         regions=parse_grounding(raw, size), prompt="", prompt_tokens=0, generated_tokens=0,
                         encode_s=0, prefill_s=0, decode_tokens_per_s=0, elapsed_s=0, peak_memory_mb=0,
                         stop_reason="eos", model="real", figures=figures, image=Image.new("RGB", size, "white"))


def test_every_file_has_a_source():
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    assert FILES and all(f"`{name}`" in sources for name in FILES)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("lead", ["", BOS])
def test_clean_text_and_exports_never_show_special_tokens(name, lead, tmp_path):
    raw = lead + real(name)
    result = make_result(raw)
    for text in (result.text, plain_text(result.text), render(result, "txt")):
        assert not SPECIAL.search(text), SPECIAL.search(text)
    written = export_result(result, tmp_path, "page", "md")
    assert not SPECIAL.search(written[0].read_text(encoding="utf-8"))
    assert len(written) == 1 + len(result.figures)  # every figure cropped and written
    (path,) = export_result(result, tmp_path, "page", "json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["raw_text"] == raw and len(data["regions"]) == len(result.regions)
    if lead:  # the token before the text changes nothing else
        assert result.text == make_result(real(name)).text


def test_grounded_page_regions_equations_and_figure():
    raw = real("v1_grounding_equations_image_thukiy.txt")
    regions = parse_grounding(raw, (1000, 1400))
    assert len(regions) == raw.count("<|ref|>") == 20
    assert [r.label for r in regions].count("equation") == 11
    image = next(r for r in regions if r.label == "image")
    assert image.boxes[0].grid == (85, 660, 415, 785) and image.text == ""
    assert regions[-1].text == "\\[ v = \\sqrt{2gh} \\]"
    md, figures = clean_markdown(raw)
    assert [f.name for f in figures] == ["images/0.jpg"] and "![](images/0.jpg)" in md
    assert md.count("\\[") == 11 and "<|" not in md
    dollars = clean_markdown(raw, math="dollars")[0]
    assert "\\[" not in dollars and "\\(" not in dollars
    assert "$$\\frac{dy}{dx} = y$$" in dollars and "Rum Q(t) = $\\frac{dy}{dt}$" in dollars
    assert dollars.count("$$") == 22


def test_broken_box_keeps_the_others_and_multiline_equations_convert():
    raw = real("v1_broken_det_multiline_equations_thukiy.txt")
    regions = parse_grounding(raw, (1000, 1400))
    assert len(regions) == raw.count("<|ref|>")
    broken = [r for r in regions if not r.boxes]
    assert len(broken) == 1 and broken[0].label == "text"  # `[[115,_{}_{} ...`: no box, never invented
    assert all(len(r.boxes) == 1 for r in regions if r is not broken[0])
    dollars = clean_markdown(raw, math="dollars")[0]
    assert "$$\n\\begin{align*}\n\\Leftrightarrow" in dollars and "\\end{align*}\n$$" in dollars
    assert "\\begin{cases}" in dollars and "$C_2 \\in \\mathbb{R} \\setminus \\{0\\}$" in dollars
    assert "\\\\" in dollars  # LaTeX line breaks inside the equations are left alone


def test_out_of_grid_and_runaway_boxes_are_normalised_not_dropped():
    raw = real("vl2_out_of_grid_boxes_issue96.txt")
    (region,) = parse_grounding(raw, (500, 400))
    (box,) = region.boxes  # [0, 50, 55, 9999] kept, clipped; the five-number box and the runaway are junk
    assert box.grid == (0, 50, 55, 999) and box.written == (0, 50, 55, 9999) and box.rect[3] == 400
    assert region.label == "head without helmet"
    assert region.to_dict()["boxes_as_written"] == [[0, 50, 55, 9999]]
    assert "Assistant" not in clean_markdown(raw)[0]
    # corners in the wrong order, written by the model: ordered, and said so
    swapped = raw.replace("[[0, 50, 55, 9999]", "[[55, 999, 0, 50]")
    (box,) = parse_grounding(swapped, (999, 999))[0].boxes
    assert box.grid == (0, 50, 55, 999) and box.written == (55, 999, 0, 50)


def test_dangling_close_ref_from_a_hosted_api_keeps_its_box():
    raw = real("v1_grounding_equations_image_thukiy.txt")
    cut = raw[len("<|ref|>"):]  # the first token lost: `text<|/ref|><|det|>[[25, 19, 588, 45]]<|/det|>...`
    regions = parse_grounding(cut, (999, 999))
    assert len(regions) == 20 and regions[0].label == "text" and regions[0].boxes[0].grid == (25, 19, 588, 45)
    assert regions[0].text.startswith("Bsp: y' = y")
    md = clean_markdown(cut)[0]
    assert md.startswith("\nBsp: y' = y") and md == clean_markdown(raw)[0]  # the label is no text
    # after a BOS too, and a `<|/ref|>` in the middle of a line is still text's business, not a tag head
    assert parse_grounding(BOS + cut, (999, 999))[0].boxes[0].grid == (25, 19, 588, 45)


def test_several_boxes_in_one_det_are_all_kept_and_linked_to_their_text():
    raw = real("v1_grounding_equations_image_thukiy.txt").replace(
        "[[53, 820, 940, 884]]", "[[53, 820, 490, 884], [500, 820, 940, 884], [53, 890, 940, 905]]")
    regions = parse_grounding(raw, (999, 999))
    multi = next(r for r in regions if len(r.boxes) > 1)
    assert [b.grid for b in multi.boxes] == [(53, 820, 490, 884), (500, 820, 940, 884), (53, 890, 940, 905)]
    assert multi.text.startswith("Wasser in einem Behälter") and raw[slice(*multi.text_span)] == multi.text
    assert all(b.span == multi.span and b.label == "text" for b in multi.boxes)
    assert len(multi.to_dict()["boxes"]) == 3


def test_literal_brackets_are_not_an_equation():
    raw = real("v1_grounding_equations_image_thukiy.txt").replace(
        "Anwendung : ", "Anwendung (Meyer \\[ 1995 \\], \\[12, 13\\]): ")
    for math in ("brackets", "dollars"):
        md = clean_markdown(raw, math=math)[0]
        assert "Anwendung (Meyer [1995], [12, 13]): " in md
    assert "$$v = \\sqrt{2gh}$$" in clean_markdown(raw, math="dollars")[0]  # real equations still convert


def test_dollar_signs_of_the_text_are_escaped_in_dollar_mode():
    md = clean_markdown(real("v1_pipe_table_truncated_ollama_13345.txt"), math="dollars")[0]
    assert "| \\$568.8 |" in md and "$568.8" not in md.replace("\\$", "")
    assert math_dollars("a \\(x\\) costs $5") == "a $x$ costs \\$5"


def test_spanned_table_stays_html_and_reads_as_a_grid():
    raw = real("v1_table_spans_issue295.txt")
    md = clean_markdown(raw, tables="pipe")[0]
    assert "<table>" in md and "rowspan" in md  # merged cells: a pipe table cannot hold them
    (grid,) = tables(md)
    assert grid[0][:3] == ["Model", "Tokens", "English"] and len(grid[0]) == 10
    assert grid[1][:3] == ["", "", "overall"]  # covered by the rowspans
    assert grid[3][:3] == ["Dolphin [11]", "-", "0.356"] and grid[-1][:2] == ["Mathpix [2]", "-"]  # `-</td` cut off
    assert "\\(\\mathrm{^{i + 200dpi}}\\)" in md


def test_span_less_html_tables_become_pipe_tables():
    raw = real("v1_table_spans_issue295.txt")
    plain = re.sub(r' (?:rowspan|colspan)="\d+"', "", raw.split("<table>")[0] + "<table><tr><td>Model</td>"
                   "<td>Tokens</td></tr><tr><td>Dolphin [11]</td><td>a|b &amp; c</td></tr></table>\nAfter")
    md = clean_markdown(plain, tables="pipe")[0]
    assert "| Model | Tokens |\n| --- | --- |\n| Dolphin [11] | a\\|b &amp; c |" in md and "<table>" not in md
    assert md.endswith("|\n\nAfter")
    assert tables(md) == tables(clean_markdown(plain)[0])  # the same cells either way
    assert tables_as_pipes("x") == "x"


def test_truncated_table_is_closed_for_viewers():
    md = clean_markdown(real("v1_table_spans_issue295.txt"))[0]
    shown = renderable_markdown(md)  # Qt draws nothing for an HTML table cut off mid-tag (tests/app checks)
    rows = [line for line in shown.splitlines() if line.startswith("| ")]
    assert "<table>" not in shown and len(rows) == 7 and rows[-1].startswith("| Mathpix [2] | - |  |")
    complete = "<table><tr><td rowspan=\"2\">a</td><td>b</td></tr><tr><td>c</td></tr></table>"
    assert renderable_markdown(complete) == complete  # a whole table keeps its spans


@pytest.mark.parametrize("name,loops", [("v1_loop_vllm_ascend_4989.txt", True), ("v1_loop_mlx_vlm_549.txt", True),
                                        ("v2_near_repeats_issue55.txt", False)])
def test_loop_detector_on_real_loops_and_near_repeats(name, loops):
    """Characters stand in for token ids: an exact cycle is caught, near repeats are content."""
    det = LoopDetector()
    fired = any(det.push(ord(c)) for c in real(name))
    assert fired == loops
