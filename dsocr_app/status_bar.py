"""The status bar: messages, the model's state on the right, and one progress bar (model loading and
download, then runs). The window tells it what happens; it only shows.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar

from .tiling_panel import ScaleStatus


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class StatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_label = QLabel("No model loaded")
        self.model_label.setAccessibleName("Model status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.model_label)
        self.scale = ScaleStatus()  # how much the page is shrunk; a temporary message hides it briefly
        self.scale.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens
        self.addWidget(self.scale, 1)

    def clear_message(self, prefix: str = "") -> None:
        """Clear the temporary message (only one starting with `prefix`)."""
        if self.currentMessage().startswith(prefix):
            self.clearMessage()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.currentMessage():  # a message from before the window was shown: hide the normal widgets under it
            self.hideOrShow()

    def busy(self, text: str) -> None:
        """An activity of unknown length (loading a model, a run starting)."""
        self.progress.setRange(0, 0)
        self.progress.setFormat(text)
        self.progress.show()

    def idle(self) -> None:
        self.progress.hide()

    def busy_changed(self, busy: bool) -> None:
        """The run queue became busy or idle (then the progress goes)."""
        if not busy:
            self.idle()

    def run_progress(self, tokens: int, tps: float) -> None:
        self.progress.setFormat(f"{tokens} tokens \u00b7 decode {tps:.1f}/s")

    def model_loading(self, source: str) -> None:
        self.model_label.setText(f"Loading {Path(source).name or source}\u2026")
        self.busy("Loading model")

    def download_size(self, size: int) -> None:
        self.showMessage(f"Downloading the model once: {fmt_bytes(size)} into the Hugging Face cache")

    def download_progress(self, done: int, total: int, _desc: str = "") -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
            self.progress.setFormat(f"{fmt_bytes(done)} of {fmt_bytes(total)}")
            self.model_label.setText(f"Downloading the model: {fmt_bytes(done)} of {fmt_bytes(total)}")

    def load_progress(self, permille: int) -> None:
        """Weights read and converted, per mille (after any download)."""
        self.progress.setRange(0, 1000)
        self.progress.setValue(permille)
        self.progress.setFormat(f"Loading model: {permille // 10}%")

    def model_ready(self, model) -> None:
        self.model_label.setText(f"Model: {Path(model.name).name or model.name} ({model.version})")
        self.showMessage(f"Model ready: {model.name} (loaded in {model.load_seconds:.1f} s)", 6000)

    def model_failed(self) -> None:
        self.model_label.setText("No model loaded")
        self.idle()
