"""Capture settings, stored with the app's other settings (same QSettings, keys under `capture/`)."""

from __future__ import annotations

from .. import engine_bridge as eb

DEFAULT_TASK = "free"  # plain text without grounding tags: what a clipboard wants


def _bool(value) -> bool:
    return value in (True, 1) or str(value).lower() in ("true", "1", "yes")


class CaptureSettings:
    """`task` (default `free`) and `keep_running` (stay in the menu bar when the window closes)."""

    def __init__(self, q):
        self.q = q

    @property
    def task(self) -> str:
        t = str(self.q.value("capture/task", DEFAULT_TASK))
        return t if t in eb.TASKS else DEFAULT_TASK

    @task.setter
    def task(self, value: str) -> None:
        if value not in eb.TASKS:
            raise ValueError(f"unknown capture task {value!r}: choose one of {', '.join(eb.TASKS)}")
        self.q.setValue("capture/task", value)

    @property
    def keep_running(self) -> bool:
        return _bool(self.q.value("capture/keep_running", False))

    @keep_running.setter
    def keep_running(self, value: bool) -> None:
        self.q.setValue("capture/keep_running", bool(value))
