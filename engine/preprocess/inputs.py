"""Expand what a user gives (files, folders, PDFs with page ranges) into a list of pages to OCR.

Each `InputItem` is one image: a file, or one page of a PDF. Problems are kept on the item (`error`) instead
of stopping the batch, so the good inputs still produce their outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .images import ImageError, check_image, open_image, special_file
from .pdf import DEFAULT_DPI, parse_page_ranges, pdf_page_count, render_pdf_pages

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".jfif", ".heic", ".heif"}


@dataclass
class InputItem:
    """One page to OCR: where it comes from, how its outputs are named, and any error found on the way."""

    path: Path
    page: int | None = None  # 0-based PDF page index, None for an image file
    dpi: int = DEFAULT_DPI
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path} page {self.page + 1}" if self.page is not None else str(self.path)

    @property
    def stem(self) -> str:
        from ..outputs.export import output_stem

        return output_stem(self.path, None if self.page is None else self.page + 1)

    def check(self) -> None:
        """Raise ImageError when the input cannot be used, reading only an image's header (PDF pages were
        counted by `expand_inputs` already)."""
        if self.page is None:
            check_image(self.path)

    def load(self) -> Image.Image:
        """The page as an RGB image (raises ImageError / InputError with a clear message)."""
        if self.page is None:
            return open_image(self.path)
        ((_, img),) = list(render_pdf_pages(self.path, [self.page], self.dpi))
        return img


def is_pdf(path: Path) -> bool:
    if path.suffix.lower() == ".pdf":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and (p.suffix.lower() in IMAGE_SUFFIXES or
                                                                      p.suffix.lower() == ".pdf"))


def expand_inputs(paths, pages: str | None = None, dpi: int = DEFAULT_DPI) -> list[InputItem]:
    """Files, folders (their images and PDFs, sorted, not recursive) and PDF pages, in order."""
    items: list[InputItem] = []
    for raw in paths:
        path = Path(os.path.expanduser(str(raw)))
        try:
            is_dir = path.is_dir()
            files = _folder_files(path) if is_dir else []
        except PermissionError:
            items.append(InputItem(path, error=f"{path}: permission denied; check the permissions of the folder"))
            continue
        except OSError as e:
            items.append(InputItem(path, error=f"{path}: cannot be read ({e.strerror or e})"))
            continue
        if is_dir:
            if not files:
                items.append(InputItem(path, error=f"{path}: the folder holds no images or PDFs (subfolders are not searched); "
                                                    "check the path"))
            for f in files:
                items += _expand_file(f, pages, dpi)
        else:
            items += _expand_file(path, pages, dpi)
    return items


def _expand_file(path: Path, pages: str | None, dpi: int) -> list[InputItem]:
    try:
        exists = path.exists()
    except PermissionError:
        return [InputItem(path, error=f"{path}: permission denied; check the permissions of its folder")]
    if not exists:
        return [InputItem(path, error=f"{path}: no such file; check the path")]
    special = special_file(path)
    if special:  # a named pipe would block the first read forever
        return [InputItem(path, error=f"{path}: {special}")]
    if not is_pdf(path):
        return [InputItem(path, dpi=dpi)]
    try:
        n = pdf_page_count(path)
        return [InputItem(path, p, dpi) for p in parse_page_ranges(pages, n)]
    except ImageError as e:
        return [InputItem(path, error=str(e))]
