"""The vision side of both models: SAM-B, then CLIP-L (v1) or the causal-flow encoder (v2), then the projector.

`VisionV1` / `VisionV2` turn a batch of square views [B, S, S, 3] into projected features [B, n, H] and lay one
image's features out (`layout`). `encode_images` batches every view of several images: all tiles of equal
size in one batch, all global views in another, in one graph and one evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..preprocess.pixels import PreparedImage
from ..runtime.device import from_numpy
from .causal_flow import CausalFlowConfig, CausalFlowEncoder
from .clip import CLIPConfig, CLIPEncoder
from .layout import layout_v1, layout_v2
from .sam import SAMConfig, SAMEncoder


class Projector(nn.Module):
    """`MlpProjector` of type "linear": one Linear (checkpoint key `projector.layers`)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.layers = nn.Linear(in_dim, out_dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.layers(x)


class VisionV1(nn.Module):
    """DeepEncoder: SAM-B -> CLIP-L -> Linear(cat[CLIP[1:], SAM]), plus `image_newline` and `view_seperator`."""

    version = "v1"

    def __init__(self, sam: SAMConfig, clip: CLIPConfig, hidden: int):
        super().__init__()
        self.sam_model = SAMEncoder(sam)
        self.vision_model = CLIPEncoder(clip)
        self.projector = Projector(clip.width + sam.downsample_channels[1], hidden)
        self.image_newline = mx.zeros((hidden,))
        self.view_seperator = mx.zeros((hidden,))

    def __call__(self, pixels: mx.array) -> mx.array:
        sam = self.sam_model(pixels)
        clip = self.vision_model(sam)
        return self.projector(mx.concatenate([clip[:, 1:], sam], axis=-1))

    def layout(self, plan, tiles, global_view):
        return layout_v1(plan, tiles, global_view, self.image_newline, self.view_seperator)


class VisionV2(nn.Module):
    """DeepEncoder V2: SAM-B -> Qwen2 causal-flow encoder (query outputs) -> Linear, plus `view_seperator`."""

    version = "v2"

    def __init__(self, sam: SAMConfig, flow: CausalFlowConfig, hidden: int):
        super().__init__()
        self.sam_model = SAMEncoder(sam)
        self.qwen2_model = CausalFlowEncoder(flow)
        self.projector = Projector(flow.dim, hidden)
        self.view_seperator = mx.zeros((hidden,))

    def __call__(self, pixels: mx.array) -> mx.array:
        return self.projector(self.qwen2_model(self.sam_model(pixels)))

    def layout(self, plan, tiles, global_view):
        return layout_v2(plan, tiles, global_view, self.view_seperator)


def to_nhwc(pixels: np.ndarray, dtype: mx.Dtype) -> mx.array:
    """[N, 3, S, S] float32 (the preprocessor's layout) -> MLX [N, S, S, 3] in the compute dtype."""
    return from_numpy(pixels).transpose(0, 2, 3, 1).astype(dtype)  # in pieces: other threads keep running


@dataclass
class EncodeStats:
    """What one `encode_images` call did: the size of each tile batch run and the graph evaluations made."""

    tile_batches: list[int]
    global_batches: list[int]
    evaluations: int = 0


def _run_views(vision, views: list[np.ndarray], dtype, max_batch: int | None, stats: EncodeStats,
               batches: list[int]) -> mx.array:
    """Encode same-size view arrays [n_i, 3, S, S] as one batch, or as evaluated chunks of `max_batch`."""
    pixels = np.concatenate(views, axis=0)
    if not max_batch or pixels.shape[0] <= max_batch:
        batches.append(pixels.shape[0])
        return vision(to_nhwc(pixels, dtype))
    chunks = []
    for i in range(0, pixels.shape[0], max_batch):
        out = vision(to_nhwc(pixels[i:i + max_batch], dtype))
        mx.eval(out)  # cap memory: each chunk is finished before the next one starts
        stats.evaluations += 1
        batches.append(out.shape[0])
        chunks.append(out)
    return mx.concatenate(chunks, axis=0)


def _group(images: list[PreparedImage], key) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, im in enumerate(images):
        k = key(im)
        if k is not None:
            groups.setdefault(k, []).append(i)
    return groups


def encode_images(vision, images: list[PreparedImage], dtype: mx.Dtype = mx.float32,
                  max_batch_tiles: int | None = None, evaluate: bool = True) -> tuple[list[mx.array], EncodeStats]:
    """Embeddings [plan.image_tokens, H] for each image, every view batched with its equals.

    Tiles of one size from all images form one batch, global views of one size another; each batch is queued
    (`mx.async_eval`) as soon as it is built, so that a GPU computes the tiles while the CPU builds and queues
    the global views (H200, 6-tile v1 page: 106-117 -> 82-91 ms with MLX's 1000 MB command graphs, 167 -> 153 ms
    in float32 with the engine's 128 MB ones; no cost on a CPU), and all are waited for at the end.
    `max_batch_tiles` splits larger tile batches into chunks evaluated one by one. `evaluate=False` only builds
    the graph."""
    stats = EncodeStats([], [])
    per_image: dict[str, dict[int, mx.array]] = {"tiles": {}, "global": {}}
    for kind, key in (("tiles", lambda im: im.plan.tile_size if im.plan.tiled else None),
                      ("global", lambda im: im.plan.global_size)):
        for idx in _group(images, key).values():
            views = [images[i].tiles if kind == "tiles" else images[i].global_view for i in idx]
            limit = max_batch_tiles if kind == "tiles" else None
            batches = stats.tile_batches if kind == "tiles" else stats.global_batches
            feats = _run_views(vision, views, dtype, limit, stats, batches)
            if evaluate:  # started now: a GPU works on these views while the next group is built and queued
                mx.async_eval(feats)
            start = 0
            for i, v in zip(idx, views):
                per_image[kind][i] = feats[start:start + v.shape[0]]
                start += v.shape[0]
    embeds = [vision.layout(im.plan, per_image["tiles"].get(i), per_image["global"][i][0])
              for i, im in enumerate(images)]
    if evaluate:
        mx.eval(embeds)
        stats.evaluations += 1
    return embeds, stats
