"""The app's actions, menus and toolbar as data: one `ActionSpec` row per action, then where each appears.

An action calls a method of the window by name (`slot`, a dotted path such as `exports.save_dialog` reaching
a part the window holds, with `args`; a checkable one also gets its state), looked up when it fires.
A new command is a row in `ACTIONS`, its name in `MENUS` (and `TOOLBAR`), and the method on the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QToolBar, QToolButton, QWidget

SP = QStyle.StandardPixmap
Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    slot: str  # the window method it calls (dotted: a method of a part of the window)
    args: tuple = ()
    shortcut: str | QKeySequence.StandardKey | None = None
    icon: QStyle.StandardPixmap | None = None
    tip: str = ""
    checkable: bool = False
    checked: bool = False
    short: str = ""  # shorter text for the toolbar
    role: QAction.MenuRole | None = None


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open\u2026", "intake.open_dialog", (), Key.Open, SP.SP_DialogOpenButton, "Open images or PDFs",
               short="Open"),
    ActionSpec("paste", "&Paste image", "intake.paste", (), Key.Paste, None, "Add the image on the clipboard"),
    ActionSpec("capture", "Capture from &screen", "capturer.capture", (), "Ctrl+Shift+X", SP.SP_DesktopIcon,
               "Select a region of the screen: its text goes to the clipboard, the capture into the queue",
               short="Capture"),
    ActionSpec("save", "&Save result\u2026", "exports.save_dialog", (), Key.Save, SP.SP_DialogSaveButton,
               "Save this result as a file", short="Save"),
    ActionSpec("save_pdf", "Save as searchable &PDF\u2026", "exports.save_dialog", ("pdf",), None, None,
               "Save this page as a PDF: the image with its text selectable and searchable"),
    ActionSpec("export", "&Export all\u2026", "exports.export_dialog", (), "Ctrl+Shift+E", None,
               "Export every result in the queue to a folder"),
    ActionSpec("export_pdf", "Export all as searchable P&DF\u2026", "exports.export_dialog", (("pdf",),), None, None,
               "Export the queue as searchable PDFs, one per file (a PDF's pages together)"),
    ActionSpec("remove", "Remove from queue", "remove_current", (), None, SP.SP_TrashIcon,
               "Remove the selected item from the queue"),
    ActionSpec("settings", "&Settings\u2026", "settings_dialog", (), Key.Preferences, None,
               "Run and file settings", role=QAction.MenuRole.PreferencesRole),
    ActionSpec("close_window", "Close &window", "close", (), Key.Close, None,
               "Close the window; DSOCR keeps running in the tray / menu bar"),  # shown while resident with a tray
    ActionSpec("quit", "&Quit", "close", (), Key.Quit, None, "Quit DSOCR (a running OCR is cancelled)",
               role=QAction.MenuRole.QuitRole),  # the running instance makes it quit for real (capture.resident)
    ActionSpec("copy_markdown", "&Copy as markdown", "exports.copy_as", ("markdown",), Key.Copy, None,
               "Copy the result as markdown", short="Copy"),
    ActionSpec("copy_plain", "Copy as &plain text", "exports.copy_as", ("plain",), "Ctrl+Shift+C", None,
               "Copy the result as plain text (no markdown)"),
    ActionSpec("copy_single", "Copy as &single line", "exports.copy_as", ("single",), "Ctrl+Alt+C", None,
               "Copy the result as one line"),
    ActionSpec("copy_tsv", "Copy &tables as TSV", "exports.copy_as", ("tsv",), None, None,
               "Copy the tables, tab-separated, for a spreadsheet"),
    ActionSpec("run", "&Run", "run_current", (), "Ctrl+R", SP.SP_MediaPlay, "OCR the image or region shown"),
    ActionSpec("run_all", "Run &all", "run_all", (), "Ctrl+Shift+R", SP.SP_MediaSeekForward,
               "OCR every item in the queue that has not run"),
    ActionSpec("cancel", "&Cancel", "cancel", (), "Esc", SP.SP_MediaStop, "Stop the run at once"),
    ActionSpec("model", "Choose &model\u2026", "models.choose", (), "Ctrl+Shift+M", SP.SP_ComputerIcon,
               "Choose and load the model (hub id or local folder)", short="Model"),
    ActionSpec("region", "Select &region", "regions.toggle_region_mode", (), "Ctrl+E", None,
               "Drag a rectangle on the image to OCR only that region", checkable=True),
    ActionSpec("zoom_in", "Zoom &in", "view.zoom_by", (1.25,), Key.ZoomIn),
    ActionSpec("zoom_out", "Zoom &out", "view.zoom_by", (0.8,), Key.ZoomOut),
    ActionSpec("fit", "&Fit to window", "view.fit", (), "Ctrl+0"),
    ActionSpec("tiles", "Show &tile grid", "view.set_tiles_visible", (), "Ctrl+T", checkable=True, checked=True),
    ActionSpec("boxes", "Show &boxes", "view.set_boxes_visible", (), "Ctrl+B", checkable=True, checked=True),
    ActionSpec("about", "&About DSOCR", "about", (), role=QAction.MenuRole.AboutRole),
)

COPY_ACTIONS = ("copy_markdown", "copy_plain", "copy_single", "copy_tsv")

# menu title -> action names (None: a separator)
MENUS: dict[str, tuple[str | None, ...]] = {
    "&File": ("open", "paste", "capture", None, "save", "save_pdf", "export", "export_pdf", None, "remove", None,
              "settings", None, "close_window", "quit"),
    "&Edit": COPY_ACTIONS,
    "&View": ("zoom_in", "zoom_out", "fit", None, "tiles", "boxes"),
    "&Run": ("run", "run_all", "cancel", None, "region"),
    "&Model": ("model",),
    "&Help": ("about",),
}

# the toolbar: action names, None for a separator, a tuple for a button with a menu (first is the default)
TOOLBAR: tuple = ("open", "capture", "model", None, "run", "run_all", "cancel", None, COPY_ACTIONS, "save")


def resolve(window: QWidget, path: str):
    """The method `path` ('name' or 'part.name') of `window`."""
    obj = window
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def build_actions(window: QWidget, specs=ACTIONS) -> dict[str, QAction]:
    """One QAction per spec, added to `window` (so shortcuts work everywhere), calling `window.<slot>`."""
    actions: dict[str, QAction] = {}
    for spec in specs:
        a = QAction(spec.text, window)
        if spec.shortcut is not None:
            a.setShortcut(QKeySequence(spec.shortcut))
        if spec.icon is not None:
            a.setIcon(window.style().standardIcon(spec.icon))
        if spec.short:
            a.setIconText(spec.short)
        if spec.tip:
            keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            a.setToolTip(f"{spec.tip} ({keys})" if keys else spec.tip)
            a.setStatusTip(spec.tip)
        if spec.role is not None:
            a.setMenuRole(spec.role)
        a.setCheckable(spec.checkable)
        a.setChecked(spec.checked)
        if spec.checkable:
            a.toggled.connect(lambda on, path=spec.slot: resolve(window, path)(on))
        else:
            a.triggered.connect(lambda _=False, path=spec.slot, args=spec.args: resolve(window, path)(*args))
        window.addAction(a)
        actions[spec.name] = a
    return actions


def build_menus(menubar, actions: dict[str, QAction], menus=MENUS) -> None:
    for title, names in menus.items():
        menu = menubar.addMenu(title)
        for name in names:
            menu.addSeparator() if name is None else menu.addAction(actions[name])


def main_toolbar(actions: dict[str, QAction], items=TOOLBAR) -> QToolBar:
    """The window's main toolbar (fixed, text beside the icons) with `items`."""
    toolbar = QToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setAccessibleName("Main toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.setMovable(False)
    build_toolbar(toolbar, actions, items)
    return toolbar


def build_toolbar(toolbar: QToolBar, actions: dict[str, QAction], items=TOOLBAR) -> None:
    for entry in items:
        if entry is None:
            toolbar.addSeparator()
        elif isinstance(entry, tuple):
            button = QToolButton(toolbar)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
            button.setToolButtonStyle(toolbar.toolButtonStyle())
            button.setDefaultAction(actions[entry[0]])
            for name in entry:
                button.addAction(actions[name])
            button.setAccessibleName(actions[entry[0]].iconText())
            toolbar.addWidget(button)
        else:
            toolbar.addAction(actions[entry])
