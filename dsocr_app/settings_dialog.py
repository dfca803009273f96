"""The settings dialog: one tab per `SettingsSection`, each a small widget that reads and writes its settings.

A new group of settings is a `SettingsSection` subclass (title, `load`, `save`) added to `SECTIONS`; the
dialog saves every section on OK and nothing on Cancel.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSpinBox,
                               QTabWidget, QVBoxLayout)

from . import engine_bridge as eb
from .capture.settings import CaptureSettings
from .capture.shortcut_rows import ShortcutRows
from .history_settings import HistorySection
from .local_api.section import LocalApiSection
from .plan_options import TASK_LABELS
from .settings import Settings
from .settings_section import SettingsSection


class RunSection(SettingsSection):
    title = "Run"

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(16, 32768)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setAccessibleName("Max tokens")
        self.max_tokens.setToolTip("The longest text one run may write (tokens)")
        form.addRow("Max tokens per run", self.max_tokens)
        self.recover = QCheckBox("Recover from repetition loops")
        self.recover.setAccessibleName("Recover from repetition loops")
        self.recover.setToolTip("When the model starts repeating itself, go back to where the loop began and "
                                "continue with a stronger guard (a repetition penalty, then low-temperature "
                                "sampling) instead of stopping there")
        form.addRow(self.recover)
        self.penalty = QDoubleSpinBox()
        self.penalty.setRange(1.0, 2.0)
        self.penalty.setSingleStep(0.05)
        self.penalty.setDecimals(2)
        self.penalty.setAccessibleName("Repetition penalty")
        self.penalty.setToolTip("The penalty of the first retry after a loop (1.0 = none; 1.2 by default)")
        self.recover.toggled.connect(self.penalty.setEnabled)
        form.addRow("Repetition penalty after a loop", self.penalty)

    def load(self, settings: Settings) -> None:
        self.max_tokens.setValue(settings.max_tokens)
        self.recover.setChecked(settings.recover)
        self.penalty.setValue(settings.repetition_penalty)
        self.penalty.setEnabled(settings.recover)

    def save(self, settings: Settings) -> None:
        settings.max_tokens = self.max_tokens.value()
        settings.recover = self.recover.isChecked()
        settings.repetition_penalty = self.penalty.value()


class OutputSection(SettingsSection):
    """How equations and tables are written into the markdown (the text, the copies and the exports)."""

    title = "Output"
    MATH = {"brackets": "as the model writes them: \\( \\) and \\[ \\]", "dollars": "$ and $$ (most viewers render these)"}
    TABLES = {"html": "HTML, as the model writes them", "pipe": "markdown pipe tables (when no cells are merged)"}

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.math = QComboBox()
        self.math.setAccessibleName("Equations")
        self.tables = QComboBox()
        self.tables.setAccessibleName("Tables")
        for combo, labels, styles in ((self.math, self.MATH, eb.MATH_STYLES), (self.tables, self.TABLES, eb.TABLE_STYLES)):
            for style in styles:
                combo.addItem(labels[style], style)
        form.addRow("Equations", self.math)
        form.addRow("Tables", self.tables)

    def load(self, settings: Settings) -> None:
        self.math.setCurrentIndex(self.math.findData(settings.math))
        self.tables.setCurrentIndex(self.tables.findData(settings.tables))

    def save(self, settings: Settings) -> None:
        settings.math = self.math.currentData()
        settings.tables = self.tables.currentData()


class FilesSection(SettingsSection):
    title = "Files"

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.pdf_dpi = QSpinBox()
        self.pdf_dpi.setRange(72, 600)
        self.pdf_dpi.setSuffix(" dpi")
        self.pdf_dpi.setAccessibleName("PDF resolution")
        self.pdf_dpi.setToolTip("The resolution PDF pages are rendered at (for pages added from now on)")
        form.addRow("PDF pages rendered at", self.pdf_dpi)

    def load(self, settings: Settings) -> None:
        self.pdf_dpi.setValue(settings.pdf_dpi)

    def save(self, settings: Settings) -> None:
        settings.pdf_dpi = self.pdf_dpi.value()


class ModelSection(SettingsSection):
    """How the model is loaded (from the next load on): compute dtype, memory cap, the vision encoder's float32."""

    title = "Model"
    DTYPES = (("auto", "Automatic (float32 on a CPU, bfloat16 on a GPU)"), ("float32", "float32"),
              ("bfloat16", "bfloat16 (half the memory; slow on a CPU)"))

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.dtype = QComboBox()
        for value, text in self.DTYPES:
            self.dtype.addItem(text, value)
        self.dtype.setAccessibleName("Compute precision")
        self.dtype.setToolTip("The precision the model computes in (takes effect when a model is loaded)")
        form.addRow("Compute precision", self.dtype)
        self.memory = QDoubleSpinBox()
        self.memory.setRange(0.0, 1024.0)
        self.memory.setDecimals(1)
        self.memory.setSingleStep(1.0)
        self.memory.setSuffix(" GB")
        self.memory.setSpecialValueText("Automatic (80% of the memory)")
        self.memory.setAccessibleName("Memory limit")
        self.memory.setToolTip("The memory the model may use. A CPU keeps the language model in bfloat16 where "
                               "numba is installed (same results); without it, a limit below what float32 needs "
                               "keeps most of the model in bfloat16 (same results, slower text)")
        form.addRow("Memory limit", self.memory)
        self.vision_float32 = QCheckBox("Run the vision encoder in float32")
        self.vision_float32.setAccessibleName("Run the vision encoder in float32")
        self.vision_float32.setToolTip("Keeps the image encoder exact while the language model computes in bfloat16 "
                                       "or is quantized: the fix for Unlimited-OCR's repetition loops at low "
                                       "precision (a little more memory and time to read the image)")
        form.addRow("", self.vision_float32)

    def load(self, settings: Settings) -> None:
        self.dtype.setCurrentIndex(max(0, self.dtype.findData(settings.compute_dtype)))
        self.memory.setValue(settings.memory_limit_gb)
        self.vision_float32.setChecked(settings.vision_float32)

    def save(self, settings: Settings) -> None:
        settings.compute_dtype = self.dtype.currentData()
        settings.memory_limit_gb = self.memory.value()
        settings.vision_float32 = self.vision_float32.isChecked()


