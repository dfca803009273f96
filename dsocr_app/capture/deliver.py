"""What a finished capture delivers: the clipboard content (plain text, plus markdown as a second flavour
where the task writes markdown) and the one-line notification (first line, token count, time)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData

from .. import engine_bridge as eb

MARKDOWN_TASKS = ("markdown",)  # tasks whose output is markdown (the others give plain text)
MARKDOWN_MIME = "text/markdown"


def clipboard_texts(task: str, text: str) -> dict[str, str]:
    """`{"text/plain": ..., "text/markdown": ...}` for a result of `task` (markdown only where it applies)."""
    if task in MARKDOWN_TASKS:
        return {"text/plain": eb.text_form("plain", text), MARKDOWN_MIME: text}
    return {"text/plain": text}


def mime_data(task: str, text: str) -> QMimeData:
    mime = QMimeData()
    for fmt, value in clipboard_texts(task, text).items():
        if fmt == "text/plain":
            mime.setText(value)
        else:
            mime.setData(fmt, value.encode("utf-8"))
    return mime


def copy(clipboard, task: str, text: str) -> None:
    """Put the text on the clipboard. Plain text goes through Qt's own setter (data Qt makes and owns, which
    outlives the app where the platform keeps it); a second flavour needs a QMimeData."""
    if task in MARKDOWN_TASKS:
        clipboard.setMimeData(mime_data(task, text))
    else:
        clipboard.setText(text)


def first_line(text: str, limit: int = 80) -> str:
    """The first non-empty line, shortened to `limit` characters."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "\u2026"
    return ""


def notification(text: str, tokens: int, seconds: float) -> str:
    """`"First line…\\n42 tokens · 1.3 s · copied"` (or a note that nothing was read)."""
    head = first_line(text) or "(no text found)"
    return f"{head}\n{tokens} tokens \u00b7 {seconds:.1f} s \u00b7 copied to the clipboard"
