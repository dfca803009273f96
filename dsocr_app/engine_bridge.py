"""The app's one door to the engine: every engine name the app uses, taken from `import engine`.

Other modules call the engine only through the names here, so an engine change is met in one place. The
few adaptations the app needs (an "all pages" range, the clipboard forms by name)
live here too.
"""

from __future__ import annotations

import engine

ImageError = engine.ImageError
CheckpointError = engine.CheckpointError
ExportError = engine.ExportError
MODES = engine.MODES
TILE_RANGE: dict[str, tuple[int, int]] = engine.TILE_RANGE
DEFAULT_TILES: dict[str, tuple[int, int]] = engine.DEFAULT_TILES
DEFAULT_MODE = engine.get_mode("v2").name  # the mode planned when none is named
VERSIONS = tuple(MODES)
HUB_MODELS: dict[str, str] = dict(engine.DEFAULT_REPOS)
TASKS = tuple(engine.TASKS)
task_prompt = engine.task_prompt  # the prompt of a task; an unknown one is the engine's ValueError

plan = engine.plan
get_mode = engine.get_mode
check_tile_limits = engine.check_tile_limits
expand_inputs = engine.expand_inputs
InputItem = engine.InputItem  # one file or PDF page: its output stem and its loading, as the command line's
IMAGE_SUFFIXES = engine.IMAGE_SUFFIXES
grid_reason = engine.grid_reason  # the tiling inspector's notes on a plan
scale_note = engine.scale_note
small_text_warning = engine.small_text_warning
small_text_rule = engine.small_text_rule
open_image = engine.open_image
atomic_write = engine.atomic_write
unique_path = engine.unique_path  # `name (2).ext`, ...: a free name beside existing files
output_stem = engine.output_stem
export_result = engine.export_result
SearchablePdf = engine.SearchablePdf
pdf_documents = engine.pdf_documents
export_json = engine.export_json  # the engine's JSON conventions (UTF-8, indent 2, no NaN)
write_tiny_checkpoint = engine.write_tiny_checkpoint
is_repo_id = engine.is_repo_id  # a --model that is no folder must be a hub id (owner/name)
DEFAULT_DPI = engine.DEFAULT_DPI  # a PDF page's render resolution when none is chosen


def engine_version() -> str:
    return engine.__version__


# ---- the inference runtime ----------------------------------------------------------------------------------

Model = engine.Model
Result = engine.Result
Rollback = engine.Rollback  # a repetition loop rolled back: the streamed text is cut back, then goes on
RunOptions = engine.RunOptions  # what a run is asked; the app's settings build one (`Settings.run_options`)
RUN_DEFAULTS = engine.RunOptions()  # the engine's run defaults, which the settings start from
MATH_STYLES, TABLE_STYLES = engine.MATH_STYLES, engine.TABLE_STYLES
renderable_markdown = engine.renderable_markdown  # HTML tables a viewer can draw (truncated ones closed)
Region = engine.Region
load_model = engine.load
stream = engine.stream  # (model, image, RunOptions, cancel=Event): TextDelta events, then one Result
pending_download_size = engine.pending_download_size  # bytes a first load would download, None if nothing


# ---- outputs -----------------------------------------------------------------------------------------------

Code = engine.Code  # a QR code or barcode: format, text, corners (`.line()`, `.url`, `.to_dict()`)
read_codes = engine.read_codes  # every QR code / barcode in an image (zxing-cpp)
mostly_code = engine.mostly_code  # (codes, region size): the region is the code, not text around it
code_url = engine.code_url  # the web address a code's text is, '' for other text

_FORMS = {"plain": engine.plain_text, "single": engine.single_line, "tsv": engine.tables_tsv}


def clean_markdown(raw: str) -> str:
    """Markdown of raw model output: grounding tags removed, figures linked."""
    return engine.clean_markdown(raw)[0]


def text_form(kind: str, markdown: str) -> str:
    """The markdown in one of the clipboard forms: 'markdown', 'plain', 'single', 'tsv'."""
    return markdown if kind == "markdown" else _FORMS[kind](markdown)


# ---- whole documents (Unlimited-OCR): a PDF's pages in one prompt ------------------------------------------

PAGE_MARK = engine.PAGE_MARK  # "<PAGE>": the plain text Unlimited-OCR writes before each page of a document

VERSION_NAMES: dict[str, str] = dict(engine.VERSION_NAMES)  # "v1" -> "DeepSeek-OCR", "unlimited" -> "Unlimited-OCR"
DOCUMENT_MODE = engine.DOCUMENT_MODE  # the mode each page of a document is read in ("base": 273 tokens)
DocumentResult = engine.DocumentResult  # .pages (one Result each), .text (whole markdown), .plan, .notes
stream_document = engine.stream_document  # (model, pages, RunOptions, cancel=): TextDeltas, then a DocumentResult
plan_for = engine.plan_for  # (model, sizes, RunOptions): a document's DocumentPlan, its tokenizer counting
join_pages = engine.join_pages  # pages' markdown as one document, a page-break line before each
render_pdf_pages = engine.render_pdf_pages  # (path, pages, dpi): (index, RGB image) per page


def document_plan(sizes: list[tuple[int, int]], max_tokens: int):
    """A document's budget without a model (`dsocr plan`'s: the prompt's words estimated, the model's context)."""
    return engine.plan_document(sizes, "unlimited", max_tokens=max_tokens)


# ---- PDF input --------------------------------------------------------------------------------------------

def pdf_page_count(path) -> int:
    return int(engine.pdf_page_count(path))


def parse_page_ranges(text: str, count: int) -> list[int]:
    """'1-3,5' -> [0, 1, 2, 4] (0-based); '' or 'all' -> every page. A bad range raises ValueError."""
    text = (text or "").strip()
    return [int(p) for p in engine.parse_page_ranges(None if text.lower() in ("", "all") else text, count)]


# ---- the Local API: the engine's HTTP service, served from the app's model (dsocr_app/local_api/) -------------

import engine.service  # light: fastapi and uvicorn are imported only when a server starts
from engine.service import scheduler as _scheduler
from engine.service import security as _security
from engine.service import settings as _serve

TextDelta = engine.TextDelta  # text decoded since the previous event (what a request's stream is fed)
ServeSettings = engine.service.ServeSettings  # address, API key, limits; refuses a non-loopback host without a key
ApiError = engine.service.ApiError  # an HTTP error answer in the OpenAI shape
Busy = engine.service.Busy  # too many requests waiting: the server answers 503 with Retry-After
Ticket = _scheduler.Ticket  # one request: its prepared page, options, event sink and cancel flag
API_PORT = _serve.DEFAULT_PORT  # `dsocr serve`'s default port
request_client = _security.CLIENT  # who is calling (its User-Agent's first word), within a request's handling


def start_server(service, settings):
    """Serve `create_app(service, settings)` with uvicorn in a daemon thread, announced to the user's other
    programs (`dsocr mcp`); returns once it listens (`.url`, `.stop()`). Raises ImportError without fastapi or
    uvicorn, OSError when it cannot listen."""
    from engine.service.server import start

    return start(service, settings)
