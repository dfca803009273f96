"""Turn raw model output into clean markdown (as the official script does) and into other text forms.

`clean_markdown`: `image` regions become `![](images/k.jpg)` links (figure k is cropped by the exporter),
every other grounding tag is removed, `\\coloneqq` -> `:=`, `\\eqqcolon` -> `=:`, a trailing EOS is stripped.
`plain_text`, `single_line` and `tables_tsv` serve the copy formats of the app and the CLI.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from .grounding import Box, parse_boxes

EOS_TEXT = "<｜end▁of▁sentence｜>"
TAG_RE = re.compile(r"<\|ref\|>(.*?)<\|/ref\|><\|det\|>(.*?)<\|/det\|>", re.S)
SPECIAL_RE = re.compile(r"<\|(?:/?ref|/?det|grounding|User|Assistant)\|>")


@dataclass(frozen=True)
class Figure:
    """An image region of the page: its file name in the export (`images/k.jpg`) and its box (0-999 grid)."""

    name: str
    grid: tuple[int, int, int, int]

    def box(self, size: tuple[int, int]) -> Box:
        return parse_boxes("[" + ", ".join(str(v) for v in self.grid) + "]", size)[0]


def clean_markdown(raw: str) -> tuple[str, list[Figure]]:
    """(markdown, figures) from raw output with grounding tags."""
    text = raw[: -len(EOS_TEXT)] if raw.endswith(EOS_TEXT) else raw
    figures: list[Figure] = []

    def replace(m: re.Match) -> str:
        if m.group(1).strip() != "image":
            return ""
        boxes = parse_boxes(m.group(2), (999, 999))
        if not boxes:
            return ""
        name = f"images/{len(figures)}.jpg"
        figures.append(Figure(name, boxes[0].grid))
        return f"![]({name})\n"

    text = TAG_RE.sub(replace, text)
    text = SPECIAL_RE.sub("", text)  # stray tags of truncated output
    text = text.replace("\\coloneqq", ":=").replace("\\eqqcolon", "=:")
    return text, figures


class _TableParser(HTMLParser):
    """Collect HTML tables as lists of rows of cell texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _pipe_tables(markdown: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            cells = [c.strip() for c in s[1:-1].split("|")]
            if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c) or not any(cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table (HTML `<table>` as DeepSeek-OCR emits, or markdown pipes) as rows of cells."""
    parser = _TableParser()
    parser.feed(markdown)
    return [t for t in parser.tables if t] + _pipe_tables(markdown)


def tables_tsv(markdown: str) -> str:
    """All tables as TSV, one blank line between tables."""
    return "\n\n".join("\n".join("\t".join(c.replace("\t", " ") for c in row) for row in t) for t in tables(markdown))


def plain_text(markdown: str) -> str:
    """Readable plain text: no markdown markup, HTML tables as tab-separated rows, images dropped."""
    out = re.sub(r"<table.*?</table>", lambda m: "\n" + tables_tsv(m.group(0)) + "\n", markdown, flags=re.S | re.I)
    out = re.sub(r"!\[[^\]]*\]\([^)]*\)\n?", "", out)
    out = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", out)
    out = re.sub(r"^\s{0,3}#{1,6}\s*", "", out, flags=re.M)
    out = re.sub(r"(\*\*|__)(.+?)\1", r"\2", out)
    out = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", out)
    lines = []
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            line = "\t".join(cells)
        lines.append(line)
    out = html.unescape(re.sub(r"</?[a-zA-Z][^>]*>", "", "\n".join(lines)))
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def single_line(text: str) -> str:
    """Everything on one line (whitespace collapsed), for pasting into a form field."""
    return " ".join(plain_text(text).split())
