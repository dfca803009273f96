"""Capture settings, stored with the app's other settings (same QSettings, keys under `capture/`)."""

from __future__ import annotations

from .. import engine_bridge as eb
from ..settings import choice, flag

DEFAULT_TASK = "free"  # plain text without grounding tags: what a clipboard wants


class CaptureSettings:
    """`task` (default `free`) and `keep_running` (stay in the menu bar when the window closes)."""

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
