"""The global shortcut's interface (`GlobalHotkey`), which each platform's module implements (`hotkey.py`
chooses one), and the message for a shortcut another program owns."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from .hotkey_keys import native_text


def owned_message(text: str) -> str:
    return (f"The capture shortcut {native_text(text)} is owned by another program: choose another one in "
            f"Settings > Capture, or free it in that program")


class GlobalHotkey(QObject):
    """A global shortcut; `pressed` fires while it is registered. Subclasses implement `_grab` and `_release`."""

    pressed = Signal()
    note = "Works while DSOCR runs, in its window or in the menu bar / tray."
    supported = True

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.text = ""  # the registered shortcut ('' for none)

    def register(self, text: str) -> str | None:
        """Make `text` the shortcut (the previous one is released first); None, or why it cannot be."""
        self.unregister()
        if not text:
            return None
        problem = self._grab(text)
        if problem is None:
            self.text = text
        return problem

    def unregister(self) -> None:
        if self.text:
            self._release()
            self.text = ""

    def close(self) -> None:
        """Release the shortcut for good (DSOCR quits)."""
        self.unregister()

    def _grab(self, text: str) -> str | None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError
