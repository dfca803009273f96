"""The app's one door to the engine: every engine name the app uses, taken from `import engine`.

Other modules call the engine only through the names here, so an engine change is met in one place. The
few adaptations the app needs (an "all pages" range, one PDF page at a time, the clipboard forms by name)
live here too.
"""

from __future__ import annotations

import os
from pathlib import Path

import engine

ImageError = engine.ImageError
CheckpointError = engine.CheckpointError
ExportError = engine.ExportError
MODES = engine.MODES
TILE_RANGE: dict[str, tuple[int, int]] = engine.TILE_RANGE
DEFAULT_TILES: dict[str, tuple[int, int]] = engine.DEFAULT_TILES
DEFAULT_MODE = engine.get_mode("v2").name  # the mode planned when none is named
VERSIONS = tuple(MODES)
HUB_MODELS: dict[str, str] = dict(engine.DEFAULT_REPOS)
TASKS = tuple(engine.TASKS)

plan = engine.plan
open_image = engine.open_image
atomic_write = engine.atomic_write
unique_path = engine.unique_path
output_stem = engine.output_stem
export_result = engine.export_result
write_tiny_checkpoint = engine.write_tiny_checkpoint
is_pdf = engine.is_pdf


def engine_version() -> str:
    return getattr(engine, "__version__", "unknown")


# ---- the inference runtime ----------------------------------------------------------------------------------

RUNTIME_MISSING = ("This build of the engine cannot run models (engine.load / engine.stream are missing); "
                   "planning and preview still work.")


def has_runtime() -> bool:
    """True when the engine can load a model and stream a run."""
    return callable(getattr(engine, "load", None)) and callable(getattr(engine, "stream", None))


def load_model(source: str | os.PathLike, progress=None, *, dtype: str | None = None,
               memory_limit_gb: float | None = None, load_progress=None):
    """`engine.load(source, progress=..., ...)`; raises CheckpointError with a plain message. `dtype` None or
    "auto": the device's default; `load_progress(done_bytes, total_bytes)` while the weights are read."""
    return engine.load(source, progress=progress, dtype=None if dtype in (None, "", "auto") else dtype,
                       memory_limit_gb=memory_limit_gb or None, load_progress=load_progress)


def stream(model, image, **options):
    """`engine.stream(model, image, **options)`: TextDelta events, then one Result."""
    return engine.stream(model, image, **options)


def is_result(event) -> bool:
    """The final event of `stream` (an engine.Result), as opposed to a TextDelta."""
    return isinstance(event, engine.Result)


def hub_download_size(repo_id: str) -> int | None:
    """Bytes a first download of `repo_id` takes (None when unknown or offline)."""
    try:
        return engine.hub_download_size(repo_id)
    except Exception:  # noqa: BLE001 - informative only
        return None


is_repo_id = engine.is_repo_id


# ---- outputs -----------------------------------------------------------------------------------------------

_FORMS = {"plain": engine.plain_text, "single": engine.single_line, "tsv": engine.tables_tsv}


def clean_markdown(raw: str) -> str:
    """Markdown of raw model output: grounding tags removed, figures linked."""
    return engine.clean_markdown(raw)[0]


def text_form(kind: str, markdown: str) -> str:
    """The markdown in one of the clipboard forms: 'markdown', 'plain', 'single', 'tsv'."""
    return markdown if kind == "markdown" else _FORMS[kind](markdown)


# ---- PDF input --------------------------------------------------------------------------------------------

def pdf_page_count(path) -> int:
    return int(engine.pdf_page_count(path))


def parse_page_ranges(text: str, count: int) -> list[int]:
    """'1-3,5' -> [0, 1, 2, 4] (0-based); '' or 'all' -> every page. A bad range raises ValueError."""
    text = (text or "").strip()
    return [int(p) for p in engine.parse_page_ranges(None if text.lower() in ("", "all") else text, count)]


def render_pdf_page(path, page: int, dpi: int = 144):
    """One page (0-based) of a PDF as an RGB PIL image (raises ImageError)."""
    for _index, image in engine.render_pdf_pages(path, [page], dpi):
        return image
    raise ImageError(f"{Path(path)}: page {page + 1} could not be rendered")
