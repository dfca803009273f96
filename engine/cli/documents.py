"""Whole documents in `dsocr ocr` (Unlimited-OCR): which pages form a document, what it writes, how it runs.

With an Unlimited-OCR model each PDF of two or more pages (after `--pages`) is one document, and `--document`
makes one document of every input's pages in the order given; `--page-by-page` turns documents off. A
document writes each page's files exactly as a page-by-page run does (`report-p001.md`, ...; its pages in
the input's searchable PDF `report.pdf`) plus the whole document in each text format: `report.md` (every
page after a `<!-- page N -->` line, figure links to the pages' figures), `report.txt` (pages separated by
form feeds, as pdftotext writes them), `report.json` (`DocumentResult.to_dict()`: the pages, the document
plan, the notes). A PDF read with `--pages` names its whole files after the first and last page read
(`report-p002-p005.md`); `--document` after its first input (`scan1-document.md`, and a searchable
`scan1-document.pdf` of all its pages when they come from several files).

A document is one unit of work: it is skipped when every one of its files exists, and otherwise read again
whole (the files that exist are kept, unless --overwrite).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..outputs.export import atomic_write, export_json, export_result, output_stem, render, safe_name
from ..outputs.markdown import plain_text
from ..outputs.pages import join_pages
from .outputs import PAGE_STORE, Target


@dataclass
class DocumentTarget:
    """One document: its pages' targets (in order) and its whole-document files."""

    pages: list[Target]
    label: str  # "report.pdf" or "scan1.png + 2 more"
    stem: str  # the whole files' name
    numbered_by_position: bool  # --document: pages are numbered 1, 2, ... (a PDF's: its page numbers)
    whole: dict[str, Path] = field(default_factory=dict)  # format -> whole-document file
    write_whole: list[str] = field(default_factory=list)  # whole files this run writes

    @property
    def existing(self) -> list[Path]:
        return list(dict.fromkeys([p for t in self.pages for p in t.existing] +
                                  [p for f, p in self.whole.items() if f not in self.write_whole]))

    @property
    def missing(self) -> list[Path]:
        pages = [p for t in self.pages for f, p in zip(self._formats(t), t.paths) if f in t.write or p == t.pdf]
        return list(dict.fromkeys(pages + [self.whole[f] for f in self.write_whole]))

    @staticmethod
    def _formats(t: Target) -> list[str]:
        return [p.suffix[1:] for p in t.paths]

    @property
    def runs(self) -> bool:
        return bool(self.write_whole) or any(t.write or t.pdf is not None for t in self.pages)


def group_documents(targets: list[Target], whole_input: bool, first_input: str | None, pages_chosen: bool
                    ) -> tuple[list, list[DocumentTarget]]:
    """(units, documents): the targets in input order with each document's pages replaced by its
    DocumentTarget (at its first page's place). `whole_input`: --document (every target one document);
    else each PDF with two or more pages is one. A document of one page is read as a page."""
    if whole_input:
        groups = {"all": targets}
    else:
        groups: dict[object, list[Target]] = {}
        for t in targets:
            if t.item.page is not None:
                groups.setdefault(t.item.path, []).append(t)
    docs: dict[int, DocumentTarget] = {}
    for key, pages in groups.items():
        if len(pages) < 2:
            continue
        if whole_input:
            names = list(dict.fromkeys(str(t.item.path) for t in pages))
            label = names[0] + (f" + {len(names) - 1} more" if len(names) > 1 else "")
            stem = f"{output_stem(first_input or pages[0].item.path)}-document"
        else:
            label = str(key)
            stem = output_stem(key)
            if pages_chosen:
                stem += f"-p{pages[0].item.page + 1:03d}-p{pages[-1].item.page + 1:03d}"
        doc = DocumentTarget(pages, label, stem, whole_input)
        for t in pages:  # a document is read whole: the page store of page-by-page runs is not used
            t.page_file, t.kept = None, False
        docs[id(pages[0])] = doc
    in_doc = {id(t) for d in docs.values() for t in d.pages}
    units = [docs.get(id(t), t) for t in targets if id(t) in docs or id(t) not in in_doc]
    return units, list(docs.values())


def whole_pdf(doc: DocumentTarget) -> bool:
    """Whether the document needs a searchable PDF of its own: its pages come from several files (a PDF's
    pages already go into that input's searchable PDF)."""
    return len({t.item.path for t in doc.pages}) > 1


