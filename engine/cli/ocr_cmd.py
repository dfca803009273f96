"""`dsocr ocr INPUT...`: OCR images, folders and PDF pages; stream one, batch many, write outputs.

A single input with no `--out` streams its text to stdout. Otherwise every page is written to the output
folder, named after its input (`scan.png` -> `scan.md`, page 3 of `report.pdf` -> `report-p003.md`), with a
progress line on stderr. A bad input gets one line on stderr and the others still run; the exit code is 1
if any input failed.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from ..language.prompt import TASKS
from ..outputs.export import FORMATS, ExportError, export_result, render
from ..preprocess.images import ImageError
from ..preprocess.inputs import InputItem, expand_inputs
from ..preprocess.pdf import DEFAULT_DPI
from ..weights.checkpoint import DEFAULT_REPOS

DEFAULT_MODEL = DEFAULT_REPOS["v2"]


def add_parser(sub) -> None:
    p = sub.add_parser("ocr", help="OCR images, folders or PDFs")
    p.add_argument("inputs", nargs="+", help="image files, folders or PDFs")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"hub id or local folder (default {DEFAULT_MODEL}; v1: {DEFAULT_REPOS['v1']})")
    p.add_argument("--mode", default=None, help="resolution mode (default gundam)")
    p.add_argument("--min-tiles", type=int, default=None)
    p.add_argument("--max-tiles", type=int, default=None)
    p.add_argument("--task", default="markdown", choices=[*TASKS, "locate"], help="what to ask (default markdown)")
    p.add_argument("--locate", default=None, help="text to find, for --task locate")
    p.add_argument("--prompt", default=None, help="a custom prompt (overrides --task)")
    p.add_argument("--max-tokens", type=int, default=8192)
    p.add_argument("--out", default=None, help="output folder (default: stream a single input to stdout)")
    p.add_argument("--format", default="md", choices=FORMATS)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--pages", default=None, help="PDF pages, e.g. 1-3,5 (default all)")
    p.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PDF render resolution (default {DEFAULT_DPI})")
    p.add_argument("--batch", type=int, default=1, help="pages decoded together (default 1)")
    p.add_argument("--dtype", default=None, help="compute dtype (default float32 on CPU, bfloat16 on GPU)")
    p.add_argument("--ngram", type=int, default=30, help="no-repeat n-gram size, 0 turns it off (default 30)")
    p.add_argument("--ngram-window", type=int, default=90)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.set_defaults(func=run)


def _err(msg: str) -> None:
    print(f"dsocr: {msg}", file=sys.stderr, flush=True)


def load_model(name: str, dtype):
    """Load with a size notice before a first download (huggingface-hub draws the progress bars)."""
    from ..model import load
    from ..weights.checkpoint import pending_download_size

    size = pending_download_size(name)
    if size:  # announce only a download that can happen (an unreachable hub gets one error line)
        _err(f"downloading {name} ({size / 1e9:.1f} GB) into the Hugging Face cache; this happens once")
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
                max_tiles=args.max_tiles, max_tokens=args.max_tokens, temperature=args.temperature,
                top_p=args.top_p, ngram_size=args.ngram, ngram_window=args.ngram_window)


def run(args) -> int:
    from ..pipeline import Result, TextDelta, prepare_for, stream, stream_batch

    items = expand_inputs(args.inputs, args.pages, args.dpi)
    failed = [it for it in items if it.error]
    for it in failed:
        _err(it.error)
    todo = [it for it in items if not it.error]
    if not todo:
        return 1
    single = len(items) == 1 and args.out is None  # one page: stream to stdout
    if single:
        image = todo[0].load()  # decoded before the model loads: a broken file costs no model work
    else:
        check_output_folder(Path(args.out or "."))
    model = load_model(args.model, args.dtype)
    kwargs = _gen_kwargs(args)
    cancel = threading.Event()

    if single:
        item = todo[0]
        result = None
        for event in stream(model, image, cancel=cancel, **kwargs):
            if isinstance(event, TextDelta) and args.format != "json":
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Result):
                result = event
        if args.format == "json":
            sys.stdout.write(render(result, "json"))
        else:
            sys.stdout.write("\n")
        _report_stop(item, result)
        return 0

    out = Path(args.out or ".")
    total, finished, done_tokens, t0 = len(todo), 0, 0, time.perf_counter()
    for start in range(0, total, max(1, args.batch)):
        group: list[tuple[InputItem, object]] = []
        for item in todo[start:start + max(1, args.batch)]:
            try:
                group.append((item, prepare_for(model, item.load(), args.mode, args.min_tiles, args.max_tiles)))
            except ImageError as e:
                _err(str(e))
                failed.append(item)
        if not group:
            continue
        for i, event in stream_batch(model, [p for _, p in group], cancel=cancel, **kwargs):
            if isinstance(event, Result):
                item = group[i][0]
                done_tokens += event.generated_tokens
                try:
                    paths = export_result(event, out, item.stem, args.format, args.overwrite)
                except ExportError as e:
                    _err(f"{e} (--overwrite replaces it)" if isinstance(e, FileExistsError) else str(e))
                    failed.append(item)
                    continue
                _report_stop(item, event)
                finished += 1
                rate = done_tokens / max(time.perf_counter() - t0, 1e-9)
                print(f"[{finished}/{total}] {item.label} -> {paths[0]} "
                      f"({event.generated_tokens} tokens, {rate:.1f} tok/s overall)", file=sys.stderr, flush=True)
    if failed:
        _err(f"{len(failed)} of {len(items)} inputs failed; the others were written to {out}")
        return 1
    return 0


def _report_stop(item: InputItem, result) -> None:
    if result is None:
        return
    if result.stop_reason == "repetition":
        _err(f"{item.label}: stopped early, the model was repeating itself (output kept up to that point)")
    elif result.stop_reason == "max_tokens":
        _err(f"{item.label}: reached --max-tokens; the text may be cut off")
