"""The centre of the window: the target bar, the page (or the drop area when there is none) and the plan summary.

`PagePane` only lays out and switches: `show_image(image)` shows a page in its `PreviewView`,
`show_message(text)` the drop area with a text (None: the how-to-start text); what they show is the window's.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from .preview_view import PreviewView
from .target_bar import TargetBar

PLACEHOLDER = ("Drop images, folders or PDFs here\n\nor paste an image ({paste}), or open files ({open}).\n\n"
               "The tile grid the engine will use and its token cost appear before anything runs.")


class PagePane(QWidget):
    regionSelected = Signal(QRect)  # the view's: a rectangle dragged with the region tool (image pixels)
    tileActivated = Signal(int)  # the view's: a tile of the shown plan double-clicked
    targetChosen = Signal(int)  # the target bar's: a target chosen by the user
    removeRequested = Signal()  # the target bar's: remove the region shown

    def __init__(self, region_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.region_action = region_action
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.target_bar = TargetBar(region_action)
        layout.addWidget(self.target_bar)
        self.stack = QStackedWidget()
        keys = {name: QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                for name, k in (("paste", QKeySequence.StandardKey.Paste), ("open", QKeySequence.StandardKey.Open))}
        self.placeholder_text = PLACEHOLDER.format(**keys)
        self.placeholder = QLabel(self.placeholder_text)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAccessibleName("Drop area")
        self.view = PreviewView()
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.regionSelected.connect(self.regionSelected)
        self.view.tileActivated.connect(self.tileActivated)
        self.target_bar.targetChosen.connect(self.targetChosen)
        self.target_bar.removeRequested.connect(self.removeRequested)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        layout.addWidget(self.stack, 1)
        self.plan_label = QLabel()
        self.plan_label.setAccessibleName("Tile plan summary")
        self.plan_label.setWordWrap(True)
        self.plan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.plan_label)
        self.setMinimumWidth(240)

    def show_image(self, image) -> None:
        self.stack.setCurrentWidget(self.view)
        self.view.set_image(image)

    def show_message(self, text: str | None = None) -> None:
        self.view.clear()
        self.stack.setCurrentWidget(self.placeholder)
        self.placeholder.setText(self.placeholder_text if text is None else text)

    def set_targets(self, labels: list[str], index: int, removable: bool | None = None) -> None:
        """The shown item's targets in the target bar, `index` chosen (-1: no item); `removable`: whether the
        chosen one can be removed (default: a region)."""
        self.target_bar.set_targets(labels, index, removable)

    def show_plan(self, plan, origin: tuple[int, int] = (0, 0)) -> None:
        """Draw `plan` (None: no plan) on the page, its image starting at `origin`."""
        self.view.set_plan(plan, origin)

    def set_note(self, text: str) -> None:
        """The plan summary under the page."""
        self.plan_label.setText(text)

    def set_region_mode(self, on: bool) -> None:
        """Dragging selects a region (the region tool) or pans."""
        self.view.set_region_mode(bool(on))

    def end_region_mode(self) -> None:
        self.region_action.setChecked(False)

    def tile_at(self, pos: QPoint) -> int | None:
        """The tile of the shown plan under `pos` (view coordinates), None if none."""
        overlay = self.view.plan_overlay
        return overlay.tile_at(self.view.mapToScene(pos)) if overlay is not None else None
