"""The capture settings' rows for the global shortcut (a key sequence field and what it does on this desktop),
and on Wayland the choice of where the region is picked (DSOCR's overlay or the desktop portal's dialog)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QCheckBox, QFormLayout, QKeySequenceEdit, QLabel

from . import hotkey, platform_rules
from .hotkey_keys import parse
from .settings import CaptureSettings

PORTABLE = QKeySequence.SequenceFormat.PortableText


class ShortcutRows:
    """Adds its rows to `form`; `load` / `save` read and write the capture settings."""

    def __init__(self, form: QFormLayout, platform_name: str | None = None):
        platform_name = QGuiApplication.platformName() if platform_name is None else platform_name
        self.edit = QKeySequenceEdit()
        self.edit.setMaximumSequenceLength(1)
        self.edit.setClearButtonEnabled(True)
        self.edit.setAccessibleName("Capture shortcut")
        self.edit.setToolTip("Press the keys that start a capture from anywhere while DSOCR runs; clear the "
                             "field for no shortcut")
        self.platform_note = hotkey.platform_note(platform_name) or hotkey.GlobalHotkey.note
        self.note = QLabel(self.platform_note)
        self.note.setWordWrap(True)
        self.edit.keySequenceChanged.connect(self._check)
        form.addRow("Capture shortcut", self.edit)
        form.addRow("", self.note)
        self.portal = None
        if platform_rules.uses_portal(platform_name):
            self.portal = QCheckBox("Pick the region in the desktop's own screenshot dialog")
            self.portal.setToolTip("Wayland: instead of DSOCR's overlay (with the tile plan), the desktop portal's "
                                   "dialog picks what is captured")
            form.addRow("", self.portal)

    @property
    def text(self) -> str:
        return self.edit.keySequence().toString(PORTABLE)

    def problem(self) -> str | None:
        """Why the sequence entered cannot be a global shortcut (None when it can, or when it is empty)."""
        if not self.text:
            return None
        try:
            parse(self.text)
        except ValueError as e:
            return str(e)
        return None

    def _check(self, *_args) -> None:
        problem = self.problem()
        self.note.setText(f"Not a usable shortcut: {problem}" if problem else self.platform_note)

    def load(self, s: CaptureSettings) -> None:
        self.edit.setKeySequence(QKeySequence.fromString(s.shortcut, PORTABLE))
        if self.portal is not None:
            self.portal.setChecked(s.portal_dialog)

    def save(self, s: CaptureSettings) -> None:
        if self.problem() is None:  # an unusable one keeps the shortcut there was
            s.shortcut = self.text
        if self.portal is not None:
            s.portal_dialog = self.portal.isChecked()
