"""Request bodies -> what to OCR and a `RunOptions`, or an `ApiError` (4xx) saying what is wrong.

Two shapes: the OpenAI chat body (`parse_chat`: one image as a `data:` URL or an allowed `file://` path, a text
part naming the task) and DSOCR's own `/v1/ocr` (`parse_ocr`: a multipart upload or JSON with base64, an
image or a PDF with `pages`, the command line's options under their flat names). Images are opened here
(`open_image`: the pixel limit, decompression bombs and damaged files give a clear ImageError), so a bad
input never reaches the model's queue. Nothing here touches the model; call it off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..language.prompt import TASKS
from ..options import RunOptions
from ..preprocess.images import ImageError, open_image
from ..preprocess.pdf import DEFAULT_DPI, parse_page_ranges, pdf_page_count, render_pdf_pages
from .errors import ApiError
from .settings import ServeSettings

# option name -> type, as the command line spells them (flat `RunOptions` names) plus task/prompt/locate
OPTION_TYPES = {
    "task": str, "prompt": str, "locate": str, "mode": str, "min_tiles": int, "max_tiles": int, "grid": "grid",
    "max_tokens": int, "temperature": float, "top_p": float, "ngram_size": int, "ngram_window": int,
    "recover": bool, "repetition_penalty": float, "math": str, "tables": str,
}
OCR_FORMATS = ("json", "md", "txt", "pdf")
MAX_TEMPERATURE = 2.0  # the OpenAI range


def read_json(body: bytes) -> dict:
    """The JSON object of a request body (400 for anything else)."""
    if not body.strip():
        raise ApiError(400, "the request body is empty: send a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the request body is not valid JSON ({e})", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {type(data).__name__}",
                       code="invalid_json")
    return data


def _coerce(name: str, value):
    """A value of option `name` from JSON or a form field (strings are read as the command line reads them)."""
    kind = OPTION_TYPES[name]
    if value is None:
        return None
    try:
        if kind == "grid":
            if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
                return tuple(value)
            from ..preprocess.plan import parse_grid

            return parse_grid(str(value))
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("use true or false")
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("a whole number")
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError("a number")
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError("a finite number")
            return number
        if not isinstance(value, str):
            raise ValueError("text")
        return value
    except (TypeError, ValueError) as e:
        raise ApiError(400, f"{name}: {value!r} is not valid ({e})", param=name) from None


def build_options(values: dict, settings: ServeSettings) -> RunOptions:
    """A `RunOptions` from option values (None: the default); 400 naming the option for a bad one."""
    values = {k: _coerce(k, v) for k, v in values.items() if v is not None}
    if "max_tokens" in values and values["max_tokens"] > settings.max_tokens:
        raise ApiError(400, f"max_tokens: {values['max_tokens']} is more than this server's limit of "
                            f"{settings.max_tokens}", param="max_tokens")
    if values.get("temperature", 0.0) > MAX_TEMPERATURE:
        raise ApiError(400, f"temperature: must be between 0 and {MAX_TEMPERATURE:g} (got {values['temperature']})",
                       param="temperature")
    if values.get("task") == "locate" and not values.get("locate"):
        raise ApiError(400, "task locate needs the text to find: add locate", param="locate")
    if values.get("locate") is not None and values.get("task") not in (None, "locate"):
        raise ApiError(400, f"locate goes with task locate, not task {values['task']}", param="task")
    task = values.pop("task", None) or ("locate" if values.get("locate") is not None else "markdown")
    try:
        return RunOptions.of(task=task, **values)
    except (TypeError, ValueError) as e:
        param = next((k for k in values if k in str(e)), None)
        raise ApiError(400, str(e), param=param) from None


def parse_task(text: str) -> dict:
    """The chat's text part -> task/prompt/locate: a task name (`markdown`, `ocr`, `free`, ...), `locate: TEXT`,
    or any other text as the prompt; empty: markdown."""
    text = (text or "").strip()
    if not text:
        return {"task": "markdown"}
    if text.lower() in TASKS:
        return {"task": text.lower()}
    m = re.fullmatch(r"(?is)locate\s*:\s*(.+)", text)  # the colon: "Locate the logo." stays a prompt
    if m:
        return {"task": "locate", "locate": m.group(1).strip()}
    return {"prompt": text}


# ---- image sources ----------------------------------------------------------------------------------------

_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?)(;base64)?,", re.I)


def decode_base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what}: not valid base64") from None


def decode_data_url(url: str) -> bytes:
    """The bytes of a `data:...;base64,...` URL."""
    m = _DATA_URL.match(url)
    if not m or ";base64," not in url[:m.end()]:
        raise ApiError(400, "image_url: a data URL must be base64 encoded (data:image/png;base64,...)",
                       param="image_url")
    return decode_base64(url[m.end():], "image_url")


def allowed_file(url_or_path: str, settings: ServeSettings) -> Path:
    """The path of a `file://` URL (or a plain path) inside a folder of `--allow-files`, readable, a regular
    file; 403 or 400 otherwise. Links are followed before the check, so none leads out of the folders."""
    from urllib.parse import unquote, urlparse

    if url_or_path.startswith("file:"):
        parsed = urlparse(url_or_path)
        if parsed.netloc not in ("", "localhost"):
            raise ApiError(400, f"{url_or_path}: only local file:// URLs are read", param="image_url")
        raw = unquote(parsed.path)
    else:
        raw = url_or_path
    if not settings.allow_files:
        raise ApiError(403, "file:// inputs are off: start the server with --allow-files DIR to allow a folder",
                       code="files_not_allowed")
    path = Path(raw)
    if not path.is_absolute():
        raise ApiError(400, f"{raw}: a file path must be absolute", param="image_url")
    real = path.resolve()
    if not any(real == d or d in real.parents for d in settings.allow_files):
        raise ApiError(403, f"{raw}: outside the folders allowed by --allow-files", code="file_not_allowed")
    if not real.is_file():
        raise ApiError(400, f"{raw}: no such file (or not a regular file)", param="image_url")
    if not os.access(real, os.R_OK):
        raise ApiError(403, f"{raw}: permission denied", code="file_not_readable")
    if real.stat().st_size > settings.max_body_bytes:
        raise ApiError(413, f"{raw}: larger than the {settings.max_body_bytes // 1_000_000} MB limit")
    return real


def open_checked(source, what: str):
    """`open_image` with its ImageError as a 400 (a bomb, a damaged file, not an image, too many pixels)."""
    try:
        return open_image(source)
    except ImageError as e:
        message = str(e)
        if isinstance(source, (bytes, bytearray)):
            message = message.replace(f"image data ({len(source)} bytes)", what, 1)
        raise ApiError(400, message, code="invalid_image") from None


# ---- the OpenAI chat body ---------------------------------------------------------------------------------

@dataclass
class ChatRequest:
    image: object  # an RGB PIL image
    options: RunOptions
    model: str | None
    stream: bool = False
    include_usage: bool = False


CHAT_EXTRAS = ("mode", "min_tiles", "max_tiles", "grid", "math", "tables", "recover", "repetition_penalty",
               "ngram_size", "ngram_window", "task", "prompt", "locate")  # DSOCR's own, through `extra_body`


def _parts(message) -> list[dict]:
    if not isinstance(message, dict):
        raise ApiError(400, "messages: every message must be an object with role and content", param="messages")
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise ApiError(400, "messages: content must be text or a list of parts", param="messages")
    return content


def parse_chat(body: dict, settings: ServeSettings) -> ChatRequest:
    """An OpenAI chat completion body -> the one image, the options and the stream flags."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: a non-empty list of messages is required", param="messages")
    if body.get("n", 1) not in (1, None):
        raise ApiError(400, "n: only one choice per request (n=1)", param="n")
    images, texts = [], []
    for message in messages:
        if isinstance(message, dict) and message.get("role") not in ("user", "system", "developer", "assistant"):
            raise ApiError(400, f"messages: unknown role {message.get('role')!r}", param="messages")
        for part in _parts(message):
            kind = part.get("type")
            if kind == "text":
                if message.get("role") == "user":
                    texts.append(str(part.get("text") or ""))
            elif kind == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if not isinstance(url, str) or not url:
                    raise ApiError(400, "image_url: needs a url", param="image_url")
                images.append(url)
            else:
                raise ApiError(400, f"messages: content parts of type {kind!r} are not read; send text and "
                                    "image_url parts", param="messages")
    if not images:
        raise ApiError(400, "no image: add an image_url part (data:image/png;base64,... or file:///path)",
                       param="messages", code="no_image")
    if len(images) > 1:
        raise ApiError(400, f"{len(images)} images: one image per chat request (for several pages or a PDF, "
                            "use POST /v1/ocr)", param="messages", code="too_many_images")
    image = _chat_image(images[0], settings)
    values = parse_task("\n".join(t for t in texts if t.strip()))
    if any(body.get(k) is not None for k in ("task", "prompt", "locate")):  # given as fields: they win
        values = {}
    values.update({k: body[k] for k in CHAT_EXTRAS if body.get(k) is not None})
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    values.update(max_tokens=max_tokens, temperature=body.get("temperature"), top_p=body.get("top_p"))
    options = build_options(values, settings)
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise ApiError(400, "stream: must be true or false", param="stream")
    stream_options = body.get("stream_options") or {}
    include_usage = bool(isinstance(stream_options, dict) and stream_options.get("include_usage"))
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "model: must be text", param="model")
    return ChatRequest(image, options, model, stream, include_usage)


