"""The global shortcut that starts a capture while DSOCR runs (window or menu bar): one interface, one
implementation per platform's own mechanism, chosen by `create`.

- X11 (`hotkey_x11`): a key grab on the root window (with the Caps Lock / Num Lock variants).
- macOS (`hotkey_mac`): Carbon's `RegisterEventHotKey` (no Accessibility permission needed).
- Wayland and anything else: no global grab for apps; the system's own shortcut settings run
  `dsocr-app --capture` instead (README, "A keyboard shortcut"), which `note` says.

`register(text)` takes a portable key sequence ("Ctrl+Shift+2"; '' for none) and answers None, or one line
saying why not (e.g. another program owns the shortcut); `pressed` fires on each press.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QObject

from .hotkey_base import GlobalHotkey, owned_message  # noqa: F401  (the interface, named here for its users)

SYSTEM_ROUTE = ("bind `dsocr-app --capture` to a key in your desktop's keyboard settings "
                "(README, \"A keyboard shortcut\")")


class NoHotkey(GlobalHotkey):
    """Where apps cannot own a global shortcut: registers nothing, and `note` says what to do instead."""

    supported = False

    def __init__(self, note: str, parent: QObject | None = None):
        super().__init__(parent)
        self.note = note

    def register(self, text: str) -> str | None:
        return None


def platform_note(platform_name: str, env=os.environ) -> str | None:
    """Why this session has no global shortcut for apps (the system route then), or None when it has one."""
    if platform_name.startswith("wayland") or (platform_name == "xcb" and env.get("WAYLAND_DISPLAY")):
        return f"Wayland lets no app own a global shortcut: {SYSTEM_ROUTE}."
    if platform_name not in ("xcb", "cocoa"):
        return f"No global shortcut on the {platform_name!r} platform: {SYSTEM_ROUTE}."
    return None


def create(platform_name: str, parent: QObject | None = None) -> GlobalHotkey:
    """The global shortcut of this session's platform (a `NoHotkey` saying why where there is none)."""
    note = platform_note(platform_name)
    if note:
        return NoHotkey(note, parent)
    if sys.platform == "darwin":
        from .hotkey_mac import CarbonHotkey

        return CarbonHotkey(parent)
    try:
        from .hotkey_x11 import X11Hotkey
    except ImportError:  # python-xlib missing (it is a dependency on Linux)
        return NoHotkey(f"python-xlib is not installed (pip install python-xlib), so no global shortcut: "
                        f"{SYSTEM_ROUTE}.", parent)
    return X11Hotkey(parent=parent)