class CaptureSection(SettingsSection):
    """Screen capture: the task a capture asks for, whether DSOCR stays resident in the menu bar, and the
    clipboard: line breaks kept or joined, markdown or plain text, appended or replacing."""

    title = "Capture"
    LINE_BREAKS = {"keep": "Keep the model's line breaks", "join": "Join lines into paragraphs"}
    FORMS = {"plain": "Plain text (markdown converted)", "markdown": "Markdown as it is written"}

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.task = QComboBox()
        for task in eb.TASKS:
            self.task.addItem(TASK_LABELS.get(task, task), task)
        self.task.setAccessibleName("Capture task")
        self.task.setToolTip("What a screen capture asks the model for (plain text suits the clipboard)")
        form.addRow("Capture as", self.task)
        self.keep = QCheckBox("Keep running in the menu bar")
        self.keep.setToolTip("Closing the window hides it; DSOCR stays in the tray / menu bar with the model "
                             "loaded, so a capture starts at once")
        form.addRow("", self.keep)
        self.line_breaks = QComboBox()
        self.line_breaks.setAccessibleName("Line breaks")
        self.line_breaks.setToolTip("Join the lines of a paragraph (a word cut by a hyphen at a line end is "
                                    "joined again); blank lines, headings, lists and tables stay as they are")
        self.clip_form = QComboBox()
        self.clip_form.setAccessibleName("Clipboard text")
        self.clip_form.setToolTip("What a markdown capture puts on the clipboard as text (a markdown copy goes "
                                  "with it for the programs that read one)")
        for combo, labels in ((self.line_breaks, self.LINE_BREAKS), (self.clip_form, self.FORMS)):
            for value, label in labels.items():
                combo.addItem(label, value)
        form.addRow("Line breaks", self.line_breaks)
        form.addRow("Clipboard text", self.clip_form)
        self.append = QCheckBox("Append to the clipboard instead of replacing it")
        self.append.setToolTip("Each capture goes after what the clipboard holds, a blank line between them")
        form.addRow("", self.append)
        self.shortcut = ShortcutRows(form)  # the global capture shortcut (and Wayland's portal dialog)

    def load(self, settings: Settings) -> None:
        s = CaptureSettings.of(settings)
        self.task.setCurrentIndex(max(0, self.task.findData(s.task)))
        self.keep.setChecked(s.keep_running)
        self.line_breaks.setCurrentIndex(max(0, self.line_breaks.findData(s.line_breaks)))
        self.clip_form.setCurrentIndex(max(0, self.clip_form.findData(s.form)))
        self.append.setChecked(s.append)
        self.shortcut.load(s)

    def save(self, settings: Settings) -> None:
        s = CaptureSettings.of(settings)
        s.task, s.keep_running = self.task.currentData(), self.keep.isChecked()
        s.line_breaks, s.form = self.line_breaks.currentData(), self.clip_form.currentData()
        s.append = self.append.isChecked()
        self.shortcut.save(s)


SECTIONS: list[type[SettingsSection]] = [RunSection, OutputSection, ModelSection, FilesSection, CaptureSection,
                                          LocalApiSection, HistorySection]


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent=None, sections=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.settings = settings
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.sections = [cls() for cls in (sections or SECTIONS)]
        for section in self.sections:
            section.load(settings)
            self.tabs.addTab(section, section.title)
        layout.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        for section in self.sections:
            section.save(self.settings)
        self.settings.sync()
        super().accept()
