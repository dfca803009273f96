"""Image -> normalised pixel arrays (local tiles and the global view), pixel-exact with the official code.

Resizing and padding are Pillow's own (`Image.resize` bicubic, `ImageOps.pad`), never reimplemented.
Normalisation is ToTensor + Normalize(0.5, 0.5) in float32: (x / 255 - 0.5) / 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .images import ImageSource, open_image
from .plan import TilePlan, plan as make_plan

PAD_COLOR = (127, 127, 127)  # tuple(int(0.5 * 255) for _ in mean)


@dataclass
class PreparedImage:
    """What the vision encoder consumes: the plan, tiles [N,3,T,T] (row-major) and the global view [1,3,B,B]."""

    plan: TilePlan
    tiles: np.ndarray
    global_view: np.ndarray
    image: Image.Image  # the RGB image at its visible orientation (for crops and overlays)


def normalize(img: Image.Image) -> np.ndarray:
    """uint8 RGB image -> float32 CHW array, (x / 255 - 0.5) / 0.5 exactly as torchvision computes it."""
    x = np.asarray(img, dtype=np.uint8).astype(np.float32)
    x = (x / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def global_view_image(img: Image.Image, p: TilePlan) -> Image.Image:
    """The square global view: a stretch in Tiny/Small modes, otherwise `ImageOps.pad` with grey."""
    size = p.global_size
    if p.global_view.stretched:
        img = img.resize((size, size))
    return ImageOps.pad(img, (size, size), color=PAD_COLOR)


def tile_images(img: Image.Image, p: TilePlan) -> list[Image.Image]:
    """Local tiles, row-major: a stretch-resize to the grid's size, then T x T crops (no padding)."""
    if not p.tiles:
        return []
    cols, rows = p.grid
    t = p.tile_size
    resized = img.resize((t * cols, t * rows))
    return [resized.crop((tile.col * t, tile.row * t, (tile.col + 1) * t, (tile.row + 1) * t)) for tile in p.tiles]


def prepare(
    source: ImageSource,
    version: str = "v2",
    mode: str | None = None,
    min_tiles: int | None = None,
    max_tiles: int | None = None,
    grid: tuple[int, int] | None = None,
) -> PreparedImage:
    """Load, plan and preprocess one image (`grid` forces a (cols, rows) grid). Raises ImageError (clear, one
    line) for unusable input."""
    img = open_image(source)
    p = make_plan(img.size, version, mode, min_tiles, max_tiles, grid)
    tiles = [normalize(t) for t in tile_images(img, p)]
    tile_array = np.stack(tiles) if tiles else np.zeros((0, 3, p.tile_size, p.tile_size), np.float32)
    return PreparedImage(p, tile_array, normalize(global_view_image(img, p))[None], img)