def _chat_image(url: str, settings: ServeSettings):
    if url.startswith("data:"):
        data = decode_data_url(url)
        if data.startswith(b"%PDF"):
            raise ApiError(400, "image_url: this is a PDF; send PDFs to POST /v1/ocr (with pages)",
                           param="image_url")
        return open_checked(data, "image_url")
    if url.startswith("file:") or url.startswith("/"):
        path = allowed_file(url, settings)
        return open_checked(path, "image_url")
    if url.startswith(("http:", "https:")):
        raise ApiError(400, "image_url: the server fetches no URLs; send the image as a data: URL "
                            "(data:image/png;base64,...)", param="image_url")
    raise ApiError(400, "image_url: use a data:image/...;base64 URL or a file:// path", param="image_url")


# ---- DSOCR's own /v1/ocr ----------------------------------------------------------------------------------

@dataclass
class OcrRequest:
    pages: list = field(default_factory=list)  # (input label, 1-based page or None, RGB image)
    options: RunOptions = field(default_factory=RunOptions)
    format: str = "json"
    name: str = "upload"


def parse_ocr(data: bytes | None, path: Path | None, name: str, fields: dict, settings: ServeSettings) -> OcrRequest:
    """An upload (`data`, its file `name`) or an allowed file (`path`) and the options in `fields` -> the pages
    to OCR. A PDF gives the pages of `pages` (default all), rendered at `dpi`."""
    fields = dict(fields)
    fmt = str(fields.pop("format", None) or "json").lower()
    if fmt not in OCR_FORMATS:
        raise ApiError(400, f"format: {fmt!r} is not one of {', '.join(OCR_FORMATS)}", param="format")
    pages_spec = fields.pop("pages", None)
    dpi = fields.pop("dpi", None)
    unknown = sorted(set(fields) - set(OPTION_TYPES))
    if unknown:
        raise ApiError(400, f"unknown option(s) {', '.join(unknown)}: use {', '.join(sorted(OPTION_TYPES))}, "
                            "pages, dpi, format", param=unknown[0])
    options = build_options(fields, settings)
    is_pdf = (data[:5] if data is not None else path.open("rb").read(5)) == b"%PDF-"
    req = OcrRequest(options=options, format=fmt, name=name)
    if not is_pdf:
        if pages_spec is not None:
            raise ApiError(400, f"pages: {name} is not a PDF; pages chooses the pages of a PDF", param="pages")
        req.pages.append((name, None, open_checked(data if data is not None else path, name)))
        return req
    try:
        dpi = DEFAULT_DPI if dpi is None else int(dpi)
    except (TypeError, ValueError):
        raise ApiError(400, f"dpi: {dpi!r} is not a whole number", param="dpi") from None
    if not 36 <= dpi <= 1200:
        raise ApiError(400, f"dpi: must be 36-1200 (got {dpi})", param="dpi")
    tmp = None
    try:
        if data is not None:  # pdfium reads files: the upload goes to a private temporary file
            fd, tmp = tempfile.mkstemp(prefix="dsocr-upload-", suffix=".pdf")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        source = Path(tmp) if tmp else path
        try:
            indices = parse_page_ranges(None if pages_spec is None else str(pages_spec), pdf_page_count(source))
            for index, image in render_pdf_pages(source, indices, dpi):
                req.pages.append((name, index + 1, image))
        except ImageError as e:  # InputError too: a damaged PDF, a page that does not exist
            message = str(e).replace(str(source), name)
            raise ApiError(400, message, param="pages" if "page" in message else None) from None
    finally:
        if tmp:
            os.unlink(tmp)
    return req
