"""All tiles in one batch equal one tile at a time; several images batched equal each alone; one evaluation."""

import json

import mlx.core as mx
import numpy as np
import pytest

from conftest import reference_cases
from engine.model import load
from engine.preprocess.pixels import prepare
from engine.vision.encoder import encode_images


@pytest.mark.parametrize("version", [1, 2])
def test_batched_equals_one_tile_at_a_time(version):
    case = next(c for c in reference_cases(version) if json.loads((c / "meta.json").read_text())["grid_cols_rows"][0])
    meta = json.loads((case / "meta.json").read_text())
    model = load(case / "checkpoint", dtype="float32")
    prep = prepare(case / "image.png", model.version, None if meta["mode"] == "default" else meta["mode"],
                       meta["min_tiles"], meta["max_tiles"])
    (batched,), stats = encode_images(model.vision, [prep], mx.float32)
    assert stats.tile_batches == [len(prep.plan.tiles)] and stats.evaluations == 1
    (single,), stats1 = encode_images(model.vision, [prep], mx.float32, max_batch_tiles=1)
    assert stats1.tile_batches == [1] * len(prep.plan.tiles)
    assert batched.shape == (prep.plan.image_tokens, model.vision.projector.layers.weight.shape[0])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(single), rtol=0, atol=1e-5 * float(mx.abs(single).max()))


def test_several_images_batched_together():
    cases = reference_cases(2)
    model = load(cases[0] / "checkpoint", dtype="float32")
    preps = [prepare(c / "image.png", model.version) for c in cases]
    together, stats = encode_images(model.vision, preps, mx.float32)
    assert stats.tile_batches == [sum(len(p.plan.tiles) for p in preps)]  # all tiles of both images: one batch
    assert stats.global_batches == [len(preps)]
    for prep, emb in zip(preps, together):
        (alone,), _ = encode_images(model.vision, [prep], mx.float32)
        assert emb.shape[0] == prep.plan.image_tokens
        np.testing.assert_allclose(np.asarray(emb), np.asarray(alone), rtol=0, atol=1e-5 * float(mx.abs(alone).max()))


def test_each_batch_is_started_before_the_next_one_is_built(monkeypatch):
    """The tile batch is queued (async_eval) before the global view's pixels are even handed to MLX, so a GPU
    computes the tiles while the CPU builds the global view's graph; the result is the same."""
    from engine.vision import encoder

    case = next(c for c in reference_cases(1) if json.loads((c / "meta.json").read_text())["grid_cols_rows"][0])
    model = load(case / "checkpoint", dtype="float32")
    prep = prepare(case / "image.png", model.version)
    (expected,), _ = encode_images(model.vision, [prep], mx.float32)
    events = []
    to_nhwc, async_eval = encoder.to_nhwc, mx.async_eval
    monkeypatch.setattr(encoder, "to_nhwc", lambda px, dt: events.append(("pixels", px.shape[-1])) or to_nhwc(px, dt))
    monkeypatch.setattr(mx, "async_eval", lambda *a: events.append(("queued", a[0].shape[0])) or async_eval(*a))
    (got,), _ = encode_images(model.vision, [prep], mx.float32)
    tiles, glob = prep.plan.tile_size, prep.plan.global_size
    assert events == [("pixels", tiles), ("queued", len(prep.plan.tiles)), ("pixels", glob), ("queued", 1)]
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
