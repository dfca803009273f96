"""Turn raw model output into clean markdown (as the official script does) and into other text forms.

`clean_markdown`: each `image` region becomes `![](images/k.jpg)\\n` (k counts image regions from 0; figure k
is the region's box, cropped by `crop_figures` or the exporter), every other grounding tag is removed,
`\\coloneqq` -> `:=`, `\\eqqcolon` -> `=:`, and special tokens (`<｜begin▁of▁sentence｜>`, `<|User|>`, a
trailing end-of-sentence ...) never reach the text. `\\[ 1995 \\]` (the model's way of writing literal
brackets around a number) becomes `[1995]`. Two output settings:
- `math="brackets"` keeps the model's `\\( \\)` / `\\[ \\]`; `math="dollars"` writes `$...$` / `$$...$$`, which
  most markdown viewers render (and escapes the text's own `$` signs);
- `tables="html"` keeps the model's HTML tables; `tables="pipe"` writes those without row/column spans as
  markdown pipe tables (spanned ones stay HTML: a pipe table cannot hold them).
`plain_text`, `single_line` and `tables_tsv` serve the copy formats of the app and the CLI; tables come both
as markdown pipe tables and as the HTML `<table><tr><td>` that DeepSeek-OCR emits.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import NamedTuple

from .grounding import EOS_TEXT, Box, box_from_grid, iter_tags, parse_det

# special tokens: DeepSeek's `<｜...｜>` (full-width bars: BOS, EOS, pad) and the `<|...|>` ones (grounding tags,
# `<|User|>`, `<|Assistant|>`, ...), stray ones of truncated output included
_STRAY_TAG_RE = re.compile(r"<｜[^｜<>\n]{1,40}｜>|<\|/?[A-Za-z_▁]{1,30}\|>")
MATH_STYLES = ("brackets", "dollars")
TABLE_STYLES = ("html", "pipe")
# a `<|ref|>label<|/ref|>` cut off at the very end, before its `<|det|>`
_DANGLING_RE = re.compile(r"<\|ref\|>(?:(?!<\|).)*(?:<\|/ref\|>\s*)?\Z", re.S)


class Figure(NamedTuple):
    """An image region of the page: its name in the markdown (`images/k.jpg`) and its box. Unpacks as
    `(name, box)`; `box.grid` holds the 0-999 coordinates, the pixel fields those of the size given to
    `clean_markdown` (the 0-999 coordinates when no size was given: use `box.scaled(image.size)`)."""

    name: str
    box: Box

    @property
    def grid(self) -> tuple[int, int, int, int]:
        return self.box.grid


def check_styles(math: str, tables: str) -> None:
    """Raise a clear ValueError for an unknown math or table setting."""
    if math not in MATH_STYLES:
        raise ValueError(f"math must be one of {', '.join(MATH_STYLES)} (got {math!r})")
    if tables not in TABLE_STYLES:
        raise ValueError(f"tables must be one of {', '.join(TABLE_STYLES)} (got {tables!r})")


def strip_eos(raw: str) -> str:
    """`raw` without a trailing end-of-sentence token (and the whitespace after it)."""
    text = raw.rstrip()
    return text[: -len(EOS_TEXT)] if text.endswith(EOS_TEXT) else raw


def _union(grids: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(min(g[0], g[2]) for g in grids), min(min(g[1], g[3]) for g in grids),
            max(max(g[0], g[2]) for g in grids), max(max(g[1], g[3]) for g in grids))


def clean_markdown(raw: str, image=None, image_size: tuple[int, int] | None = None, *, math: str = "brackets",
                   tables: str = "html") -> tuple[str, list[Figure]]:
    """(markdown, figures) from raw output with grounding tags, as the official script cleans it.

    `image` (a PIL image) or `image_size` (W, H) sets the figures' pixel boxes. An image region with several
    boxes gives one figure covering all of them; one without a readable box is dropped like other tags.
    `math` and `tables` choose the output settings of the module docstring."""
    check_styles(math, tables)
    size = image.size if image is not None else image_size
    text = strip_eos(raw)
    figures: list[Figure] = []
    parts: list[str] = []
    pos = 0
    for label, payload, start, end in iter_tags(text):
        parts.append(text[pos:start])
        pos = end
        if label.strip() != "image":
            continue
        grids = parse_det(payload)
        if not grids:
            continue
        name = f"images/{len(figures)}.jpg"
        figures.append(Figure(name, box_from_grid(_union(grids), size, "image", (start, end))))
        parts.append(f"![]({name})\n")
    parts.append(_DANGLING_RE.sub("", text[pos:]))
    out = _STRAY_TAG_RE.sub("", "".join(parts))  # special tokens and stray tags of truncated output
    out = out.replace("\\coloneqq", ":=").replace("\\eqqcolon", "=:")
    out = _LITERAL_BRACKETS_RE.sub(lambda m: f"[{m.group(1).strip()}]", out)
    if math == "dollars":
        out = math_dollars(out)
    if tables == "pipe":
        out = tables_as_pipes(out)
    return out, figures


# ---- math ----------------------------------------------------------------------------------------------

# `\[ 1995 \]`, `\[12, 13\]`, `\[3-5\]`: numbers in display-math brackets are the page's literal brackets
_LITERAL_BRACKETS_RE = re.compile(r"(?<!\\)\\\[[ \t]*(\d[\d \t.,;:–-]*?)[ \t]*(?<!\\)\\\]")
# display `\[...\]` and inline `\(...\)`; `\\[2pt]` (a LaTeX line break) is not an opening bracket
_MATH_RE = re.compile(r"(?<!\\)\\\[(.+?)(?<!\\)\\\]|(?<!\\)\\\((.+?)(?<!\\)\\\)", re.S)
_DOLLAR_RE = re.compile(r"(?<!\\)\$")


def math_dollars(markdown: str) -> str:
    """`\\( x \\)` -> `$x$` and `\\[ x \\]` -> `$$x$$` (a block on its own lines when it spans lines); the
    text's own `$` become `\\$` so that a price is not read as math."""
    out, pos = [], 0
    for m in _MATH_RE.finditer(markdown):
        out.append(_DOLLAR_RE.sub(r"\\$", markdown[pos:m.start()]))
        if m.group(1) is not None:
            body = m.group(1).strip()
            out.append(f"$$\n{body}\n$$" if "\n" in body else f"$${body}$$")
        else:
            out.append(f"${m.group(2).strip()}$")
        pos = m.end()
    out.append(_DOLLAR_RE.sub(r"\\$", markdown[pos:]))
    return "".join(out)


