"""The QR codes and barcodes of the shown result, in one line above its text: each as "format: text", a web
address as a link that opens in the browser. Hidden when the image has none."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def codes_html(codes) -> str:
    """Rich text of `codes` (engine `Code`s): "QR Code: <a href=...>https://...</a> · EAN-13: 4006381333931"."""
    parts = []
    for code in codes:
        text = html.escape(" ".join(code.text.split()))
        if code.url:
            text = f'<a href="{html.escape(code.url, quote=True)}">{text}</a>'
        parts.append(f"<b>{html.escape(code.format)}:</b> {text}")
    return " \u00b7 ".join(parts)


class CodesBar(QLabel):
    """The codes of the shown result (`set_codes`); links open in the browser, texts can be selected."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("QR codes and barcodes")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setOpenExternalLinks(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.codes: list = []
        self.hide()

    def set_codes(self, codes) -> None:
        self.codes = list(codes or [])
        self.setText(codes_html(self.codes))
        self.setVisible(bool(self.codes))
