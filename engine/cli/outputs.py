"""Where `dsocr` writes, decided and checked before any model is loaded or any image encoded.

`plan_outputs` names every file each input will write (one per format, plus the cropped figures of
markdown; the searchable PDF is one per input file, shared by its pages) and decides per output file what
is left to do: a file that exists is kept (unless --overwrite), a missing one is written, and a page runs
when any of its files is missing. The pages of a multi-page PDF output are kept in a page store in the
output folder until the PDF is written, so a re-run after Ctrl+C assembles it from the pages done before
and the new ones. Inputs that would write the same file as an earlier one, or over an input file, stop the
command before any work. `refuse_existing` guards the single output of
`dump`, `replace_checkpoint` the folders of `convert` and `tiny-checkpoint`.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..outputs.export import ExportError, ExportExistsError, output_stem, safe_name
from ..preprocess.inputs import InputItem


PAGE_STORE = ".dsocr-pages"  # pages of a searchable PDF not written yet, kept for a re-run to finish it


@dataclass
class Target:
    """One input page and the files it writes (`paths` empty: its text goes to stdout).

    Skipping is decided per output file: `write` holds the text formats whose file is missing (all of them
    with --overwrite); `pdf` is the input's searchable PDF when this run writes it, `kept` this page's copy
    in the page store (`PAGE_STORE`) when an interrupted run finished the page before its PDF was written."""

    item: InputItem
    paths: list[Path] = field(default_factory=list)  # one per format, in the order of the formats
    write: list[str] = field(default_factory=list)  # text formats written this run (the PDF: `pdf`)
    existing: list[Path] = field(default_factory=list)  # outputs already there, kept as they are
    pdf: Path | None = None  # the input's searchable PDF, when this run writes it
    page_file: Path | None = None  # this page's place in the page store (a PDF with several pages)
    kept: bool = False  # the page is in the page store already: its PDF page needs no new run

    @property
    def runs(self) -> bool:
        """Whether the model must read this page: a text output is missing, or its PDF needs it."""
        return bool(self.write) or (self.pdf is not None and not self.kept)


def output_files(out: Path, stem: str, formats: list[str]) -> list[Path]:
    """The file each format writes for an input named `stem` (figures aside)."""
    return [out / f"{stem}.{fmt}" for fmt in formats]


def plan_outputs(items: list[InputItem], out: Path | None, formats: list[str], overwrite: bool
                 ) -> tuple[list[Target], list[str]]:
    """(targets, clashes): every page's output files and which of them this run writes, and the problems
    that stop the command before any work (two inputs writing one file, an output replacing an input)."""
    targets: list[Target] = []
    clashes: list[str] = []
    owner: dict[Path, InputItem] = {}
    inputs = {item.path.resolve() for item in items}
    pages_of = Counter(item.path for item in items)
    for item in items:
        if out is None:
            targets.append(Target(item, write=list(formats)))
            continue
        paths = output_files(out, item.stem, formats)
        if "pdf" in formats:  # one searchable PDF per input file, its pages together
            paths[formats.index("pdf")] = out / f"{output_stem(item.path)}.pdf"
        over = next((p for p in paths if p.resolve() in inputs), None)
        if over is not None:
            clashes.append(f"{item.label}: its output {over} would replace an input file; choose another --out")
            continue
        taken = next((p for p in paths if p.resolve() in owner and owner[p.resolve()].path != item.path), None)
        if taken is not None:
            clashes.append(f"{item.label}: its output {taken} would also be written by "
                           f"{owner[taken.resolve()].label}; rename one or give it its own --out")
            continue
        owner.update((p.resolve(), item) for p in paths)
        target = Target(item, paths)
        for fmt, path in zip(formats, paths):
            there = not overwrite and os.path.lexists(path)
            if there:
                target.existing.append(path)
            elif fmt != "pdf":
                target.write.append(fmt)
            else:
                target.pdf = path
                if pages_of[item.path] > 1:
                    target.page_file = out / PAGE_STORE / f"{safe_name(item.stem)}.pdf"
                    target.kept = not overwrite and target.page_file.is_file()
        targets.append(target)
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
