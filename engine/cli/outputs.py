"""Where `dsocr` writes, decided and checked before any model is loaded or any image encoded.

`plan_outputs` names every file each input will write (one per format, plus the cropped figures of
markdown; the searchable PDF is one per input file, shared by its pages) and finds the inputs whose outputs
already exist (skipped unless --overwrite; a PDF's pages together) and the inputs that would write the same
file as an earlier one, or over an input file (failed). `refuse_existing` guards the single output of
`dump`, `replace_checkpoint` the folders of `convert` and `tiny-checkpoint`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..outputs.export import FIGURE_DIR, ExportError, ExportExistsError, output_stem, safe_name
from ..preprocess.inputs import InputItem


@dataclass
class Target:
    """One input and the files it will write (empty: its text goes to stdout)."""

    item: InputItem
    paths: list[Path] = field(default_factory=list)  # one per format, in the order of the formats
    existing: list[Path] = field(default_factory=list)  # outputs already there (the input is skipped)


def output_files(out: Path, stem: str, formats: list[str]) -> list[Path]:
    """The file each format writes for an input named `stem` (figures aside)."""
    return [out / f"{stem}.{fmt}" for fmt in formats]


def existing_figures(out: Path, stem: str) -> list[Path]:
    """Figure files of an earlier markdown export of `stem` (`images/<stem>-<k>.jpg`)."""
    folder = out / FIGURE_DIR
    pattern = re.compile(rf"{re.escape(safe_name(stem))}-\d+\.jpg")
    try:
        return sorted(folder / n for n in os.listdir(folder) if pattern.fullmatch(n))
    except OSError:
        return []


def plan_outputs(items: list[InputItem], out: Path | None, formats: list[str], overwrite: bool
                 ) -> tuple[list[Target], list[tuple[InputItem, str]]]:
    """(targets, clashes): every input's output files, and the inputs whose files an earlier input writes."""
    targets: list[Target] = []
    clashes: list[tuple[InputItem, str]] = []
    owner: dict[Path, InputItem] = {}
    inputs = {item.path.resolve() for item in items}
    for item in items:
        if out is None:
            targets.append(Target(item))
            continue
        paths = output_files(out, item.stem, formats)
        if "pdf" in formats:  # one searchable PDF per input file, its pages together
            paths[formats.index("pdf")] = out / f"{output_stem(item.path)}.pdf"
        over = next((p for p in paths if p.resolve() in inputs), None)
        if over is not None:
            clashes.append((item, f"{item.label}: its output {over} would replace an input file; "
                                  "choose another --out"))
            continue
        taken = next((p for p in paths if p.resolve() in owner and owner[p.resolve()].path != item.path), None)
        if taken is not None:
            clashes.append((item, f"{item.label}: its output {taken} would also be written by "
                                  f"{owner[taken.resolve()].label}; rename one or give it its own --out"))
            continue
        owner.update((p.resolve(), item) for p in paths)
        existing = [] if overwrite else [p for p in paths if os.path.lexists(p)]
        if not overwrite and "md" in formats:
            existing += existing_figures(out, item.stem)
        targets.append(Target(item, paths, existing))
    if "pdf" in formats:  # a PDF needs all its input's pages: one page's outputs there skip the whole input
        for path in {t.item.path for t in targets if t.existing}:
            pages = [t for t in targets if t.item.path == path]
            found = [p for t in pages for p in t.existing]
            for t in pages:
                t.existing = t.existing or found[:1]
    return targets, clashes


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Raise ExportExistsError when `path` is a file or a non-empty folder and not `overwrite`."""
    if overwrite or not os.path.lexists(path):
        return
    if path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as e:
            raise ExportError(f"{path}: cannot be read ({e.strerror or e}); choose another folder") from None
        if empty:
            return
        raise ExportExistsError(f"{path}: the folder exists and is not empty; choose another folder or add "
                                "--overwrite to replace its files")
    raise ExportExistsError(f"{path}: already exists; choose another name or add --overwrite to replace it")


def replace_checkpoint(folder: Path, overwrite: bool) -> None:
    """Before a checkpoint is written into `folder`: refuse an existing one unless `overwrite`, and then drop
    its weight files (a stale shard left beside the new weights would be loaded with them)."""
    refuse_existing(folder, overwrite)
    if folder.is_dir():
        for f in [*folder.glob("*.safetensors"), *folder.glob("*.safetensors.index.json")]:
            f.unlink()
