"""History settings, stored with the app's other settings (same QSettings, keys under `history/`): how long
captures are kept (`Retention`: for N days, the last N, forever, or not at all; default 30 days); and their
tab of the settings dialog (`HistorySection`)."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox

from .history_store import RETENTION_MODES, Retention, default_folder
from .settings import _int, choice
from .settings_section import SettingsSection

DEFAULT = Retention()


class HistorySettings:
    """`retention` (a `history_store.Retention`) kept beside the app's `Settings`."""

    def __init__(self, q):
        self.q = q

    @classmethod
    def of(cls, settings) -> HistorySettings:
        return cls(settings.q)

    @property
    def retention(self) -> Retention:
        return Retention(choice(self.q.value("history/keep"), RETENTION_MODES, DEFAULT.mode),
                         max(1, _int(self.q.value("history/days", DEFAULT.days), DEFAULT.days)),
                         max(1, _int(self.q.value("history/count", DEFAULT.count), DEFAULT.count)))

    @retention.setter
    def retention(self, value: Retention) -> None:
        if value.mode not in RETENTION_MODES:
            raise ValueError(f"unknown history retention {value.mode!r}: choose one of {', '.join(RETENTION_MODES)}")
        self.q.setValue("history/keep", value.mode)
        self.q.setValue("history/days", max(1, int(value.days)))
        self.q.setValue("history/count", max(1, int(value.count)))


class HistorySection(SettingsSection):
    """Settings > History: keep captures for N days / the last N captures / forever / not at all."""

    title = "History"
    MODES: ClassVar[dict[str, str]] = {"days": "For a number of days", "count": "The last captures only", "forever": "Forever",
             "off": "Never (no history)"}

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.mode = QComboBox()
        for mode in RETENTION_MODES:
            self.mode.addItem(self.MODES[mode], mode)
        self.mode.setAccessibleName("Keep captures")
        self.mode.setToolTip("Every capture (image, text, task, model, tile plan, time) is kept in the history; "
                             "older ones are deleted when DSOCR starts and after each capture")
        form.addRow("Keep captures", self.mode)
        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setSuffix(" days")
        self.days.setAccessibleName("Days to keep")
        form.addRow("Keep for", self.days)
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setSuffix(" captures")
        self.count.setAccessibleName("Captures to keep")
        form.addRow("Keep the last", self.count)
        where = QLabel(f"Kept in {default_folder()} (readable by you only)")
        where.setWordWrap(True)
        form.addRow(where)
        self.mode.currentIndexChanged.connect(lambda _i: self._enable())

    def _enable(self) -> None:
        self.days.setEnabled(self.mode.currentData() == "days")
        self.count.setEnabled(self.mode.currentData() == "count")

    def load(self, settings) -> None:
        r = HistorySettings.of(settings).retention
        self.mode.setCurrentIndex(max(0, self.mode.findData(r.mode)))
        self.days.setValue(r.days)
        self.count.setValue(r.count)
        self._enable()

    def save(self, settings) -> None:
        HistorySettings.of(settings).retention = Retention(self.mode.currentData(), self.days.value(),
                                                           self.count.value())
