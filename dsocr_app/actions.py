"""The app's actions, menus and toolbar as data: one `ActionSpec` row per action, then where each appears.

The window binds each action to a callable (`bind_actions(actions, {name: callable})`, every action bound
exactly once): a plain one calls it with its row's `args`, a checkable one with its state. A new command is a
row in `ACTIONS`, its name in `MENUS` (and `TOOLBAR`), and the callable it runs in the window's bindings.
"""

from __future__ import annotations

from collections.abc import Callable
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
    args: tuple = ()  # what its callable is called with
    shortcut: str | QKeySequence.StandardKey | None = None
    icon: QStyle.StandardPixmap | None = None
    tip: str = ""
    checkable: bool = False
    checked: bool = False
    short: str = ""  # shorter text for the toolbar
    role: QAction.MenuRole | None = None


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open\u2026", (), Key.Open, SP.SP_DialogOpenButton, "Open images or PDFs",
               short="Open"),
    ActionSpec("paste", "&Paste image", (), Key.Paste, None, "Add the image on the clipboard"),
    ActionSpec("capture", "Capture from &screen", (), "Ctrl+Shift+X", SP.SP_DesktopIcon,
               "Select a region of the screen: its text goes to the clipboard, the capture into the queue",
               short="Capture"),
    ActionSpec("save", "&Save result\u2026", (), Key.Save, SP.SP_DialogSaveButton,
               "Save this result as a file", short="Save"),
    ActionSpec("save_pdf", "Save as searchable &PDF\u2026", ("pdf",), None, None,
               "Save this page as a PDF: the image with its text selectable and searchable"),
    ActionSpec("export", "&Export all\u2026", (), "Ctrl+Shift+E", None,
               "Export every result in the queue to a folder"),
    ActionSpec("export_pdf", "Export all as searchable P&DF\u2026", (("pdf",),), None, None,
               "Export the queue as searchable PDFs, one per file (a PDF's pages together)"),
    ActionSpec("remove", "Remove from queue", (), None, SP.SP_TrashIcon,
               "Remove the selected item from the queue"),
    ActionSpec("settings", "&Settings\u2026", (), Key.Preferences, None,
               "Run and file settings", role=QAction.MenuRole.PreferencesRole),
    ActionSpec("close_window", "Close &window", (), Key.Close, None,
               "Close the window; DSOCR keeps running in the tray / menu bar"),  # shown while resident with a tray
    ActionSpec("quit", "&Quit", (), Key.Quit, None, "Quit DSOCR (a running OCR is cancelled)",
               role=QAction.MenuRole.QuitRole),  # the running instance makes it quit for real (capture.resident)
    ActionSpec("copy_markdown", "&Copy as markdown", ("markdown",), Key.Copy, None,
               "Copy the result as markdown", short="Copy"),
    ActionSpec("copy_plain", "Copy as &plain text", ("plain",), "Ctrl+Shift+C", None,
               "Copy the result as plain text (no markdown)"),
    ActionSpec("copy_single", "Copy as &single line", ("single",), "Ctrl+Alt+C", None,
               "Copy the result as one line"),
    ActionSpec("copy_tsv", "Copy &tables as TSV", ("tsv",), None, None,
               "Copy the tables, tab-separated, for a spreadsheet"),
    ActionSpec("run", "&Run", (), "Ctrl+R", SP.SP_MediaPlay, "OCR the image or region shown"),
    ActionSpec("run_all", "Run &all", (), "Ctrl+Shift+R", SP.SP_MediaSeekForward,
               "OCR every item in the queue that has not run"),
    ActionSpec("cancel", "&Cancel", (), "Esc", SP.SP_MediaStop, "Stop the run at once"),
    ActionSpec("model", "Choose &model\u2026", (), "Ctrl+Shift+M", SP.SP_ComputerIcon,
               "Choose and load the model (hub id or local folder)", short="Model"),
    ActionSpec("region", "Select &region", (), "Ctrl+E", None,
               "Drag a rectangle on the image to OCR only that region", checkable=True),
    ActionSpec("zoom_in", "Zoom &in", (1.25,), Key.ZoomIn),
    ActionSpec("zoom_out", "Zoom &out", (0.8,), Key.ZoomOut),
    ActionSpec("fit", "&Fit to window", (), "Ctrl+0"),
    ActionSpec("tiles", "Show &tile grid", (), "Ctrl+T", checkable=True, checked=True),
    ActionSpec("boxes", "Show &boxes", (), "Ctrl+B", checkable=True, checked=True),
    ActionSpec("history", "Capture &history", (), "Ctrl+H", None,
               "Past captures: search them, copy one again, open one in the queue", checkable=True),
    ActionSpec("about", "&About DSOCR", (), role=QAction.MenuRole.AboutRole),
)

COPY_ACTIONS = ("copy_markdown", "copy_plain", "copy_single", "copy_tsv")

# menu title -> action names (None: a separator)
MENUS: dict[str, tuple[str | None, ...]] = {
    "&File": ("open", "paste", "capture", None, "save", "save_pdf", "export", "export_pdf", None, "remove", None,
              "settings", None, "close_window", "quit"),
    "&Edit": COPY_ACTIONS,
    "&View": ("zoom_in", "zoom_out", "fit", None, "tiles", "boxes", None, "history"),
    "&Run": ("run", "run_all", "cancel", None, "region"),
    "&Model": ("model",),
    "&Help": ("about",),
}

# the toolbar: action names, None for a separator, a tuple for a button with a menu (first is the default)
TOOLBAR: tuple = ("open", "capture", "model", None, "run", "run_all", "cancel", None, COPY_ACTIONS, "save")


def build_actions(window: QWidget, specs=ACTIONS) -> dict[str, QAction]:
    """One QAction per spec, added to `window` (so shortcuts work everywhere); `bind_actions` gives them work."""
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
        window.addAction(a)
        actions[spec.name] = a
    return actions


def bind_actions(actions: dict[str, QAction], slots: dict[str, Callable], specs=ACTIONS) -> None:
    """Connect every action to its callable in `slots` (a checkable one gets its state, the others their
    row's `args`); an action without a callable, or a callable without an action, is an error."""
    missing, unknown = {s.name for s in specs} - set(slots), set(slots) - {s.name for s in specs}
    if missing or unknown:
        raise ValueError(f"actions without a callable: {sorted(missing)}; callables without an action: {sorted(unknown)}")
    for spec in specs:
        slot = slots[spec.name]
        if not callable(slot):
            raise TypeError(f"the action {spec.name!r} is bound to {slot!r}, which is not callable")
        if spec.checkable:
            actions[spec.name].toggled.connect(slot)
        else:
            actions[spec.name].triggered.connect(lambda _=False, slot=slot, args=spec.args: slot(*args))


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
