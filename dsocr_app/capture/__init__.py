"""Screen capture: select a region of any screen, OCR it with the resident instance, deliver the text.

One module per job: `geometry` (pure rectangle maths), `screens` (frozen screenshots and crops), `overlay`
(the selection windows with the live tile plan), `platform_rules` (macOS permission and Dock, Wayland), `instance`
(one running instance per user), `deliver` (clipboard and notification text), `tray` (menu-bar icon),
`settings` (capture settings), `controller` (the flow), `link` (the one place that talks to the main window),
`cli` (the command-line options), `portal` (Wayland's screenshot through the XDG desktop portal), `hotkey`
(the global capture shortcut; `hotkey_keys` its key mapping, `hotkey_x11` / `hotkey_mac` the platforms'
mechanisms) and `shortcut_rows` (its Settings rows).
"""
