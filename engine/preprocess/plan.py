"""The tiling plan: grid, tile boxes, global-view geometry and every token count, from the image size alone.

Pure Python (no MLX, no pixels), so the app can re-plan instantly. This is the single source of token counts:
the preprocessor, the embedding layout, the CLI and the app all read them from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

from .modes import DEFAULT_TILES, TILE_RANGE, TILING_THRESHOLD, Mode, get_mode, normalize_version


@lru_cache(maxsize=None)
def candidate_grids(min_tiles: int, max_tiles: int) -> tuple[tuple[int, int], ...]:
    """(cols, rows) candidates in the exact order of the official `dynamic_preprocess` (set order, then by area)."""
    ratios = set(
        (i, j)
        for n in range(min_tiles, max_tiles + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_tiles <= i * j <= max_tiles
    )
    return tuple(sorted(ratios, key=lambda r: r[0] * r[1]))


def choose_grid(width: int, height: int, tile_size: int, min_tiles: int, max_tiles: int) -> tuple[int, int]:
    """The official aspect-ratio search, tie rule included: returns (cols, rows)."""
    aspect = width / height
    area = width * height
    best_diff, best = float("inf"), (1, 1)
    for cols, rows in candidate_grids(min_tiles, max_tiles):
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best_diff, best = diff, (cols, rows)
        elif diff == best_diff and area > 0.5 * tile_size * tile_size * cols * rows:
            best = (cols, rows)
    return best


def contain_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Size of `ImageOps.contain(img, (size, size))`: long side -> size, short side Python-rounded."""
    if width == height:
        return size, size
    if width > height:
        return size, round(height / width * size)
    return round(width / height * size), size


@dataclass(frozen=True)
class Tile:
    """One local tile: its index (row-major), grid position, box in original-image pixels and token count."""

    index: int
    col: int
    row: int
    box: tuple[float, float, float, float]
    tokens: int


@dataclass(frozen=True)
class GlobalView:
    """How the original image sits inside the square global view of side `size`."""

    size: int
    scaled: tuple[int, int]  # the image's size inside the view
    offset: tuple[int, int]  # top-left of the image inside the view (pad offsets)
    stretched: bool  # True: resized to a square, aspect ignored (Tiny/Small modes)


@dataclass(frozen=True)
class TilePlan:
    """Everything the engine will do with an image of this size, before any pixel is touched."""

    version: str
    mode: str
    image_size: tuple[int, int]
    global_size: int
    tile_size: int
    min_tiles: int
    max_tiles: int
    grid: tuple[int, int]  # (cols, rows); (0, 0) when not tiled
    tiles: tuple[Tile, ...]
    global_view: GlobalView
    tile_grid: int  # tokens per tile side (T/64)
    global_grid: int  # tokens per global-view side (B/64)
    tile_tokens: int  # all local tiles together
    global_tokens: int
    newline_tokens: int
    separator_tokens: int
    image_tokens: int  # the number of <image> slots in the prompt
    mosaic_newlines: int = field(default=0)  # newlines after mosaic rows (v1; part of newline_tokens)

    @property
    def tiled(self) -> bool:
        return bool(self.tiles)

    def to_dict(self) -> dict:
        """The `dsocr plan --json` object."""
        d = asdict(self)
        d["grid"] = list(self.grid)
        d["image_size"] = list(self.image_size)
        d["tiles"] = [
            {"index": t.index, "col": t.col, "row": t.row, "box": [round(v, 3) for v in t.box], "tokens": t.tokens}
            for t in self.tiles
        ]
        g = self.global_view
        d["global_view"] = {"size": g.size, "scaled": list(g.scaled), "offset": list(g.offset), "stretched": g.stretched}
        d["tiled"] = self.tiled
        return d


def check_tile_limits(version: str, min_tiles: int | None, max_tiles: int | None) -> tuple[int, int]:
    """Defaults and validation of the tile limits (v1: 1..9, v2: 1..6; default 2..9 / 2..6).

    A `max_tiles` below the default minimum with no `min_tiles` given lowers the minimum to it."""
    lo_default, hi_default = DEFAULT_TILES[version]
    if min_tiles is None and max_tiles is not None:
        lo_default = min(lo_default, int(max_tiles))
    min_tiles = lo_default if min_tiles is None else int(min_tiles)
    max_tiles = hi_default if max_tiles is None else int(max_tiles)
    lo, hi = TILE_RANGE[version]
    if not (lo <= min_tiles <= max_tiles <= hi):
        raise ValueError(
            f"tile limits min={min_tiles}, max={max_tiles} are invalid for {version}: "
            f"need {lo} <= min <= max <= {hi}"
        )
    return min_tiles, max_tiles


def plan(
    size: tuple[int, int],
    version: str = "v2",
    mode: str | Mode | None = None,
    min_tiles: int | None = None,
    max_tiles: int | None = None,
) -> TilePlan:
    """Plan an image of `size` = (width, height) pixels for `version` ('v1'/'v2') and `mode` (default gundam)."""
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} is empty: width and height must be at least 1 pixel")
    version = normalize_version(version)
    m = mode if isinstance(mode, Mode) else get_mode(version, mode)
    min_tiles, max_tiles = check_tile_limits(version, min_tiles, max_tiles)
    t, g = m.tile_grid, m.global_grid
    threshold = TILING_THRESHOLD[version]

    tiles: tuple[Tile, ...] = ()
    grid = (0, 0)
    if m.tiled and (width > threshold or height > threshold):
        cols, rows = choose_grid(width, height, m.tile_size, min_tiles, max_tiles)
        grid = (cols, rows)
        tiles = tuple(
            Tile(i, i % cols, i // cols,
                 (width * (i % cols) / cols, height * (i // cols) / rows,
                  width * (i % cols + 1) / cols, height * (i // cols + 1) / rows),
                 t * t)
            for i in range(cols * rows)
        )

    if m.stretch_global:
        gv = GlobalView(m.global_size, (m.global_size, m.global_size), (0, 0), True)
    else:
        sw, sh = contain_size(width, height, m.global_size)
        gv = GlobalView(m.global_size, (sw, sh),
                        (round((m.global_size - sw) * 0.5), round((m.global_size - sh) * 0.5)), False)

    tile_tokens = t * t * len(tiles)
    global_tokens = g * g
    if version == "v1":  # a newline after every mosaic row and every global row
        mosaic_newlines = t * grid[1]
        newline_tokens = mosaic_newlines + g
    else:
        mosaic_newlines = newline_tokens = 0
    separator_tokens = 1
    return TilePlan(
        version=version, mode=m.name, image_size=(width, height), global_size=m.global_size,
        tile_size=m.tile_size, min_tiles=min_tiles, max_tiles=max_tiles, grid=grid, tiles=tiles,
        global_view=gv, tile_grid=t, global_grid=g, tile_tokens=tile_tokens, global_tokens=global_tokens,
        newline_tokens=newline_tokens, separator_tokens=separator_tokens,
        image_tokens=tile_tokens + global_tokens + newline_tokens + separator_tokens,
        mosaic_newlines=mosaic_newlines,
    )
