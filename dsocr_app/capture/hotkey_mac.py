"""The global shortcut on macOS: Carbon's `RegisterEventHotKey` through ctypes (the one system API for a
global shortcut that needs no Accessibility permission). Its press arrives as a Carbon event on the
application's event target, dispatched by the main run loop Qt runs; the handler emits `pressed`.

`eventHotKeyExistsErr` means another program (or this one) holds the shortcut: that is said, nothing kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from PySide6.QtCore import QObject

from . import hotkey_keys as keys
from .hotkey_base import GlobalHotkey, owned_message

EVENT_HOT_KEY_EXISTS = -9878
K_EVENT_CLASS_KEYBOARD = int.from_bytes(b"keyb", "big")
K_EVENT_HOT_KEY_PRESSED = 5
SIGNATURE = int.from_bytes(b"DSOC", "big")

OSStatus = ctypes.c_int32
HANDLER = ctypes.CFUNCTYPE(OSStatus, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


class EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


def _carbon():
    """The Carbon framework with the signatures used here; None when it cannot be loaded."""
    path = ctypes.util.find_library("Carbon")
    if not path:
        return None
    lib = ctypes.cdll.LoadLibrary(path)
    lib.GetApplicationEventTarget.restype = ctypes.c_void_p
    lib.GetApplicationEventTarget.argtypes = []
    lib.InstallEventHandler.restype = OSStatus
    lib.InstallEventHandler.argtypes = [ctypes.c_void_p, HANDLER, ctypes.c_ulong, ctypes.POINTER(EventTypeSpec),
                                        ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.RemoveEventHandler.restype = OSStatus
    lib.RemoveEventHandler.argtypes = [ctypes.c_void_p]
    lib.RegisterEventHotKey.restype = OSStatus
    lib.RegisterEventHotKey.argtypes = [ctypes.c_uint32, ctypes.c_uint32, EventHotKeyID, ctypes.c_void_p,
                                        ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
    lib.UnregisterEventHotKey.restype = OSStatus
    lib.UnregisterEventHotKey.argtypes = [ctypes.c_void_p]
    return lib


class CarbonHotkey(GlobalHotkey):
    """One hot key registered with the Carbon Event Manager, and the handler that hears it."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lib = None
        self._handler = None  # the ctypes callback: kept alive while installed
        self._handler_ref = ctypes.c_void_p()
        self._hotkey_ref = ctypes.c_void_p()

    def _on_event(self, _call_ref, _event, _user_data) -> int:
        self.pressed.emit()
        return 0  # noErr

    def _grab(self, text: str) -> str | None:
        try:
            code, mods = keys.carbon_key(text)
        except ValueError as e:
            return str(e)
        try:
            self._lib = self._lib or _carbon()
        except OSError as e:
            return f"cannot load Carbon for the capture shortcut: {e}"
        if self._lib is None:
            return "cannot load Carbon for the capture shortcut"
        lib, target = self._lib, self._lib.GetApplicationEventTarget()
        if self._handler is None:
            spec = EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOT_KEY_PRESSED)
            handler = HANDLER(self._on_event)
            status = lib.InstallEventHandler(target, handler, 1, ctypes.byref(spec), None,
                                             ctypes.byref(self._handler_ref))
            if status != 0:
                return f"could not install the capture shortcut's handler (Carbon error {status})"
            self._handler = handler
        status = lib.RegisterEventHotKey(code, mods, EventHotKeyID(SIGNATURE, 1), target, 0,
                                         ctypes.byref(self._hotkey_ref))
        if status == EVENT_HOT_KEY_EXISTS:
            return owned_message(text)
        if status != 0:
            return f"could not register the capture shortcut {keys.native_text(text)} (Carbon error {status})"
        return None

    def _release(self) -> None:
        if self._lib is not None and self._hotkey_ref.value:
            self._lib.UnregisterEventHotKey(self._hotkey_ref)
            self._hotkey_ref = ctypes.c_void_p()

    def close(self) -> None:
        """Unregister and remove the event handler (when DSOCR quits)."""
        self.unregister()
        if self._lib is not None and self._handler is not None:
            self._lib.RemoveEventHandler(self._handler_ref)
            self._handler = None
