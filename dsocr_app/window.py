"""The main window: composes the parts and keeps what is shown (the current item and target), status and dialogs.

The parts are plain objects with one job each, talking through signals and a few callables the window hands
them (`current`, `report`, `update_actions`): `Intake` (inputs into the queue), `PlanPresenter` (the shown
plan), `RegionCommands` and `BoxLinks` (regions, boxes and text), `RunPresenter` (runs as they stream),
`ModelControl` (model loading), `ExportActions`; the widgets `PlanOptionsBar`, `QueueView`, `PagePane`,
`ResultsPane` and `StatusBar` sit in a `MainSplitter`. Planning is synchronous (the engine's planner is pure
Python); runs happen in the `RunQueue`'s worker thread.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QSizePolicy, QToolBar

from . import engine_bridge as eb
from .about import show_about
from .export_actions import ExportActions
from .actions import build_actions, build_menus, main_toolbar
from .capture.controller import CaptureController
from .intake import Intake
from .main_splitter import MainSplitter
from .model_control import ModelControl
from .page_pane import PagePane
from .plan_options import PlanOptions, PlanOptionsBar
from .plan_presenter import PlanPresenter
from .queue_model import QueueItem, QueueModel, QueueView, State, Target
from .region_tools import BoxLinks, RegionCommands
from .results_pane import ResultsPane
from .run_presenter import RunPresenter
from .run_queue import RunQueue
from .settings import Settings
from .settings_dialog import SettingsDialog
from .status_bar import StatusBar
from .tiling_panel import ScaleStatus


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
        self.quiet = False  # scripted (--screenshot, tests): never open a dialog
        self.setWindowTitle("DSOCR")
        self.setAccessibleName("DSOCR")
        self.setAcceptDrops(True)
        self.queue = QueueModel(self)
        self.runs = RunQueue(self._prepare_run, self)
        self.capturer = CaptureController(self)
        self.current_row = -1
        self.current_target = 0
        self.current_image = None
        self.max_tokens = self.settings.max_tokens  # a run's token limit (--max-tokens overrides it unsaved)
        self.last_error = ""
        self._message_box: QMessageBox | None = None
        self.acts = build_actions(self)
        self._build_ui()
        build_menus(self.menuBar(), self.acts)
        self._connect()
        self._restore_geometry()
        self.show_row(-1)

    # ---- construction --------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.addToolBar(main_toolbar(self.acts))
        self.addToolBarBreak()
        s = self.settings
        self.options_bar = PlanOptionsBar(PlanOptions(s.version, s.mode, *s.tiles(s.version), s.task), s.tiles)
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
        self.scale_status = ScaleStatus()  # how much the page is shrunk; a temporary message hides it briefly
        self.scale_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens
        self.status.addWidget(self.scale_status, 1)
        self.models = ModelControl(self, self.runs, self.settings, self.status, self.report, self.update_actions)
        self.intake = Intake(self, self.queue, self.settings, lambda: self.quiet, self.report, self.status.showMessage)
        self.planner = PlanPresenter(self.current, self.options, self.runs, self.view, self.results, self.scale_status,
                                     self.status, self.plan_label, self.update_actions, self)
        self.planner.planChanged.connect(self.planChanged)
        self.regions = RegionCommands(self.queue, self.runs, self.view, self.status, self.acts["region"], self.current,
                                      lambda: self.planner.plan, self.show_target, self)
        self.links = BoxLinks(self.view, self.results, self.status, self.current, self)
        self.run_view = RunPresenter(self.runs, self.queue, self.results, self.status, self._is_shown,
                                     self._show_result, self.update_actions, self.report, self)
        self.run_view.runFinished.connect(self.runFinished)
        self.run_view.textStreamed.connect(self.textStreamed)
        self.exports = ExportActions(self, self.queue, self.settings, self.current, self.results.text, self.report,
                                     self.status.showMessage)
        self.splitter = MainSplitter(self.queue_view, self.page, self.results)
        self.setCentralWidget(self.splitter)

    def _connect(self) -> None:
        self.options_bar.changed.connect(self._on_options_changed)
        self.queue_view.selectionModel().currentChanged.connect(self._on_queue_current)
        self.target_bar.targetChosen.connect(self.show_target)
        self.target_bar.removeRequested.connect(self.regions.remove_region)
        self.view.customContextMenuRequested.connect(self._view_menu)
        self.view.mimeDropped.connect(self.intake.handle_mime)
        self.intake.added.connect(self._on_added)
        self.models.ready.connect(self._on_model_ready)
        self.models.error.connect(self.modelError)
        self.runs.busyChanged.connect(self._on_busy_changed)

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

    # ---- planning --------------------------------------------------------------------------------------------

    def options(self) -> PlanOptions:
        return self.options_bar.options()

    def set_plan_options(self, **changes) -> PlanOptions:
        """Change planning options as a user would (`version=`, `mode=`, `min_tiles=`, `max_tiles=`, `task=`;
        None leaves one unchanged); re-plans. Raises ValueError for invalid values."""
        return self.options_bar.set_options(**{k: v for k, v in changes.items() if v is not None})

    @Slot(object)
    def _on_options_changed(self, o: PlanOptions) -> None:
        self.settings.set_plan(o)
        self.planner.replan()

    def current_item(self) -> QueueItem | None:
        return self.queue.items[self.current_row] if 0 <= self.current_row < len(self.queue.items) else None

    def current(self) -> tuple[QueueItem, Target] | tuple[None, None]:
        item = self.current_item()
        if item is None or not 0 <= self.current_target < len(item.targets):
            return None, None
        return item, item.targets[self.current_target]

    @property
    def current_plan(self):
        """The plan shown (None without an image)."""
        return self.planner.plan

    # ---- what is shown ------------------------------------------------------------------------------------

    def show_row(self, row: int) -> None:
        """Show queue row `row` (its image, plan and whole-image result); -1 shows the drop area."""
        if row >= 0 and self.queue_view.currentIndex().row() != row:
            self.queue_view.setCurrentIndex(self.queue.index(row))  # comes back here through the signal
            return
        self.current_row, self.current_target = row, 0
        item = self.current_item()
        self.current_image = None
        if item is not None and not item.error:
            try:
                self.current_image = self.queue.image(row)
            except eb.ImageError:
                pass  # recorded on the item
        if self.current_image is None:
            self.page.show_message(None if item is None else f"Cannot open {item.name}")  # why: in the results
        else:
            self.page.show_image(self.current_image)
        self.setWindowTitle(f"{item.name} \u2014 DSOCR" if item is not None else "DSOCR")
        self.show_target(0)

    @Slot(QModelIndex, QModelIndex)
    def _on_queue_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.show_row(current.row() if current.isValid() else -1)

    @Slot(int)
    def show_target(self, index: int) -> None:
        """Show target `index` of the current item: its plan, and its result or live stream."""
        item = self.current_item()
        self.current_target = index if item is not None else 0
        self.target_bar.set_targets([t.label for t in item.targets] if item is not None else [],
                                    self.current_target if item is not None else -1)
        self.planner.replan()
        self._show_result()

    def _show_result(self) -> None:
        item, target = self.current()
        self.links.clear()
        if item is None:
            self.results.clear()
        elif item.error:
            self.results.show_failure(item.reason)
        elif target.state == State.RUNNING:
            self.results.begin_stream(self.runs.partial, self.current_plan)
        elif target.result is not None:
            self.results.show_result(target.result, target.text)
            self.links.show(target)
        elif target.error:
            self.results.show_failure(target.error, self.current_plan)
        else:
            self.results.clear(self.current_plan)

    def _is_shown(self, target: Target) -> bool:
        _, shown = self.current()
        return shown is target

    # ---- small commands ------------------------------------------------------------------------------------

    def about(self) -> None:
        show_about(self, self.runs.model.name if self.runs.model is not None else "")

    def _view_menu(self, pos) -> None:
        menu = QMenu(self)
        tile = self.view.plan_overlay.tile_at(self.view.mapToScene(pos)) if self.view.plan_overlay else None
        if tile is not None:
            menu.addAction(f"OCR tile {tile + 1} as a region", lambda: self.regions.add_tile_region(tile))
        for name in ("region", None, "zoom_in", "zoom_out", "fit", "tiles", "boxes"):
            menu.addSeparator() if name is None else menu.addAction(self.acts[name])
        menu.exec(self.view.mapToGlobal(pos))

    # ---- input ---------------------------------------------------------------------------------------------

    def add_paths(self, paths, pages: str | None = None) -> int:
        return self.intake.add_paths(paths, pages)

    def add_image(self, image, name: str = "Pasted image") -> int:
        return self.intake.add_image(image, name)

    @Slot(int)
    def _on_added(self, first: int) -> None:
        self.show_row(first)
        self.update_actions()

    @Slot(str)
    def open_file(self, path: str) -> None:
        """A file opened from the Dock, Finder or the command line."""
        self.add_paths([path])
        self.raise_()
        self.activateWindow()

    def remove_current(self) -> None:
        row, item = self.current_row, self.current_item()
        if item is None or item.state == State.RUNNING:
            return
        for t in item.targets:
            self.runs.drop(t)
        self.queue.remove(row)
        self.current_row = -1
        self.show_row(min(row, len(self.queue.items) - 1))

    def dragEnterEvent(self, event) -> None:
        if self.intake.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        event.acceptProposedAction()
        self.intake.handle_mime(event.mimeData())

    # ---- model ---------------------------------------------------------------------------------------------

    @property
    def model(self):
        return self.runs.model

    def load_model(self, source: str) -> None:
        """Load a model (hub id or folder) in the worker; runs waiting for it start when it is ready."""
        self.models.load(source)

    @Slot(object)
    def _on_model_ready(self, model) -> None:
        if model.version != self.options().version:
            self.set_plan_options(version=model.version)
        self.update_actions()
        self.modelReady.emit()

    # ---- running -------------------------------------------------------------------------------------------

    def run_current(self) -> None:
        item, target = self.current()
        if item is None:
            self.report("Nothing to run: add an image first")
        elif item.error:
            self.report(item.error)
        else:
            self._submit([target])

    def run_all(self) -> None:
        targets = [i.targets[0] for i in self.queue.items
                   if not i.error and i.targets[0].state in (State.PLANNED, State.FAILED, State.CANCELLED)]
        if not targets:
            self.report("Every item in the queue has run")
            return
        self._submit(targets)

    def _submit(self, targets: list[Target]) -> None:
        if self.runs.model is None and not self.runs.loading:
            if self.settings.model:
                self.load_model(self.settings.model)
            elif self.quiet:
                self.report("No model is loaded: choose one first (Model \u2192 Choose model)")
                return
            elif not self.models.choose():
                return
        self.runs.submit(targets)
        self.update_actions()

    def _prepare_run(self, target: Target):
        """The RunQueue's `prepare`: the image and engine options of a target when its turn comes."""
        where = self.queue.locate(target)
        if where is None:
            raise ValueError("removed from the queue")
        image = self.queue.image(where[0])
        if target.rect is not None:
            image = image.crop(target.rect)
        if self.runs.model.version != self.options().version:
            self.set_plan_options(version=self.runs.model.version)
        options = self.settings.run_options(**self.options().run_options(), grid=target.grid,
                                            max_tokens=int(self.max_tokens))
        return image, options.replace(task=target.task) if target.task else options

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if not busy:
            self.status.idle()
        self.update_actions()

    def cancel(self) -> None:
        """Stop the running job at once and drop the rest of the run queue (and any model download)."""
        if self.runs.is_busy():
            self.status.showMessage("Cancelling\u2026", 3000)
        self.runs.cancel()
        self.update_actions()

    def is_busy(self) -> bool:
        return self.runs.is_busy()

    def wait_idle(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until nothing runs or loads (for scripts and --screenshot); False on timeout."""
        return self.runs.wait_idle(timeout_s)

    def settings_dialog(self) -> None:
        if SettingsDialog(self.settings, self).exec() == SettingsDialog.DialogCode.Accepted:
            self.max_tokens = self.settings.max_tokens

    # ---- state, messages, closing --------------------------------------------------------------------------

    def update_actions(self) -> None:
        item, target = self.current()
        a, runs = self.acts, self.runs
        a["run"].setEnabled(item is not None and not item.error and self.current_plan is not None
                            and not runs.is_queued(target))
        a["run_all"].setEnabled(any(not i.error for i in self.queue.items))
        a["cancel"].setEnabled(runs.is_busy())
        a["save"].setEnabled(target is not None and (target.result is not None or bool(target.text)))
        a["save_pdf"].setEnabled(target is not None and target.result is not None)
        a["export"].setEnabled(any(t.result is not None for i in self.queue.items for t in i.targets))
        a["export_pdf"].setEnabled(a["export"].isEnabled())
        a["remove"].setEnabled(item is not None and item.state != State.RUNNING)
        a["model"].setEnabled(runs.running is None)
        self.options_bar.version_combo.setEnabled(runs.running is None and not runs.pending)

    def report(self, message: str, title: str = "DSOCR", dialog: bool = False) -> None:
        """Show a message in the status bar (and in a non-blocking box when `dialog`, unless scripted)."""
        self.last_error = message
        self.status.showMessage(message, 10000)
        if dialog and not self.quiet:
            if self._message_box is not None:
                self._message_box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            box.open()
            self._message_box = box

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.runs.close()
        super().closeEvent(event)
