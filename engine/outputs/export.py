"""Write results to disk: atomic writes, no silent overwrite, figures cropped beside the markdown.

Every file is written to a temporary file in the target folder and renamed into place, so a crash or a
full disk never leaves half a file. An existing file is only replaced with `overwrite=True`. File names that
come from model output are never used as paths: figure names are generated here and checked to stay inside
the export folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FORMATS = ("md", "txt", "json")


class ExportError(OSError):
    """A result could not be written. The message names the path and what to do."""


def output_stem(input_path: str | os.PathLike, page: int | None = None) -> str:
    """`scan.png` -> `scan`; page 3 (1-based) of `report.pdf` -> `report-p003`."""
    stem = Path(input_path).stem or "clipboard"
    return f"{stem}-p{page:03d}" if page is not None else stem


def unique_path(path: str | os.PathLike) -> Path:
    """`path` if free, else `name (2).ext`, `name (3).ext`, ..."""
    path = Path(path)
    if not path.exists():
        return path
    k = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({k}){path.suffix}")
        if not candidate.exists():
            return candidate
        k += 1


def atomic_write(path: str | os.PathLike, data: bytes | str, overwrite: bool = False) -> Path:
    """Write `data` to `path` via a temporary file and a rename. Raises ExportError (clear message)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ExportError(f"{path}: already exists; choose another name or allow overwriting")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except PermissionError:
        raise ExportError(f"{path.parent}: permission denied; choose a folder you can write to") from None
    except OSError as e:
        raise ExportError(f"{path.parent}: cannot write here ({e.strerror or e}); choose another folder") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{path}: write failed ({e.strerror or e}); check the disk and try again") from None
    return path


def _inside(folder: Path, name: str) -> Path:
    target = (folder / name).resolve()
    if folder.resolve() not in target.parents:
        raise ExportError(f"{name}: refusing to write outside the export folder {folder}")
    return target


def figure_name(stem: str, fig) -> str:
    """`images/k.jpg` of the official script, made unique per input: `images/<stem>-k.jpg`."""
    return fig.name.replace("images/", f"images/{stem}-", 1)


def export_figures(folder: Path, stem: str, figures, image, overwrite: bool = False) -> list[Path]:
    """Crop each figure (grounding box) from `image` into `folder/images/<stem>-k.jpg`."""
    if image is None or not figures:
        return []
    import io

    written = []
    for fig in figures:
        box = fig.box(image.size)
        if box.x1 - box.x0 < 1 or box.y1 - box.y0 < 1:
            continue
        buf = io.BytesIO()
        image.crop(box.rect).convert("RGB").save(buf, "JPEG", quality=92)
        written.append(atomic_write(_inside(folder, figure_name(stem, fig)), buf.getvalue(), overwrite))
    return written


def render(result, fmt: str, stem: str | None = None) -> str:
    """The text of a result in one export format (md, txt, json); `stem` names the markdown's figures."""
    from .markdown import plain_text

    if fmt == "md":
        text = result.text
        for fig in result.figures if stem else ():
            text = text.replace(f"]({fig.name})", f"]({figure_name(stem, fig)})")
        return text + "\n"
    if fmt == "txt":
        return plain_text(result.text) + "\n"
    if fmt == "json":
        return json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def export_result(result, folder: str | os.PathLike, stem: str, fmt: str = "md", overwrite: bool = False) -> list[Path]:
    """Write `stem.<fmt>` (and, for markdown, its cropped figures) into `folder`; return the paths written."""
    folder = Path(folder)
    path = _inside(folder, f"{stem}.{fmt}")
    if path.exists() and not overwrite:
        raise ExportError(f"{path}: already exists; use another output folder or --overwrite")
    written = [atomic_write(path, render(result, fmt, stem), overwrite)]
    if fmt == "md":
        written += export_figures(folder, stem, result.figures, result.image, overwrite)
    return written
