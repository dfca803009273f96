"""The bar above the image: what Run reads (the whole image or one of its regions), selecting and removing regions.

It only shows and asks: `targetChosen(index)` when the user picks a target, `removeRequested()` for the
remove button; the region tool is the window's checkable "Select region" action, shown here as a button.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget


class TargetBar(QWidget):
    targetChosen = Signal(int)
    removeRequested = Signal()

    def __init__(self, region_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        label = QLabel("OCR")
        self.combo = QComboBox()
        self.combo.setAccessibleName("Whole image or region")
        self.combo.setToolTip("What Run reads: the whole image or one of its regions")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        label.setBuddy(self.combo)
        self.region_button = QToolButton()
        self.region_button.setDefaultAction(region_action)
        self.region_button.setAccessibleName("Select a region")
        self.remove_button = QToolButton()
        self.remove_button.setText("Remove region")
        self.remove_button.setAccessibleName("Remove this region")
        self.remove_button.clicked.connect(self.removeRequested)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.region_button)
        layout.addWidget(self.remove_button)
        self._current = -1
        self._filling = False
        self.combo.currentIndexChanged.connect(self._on_index)
        self.set_targets([], -1)

    def set_targets(self, labels: list[str], current: int, removable: bool | None = None) -> None:
        """Show these targets (the first is the whole image) with `current` selected; `removable`: whether it
        can be removed (default: any but the first; a document's pages cannot)."""
        self._current = current
        self._filling = True
        try:
            self.combo.clear()
            self.combo.addItems([label if k == 0 else f"{k}. {label}" for k, label in enumerate(labels)])
            self.combo.setCurrentIndex(current)
        finally:
            self._filling = False
        self.combo.setEnabled(len(labels) > 1)
        self.remove_button.setVisible(current > 0 if removable is None else removable)

    def current(self) -> int:
        return self._current

    def _on_index(self, index: int) -> None:
        if self._filling or index < 0 or index == self._current:
            return
        self._current = index
        self.remove_button.setVisible(index > 0)
        self.targetChosen.emit(index)
