"""The global shortcut on X11: `XGrabKey` on the root window through python-xlib, on a connection of its own
whose socket a QSocketNotifier watches (key presses arrive in the GUI thread as `pressed`).

X11 matches modifier masks exactly, so the key is grabbed four times: as is, with Caps Lock, with Num Lock
and with both. A grab another client already holds fails with BadAccess: then the shortcut is owned by
another program, and none of the grabs is kept.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSocketNotifier
from Xlib import XK, X
from Xlib import display as xdisplay
from Xlib import error as xerror

from . import hotkey_keys as keys
from .hotkey_base import GlobalHotkey, owned_message


def numlock_mask(d) -> int:
    """The modifier bit Num Lock sets on this server (Mod2 on most)."""
    codes = {d.keysym_to_keycode(XK.string_to_keysym("Num_Lock"))} - {0}
    for index, row in enumerate(d.get_modifier_mapping()):
        if codes & set(row):
            return 1 << index
    return keys.X_MOD2


class X11Hotkey(GlobalHotkey):
    """The shortcut grabbed on the root window of `display_name` (default: `DISPLAY`)."""

    def __init__(self, display_name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.display_name = display_name
        self._display = None
        self._notifier: QSocketNotifier | None = None
        self._keycode = 0
        self._masks: list[int] = []

    def _grab(self, text: str) -> str | None:
        try:
            keysym, mask = keys.x11_key(text)
        except ValueError as e:
            return str(e)
        try:
            d = xdisplay.Display(self.display_name)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as e:
            return f"cannot reach the X server for the capture shortcut: {e}"
        keycode = d.keysym_to_keycode(keysym)
        if not keycode:
            d.close()
            return f"no key of this keyboard layout types {keys.native_text(text)}: choose another shortcut"
        root = d.screen().root
        masks = keys.x11_variants(mask, numlock_mask(d))
        caught = xerror.CatchError(xerror.BadAccess)
        for m in masks:
            root.grab_key(keycode, m, True, X.GrabModeAsync, X.GrabModeAsync, onerror=caught)
        d.sync()
        if caught.get_error() is not None:
            for m in masks:
                root.ungrab_key(keycode, m)
            d.close()
            return owned_message(text)
        self._display, self._keycode, self._masks = d, keycode, masks
        self._notifier = QSocketNotifier(d.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)
        self._read()  # events the sync already read
        return None

    def _read(self, *_args) -> None:
        d = self._display
        if d is None:
            return
        try:
            while d.pending_events():
                event = d.next_event()
                if event.type == X.KeyPress and event.detail == self._keycode:
                    self.pressed.emit()
        except (xerror.ConnectionClosedError, OSError):  # the X server went away
            self._drop()

    def _release(self) -> None:
        d = self._display
        if d is None:
            return
        try:
            root = d.screen().root
            for m in self._masks:
                root.ungrab_key(self._keycode, m)
            d.sync()
        except (xerror.ConnectionClosedError, OSError):
            pass
        self._drop()

    def _drop(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._display is not None:
            try:
                self._display.close()
            except (xerror.ConnectionClosedError, OSError):
                pass
            self._display = None
