"""Capture settings, stored with the app's other settings (same QSettings, keys under `capture/`)."""

from __future__ import annotations

from .. import engine_bridge as eb
from ..settings import choice, flag
from .hotkey_keys import DEFAULT_SHORTCUT

DEFAULT_TASK = "free"  # plain text without grounding tags: what a clipboard wants


class CaptureSettings:
    """`task` (default `free`), `keep_running` (stay in the menu bar when the window closes), and the clipboard:
    `line_breaks` (keep / join), `form` (plain / markdown), `append` (to what the clipboard holds); `shortcut`
    (the global capture shortcut, portable text; '' for none) and `portal_dialog` (Wayland: the portal's own
    dialog picks the region instead of DSOCR's overlay)."""

    def __init__(self, q):
        self.q = q

    @classmethod
    def of(cls, settings) -> CaptureSettings:
        """The capture settings kept beside the app's `Settings`."""
        return cls(settings.q)

    @property
    def task(self) -> str:
        return choice(self.q.value("capture/task"), eb.TASKS, DEFAULT_TASK)

    @task.setter
    def task(self, value: str) -> None:
        if value not in eb.TASKS:
            raise ValueError(f"unknown capture task {value!r}: choose one of {', '.join(eb.TASKS)}")
        self.q.setValue("capture/task", value)

    @property
    def keep_running(self) -> bool:
        return flag(self.q.value("capture/keep_running"), False)

    @keep_running.setter
    def keep_running(self, value: bool) -> None:
        self.q.setValue("capture/keep_running", bool(value))

    # the clipboard as the user wants it (capture/clip_text.py, deliver.py)
    LINE_BREAKS = ("keep", "join")  # the model's line breaks, or lines joined into paragraphs
    FORMS = ("plain", "markdown")  # the plain text a markdown result puts on the clipboard: converted, or as is

    @property
    def line_breaks(self) -> str:
        return choice(self.q.value("capture/line_breaks"), self.LINE_BREAKS, "keep")

    @line_breaks.setter
    def line_breaks(self, value: str) -> None:
        self.q.setValue("capture/line_breaks", choice(value, self.LINE_BREAKS, "keep"))

    @property
    def form(self) -> str:
        return choice(self.q.value("capture/clipboard_form"), self.FORMS, "plain")

    @form.setter
    def form(self, value: str) -> None:
        self.q.setValue("capture/clipboard_form", choice(value, self.FORMS, "plain"))

    @property
    def append(self) -> bool:
        return flag(self.q.value("capture/append"), False)

    @append.setter
    def append(self, value: bool) -> None:
        self.q.setValue("capture/append", bool(value))

    @property
    def shortcut(self) -> str:
        value = self.q.value("capture/shortcut")
        return DEFAULT_SHORTCUT if value is None else str(value)

    @shortcut.setter
    def shortcut(self, value: str) -> None:
        self.q.setValue("capture/shortcut", str(value or ""))

    @property
    def portal_dialog(self) -> bool:
        return flag(self.q.value("capture/portal_dialog"), False)

    @portal_dialog.setter
    def portal_dialog(self, value: bool) -> None:
        self.q.setValue("capture/portal_dialog", bool(value))
