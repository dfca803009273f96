"""DSOCR as OCRmyPDF's OCR engine: `ocrmypdf --plugin engine.integrations.ocrmypdf --dsocr-model M in.pdf out.pdf`.

OCRmyPDF keeps its own pipeline (reading the PDF, rasterising each page, grafting, PDF/A, optimising); this
plugin answers its OCR engine hooks (`ocrmypdf.pluginspec`, OCRmyPDF 17). Each page image OCRmyPDF hands over
is read by DSOCR (the markdown task by default, which grounds every region) and comes back as a one-page
text-only PDF (`OcrEngine.generate_pdf`): the same invisible text layer `dsocr ocr --format pdf` draws
(`outputs.searchable_pdf.text_layer_pdf`), each region's text in the box its grounding gives, at the image's
size at its DPI. OCRmyPDF's sandwich renderer grafts it onto the page; `check_options` selects that renderer
(the other renderers would lay the text out again from hOCR words, which DSOCR does not produce).

How OCRmyPDF calls the engine: `get_ocr_engine` is a hook called for every page, in its worker threads
(the default) or worker processes (`--no-use-threads`). The model is loaded once per process by
`shared_model.service` (in `check_options`, in the main process, so a model that cannot load stops the run
before any page work with one line), and OCRmyPDF's page threads hand their pages to the in-process
`OcrService` that owns it: pages OCR'd at the same time decode together, and no page loads a model. Worker processes
would each load a copy, so `check_options` turns them into threads. Tesseract's plugin is blocked
(`initialize`): it would otherwise require the `tesseract` program even though it does not run (its option
model stays registered, since OCRmyPDF's own checks read `options.tesseract`).

Languages: DeepSeek-OCR reads many scripts without being told which, so every `-l` is accepted (the engine
reports no language list, which OCRmyPDF takes as "no check"). Page orientation and skew are not measured:
neutral answers, and a warning when `--rotate-pages` or `--deskew` is given. `--ocr-engine none` leaves the
pages to OCRmyPDF's null engine (no model is loaded).
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path

from ocrmypdf import hookimpl
from ocrmypdf.exceptions import BadArgsError, SubprocessOutputError
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from pydantic import BaseModel, Field, field_validator

from ..language.prompt import TASKS
from ..options import DEFAULTS
from ..preprocess.modes import MODES
from ..weights.checkpoint import DEFAULT_REPOS
from . import shared_model

log = logging.getLogger(__name__)

DEFAULT_MODEL = DEFAULT_REPOS["v2"]
FONT_KEY = "/F1"  # the font name OCRmyPDF's sandwich grafter copies from a text-only page
TESSERACT_PLUGIN = "ocrmypdf.builtin_plugins.tesseract_ocr"
MODE_NAMES = sorted({m for modes in MODES.values() for m in modes})


class DsocrOptions(BaseModel):
    """The plugin's options (`options.dsocr.*`), from `--dsocr-*` or `ocrmypdf.ocr(..., dsocr_model=...)`."""

    model: str = DEFAULT_MODEL
    task: str = "markdown"
    mode: str | None = None
    max_tokens: int = Field(default=DEFAULTS.decoding.max_tokens, ge=1)
    dtype: str | None = None
    max_batch: int = Field(default=4, ge=1)

    @field_validator("mode", mode="before")
    @classmethod
    def _not_ocrmypdfs_mode(cls, value):
        # OCRmyPDF fills a plugin field it was not given from its own option of that name: `mode` would be its
        # processing mode (an enum), when `dsocr_mode` is left out of an `ocrmypdf.ocr(...)` call
        return None if isinstance(value, enum.Enum) else value


def _selected(options) -> bool:
    """True unless OCRmyPDF was told to use another engine (`--ocr-engine none` / `tesseract`)."""
    return options is None or getattr(options, "ocr_engine", "auto") == "auto"


def run_options(options):
    """The `RunOptions` of the plugin's options (ValueError for a bad combination)."""
    from ..options import RunOptions

    o = options.dsocr
    return RunOptions.of(task=o.task, mode=o.mode, max_tokens=o.max_tokens)


def page_text(result) -> str:
    """The page's text as its text layer holds it (plain text, one line per line): the sidecar's text."""
    from ..outputs.searchable_pdf import text_blocks

    lines = [line for block in text_blocks(result) for line in block.lines]
    return "\n".join(lines) + "\n" if lines else ""


