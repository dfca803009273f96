"""The centre of the window: the target bar, the page (or the drop area when there is none) and the plan summary.

`PagePane` only lays out and switches: `show_image(image)` shows a page in its `PreviewView`,
`show_message(text)` the drop area with a text (None: the how-to-start text); what they show is the window's.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from .preview_view import PreviewView
from .target_bar import TargetBar

PLACEHOLDER = ("Drop images, folders or PDFs here\n\nor paste an image ({paste}), or open files ({open}).\n\n"
               "The tile grid the engine will use and its token cost appear before anything runs.")


class PagePane(QWidget):
    def __init__(self, region_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
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
