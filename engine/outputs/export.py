"""Write results to disk: atomic writes, no silent overwrite, figures cropped beside the markdown.

Every file is written to a temporary file in the target folder and then moved into place (a hard link when
the file must not exist yet, so even a file created meanwhile is never replaced; `os.replace` otherwise), so
a crash or a full disk never leaves half a file. An existing file is only replaced with `overwrite=True`.
File names never come from model output: figure files are named here (`images/<stem>-<k>.jpg`, with the
stem reduced to safe characters) and every target is checked to stay inside the export folder.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import re
import tempfile
from pathlib import Path

FORMATS = ("md", "txt", "json", "pdf")  # pdf: a searchable PDF (searchable_pdf.py)
FIGURE_DIR = "images"


class ExportError(OSError):
    """A result could not be written. The message names the path and what to do."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.errno = code


class ExportExistsError(ExportError, FileExistsError):
    """The target exists and overwriting was not allowed."""

    def __init__(self, message: str):
        super().__init__(message, errno.EEXIST)


class ExportPermissionError(ExportError, PermissionError):
    """The target folder (or file) cannot be written."""

    def __init__(self, message: str):
        super().__init__(message, errno.EACCES)


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


_UMASK: int | None = None


def _file_mode() -> int:
    """The mode a new file gets with this process's umask (mkstemp's files are 0600)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _folder_error(folder: Path, e: OSError) -> ExportError:
    if isinstance(e, PermissionError):
        return ExportPermissionError(f"{folder}: permission denied (the folder is read-only or not yours); "
                     f"choose a folder you can write to")
    return ExportError(f"{folder}: cannot write here ({e.strerror or e}); choose another folder")


def atomic_write(path: str | os.PathLike, data: bytes | str, overwrite: bool = False) -> Path:
    """Write `data` (str as UTF-8) to `path` via a temporary file in the same folder and a rename.

    Raises ExportExistsError (a FileExistsError) when `path` exists and not `overwrite`,
    ExportPermissionError (a PermissionError) for a folder that cannot be written, ExportError otherwise."""
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting")
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; choose a file name")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _folder_error(folder, e) from e
    try:
        try:
            mode = path.stat().st_mode & 0o7777 if overwrite and path.exists() else _file_mode()
            os.fchmod(fd, mode)
        except (OSError, AttributeError):  # fchmod is missing on Windows; the mode is cosmetic
            pass
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_new(tmp, path)
    except ExportError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, PermissionError):
            raise _folder_error(folder, e) from e
        raise ExportError(f"{path}: write failed ({e.strerror or e}); check the disk and try again") from e
    return path


def _move_new(tmp: str, path: Path) -> None:
    """Move `tmp` to `path`, which must not exist (checked atomically where the file system has hard links)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting") from None
    except OSError:  # no hard links here (FAT, some network drives): check, then rename
        if os.path.lexists(path):
            raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


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


def export_text(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write `text` as a UTF-8 text file (ending in a newline)."""
    return atomic_write(path, text if text.endswith("\n") else text + "\n", overwrite)


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
