"""The tiling inspector: the grids the official rule weighed for the plan shown, and the page's scale.

`TilingPanel` lists the candidates (official order) with their aspect error, stretch, scale and token cost,
says why the grid won, previews a grid on hover (`gridHovered`) and forces one on click (`gridChosen`; None
means back to the automatic, official grid). `ScaleStatus` is the status-line label: how much the page is
shrunk and, when small text is at risk, what to try. Both only display a `TilePlan`; the window re-plans.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from . import engine_bridge as eb

COLUMNS = ("Grid", "Aspect error", "Stretch", "Scale", "Tokens", "")
GRID_ROLE = Qt.ItemDataRole.UserRole
HINT = "Hover: preview a grid on the page. Click: plan with it (nothing runs until you press Run)."


class TilingPanel(QWidget):
    """Candidate grids of one plan; hover previews a grid, click (or Enter) forces it, "Automatic" undoes."""

    gridHovered = Signal(object)  # (cols, rows) under the pointer, or None when it leaves the table
    gridChosen = Signal(object)  # (cols, rows) to force, or None for the automatic (official) grid

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plan = None
        self._hovered = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.reason = QLabel("No image")
        self.reason.setAccessibleName("Why this grid")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.reason)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Candidate grids: hover to preview, click to plan with it (Run uses it)")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMouseTracking(True)
        self.table.viewport().installEventFilter(self)
        self.table.cellEntered.connect(lambda row, _col: self._hover(self.grid_at(row)))
        self.table.cellClicked.connect(lambda row, _col: self._choose(row))
        self.table.cellActivated.connect(lambda row, _col: self._choose(row))
        layout.addWidget(self.table, 1)

        bar = QHBoxLayout()
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        bar.addWidget(self.hint, 1)
        self.automatic_button = QPushButton("Automatic grid")
        self.automatic_button.setToolTip("Back to the official grid choice")
        self.automatic_button.clicked.connect(lambda: self.gridChosen.emit(None))
        bar.addWidget(self.automatic_button)
        layout.addLayout(bar)
        self.set_plan(None)

    # ---- showing a plan -----------------------------------------------------------------------------------
    def set_plan(self, plan) -> None:
        """Show the candidates of `plan` (None: nothing to show)."""
        self.plan = plan
        self._hovered = None
        cands = plan.candidates if plan is not None else ()
        self.table.clearSelection()  # a new plan: no row of the last one stays highlighted
        self.table.setCurrentItem(None)
        self.table.setRowCount(len(cands))
        for r, c in enumerate(cands):
            in_use = c.grid == plan.grid
            note = []
            if c.chosen:
                note.append(f"official ({c.won_by})")
            if in_use and not plan.official:
                note.append("forced")
            values = (f"{c.grid[0]}\u00d7{c.grid[1]}", f"{c.aspect_error:.3f}", f"{c.stretch:+.1%}",
                      f"{c.scale:.2f}", f"{c.image_tokens:,}".replace(",", "\u202f"), ", ".join(note))
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(GRID_ROLE, c.grid)
                if 0 < col < len(COLUMNS) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if in_use:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, col, item)
            if in_use:
                self.table.selectRow(r)
        if plan is None:
            self.reason.setText("No image")
        else:
            self.reason.setText(eb.grid_reason(plan))
        self.table.setEnabled(bool(cands))
        self.automatic_button.setEnabled(plan is not None and not plan.official)

    def grid_at(self, row: int):
        item = self.table.item(row, 0)
        return tuple(item.data(GRID_ROLE)) if item is not None else None

    def rows(self) -> list[list[str]]:
        """The table's text, row by row (for tests and copying)."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]

    # ---- hover and click ----------------------------------------------------------------------------------
    def _hover(self, grid) -> None:
        if grid != self._hovered:
            self._mark_row(self._hovered, False)
            self._hovered = grid
            self._mark_row(grid, True)
            self.gridHovered.emit(grid)

    def _mark_row(self, grid, on: bool) -> None:
        """Tint the row of `grid` while its grid is previewed on the page."""
        rows = [r for r in range(self.table.rowCount()) if self.grid_at(r) == grid] if grid is not None else []
        tint = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        tint.setAlpha(60)
        for r in rows:
            for c in range(self.table.columnCount()):
                self.table.item(r, c).setBackground(QBrush(tint) if on else QBrush())

    def _choose(self, row: int) -> None:
        grid = self.grid_at(row)
        if grid is None or self.plan is None:
            return
        official = next((c.grid for c in self.plan.candidates if c.chosen), None)
        self.gridChosen.emit(None if grid == official else grid)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.table.viewport() and event.type() == QEvent.Type.Leave:
            self._hover(None)
        return super().eventFilter(obj, event)


class ScaleStatus(QLabel):
    """The status-line note: 'page shrunk 2.7x to 1280x1920 tile pixels', plus the small-text warning."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Page scale")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.warning: str | None = None
        self.set_plan(None)

    def set_plan(self, plan, dpi: float | None = None) -> None:
        """Describe `plan`'s scale; `dpi` is the image's resolution when known (PDF pages), else 300 is assumed."""
        if plan is None:
            self.warning = None
            self.setText("")
            self.setToolTip("")
            return
        self.warning = eb.small_text_warning(plan, dpi)
        note = eb.scale_note(plan)
        if self.warning:
            self.setText(f"{html.escape(note)} \u2014 <b>\u26a0 {html.escape(self.warning)}</b>")
            self.setToolTip(eb.small_text_rule(dpi))
        else:
            self.setText(html.escape(note))
            self.setToolTip("How many pixels the model sees per image pixel")
