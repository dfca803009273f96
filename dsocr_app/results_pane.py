"""The results pane: live counters, the repetition flag, the tokens of each tile beside the text (`TileCounts`,
visible on every tab while the text streams: where the boxes fall once there is a result), editable markdown,
rendered markdown, raw output and the token table (per tile, global view, newlines, separator, totals, timings);
the image's QR codes and barcodes above the text (`CodesBar`, web addresses as links). A whole document
(`show_document`) shows its token budget in the strip and the table, and its text with a visible break before
each page (the model's page marks, while it streams too).

Streamed text is buffered and flushed a few times a second, so a fast decoder never floods the GUI.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QPalette, QTextCursor, QTextFormat
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QStyle,
                               QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser, QTextEdit, QVBoxLayout,
                               QWidget)

from . import documents
from . import engine_bridge as eb
from .codes_bar import CodesBar
from .tile_counts import TileCounts
from .tiling_panel import TilingPanel

STOP_NOTES = {
    "repetition": ("Stopped by the repetition guard: the model began repeating itself, so the run was cut there. "
                   "The text before the loop is kept; try another mode or a region to read the rest."),
    "max_tokens": "Stopped at the token limit: the text may be incomplete (raise it in Settings \u2192 Run).",
    "cancelled": "Cancelled: the text so far is kept.",
}


def _fmt_int(n) -> str:
    return f"{int(n):,}".replace(",", "\u202f")


def run_summary(result) -> str:
    """One line that keeps the two numbers people compare apart: the decode speed (tokens per second while
    writing) and the total time of the run (reading the image included)."""
    return (f"{_fmt_int(result.generated_tokens)} tokens \u00b7 decode {result.decode_tokens_per_s:.1f} tokens/s "
            f"\u00b7 total {result.elapsed_s:.1f} s (image and prompt {result.encode_s + result.prefill_s:.1f} s) "
            f"\u00b7 stop: {result.stop_reason}")


class ResultsPane(QWidget):
    """Shows one target's text and numbers; emits `cursorRegion` when the caret enters a grounded region's text."""

    textEdited = Signal(str)
    cursorMoved = Signal(int)  # caret position in the markdown
    gridHovered = Signal(object)  # the Tiling tab's: (cols, rows) under the pointer, None when it leaves
    gridChosen = Signal(object)  # the Tiling tab's: (cols, rows) to force, None for the official grid

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.stats = QLabel("No run yet")
        self.stats.setAccessibleName("Run statistics")
        self.stats.setWordWrap(True)
        layout.addWidget(self.stats)

        self.banner = QWidget()
        self.banner.setAccessibleName("Run stop notice")
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(6, 4, 6, 4)
        self.banner_icon = QLabel()
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        bl.addWidget(self.banner_icon)
        bl.addWidget(self.banner_text, 1)
        self.banner.setAutoFillBackground(True)
        self.banner.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.banner.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.codes = CodesBar()  # the QR codes and barcodes of the image (URLs as links)
        layout.addWidget(self.codes)

        self.tile_counts = TileCounts()  # the plan's tokens per tile, above the text on every tab
        layout.addWidget(self.tile_counts)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Results")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("Markdown (editable)")
        self.editor.setFont(mono)
        self.editor.setPlaceholderText("The markdown appears here as the model writes it. You can edit it.")
        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.cursorPositionChanged.connect(lambda: self.cursorMoved.emit(self.editor.textCursor().position()))
        self.tabs.addTab(self.editor, "Markdown")

        self.rendered = QTextBrowser()
        self.rendered.setAccessibleName("Rendered markdown")
        self.rendered.setOpenExternalLinks(False)
        self.tabs.addTab(self.rendered, "Rendered")

        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setFont(mono)
        self.raw.setAccessibleName("Raw model output with grounding tags")
        i = self.tabs.addTab(self.raw, "Raw")
        self.tabs.setTabToolTip(i, "The model's raw output, grounding tags included")

        self.table = QTableWidget(0, 3)
        self.table.setAccessibleName("Token counts per tile and timings")
        self.table.setHorizontalHeaderLabels(["Part", "Where", "Tokens / value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()  # the numbers always show; the long "Where" column gives way
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        self.tabs.addTab(self.table, "Tokens")
        self.tiling = TilingPanel()  # the grids the official rule weighed (hover and click: `gridHovered`, ...)
        self.tiling.gridHovered.connect(self.gridHovered)
        self.tiling.gridChosen.connect(self.gridChosen)
        self.tabs.addTab(self.tiling, "Tiling")
        layout.addWidget(self.tabs, 1)
        self.tabs.currentChanged.connect(lambda _i: self._place_counts())

        self._raw = ""
        self._pages: list[int] | None = None  # a document's page numbers (its text shows page breaks)
        self._table_rows = 0  # the Tokens table's rows of the plan and the result (a budget's come after)
        self._dirty = False
        self._streaming = False
        self._setting = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(120)
        self._flush_timer.timeout.connect(self._flush)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(400)
        self._render_timer.timeout.connect(self._render)

    # text
    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str, raw: str = "") -> None:
        self.codes.set_codes([])  # a result's codes come with it (`show_result`)
        self._setting = True
        try:
            self.editor.setPlainText(text)
            self.raw.setPlainText(raw)
        finally:
            self._setting = False
        self._render()

    def _on_text_changed(self) -> None:
        if not self._setting and not self._streaming:
            self.textEdited.emit(self.editor.toPlainText())
        if not self._render_timer.isActive():  # at most every 400 ms while text streams in
            self._render_timer.start()

    @Slot()
    def _render(self) -> None:
        self._mark_breaks()
        text = self.editor.toPlainText()
        self.rendered.setMarkdown(eb.renderable_markdown(documents.visible_breaks(text) if self._pages else text))

    # streaming
    def begin_stream(self, so_far: str = "", plan=None) -> None:
        """Clear the pane for a run; `so_far` is raw text already streamed (when coming back to a running job),
        `plan` the run's tile plan (its counts stay beside the text as it streams)."""
        self.set_table(plan, None)
        self._streaming = True
        self._raw = so_far
        self._dirty = bool(so_far)
        self.set_text("")
        self.editor.setReadOnly(True)
        self.hide_banner()
        self.tabs.setCurrentWidget(self.editor)
        self.stats.setText("Reading the image\u2026")
        self._flush_timer.start()
        self._flush()

    def append_delta(self, text: str, tokens: int, elapsed: float, tps: float) -> None:
        self._raw += text
        self._dirty = True
        self.stats.setText(f"Running: {_fmt_int(tokens)} tokens \u00b7 decode {tps:.1f} tokens/s \u00b7 "
                           f"{elapsed:.1f} s so far")

    def rewind_stream(self, keep: int, loop_start: int, strategy: str) -> None:
        """A repetition loop was rolled back: the streamed text is cut to its first `keep` characters."""
        self._raw = self._raw[:keep]
        self._dirty = True
        self.show_banner(f"The model began repeating itself at token {loop_start}: going back to there and "
                         f"continuing with {strategy}\u2026", warning=False)

    @Slot()
    def _flush(self) -> None:
        """Show the text streamed so far: raw in its tab, clean (tags removed) in the markdown editor."""
        if not self._dirty:
            return
        self._dirty = False
        raw = self._raw
        cut = raw.rfind("<|")
        if cut >= 0 and raw.find("|>", cut) < 0:  # a tag still arriving: hold it back
            raw = raw[:cut]
        cut = raw.rfind("<|ref|>")
        if cut >= 0 and raw.find("<|/det|>", cut) < 0:
            raw = raw[:cut]
        self._setting = True
        self.raw.setPlainText(self._raw)
        self.editor.setPlainText(documents.stream_text(raw, self._pages, eb.clean_markdown) if self._pages
                                 else eb.clean_markdown(raw))
        self._setting = False
        self._mark_breaks()
        for widget in (self.editor, self.raw):
            widget.moveCursor(QTextCursor.MoveOperation.End)
            widget.ensureCursorVisible()

    def _mark_breaks(self) -> None:
        """A document's page-break lines tinted across the editor, so the pages stand apart as they stream."""
        marks = []
        if self._pages:
            doc = self.editor.document()
            for number in range(doc.blockCount()):
                block = doc.findBlockByNumber(number)
                if documents.is_break(block.text()):
                    sel = QTextEdit.ExtraSelection()
                    sel.format.setBackground(self.palette().color(QPalette.ColorRole.AlternateBase))
                    sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                    sel.format.setFontWeight(QFont.Weight.Bold)
                    sel.cursor = QTextCursor(block)
                    marks.append(sel)
        self.editor.setExtraSelections(marks)

    def show_plan(self, plan) -> None:
        """The plan shown (None: none), in the Tiling tab."""
        self.tiling.set_plan(plan)

    def end_stream(self) -> None:
        self._flush()
        self._flush_timer.stop()
        self._streaming = False
        self.editor.setReadOnly(False)

    # result
    def show_result(self, result, text: str | None = None) -> None:
        """Fill every tab from an engine Result; `text` is the (possibly edited) markdown to show."""
        self.set_text(result.text if text is None else text, result.raw_text)
        self.codes.set_codes(result.codes)
        self._mark_attempts(result)
        if self.tabs.currentWidget() is self.table:
            self.tabs.setCurrentWidget(self.editor)
        stop = result.stop_reason
        self.stats.setText(run_summary(result))
        note = result.recovery_note()
        if stop in STOP_NOTES:
            self.show_banner(STOP_NOTES[stop] + (f" ({note})" if note else ""), warning=stop == "repetition")
        elif note:
            self.show_banner(note[:1].upper() + note[1:] + ".", warning=False)
        else:
            self.hide_banner()
        self.set_table(result.plan, result)

    def _mark_attempts(self, result) -> None:
        """In the raw view, tint the text each retry after a loop wrote, with its strategy as the tooltip."""
        marks = []
        attempts = result.attempts
        for k in range(1, len(attempts)):
            start = attempts[k].text_start
            end = attempts[k + 1].text_start if k + 1 < len(attempts) else len(result.raw_text)
            if start is None or end is None or end <= start:  # nothing of this retry was kept
                continue
            a, b = attempts[k - 1], attempts[k]
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(self.palette().color(QPalette.ColorRole.AlternateBase))
            sel.format.setToolTip(f"written by {b.strategy} after a loop at token {a.loop_start}")
            sel.cursor = QTextCursor(self.raw.document())
            sel.cursor.setPosition(start)
            sel.cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            marks.append(sel)
        self.raw.setExtraSelections(marks)

    def attempt_marks(self) -> list[tuple[int, int, str]]:
        """(start, end, tooltip) of each tinted retry in the raw view."""
        return [(s.cursor.selectionStart(), s.cursor.selectionEnd(), s.format.toolTip())
                for s in self.raw.extraSelections()]

    def show_banner(self, text: str, warning: bool = True) -> None:
        icon = QStyle.StandardPixmap.SP_MessageBoxWarning if warning else QStyle.StandardPixmap.SP_MessageBoxInformation
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.banner_icon.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self.banner_text.setText(text)
        if warning:
            f = QFont(self.banner_text.font())
            f.setBold(True)
            self.banner_text.setFont(f)
        self.banner.show()

    def hide_banner(self) -> None:
        self.banner.hide()

    def banner_message(self) -> str:
        return self.banner_text.text() if self.banner.isVisibleTo(self) else ""

    def clear(self, plan=None) -> None:
        """No result yet: show what the run will cost (the token table)."""
        self.set_text("")
        self.hide_banner()
        self.stats.setText("Not run yet: press Run (Ctrl+R). The tokens this image will cost:" if plan is not None
                           else "No run yet")
        self.set_table(plan, None)
        if plan is not None:
            self.tabs.setCurrentWidget(self.table)

    def show_failure(self, reason: str, plan=None) -> None:
        """An item or run that failed: why, and (when it can still be planned) its token table."""
        self.set_text("")
        self.stats.setText("This item failed:" if plan is None else "The last run failed:")
        self.show_banner(reason, warning=True)
        self.set_table(plan, None)

    def show_document(self, doc, numbers: list[int] | None = None, current: int | None = None,
                      exact: bool = True, summary: str = "") -> None:
        """A document's budget (the engine's DocumentPlan; None: the item shown is no document) in the strip and
        the Tokens table, `numbers` its pages' numbers, `current` the page shown (0-based, None: the whole
        document); its text shows page breaks from now on. `summary`: the budget in words, shown before a run."""
        self._pages = list(numbers) if doc is not None else None
        self._dirty = self._dirty or self._streaming  # streamed text is shown again, with or without page breaks
        if doc is None:
            return
        self.tile_counts.set_document(doc, self._pages, current, exact)
        if summary:
            self.stats.setText(f"Not run yet: press Run (Ctrl+R). The whole document in one pass: {summary}")
        about = "" if exact else "about "
        rows = [(f"Page {n}", f"part {documents.part_of(doc, k)}" if doc.split else f"{doc.pages[k].mode} view",
                 _fmt_int(t)) for k, (n, t) in enumerate(zip(self._pages, doc.page_tokens))]
        rows += [("Prompt text", "start token and the prompt's words", f"{about}{doc.text_tokens}"),
                 ("Document prompt", "pages + text", f"{about}{_fmt_int(doc.prompt_tokens)}"),
                 ("Context", "prompt + output", _fmt_int(doc.context)),
                 ("Left for the output", f"at most {_fmt_int(doc.max_tokens)} asked",
                  f"{about}{_fmt_int(doc.left_for_output)}")]
        if doc.split:
            rows.append(("Parts", doc.range_note(), str(len(doc.ranges))))
        first = self._table_rows  # after the plan's and the result's rows, instead of an earlier budget's
        self.table.setRowCount(first + len(rows))
        for r, row in enumerate(rows, first):
            for c, value in enumerate(row):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(r, c, item)
        self._place_counts()

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Another view of the shown item (e.g. a panel of a later feature); returns its tab index."""
        return self.tabs.addTab(widget, title)

    # table
    def set_table(self, plan, result=None) -> None:
        rows: list[tuple[str, str, str]] = []
        if plan is not None:
            for t in plan.tiles:
                x0, y0, x1, y1 = t.box
                rows.append((f"Tile {t.index + 1}", f"col {t.col + 1}, row {t.row + 1}: "
                             f"{x0:.0f},{y0:.0f}\u2013{x1:.0f},{y1:.0f} px", _fmt_int(t.tokens)))
            g = plan.global_view
            rows.append(("Global view", f"{g.size} px, image {g.scaled[0]}\u00d7{g.scaled[1]}"
                         + (" (stretched)" if g.stretched else ""), _fmt_int(plan.global_tokens)))
            rows.append(("Newlines", "row ends", _fmt_int(plan.newline_tokens)))
            rows.append(("Separator", "view separator", _fmt_int(plan.separator_tokens)))
            rows.append(("Image total", f"{plan.version} {plan.mode}", _fmt_int(plan.image_tokens)))
        if result is not None:
            rows.append(("Prompt tokens", "image + text", _fmt_int(result.prompt_tokens)))
            rows.append(("Generated tokens", result.stop_reason, _fmt_int(result.generated_tokens)))
            if len(result.attempts) > 1:  # every decoding attempt of a run that met a loop
                for k, a in enumerate(result.attempts, 1):
                    loop = f", loop from token {a.loop_start} (period {a.period})" if a.loop_start is not None else ""
                    rows.append((f"Attempt {k}", f"{a.strategy} from token {a.start}: {a.stop}{loop}",
                                 _fmt_int(a.tokens)))
            for name, value in (("Encode + prefill", result.encode_s + result.prefill_s),
                                ("Elapsed", result.elapsed_s)):
                rows.append((name, "seconds", f"{value:.2f}"))
            rows.append(("Decode speed", "tokens/s", f"{result.decode_tokens_per_s:.1f}"))
            rows.append(("Peak memory", "MB", f"{result.peak_memory_mb:.0f}"))
        self.table.setRowCount(len(rows))
        self._table_rows = len(rows)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(value))
        boxes = [tuple(b.rect) for r in result.regions for b in r.boxes] if result is not None else None
        self.tile_counts.set_plan(plan, boxes)
        self._place_counts()

    def _place_counts(self) -> None:
        """The tile counts show above the text views (the Tokens and Tiling tabs have their own tables)."""
        text_view = self.tabs.currentWidget() in (self.editor, self.rendered, self.raw)
        visible = self.tile_counts.plan is not None and text_view
        if visible != self.tile_counts.isVisibleTo(self):
            self.tile_counts.setVisible(visible)
            self.layout().activate()  # the tabs take or give back its room now, not on a later event

    def table_rows(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]

    def select_span(self, start: int, end: int) -> None:
        cursor = self.editor.textCursor()
        cursor.setPosition(max(0, start))
        cursor.setPosition(min(end, len(self.editor.toPlainText())), QTextCursor.MoveMode.KeepAnchor)
        self._setting = True
        self.editor.setTextCursor(cursor)
        self._setting = False
        self.editor.ensureCursorVisible()
        self.tabs.setCurrentWidget(self.editor)
