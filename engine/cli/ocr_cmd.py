"""`dsocr ocr INPUT...`: OCR images, folders and PDF pages; stream one, batch many, write outputs.

Before any model work, every input is checked (an image's header, a PDF's pages) and, with `--out`, every
output file is named (`scan.png` -> `scan.md`, page 3 of `report.pdf` -> `report-p003.md`): an input whose
outputs exist is skipped (and says so) unless `--overwrite`, one that would write another input's file fails.
Without `--out` nothing is written: the text goes to stdout, each page under a `==> name <==` header when
there are several, as `head` prints them; a terminal sees the raw text as it decodes, a file or pipe gets each
finished result once, in `--format` (so a rolled-back repetition loop never reaches it). `--format md,pdf`
writes several formats (with `--out`); `pdf` is one searchable PDF per input (`report.pdf` ->
`FOLDER/report.pdf`, its OCR'd pages in order), written when the input's last page is done. A bad input gets
one line on stderr and the others still run; the exit code is 1 if any input failed (see `report.EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from ..language.prompt import TASKS
from ..language.recovery import DEFAULT_PENALTY
from ..outputs.export import FORMATS, ExportError, export_result, render
from ..outputs.markdown import MATH_STYLES, TABLE_STYLES
from ..preprocess.explain import grid_reason
from ..preprocess.images import ImageError
from ..preprocess.inputs import InputItem, expand_inputs
from ..preprocess.pdf import DEFAULT_DPI
from ..weights.checkpoint import DEFAULT_REPOS
from . import report
from .options import add_grid_option, add_tile_options, number
from .outputs import plan_outputs

DEFAULT_MODEL = DEFAULT_REPOS["v2"]


def add_parser(sub) -> None:
    p = sub.add_parser("ocr", help="OCR images, folders or PDFs")
    p.add_argument("inputs", nargs="+", help="image files, folders or PDFs")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"hub id or local folder (default {DEFAULT_MODEL}; v1: {DEFAULT_REPOS['v1']})")
    add_tile_options(p)
    add_grid_option(p)
    p.add_argument("--task", default="markdown", choices=[*TASKS, "locate"], help="what to ask (default markdown)")
    p.add_argument("--locate", default=None, help="text to find, for --task locate")
    p.add_argument("--prompt", default=None, help="a custom prompt (overrides --task)")
    p.add_argument("--max-tokens", type=number(int, 1), default=8192, metavar="N",
                   help="most tokens generated per page (default 8192)")
    p.add_argument("--out", default=None, metavar="FOLDER", help="output folder; without it nothing is written: the text goes to "
                                               "stdout (several pages each under a '==> name <==' header)")
    p.add_argument("--format", default="md", type=parse_formats, metavar="FORMATS",
                   help=f"{', '.join(FORMATS)}, or several comma-separated, e.g. md,pdf (default md; pdf: a "
                        "searchable PDF per input; several formats and pdf need --out)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (default: skip the inputs whose outputs exist)")
    p.add_argument("--pages", default=None, help="PDF pages, e.g. 1-3,5 (default all)")
    p.add_argument("--dpi", type=number(int, 36, 1200), default=DEFAULT_DPI,
                   help=f"PDF render resolution, 36-1200 (default {DEFAULT_DPI})")
    p.add_argument("--batch", type=number(int, 1), default=1, metavar="N", help="pages decoded together (default 1)")
    p.add_argument("--dtype", default=None, help="compute dtype (default float32 on CPU, bfloat16 on GPU)")
    p.add_argument("--ngram", type=number(int, 0), default=30, metavar="N",
                   help="no-repeat n-gram size, 0 turns it off (default 30)")
    p.add_argument("--ngram-window", type=number(int, 0), default=90, metavar="N",
                   help="tokens the n-gram ban looks back over (default 90)")
    p.add_argument("--temperature", type=number(float, 0.0), default=0.0, help="0 = greedy (default 0)")
    p.add_argument("--top-p", type=number(float, maximum=1.0, above=0.0), default=1.0,
                   help="nucleus sampling, in (0, 1] (default 1)")
    p.add_argument("--math", default="brackets", choices=MATH_STYLES,
                   help="equations as the model writes them, \\( \\) and \\[ \\] (brackets, default), or as $ and $$ "
                        "(dollars), which most markdown viewers render")
    p.add_argument("--tables", default="html", choices=TABLE_STYLES,
                   help="tables as the model writes them, HTML (default), or as markdown pipe tables where they "
                        "have no merged cells (pipe)")
    p.add_argument("--recover", action=argparse.BooleanOptionalAction, default=True,
                   help="roll a repetition loop back and retry it with a stronger guard (default on)")
    p.add_argument("--repetition-penalty", type=number(float, 1.0), default=DEFAULT_PENALTY,
                   help=f"penalty of the first retry after a loop, >= 1.0 (default {DEFAULT_PENALTY})")
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


def load_model(name: str, dtype):
    """Load with a size notice before a first download (huggingface-hub draws the progress bars)."""
    from ..model import load
    from ..weights.checkpoint import pending_download_size

    size = pending_download_size(name)
    if size:  # announce only a download that can happen (an unreachable hub gets one error line)
        report.note(f"downloading {name} ({size / 1e9:.1f} GB) into the Hugging Face cache; this happens once")
    return load(name, dtype=dtype)


def check_output_folder(out: Path) -> None:
    """Fail before any model work when results could not be written to `out` (raises ExportError)."""
    import os
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dsocr-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except PermissionError:
        raise ExportError(f"{out}: permission denied; choose an output folder you can write to") from None
    except OSError as e:
        raise ExportError(f"{out}: cannot write here ({e.strerror or e}); choose another output folder") from None


def _gen_kwargs(args) -> dict:
    return dict(task=args.task, prompt=args.prompt, locate=args.locate, mode=args.mode, min_tiles=args.min_tiles,
                max_tiles=args.max_tiles, grid=args.grid, max_tokens=args.max_tokens, temperature=args.temperature,
                top_p=args.top_p, ngram_size=args.ngram, ngram_window=args.ngram_window, recover=args.recover,
                repetition_penalty=args.repetition_penalty, math=args.math, tables=args.tables)


def run(args) -> int:
    out = Path(args.out) if args.out else None
    formats = args.format if isinstance(args.format, tuple) else parse_formats(args.format)
    if out is None and ("pdf" in formats or len(formats) > 1):
        what = "a searchable PDF" if "pdf" in formats else "several formats"
        raise ValueError(f"--format {','.join(formats)}: {what} can only be written to files; "
                         "add --out FOLDER")
    items = expand_inputs(args.inputs, args.pages, args.dpi)
    failed = [it for it in items if it.error]
    for it in failed:
        report.error(it.error)
    # every output path decided and checked, every input opened (headers only) before any model work
    if out is not None:
        check_output_folder(out)
    targets, clashes = plan_outputs([it for it in items if not it.error], out, list(formats), args.overwrite)
    for item, message in clashes:
        report.error(message)
        failed.append(item)
    skipped = [t for t in targets if t.existing]
    for t in skipped:
        report.note(f"skipped {t.item.label}: {t.existing[0]} exists (--overwrite replaces it)")
    todo = []
    for t in targets:
        if t.existing:
            continue
        try:
            t.item.check()
            todo.append(t)
        except ImageError as e:
            report.error(str(e))
            failed.append(t.item)
    # a single input is decoded now (a damaged file fails before the model loads: exit 1, one line)
    images = {0: todo[0].item.load()} if len(items) == 1 and todo else {}
    written = _run_targets(args, todo, images, out, headers=len(items) > 1, failed=failed) if todo else 0
    if len(items) > 1 or skipped:
        _summary(len(items), len(failed), written, len(skipped), out)
    return report.FAILED if failed else report.OK


def _run_targets(args, todo: list, images: dict, out: Path | None, headers: bool, failed: list) -> int:
    """Load the model, OCR the targets in batches, write (or print) each result; return how many were done."""
    from ..pipeline import Result, Rollback, TextDelta, prepare_for, stream_batch
    from ..preprocess.modes import get_mode
    from ..preprocess.plan import check_tile_limits

    model = load_model(args.model, args.dtype)
    try:  # the model's version decides these: checked before any image is encoded
        get_mode(model.version, args.mode)
        check_tile_limits(model.version, args.min_tiles, args.max_tiles)
    except ValueError as e:
        raise ValueError(f"{e} ({args.model} is a {model.version} model)") from None
    formats = args.format if isinstance(args.format, tuple) else parse_formats(args.format)
    sink = _Folder(out, formats, args.overwrite, todo) if out else \
        _Stdout(formats[0], headers, live=sys.stdout.isatty())
    kwargs = _gen_kwargs(args)
    cancel = threading.Event()
    done = 0
    for start in range(0, len(todo), args.batch):
        group = []
        for k, t in enumerate(todo[start:start + args.batch], start):
            try:
                image = images.pop(k) if k in images else t.item.load()
                group.append((t, prepare_for(model, image, args.mode, args.min_tiles, args.max_tiles, args.grid)))
            except ImageError as e:
                report.error(str(e))
                failed.append(t.item)
                sink.lost(t)
        if not group:
            continue
        sink.begin([t for t, _ in group])
        for i, event in stream_batch(model, [p for _, p in group], cancel=cancel, **kwargs):
            if isinstance(event, TextDelta):
                sink.delta(i, event.text)
            elif isinstance(event, Rollback):
                sink.rollback(i, event)
            elif sink.result(i, event):
                _report_stop(group[i][0].item, event)
                done += 1
            else:
                failed.append(group[i][0].item)
    return done


class _Folder:
    """Results written into the --out folder as they finish, with a progress line each; searchable PDFs
    collected per input (`PdfCollector`) and written when an input's last page is done."""

    def __init__(self, out: Path, formats: tuple[str, ...], overwrite: bool, todo: list):
        self.out, self.overwrite, self.total = out, overwrite, len(todo)
        self.formats = [f for f in formats if f != "pdf"]
        self.pdf_at = formats.index("pdf") if "pdf" in formats else None  # the PDF's place in a target's paths
        self.pdfs = PdfCollector(todo, overwrite, self.pdf_at) if "pdf" in formats else None
        self.finished, self.tokens, self.t0 = 0, 0, time.perf_counter()

    def begin(self, targets: list) -> None:
        self.targets = targets

    def delta(self, i: int, text: str) -> None:
        pass

    def lost(self, target) -> None:
        """A page that could not be run: its input's PDF goes on without it."""
        self._pdf(target, None)

    def rollback(self, i: int, event) -> None:
        pass

    def result(self, i: int, result) -> bool:
        target = self.targets[i]
        item, ok = target.item, True
        try:
            paths = [p for f in self.formats for p in export_result(result, self.out, item.stem, f, self.overwrite)]
        except ExportError as e:
            report.error(f"{e} (--overwrite replaces it)" if isinstance(e, FileExistsError) else str(e))
            paths, ok = [], False
        pdfs = self._pdf(target, result)  # the page goes into its PDF even when a text format failed
        if not ok or pdfs is None:
            return False
        paths += pdfs
        self.finished += 1
        self.tokens += result.generated_tokens
        rate = self.tokens / max(time.perf_counter() - self.t0, 1e-9)
        dest = paths[0] if paths else f"{target.paths[self.pdf_at]} (when its last page is done)"
        note = f", {result.recovery_note()}" if result.recoveries else ""
        report.note(f"[{self.finished}/{self.total}] {item.label} -> {dest} "
                    f"({result.generated_tokens} tokens, {rate:.1f} tok/s overall{note})")
        return True

    def _pdf(self, target, result) -> list[Path] | None:
        """Hand the page to its PDF; the PDFs this completed, None when one could not be written."""
        if self.pdfs is None:
            return []
        try:
            written = self.pdfs.done(target, result)
        except ExportError as e:
            report.error(f"{e} (--overwrite replaces it)" if isinstance(e, FileExistsError) else str(e))
            return None
        for path in written:
            report.note(f"searchable PDF -> {path}")
        return written


