"""The global capture shortcut without a display: the key mapping to X11 and Carbon, the setting and its
Settings rows, the platform choice, and the resident registering it and saying when it cannot."""

import ctypes
import sys

import pytest
from PySide6.QtWidgets import QApplication, QFormLayout, QWidget

from dsocr_app.capture import hotkey
from dsocr_app.capture import hotkey_keys as keys
from dsocr_app.capture.resident import Resident
from dsocr_app.capture.settings import CaptureSettings
from dsocr_app.capture.shortcut_rows import ShortcutRows


def test_the_default_is_ctrl_shift_2_and_shift_cmd_2_on_macos():
    assert keys.DEFAULT_SHORTCUT == "Ctrl+Shift+2"
    assert keys.x11_key("Ctrl+Shift+2") == (0x32, keys.X_CONTROL | keys.X_SHIFT)  # XK_2
    assert keys.carbon_key("Ctrl+Shift+2") == (0x13, keys.CMD_KEY | keys.SHIFT_KEY)  # kVK_ANSI_2, Shift+Cmd


@pytest.mark.parametrize("text, x11, carbon", [
    ("Ctrl+Shift+@", (0x40, 5), (0x13, 0x300)),  # Shift+2 as Qt records it on a US layout: the 2 key on macOS
    ("Alt+Shift+A", (0x61, 9), (0x00, 0xA00)),  # letters: the lower-case keysym; Alt is Mod1 / Option
    ("Meta+Ctrl+O", (0x6F, 68), (0x1F, 0x1100)),  # Meta: Super (Mod4) on X11, Control on macOS (Qt's naming)
    ("Ctrl+F5", (0xFFC2, 4), (0x60, 0x100)),
    ("F9", (0xFFC6, 0), (0x65, 0)),  # a function key alone is fine
    ("Ctrl+Alt+Print", (0xFF61, 12), None),  # no Print key on a Mac keyboard
    ("Ctrl+Shift+Space", (0x20, 5), (0x31, 0x300)),
    ("Ctrl+Shift+/", (0x2F, 5), (0x2C, 0x300)),
    ("Ctrl+Shift+Home", (0xFF50, 5), (0x73, 0x300)),
])
def test_key_mapping(text, x11, carbon):
    assert keys.x11_key(text) == x11
    if carbon is None:
        with pytest.raises(ValueError, match="cannot be a global shortcut on macOS"):
            keys.carbon_key(text)
    else:
        assert keys.carbon_key(text) == carbon


@pytest.mark.parametrize("text, says", [("", "not one key chord"), ("Ctrl+A, Ctrl+B", "not one key chord"),
                                        ("A", "no modifier"), ("Ctrl+Shift+Blah", "names no key")])
def test_what_cannot_be_a_shortcut_says_why(text, says):
    with pytest.raises(ValueError, match=says):
        keys.parse(text)
    with pytest.raises(ValueError, match=says):
        keys.x11_key(text)


def test_x11_grabs_the_lock_variants():
    assert keys.x11_variants(5) == [5, 5 | 2, 5 | 16, 5 | 2 | 16]  # as is, Caps Lock, Num Lock (Mod2), both
    assert keys.x11_variants(5, numlock=128) == [5, 7, 133, 135]


def test_shortcut_setting_defaults_persists_and_can_be_none(settings):
    s = CaptureSettings.of(settings)
    assert s.shortcut == "Ctrl+Shift+2" and s.portal_dialog is False
    s.shortcut = "Alt+Shift+O"
    assert CaptureSettings.of(settings).shortcut == "Alt+Shift+O"
    s.shortcut = ""  # cleared in Settings: no shortcut, not the default again
    settings.sync()
    assert CaptureSettings.of(settings).shortcut == ""


def test_platforms_pick_their_mechanism_and_wayland_says_the_system_route(qapp, monkeypatch):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert hotkey.platform_note("xcb") is None and hotkey.platform_note("cocoa") is None
    note = hotkey.platform_note("wayland")
    assert "Wayland" in note and "dsocr-app --capture" in note and "README" in note
    assert "Wayland" in hotkey.platform_note("xcb", {"WAYLAND_DISPLAY": "wayland-0"})  # XWayland cannot grab
    h = hotkey.create("wayland")
    assert isinstance(h, hotkey.NoHotkey) and not h.supported and h.register("Ctrl+Shift+2") is None
    assert h.note == note
    assert isinstance(hotkey.create("offscreen"), hotkey.NoHotkey)
    from dsocr_app.capture.hotkey_x11 import X11Hotkey

    assert isinstance(hotkey.create("xcb"), X11Hotkey)


