"""The tiling plan: grid, tile boxes, global-view geometry and every token count, from the image size alone.

Pure Python (no MLX, no pixels), so the app can re-plan instantly. This is the single source of token counts:
the preprocessor, the embedding layout, the CLI and the app all read them from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

from .modes import DEFAULT_TILES, FAMILY, MODES, TILE_RANGE, TILING_THRESHOLD, Mode, get_mode, normalize_version


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


CLOSEST_RATIO = "closest ratio"
AREA_TIE_BREAK = "area tie-break"


def weigh_grids(
    width: int, height: int, tile_size: int, min_tiles: int, max_tiles: int
) -> tuple[tuple[float, ...], int, str]:
    """The official aspect-ratio search, step by step (tie rule included).

    Returns the aspect error |w/h - cols/rows| of every grid of `candidate_grids` (same order), the index of
    the winner and why it won: CLOSEST_RATIO (a strictly smaller error) or AREA_TIE_BREAK (an equal error, and
    the image's area exceeds half of this later, larger grid's tile pixels)."""
    aspect = width / height
    area = width * height
    errors = []
    best_diff, best, won_by = float("inf"), 0, CLOSEST_RATIO
    for k, (cols, rows) in enumerate(candidate_grids(min_tiles, max_tiles)):
        diff = abs(aspect - cols / rows)
        errors.append(diff)
        if diff < best_diff:
            best_diff, best, won_by = diff, k, CLOSEST_RATIO
        elif diff == best_diff and area > 0.5 * tile_size * tile_size * cols * rows:
            best, won_by = k, AREA_TIE_BREAK
    return tuple(errors), best, won_by


def parse_grid(text: str) -> tuple[int, int]:
    """'3x2' (also '3X2', '3×2', '3,2') -> (3, 2): columns x rows. Raises a clear ValueError."""
    parts = str(text).strip().lower().replace("\u00d7", "x").replace(",", "x").split("x")
    try:
        cols, rows = (int(v) for v in parts)
    except ValueError:
        raise ValueError(f"grid {text!r} is not COLSxROWS: write it like 3x2 (3 columns, 2 rows)") from None
    if cols < 1 or rows < 1:
        raise ValueError(f"grid {text!r} needs at least 1 column and 1 row, e.g. 3x2")
    return cols, rows


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
class Candidate:
    """One grid the official rule weighed, with what it would do to the page and what it would cost."""

    grid: tuple[int, int]  # (cols, rows)
    aspect_error: float  # |image w/h - cols/rows|: what the rule minimises
    stretch: float  # relative change of the image's aspect ratio: (cols/rows) / (w/h) - 1; > 0 widens the page
    scale: float  # tile-canvas pixels per image pixel (sqrt of the area ratio); < 1 means shrunk
    image_tokens: int  # the whole image's token count with this grid
    chosen: bool  # the official rule's choice
    won_by: str = ""  # the chosen one: CLOSEST_RATIO or AREA_TIE_BREAK

    def to_dict(self) -> dict:
        return {"grid": list(self.grid), "aspect_error": round(self.aspect_error, 6), "stretch": round(self.stretch, 6),
                "scale": round(self.scale, 6), "image_tokens": self.image_tokens, "chosen": self.chosen,
                "won_by": self.won_by or None}


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
    candidates: tuple[Candidate, ...] = ()  # the grids the rule weighed, in the official order (tiled modes)
    official: bool = True  # False when a grid override gave a tiling the official rule would not choose

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
        d["candidates"] = [c.to_dict() for c in self.candidates]
        d["official_tiling"] = d.pop("official")
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


def _token_counts(version: str, m: Mode, grid: tuple[int, int]) -> dict:
    """Token counts of a grid ((0, 0): not tiled) in mode `m`: the formulas of spec section 2.1."""
    t, g = m.tile_grid, m.global_grid
    tile_tokens = t * t * grid[0] * grid[1]
    if FAMILY[version] == "v1":  # a newline after every mosaic row and every global row
        mosaic_newlines = t * grid[1]
        newline_tokens = mosaic_newlines + g
    else:
        mosaic_newlines = newline_tokens = 0
    counts = dict(tile_tokens=tile_tokens, global_tokens=g * g, newline_tokens=newline_tokens, separator_tokens=1,
                  mosaic_newlines=mosaic_newlines)
    counts["image_tokens"] = tile_tokens + g * g + newline_tokens + 1
    return counts


def _candidates(version: str, m: Mode, width: int, height: int, min_tiles: int, max_tiles: int,
                weighs: bool) -> tuple[tuple[Candidate, ...], tuple[int, int]]:
    """Every candidate grid with its figures, and the official choice ((0, 0) when the rule does not tile)."""
    grids = candidate_grids(min_tiles, max_tiles)
    errors, best, won_by = weigh_grids(width, height, m.tile_size, min_tiles, max_tiles)
    aspect = width / height
    cands = tuple(
        Candidate(
            grid=(cols, rows), aspect_error=err, stretch=(cols / rows) / aspect - 1,
            scale=m.tile_size * (cols * rows / (width * height)) ** 0.5,
            image_tokens=_token_counts(version, m, (cols, rows))["image_tokens"],
            chosen=weighs and k == best, won_by=won_by if weighs and k == best else "",
        )
        for k, ((cols, rows), err) in enumerate(zip(grids, errors))
    )
    return cands, (grids[best] if weighs else (0, 0))


def check_grid(version: str, m: Mode, grid) -> tuple[int, int]:
    """Validate a grid override: a tiled mode, whole positive columns and rows, a tile count the version allows."""
    try:
        cols, rows = (int(v) for v in grid)
    except (TypeError, ValueError):
        raise ValueError(f"grid {grid!r} must be (columns, rows), e.g. (3, 2)") from None
    if not m.tiled:
        tiled = ", ".join(name for name, mode in MODES[version].items() if mode.tiled)
        raise ValueError(f"mode {m.name} does not tile, so it takes no grid: use a tiled mode ({tiled})")
    lo, hi = TILE_RANGE[version]
    if cols < 1 or rows < 1 or not lo <= cols * rows <= hi:
        raise ValueError(f"grid {cols}x{rows} is invalid for {version}: columns and rows must be at least 1 and "
                         f"the tiles ({cols * rows}) between {lo} and {hi}")
    return cols, rows


def plan(
    size: tuple[int, int],
    version: str = "v2",
    mode: str | Mode | None = None,
    min_tiles: int | None = None,
    max_tiles: int | None = None,
    grid: tuple[int, int] | None = None,
) -> TilePlan:
    """Plan an image of `size` = (width, height) pixels for `version` ('v1'/'v2') and `mode` (default gundam).

    `grid` = (cols, rows) overrides the official grid choice (a non-official tiling: the models were trained on
    the official rule); the candidates still show what the rule would have chosen."""
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} is empty: width and height must be at least 1 pixel")
    version = normalize_version(version)
    m = mode if isinstance(mode, Mode) else get_mode(version, mode)
    min_tiles, max_tiles = check_tile_limits(version, min_tiles, max_tiles)
    forced = None if grid is None else check_grid(version, m, grid)
    threshold = TILING_THRESHOLD[version]

    candidates: tuple[Candidate, ...] = ()
    official_grid = (0, 0)
    if m.tiled:
        weighs = width > threshold or height > threshold  # the official rule tiles only above the threshold
        candidates, official_grid = _candidates(version, m, width, height, min_tiles, max_tiles, weighs)
    cols, rows = grid = forced or official_grid
    tiles = tuple(
        Tile(i, i % cols, i // cols,
             (width * (i % cols) / cols, height * (i // cols) / rows,
              width * (i % cols + 1) / cols, height * (i // cols + 1) / rows),
             m.tile_grid ** 2)
        for i in range(cols * rows)
    )

    if m.stretch_global:
        gv = GlobalView(m.global_size, (m.global_size, m.global_size), (0, 0), True)
    else:
        sw, sh = contain_size(width, height, m.global_size)
        gv = GlobalView(m.global_size, (sw, sh),
                        (round((m.global_size - sw) * 0.5), round((m.global_size - sh) * 0.5)), False)

    return TilePlan(
        version=version, mode=m.name, image_size=(width, height), global_size=m.global_size,
        tile_size=m.tile_size, min_tiles=min_tiles, max_tiles=max_tiles, grid=grid, tiles=tiles,
        global_view=gv, tile_grid=m.tile_grid, global_grid=m.global_grid, **_token_counts(version, m, grid),
        candidates=candidates, official=grid == official_grid,
    )
