"""Pure key mapping of the global shortcut: a Qt key sequence (portable text, e.g. "Ctrl+Shift+2") -> an X11
keysym and modifier mask, or a macOS Carbon virtual key code and modifier bits.

Qt's portable "Ctrl" is the Command key on macOS (and "Meta" its Control key), so one stored text gives
Ctrl+Shift+2 on Linux and Shift+Cmd+2 on macOS. Carbon key codes are key positions (the US ANSI layout); a
shifted symbol ("@", as Qt records Shift+2 on a US layout) maps to the key that types it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

DEFAULT_SHORTCUT = "Ctrl+Shift+2"  # Shift+Cmd+2 on macOS

_MODS = {"ctrl": Qt.KeyboardModifier.ControlModifier, "shift": Qt.KeyboardModifier.ShiftModifier,
         "alt": Qt.KeyboardModifier.AltModifier, "meta": Qt.KeyboardModifier.MetaModifier}


@dataclass(frozen=True)
class Chord:
    """One key with its modifiers: `key` a Qt key code, `mods` among ctrl, shift, alt, meta (Qt's meaning)."""

    key: int
    mods: frozenset


def parse(text: str) -> Chord:
    """The one key chord of a portable key sequence; ValueError (saying what to do) when there is none, when it
    has several chords, or when it lacks a modifier (a bare key would steal typing from every program)."""
    seq = QKeySequence.fromString(text or "", QKeySequence.SequenceFormat.PortableText)
    if seq.count() != 1:
        raise ValueError(f"{text!r} is not one key chord: give one like {DEFAULT_SHORTCUT}")
    combo = seq[0]
    key = int(combo.key().value) if hasattr(combo.key(), "value") else int(combo.key())
    if key in (0, int(Qt.Key.Key_unknown.value)) or key in _MODIFIER_KEYS:
        raise ValueError(f"{text!r} names no key: give one like {DEFAULT_SHORTCUT}")
    mods = frozenset(name for name, flag in _MODS.items() if combo.keyboardModifiers() & flag)
    if not mods and not _is_function_key(key):
        raise ValueError(f"{text!r} has no modifier: a global shortcut needs Ctrl, Alt, Shift or Meta "
                         f"(e.g. {DEFAULT_SHORTCUT})")
    return Chord(key, mods)


_MODIFIER_KEYS = {int(k.value) for k in (Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta)}
_F1 = int(Qt.Key.Key_F1.value)


def _is_function_key(key: int) -> bool:
    return _F1 <= key < _F1 + 35


# ---- X11 ------------------------------------------------------------------------------------------------------

X_SHIFT, X_LOCK, X_CONTROL, X_MOD1, X_MOD2, X_MOD4 = 1, 2, 4, 8, 16, 64
_X_MASKS = {"shift": X_SHIFT, "ctrl": X_CONTROL, "alt": X_MOD1, "meta": X_MOD4}  # Meta: the Super / Windows key
_X_SPECIAL = {
    Qt.Key.Key_Escape: 0xFF1B, Qt.Key.Key_Tab: 0xFF09, Qt.Key.Key_Backspace: 0xFF08, Qt.Key.Key_Return: 0xFF0D,
    Qt.Key.Key_Enter: 0xFF8D, Qt.Key.Key_Insert: 0xFF63, Qt.Key.Key_Delete: 0xFFFF, Qt.Key.Key_Pause: 0xFF13,
    Qt.Key.Key_Print: 0xFF61, Qt.Key.Key_Home: 0xFF50, Qt.Key.Key_End: 0xFF57, Qt.Key.Key_Left: 0xFF51,
    Qt.Key.Key_Up: 0xFF52, Qt.Key.Key_Right: 0xFF53, Qt.Key.Key_Down: 0xFF54, Qt.Key.Key_PageUp: 0xFF55,
    Qt.Key.Key_PageDown: 0xFF56,
}
_X_SPECIAL = {int(k.value): v for k, v in _X_SPECIAL.items()}


def x11_key(text: str) -> tuple[int, int]:
    """(keysym, modifier mask) of a portable key sequence for `XGrabKey` (ValueError when X11 has no such key)."""
    chord = parse(text)
    key = chord.key
    if 0x41 <= key <= 0x5A:
        keysym = key + 0x20  # Qt's letters are upper case; the keysym of the unshifted key is lower case
    elif 0x20 <= key <= 0xFF:
        keysym = key  # Latin-1 keysyms are their code points
    elif _is_function_key(key):
        keysym = 0xFFBE + (key - _F1)  # XK_F1 ...
    elif key in _X_SPECIAL:
        keysym = _X_SPECIAL[key]
    else:
        raise ValueError(f"{text!r} cannot be a global shortcut on X11: choose a letter, digit, symbol or F-key")
    mask = 0
    for m in chord.mods:
        mask |= _X_MASKS[m]
    return keysym, mask


def x11_variants(mask: int, numlock: int = X_MOD2) -> list[int]:
    """The masks to grab so the shortcut also works with Caps Lock and Num Lock on (X11 matches masks exactly)."""
    return sorted({mask, mask | X_LOCK, mask | numlock, mask | X_LOCK | numlock})


# ---- macOS Carbon -----------------------------------------------------------------------------------------------

CMD_KEY, SHIFT_KEY, OPTION_KEY, CONTROL_KEY = 0x100, 0x200, 0x800, 0x1000
_CARBON_MODS = {"ctrl": CMD_KEY, "shift": SHIFT_KEY, "alt": OPTION_KEY, "meta": CONTROL_KEY}  # Qt's mac meaning

# kVK_ANSI_* (HIToolbox/Events.h): the key positions of the US layout
_CARBON_CHARS = {
    "A": 0x00, "S": 0x01, "D": 0x02, "F": 0x03, "H": 0x04, "G": 0x05, "Z": 0x06, "X": 0x07, "C": 0x08, "V": 0x09,
    "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10, "T": 0x11, "1": 0x12, "2": 0x13, "3": 0x14,
    "4": 0x15, "6": 0x16, "5": 0x17, "=": 0x18, "9": 0x19, "7": 0x1A, "-": 0x1B, "8": 0x1C, "0": 0x1D, "]": 0x1E,
    "O": 0x1F, "U": 0x20, "[": 0x21, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26, "'": 0x27, "K": 0x28, ";": 0x29,
    "\\": 0x2A, ",": 0x2B, "/": 0x2C, "N": 0x2D, "M": 0x2E, ".": 0x2F, " ": 0x31, "`": 0x32,
}
_US_SHIFTED = dict(zip('!@#$%^&*()_+{}|:"<>?~', "1234567890-=[]\\;',./`"))
_CARBON_F = (0x7A, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6D, 0x67, 0x6F, 0x69, 0x6B, 0x71, 0x6A,
             0x40, 0x4F, 0x50, 0x5A)  # F1 ... F20
_CARBON_SPECIAL = {
    Qt.Key.Key_Return: 0x24, Qt.Key.Key_Tab: 0x30, Qt.Key.Key_Backspace: 0x33, Qt.Key.Key_Escape: 0x35,
    Qt.Key.Key_Enter: 0x4C, Qt.Key.Key_Help: 0x72, Qt.Key.Key_Home: 0x73, Qt.Key.Key_PageUp: 0x74,
    Qt.Key.Key_Delete: 0x75, Qt.Key.Key_End: 0x77, Qt.Key.Key_PageDown: 0x79, Qt.Key.Key_Left: 0x7B,
    Qt.Key.Key_Right: 0x7C, Qt.Key.Key_Down: 0x7D, Qt.Key.Key_Up: 0x7E,
}
_CARBON_SPECIAL = {int(k.value): v for k, v in _CARBON_SPECIAL.items()}


def carbon_key(text: str) -> tuple[int, int]:
    """(virtual key code, modifier bits) of a portable key sequence for `RegisterEventHotKey` (ValueError when
    no key of the US layout gives it)."""
    chord = parse(text)
    key = chord.key
    char = chr(key) if 0x20 <= key <= 0x7E else ""
    char = _US_SHIFTED.get(char, char)
    if char in _CARBON_CHARS:
        code = _CARBON_CHARS[char]
    elif _is_function_key(key) and key - _F1 < len(_CARBON_F):
        code = _CARBON_F[key - _F1]
    elif key in _CARBON_SPECIAL:
        code = _CARBON_SPECIAL[key]
    else:
        raise ValueError(f"{text!r} cannot be a global shortcut on macOS: choose a letter, digit, symbol or F-key")
    mods = 0
    for m in chord.mods:
        mods |= _CARBON_MODS[m]
    return code, mods


def native_text(text: str) -> str:
    """The shortcut as the platform writes it (e.g. "Ctrl+Shift+2", on macOS "⇧⌘2"); '' for none."""
    return QKeySequence.fromString(text or "", QKeySequence.SequenceFormat.PortableText).toString(
        QKeySequence.SequenceFormat.NativeText)