def _rows(qtbot, settings, platform: str) -> tuple[ShortcutRows, CaptureSettings, QWidget]:
    """The Settings dialog's shortcut rows on `platform`, loaded from the capture settings, and the widget that
    holds them (the caller keeps it: qtbot does not keep it alive)."""
    host = QWidget()
    qtbot.addWidget(host)
    rows = ShortcutRows(QFormLayout(host), platform)
    s = CaptureSettings.of(settings)
    rows.load(s)
    return rows, s, host


def test_settings_rows_record_a_shortcut_and_keep_a_bad_one_out(qtbot, settings):
    rows, s, _host = _rows(qtbot, settings, "xcb")
    assert rows.text == "Ctrl+Shift+2" and rows.portal is None  # no portal choice on X11
    assert "while DSOCR runs" in rows.note.text()
    rows.edit.setKeySequence("Alt+Shift+K")
    rows.save(s)
    assert s.shortcut == "Alt+Shift+K"
    rows.edit.setKeySequence("K")  # a bare key would steal typing everywhere: said, and not saved
    assert "no modifier" in rows.note.text()
    rows.save(s)
    assert s.shortcut == "Alt+Shift+K"
    rows.edit.clear()
    rows.save(s)
    assert s.shortcut == ""


def test_settings_rows_on_wayland_point_to_the_system_route_and_the_portal_dialog(qtbot, settings):
    rows, s, _host = _rows(qtbot, settings, "wayland")
    assert "dsocr-app --capture" in rows.note.text() and rows.portal is not None
    rows.portal.setChecked(True)
    rows.save(s)
    assert s.portal_dialog is True


def test_the_settings_dialog_has_the_shortcut(settings, qtbot):
    from dsocr_app.settings_dialog import CaptureSection

    section = CaptureSection()
    qtbot.addWidget(section)
    section.load(settings)
    section.shortcut.edit.setKeySequence("Ctrl+Alt+T")
    section.save(settings)
    assert CaptureSettings.of(settings).shortcut == "Ctrl+Alt+T"


class FakeHotkey(hotkey.GlobalHotkey):
    """Owned by another program when `taken` names it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.taken, self.grabs = set(), []

    def _grab(self, text):
        self.grabs.append(text)
        return hotkey.owned_message(text) if text in self.taken else None

    def _release(self):
        pass


def test_resident_registers_the_shortcut_captures_and_reports_another_owner(window, settings, qtbot, monkeypatch,
                                                                            capsys):
    fake = FakeHotkey()
    fake.taken = {"Ctrl+Shift+2"}
    monkeypatch.setattr(hotkey, "create", lambda *_a: fake)
    r = Resident(QApplication.instance(), window, stay=False)
    try:
        assert fake.grabs == ["Ctrl+Shift+2"] and fake.text == ""
        err = capsys.readouterr().err
        assert err.startswith("dsocr-app: The capture shortcut Ctrl+Shift+2 is owned by another program")
        assert "Settings > Capture" in err and err.count("\n") == 1
        CaptureSettings.of(settings).shortcut = "Ctrl+Shift+3"  # the user picks another in Settings
        window.capturer.settingsSaved.emit()
        assert fake.text == "Ctrl+Shift+3"
        calls = []
        monkeypatch.setattr(window.capturer, "capture", lambda *a, **k: calls.append(a))
        fake.pressed.emit()
        assert calls == [()]  # the press starts a capture (selection)
        fake.taken.add("Ctrl+Shift+4")
        CaptureSettings.of(settings).shortcut = "Ctrl+Shift+4"
        window.capturer.settingsSaved.emit()  # the window shows: said there
        assert "Ctrl+Shift+4 is owned by another program" in window.last_error
    finally:
        r.shutdown()
        QApplication.instance().setQuitOnLastWindowClosed(True)
    assert fake.text == ""  # released when DSOCR quits


@pytest.mark.skipif(sys.platform == "darwin", reason="Carbon is real on macOS")
def test_the_carbon_hotkey_elsewhere_says_it_cannot_load(qapp):
    from dsocr_app.capture import hotkey_mac as mac

    assert mac.K_EVENT_CLASS_KEYBOARD == 0x6B657962 and mac.SIGNATURE == 0x44534F43  # 'keyb', 'DSOC'
    assert ctypes.sizeof(mac.EventHotKeyID) == 8 == ctypes.sizeof(mac.EventTypeSpec)
    h = mac.CarbonHotkey()
    assert h.register("Ctrl+Shift+2") == "cannot load Carbon for the capture shortcut" and h.text == ""
    assert h.register("K").startswith("'K' has no modifier")  # the mapping is checked first
    h.close()
