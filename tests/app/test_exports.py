"""Exports: clipboard forms, .md with cropped figures, .txt, .json, the whole queue; never a silent overwrite."""

import json
import re

import engine
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication

from dsocr_app import engine_bridge as eb

from .conftest import grounded_result
from .helpers import plan_of


@pytest.fixture
def done(window, page):
    window.set_plan_options(version="v1", mode="gundam")
    window.add_paths([page])
    result = grounded_result(window.queue.image(0), plan_of(window))
    window.run_view.apply_result(0, 0, result)
    return window, result


def test_save_markdown_with_cropped_figures(done, tmp_path):
    window, result = done
    written = window.exports.save_target(tmp_path / "page.md")
    md = (tmp_path / "page.md").read_text()
    assert "# Quarterly Report" in md
    assert "![](images/page-0.jpg)" in md
    crop = Image.open(tmp_path / "images" / "page-0.jpg")
    x0, y0, x1, y1 = result.figures[0].box.scaled(result.image.size).rect
    assert crop.size == (x1 - x0, y1 - y0)
    assert len(written) == 2
    # the user's edits are what gets saved
    window.results.editor.setPlainText(window.results.text().replace("Quarterly", "Annual"))
    window.exports.save_target(tmp_path / "edited.md")
    assert "# Annual Report" in (tmp_path / "edited.md").read_text()


def test_save_text_and_json(done, tmp_path):
    window, result = done
    window.exports.save_target(tmp_path / "page.txt")
    txt = (tmp_path / "page.txt").read_text()
    assert "Quarterly Report" in txt and "#" not in txt  # plain text, no markdown syntax
    window.exports.save_target(tmp_path / "page.json")
    data = json.loads((tmp_path / "page.json").read_text())
    assert data["text"] == result.text
    assert data["source"].endswith("page.png") and data["region"] is None
    assert data["plan"]["grid"] == list(result.plan.grid)
    assert data["tokens"]["per_tile"] == [t.tokens for t in result.plan.tiles]


def test_never_overwrites_silently(done, tmp_path):
    window, _ = done
    target = tmp_path / "page.md"
    target.write_text("keep me")
    with pytest.raises(engine.ExportError):
        window.exports.save_target(target)
    assert target.read_text() == "keep me"
    window.exports.save_target(target, overwrite=True)  # what the Save dialog does after the user confirmed
    assert "Quarterly Report" in target.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_export_whole_queue_picks_new_names(done, tmp_path, page):
    window, result = done
    k = window.regions.add_region((100, 100, 700, 700))
    window.run_view.apply_result(0, k, grounded_result(window.queue.image(0).crop((100, 100, 700, 700)), plan_of(window)))
    out = tmp_path / "out"
    first = window.exports.export_all(out, ("md", "json"))
    names = sorted(p.name for p in first if p.suffix in (".md", ".json"))
    assert names == ["page-region1.json", "page-region1.md", "page.json", "page.md"]
    assert (out / "images" / "page-0.jpg").exists() and (out / "images" / "page-region1-0.jpg").exists()
    (out / "page.md").write_text("user edits")
    second = window.exports.export_all(out, ("md",))
    assert (out / "page.md").read_text() == "user edits"
    assert {p.name for p in second if p.suffix == ".md"} == {"page (2).md", "page-region1 (2).md"}
    link = re.search(r"\]\((images/[^)]+)\)", (out / "page (2).md").read_text()).group(1)
    assert (out / link).exists() and link != "images/page-0.jpg"  # its own figure, the first export's kept


def test_copy_forms(done):
    window, result = done
    md = window.exports.copy_as("markdown")
    assert QGuiApplication.clipboard().text() == md == result.text
    assert "Copied" in window.statusBar().currentMessage()
    for kind in ("plain", "single", "tsv"):
        copied = window.exports.copy_as(kind)
        assert QGuiApplication.clipboard().text() == copied
    assert window.exports.copy_as("single").count("\n") == 0
    assert window.exports.copy_as("plain") == eb.text_form("plain", result.text)


def test_tables_as_tsv(window, page):
    window.add_paths([page])
    from .conftest import make_result

    raw = "Intro\n\n<table><tr><td>Item</td><td>Q1</td></tr><tr><td>Line 1</td><td>757.41</td></tr></table>\n"
    window.run_view.apply_result(0, 0, make_result(window.queue.image(0), plan_of(window), raw))
    tsv = window.exports.copy_as("tsv")
    assert "Item\tQ1" in tsv and "Line 1\t757.41" in tsv


def test_nothing_to_copy_or_save(window, page, tmp_path):
    window.add_paths([page])
    assert window.exports.copy_as("markdown") == ""
    assert "Nothing to copy" in window.statusBar().currentMessage()
    with pytest.raises(ValueError):
        window.exports.save_target(tmp_path / "x.md")
    assert engine.plan  # the engine is still importable and fine
