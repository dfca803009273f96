"""The README's pictures are what `docs/make_pictures.py` makes from the app now: the script runs here into a
temporary folder, and what it says each picture shows (toolbar, menus, tabs, parts, sizes: words, not fonts)
must equal the committed `docs/pictures.json`, whose pictures must have those sizes and look like the new ones
(coarsely: thumbnails, so other fonts pass). A new toolbar action or tab fails this test until the pictures are
made again (`python docs/make_pictures.py`)."""

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from dsocr_app.actions import TOOLBAR

DOCS = Path(__file__).resolve().parents[2] / "docs"
PICTURES = ("screenshot.png", "tiling_panel.png", "capture_overlay.png")


def _script():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def made(tmp_path_factory, qapp):
    folder = tmp_path_factory.mktemp("pictures")
    manifest = _script().make(folder)
    return folder, manifest


def _words(manifest):
    """The manifest without the sample's name (the real sample page may be missing on this machine)."""
    return {name: {k: v for k, v in entry.items() if k != "page"} for name, entry in manifest.items()}


def test_the_script_makes_every_picture(made):
    folder, manifest = made
    assert set(manifest) == set(PICTURES)
    for name in PICTURES:
        with Image.open(folder / name) as im:
            assert list(im.size) == manifest[name]["size"]
    assert json.loads((folder / "pictures.json").read_text()) == manifest


def test_the_pictures_show_the_current_toolbar_and_tabs(made, window):
    _, manifest = made
    want = [window.acts[e[0] if isinstance(e, tuple) else e].iconText() for e in TOOLBAR if e is not None]
    for name in ("screenshot.png", "tiling_panel.png"):
        assert manifest[name]["toolbar"]["Main"] == want, "a toolbar action is missing or overflows"
        assert "Capture" in manifest[name]["toolbar"]["Main"]
        tabs = window.results.tabs
        assert manifest[name]["tabs"] == [tabs.tabText(i) for i in range(tabs.count())]
    assert manifest["tiling_panel.png"]["current_tab"] == "Tiling" and "small text" in manifest["tiling_panel.png"]["warning"]


def test_the_committed_pictures_are_the_ones_the_script_makes_now(made):
    folder, manifest = made
    committed = json.loads((DOCS / "pictures.json").read_text(encoding="utf-8"))
    assert _words(committed) == _words(manifest), "docs/ pictures are stale: run python docs/make_pictures.py"
    for name in PICTURES:
        with Image.open(DOCS / name) as old, Image.open(folder / name) as new:
            assert list(old.size) == committed[name]["size"]
            if committed[name].get("page") != manifest[name].get("page"):
                continue  # another page was shown (the sample is not on this machine): the words are enough
            a, b = (im.convert("L").resize((48, 30), Image.Resampling.BOX) for im in (old, new))
            diff = ImageStat.Stat(ImageChops.difference(a, b)).mean[0]
            assert diff < 20, f"docs/{name} no longer looks like the window (mean difference {diff:.1f}/255)"
