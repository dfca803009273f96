"""The encode workloads of the benchmark: ours (batched or one tile at a time) and mlx-vlm's, on the same page.

A page is a `PreparedImage` (our preprocessing); mlx-vlm gets the same pixel arrays in the layout its
`get_input_embeddings` expects ([patches, global views] NCHW, `images_spatial_crop`, `images_seq_mask`), so
both sides encode identical inputs with identical weights. Every function returns after `mx.eval`.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
from PIL import Image

from engine.preprocess.pixels import PreparedImage, prepare
from engine.vision.encoder import encode_images

PAGE_SIZES = {"v1": (1240, 1754), "v2": (1500, 2100)}  # A4-ish pages that plan to a 2x3 grid + global view


def page(version: str, size: tuple[int, int] | None = None, seed: int = 0, **plan_kw) -> PreparedImage:
    """A prepared page with random pixels (random, so that no activation is trivially zero)."""
    prep = prepare(Image.new("RGB", size or PAGE_SIZES[version], "white"), version, **plan_kw)
    rng = np.random.default_rng(seed)
    if prep.tiles is not None and len(prep.tiles):
        prep.tiles[...] = rng.standard_normal(prep.tiles.shape, dtype=np.float32)
    prep.global_view[...] = rng.standard_normal(prep.global_view.shape, dtype=np.float32)
    return prep


def ours(vision, pages: list[PreparedImage], max_batch_tiles: int | None = None) -> list[mx.array]:
    embeds, _ = encode_images(vision, pages, mx.float32, max_batch_tiles=max_batch_tiles)
    return embeds


def _vlm_inputs(prep: PreparedImage):
    p = prep.plan
    n = p.image_tokens
    ids = mx.zeros((1, n + 8), mx.int32)
    seq_mask = np.zeros((1, n + 8), bool)
    seq_mask[0, 4:4 + n] = True
    patches = mx.array(prep.tiles) if p.tiled else mx.zeros((1, 3, p.tile_size, p.tile_size))
    crop = mx.array([[p.grid[0], p.grid[1]]]) if p.tiled else mx.array([[1, 1]])
    return ids, [patches, mx.array(prep.global_view)], crop, seq_mask


def mlxvlm(model, prep: PreparedImage) -> mx.array:
    """mlx-vlm's own path: `get_input_embeddings` (tiles batched for v1, one by one in one graph for v2)."""
    ids, pixels, crop, seq_mask = _vlm_inputs(prep)
    out = model.get_input_embeddings(ids, pixels, images_spatial_crop=crop, images_seq_mask=seq_mask)
    mx.eval(out.inputs_embeds)
    return out.inputs_embeds


def mlxvlm_one_at_a_time(model, prep: PreparedImage, version: str) -> list[mx.array]:
    """mlx-vlm's modules, one view per evaluated graph (the loop a user would write to avoid its v1 batch)."""
    views = [prep.tiles[i:i + 1] for i in range(len(prep.tiles))] if prep.plan.tiled else []
    views.append(prep.global_view)
    outs = []
    for v in views:
        x = mx.array(v).transpose(0, 2, 3, 1)
        sam = model.sam_model(x)
        if version == "v1":
            clip = model.vision_model(x, sam)
            feats = model.projector(mx.concatenate([clip[:, 1:], sam.flatten(1, 2)], axis=-1))
        else:
            feats = model.projector(model.vision_model(x, sam))
        mx.eval(feats)
        outs.append(feats)
    return outs
