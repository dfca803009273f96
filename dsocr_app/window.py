"""The main window: queue, image with the tile plan, results; menus, toolbar, shortcuts and the status bar.

It wires the parts together and owns the app's state (current item and target, the run queue, the model).
Planning is synchronous (the engine's planner is pure Python), running happens in the worker thread.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel,
                               QListView, QMainWindow, QMenu, QMessageBox, QProgressBar, QSpinBox, QSplitter,
                               QStackedWidget, QStyle, QToolBar, QToolButton, QVBoxLayout, QWidget)

from . import engine_bridge as eb
from . import exporting
from .about import show_about
from .engine_bridge import is_pdf
from .inputs import OPEN_FILTER, expand_paths, image_from_mime, paths_from_mime
from .model_dialog import ModelDialog
from .preview_view import PreviewView
from .qt_compat import emit
from .queue_model import QueueItem, QueueModel, State, Target
from .regions import locate_in_text, region_at, region_boxes, region_contents
from .results_pane import ResultsPane
from .settings import Settings
from .worker import Job, WorkerHost

PLACEHOLDER = ("Drop images, folders or PDFs here\n\nor paste an image ({paste}), or open files ({open}).\n\n"
               "The tile grid the engine will use and its token cost appear before anything runs.")


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class MainWindow(QMainWindow):
    """DSOCR's window. Public methods are the app's actions (tests and `--screenshot` call them directly)."""

    planChanged = Signal(object)  # the TilePlan now shown
    runFinished = Signal(int, int)  # queue row, target index (done, cancelled or failed)
    textStreamed = Signal(str, int)  # a streamed text delta and the tokens generated so far
    modelReady = Signal()
    modelError = Signal(str)

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("DSOCR")
        self.setAccessibleName("DSOCR")
        self.setAcceptDrops(True)
        self.queue = QueueModel(self)
        self.host = WorkerHost(self)
        self.model = None
        self.loading = False
        self.current_row = -1
        self.current_target = 0
        self.current_plan = None
        self.current_image = None
        self.region_spans: list = []
        self.pending: list[tuple[int, int]] = []
        self.running: Job | None = None
        self.partial: dict[int, str] = {}  # job id -> streamed text so far
        self._after_load: list = []
        self._message_box: QMessageBox | None = None
        self.last_error = ""
        self.max_tokens = self.settings.max_tokens
        self._building = True

        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect_worker()
        self._load_settings()
        self._building = False
        self.update_actions()
        self.replan()

    # ---- construction --------------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, icon=None, tip: str = "", checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        if tip:
            a.setToolTip(f"{tip} ({a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                         if shortcut is not None else tip)
            a.setStatusTip(tip)
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.act_open = self._action("&Open\u2026", self.open_dialog, QKeySequence.StandardKey.Open, sp.SP_DialogOpenButton,
                                     "Open images or PDFs")
        self.act_paste = self._action("&Paste image", self.paste, QKeySequence.StandardKey.Paste, None,
                                      "Add the image on the clipboard")
        self.act_save = self._action("&Save result\u2026", self.save_dialog, QKeySequence.StandardKey.Save,
                                     sp.SP_DialogSaveButton, "Save this result as .md, .txt or .json")
        self.act_export = self._action("&Export all\u2026", self.export_dialog, "Ctrl+Shift+E", None,
                                       "Export every result in the queue to a folder")
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_copy = {
            "markdown": self._action("&Copy as markdown", lambda: self.copy_as("markdown"),
                                     QKeySequence.StandardKey.Copy, None, "Copy the result as markdown"),
            "plain": self._action("Copy as &plain text", lambda: self.copy_as("plain"), "Ctrl+Shift+C", None,
                                  "Copy the result as plain text (no markdown)"),
            "single": self._action("Copy as &single line", lambda: self.copy_as("single"), "Ctrl+Alt+C", None,
                                   "Copy the result as one line"),
            "tsv": self._action("Copy &tables as TSV", lambda: self.copy_as("tsv"), None, None,
                                "Copy the tables, tab-separated, for a spreadsheet"),
        }
        self.act_run = self._action("&Run", self.run_current, "Ctrl+R", sp.SP_MediaPlay, "OCR the image or region shown")
        self.act_run_all = self._action("Run &all", self.run_all, "Ctrl+Shift+R", sp.SP_MediaSeekForward,
                                        "OCR every item in the queue that has not run")
        self.act_cancel = self._action("&Cancel", self.cancel, "Esc", sp.SP_MediaStop, "Stop the run at once")
        self.act_max_tokens = self._action("&Max tokens\u2026", self.ask_max_tokens, None, None,
                                           "The longest text one run may write")
        self.act_model = self._action("Choose &model\u2026", self.choose_model, "Ctrl+Shift+M", sp.SP_ComputerIcon,
                                      "Choose and load the model (hub id or local folder)")
        self.act_region = self._action("Select &region", self.toggle_region_mode, "Ctrl+E", None,
                                       "Drag a rectangle to OCR only that region", checkable=True)
        self.act_remove = self._action("Remove from queue", self.remove_current, None, sp.SP_TrashIcon,
                                       "Remove the selected item from the queue")
        self.act_zoom_in = self._action("Zoom &in", lambda: self.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self.act_zoom_out = self._action("Zoom &out", lambda: self.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self.act_fit = self._action("&Fit to window", lambda: self.view.fit(), "Ctrl+0")
        self.act_tiles = self._action("Show &tile grid", lambda on: self.view.set_tiles_visible(on), "Ctrl+T",
                                      checkable=True)
        self.act_tiles.setChecked(True)
        self.act_boxes = self._action("Show &boxes", lambda on: self.view.set_boxes_visible(on), "Ctrl+B",
                                      checkable=True)
        self.act_boxes.setChecked(True)
        self.act_about = self._action("&About DSOCR", lambda: show_about(self, self.model_name()))
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_ui(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setAccessibleName("Main toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        tb.addAction(self.act_open)
        tb.addAction(self.act_model)
        tb.addSeparator()

        self.version_combo = QComboBox()
        self.version_combo.setAccessibleName("Model version")
        self.version_combo.setToolTip("v1: DeepSeek-OCR, v2: DeepSeek-OCR-2")
        for v in eb.VERSIONS:
            self.version_combo.addItem({"v1": "v1 DeepSeek-OCR", "v2": "v2 DeepSeek-OCR-2"}.get(v, v), v)
        self.mode_combo = QComboBox()
        self.mode_combo.setAccessibleName("Resolution mode")
        self.min_spin = QSpinBox()
        self.min_spin.setAccessibleName("Minimum tiles")
        self.min_spin.setToolTip("Fewest local tiles")
        self.max_spin = QSpinBox()
        self.max_spin.setAccessibleName("Maximum tiles")
        self.max_spin.setToolTip("Most local tiles")
        self.task_combo = QComboBox()
        self.task_combo.setAccessibleName("Task")
        for task, label in (("markdown", "Markdown"), ("ocr", "OCR with layout"), ("free", "Free OCR"),
                            ("figure", "Parse figure"), ("describe", "Describe")):
            self.task_combo.addItem(label, task)
        for label, w in (("Version", self.version_combo), ("Mode", self.mode_combo), ("Tiles", self.min_spin),
                         ("to", self.max_spin), ("Task", self.task_combo)):
            lab = QLabel(f" {label} ")
            lab.setBuddy(w)
            tb.addWidget(lab)
            tb.addWidget(w)
        tb.addSeparator()
        tb.addAction(self.act_run)
        tb.addAction(self.act_run_all)
        tb.addAction(self.act_cancel)
        tb.addSeparator()
        tb.addAction(self.act_region)
        copy_button = QToolButton()
        copy_button.setText("Copy")
        copy_button.setAccessibleName("Copy the result")
        copy_button.setToolTip("Copy the result as markdown, plain text, a single line or TSV tables")
        copy_menu = QMenu(copy_button)
        for a in self.act_copy.values():
            copy_menu.addAction(a)
        copy_button.setMenu(copy_menu)
        copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        copy_button.setDefaultAction(self.act_copy["markdown"])
        copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addWidget(copy_button)
        tb.addAction(self.act_save)

        # queue
        self.queue_view = QListView()
        self.queue_view.setModel(self.queue)
        self.queue_view.setAccessibleName("Queue")
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.queue_view.addAction(self.act_remove)
        self.queue_view.setAcceptDrops(False)
        self.queue_view.selectionModel().currentChanged.connect(self._on_queue_current)

        # centre: target bar, image/placeholder, plan summary
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        lab = QLabel("OCR")
        self.target_combo = QComboBox()
        self.target_combo.setAccessibleName("Whole image or region")
        self.target_combo.setToolTip("What Run reads: the whole image or one of its regions")
        lab.setBuddy(self.target_combo)
        self.target_combo.currentIndexChanged.connect(self._on_target_changed)
        self.remove_region_button = QToolButton()
        self.remove_region_button.setText("Remove region")
        self.remove_region_button.setAccessibleName("Remove this region")
        self.remove_region_button.clicked.connect(self.remove_region)
        region_button = QToolButton()
        region_button.setDefaultAction(self.act_region)
        region_button.setAccessibleName("Select a region")
        bar.addWidget(lab)
        bar.addWidget(self.target_combo, 1)
        bar.addWidget(region_button)
        bar.addWidget(self.remove_region_button)
        cl.addLayout(bar)
        self.stack = QStackedWidget()
        self.placeholder_text = PLACEHOLDER.format(
            paste=QKeySequence(QKeySequence.StandardKey.Paste).toString(QKeySequence.SequenceFormat.NativeText),
            open=QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText))
        self.placeholder = QLabel(self.placeholder_text)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAccessibleName("Drop area")
        self.view = PreviewView()
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._view_menu)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        cl.addWidget(self.stack, 1)
        self.plan_label = QLabel()
        self.plan_label.setAccessibleName("Tile plan summary")
        self.plan_label.setWordWrap(True)
        self.plan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        cl.addWidget(self.plan_label)

        self.results = ResultsPane()
        self.results.clear()

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(self.queue_view)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.results)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([200, 700, 500])
        self.setCentralWidget(self.splitter)

        sb = self.statusBar()
        self.model_label = QLabel("No model loaded")
        self.model_label.setAccessibleName("Model status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress.hide()
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.model_label)

        self.version_combo.currentIndexChanged.connect(self._on_version_changed)
        self.mode_combo.currentIndexChanged.connect(self._on_plan_option_changed)
        self.min_spin.valueChanged.connect(self._on_min_changed)
        self.max_spin.valueChanged.connect(self._on_max_changed)
        self.task_combo.currentIndexChanged.connect(lambda _: setattr(self.settings, "task", self.task()))
        self.view.mimeDropped.connect(self.handle_mime)
        self.view.regionSelected.connect(self._on_region_selected)
        self.view.tileActivated.connect(self.add_tile_region)
        self.view.boxClicked.connect(self._on_box_clicked)
        self.results.cursorMoved.connect(self._on_cursor_moved)
        self.results.textEdited.connect(self._on_text_edited)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_open, self.act_paste, None, self.act_save, self.act_export, None, self.act_remove, None,
                  self.act_quit):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Edit")
        for a in self.act_copy.values():
            m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, None, self.act_tiles, self.act_boxes):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Run")
        for a in (self.act_run, self.act_run_all, self.act_cancel, None, self.act_region, None, self.act_max_tokens):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Model")
        m.addAction(self.act_model)
        m = mb.addMenu("&Help")
        m.addAction(self.act_about)

    def _connect_worker(self) -> None:
        w = self.host.worker
        w.modelLoading.connect(self._on_model_loading)
        w.downloadSize.connect(self._on_download_size)
        w.downloadProgress.connect(self._on_download_progress)
        w.modelLoaded.connect(self._on_model_loaded)
        w.modelFailed.connect(self._on_model_failed)
        w.jobDelta.connect(self._on_job_delta)
        w.jobFinished.connect(self._on_job_finished)
        w.jobFailed.connect(self._on_job_failed)

    def _load_settings(self) -> None:
        s = self.settings
        geometry = s.geometry("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = s.geometry("splitter")
        if state is not None:
            self.splitter.restoreState(state)
        self.version_combo.setCurrentIndex(max(0, self.version_combo.findData(s.version)))
        self._fill_modes(s.mode)
        self._fill_tiles()
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(s.task)))

    def save_settings(self) -> None:
        s = self.settings
        s.set_geometry("geometry", self.saveGeometry())
        s.set_geometry("splitter", self.splitter.saveState())
        s.version, s.mode = self.version(), self.mode()
        s.set_tiles(self.version(), self.min_spin.value(), self.max_spin.value())
        s.max_tokens = self.max_tokens
        s.sync()

    # ---- planning options ----------------------------------------------------------------------------------

    def version(self) -> str:
        return self.version_combo.currentData() or "v2"

    def mode(self) -> str:
        return self.mode_combo.currentData() or eb.DEFAULT_MODE

    def task(self) -> str:
        return self.task_combo.currentData() or "markdown"

    def tiles(self) -> tuple[int, int]:
        return self.min_spin.value(), self.max_spin.value()

    def set_plan_options(self, version: str | None = None, mode: str | None = None, min_tiles: int | None = None,
                         max_tiles: int | None = None) -> None:
        """Change the planning options as a user would (each change re-plans)."""
        if version is not None:
            self.version_combo.setCurrentIndex(self.version_combo.findData(version))
        if mode is not None:
            i = self.mode_combo.findData(mode)
            if i < 0:
                raise ValueError(f"mode {mode!r} does not exist for {self.version()}")
            self.mode_combo.setCurrentIndex(i)
        if max_tiles is not None and max_tiles >= self.min_spin.value():
            self.max_spin.setValue(max_tiles)
        if min_tiles is not None:
            self.min_spin.setValue(min_tiles)
        if max_tiles is not None:
            self.max_spin.setValue(max_tiles)

    def _fill_modes(self, wanted: str | None = None) -> None:
        version = self.version()
        wanted = wanted or self.mode()
        self.mode_combo.blockSignals(True)
        self.mode_combo.clear()
        for i, (name, m) in enumerate(eb.MODES[version].items()):
            self.mode_combo.addItem(name, name)
            self.mode_combo.setItemData(i, m.description, Qt.ItemDataRole.ToolTipRole)
        idx = self.mode_combo.findData(wanted)
        self.mode_combo.setCurrentIndex(idx if idx >= 0 else max(0, self.mode_combo.findData(eb.DEFAULT_MODE)))
        self.mode_combo.blockSignals(False)
        self._update_mode_tooltip()

    def _fill_tiles(self) -> None:
        version = self.version()
        lo_r, hi_r = eb.TILE_RANGE[version]
        lo, hi = self.settings.tiles(version)
        for spin in (self.min_spin, self.max_spin):
            spin.blockSignals(True)
            spin.setRange(lo_r, hi_r)
        self.min_spin.setValue(lo)
        self.max_spin.setValue(hi)
        for spin in (self.min_spin, self.max_spin):
            spin.blockSignals(False)
        self._update_tile_enabled()

    def _update_mode_tooltip(self) -> None:
        m = eb.MODES[self.version()].get(self.mode())
        self.mode_combo.setToolTip(m.description if m else "")

    def _update_tile_enabled(self) -> None:
        m = eb.MODES[self.version()].get(self.mode())
        tiled = bool(m and m.tiled)
        self.min_spin.setEnabled(tiled)
        self.max_spin.setEnabled(tiled)

    @Slot(int)
    def _on_version_changed(self, _index: int) -> None:
        self._fill_modes()
        self._fill_tiles()
        if not self._building:
            self.settings.version = self.version()
        self.replan()

    @Slot(int)
    def _on_plan_option_changed(self, _index: int = 0) -> None:
        self._update_mode_tooltip()
        self._update_tile_enabled()
        if not self._building:
            self.settings.mode = self.mode()
        self.replan()

    @Slot(int)
    def _on_min_changed(self, value: int) -> None:
        if self.max_spin.value() < value:
            self.max_spin.blockSignals(True)
            self.max_spin.setValue(value)
            self.max_spin.blockSignals(False)
        self._tiles_changed()

    @Slot(int)
    def _on_max_changed(self, value: int) -> None:
        if self.min_spin.value() > value:
            self.min_spin.blockSignals(True)
            self.min_spin.setValue(value)
            self.min_spin.blockSignals(False)
        self._tiles_changed()

    def _tiles_changed(self) -> None:
        if not self._building:
            self.settings.set_tiles(self.version(), *self.tiles())
        self.replan()

    # ---- the current item, target and plan -----------------------------------------------------------------

    def current_item(self) -> QueueItem | None:
        return self.queue.items[self.current_row] if 0 <= self.current_row < len(self.queue.items) else None

    def current(self) -> tuple[QueueItem, Target] | tuple[None, None]:
        item = self.current_item()
        if item is None or not 0 <= self.current_target < len(item.targets):
            return None, None
        return item, item.targets[self.current_target]

    def plan_for(self, item: QueueItem, target: Target):
        """The engine's plan for a target with the current options (raises ValueError on bad options)."""
        if target.rect is not None:
            x0, y0, x1, y1 = target.rect
            size = (x1 - x0, y1 - y0)
        else:
            size = item.size
        return eb.plan(size, version=self.version(), mode=self.mode(), min_tiles=self.min_spin.value(),
                       max_tiles=self.max_spin.value())

    def replan(self) -> None:
        """Re-plan the target shown with the current options and redraw the overlay (instant, no model)."""
        if self._building:
            return
        item, target = self.current()
        if item is None or item.size is None or item.error:
            self.current_plan = None
            self.plan_label.setText("")
            self.view.set_plan(None)
            self.update_actions()
            return
        try:
            plan = self.plan_for(item, target)
        except ValueError as e:
            self.current_plan = None
            self.view.set_plan(None)
            self.plan_label.setText(str(e))
            self.update_actions()
            return
        self.current_plan = plan
        origin = (target.rect[0], target.rect[1]) if target.rect else (0, 0)
        self.view.set_plan(plan, origin)
        note = ""
        model_version = getattr(self.model, "version", None)
        if model_version and model_version != plan.version:
            note = (f"\nThe loaded model is {model_version}: Run switches the plan to {model_version}. "
                    f"Load a {plan.version} model to run this plan.")
        self.plan_label.setText(self.plan_summary(plan) + note)
        if target.result is None and target.state != State.RUNNING:
            self.results.set_table(plan)
        emit(self.planChanged, plan)
        self.update_actions()

    @staticmethod
    def plan_summary(plan) -> str:
        w, h = plan.image_size
        g = plan.global_view
        parts = [f"{plan.version} {plan.mode}, image {w}\u00d7{h} px"]
        if plan.tiles:
            cols, rows = plan.grid
            parts.append(f"{cols}\u00d7{rows} grid: {len(plan.tiles)} tiles \u00d7 {plan.tiles[0].tokens} = "
                         f"{plan.tile_tokens} tokens")
        else:
            parts.append("not tiled")
        parts.append(f"global view {g.size} px: {plan.global_tokens} tokens")
        if plan.newline_tokens:
            parts.append(f"newlines {plan.newline_tokens}")
        parts.append(f"separator {plan.separator_tokens}")
        return " \u00b7 ".join(parts) + f" \u2014 total {plan.image_tokens} image tokens"

    def show_row(self, row: int) -> None:
        """Show queue row `row` (its image, plan and whole-image result)."""
        if self.queue_view.currentIndex().row() != row:
            self.queue_view.setCurrentIndex(self.queue.index(row))  # comes back here through the signal
            return
        self.current_row = row
        self.current_target = 0
        item = self.current_item()
        if item is None:
            self.current_image = None
            self.placeholder.setText(self.placeholder_text)
            self.stack.setCurrentWidget(self.placeholder)
            self.view.clear()
            self.setWindowTitle("DSOCR")
            self._fill_targets()
            self.results.clear()
            self.replan()
            return
        try:
            self.current_image = self.queue.image(row)
        except eb.ImageError as e:
            self.current_image = None
            self.view.clear()
            self.stack.setCurrentWidget(self.placeholder)
            self.placeholder.setText(f"Cannot open {item.name}:\n\n{e}")
            self.report(str(e))
            self._fill_targets()
            self.results.clear()
            self.replan()
            return
        self.stack.setCurrentWidget(self.view)
        self.view.set_image(self.current_image)
        self._fill_targets()
        self.show_target(0)
        self.setWindowTitle(f"{item.name} \u2014 DSOCR")

    @Slot(QModelIndex, QModelIndex)
    def _on_queue_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.show_row(current.row() if current.isValid() else -1)

    def _fill_targets(self) -> None:
        item = self.current_item()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        if item is not None:
            for k, t in enumerate(item.targets):
                self.target_combo.addItem(t.label if k == 0 else f"{k}. {t.label}")
        self.target_combo.setCurrentIndex(self.current_target if item else -1)
        self.target_combo.blockSignals(False)
        self.target_combo.setEnabled(item is not None and len(item.targets) > 1)
        self.remove_region_button.setEnabled(item is not None and self.current_target > 0)

    @Slot(int)
    def _on_target_changed(self, index: int) -> None:
        if index >= 0:
            self.show_target(index)

    def show_target(self, index: int) -> None:
        """Show target `index` of the current item: its plan, and its result or live stream."""
        item = self.current_item()
        if item is None:
            return
        self.current_target = index
        if self.target_combo.currentIndex() != index:
            self.target_combo.blockSignals(True)
            self.target_combo.setCurrentIndex(index)
            self.target_combo.blockSignals(False)
        self.remove_region_button.setEnabled(index > 0)
        target = item.targets[index]
        self.replan()
        self._show_result(item, target)

    def _show_result(self, item: QueueItem, target: Target) -> None:
        origin = (target.rect[0], target.rect[1]) if target.rect else (0, 0)
        self.region_spans = []
        if target.state == State.RUNNING and self.running is not None:
            self.results.begin_stream(self.partial.get(self.running.id, ""))
            self.view.set_boxes([])
            return
        if target.result is not None:
            self.results.show_result(target.result, target.text)
            boxes = region_boxes(target.result.regions)
            self.view.set_boxes([(b, label) for b, label, _ in boxes], origin)
            for box_item, (_, _, region) in zip(self.view.boxes, boxes):
                box_item.index = region
            self._update_spans()
        else:
            self.results.clear(self.current_plan)
            self.view.set_boxes([])
            if target.error:
                self.results.show_banner(target.error, warning=True)

    def _update_spans(self) -> None:
        item, target = self.current()
        if target is None or target.result is None:
            self.region_spans = []
            return
        contents = region_contents(target.result.raw_text, target.result.regions)
        self.region_spans = locate_in_text(self.results.text(), contents)

    @Slot(int)
    def _on_box_clicked(self, region: int) -> None:
        self.view.select_box(region, ensure_visible=False)
        if 0 <= region < len(self.region_spans) and self.region_spans[region] is not None:
            self.results.select_span(*self.region_spans[region])
            self.statusBar().showMessage("Selected the text of this box", 3000)
        else:
            self.statusBar().showMessage("This box's text was not found in the markdown", 3000)

    @Slot(int)
    def _on_cursor_moved(self, position: int) -> None:
        if self.view.boxes:
            self.view.select_box(region_at(self.region_spans, position))

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        item, target = self.current()
        if target is not None and target.state != State.RUNNING:
            target.text = text
            self._update_spans()

    # ---- regions -------------------------------------------------------------------------------------------

    def add_region(self, rect: tuple[int, int, int, int]) -> int:
        """Add a region (x0, y0, x1, y1) of the current image as a new target and show it; returns its index."""
        item = self.current_item()
        if item is None or item.size is None:
            return -1
        w, h = item.size
        x0, y0, x1, y1 = (int(v) for v in rect)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return -1
        for k, t in enumerate(item.targets):
            if t.rect == (x0, y0, x1, y1):
                self.show_target(k)
                return k
        item.targets.append(Target(rect=(x0, y0, x1, y1)))
        self.current_target = len(item.targets) - 1
        self._fill_targets()
        self.show_target(self.current_target)
        return self.current_target

    @Slot(QRect)
    def _on_region_selected(self, rect: QRect) -> None:
        self.act_region.setChecked(False)
        self.view.set_region_mode(False)
        self.add_region((rect.left(), rect.top(), rect.left() + rect.width(), rect.top() + rect.height()))

    @Slot(int)
    def add_tile_region(self, index: int) -> None:
        """Make tile `index` of the plan shown into a region."""
        item, target = self.current()
        if self.current_plan is None or not 0 <= index < len(self.current_plan.tiles):
            return
        ox, oy = (target.rect[0], target.rect[1]) if target.rect else (0, 0)
        x0, y0, x1, y1 = self.current_plan.tiles[index].box
        self.add_region((round(ox + x0), round(oy + y0), round(ox + x1), round(oy + y1)))

    def remove_region(self) -> None:
        item, target = self.current()
        if item is None or self.current_target == 0 or target.state == State.RUNNING:
            return
        del item.targets[self.current_target]
        self.current_target = 0
        self._fill_targets()
        self.show_target(0)
        self.queue.changed(self.current_row)

    def toggle_region_mode(self, on: bool) -> None:
        self.view.set_region_mode(bool(on))
        if on:
            self.statusBar().showMessage("Drag a rectangle on the image to OCR only that region (double-click a "
                                         "tile to pick it)", 5000)

    def _view_menu(self, pos) -> None:
        menu = QMenu(self)
        if self.current_plan is not None and self.view.plan_overlay is not None:
            tile = self.view.plan_overlay.tile_at(self.view.mapToScene(pos))
            if tile is not None:
                menu.addAction(f"OCR tile {tile + 1} as a region", lambda: self.add_tile_region(tile))
        menu.addAction(self.act_region)
        menu.addSeparator()
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_tiles, self.act_boxes):
            menu.addAction(a)
        menu.exec(self.view.mapToGlobal(pos))

    # ---- input ---------------------------------------------------------------------------------------------

    def ask_pages(self, path: Path, count: int) -> list[int] | None:
        """Which pages of a PDF to add (0-based); None to skip the file. Asks when there are several."""
        if count <= 1:
            return list(range(count))
        text = "all"
        prompt = f"{path.name} has {count} pages.\nPages to add, e.g. 1-3, 5 (or all):"
        while True:
            text, ok = QInputDialog.getText(self, "PDF pages", prompt, text=text)
            if not ok:
                return None
            try:
                return eb.parse_page_ranges(text, count)
            except ValueError as e:
                prompt = f"{e}\n\n{path.name} has {count} pages.\nPages to add, e.g. 1-3, 5 (or all):"

    def add_paths(self, paths) -> int:
        """Queue files and folders (PDFs become one item per page); show the first new item. Returns the count."""
        items: list[QueueItem] = []
        for path in expand_paths(paths):
            if path.is_file() and is_pdf(path):
                try:
                    count = eb.pdf_page_count(path)
                except Exception as e:  # noqa: BLE001 - any broken PDF becomes a message
                    items.append(QueueItem(path, error=str(e) or f"{path.name}: cannot read this PDF"))
                    continue
                pages = self.ask_pages(path, count)
                if pages:
                    items.extend(QueueItem(path, page=p, dpi=self.settings.pdf_dpi) for p in pages)
            else:
                items.append(QueueItem(path))
        return self._add_items(items, [Path(p) for p in paths])

    def add_image(self, image, name: str = "Pasted image") -> int:
        """Queue an in-memory PIL image (e.g. pasted)."""
        return self._add_items([QueueItem(None, pixels=image.convert("RGB"), name=name)], [])

    def _add_items(self, items: list[QueueItem], paths: list[Path]) -> int:
        if not items:
            self.report("Nothing to add: no images or PDFs found")
            return 0
        first = self.queue.add(items)
        if paths:
            p = paths[0]
            self.settings.last_folder = str(p if p.is_dir() else p.parent)
        self.show_row(first)
        bad = [i for i in items if i.error]
        if bad and len(items) > 1:
            self.report(f"{len(bad)} of {len(items)} could not be read: {bad[0].error}")
        elif not bad:
            self.statusBar().showMessage(f"Added {len(items)} item{'s' if len(items) != 1 else ''} to the queue",
                                         4000)
        self.update_actions()
        return len(items)

    @Slot(str)
    def open_file(self, path: str) -> None:
        """A file opened from the Dock, Finder or the command line."""
        self.add_paths([path])
        self.raise_()
        self.activateWindow()

    @Slot(object)
    def handle_mime(self, mime) -> int:
        paths = paths_from_mime(mime)
        if paths:
            return self.add_paths(paths)
        image = image_from_mime(mime)
        if image is not None:
            return self.add_image(image, "Dropped image")
        self.report("The dropped data holds no image or file")
        return 0

    def paste(self) -> int:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.report("The clipboard is empty")
            return 0
        paths = paths_from_mime(mime)
        if paths:
            return self.add_paths(paths)
        image = image_from_mime(mime)
        if image is None:
            self.report("The clipboard holds no image")
            return 0
        return self.add_image(image)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images or PDFs", self.settings.last_folder, OPEN_FILTER)
        if files:
            self.add_paths(files)

    def remove_current(self) -> None:
        row = self.current_row
        item = self.current_item()
        if item is None or item.state == State.RUNNING:
            return
        self.pending = [(r if r < row else r - 1, t) for r, t in self.pending if r != row]
        if self.running is not None and self.running.row > row:
            self.running.row -= 1
        self.queue.remove(row)
        self.current_row = -1
        self.show_row(min(row, len(self.queue.items) - 1))
        self.update_actions()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        event.acceptProposedAction()
        self.handle_mime(event.mimeData())

    # ---- model ---------------------------------------------------------------------------------------------

    def model_name(self) -> str:
        return getattr(self.model, "name", "") if self.model is not None else ""

    def choose_model(self) -> bool:
        """Ask for a model and load it; False if the user cancelled."""
        dialog = ModelDialog(self.settings.model, self.settings.recent_models, self)
        if dialog.exec() != ModelDialog.DialogCode.Accepted or not dialog.source():
            return False
        self.load_model(dialog.source())
        return True

    def load_model(self, source: str) -> None:
        """Load a model (hub id or folder) in the worker; runs waiting for it start when it is ready."""
        if not eb.has_runtime():
            self.report(eb.RUNTIME_MISSING, dialog=True)
            return
        if self.running is not None:
            self.report("Wait for the run to finish (or cancel it) before changing the model")
            return
        self.loading = True
        self.model = None
        self.model_label.setText(f"Loading {Path(source).name or source}\u2026")
        self.progress.setRange(0, 0)
        self.progress.setFormat("Loading model")
        self.progress.show()
        self.host.load(str(source))
        self.update_actions()

    @Slot(str)
    def _on_model_loading(self, source: str) -> None:
        self.statusBar().showMessage(f"Loading the model {source}\u2026")

    @Slot(int)
    def _on_download_size(self, size: int) -> None:
        self.statusBar().showMessage(f"Downloading the model once: {_fmt_bytes(size)} into the Hugging Face cache")

    @Slot(int, int, str)
    def _on_download_progress(self, done: int, total: int, desc: str) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
            self.progress.setFormat(f"{_fmt_bytes(done)} of {_fmt_bytes(total)}")
            self.model_label.setText(f"Downloading the model: {_fmt_bytes(done)} of {_fmt_bytes(total)}")

    @Slot(object)
    def _on_model_loaded(self, model) -> None:
        self.model = model
        self.loading = False
        self.progress.hide()
        source = getattr(model, "name", "")
        self.settings.model = source
        self.settings.add_recent_model(source)
        version = getattr(model, "version", self.version())
        self.model_label.setText(f"Model: {Path(source).name or source} ({version})")
        self.statusBar().showMessage(f"Model ready: {source}", 4000)
        if version != self.version() and version in eb.VERSIONS:
            self.set_plan_options(version=version)
        self.update_actions()
        emit(self.modelReady)
        callbacks, self._after_load = self._after_load, []
        for fn in callbacks:
            fn()

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self.loading = False
        self.progress.hide()
        self.model_label.setText("No model loaded")
        self._after_load = []
        self.pending.clear()
        self.report(message, title="Could not load the model", dialog=True)
        self.update_actions()
        emit(self.modelError, message)

    # ---- running -------------------------------------------------------------------------------------------

    def run_current(self) -> None:
        item, target = self.current()
        if item is None:
            self.report("Nothing to run: add an image first")
            return
        if item.error:
            self.report(item.error)
            return
        if target.state == State.RUNNING or (self.current_row, self.current_target) in self.pending:
            return
        self.enqueue([(self.current_row, self.current_target)])

    def run_all(self) -> None:
        pairs = [(r, 0) for r, item in enumerate(self.queue.items)
                 if not item.error and item.targets[0].state in (State.PLANNED, State.FAILED, State.CANCELLED)
                 and (r, 0) not in self.pending]
        if not pairs:
            self.report("Every item in the queue has run")
            return
        self.enqueue(pairs)

    def enqueue(self, pairs: list[tuple[int, int]]) -> None:
        if not eb.has_runtime():
            self.report(eb.RUNTIME_MISSING, dialog=True)
            return
        self.pending.extend(pairs)
        self.update_actions()
        if self.model is not None:
            self._next_job()
        elif self.loading:
            self._after_load.append(self._next_job)
        else:
            source = self.settings.model
            if not source:
                if not self.choose_model():
                    self.pending.clear()
                    self.update_actions()
                    return
            else:
                self.load_model(source)
            self._after_load.append(self._next_job)

    def _next_job(self) -> None:
        while self.running is None and self.pending:
            row, t = self.pending.pop(0)
            if not 0 <= row < len(self.queue.items):
                continue
            item = self.queue.items[row]
            target = item.targets[t]
            try:
                image = self.queue.image(row)
            except eb.ImageError as e:
                target.state, target.error = State.FAILED, str(e)
                self.queue.changed(row)
                continue
            if target.rect is not None:
                image = image.crop(target.rect)
            version = getattr(self.model, "version", self.version())
            if version != self.version():
                self.set_plan_options(version=version)
            options = {"task": self.task(), "mode": self.mode(), "min_tiles": self.min_spin.value(),
                       "max_tiles": self.max_spin.value(), "max_tokens": int(self.max_tokens)}
            job = Job(image, options, row, t)
            target.state, target.error, target.result = State.RUNNING, "", None
            self.running = job
            self.partial[job.id] = ""
            self.queue.changed(row)
            if (row, t) == (self.current_row, self.current_target):
                self.results.begin_stream()
                self.view.set_boxes([])
            self.progress.setRange(0, 0)
            self.progress.setFormat("Running")
            self.progress.show()
            self.statusBar().showMessage(f"Reading {item.name}\u2026")
            self.host.run(job)
        self.update_actions()

    def _is_shown(self, job: Job) -> bool:
        return (job.row, job.target) == (self.current_row, self.current_target)

    @Slot(int, str, int, float, float)
    def _on_job_delta(self, job_id: int, text: str, tokens: int, elapsed: float, tps: float) -> None:
        job = self.running
        if job is None or job.id != job_id:
            return
        self.partial[job_id] = self.partial.get(job_id, "") + text
        if self._is_shown(job):
            self.results.append_delta(text, tokens, elapsed, tps)
        self.progress.setFormat(f"{tokens} tokens \u00b7 {tps:.1f}/s")
        emit(self.textStreamed, text, tokens)

    def _finish_job(self, job_id: int):
        job = self.running
        if job is None or job.id != job_id:
            return None, None
        self.running = None
        self.host.current = None
        self.partial.pop(job_id, None)
        if not self.pending:
            self.progress.hide()
        if not 0 <= job.row < len(self.queue.items):
            return job, None
        item = self.queue.items[job.row]
        return job, item.targets[job.target] if job.target < len(item.targets) else None

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result) -> None:
        job, target = self._finish_job(job_id)
        if job is None:
            return
        if target is not None:
            if self._is_shown(job):
                self.results.end_stream()
            self.apply_result(job.row, job.target, result)
            notes = {"repetition": " \u2014 stopped by the repetition guard", "cancelled": " \u2014 cancelled",
                     "max_tokens": " \u2014 token limit reached"}
            self.statusBar().showMessage(
                f"{self.queue.items[job.row].name}: {result.generated_tokens} tokens in {result.elapsed_s:.1f} s"
                f"{notes.get(result.stop_reason, '')}", 8000)
        emit(self.runFinished, job.row, job.target)
        self._next_job()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        job, target = self._finish_job(job_id)
        if job is None:
            return
        if target is not None:
            cancelled = message == "cancelled"
            target.state = State.CANCELLED if cancelled else State.FAILED
            target.error = "" if cancelled else message
            self.queue.changed(job.row)
            if self._is_shown(job):
                self.results.end_stream()
                self._show_result(self.queue.items[job.row], target)
            if not cancelled:
                self.report(f"{self.queue.items[job.row].name}: {message}")
        emit(self.runFinished, job.row, job.target)
        self._next_job()

    def apply_result(self, row: int, index: int, result) -> None:
        """Store an engine Result on target `index` of queue row `row`, and show it if that target is shown."""
        item = self.queue.items[row]
        target = item.targets[index]
        if item.source is not None and dataclasses.is_dataclass(result) and getattr(result, "image", None) is not None:
            # the page can be read again for figure crops: do not hold every page of a long batch in memory
            result = dataclasses.replace(result, image=None)
        target.result = result
        target.text = result.text
        target.error = ""
        target.state = State.CANCELLED if result.stop_reason == "cancelled" else State.DONE
        self.queue.changed(row)
        if (row, index) == (self.current_row, self.current_target):
            self._show_result(item, target)
        self.update_actions()

    def cancel(self) -> None:
        """Stop the running job at once and drop the rest of the run queue (and any model download)."""
        had = bool(self.pending) or self.running is not None or self.loading
        self.pending.clear()
        self._after_load = []
        self.host.cancel()
        if had:
            self.statusBar().showMessage("Cancelling\u2026", 3000)
        self.update_actions()

    def is_busy(self) -> bool:
        return self.running is not None or bool(self.pending) or self.loading

    def ask_max_tokens(self) -> None:
        value, ok = QInputDialog.getInt(self, "Max tokens", "The longest text one run may write (tokens):",
                                        self.max_tokens, 16, 32768, 256)
        if ok:
            self.max_tokens = value
            self.settings.max_tokens = value

    # ---- export --------------------------------------------------------------------------------------------

    def copy_as(self, kind: str) -> str:
        """Copy the shown result's markdown in form `kind`; say what was copied."""
        text = self.results.text()
        if not text.strip():
            self.report("Nothing to copy yet: run the OCR first")
            return ""
        try:
            copied = exporting.copy_text(kind, text)
        except Exception as e:  # noqa: BLE001
            self.report(f"Could not copy: {e}")
            return ""
        label = exporting.CLIPBOARD_FORMS[kind].lower()
        lines = copied.count("\n") + 1 if copied else 0
        self.statusBar().showMessage(f"Copied {len(copied)} characters ({lines} line{'s' if lines != 1 else ''}) "
                                     f"as {label}", 5000)
        return copied

    def save_target(self, path: str | Path, fmt: str | None = None, overwrite: bool = False) -> list[Path]:
        """Save the shown target as .md/.txt/.json (format from the suffix unless given)."""
        item, target = self.current()
        if target is None or (target.result is None and not target.text):
            raise ValueError("nothing to save yet: run the OCR first")
        path = Path(path)
        fmt = fmt or path.suffix.lstrip(".").lower() or "md"
        return exporting.write_target(path, fmt, item, target, overwrite=overwrite,
                                      image=self._target_image(item, target))

    def _target_image(self, item: QueueItem, target: Target):
        """The image a target's run saw (for figure crops), read again from its source; None if unreadable."""
        if target.result is not None and getattr(target.result, "image", None) is not None:
            return target.result.image
        try:
            image = self.queue.image(self.queue.items.index(item))
        except (eb.ImageError, ValueError):
            return None
        return image.crop(target.rect) if target.rect is not None else image

    def save_dialog(self) -> None:
        item, target = self.current()
        if target is None or (target.result is None and not target.text):
            self.report("Nothing to save yet: run the OCR first")
            return
        stem = item.stem if target.rect is None else f"{item.stem}-region{self.current_target}"
        start = str(Path(self.settings.last_folder or Path.home()) / f"{stem}.md")
        filters = ";;".join(exporting.FILE_FORMATS.values())
        path, chosen = QFileDialog.getSaveFileName(self, "Save result", start, filters)
        if not path:
            return
        fmt = next((k for k, v in exporting.FILE_FORMATS.items() if v == chosen), "md")
        if not Path(path).suffix:
            path += f".{fmt}"
        # the dialog has already asked before replacing an existing file
        try:
            written = self.save_target(path, Path(path).suffix.lstrip(".") or fmt, overwrite=True)
        except (OSError, ValueError) as e:
            self.report(f"Could not save: {e}", dialog=True)
            return
        self.settings.last_folder = str(Path(path).parent)
        self.statusBar().showMessage(f"Saved {written[0]}" + (f" and {len(written) - 1} figure(s)"
                                                              if len(written) > 1 else ""), 6000)

    def export_all(self, folder: str | Path, formats: tuple[str, ...] = ("md", "json")) -> list[Path]:
        """Export every result in the queue to `folder` (existing files are kept; new names are picked)."""
        written = exporting.export_queue(folder, self.queue.items, formats, image_for=self._target_image)
        self.statusBar().showMessage(f"Exported {len(written)} file(s) to {folder}", 6000)
        return written

    def export_dialog(self) -> None:
        if not any(t.result is not None for i in self.queue.items for t in i.targets):
            self.report("Nothing to export yet: run the OCR first")
            return
        choices = {"Markdown and JSON": ("md", "json"), "Markdown": ("md",), "Plain text": ("txt",),
                   "JSON": ("json",), "All three": ("md", "txt", "json")}
        choice, ok = QInputDialog.getItem(self, "Export all", "Export every result as:", list(choices), 0, False)
        if not ok:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.settings.last_folder)
        if folder:
            try:
                self.export_all(folder, choices[choice])
            except OSError as e:
                self.report(f"Could not export: {e}", dialog=True)

    # ---- state, messages, closing ------------------------------------------------------------------------------

    def update_actions(self) -> None:
        item, target = self.current()
        busy = self.running is not None or bool(self.pending)
        runtime = eb.has_runtime()
        can_run = runtime and item is not None and not item.error and self.current_plan is not None
        self.act_run.setEnabled(bool(can_run) and not (target is not None and target.state == State.RUNNING))
        self.act_run.setToolTip("OCR the image or region shown (Ctrl+R)" if runtime else eb.RUNTIME_MISSING)
        self.act_run_all.setEnabled(runtime and bool(self.queue.items))
        self.act_cancel.setEnabled(busy or self.loading)
        has_text = target is not None and (target.result is not None or bool(target.text))
        self.act_save.setEnabled(has_text)
        for a in self.act_copy.values():
            a.setEnabled(True)  # also copies a selection in text fields
        self.act_export.setEnabled(any(t.result is not None for i in self.queue.items for t in i.targets))
        self.act_remove.setEnabled(item is not None and item.state != State.RUNNING)
        self.act_model.setEnabled(runtime and self.running is None)
        self.version_combo.setEnabled(not busy)

    def report(self, message: str, title: str = "DSOCR", dialog: bool = False) -> None:
        """Show a message in the status bar (and in a non-blocking box when `dialog`)."""
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        if dialog and not getattr(self, "quiet", False):
            if self._message_box is not None:
                self._message_box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            box.open()
            self._message_box = box

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # dark/light switch: overlays take the new palette
            for b in self.view.boxes:
                b.set_selected(b.pen().widthF() > 2)
            self.view.viewport().update()
        super().changeEvent(event)

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.pending.clear()
        self.host.close()
        super().closeEvent(event)

    def wait_idle(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until nothing runs or loads (for scripts and --screenshot); False on timeout."""
        from PySide6.QtCore import QElapsedTimer, QEventLoop

        if not self.is_busy():
            return True
        loop = QEventLoop()
        clock = QElapsedTimer()
        clock.start()
        poll = QTimer()
        poll.setInterval(50)
        poll.timeout.connect(lambda: loop.quit() if not self.is_busy() or clock.elapsed() > timeout_s * 1000 else None)
        poll.start()
        loop.exec()
        poll.stop()
        return not self.is_busy()
