"""The planning options: model version, resolution mode, tile limits and task, as one frozen `PlanOptions`, and
the bar of controls that edits it.

The controls are a view of one value. A user's change makes a new value, `normalized` (a mode the version
has, limits in range and in order, keeping the one just changed); the bar shows it and emits `changed` once.
Code sets a value with `set_options`, through the same path, so controls and value never disagree. While the
controls are being made to show a value (`_show`), their own signals are ignored; nothing is blocked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from . import engine_bridge as eb

TASK_LABELS = {"markdown": "Markdown", "ocr": "OCR with layout", "free": "Free OCR", "figure": "Parse figure",
               "describe": "Describe"}
VERSION_LABELS = {v: (f"{v} {name}" if v.startswith("v") else name) for v, name in eb.VERSION_NAMES.items()}


@dataclass(frozen=True)
class PlanOptions:
    """What a run is planned and run with."""

    version: str = "v2"
    mode: str = eb.DEFAULT_MODE
    min_tiles: int = eb.DEFAULT_TILES["v2"][0]
    max_tiles: int = eb.DEFAULT_TILES["v2"][1]
    task: str = "markdown"

    def checked(self) -> PlanOptions:
        """This value (version and mode as the engine names them) if valid, else ValueError with the engine's
        message, as the command line gives it (unknown version, mode or task, bad limits)."""
        mode = eb.get_mode(self.version, self.mode)
        eb.check_tile_limits(mode.version, self.min_tiles, self.max_tiles)
        eb.task_prompt(self.task)
        return dataclasses.replace(self, version=mode.version, mode=mode.name)

    def normalized(self, keep: str = "max_tiles", tiles_for: Callable[[str], tuple[int, int]] | None = None) \
            -> PlanOptions:
        """The nearest valid value: a known version and mode, limits clamped and ordered (`keep` wins a clash).
        A new version takes its tile limits from `tiles_for(version)` (default: the engine's)."""
        version = self.version if self.version in eb.VERSIONS else "v2"
        mode = self.mode if self.mode in eb.MODES[version] else eb.DEFAULT_MODE
        lo, hi = eb.TILE_RANGE[version]
        a, b = min(max(self.min_tiles, lo), hi), min(max(self.max_tiles, lo), hi)
        if a > b:
            a, b = (b, b) if keep == "max_tiles" else (a, a)
        task = self.task if self.task in eb.TASKS else "markdown"
        return PlanOptions(version, mode, a, b, task)

    @property
    def tiled(self) -> bool:
        return eb.MODES[self.version][self.mode].tiled

    def plan(self, size: tuple[int, int], grid: tuple[int, int] | None = None):
        """The engine's plan of an image of `size`, `grid` forcing (cols, rows) (raises ValueError on bad options)."""
        return eb.plan(size, version=self.version, mode=self.mode, min_tiles=self.min_tiles, max_tiles=self.max_tiles,
                       grid=grid)

    def run_options(self) -> dict:
        """These options under the flat names of `engine.RunOptions.of` (task, mode, min_tiles, max_tiles)."""
        return {"task": self.task, "mode": self.mode, "min_tiles": self.min_tiles, "max_tiles": self.max_tiles}


class PlanOptionsBar(QWidget):
    """Version, mode, tile limits and task; emits `changed(PlanOptions)` once per change."""

    changed = Signal(object)

    def __init__(self, options: PlanOptions, tiles_for: Callable[[str], tuple[int, int]] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles_for = tiles_for or (lambda v: eb.DEFAULT_TILES[v])
        self._options = PlanOptions()
        self._showing = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        self.version_combo = QComboBox()
        self.version_combo.setAccessibleName("Model version")
        self.version_combo.setToolTip(", ".join(f"{v}: {name}" for v, name in eb.VERSION_NAMES.items())
                                      + " (a PDF is one document, all its pages read in one pass)")
        for v in eb.VERSIONS:
            self.version_combo.addItem(VERSION_LABELS.get(v, v), v)
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
        for task in eb.TASKS:
            self.task_combo.addItem(TASK_LABELS.get(task, task), task)
        for label, w in (("Version", self.version_combo), ("Mode", self.mode_combo), ("Tiles", self.min_spin),
                         ("to", self.max_spin), ("Task", self.task_combo)):
            lab = QLabel(label)
            lab.setBuddy(w)
            layout.addWidget(lab)
            layout.addWidget(w)
        layout.addStretch(1)
        self._show(options.normalized(tiles_for=self.tiles_for))
        self.version_combo.currentIndexChanged.connect(lambda _: self._edited("version"))
        self.mode_combo.currentIndexChanged.connect(lambda _: self._edited("mode"))
        self.min_spin.valueChanged.connect(lambda _: self._edited("min_tiles"))
        self.max_spin.valueChanged.connect(lambda _: self._edited("max_tiles"))
        self.task_combo.currentIndexChanged.connect(lambda _: self._edited("task"))

    @Slot(bool)
    def set_version_editable(self, editable: bool) -> None:
        """The version can be changed (not while a run runs or waits)."""
        self.version_combo.setEnabled(bool(editable))

    def options(self) -> PlanOptions:
        return self._options

    def set_options(self, **changes) -> PlanOptions:
        """Change some options as a user would (`version=`, `mode=`, ...); emits `changed` if anything changed.
        Raises ValueError for a value that is not valid (e.g. a mode the version does not have)."""
        new = dataclasses.replace(self._options, **changes)
        if "version" in changes and changes["version"] != self._options.version:
            lo, hi = self.tiles_for(new.version)
            new = dataclasses.replace(new, min_tiles=changes.get("min_tiles", lo), max_tiles=changes.get("max_tiles", hi))
            if "mode" not in changes and new.mode not in eb.MODES[new.version]:
                new = dataclasses.replace(new, mode=eb.DEFAULT_MODE)
        self._apply(new.checked())
        return self._options

    # ---- the controls as a view of the value ----------------------------------------------------------------

    def _from_controls(self) -> PlanOptions:
        return PlanOptions(self.version_combo.currentData() or self._options.version,
                           self.mode_combo.currentData() or self._options.mode,
                           self.min_spin.value(), self.max_spin.value(),
                           self.task_combo.currentData() or self._options.task)

    def _edited(self, field: str) -> None:
        if self._showing:
            return
        new = self._from_controls()
        if new == self._options:
            return  # the controls only caught up with the value
        if field == "version":
            lo, hi = self.tiles_for(new.version)
            new = dataclasses.replace(new, min_tiles=lo, max_tiles=hi)
        self._apply(new.normalized(keep=field, tiles_for=self.tiles_for))

    def _apply(self, new: PlanOptions) -> None:
        if new == self._options:
            self._show(new)
            return
        self._show(new)
        self.changed.emit(new)

    def _show(self, o: PlanOptions) -> None:
        """Make the controls show `o`."""
        self._options = o
        self._showing = True
        try:
            self._show_controls(o)
        finally:
            self._showing = False

    def _show_controls(self, o: PlanOptions) -> None:
        self.version_combo.setCurrentIndex(self.version_combo.findData(o.version))
        if [self.mode_combo.itemData(i) for i in range(self.mode_combo.count())] != list(eb.MODES[o.version]):
            self.mode_combo.clear()
            for i, (name, m) in enumerate(eb.MODES[o.version].items()):
                self.mode_combo.addItem(name, name)
                self.mode_combo.setItemData(i, m.description, Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(o.mode))
        self.mode_combo.setToolTip(eb.MODES[o.version][o.mode].description)
        lo, hi = eb.TILE_RANGE[o.version]
        for spin, value in ((self.min_spin, o.min_tiles), (self.max_spin, o.max_tiles)):
            spin.setRange(lo, hi)
            spin.setValue(value)
            spin.setEnabled(o.tiled)
        self.task_combo.setCurrentIndex(self.task_combo.findData(o.task))
