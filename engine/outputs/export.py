"""Write results to disk: atomic writes, no silent overwrite, figures cropped beside the markdown.

Every file is written to a temporary file in the target folder and then moved into place (a hard link when
the file must not exist yet, so even a file created meanwhile is never replaced; `os.replace` otherwise), so
a crash or a full disk never leaves half a file. An existing file is only replaced with `overwrite=True`.
File names never come from model output: figure files are named here (`images/<stem>-<k>.jpg`, with the
stem reduced to safe characters) and every target is checked to stay inside the export folder.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
from pathlib import Path

from .files import ExportError, ExportExistsError, ExportPermissionError, atomic_write  # noqa: F401

FORMATS = ("md", "txt", "json", "pdf")  # pdf: a searchable PDF (searchable_pdf.py)
FIGURE_DIR = "images"


def output_stem(input_path: str | os.PathLike, page: int | None = None) -> str:
    """`scan.png` -> `scan`; page 3 (1-based) of `report.pdf` -> `report-p003`."""
    stem = Path(input_path).stem or "clipboard"
    return f"{stem}-p{page:03d}" if page is not None else stem


_NUMBERED_RE = re.compile(r"^(.*) \((\d+)\)$")


def unique_path(path: str | os.PathLike) -> Path:
    """`path` if free, else `name (2).ext`, `name (3).ext`, ... (`name (2).ext` continues at `name (3).ext`)."""
    path = Path(path)
    if not os.path.lexists(path):
        return path
    suffix = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    m = _NUMBERED_RE.match(stem)
    base, k = (m.group(1), int(m.group(2)) + 1) if m else (stem, 2)
    while True:
        candidate = path.with_name(f"{base} ({k}){suffix}")
        if not os.path.lexists(candidate):
            return candidate
        k += 1


def _inside(folder: Path, name: str) -> Path:
    """folder/name, refusing any name that would resolve outside `folder` (`..`, absolute paths, links)."""
    root = folder.resolve()
    target = (root / name).resolve()
    if target == root or root not in target.parents:
        raise ExportError(f"{name}: refusing to write outside the export folder {folder}")
    return folder / name  # as the caller named the folder (a relative folder stays relative in messages)


def safe_name(stem: str) -> str:
    """`stem` reduced to letters, digits, `.`, `-` and `_` (other runs become `_`): a plain file name."""
    name = re.sub(r"[^\w.-]+", "_", str(stem), flags=re.UNICODE).strip("._")
    return name or "page"


def figure_name(stem: str, k: int) -> str:
    """The relative path of figure k of an export named `stem`: `images/<stem>-<k>.jpg`."""
    return f"{FIGURE_DIR}/{safe_name(stem)}-{int(k)}.jpg"


def _figure_jpegs(stem: str, figures, image) -> list[tuple[str, str, bytes]]:
    """(markdown name, new relative path, JPEG bytes) for each figure that has at least one pixel."""
    if image is None or not figures:
        return []
    from .markdown import crop_figures

    crops = dict(crop_figures(image, figures))
    out = []
    for k, (name, _box) in enumerate(figures):
        if name not in crops:
            continue
        buf = io.BytesIO()
        crops[name].save(buf, "JPEG", quality=92)
        out.append((name, figure_name(stem, k), buf.getvalue()))
    return out


def export_markdown(result_dir: str | os.PathLike, stem: str, markdown: str, figures=(), image=None,
                    overwrite: bool = False) -> list[Path]:
    """Write `result_dir/stem.md` and the cropped figures as `result_dir/images/<stem>-<k>.jpg`.

    `markdown` and `figures` come from `clean_markdown`; the `images/k.jpg` links are rewritten to the new
    names. Figures are cropped from `image` (the original image). Nothing is written when any target exists
    and not `overwrite`. Returns the paths written, the markdown first."""
    folder = Path(result_dir)
    md_path = _inside(folder, f"{stem}.md")
    jpegs = _figure_jpegs(stem, figures, image)
    targets = [(_inside(folder, rel), data) for _, rel, data in jpegs]
    if not overwrite:
        for p in [md_path] + [t for t, _ in targets]:
            if os.path.lexists(p):
                raise ExportExistsError(f"{p}: already exists; use another output folder or allow overwriting")
    text = markdown
    for name, rel, _ in jpegs:
        text = text.replace(f"]({name})", f"]({rel})")
    for name, _box in figures if image is not None else ():
        if name not in {n for n, _, _ in jpegs}:  # a figure without pixels: drop its link
            text = text.replace(f"![]({name})\n", "").replace(f"![]({name})", "")
    if not text.endswith("\n"):
        text += "\n"
    written = []
    for target, data in targets:
        written.append(atomic_write(target, data, overwrite))
    return [atomic_write(md_path, text, overwrite)] + written


def _json_default(obj):
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "tolist"):  # numpy / mlx arrays and scalars
        return obj.tolist()
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def to_json(obj, indent: int | None = 2) -> str:
    """`obj` as pretty UTF-8 JSON text (objects with `to_dict`, dataclasses, paths, arrays allowed);
    `indent=None`: one line, for JSON Lines."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, default=_json_default, allow_nan=False) + "\n"


def export_json(path: str | os.PathLike, obj, overwrite: bool = False) -> Path:
    """Write `obj` as JSON (see `to_json`)."""
    try:
        text = to_json(obj)
    except ValueError as e:  # NaN / infinity
        raise ExportError(f"{path}: the result holds a value JSON cannot store ({e})") from e
    return atomic_write(path, text, overwrite)


# ---- whole results (what the CLI writes) ----------------------------------------------------------------

def render(result, fmt: str, stem: str | None = None) -> str:
    """The text of a result in one text export format (md, txt, json); with `stem`, markdown links point at
    the figure files `export_result` writes."""
    from .markdown import plain_text

    if fmt == "md":
        text = result.text
        for k, (name, _box) in enumerate(getattr(result, "figures", None) or ()) if stem else ():
            text = text.replace(f"]({name})", f"]({figure_name(stem, k)})")
        return text if text.endswith("\n") else text + "\n"
    if fmt == "txt":
        return plain_text(result.text) + "\n"
    if fmt == "json":
        return to_json(result.to_dict())
    if fmt == "pdf":
        raise ValueError("pdf is not a text format: write it with export_result(..., fmt='pdf')")
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def export_result(result, folder: str | os.PathLike, stem: str, fmt: str = "md", overwrite: bool = False) -> list[Path]:
    """Write `folder/stem.<fmt>` (and, for markdown, its cropped figures); return the paths written.
    `fmt="pdf"` writes a one-page searchable PDF (several pages in one PDF: `searchable_pdf.SearchablePdf`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    folder = Path(folder)
    if fmt == "pdf":
        from .searchable_pdf import export_searchable_pdf

        return [export_searchable_pdf(_inside(folder, f"{stem}.pdf"), [result], overwrite)]
    if fmt == "md":
        return export_markdown(folder, stem, result.text, getattr(result, "figures", None) or [],
                               getattr(result, "image", None), overwrite)
    path = _inside(folder, f"{stem}.{fmt}")
    if fmt == "txt":
        return [atomic_write(path, render(result, "txt"), overwrite)]
    return [export_json(path, result.to_dict(), overwrite)]
