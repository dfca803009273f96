"""Unusual but valid images (issue item 3) are not errors: CMYK, 16-bit, float, 1-bit, palette with
transparency, LA/RGBA, EXIF-rotated, animated GIF and multi-page TIFF (first frame), 1x1 and 1x20000 pixels.
They load, plan and run exactly as the official pipeline loads them:
`Image.open -> ImageOps.exif_transpose -> convert("RGB")` (`official_load`)."""

import json

import numpy as np
import pytest
from PIL import Image

import engine
from engine.cli.main import main
from engine.preprocess.images import open_image
from engine.preprocess.inputs import expand_inputs
from engine.preprocess.pixels import prepare

from .corpus import exif_rotated, official_load, page

NAMES = ["cmyk.jpg", "cmyk.tif", "gray16.png", "float.tif", "bilevel.png", "bilevel.tif",
         "palette-transparent.png", "la.png", "rgba.png", "exif-rotated.jpg", "exif-mirrored.jpg", "animated.gif",
         "pages.tif", "one-pixel.png", "1x20000.png", "20000x1.png"]
SOURCE_MODES = {"cmyk.jpg": "CMYK", "gray16.png": "I;16", "float.tif": "F", "bilevel.png": "1",
                "palette-transparent.png": "P", "la.png": "LA", "rgba.png": "RGBA"}


def test_the_corpus_really_is_unusual(unusual):
    assert sorted(unusual) == sorted(NAMES)
    for name, mode in SOURCE_MODES.items():
        with Image.open(unusual[name]) as im:
            assert im.mode == mode, name
    with Image.open(unusual["animated.gif"]) as im:
        assert im.n_frames == 3
    with Image.open(unusual["pages.tif"]) as im:
        assert im.n_frames == 3
    with Image.open(unusual["exif-rotated.jpg"]) as im:
        assert im.size == (360, 120) and im.getexif()[0x0112] == 6


@pytest.mark.parametrize("name", NAMES)
def test_loads_pixel_exact_like_the_official_pipeline(unusual, name):
    ours, theirs = open_image(unusual[name]), official_load(unusual[name])
    assert ours.mode == "RGB" and ours.size == theirs.size
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))
    assert engine.image_size(unusual[name]) == theirs.size


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name", NAMES)
def test_plan_and_pixels_equal_those_of_the_official_image(unusual, name, version):
    """The model input (plan, tiles, global view) is the one the official loader's image gives."""
    ours, theirs = prepare(unusual[name], version), prepare(official_load(unusual[name]), version)
    assert ours.plan == theirs.plan == engine.plan(official_load(unusual[name]).size, version)
    assert np.array_equal(ours.tiles, theirs.tiles)
    assert np.array_equal(ours.global_view, theirs.global_view)


@pytest.mark.parametrize("name", NAMES)
def test_dsocr_plan_shows_the_visible_size(unusual, name, capsys):
    assert main(["plan", str(unusual[name]), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    visible = official_load(unusual[name]).size
    assert got["image_size"] == list(visible)
    assert got == engine.plan(visible, "v2").to_dict()


def test_exif_rotation_is_planned_and_read_at_the_visible_orientation(tmp_path, tiny_v1, capsys):
    path = exif_rotated(tmp_path / "portrait.jpg", 6, size=(900, 500))  # stored landscape, shown portrait
    assert main(["plan", str(path), "--version", "v1", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["image_size"] == [500, 900] and planned["grid"] == [1, 2]
    result = engine.ocr(tiny_v1, path, engine.RunOptions.of(max_tokens=3, ngram_size=0))
    assert result.plan.to_dict() == planned
    assert result.image.size == (500, 900)
    assert np.array_equal(np.asarray(result.image), np.asarray(official_load(path)))


def test_every_unusual_image_runs(unusual, tiny_v1):
    """A tiny model reads each file (its pixels were shown equal to the official image's above)."""
    for name in NAMES:
        result = engine.ocr(tiny_v1, unusual[name], engine.RunOptions.of(mode="tiny", max_tokens=3, ngram_size=0))
        assert result.stop_reason == "max_tokens" and result.generated_tokens == 3, name
        assert result.plan == engine.plan(official_load(unusual[name]).size, "v1", "tiny"), name


def test_extreme_sizes_run_tiled(unusual, tiny_v1):
    """1x20000 is tiled into a column (v1 gundam, at most 3 tiles here), its global view is padding only."""
    tall = engine.ocr(tiny_v1, unusual["1x20000.png"], engine.RunOptions.of(max_tiles=3, max_tokens=2, ngram_size=0))
    assert tall.plan.grid == (1, 3) and tall.plan.global_view.scaled == (0, 1024)
    assert tall.generated_tokens == 2 and tall.stop_reason == "max_tokens"


@pytest.mark.parametrize("name", ["animated.gif", "pages.tif"])
def test_multi_frame_files_use_their_first_frame_only(unusual, name):
    with Image.open(unusual[name]) as im:
        im.seek(0)
        first = im.convert("RGB")
        im.seek(1)
        second = im.convert("RGB")
    ours = open_image(unusual[name])
    assert np.array_equal(np.asarray(ours), np.asarray(first))
    assert not np.array_equal(np.asarray(ours), np.asarray(second))
    assert len(expand_inputs([unusual[name]])) == 1  # one item, not one per frame (documented)


def test_rgba_alpha_is_dropped_not_composited(tmp_path):
    """As in the official code: transparent pixels keep their colour (no white background)."""
    img = Image.new("RGBA", (8, 8), (200, 10, 10, 0))
    img.save(tmp_path / "clear.png")
    assert open_image(tmp_path / "clear.png").getpixel((3, 3)) == (200, 10, 10)


def test_bytes_and_pil_images_are_accepted_too(unusual):
    data = unusual["exif-rotated.jpg"].read_bytes()
    assert open_image(data).size == (120, 360)
    assert open_image(Image.open(unusual["cmyk.jpg"])).size == (240, 180)
    assert prepare(page(30, 20), "v2").plan.image_size == (30, 20)
