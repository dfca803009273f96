"""Preprocessing against the reference vectors (pixel-exact) and the image loader's behaviour."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import reference_cases
from engine.language.prompt import prompt_ids
from engine.preprocess.images import ImageError, open_image
from engine.preprocess.pixels import prepare
from engine.weights.tokenizer import Tokenizer


def case_args(case):
    meta = json.loads((case / "meta.json").read_text())
    mode = None if meta["mode"] == "default" else meta["mode"]
    return meta, (f"v{meta['version']}", mode, meta.get("min_tiles"), meta.get("max_tiles"))


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: c.name)
def test_pixels_and_ids_equal_reference(case):
    meta, args = case_args(case)
    exp = np.load(case / "expected.npz")
    prep = prepare(case / "image.png", *args)
    assert prep.plan.grid == tuple(exp["grid"])
    assert prep.plan.image_tokens == meta["n_image_tokens"]
    assert prep.tiles.shape == exp["tiles"].shape
    assert np.array_equal(prep.tiles, exp["tiles"])
    assert np.array_equal(prep.global_view, exp["global_view"])
    ids = prompt_ids(Tokenizer(case / "checkpoint"), meta["prompt"], prep.plan.image_tokens)
    assert ids == exp["input_ids"].tolist()


def test_pad_region_is_where_the_plan_says():
    img = Image.new("RGB", (640, 488), (255, 255, 255))
    prep = prepare(img, "v1", "base")
    gv = prep.plan.global_view
    x = prep.global_view[0, 0]
    top = gv.offset[1]
    grey = (np.float32(127) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    assert np.all(x[:top] == grey)
    assert np.all(x[top:top + gv.scaled[1]] == 1.0)
    assert np.all(x[top + gv.scaled[1]:] == grey)


def test_exif_rotation_is_applied_before_planning():
    img = Image.new("RGB", (1200, 300), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert open_image(buf.getvalue()).size == (300, 1200)
    assert prepare(buf.getvalue(), "v1").plan.image_size == (300, 1200)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "1", "P", "CMYK", "I;16", "F"])
def test_unusual_modes_become_rgb(mode):
    img = Image.new(mode, (50, 40))
    assert open_image(img).mode == "RGB"


def test_bad_files_get_clear_errors(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    html = tmp_path / "page.jpg"
    html.write_text("<!DOCTYPE html><html></html>")
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buf, "PNG")
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    cases = {empty: "empty", html: "HTML", trunc: "truncated", tmp_path / "nope.png": "no such file",
             tmp_path: "folder"}
    for path, words in cases.items():
        with pytest.raises(ImageError, match=words) as e:
            open_image(path)
        assert str(path) in str(e.value)
