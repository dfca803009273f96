"""`SettingsSection`: one tab of the settings dialog (its own module, so sections can live beside the feature
they set, e.g. `local_api/section.py`, and still be listed in `settings_dialog.SECTIONS`)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


class SettingsSection(QWidget):
    """One tab of the settings dialog: `title`, `load(settings)` and `save(settings)`."""

    title = ""

    def load(self, settings) -> None:
        raise NotImplementedError

    def save(self, settings) -> None:
        raise NotImplementedError