def crop_figures(image, figures: list[Figure]) -> list[tuple[str, object]]:
    """(name, RGB crop) for each figure, cropped from `image` (the original image; boxes are rescaled to its
    size from their 0-999 coordinates). Figures smaller than one pixel are skipped."""
    out = []
    for name, box in figures:
        b = box.scaled(image.size)
        if b.width < 1 or b.height < 1:
            continue
        out.append((name, image.crop(b.rect).convert("RGB")))
    return out


# ---- tables ------------------------------------------------------------------------------------------------

class _TableParser(HTMLParser):
    """Collect HTML tables as grids of cell texts; colspan and rowspan leave empty cells so columns line up."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._stack: list[dict] = []  # open tables (nested tables are flattened into their own entries)

    @property
    def _t(self):
        return self._stack[-1] if self._stack else None

    def handle_starttag(self, tag, attrs):
        t = self._t
        if tag == "table":
            self._stack.append({"rows": [], "row": None, "cell": None, "pending": {}})
        elif t is None:
            return
        elif tag == "tr":
            self._end_row(t)
            t["row"] = []
        elif tag in ("td", "th"):
            if t["row"] is None:
                t["row"] = []
            self._end_cell(t)
            a = dict(attrs)
            t["cell"] = {"text": [], "colspan": _span(a.get("colspan")), "rowspan": _span(a.get("rowspan"))}
        elif tag == "br" and t["cell"] is not None:
            t["cell"]["text"].append(" ")

    def handle_endtag(self, tag):
        t = self._t
        if t is None:
            return
        if tag in ("td", "th"):
            self._end_cell(t)
        elif tag == "tr":
            self._end_row(t)
        elif tag == "table":
            self._end_row(t)
            self._stack.pop()
            if t["rows"]:
                self.tables.append(t["rows"])

    def handle_data(self, data):
        t = self._t
        if t is not None and t["cell"] is not None:
            t["cell"]["text"].append(data)

    def close(self):
        super().close()
        while self._stack:  # unterminated tables of truncated output keep their rows
            self.handle_endtag("table")

    def _end_cell(self, t):
        cell = t["cell"]
        if cell is None:
            return
        t["cell"] = None
        row, pending = t["row"], t["pending"]
        self._fill_pending(row, pending)
        text = " ".join("".join(cell["text"]).split())
        for k in range(cell["colspan"]):
            col = len(row)
            row.append(text if k == 0 else "")
            if cell["rowspan"] > 1:
                pending[col] = cell["rowspan"] - 1
        self._fill_pending(row, pending)

    @staticmethod
    def _fill_pending(row, pending):
        while pending.get(len(row), 0) > 0:  # cells covered by a rowspan from above
            pending[len(row)] -= 1
            row.append("")

    def _end_row(self, t):
        self._end_cell(t)
        row = t["row"]
        if row is None:
            return
        t["row"] = None
        # covered cells at the end of the row
        for col in sorted(c for c, n in t["pending"].items() if n > 0 and c >= len(row)):
            while len(row) < col:
                row.append("")
            row.append("")
            t["pending"][col] -= 1
        if row:
            t["rows"].append(row)


def _span(value) -> int:
    try:
        return min(max(int(str(value).strip()), 1), 1000)
    except (TypeError, ValueError):
        return 1


_HTML_TABLE_RE = re.compile(r"<table\b.*?(?:</table\s*>|\Z)", re.S | re.I)
_SEPARATOR_CELL_RE = re.compile(r"\s*:?-{1,}:?\s*")
_PIPE_SPLIT_RE = re.compile(r"(?<!\\)\|")


_PARTIAL_TAG_RE = re.compile(r"<[^<>]*\Z")  # a tag cut off by a truncated run (`<td>-</td`)


def _html_tables(fragment: str) -> list[list[list[str]]]:
    parser = _TableParser()
    parser.feed(_PARTIAL_TAG_RE.sub("", fragment))
    parser.close()
    return parser.tables


def _pipe_cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [_inline_plain(c.strip().replace("\\|", "|")) for c in _PIPE_SPLIT_RE.split(s)]


def _is_separator(line: str) -> bool:
    s = line.strip().strip("|")
    cells = _PIPE_SPLIT_RE.split(s)
    return "-" in s and all(_SEPARATOR_CELL_RE.fullmatch(c) for c in cells)


def _has_pipe(line: str) -> bool:
    return bool(_PIPE_SPLIT_RE.search(line))


def _pipe_table_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """[start, end) line ranges of markdown pipe tables: a header row and a separator row followed by rows
    with pipes, or a run of rows that start with `|` (tables without a separator)."""
    blocks = []
    i = 0
    while i < len(lines):
        if _has_pipe(lines[i]) and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            j = i + 2
            while j < len(lines) and _has_pipe(lines[j]) and lines[j].strip():
                j += 1
            blocks.append((i, j))
            i = j
        elif lines[i].strip().startswith("|") and lines[i].strip().endswith("|") and len(lines[i].strip()) > 1:
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            blocks.append((i, j))
            i = j
        else:
            i += 1
    return blocks


def _segments(markdown: str) -> list[tuple[str, object]]:
    """The document as ("text", str) and ("table", rows) pieces, in order."""
    out: list[tuple[str, object]] = []
    pos = 0
    for m in _HTML_TABLE_RE.finditer(markdown):
        out += _pipe_segments(markdown[pos:m.start()])
        out += [("table", t) for t in _html_tables(m.group(0))]
        pos = m.end()
    out += _pipe_segments(markdown[pos:])
    return out


def _pipe_segments(text: str) -> list[tuple[str, object]]:
    lines = text.split("\n")
    out: list[tuple[str, object]] = []
    pos = 0
    for a, b in _pipe_table_blocks(lines):
        if a > pos:
            out.append(("text", "\n".join(lines[pos:a])))
        rows = [_pipe_cells(line) for line in lines[a:b] if not _is_separator(line)]
        out.append(("table", [r for r in rows if any(r)]))
        pos = b
    if pos < len(lines):
        out.append(("text", "\n".join(lines[pos:])))
    return out


_SPAN_RE = re.compile(r"\b(?:rowspan|colspan)\s*=\s*[\"']?\s*0*([2-9]|\d{2,})", re.I)


def _pipe_cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|")


def pipe_table(rows: list[list[str]]) -> str:
    """A markdown pipe table; the first row is the header, short rows are padded."""
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(_pipe_cell(c) for c in r + [""] * (width - len(r))) + " |" for r in rows]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


def _as_pipes(fragment: str) -> str | None:
    """The HTML tables of `fragment` as pipe tables on their own lines (None when it holds no cells)."""
    found = [t for t in _html_tables(fragment) if t]
    return "\n\n" + "\n\n".join(pipe_table(t) for t in found) + "\n\n" if found else None


def tables_as_pipes(markdown: str) -> str:
    """HTML tables written as markdown pipe tables, each on its own lines; tables with row or column spans
    stay HTML (a pipe table cannot merge cells)."""
    def repl(m):
        return m.group(0) if _SPAN_RE.search(m.group(0)) else _as_pipes(m.group(0)) or m.group(0)

    out = _HTML_TABLE_RE.sub(repl, markdown)
    return re.sub(r"\n{3,}(?=\| )|(?<= \|)\n{3,}", "\n\n", out) if out != markdown else out


_TABLE_END_RE = re.compile(r"</table\s*>\s*\Z", re.I)


def renderable_markdown(markdown: str) -> str:
    """The markdown as a viewer (Qt's included) can draw it: a complete HTML table stays HTML (its spans
    render), one cut off by a truncated run becomes a pipe table, which needs no closing tags."""
    def repl(m):
        return m.group(0) if _TABLE_END_RE.search(m.group(0)) else _as_pipes(m.group(0)) or ""

    return _HTML_TABLE_RE.sub(repl, markdown)


def tables(markdown_or_html: str) -> list[list[list[str]]]:
    """Every table of the text (HTML `<table>` as DeepSeek-OCR emits it, or markdown pipes), in document
    order, as rows of cell texts."""
    return [t for kind, t in _segments(markdown_or_html) if kind == "table" and t]


def _tsv_cell(cell: str) -> str:
    return " ".join(cell.replace("\t", " ").split())


def table_tsv(rows: list[list[str]]) -> str:
    return "\n".join("\t".join(_tsv_cell(c) for c in row) for row in rows)


def tables_tsv(markdown_or_html: str) -> str:
    """All tables as TSV (tab between cells, newline between rows), one blank line between tables."""
    return "\n\n".join(table_tsv(t) for t in tables(markdown_or_html))


# ---- plain text ----------------------------------------------------------------------------------------

_INLINE_RULES = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep the alt text (usually empty)
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the text
    (re.compile(r"`([^`]+)`"), r"\1"),  # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italic *x*
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),  # italic _x_
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"<br\s*/?>", re.I), " "),
    (re.compile(r"</?[a-zA-Z][^<>]*>"), ""),  # other HTML tags
]


_ESCAPED = "`*_#|"
_ESCAPE_RE = re.compile(r"\\([`*_#|])")  # markdown escapes (LaTeX `\(`, `\[`, `\\` are left alone)
_PLACEHOLDER_RE = re.compile("[\ue000-\ue004]")


def _inline_plain(text: str) -> str:
    """Inline markup removed: emphasis, code, links, images (alt text kept), HTML tags and entities."""
    text = _ESCAPE_RE.sub(lambda m: chr(0xE000 + _ESCAPED.index(m.group(1))), text)  # escaped: not markup
    for rule, repl in _INLINE_RULES:
        text = rule.sub(repl, text)
    text = _PLACEHOLDER_RE.sub(lambda m: _ESCAPED[ord(m.group(0)) - 0xE000], text)
    return html.unescape(text)


_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+|^\s{0,3}#{1,6}$")
_QUOTE_RE = re.compile(r"^\s{0,3}>\s?")
_RULE_RE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")


def _plain_block(text: str) -> list[str]:
    lines = []
    for line in text.split("\n"):
        if _FENCE_RE.match(line) or _RULE_RE.match(line):
            continue
        line = _HEADING_RE.sub("", line)
        line = _QUOTE_RE.sub("", line)
        line = _inline_plain(line)
        lines.append(line.rstrip())
    return lines


def plain_text(markdown: str) -> str:
    """Readable plain text: no markdown markup or HTML tags, tables as tab-separated rows, images dropped."""
    lines: list[str] = []
    for kind, piece in _segments(markdown):
        if kind == "table":
            if piece:
                lines += ["", table_tsv(piece), ""]
        else:
            lines += _plain_block(piece)
    out = "\n".join(lines)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def single_line(text: str) -> str:
    """Everything on one line (markup removed, all whitespace collapsed to single spaces)."""
    return " ".join(plain_text(text).split())
