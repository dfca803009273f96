"""What a finished capture delivers: the clipboard content (plain text, plus markdown as a second flavour
where the task writes markdown; lines joined, markdown as the plain text, appended, as the capture settings say;
a code's text where the region was mostly a QR code or barcode) and the notification (first line, count, time)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData

from .. import engine_bridge as eb
from . import clip_text

MARKDOWN_TASKS = ("markdown",)  # tasks whose output is markdown (the others give plain text)
MARKDOWN_MIME = "text/markdown"


def clipboard_texts(task: str, text: str, form: str = "plain", join: bool = False) -> dict[str, str]:
    """`{"text/plain": ..., "text/markdown": ...}` for a result of `task` (markdown only where it applies):
    lines joined into paragraphs with `join`; `form` "markdown" puts the markdown itself in text/plain."""
    body = clip_text.join_lines(text) if join else text
    if task in MARKDOWN_TASKS:
        return {"text/plain": body if form == "markdown" else eb.text_form("plain", body), MARKDOWN_MIME: body}
    return {"text/plain": body}


def _mime(texts: dict[str, str]) -> QMimeData:
    mime = QMimeData()
    for fmt, value in texts.items():
        if fmt == "text/plain":
            mime.setText(value)
        else:
            mime.setData(fmt, value.encode("utf-8"))
    return mime


def mime_data(task: str, text: str, form: str = "plain", join: bool = False) -> QMimeData:
    return _mime(clipboard_texts(task, text, form, join))


def held(clipboard) -> dict[str, str]:
    """What the clipboard holds now, as `clipboard_texts` gives it (its markdown flavour where it has one)."""
    texts = {"text/plain": clipboard.text()}
    mime = clipboard.mimeData()
    if mime is not None and mime.hasFormat(MARKDOWN_MIME):
        texts[MARKDOWN_MIME] = bytes(mime.data(MARKDOWN_MIME)).decode("utf-8", "replace")
    return texts


def appended_texts(before: dict[str, str], texts: dict[str, str]) -> dict[str, str]:
    """Each flavour of `texts` after the same flavour of `before` (its plain text where it has no such flavour)."""
    return {fmt: clip_text.appended(before.get(fmt, before.get("text/plain", "")), value)
            for fmt, value in texts.items()}


def copy(clipboard, task: str, text: str, form: str = "plain", join: bool = False, append: bool = False) -> None:
    """Put the text on the clipboard (`form`, `join`: see `clipboard_texts`), after what it holds with `append`.
    Plain text goes through Qt's own setter (data Qt makes and owns, which outlives the app where the platform
    keeps it); a second flavour needs a QMimeData."""
    texts = clipboard_texts(task, text, form, join)
    if append:
        texts = appended_texts(held(clipboard), texts)
    if len(texts) > 1:
        clipboard.setMimeData(_mime(texts))
    else:
        clipboard.setText(texts["text/plain"])


def copy_as(clipboard, form: str, text: str, join: bool = False) -> None:
    """A capture's "Copy as markdown" (the markdown as plain text, with a markdown flavour) or "Copy as plain
    text" (converted), whatever its task; it replaces what the clipboard holds."""
    body = clip_text.join_lines(text) if join else text
    if form == "markdown":
        clipboard.setMimeData(_mime({"text/plain": body, MARKDOWN_MIME: body}))
    else:
        clipboard.setText(eb.text_form("plain", body))


def codes_text(codes) -> str:
    """The clipboard text of a region that is mostly codes: their texts, one after the other."""
    return "\n".join(c.text for c in codes)


def first_line(text: str, limit: int = 80) -> str:
    """The first non-empty line, shortened to `limit` characters."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "\u2026"
    return ""


def notification(text: str, tokens: int, seconds: float, append: bool = False) -> str:
    """`"First line…\\n42 tokens · 1.3 s · copied"` (or a note that nothing was read)."""
    head = first_line(text) or "(no text found)"
    return f"{head}\n{tokens} tokens \u00b7 {seconds:.1f} s \u00b7 {_copied(append)}"


def code_notification(codes, seconds: float, append: bool = False) -> str:
    """`"QR Code: https://…\\n1 code · 0.1 s · copied"`: a region that was mostly a code (no OCR run)."""
    count = f"{len(codes)} code{'s' if len(codes) > 1 else ''}"
    return f"{first_line(codes[0].line())}\n{count} \u00b7 {seconds:.1f} s \u00b7 {_copied(append)}"


def _copied(append: bool) -> str:
    return "appended to the clipboard" if append else "copied to the clipboard"