class DsocrEngine(OcrEngine):
    """DSOCR's OCR engine for OCRmyPDF: a text-only PDF per page image (`generate_pdf`)."""

    @staticmethod
    def version() -> str:
        from .. import __version__

        return __version__

    @staticmethod
    def creator_tag(options) -> str:
        model = options.dsocr.model if options is not None else DEFAULT_MODEL
        return f"DSOCR {DsocrEngine.version()} ({Path(model).name if Path(model).exists() else model})"

    def __str__(self) -> str:
        return f"DSOCR {self.version()}"

    @staticmethod
    def languages(options) -> set[str]:
        return set()  # any language: DeepSeek-OCR needs no language data (an empty set skips OCRmyPDF's check)

    @staticmethod
    def get_orientation(input_file: Path, options) -> OrientationConfidence:
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def get_deskew(input_file: Path, options) -> float:
        return 0.0

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options) -> None:
        raise NotImplementedError("DSOCR makes a text-only PDF (the sandwich renderer), not hOCR")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options) -> None:
        from ..outputs.searchable_pdf import text_layer_pdf
        from ..preprocess.images import open_image

        o = options.dsocr
        svc = shared_model.service(o.model, o.dtype, o.max_batch)
        try:
            result = shared_model.ocr_page(svc, open_image(input_file), run_options(options))
        except MemoryError:
            raise SubprocessOutputError("DSOCR ran out of memory on this page; try a smaller --dsocr-mode "
                                        "(base or small)") from None
        except (ValueError, OSError, RuntimeError) as e:  # ImageError is a ValueError: one line, no traceback
            raise SubprocessOutputError(f"DSOCR could not read this page: {e}") from None
        if result.stop_reason not in ("eos", "recovered"):
            log.warning("DSOCR stopped this page's text early (%s)%s", result.stop_reason,
                        ": raise --dsocr-max-tokens" if result.stop_reason == "max_tokens" else "")
        Path(output_pdf).write_bytes(text_layer_pdf(result, font_key=FONT_KEY))
        Path(output_text).write_text(page_text(result), encoding="utf-8")


@hookimpl
def initialize(plugin_manager) -> None:
    plugin_manager.set_blocked(TESSERACT_PLUGIN)  # its check_options demands the tesseract program


@hookimpl
def add_options(parser) -> None:
    from ..cli.options import number

    g = parser.add_argument_group("DSOCR", "DeepSeek-OCR as the OCR engine (engine.integrations.ocrmypdf)")
    g.add_argument("--dsocr-model", metavar="MODEL", default=DEFAULT_MODEL,
                   help=f"hub id or local folder (default {DEFAULT_MODEL}; v1: {DEFAULT_REPOS['v1']})")
    g.add_argument("--dsocr-task", choices=list(TASKS), default="markdown",
                   help="what to ask (default markdown; markdown and ocr ground each region, so the text is "
                        "placed where it stands; the others put it over the whole page)")
    g.add_argument("--dsocr-mode", choices=MODE_NAMES, default=None,
                   help="resolution mode (default gundam; the model's version decides which exist)")
    g.add_argument("--dsocr-max-tokens", type=number(int, 1), default=DEFAULTS.decoding.max_tokens, metavar="N",
                   help=f"most tokens generated per page (default {DEFAULTS.decoding.max_tokens})")
    g.add_argument("--dsocr-dtype", choices=("float32", "bfloat16", "float16"), default=None,
                   help="compute dtype (default float32 on CPU, bfloat16 on GPU)")
    g.add_argument("--dsocr-max-batch", type=number(int, 1), default=4, metavar="N",
                   help="pages decoded together when OCRmyPDF works on several at once (default 4)")


@hookimpl
def register_options():
    # OCRmyPDF's own option checks read `options.tesseract`: its namespace stays, without the blocked plugin
    from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOptions

    return {"dsocr": DsocrOptions, "tesseract": TesseractOptions}


@hookimpl
def check_options(options) -> None:
    if options.ocr_engine == "tesseract":
        raise BadArgsError("--ocr-engine tesseract: the DSOCR plugin replaces Tesseract; leave out "
                           "--plugin engine.integrations.ocrmypdf to run Tesseract")
    if not _selected(options):
        return
    if options.pdf_renderer == "auto":
        options.pdf_renderer = "sandwich"  # DSOCR hands over the page's text layer as a PDF
    elif options.pdf_renderer != "sandwich":
        raise BadArgsError(f"--pdf-renderer {options.pdf_renderer}: DSOCR lays out its own text layer (the sandwich "
                           "renderer); leave out --pdf-renderer")
    if not options.use_threads:
        log.warning("DSOCR keeps one model per process: pages run in threads (--no-use-threads is ignored)")
        options.use_threads = True
    inert = [flag for flag, on in (("--rotate-pages", options.rotate_pages), ("--deskew", options.deskew)) if on]
    if inert:
        log.warning("%s: DSOCR does not measure page orientation or skew; no effect", " and ".join(inert))
    try:
        run_options(options)
    except ValueError as e:
        raise BadArgsError(f"DSOCR: {e}") from None
    o = options.dsocr
    try:
        svc = shared_model.service(o.model, o.dtype, o.max_batch)
    except (ValueError, OSError) as e:  # CheckpointError is a ValueError with a one-line message
        raise BadArgsError(f"--dsocr-model {o.model}: {e}") from None
    if o.mode is not None and o.mode not in MODES[svc.model.version]:
        raise BadArgsError(f"--dsocr-mode {o.mode}: {o.model} is a {svc.model.version} model, whose modes are "
                           f"{', '.join(MODES[svc.model.version])}")


@hookimpl
def get_ocr_engine(options):
    return DsocrEngine() if _selected(options) else None