class PdfCollector:
    """Searchable PDFs of whole inputs. Pages arrive in any order within a batch (`done(target, result)`,
    None for a page that failed); they go into their input's PDF in input order, and each PDF is written
    (to `target.paths[at]`, as `plan_outputs` named it) once its input's last page is in."""

    def __init__(self, todo: list, overwrite: bool, at: int):
        self.todo, self.overwrite, self.at = todo, overwrite, at
        self.index = {id(t): k for k, t in enumerate(todo)}
        self.pending: dict[int, object] = {}  # index -> Result, or None for a page that failed
        self.next = 0
        self.doc = None
        self.missing: list[int] = []

    def done(self, target, result) -> list[Path]:
        """Page `target` finished; returns the PDFs completed by it."""
        self.pending[self.index[id(target)]] = result
        written = []
        while self.next in self.pending:
            k, result = self.next, self.pending.pop(self.next)
            if result is not None:
                from ..outputs.searchable_pdf import SearchablePdf

                self.doc = self.doc or SearchablePdf()
                self.doc.add(result)
            else:
                self.missing.append(k)
            self.next += 1
            if self.next == len(self.todo) or self.todo[self.next].item.path != self.todo[k].item.path:
                written += self._write(self.todo[k])
        return written

    def _write(self, target) -> list[Path]:
        doc, missing, self.doc, self.missing = self.doc, self.missing, None, []
        if doc is None:
            return []
        path = doc.save(target.paths[self.at], self.overwrite)
        if missing:
            pages = ", ".join(str(self.todo[k].item.page + 1) for k in missing if self.todo[k].item.page is not None)
            report.warning(f"{path}: written without page(s) {pages}, which could not be run")
        return [path]


