"""The main window: builds the parts and connects them, nothing more.

State has one owner each, which signals its changes: the `QueueModel` owns the items and their targets (added,
a grid forced, a region added or removed, a run started, streamed, finished or failed), the `Selection` what
is shown, `Messages` what was said, the `RunQueue` the model and the runs. The parts listen and call those
owners' methods: `Intake` (inputs into the queue), `ShownPresenter` (the shown page, targets and result),
`PlanPresenter` (the shown plan), `RegionCommands`, `PageMenu` and `BoxLinks` (regions, boxes and text),
`RunPresenter` (runs into the queue), `RunCommands` (run, run all, cancel, remove), `ModelControl` (model
loading), `ExportActions`, `ApiRequests` and `LocalApi` (the Local API: HTTP requests run as queue items),
and `ActionStates` (which commands are enabled); the widgets `PlanOptionsBar`, `QueueView`, `PagePane`,
`ResultsPane` and `StatusBar` sit in a `MainSplitter`. The window's public methods are the app's commands for scripts and tests, each handed to the part that does it. Planning is synchronous
(the engine's planner is pure Python); runs happen in the `RunQueue`'s worker thread. `CaptureHistory` keeps
every capture on disk; `HistoryView` lists it in a dock (View > Capture history).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar

from .about import show_about
from .action_states import ActionStates
from .actions import bind_actions, build_actions, build_menus, main_toolbar
from .capture.controller import CaptureController
from .document_presenter import DocumentPresenter
from .export_actions import ExportActions
from .history import CaptureHistory
from .history_view import HistoryView
from .intake import Intake
from .local_api.host import LocalApi
from .local_api.requests import ApiRequests
from .main_splitter import MainSplitter
from .messages import Messages
from .model_control import ModelControl
from .page_pane import PagePane
from .plan_options import PlanOptions, PlanOptionsBar
from .plan_presenter import PlanPresenter
from .queue_model import QueueItem, QueueModel, QueueView, Target
from .region_tools import BoxLinks, PageMenu, RegionCommands
from .results_pane import ResultsPane
from .run_commands import RunCommands
from .run_presenter import RunPresenter
from .run_queue import RunQueue
from .selection import Selection
from .settings import Settings
from .settings_dialog import SettingsDialog
from .run_setup import RunSetup
from .shown_presenter import ShownPresenter
from .status_bar import StatusBar


class MainWindow(QMainWindow):
    """DSOCR's window. Public methods are the app's actions (tests and `--screenshot` call them directly)."""

    planChanged = Signal(object)  # the TilePlan now shown: `PlanPresenter`'s
    runFinished = Signal(int, int)  # queue row, target index (done, cancelled or failed): `RunPresenter`'s
    textStreamed = Signal(str, int)  # a streamed text delta and the tokens generated so far: `RunPresenter`'s
    modelReady = Signal()
    modelError = Signal(str)

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("DSOCR")
        self.setAccessibleName("DSOCR")
        self.setAcceptDrops(True)
        self.queue = QueueModel(self)
        self.selection = Selection(self.queue, self)
        s = self.settings
        self.options_bar = PlanOptionsBar(PlanOptions(s.version, s.mode, *s.tiles(s.version), s.task), s.tiles)
        self.setup = RunSetup(self.queue, self.options_bar, self.settings, self)
        self.runs = RunQueue(self.setup.prepare, self)
        self.history = CaptureHistory(self.settings, self.queue, self)
        self.capturer = CaptureController(self)
        self.acts = build_actions(self)
        self._build_ui()
        build_menus(self.menuBar(), self.acts)
        self._connect()
        self._restore_geometry()
        self.selection.show_row(-1)

    # ---- construction --------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.addToolBar(main_toolbar(self.acts))
        self.addToolBarBreak()
        options_tb = QToolBar("Plan options")
        options_tb.setObjectName("options-toolbar")
        options_tb.setMovable(False)
        options_tb.addWidget(self.options_bar)
        self.addToolBar(options_tb)

        self.queue_view = QueueView(self.queue, self.acts["remove"])
        self.page = PagePane(self.acts["region"])
        self.view, self.target_bar, self.plan_label = self.page.view, self.page.target_bar, self.page.plan_label

        self.results = ResultsPane()
        self.results.setMinimumWidth(300)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.scale_status = self.status.scale
        self.messages = Messages(self.status, self)
        self.models = ModelControl(self, self.runs, self.settings, self.status, self.messages)
        self.intake = Intake(self, self.queue, self.settings, self.messages)
        self.planner = PlanPresenter(self.selection, self.queue, self.options_bar, self.page, self.status)
        self.shown = ShownPresenter(self.selection, self.queue, self.planner, self.page, self.results)
        self.document = DocumentPresenter(self.selection, self.queue, self.setup, self.results, self.planner)
        self.regions = RegionCommands(self.selection, self.queue, self.runs, self.planner, self.page)
        self.page_menu = PageMenu(self.page, self.acts, self.regions)
        self.links = BoxLinks(self.shown, self.view, self.results, self.status)
        self.run_view = RunPresenter(self.runs, self.queue, self.selection, self.status, self.messages)
        self.commands = RunCommands(self.selection, self.queue, self.runs, self.models, self.messages)
        self.api_requests = ApiRequests(self.runs, self.queue, self.setup, self)
        self.local_api = LocalApi(self.settings, self.runs, self.models, self.messages, self.api_requests)
        self.action_states = ActionStates(self.acts, self.selection, self.queue, self.runs, self.planner)
        self.exports = ExportActions(self.queue, self.settings, self.selection, self.results, self.messages)
        self.splitter = MainSplitter(self.queue_view, self.page, self.results)
        self.setCentralWidget(self.splitter)
        self.history_view = HistoryView(self.history)
        self.history_dock = QDockWidget("History", self)  # View > Capture history shows it
        self.history_dock.setObjectName("history-dock")
        self.history_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.history_dock.setWidget(self.history_view)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.history_dock.hide()

    def _connect(self) -> None:
        self.options_bar.changed.connect(self.settings.set_plan)
        self.queue_view.rowChosen.connect(self.selection.show_row)
        self.selection.rowShown.connect(self.queue_view.show_row)
        self.page.targetChosen.connect(self.selection.show_target)
        self.view.mimeDropped.connect(self.intake.handle_mime)
        self.intake.added.connect(self.selection.show_row)
        self.history.problem.connect(self.messages.report)
        self.history_view.openRequested.connect(self.intake.add_stored)
        self.history_view.message.connect(self.status.showMessage)
        self.results.gridHovered.connect(self.planner.preview_grid)
        self.results.gridChosen.connect(self.planner.set_grid)
        self.shown.titleChanged.connect(self.setWindowTitle)
        self.regions.message.connect(self.status.showMessage)
        self.runs.modelLoading.connect(self.planner.model_unloaded)
        self.runs.busyChanged.connect(self.status.busy_changed)
        self.models.ready.connect(self.planner.set_model)
        self.models.ready.connect(lambda _model: self.modelReady.emit())
        self.models.error.connect(self.modelError)
        self.commands.changed.connect(self.action_states.refresh)
        self.action_states.versionEditable.connect(self.options_bar.set_version_editable)
        self.planner.planChanged.connect(self.planChanged)
        self.run_view.runFinished.connect(self.runFinished)
        self.run_view.textStreamed.connect(self.textStreamed)
        bind_actions(self.acts, {
            "open": self.intake.open_dialog, "paste": self.intake.paste, "capture": self.capturer.capture,
            "save": self.exports.save_dialog, "save_pdf": self.exports.save_dialog,
            "export": self.exports.export_dialog, "export_pdf": self.exports.export_dialog,
            "remove": self.commands.remove_current, "settings": self.settings_dialog,
            "close_window": self.close, "quit": self.close,
            "copy_markdown": self.exports.copy_as, "copy_plain": self.exports.copy_as,
            "copy_single": self.exports.copy_as, "copy_tsv": self.exports.copy_as,
            "run": self.commands.run_current, "run_all": self.commands.run_all, "cancel": self.commands.cancel,
            "model": self.models.choose, "region": self.regions.toggle_region_mode,
            "zoom_in": self.view.zoom_by, "zoom_out": self.view.zoom_by, "fit": self.view.fit,
            "tiles": self.view.set_tiles_visible, "boxes": self.view.set_boxes_visible, "about": self.about,
            "history": self.history_dock.setVisible,
        })

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        self.splitter.restore(self.settings.geometry("splitter"))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.splitter.window_resized()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.splitter.window_shown()

    def save_settings(self) -> None:
        s = self.settings
        s.set_geometry("geometry", self.saveGeometry())
        s.set_geometry("splitter", self.splitter.saveState())
        s.set_plan(self.options())
        s.sync()

    # ---- the app's commands, for scripts and tests: each is a part's ----------------------------------------

    def options(self) -> PlanOptions:
        return self.options_bar.options()

    def set_plan_options(self, **changes) -> PlanOptions:
        """Change planning options as a user would (`version=`, `mode=`, `min_tiles=`, `max_tiles=`, `task=`;
        None leaves one unchanged); re-plans. Raises ValueError for invalid values."""
        return self.options_bar.set_options(**{k: v for k, v in changes.items() if v is not None})

    def current_item(self) -> QueueItem | None:
        return self.selection.item()

    def current(self) -> tuple[QueueItem, Target] | tuple[None, None]:
        return self.selection.current()

    @property
    def current_row(self) -> int:
        return self.selection.row

    @property
    def current_target(self) -> int:
        return self.selection.index

    @property
    def current_plan(self):
        """The plan shown (None without an image)."""
        return self.planner.plan

    def show_row(self, row: int) -> None:
        """Show queue row `row` (its image, plan and whole-image result); -1 shows the drop area."""
        self.selection.show_row(row)

    def show_target(self, index: int) -> None:
        """Show target `index` of the current item: its plan, and its result or live stream."""
        self.selection.show_target(index)

    def about(self) -> None:
        show_about(self, self.model.name if self.model is not None else "")

    def add_paths(self, paths, pages: str | None = None) -> int:
        return self.intake.add_paths(paths, pages)

    def add_image(self, image, name: str = "Pasted image") -> int:
        return self.intake.add_image(image, name)

    def open_file(self, path: str) -> None:
        """A file opened from the Dock, Finder or the command line."""
        self.add_paths([path])
        self.raise_()
        self.activateWindow()

    def remove_current(self) -> None:
        self.commands.remove_current()

    def dragEnterEvent(self, event) -> None:
        self.intake.drag_entered(event)

    def dragMoveEvent(self, event) -> None:
        self.intake.drag_entered(event)

    def dropEvent(self, event) -> None:
        self.intake.dropped(event)

    @property
    def model(self):
        return self.runs.model

    def load_model(self, source: str) -> None:
        """Load a model (hub id or folder) in the worker; runs waiting for it start when it is ready."""
        self.models.load(source)

    def run_current(self) -> None:
        self.commands.run_current()

    def run_all(self) -> None:
        self.commands.run_all()

    def cancel(self) -> None:
        """Stop the running job at once and drop the rest of the run queue (and any model download)."""
        self.commands.cancel()

    def is_busy(self) -> bool:
        return self.runs.is_busy()

    def wait_idle(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until nothing runs or loads (for scripts and --screenshot); False on timeout."""
        return self.runs.wait_idle(timeout_s)

    def settings_dialog(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        dialog.accepted.connect(self._settings_saved)
        dialog.exec()

    def _settings_saved(self) -> None:
        self.setup.settings_saved()
        self.capturer.settingsSaved.emit()
        self.local_api.apply(asked=True)

    def serve_local_api(self) -> None:
        """Serve the Local API (the HTTP API of `dsocr serve`, from this window's model) when the settings say so:
        start, restart or stop it."""
        self.local_api.apply()

    def set_max_tokens(self, max_tokens: int) -> None:
        """The token limit of the next runs, for this session (--max-tokens; not saved)."""
        self.setup.set_max_tokens(max_tokens)

    @property
    def max_tokens(self) -> int:
        return self.setup.max_tokens

    def report(self, message: str, title: str = "DSOCR", dialog: bool = False) -> None:
        """Show a message in the status bar (and in a non-blocking box when `dialog`, unless scripted)."""
        self.messages.report(message, title, dialog)

    @property
    def quiet(self) -> bool:
        """Scripted (--screenshot, tests): never open a dialog."""
        return self.messages.quiet

    @quiet.setter
    def quiet(self, quiet: bool) -> None:
        self.messages.set_quiet(quiet)

    def set_quiet(self, quiet: bool) -> None:
        self.messages.set_quiet(quiet)

    @property
    def last_error(self) -> str:
        return self.messages.last_error

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.local_api.stop("DSOCR is quitting")
        self.runs.close()
        super().closeEvent(event)
