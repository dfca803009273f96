"""The named resolution modes of every model version, as data (global size, tile size, tiling on/off).

A mode is not a code path: the planner and the preprocessor read these numbers and nothing else.
Unlimited-OCR ("unlimited") is DeepSeek-OCR v1's vision with another language model: v1's modes and token
layout (`FAMILY`), but the official single-page tiling searches up to 32 tiles (`dynamic_preprocess`'s own
default in `modeling_unlimitedocr.py`), and a document's pages are each read in the "base" mode.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSIONS = ("v1", "v2", "unlimited")
# the vision encoder and embedding layout each version uses ("v1": SAM + CLIP with newlines, "v2": causal flow)
FAMILY = {"v1": "v1", "v2": "v2", "unlimited": "v1"}
VERSION_NAMES = {"v1": "DeepSeek-OCR", "v2": "DeepSeek-OCR-2", "unlimited": "Unlimited-OCR"}

# Tiling happens only when a side exceeds this (hard-coded in the official processors).
TILING_THRESHOLD = {"v1": 640, "v2": 768, "unlimited": 640}
# Inclusive user-settable range and defaults of the tile count.
TILE_RANGE = {"v1": (1, 9), "v2": (1, 6), "unlimited": (1, 32)}
DEFAULT_TILES = {"v1": (2, 9), "v2": (2, 6), "unlimited": (2, 32)}
# the mode each page of a whole document is read in (Unlimited-OCR's `infer_multi(image_size=1024)`)
DOCUMENT_MODE = "base"
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
MODES["unlimited"] = {name: Mode(name, "unlimited", m.global_size, m.tile_size, m.tiled, m.description)
                      for name, m in MODES["v1"].items()}
DEFAULT_MODE = "gundam"


def normalize_version(version: str | int) -> str:
    """'v1', '1', 1, 'v2', 'unlimited', 'unlimited-ocr' ... -> a name of VERSIONS; else a clear ValueError."""
    v = str(version).lower().replace("_", "-")
    if v in ("unlimited", "unlimited-ocr", "u"):
        return "unlimited"
    v = v if v.startswith("v") else f"v{v}"
    if v not in VERSIONS:
        raise ValueError(f"unknown model version {version!r}: use v1 (DeepSeek-OCR), v2 (DeepSeek-OCR-2) or "
                         "unlimited (Unlimited-OCR)")
    return v


def family(version: str) -> str:
    """The vision encoder and token layout of `version`: 'v1' (SAM + CLIP) or 'v2' (SAM + causal flow)."""
    return FAMILY[normalize_version(version)]


def get_mode(version: str | int, name: str | None = None) -> Mode:
    """Look a mode up by version and name ('default' and None mean gundam)."""
    version = normalize_version(version)
    key = DEFAULT_MODE if name in (None, "", "default") else name.lower()
    try:
        return MODES[version][key]
    except KeyError:
        names = ", ".join(MODES[version])
        raise ValueError(f"unknown mode {name!r} for {version}: choose one of {names}") from None