def plan_whole_files(docs: list[DocumentTarget], out: Path | None, formats: list[str], overwrite: bool,
                     targets: list[Target]) -> list[str]:
    """Name each document's whole files and decide which are missing; the clashes (a whole file that another
    output or an input would also be)."""
    if out is None:
        return []
    clashes = []
    taken = {p.resolve(): t.item.label for t in targets for p in t.paths}
    inputs = {t.item.path.resolve() for t in targets}
    for doc in docs:
        for fmt in formats:
            if fmt == "pdf" and not whole_pdf(doc):
                continue
            path = out / f"{doc.stem}.{fmt}"
            if path.resolve() in inputs:
                clashes.append(f"{doc.label}: its output {path} would replace an input file; choose another --out")
            elif path.resolve() in taken:
                clashes.append(f"{doc.label}: its whole-document output {path} would also be written by "
                               f"{taken[path.resolve()]}; rename one or give it its own --out")
            taken[path.resolve()] = doc.label
            doc.whole[fmt] = path
            if overwrite or not os.path.lexists(path):
                doc.write_whole.append(fmt)
    return clashes


def page_numbers(doc: DocumentTarget, results) -> list[int]:
    """The page numbers the whole markdown shows: positions with --document, else the PDF's page numbers."""
    if doc.numbered_by_position:
        return list(range(1, len(results) + 1))
    return [r.source.page + 1 if r.source.page is not None else k + 1 for k, r in enumerate(results)]


def whole_text(doc: DocumentTarget, pages: list[Target], result, fmt: str) -> str:
    """The whole document in a text format; markdown links point at the pages' figure files."""
    if fmt == "md":
        texts = [render(r, "md", t.item.stem).rstrip("\n") for t, r in zip(pages, result.pages)]
        return join_pages(texts, page_numbers(doc, result.pages))
    if fmt == "txt":
        return "\f".join(plain_text(r.text) + "\n" for r in result.pages)
    raise ValueError(f"no whole-document text for {fmt!r}")


def document_json(doc: DocumentTarget, pages: list[Target], result) -> dict:
    """The whole document as JSON: its inputs, then `DocumentResult.to_dict()` (pages, plan, notes)."""
    return {"inputs": list(dict.fromkeys(str(t.item.path) for t in pages)), **result.to_dict()}


def write_document(doc: DocumentTarget, pages: list[Target], result, out: Path) -> list[Path]:
    """Write the files a document run writes (only the missing ones: `Target.write`, `Target.pdf`,
    `write_whole`); the whole markdown first. `pages`: the targets that were read (a page that could not be
    loaded is left out), one per `result.pages`. Raises ExportError."""
    from ..outputs.searchable_pdf import SearchablePdf

    written: list[Path] = []
    for t, r in zip(pages, result.pages):
        written += [p for f in t.write for p in export_result(r, out, t.item.stem, f, overwrite=True)]
    pdfs: dict[Path, list] = {}
    for t, r in zip(pages, result.pages):
        if t.pdf is not None:
            pdfs.setdefault(t.pdf, []).append(r)
    if "pdf" in doc.write_whole:
        pdfs[doc.whole["pdf"]] = list(result.pages)
    for path, results in pdfs.items():
        pdf = SearchablePdf()
        for r in results:
            pdf.add(r)
        written.append(pdf.save(path, overwrite=True))
    whole = []
    for fmt in doc.write_whole:
        if fmt in ("md", "txt"):
            whole.append(atomic_write(doc.whole[fmt], whole_text(doc, pages, result, fmt), overwrite=True))
        elif fmt == "json":
            whole.append(export_json(doc.whole[fmt], document_json(doc, pages, result), overwrite=True))
    _drop_kept_pages(pages, out)
    return whole + written


def _drop_kept_pages(pages: list[Target], out: Path) -> None:
    """Pages an interrupted page-by-page run kept for the input's PDF: the document's PDF replaces them."""
    store = out / PAGE_STORE
    if not store.is_dir():
        return
    for t in pages:
        (store / f"{safe_name(t.item.stem)}.pdf").unlink(missing_ok=True)
    try:
        store.rmdir()
    except OSError:  # other inputs' pages are still kept there
        pass


def generated_tokens(result) -> int:
    """Tokens generated for the whole document (each part once: its pages share the part's count)."""
    return sum(result.pages[a].generated_tokens for a, _ in result.plan.ranges if a < len(result.pages))

