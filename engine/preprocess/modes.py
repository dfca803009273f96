"""The named resolution modes of both model versions, as data (global size, tile size, tiling on/off).

A mode is not a code path: the planner and the preprocessor read these numbers and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSIONS = ("v1", "v2")

# Tiling happens only when a side exceeds this (hard-coded in the official processors).
TILING_THRESHOLD = {"v1": 640, "v2": 768}
# Inclusive user-settable range and defaults of the tile count.
TILE_RANGE = {"v1": (1, 9), "v2": (1, 6)}
DEFAULT_TILES = {"v1": (2, 9), "v2": (2, 6)}
# View sizes whose token grid is S/64 (16-px patches, then two stride-2 convs).
TOKEN_STRIDE = 64


@dataclass(frozen=True)
class Mode:
    """One resolution mode: `global_size` (B), `tile_size` (T) and whether the image is tiled."""

    name: str
    version: str
    global_size: int
    tile_size: int
    tiled: bool
    description: str

    @property
    def global_grid(self) -> int:
        return self.global_size // TOKEN_STRIDE

    @property
    def tile_grid(self) -> int:
        return self.tile_size // TOKEN_STRIDE

    @property
    def stretch_global(self) -> bool:
        """Untiled views at or below the tiling threshold are stretched to a square, not padded (official)."""
        return not self.tiled and self.global_size <= TILING_THRESHOLD[self.version]


MODES: dict[str, dict[str, Mode]] = {
    "v1": {m.name: m for m in (
        Mode("tiny", "v1", 512, 512, False, "512 px stretched, 73 tokens"),
        Mode("small", "v1", 640, 640, False, "640 px stretched, 111 tokens"),
        Mode("base", "v1", 1024, 1024, False, "1024 px padded, 273 tokens"),
        Mode("large", "v1", 1280, 1280, False, "1280 px padded, 421 tokens"),
        Mode("gundam", "v1", 1024, 640, True, "1024 px global view + 640 px tiles (default)"),
        Mode("gundam-m", "v1", 1280, 1024, True, "1280 px global view + 1024 px tiles"),
    )},
    "v2": {m.name: m for m in (
        Mode("gundam", "v2", 1024, 768, True, "1024 px global view + 768 px tiles (default)"),
        Mode("base", "v2", 1024, 1024, False, "1024 px padded, 257 tokens"),
        Mode("small", "v2", 768, 768, False, "768 px stretched, 145 tokens"),
    )},
}
DEFAULT_MODE = "gundam"


def normalize_version(version: str | int) -> str:
    """'v1', '1', 1, 'v2', ... -> 'v1' or 'v2'; anything else is a clear ValueError."""
    v = str(version).lower()
    v = v if v.startswith("v") else f"v{v}"
    if v not in VERSIONS:
        raise ValueError(f"unknown model version {version!r}: use v1 (DeepSeek-OCR) or v2 (DeepSeek-OCR-2)")
    return v


def get_mode(version: str | int, name: str | None = None) -> Mode:
    """Look a mode up by version and name ('default' and None mean gundam)."""
    version = normalize_version(version)
    key = DEFAULT_MODE if name in (None, "", "default") else name.lower()
    try:
        return MODES[version][key]
    except KeyError:
        names = ", ".join(MODES[version])
        raise ValueError(f"unknown mode {name!r} for {version}: choose one of {names}") from None
