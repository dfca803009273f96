"""Exports: clipboard forms (markdown, plain text, single line, tables as TSV) and file formats (.md with cropped
figures, .txt, .json, a searchable .pdf), one target (the whole queue: `queue_export.py`; its searchable PDFs are
one per source file: `pdf_export.py`).

File formats are data (`FILE_FORMATS`: key -> `FileFormat` with its dialog filter and writer), so a new format
is one entry. Files go through the engine's exporters (atomic writes, the engine's JSON conventions; figures
cropped to `images/<stem>-k.jpg` beside the markdown), with the user's edited text. An existing file is
replaced only when the user confirmed it; batch exports pick a new name instead.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from . import engine_bridge as eb

CLIPBOARD_FORMS = {
    "markdown": "Markdown",
    "plain": "Plain text",
    "single": "Single line",
    "tsv": "Tables as TSV",
}


def copy_text(kind: str, markdown: str) -> str:
    """Put `markdown` on the clipboard in form `kind`; return the copied text. Qt makes and owns the clipboard's
    data (`setText`): a QMimeData made in Python and left on the clipboard crashes the interpreter at exit."""
    text = eb.text_form(kind, markdown)
    QGuiApplication.clipboard().setText(text)
    return text


def is_whole_document(item, target) -> bool:
    """Whether `target` is a document item's whole document (its pages are the other targets)."""
    return bool(item.pages) and target is item.targets[0]


def result_json(item, target) -> dict:
    """The JSON export of one target: the engine's result dict plus the source, page, region and edited text; a
    whole document's lists its pages' too."""
    result = target.result
    data = result.to_dict() if result is not None else {}
    page = target.page if target.page is not None else item.page
    data = {"source": str(item.source) if item.source else None, "page": None if page is None else page + 1,
            "region": list(target.rect) if target.rect else None, **data}
    data["text"] = target.text
    if result is not None and target.text != result.text:
        data["edited"] = True
    if is_whole_document(item, target):
        data["document_pages"] = [result_json(item, t) for t in item.targets[1:]]
    return data


def edited_result(target, image) -> eb.Result | None:
    """The target's result with the user's text (and the image, for figure crops)."""
    if target.result is None:
        return None
    edited = dataclasses.replace(target.result, text=target.text)
    if edited.image is None and image is not None:
        edited = dataclasses.replace(edited, image=image)
    return edited


def _write_md(path: Path, item, target, overwrite: bool, image) -> list[Path]:
    result = edited_result(target, image)
    if result is None or is_whole_document(item, target):  # a document's markdown: its pages', as shown
        return [eb.atomic_write(path, target.text + "\n", overwrite=overwrite)]
    return list(eb.export_result(result, path.parent, path.stem, "md", overwrite=overwrite))


def _write_txt(path: Path, item, target, overwrite: bool, image) -> list[Path]:
    return [eb.atomic_write(path, eb.text_form("plain", target.text) + "\n", overwrite=overwrite)]


def _write_json(path: Path, item, target, overwrite: bool, image) -> list[Path]:
    return [eb.export_json(path, result_json(item, target), overwrite=overwrite)]


def _write_pdf(path: Path, item, target, overwrite: bool, image) -> list[Path]:
    result = edited_result(target, image)
    if result is None or result.image is None:
        raise ValueError("a searchable PDF needs an OCR result and its image: run the OCR first")
    return list(eb.export_result(result, path.parent, path.stem, "pdf", overwrite=overwrite))


@dataclass(frozen=True)
class FileFormat:
    key: str  # also the file suffix
    filter: str  # the file dialog's filter text
    write: Callable  # write(path, item, target, overwrite, image) -> list[Path], the main file first
    needs_image: bool = False  # whether the writer crops from the image the run saw


FILE_FORMATS: dict[str, FileFormat] = {f.key: f for f in (
    FileFormat("md", "Markdown (*.md)", _write_md, needs_image=True),
    FileFormat("txt", "Plain text (*.txt)", _write_txt),
    FileFormat("json", "JSON with boxes, tiles and timings (*.json)", _write_json),
    FileFormat("pdf", "Searchable PDF (*.pdf)", _write_pdf, needs_image=True),
)}

# the "Export all" choices: label -> format keys
EXPORT_CHOICES: dict[str, tuple[str, ...]] = {
    "Markdown and JSON": ("md", "json"),
    **{f.filter.split(" (")[0]: (f.key,) for f in FILE_FORMATS.values()},
    "Every format": tuple(FILE_FORMATS),
}


def write_target(path: str | Path, fmt: str, item, target, overwrite: bool = False, image=None) -> list[Path]:
    """Write one target as `path` in format `fmt` (a key of FILE_FORMATS); returns every file written.

    `image`: the image the run saw, for figure crops, when the result no longer holds it."""
    path = Path(path)
    if fmt not in FILE_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use {', '.join(FILE_FORMATS)}")
    if path.suffix.lstrip(".").lower() != fmt:
        path = path.with_name(f"{path.name}.{fmt}")
    return FILE_FORMATS[fmt].write(path, item, target, overwrite, image)


def free_stem(folder: Path, stem: str, formats) -> str:
    """`stem`, or the next name the engine picks (`stem (2)`, `stem (3)`, ...: `engine.unique_path`) until none
    of the formats' files exists."""
    while True:
        taken = next((fmt for fmt in formats if os.path.lexists(folder / f"{stem}.{fmt}")), None)
        if taken is None:
            return stem
        stem = eb.unique_path(folder / f"{stem}.{taken}").name[: -len(taken) - 1]
