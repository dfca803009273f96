"""Choose the model: a Hugging Face hub id (downloaded once into the Hugging Face cache) or a local folder.

The dialog only picks; the worker loads, and the window shows the download progress and any error.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QVBoxLayout)

from . import engine_bridge as eb

HELP = ("DeepSeek-OCR (v1), DeepSeek-OCR-2 (v2) and Unlimited-OCR (a whole PDF in one pass) are downloaded once "
        "(about 6.7 GB each) into the Hugging Face cache, which other tools share; after that DSOCR works offline. "
        "Nothing is sent anywhere else.")


def model_name(repo: str) -> str:
    """The model a hub id is (its version's name, e.g. 'Unlimited-OCR'), '' for an id DSOCR does not list."""
    version = next((v for v, r in eb.HUB_MODELS.items() if r == repo), None)
    return eb.VERSION_NAMES.get(version, "") if version else ""


class ModelDialog(QDialog):
    """Hub id or local folder; `source()` is the chosen model string."""

    def __init__(self, current: str = "", recent: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose model")
        self.setAccessibleName("Choose model")
        layout = QVBoxLayout(self)
        info = QLabel(HELP)
        info.setWordWrap(True)
        layout.addWidget(info)

        grid = QGridLayout()
        self.hub_radio = QRadioButton("Hugging Face model")
        self.hub_radio.setAccessibleName("Use a Hugging Face model")
        self.hub = QComboBox()
        self.hub.setEditable(True)
        self.hub.setAccessibleName("Hugging Face model id")
        hub_ids = list(dict.fromkeys([*eb.HUB_MODELS.values(), *[r for r in (recent or []) if eb.is_repo_id(r)]]))
        for repo in hub_ids:
            self.hub.addItem(repo)
            if model_name(repo):
                self.hub.setItemData(self.hub.count() - 1, model_name(repo), Qt.ItemDataRole.ToolTipRole)
        self.hub_name = QLabel()
        self.hub_name.setAccessibleName("Model name")
        self.hub.currentTextChanged.connect(lambda text: self.hub_name.setText(model_name(text.strip())))
        self.hub_name.setText(model_name(self.hub.currentText()))
        self.folder_radio = QRadioButton("Local folder")
        self.folder_radio.setAccessibleName("Use a local model folder")
        self.folder = QLineEdit()
        self.folder.setAccessibleName("Local model folder")
        self.folder.setPlaceholderText("A folder with config.json, tokenizer.json and *.safetensors")
        browse = QPushButton("Browse\u2026")
        browse.setAccessibleName("Browse for a model folder")
        browse.clicked.connect(self._browse)
        group = QButtonGroup(self)
        group.addButton(self.hub_radio)
        group.addButton(self.folder_radio)
        grid.addWidget(self.hub_radio, 0, 0)
        grid.addWidget(self.hub, 0, 1, 1, 2)
        grid.addWidget(self.hub_name, 1, 1, 1, 2)
        grid.addWidget(self.folder_radio, 2, 0)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        grid.addLayout(row, 2, 1, 1, 2)
        layout.addLayout(grid)

        if current and not eb.is_repo_id(current):
            self.folder_radio.setChecked(True)
            self.folder.setText(current)
        else:
            self.hub_radio.setChecked(True)
            if current:
                self.hub.setCurrentText(current)
        self.hub.currentTextChanged.connect(lambda _: self.hub_radio.setChecked(True))
        self.folder.textEdited.connect(lambda _: self.folder_radio.setChecked(True))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder", self.folder.text() or str(Path.home()))
        if folder:
            self.folder.setText(folder)
            self.folder_radio.setChecked(True)

    def source(self) -> str:
        return self.folder.text().strip() if self.folder_radio.isChecked() else self.hub.currentText().strip()
