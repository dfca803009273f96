"""Choosing and loading the model: the Choose-model dialog, loading in the RunQueue's worker, its progress shown.

`ModelControl` loads through `RunQueue.load` with the settings' load options, remembers the model in the
settings when it is ready and emits `ready(model)`, or reports the problem and emits `error(message)`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from .messages import Messages
from .model_dialog import ModelDialog
from .run_queue import RunQueue
from .settings import Settings
from .status_bar import StatusBar


class ModelControl(QObject):
    ready = Signal(object)  # the loaded Model
    error = Signal(str)

    def __init__(self, parent: QWidget, runs: RunQueue, settings: Settings, status: StatusBar, messages: Messages):
        super().__init__(parent)
        self.parent_widget, self.runs, self.settings, self.status = parent, runs, settings, status
        self.messages = messages
        runs.modelLoading.connect(lambda source: status.showMessage(f"Loading the model {source}\u2026"))
        runs.downloadSize.connect(status.download_size)
        runs.downloadProgress.connect(status.download_progress)
        runs.loadProgress.connect(status.load_progress)
        runs.modelReady.connect(self._on_ready)
        runs.modelFailed.connect(self._on_failed)

    def choose(self) -> bool:
        """Ask for a model and load it; False if the user cancelled."""
        dialog = ModelDialog(self.settings.model, self.settings.recent_models, self.parent_widget)
        if dialog.exec() != ModelDialog.DialogCode.Accepted or not dialog.source():
            return False
        self.load(dialog.source())
        return True

    def load(self, source: str) -> None:
        """Load a model (hub id or folder) in the worker; runs waiting for it start when it is ready."""
        if self.runs.running is not None:
            self.messages.report("Wait for the run to finish (or cancel it) before changing the model")
            return
        self.runs.load(str(source), self.settings.load_options())
        self.status.model_loading(str(source))

    def ensure_loaded(self) -> bool:
        """Before a run: load the remembered model unless one is loaded or loading (none remembered: ask, or
        when scripted say so); False when there will be no model."""
        if self.runs.model is not None or self.runs.loading:
            return True
        if self.settings.model:
            self.load(self.settings.model)
            return True
        if self.messages.quiet:
            self.messages.report("No model is loaded: choose one first (Model \u2192 Choose model)")
            return False
        return self.choose()

    @Slot(object)
    def _on_ready(self, model) -> None:
        self.settings.model = model.name
        self.settings.add_recent_model(model.name)
        self.status.model_ready(model)
        self.ready.emit(model)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status.model_failed()
        self.messages.report(message, title="Could not load the model", dialog=True)
        self.error.emit(message)
