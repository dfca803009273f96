"""Exports: clipboard forms (markdown, plain text, single line, tables as TSV) and files (.md with cropped
figures, .txt, .json, a searchable .pdf), one target or the whole queue (searchable PDFs of the whole queue:
`pdf_export.py`).

Files go through the engine's exporter (atomic writes; figures cropped to `images/<stem>-k.jpg` beside the
markdown), with the user's edited text. An existing file is replaced only when the user confirmed it; batch
exports pick a new name instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from . import engine_bridge as eb

CLIPBOARD_FORMS = {
    "markdown": "Markdown",
    "plain": "Plain text",
    "single": "Single line",
    "tsv": "Tables as TSV",
}
FILE_FORMATS = {"md": "Markdown (*.md)", "txt": "Plain text (*.txt)",
                "json": "JSON with boxes, tiles and timings (*.json)",
                "pdf": "Searchable PDF: the image with its text (*.pdf)"}


def copy_text(kind: str, markdown: str) -> str:
    """Put `markdown` on the clipboard in form `kind`; return the copied text."""
    text = eb.text_form(kind, markdown)
    QGuiApplication.clipboard().setText(text)
    return text


def result_json(item, target) -> dict:
    """The JSON export of one target: the engine's result dict plus the source, page, region and edited text."""
    result = target.result
    data = result.to_dict() if result is not None else {}
    data = {"source": str(item.source) if item.source else None, "page": None if item.page is None else item.page + 1,
            "region": list(target.rect) if target.rect else None, **data}
    data["text"] = target.text
    if result is not None and target.text != result.text:
        data["edited"] = True
    return data


def _json_value(obj):
    """JSON for the odd value in a result dict (a dataclass, a tuple-like, a path)."""
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if hasattr(obj, "__iter__") and not isinstance(obj, (str, bytes)):
        return list(obj)
    return str(obj)


def edited_result(target, image=None):
    """The target's engine result with the user's edited text (and `image`, the image the run saw, when the
    result no longer holds it); None without a result."""
    result = target.result
    if result is None or not dataclasses.is_dataclass(result):
        return None
    edited = dataclasses.replace(result, text=target.text)
    if getattr(edited, "image", None) is None and image is not None:
        edited = dataclasses.replace(edited, image=image)
    return edited


def write_target(path: str | Path, fmt: str, item, target, overwrite: bool = False, image=None) -> list[Path]:
    """Write one target as `path` in format 'md', 'txt', 'json' or 'pdf' (searchable, one page); returns
    every file written.

    `image`: the image the run saw, for figure crops and the PDF page, when the result no longer holds it."""
    path = Path(path)
    if fmt not in FILE_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use md, txt, json or pdf")
    if path.suffix.lstrip(".").lower() != fmt:
        path = path.with_name(f"{path.name}.{fmt}")
    if fmt == "json":
        text = json.dumps(result_json(item, target), indent=1, ensure_ascii=False, default=_json_value) + "\n"
        return [eb.atomic_write(path, text, overwrite=overwrite)]
    edited = edited_result(target, image)
    if edited is not None:
        return list(eb.export_result(edited, path.parent, path.stem, fmt, overwrite=overwrite))
    if fmt == "pdf":
        raise ValueError("a searchable PDF needs an OCR result with its image: run the OCR first")
    text = target.text if fmt == "md" else eb.text_form("plain", target.text)
    return [eb.atomic_write(path, text + "\n", overwrite=overwrite)]


def free_stem(folder: Path, stem: str, formats) -> str:
    """`stem`, or `stem (2)`, `stem (3)`, ...: the first for which none of the formats' files exists."""
    candidate, k = stem, 2
    while any((folder / f"{candidate}.{fmt}").exists() for fmt in formats):
        candidate = f"{stem} ({k})"
        k += 1
    return candidate


def export_queue(folder: str | Path, items, formats: tuple[str, ...] = ("md",), image_for=None) -> list[Path]:
    """Export every target with a result into `folder`; existing files are kept and new names picked.

    `image_for(item, target)` gives the image a run saw, for figure crops."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for item in items:
        for k, target in enumerate(item.targets):
            if target.result is None and not target.text:
                continue
            stem = item.stem if target.rect is None else f"{item.stem}-region{k}"
            stem = free_stem(folder, stem, formats)
            image = image_for(item, target) if image_for is not None and {"md", "pdf"} & set(formats) else None
            for fmt in formats:
                written.extend(write_target(folder / f"{stem}.{fmt}", fmt, item, target, image=image))
    return written