class _Stdout:
    """Results printed to stdout in input order, each under a `==> name <==` header when there are several.

    On a terminal (`live`) the first unfinished page of a batch streams its raw text as it decodes, the others
    are held until it is done, and a rolled-back loop gets a note on stderr; into a file or pipe each page is
    written once, finished, in --format, so a rolled-back repetition loop never reaches it."""

    def __init__(self, fmt: str, headers: bool, live: bool):
        self.fmt, self.headers, self.printed = fmt, headers, 0
        self.live = live and fmt != "json"

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
            self._write(f"{gap}==> {self.targets[i].item.label} <==\n")
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

    def result(self, i: int, result) -> bool:
        self.done[i] = result
        while self.next in self.done:
            self._start(self.next)
            finished = self.done.pop(self.next)
            self._write("\n" if self.live else render(finished, self.fmt))
            self.next += 1
            if self.next < len(self.targets) and self.live:
                self._start(self.next)
        return True


def _summary(n_inputs: int, n_failed: int, n_done: int, n_skipped: int, out: Path | None) -> None:
    """The last line: how many inputs failed, were written (or printed) and skipped."""
    verb = f"written to {out}" if out else "printed"
    done = f"{n_done} {verb}" if n_done else f"nothing was {'written' if out else 'printed'}"
    one = n_skipped == 1
    skipped = (f", {n_skipped} skipped ({'its output exists' if one else 'their outputs exist'}; --overwrite "
               f"redoes {'it' if one else 'them'})") if n_skipped else ""
    report.note((f"{n_failed} of {n_inputs} inputs failed; " if n_failed else "") + done + skipped)


def _report_stop(item: InputItem, result) -> None:
    if not result.plan.official:
        report.note(f"{item.label}: {grid_reason(result.plan)}")
    if result.stop_reason == "repetition":
        report.warning(f"{item.label}: stopped early, the model was repeating itself ({result.recovery_note()})")
    elif result.recoveries:
        report.note(f"{item.label}: {result.recovery_note()}")
    if result.stop_reason == "max_tokens":
        report.warning(f"{item.label}: reached --max-tokens; the text may be cut off")
