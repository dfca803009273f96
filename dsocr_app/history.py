"""`CaptureHistory`: the one owner of the capture history in the running app (a `HistoryStore` on disk).

A finished capture is recorded (`record`): its image, text, task, model, tile plan and tokens are written to the
history, and the queue item reads its image from there from now on (`QueueModel.keep_on_disk`), so a day of
captures holds no pixels in memory. The retention setting is applied when DSOCR starts (`start`) and after
each capture. Every change is signalled (`changed`); a problem (a damaged database, lost images, a full disk)
is one line (`problem`) and never stops the app.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QObject, Signal

from .history_settings import HistorySettings
from .history_store import Entry, HistoryStore, missing_note
from .queue_model import QueueModel, Target
from .settings import Settings

_STORE_ERRORS = (OSError, sqlite3.Error)


class CaptureHistory(QObject):
    changed = Signal()  # captures were added, deleted or pruned
    problem = Signal(str)  # one line: what is wrong with the history

    def __init__(self, settings: Settings, queue: QueueModel, parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.queue = HistorySettings.of(settings), queue
        self.store = HistoryStore()
        self._told = 0  # store problems already said

    def _fail(self, doing: str, error: Exception) -> None:
        self.problem.emit(f"History: could not {doing}: {error}")

    def _tell(self) -> None:
        for line in self.store.problems[self._told:]:
            self.problem.emit(f"History: {line}")
        self._told = len(self.store.problems)

    def start(self) -> None:
        """DSOCR started: apply the retention setting, say what is damaged."""
        try:
            self.prune()
            note = missing_note(self.store.missing_images())
        except _STORE_ERRORS as e:
            self._fail("read the capture history", e)
            return
        if note:
            self.problem.emit(f"History: {note}")

    def prune(self) -> int:
        """Apply the retention setting; how many captures were deleted."""
        try:
            deleted = self.store.prune(self.settings.retention)
        except _STORE_ERRORS as e:
            self._fail("apply the history setting", e)
            return 0
        self._tell()
        if deleted:
            self.changed.emit()
        return deleted

    def record(self, target: Target, result, task: str) -> Entry | None:
        """Keep a finished capture (the queue item of `target`, its engine `result`, the `task` it ran); its
        entry, None when the history is off or cannot be written (said)."""
        if not self.settings.retention.keeps():
            return None
        where = self.queue.locate(target)
        if where is None:
            return None
        entry = self._keep(lambda: self.queue.image(where[0]), result.text, task, result.model,
                           int(result.generated_tokens), result.plan.to_dict())
        if entry is not None:
            self.queue.keep_on_disk(target, entry.image)
        return entry

    def record_codes(self, image, text: str) -> Entry | None:
        """Keep a capture that was mostly a QR code or barcode (no OCR ran: task "codes", the codes' text)."""
        if not self.settings.retention.keeps():
            return None
        return self._keep(lambda: image, text, "codes", "", 0, None)

    def _keep(self, image_of, text: str, task: str, model: str, tokens: int, plan: dict | None) -> Entry | None:
        try:
            entry = self.store.add(image_of(), text, task, model, tokens, plan)
        except _STORE_ERRORS as e:
            self._tell()
            self._fail("keep this capture", e)
            return None
        except Exception as e:  # noqa: BLE001 - an unreadable image (ImageError): the capture itself is done
            self._fail("keep this capture", e)
            return None
        self._tell()
        self.prune()
        self.changed.emit()
        return entry

    def entries(self, query: str = "", limit: int | None = None) -> list[Entry]:
        """Captures, newest first (those whose text holds every word of `query`)."""
        try:
            found = self.store.entries(query, limit)
        except _STORE_ERRORS as e:
            self._fail("read the capture history", e)
            return []
        self._tell()
        return found

    def count(self) -> int:
        try:
            return self.store.count()
        except _STORE_ERRORS:
            return 0

    def delete(self, entry_id: int) -> None:
        try:
            self.store.delete(entry_id)
        except _STORE_ERRORS as e:
            self._fail("delete the capture", e)
            return
        self.changed.emit()

    def clear(self) -> int:
        try:
            n = self.store.clear()
        except _STORE_ERRORS as e:
            self._fail("clear the history", e)
            return 0
        self.changed.emit()
        return n
