"""The "Local API" tab of the settings dialog: serve the HTTP API from the app's model (off by default), its
port and an optional API key."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QSpinBox

from ..settings_section import SettingsSection
from .settings import ApiSettings


class LocalApiSection(SettingsSection):
    title = "Local API"

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.enabled = QCheckBox("Serve the Local API to this computer's programs (127.0.0.1)")
        self.enabled.setAccessibleName("Serve the Local API")
        self.enabled.setToolTip("Other programs of this computer (Open WebUI, scripts, the openai client, dsocr mcp) "
                                "read images with the model DSOCR has loaded: the same HTTP API as `dsocr serve`, "
                                "no second model in memory. Their requests wait in DSOCR's queue with your runs")
        form.addRow(self.enabled)
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setAccessibleName("Local API port")
        self.port.setToolTip("The port the API listens on, on 127.0.0.1 only")
        form.addRow("Port", self.port)
        self.key = QLineEdit()
        self.key.setAccessibleName("Local API key")
        self.key.setPlaceholderText("none: every program of this computer may call")
        self.key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.key.setToolTip("When set, every request must send 'Authorization: Bearer KEY' (the openai client's "
                            "api_key)")
        form.addRow("API key", self.key)
        self.url = QLabel()
        self.url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Base URL", self.url)
        self.port.valueChanged.connect(lambda port: self.url.setText(f"http://127.0.0.1:{port}/v1"))
        for widget in (self.port, self.key):
            self.enabled.toggled.connect(widget.setEnabled)

    def load(self, settings) -> None:
        s = ApiSettings.of(settings)
        self.enabled.setChecked(s.enabled)
        self.port.setValue(s.port)
        self.url.setText(f"http://127.0.0.1:{s.port}/v1")
        self.key.setText(s.key)
        for widget in (self.port, self.key):
            widget.setEnabled(s.enabled)

    def save(self, settings) -> None:
        s = ApiSettings.of(settings)
        s.enabled, s.port, s.key = self.enabled.isChecked(), self.port.value(), self.key.text()
