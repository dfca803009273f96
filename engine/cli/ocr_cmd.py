"""`dsocr ocr INPUT...`: OCR images, folders and PDF pages; stream one, batch many, write outputs.

Before any model work, every input is checked (an image's header, a PDF's pages) and, with `--out`, every
output file is named (`scan.png` -> `scan.md`, page 3 of `report.pdf` -> `report-p003.md`) and decided on
one by one: a file that exists is kept (unless `--overwrite`) and a page runs only for its missing files, so
running a stopped batch again finishes it. Two inputs that would write one file stop the command (exit 2)
before any work. Without `--out` nothing is written: the text goes to stdout, each page under a
`==> name <==` header when there are several, as `head` prints them (JSON: one object per line); a
terminal sees the raw text as it decodes, a file or pipe gets each finished result once, in `--format` (so
a rolled-back repetition loop never reaches it). `--format md,pdf` writes several formats (with `--out`);
`pdf` is one searchable PDF per input (`report.pdf` -> `FOLDER/report.pdf`, its OCR'd pages in order),
written when the input's last page is done; until then its finished pages are kept in the output folder's
page store (`outputs.PAGE_STORE`), where a re-run finds them. A bad input gets one line on stderr and the
others still run; the exit code is 1 if any input failed (see `report.EXIT_CODES`).

With an Unlimited-OCR model a PDF is one document (`engine.stream_document`: all its pages in one prompt),
`--document` makes one document of all the inputs, `--page-by-page` reads pages one by one; what a document
writes and when it is skipped: `documents`. Its text streams as it decodes, page marks included.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from ..language.prompt import TASKS
from ..options import DEFAULTS as D
from ..outputs.export import FORMATS, ExportError, export_result, render, to_json
from ..outputs.markdown import MATH_STYLES, TABLE_STYLES
from ..preprocess.explain import grid_reason
from ..preprocess.images import ImageError
from ..preprocess.inputs import InputItem, expand_inputs
from ..weights.checkpoint import DEFAULT_REPOS
from . import report
from .documents import DocumentTarget, generated_tokens, group_documents, plan_whole_files, write_document
from .options import add_document_options, add_grid_option, add_pdf_options, add_tile_options, number
from .outputs import plan_outputs

DEFAULT_MODEL = DEFAULT_REPOS["v2"]
DOCUMENT_FILES = ("with Unlimited-OCR a PDF is one document: its pages' files as page by page (report-p001.md, "
                  "...) plus the whole document: report.md, .txt, .json (report-p002-p005.md with --pages; "
                  "FIRST-document.* with --document)")


def add_parser(sub) -> None:
    p = sub.add_parser("ocr", help="OCR images, folders or PDFs")
    p.add_argument("inputs", nargs="+", help="image files, folders or PDFs")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"hub id or local folder (default {DEFAULT_MODEL}; v1: {DEFAULT_REPOS['v1']}; Unlimited-OCR, "
                        f"which reads a whole PDF in one pass: {DEFAULT_REPOS['unlimited']})")
    add_tile_options(p)
    add_grid_option(p)
    p.add_argument("--task", default=None, choices=[*TASKS, "locate"],
                   help="what to ask (default markdown; locate when --locate is given)")
    p.add_argument("--locate", default=None, metavar="TEXT", help="text to find (implies --task locate)")
    p.add_argument("--prompt", default=None, help="a custom prompt (overrides --task)")
    p.add_argument("--max-tokens", type=number(int, 1), default=D.decoding.max_tokens, metavar="N",
                   help=f"most tokens generated per page, or per document with Unlimited-OCR (default "
                        f"{D.decoding.max_tokens}; a document whose pages and output do not fit its 32768-token "
                        "context is read in page ranges that do)")
    p.add_argument("--out", default=None, metavar="FOLDER", help="output folder; without it nothing is written: the text goes to "
                                               "stdout (several pages each under a '==> name <==' header); "
                                               + DOCUMENT_FILES)
    p.add_argument("--format", default="md", type=parse_formats, metavar="FORMATS",
                   help=f"{', '.join(FORMATS)}, or several comma-separated, e.g. md,pdf (default md; pdf: a "
                        "searchable PDF per input; several formats and pdf need --out)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (default: keep them and write only the missing ones)")
    add_pdf_options(p)
    add_document_options(p)
    p.add_argument("--batch", type=number(int, 1), default=1, metavar="N", help="pages decoded together (default 1; documents are read one at a time)")
    p.add_argument("--dtype", default=None, help="compute dtype (default float32 on CPU, bfloat16 on GPU)")
    add_vision_dtype(p)
    p.add_argument("--ngram", type=number(int, 0), default=D.decoding.ngram_size, metavar="N",
                   help=f"no-repeat n-gram size, 0 turns it off (default {D.decoding.ngram_size})")
    p.add_argument("--ngram-window", type=number(int, 0), default=D.decoding.ngram_window, metavar="N",
                   help=f"tokens the n-gram ban looks back over (default {D.decoding.ngram_window})")
    p.add_argument("--temperature", type=number(float, 0.0), default=D.decoding.temperature,
                   help=f"0 = greedy (default {D.decoding.temperature:g})")
    p.add_argument("--top-p", type=number(float, maximum=1.0, above=0.0), default=D.decoding.top_p,
                   help=f"nucleus sampling, in (0, 1] (default {D.decoding.top_p:g})")
    p.add_argument("--math", default=D.output.math, choices=MATH_STYLES,
                   help="equations as the model writes them, \\( \\) and \\[ \\] (brackets, default), or as $ and $$ "
                        "(dollars), which most markdown viewers render")
    p.add_argument("--tables", default=D.output.tables, choices=TABLE_STYLES,
                   help="tables as the model writes them, HTML (default), or as markdown pipe tables where they "
                        "have no merged cells (pipe)")
    p.add_argument("--recover", action=argparse.BooleanOptionalAction, default=D.recovery.enabled,
                   help="roll a repetition loop back and retry it with a stronger guard (default on)")
    p.add_argument("--repetition-penalty", type=number(float, 1.0), default=None,
                   help=f"penalty of the first retry after a loop, >= 1.0 (default {D.recovery.repetition_penalty})")
    p.set_defaults(func=run)


def parse_formats(text: str) -> tuple[str, ...]:
    """'md,pdf' -> ('md', 'pdf'): known formats, each once, in the order given."""
    out: list[str] = []
    for part in str(text).replace(" ", "").lower().split(","):
        if part not in FORMATS:
            raise argparse.ArgumentTypeError(f"unknown format {part!r}: use {', '.join(FORMATS)} "
                                             "(several comma-separated, e.g. md,pdf)")
        if part not in out:
            out.append(part)
    return tuple(out)


def add_vision_dtype(p) -> None:
    p.add_argument("--vision-dtype", default=None, choices=("float32", "bfloat16", "float16"),
                   help="the vision encoder's dtype when it should differ from --dtype (e.g. float32 with a "
                        "bfloat16 or quantized language model: steadier Unlimited-OCR output)")


def load_model(name: str, dtype, vision_dtype=None):
    """Load with a size notice before a first download (huggingface-hub draws the progress bars)."""
    from ..model import load
    from ..weights.checkpoint import pending_download_size

    size = pending_download_size(name)
    if size:  # announce only a download that can happen (an unreachable hub gets one error line)
        report.note(f"downloading {name} ({size / 1e9:.1f} GB) into the Hugging Face cache; this happens once")
    return load(name, dtype=dtype, vision_dtype=vision_dtype)


def check_output_folder(out: Path) -> None:
    """Fail before any model work when results could not be written to `out` (raises ExportError). Creates
    nothing: a missing folder is made when the first result is written, so a run that stops first leaves
    no empty folder behind."""
    import os
    import tempfile

    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: is a file, not a folder; choose an output folder")
    if not out.exists():  # the nearest folder that exists must let us create the rest
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is None or not parent.is_dir():
            raise ExportError(f"{out}: cannot be created ({parent} is not a folder); choose another output folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ExportError(f"{out}: permission denied (cannot create it in {parent}); choose an output folder "
                              "you can write to")
        return
    try:
        fd, probe = tempfile.mkstemp(prefix=".dsocr-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except PermissionError:
        raise ExportError(f"{out}: permission denied; choose an output folder you can write to") from None
    except OSError as e:
        raise ExportError(f"{out}: cannot write here ({e.strerror or e}); choose another output folder") from None


def check_options(args, items: list[InputItem]) -> None:
    """Options that make sense only together: refused (ValueError, exit 2) or said once (a warning), before
    any work. Fills in the defaults that depend on other options (--task from --locate)."""
    if args.locate is not None:
        if args.task not in (None, "locate"):
            raise ValueError(f"--locate goes with --task locate, not --task {args.task}; drop one of them")
        args.task = "locate"
    elif args.task == "locate" and args.prompt is None:
        raise ValueError("--task locate needs the text to find: add --locate TEXT")
    args.task = args.task or "markdown"
    if args.prompt is not None and (args.locate is not None or args.task != "markdown"):
        report.warning(f"--prompt replaces the prompt of --task {args.task}; the task is ignored")
    if args.repetition_penalty is not None and not args.recover:
        report.warning("--repetition-penalty has no effect with --no-recover (it applies to the retry after a loop)")
    if args.repetition_penalty is None:
        args.repetition_penalty = D.recovery.repetition_penalty
    if args.document and args.page_by_page:
        raise ValueError("--document and --page-by-page contradict each other; drop one of them")
    if args.document and (args.task != "markdown" or args.locate is not None):
        raise ValueError(f"--document reads the pages with the document prompt; --task {args.task} works page by "
                         "page: drop --document")
    if args.pages is not None and not any(it.page is not None for it in items) \
            and not any(it.error and it.path.suffix.lower() == ".pdf" for it in items):
        report.warning(f"--pages {args.pages} has no effect: none of the inputs is a PDF")


def run_options(args):
    """The `RunOptions` of the parsed arguments (its checks and messages are the engine's)."""
    from ..options import RunOptions

    return RunOptions.of(task=args.task, prompt=args.prompt, locate=args.locate, mode=args.mode,
                         min_tiles=args.min_tiles, max_tiles=args.max_tiles, grid=args.grid,
                         max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p,
                         ngram_size=args.ngram, ngram_window=args.ngram_window, recover=args.recover,
                         repetition_penalty=args.repetition_penalty, math=args.math, tables=args.tables)


def run(args) -> int:
    out = Path(args.out) if args.out else None
    formats = args.format if isinstance(args.format, tuple) else parse_formats(args.format)
    if out is None and ("pdf" in formats or len(formats) > 1):
        what = "a searchable PDF" if "pdf" in formats else "several formats"
        raise ValueError(f"--format {','.join(formats)}: {what} can only be written to files; "
                         "add --out FOLDER")
    items = expand_inputs(args.inputs, args.pages, args.dpi)
    check_options(args, items)
    options = run_options(args)  # every value checked now, before any input is read or model loaded
    # every input opened (headers only), every output path decided and checked before any model work
    for it in items:
        if not it.error:
            try:
                it.check()
            except ImageError as e:
                it.error = str(e)
    model = None
    version = _version_for_documents(args, items)
    if version is _UNKNOWN:  # a hub model not in the cache: loading it says which it is (and downloads it)
        model = load_model(args.model, args.dtype, args.vision_dtype)
        version = model.version
    as_documents = _documents_on(args, items, version)
    targets, clashes = plan_outputs([it for it in items if not it.error], out, list(formats), args.overwrite)
    units, docs = group_documents(targets, args.document, args.inputs[0] if args.inputs else None,
                                  args.pages is not None) if as_documents else (targets, [])
    clashes += plan_whole_files(docs, out, list(formats), args.overwrite, targets)
    if docs and any(x is not None for x in (args.mode, args.grid, args.min_tiles, args.max_tiles)):
        report.warning("--mode, --grid and the tile counts apply to pages read on their own; a document's pages "
                       "are each read in mode base (add --page-by-page to tile them)")
    if clashes:  # two inputs, one file: nothing runs, so no input's result is half there
        for message in clashes:
            report.error(message)
        raise ValueError(f"{len(clashes)} input(s) would overwrite another's output; nothing was run")
    if out is not None:
        check_output_folder(out)
    failed = [it for it in items if it.error]
    for it in failed:
        report.error(it.error)
    skipped = [t for t in units if not t.runs]
    for t in skipped:
        label = t.label if isinstance(t, DocumentTarget) else t.item.label
        report.note(f"skipped {label}: {_done_before(t)} (--overwrite redoes it)")
    for d in docs:
        if d.runs and d.existing:
            missing = d.missing
            report.note(f"{d.label}: {missing[0]}{f' and {len(missing) - 1} other files are' if len(missing) > 1 else ' is'} "
                        f"missing; the whole document is read again (the {len(d.existing)} files that exist are kept; "
                        "--overwrite replaces them)")
    todo = [t for t in units if t.runs]
    # a single input is decoded now (a damaged file fails before the model loads: exit 1, one line)
    images = {0: todo[0].item.load()} if len(items) == 1 and todo and not docs else {}
    n_units = len(units) + len(failed)
    in_docs = {id(t) for d in docs for t in d.pages}
    sink = _Folder(out, formats, [t for t in targets if id(t) not in in_docs], len(todo)) if out else \
        _Stdout(formats[0], headers=n_units > 1, live=sys.stdout.isatty())
    written = _run_targets(args, options, todo, images, sink, failed=failed, model=model) if todo else 0
    sink.close()
    if n_units > 1 or skipped:
        _summary(n_units, len(failed), written, len(skipped), out, sink.pdfs_written)
    return report.FAILED if failed else report.OK


_UNKNOWN = object()  # a model version that is known only once the model is loaded


def _version_for_documents(args, items: list[InputItem]):
    """The model's version when it decides how pages are read (a PDF, --document, --page-by-page): read from
    its config without loading it (`_UNKNOWN` when only loading can tell); None when it does not matter."""
    from ..weights.head import model_version

    if not (args.document or args.page_by_page or any(it.page is not None for it in items)):
        return None
    version = model_version(args.model)
    return _UNKNOWN if version is None else version


def _documents_on(args, items: list[InputItem], version: str | None) -> bool:
    """Whether pages are read as documents; refuses --document with a model that cannot (exit 2)."""
    from ..preprocess.modes import VERSION_NAMES

    if version is None:
        return False
    if version != "unlimited":
        if args.document:
            raise ValueError(f"--document: {args.model} is a {VERSION_NAMES[version]} ({version}) model, which reads "
                             f"each page on its own; only Unlimited-OCR reads several pages as one document (--model "
                             f"{DEFAULT_REPOS['unlimited']}); drop --document")
        if args.page_by_page:
            report.warning(f"--page-by-page has no effect: {args.model} is a {VERSION_NAMES[version]} model, which "
                           "reads each page on its own")
        return False
    if args.page_by_page:
        return False
    if args.task != "markdown" or args.locate is not None:
        if any(it.page is not None for it in items):
            report.note(f"--task {args.task}: PDF pages are read one by one (a whole document is read with its "
                        "markdown prompt)")
        return False
    return True


def _done_before(target) -> str:
    """Why a page (or a document) needs no run: the outputs it already has."""
    if isinstance(target, DocumentTarget):
        there = target.existing
        return f"its {len(there)} output files exist ({next(iter(target.whole.values()), there[0])}, ...)"
    there = [str(p) for p in target.existing]
    said = (f"{there[0]} exists" if len(there) == 1 else f"{', '.join(there)} exist") if there else ""
    if target.kept:
        said += f"{'; ' if said else ''}its page of {target.pdf} is kept in {target.page_file.parent}"
    return said or "done"


def _run_targets(args, options, todo: list, images: dict, sink, failed: list, model=None) -> int:
    """Load the model (unless given), OCR the targets in batches and the documents one by one, hand each
    result to `sink`; return how many were done."""
    from ..pipeline import Rollback, TextDelta, prepare_for, stream_batch
    from ..preprocess.modes import get_mode
    from ..preprocess.plan import check_tile_limits

    model = model or load_model(args.model, args.dtype, args.vision_dtype)
    try:  # the model's version decides these: checked before any image is encoded
        get_mode(model.version, args.mode)
        check_tile_limits(model.version, args.min_tiles, args.max_tiles)
        if any(isinstance(t, DocumentTarget) for t in todo):  # a page must fit beside --max-tokens
            from ..document import plan_for

            plan_for(model, [(1024, 1024)], options)
    except ValueError as e:
        raise ValueError(f"{e} ({args.model} is a {model.version} model)") from None
    cancel = threading.Event()
    done = 0
    for start, group_targets in _groups(todo, args.batch):
        if isinstance(group_targets, DocumentTarget):
            done += _run_document(model, options, group_targets, sink, failed, cancel)
            continue
        group = []
        for k, t in enumerate(group_targets, start):
            try:
                image = images.pop(k) if k in images else t.item.load()
                group.append((t, prepare_for(model, image, options.tiling)))
            except ImageError as e:
                report.error(str(e))
                failed.append(t.item)
                sink.lost(t)
        if not group:
            continue
        sink.begin([t for t, _ in group])
        for i, event in stream_batch(model, [p for _, p in group], options, cancel=cancel):
            if isinstance(event, TextDelta):
                sink.delta(i, event.text)
            elif isinstance(event, Rollback):
                sink.rollback(i, event)
            elif sink.result(i, event):
                done += 1
            else:
                failed.append(group[i][0].item)
    return done


def _groups(todo: list, batch: int):
    """(index of the first, what runs together): up to `batch` consecutive pages, or one document."""
    pages: list = []
    for k, t in enumerate(todo):
        if isinstance(t, DocumentTarget):
            if pages:
                yield k - len(pages), pages
                pages = []
            yield k, t
            continue
        pages.append(t)
        if len(pages) == batch:
            yield k + 1 - len(pages), pages
            pages = []
    if pages:
        yield len(todo) - len(pages), pages


def _run_document(model, options, doc: DocumentTarget, sink, failed: list, cancel) -> int:
    """Read one document (its pages that load; a page that does not is reported and left out); 1 when its
    result was handed to `sink`."""
    from ..document import DocumentResult, plan_for, stream_document
    from ..pipeline import Rollback, TextDelta

    pages, images = [], []
    for t in doc.pages:
        try:
            images.append(t.item.load())
            pages.append(t)
        except ImageError as e:
            report.error(str(e))
            failed.append(t.item)
    if not pages:
        return 0
    plan = plan_for(model, [im.size for im in images], options)
    if plan.split:
        report.note(f"{doc.label}: {plan.range_note()}")
    sink.begin_document(doc)
    result = None
    for event in stream_document(model, images, options, cancel=cancel):
        if isinstance(event, TextDelta):
            sink.delta(0, event.text)
        elif isinstance(event, Rollback):
            sink.rollback(0, event)
        elif isinstance(event, DocumentResult):
            result = event
    for note in result.notes:
        if note != plan.range_note():
            report.note(f"{doc.label}: {note}")
    if len(pages) < len(doc.pages):
        read = {id(t) for t in pages}
        lost = ", ".join(t.item.label for t in doc.pages if id(t) not in read)
        report.warning(f"{doc.label}: read without {lost}, which could not be loaded")
    if sink.document(doc, pages, result):
        return 1
    failed.append(doc.pages[0].item)
    return 0


class _Folder:
    """Results written into the --out folder as they finish, with one progress line each: only the files
    that are missing (the plan's `Target.write`). Searchable PDFs are collected per input (`PdfCollector`):
    each page of a multi-page PDF is also kept in the page store until its PDF is written, so a run that is
    stopped can be finished by running it again."""

    def __init__(self, out: Path, formats: tuple[str, ...], targets: list, total: int):
        self.out, self.total = out, total
        self.pdfs = PdfCollector(targets) if "pdf" in formats else None
        if self.pdfs is not None:  # imported now: Ctrl+C inside pikepdf's first import aborts the process
            import pikepdf  # noqa: F401
        self.finished, self.tokens, self.t0, self.pdfs_written = 0, 0, time.perf_counter(), 0
        if self.pdfs is not None:
            self._say_pdfs(self.pdfs.flush())  # inputs whose every page was kept by an earlier run

    def begin(self, targets: list) -> None:
        self.targets = targets

    def delta(self, i: int, text: str) -> None:
        pass

    def lost(self, target) -> None:
        """A page that could not be run: its input's PDF goes on without it."""
        self._pdf(target, None)

    def rollback(self, i: int, event) -> None:
        pass

    def close(self) -> None:
        pass

    def result(self, i: int, result) -> bool:
        target = self.targets[i]
        item, ok = target.item, True
        try:  # a missing file is written whole, with the figures a missing markdown file links to
            paths = [p for f in target.write
                     for p in export_result(result, self.out, item.stem, f, overwrite=True)]
            if target.pdf is not None and target.page_file is not None:
                from ..outputs.searchable_pdf import export_searchable_pdf

                export_searchable_pdf(target.page_file, [result], overwrite=True)
        except ExportError as e:
            report.error(str(e))
            paths, ok = [], False
        pdfs = self._pdf(target, result)  # the page goes into its PDF even when a text format failed
        if not ok or pdfs is None:
            return False
        self.finished += 1
        self.tokens += result.generated_tokens
        rate = self.tokens / max(time.perf_counter() - self.t0, 1e-9)
        dest = str(paths[0]) if paths else f"{target.pdf} (when its last page is done)" if not pdfs else str(pdfs[0])
        report.note(f"[{self.finished}/{self.total}] {item.label} -> {dest} "
                    f"({result.generated_tokens} tokens, {rate:.1f} tok/s overall)")
        _report_stop(item, result)
        self._say_pdfs(pdfs)
        return True

    def begin_document(self, doc) -> None:
        pass

    def document(self, doc, pages: list, result) -> bool:
        """Write a document's missing files (`documents.write_document`), with one progress line."""
        try:
            paths = write_document(doc, pages, result, self.out)
        except ExportError as e:
            report.error(str(e))
            return False
        self.finished += 1
        tokens = generated_tokens(result)
        self.tokens += tokens
        rate = self.tokens / max(time.perf_counter() - self.t0, 1e-9)
        n = len(result.pages)
        parts = f" in {len(result.plan.ranges)} parts" if result.plan.split else ""
        report.note(f"[{self.finished}/{self.total}] {doc.label} ({n} pages as one document{parts}) -> "
                    f"{paths[0] if paths else 'nothing missing'} ({tokens} tokens, {rate:.1f} tok/s overall)")
        self.pdfs_written += sum(1 for p in paths if p.suffix == ".pdf")
        _report_document(doc, result)
        return True

    def _pdf(self, target, result) -> list[Path] | None:
        """Hand the page to its PDF; the PDFs this completed, None when one could not be written."""
        if self.pdfs is None or target.pdf is None:
            return []
        try:
            return self.pdfs.done(target, result)
        except ExportError as e:
            report.error(str(e))
            return None

    def _say_pdfs(self, paths: list[Path]) -> None:
        self.pdfs_written += len(paths)
        for path in paths:
            report.note(f"searchable PDF -> {path}")


class PdfCollector:
    """Searchable PDFs of whole inputs. The plan's targets that write a PDF are its pages, in input order;
    a page arrives when it is done (`done(target, result)`, None for a page that failed) or was kept in the
    page store by an earlier run. Pages go into their PDF in order as soon as all before them are in (only
    their encoded images are held), and each PDF is written once its last page is in; then its kept pages
    are removed from the page store."""

    def __init__(self, targets: list):
        from ..outputs.searchable_pdf import pdf_documents

        documents = pdf_documents([t for t in targets if t.pdf is not None], lambda t: t.item.path)
        self.pages = [t for _, pages in documents for t in pages]
        self.last = {id(pages[-1]) for _, pages in documents}  # each document's last page
        self.index = {id(t): k for k, t in enumerate(self.pages)}
        self.pending: dict[int, object] = {k: _KEPT for k, t in enumerate(self.pages) if not t.runs}
        self.next = 0
        self.doc = None
        self.missing: list[int] = []

    def done(self, target, result) -> list[Path]:
        """Page `target` finished; returns the PDFs completed by it."""
        self.pending[self.index[id(target)]] = result
        return self.flush()

    def flush(self) -> list[Path]:
        """Add every page whose turn has come; the PDFs completed."""
        from ..outputs.searchable_pdf import SearchablePdf

        written = []
        while self.next in self.pending:
            k, result = self.next, self.pending.pop(self.next)
            page = self.pages[k]
            if result is None:
                self.missing.append(k)
            else:
                self.doc = self.doc or SearchablePdf()
                if result is _KEPT:
                    self.doc.add_pdf_page(page.page_file)
                else:
                    self.doc.add(result)
            self.next += 1
            if id(page) in self.last:
                written += self._write(page)
        return written

    def _write(self, last) -> list[Path]:
        doc, missing, self.doc, self.missing = self.doc, self.missing, None, []
        if doc is None:
            return []
        path = doc.save(last.pdf, overwrite=True)  # planned as missing (or --overwrite)
        for page in (p for p in self.pages if p.pdf == last.pdf and p.page_file is not None):
            page.page_file.unlink(missing_ok=True)
        if last.page_file is not None:
            try:
                last.page_file.parent.rmdir()  # the page store, once no PDF is left unfinished
            except OSError:  # another input's pages are still kept there
                pass
        if missing:
            pages = ", ".join(str(self.pages[k].item.page + 1) for k in missing if self.pages[k].item.page is not None)
            report.warning(f"{path}: written without page(s) {pages}, which could not be run")
        return [path]


_KEPT = object()  # a page of a PdfCollector kept in the page store by an earlier run


class _Stdout:
    """Results printed to stdout in input order, each under a `==> name <==` header when there are several.

    On a terminal (`live`) the first unfinished page of a batch streams its raw text as it decodes, the others
    are held until it is done, and a rolled-back loop gets a note on stderr; into a file or pipe each page is
    written once, finished, in --format, so a rolled-back repetition loop never reaches it. JSON is JSON
    Lines: one object per page on one line, with its `input` (and PDF `page`), no headers, for `jq`."""

    def __init__(self, fmt: str, headers: bool, live: bool):
        self.fmt, self.headers, self.printed = fmt, headers and fmt != "json", 0
        self.pdfs_written = 0  # (only files have PDFs)
        self.live = live and fmt != "json"

    def close(self) -> None:
        pass

    def _render(self, i: int, result) -> str:
        if self.fmt != "json":
            return render(result, self.fmt)
        item = self.targets[i].item
        return to_json({"input": str(item.path), "page": None if item.page is None else item.page + 1,
                        **result.to_dict()}, indent=None)

    def begin(self, targets: list) -> None:
        self.targets, self.next, self.held, self.done, self.started = targets, 0, {}, {}, set()

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _start(self, i: int) -> None:
        if i in self.started:
            return
        self.started.add(i)
        if self.headers:
            gap = "\n" if self.printed else ""  # a blank line between results, as `head` prints
            t = self.targets[i]
            self._write(f"{gap}==> {t.label if isinstance(t, DocumentTarget) else t.item.label} <==\n")
        self.printed += 1
        self._write("".join(self.held.pop(i, [])))

    def lost(self, target) -> None:
        pass

    def delta(self, i: int, text: str) -> None:
        if not self.live:
            return
        if i == self.next:
            self._start(i)
            self._write(text)
        else:
            self.held.setdefault(i, []).append(text)

    def rollback(self, i: int, event) -> None:
        if not self.live:
            return
        if i in self.held:  # not printed yet: drop the looped text
            self.held[i] = ["".join(self.held[i])[:event.text_length]]
        if i in self.started:
            report.note(f"{self.targets[i].item.label}: a loop at token {event.loop_start} was rolled back; "
                        f"continuing with {event.strategy}")

    def begin_document(self, doc) -> None:
        """A document streams as one result: its raw text with the page marks, as it decodes."""
        self.begin([doc])

    def document(self, doc, pages: list, result) -> bool:
        """The finished document: (live) the end of its streamed text; else its whole markdown or text once,
        or (JSON) one line per page as page-by-page runs print them, then one line for the document."""
        from ..outputs.markdown import plain_text

        self._start(0)
        if self.live:
            self._write("\n")
        elif self.fmt == "json":
            for t, r in zip(pages, result.pages):
                self._write(to_json({"input": str(t.item.path), "page": None if t.item.page is None else t.item.page + 1,
                                     **r.to_dict()}, indent=None))
            whole = {k: v for k, v in result.to_dict().items() if k != "pages"}
            self._write(to_json({"inputs": list(dict.fromkeys(str(t.item.path) for t in pages)), **whole}, indent=None))
        elif self.fmt == "txt":
            self._write("\f".join(plain_text(r.text) + "\n" for r in result.pages))
        else:
            self._write(result.text if result.text.endswith("\n") else result.text + "\n")
        self.next = 1
        _report_document(doc, result)
        return True

    def result(self, i: int, result) -> bool:
        self.done[i] = result
        while self.next in self.done:
            self._start(self.next)
            finished = self.done.pop(self.next)
            self._write("\n" if self.live else self._render(self.next, finished))
            _report_stop(self.targets[self.next].item, finished)
            self.next += 1
            if self.next < len(self.targets) and self.live:
                self._start(self.next)
        return True


def _summary(n_inputs: int, n_failed: int, n_done: int, n_skipped: int, out: Path | None, n_pdfs: int = 0) -> None:
    """The last line: how many inputs failed, were written (or printed) and skipped; `n_pdfs`: searchable
    PDFs written from pages an earlier run kept, when no page ran."""
    verb = f"written to {out}" if out else "printed"
    done = f"{n_done} {verb}" if n_done else \
        f"{n_pdfs} searchable PDF{'s' if n_pdfs > 1 else ''} {verb}" if n_pdfs else \
        f"nothing was {'written' if out else 'printed'}"
    one = n_skipped == 1
    skipped = (f", {n_skipped} skipped ({'its output exists' if one else 'their outputs exist'}; --overwrite "
               f"redoes {'it' if one else 'them'})") if n_skipped else ""
    report.note((f"{n_failed} of {n_inputs} inputs failed; " if n_failed else "") + done + skipped)


def _report_document(doc: DocumentTarget, result) -> None:
    """How a document's reading ended, when it is worth a line."""
    _report_ending(doc.label, result.stop_reason, result.pages[-1], " (later pages may be empty)")


def _report_stop(item: InputItem, result) -> None:
    if not result.plan.official:
        report.note(f"{item.label}: {grid_reason(result.plan)}")
    _report_ending(item.label, result.stop_reason, result)


def _report_ending(label: str, stop_reason: str, result, cut: str = "") -> None:
    """A loop that stopped the run or was recovered (`result` has its attempts), a run cut at --max-tokens."""
    if stop_reason == "repetition":
        report.warning(f"{label}: stopped early, the model was repeating itself ({result.recovery_note()})")
    elif result.recoveries:
        report.note(f"{label}: {result.recovery_note()}")
    if stop_reason == "max_tokens":
        report.warning(f"{label}: reached --max-tokens; the text may be cut off{cut}")
