"""Input intake: files, folders, PDF pages, pasted and dropped images into the queue.

`Intake` turns what the user gives (paths, an in-memory image, clipboard or drop mime data, the Open dialog)
into `QueueItem`s (read and checked by `inputs.queue_items`), adds them to the queue and emits `added(row)`
with the first new row (the window shows it); problems are reported, the count noted (`Messages`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from . import engine_bridge as eb
from .documents import reads_documents
from .inputs import OPEN_FILTER, image_from_mime, paths_from_mime, queue_items
from .messages import Messages
from .queue_model import QueueItem, QueueModel, Target
from .settings import Settings


class Intake(QObject):
    added = Signal(int)  # the first new queue row

    def __init__(self, parent: QWidget, queue: QueueModel, settings: Settings, messages: Messages):
        super().__init__(parent)
        self.parent_widget, self.queue, self.settings, self.messages = parent, queue, settings, messages
        self.report, self.notify = messages.report, messages.notify  # a problem (the last error); a passing note

    @staticmethod
    def accepts(mime) -> bool:
        """Whether a drag carries something to add (files or an image)."""
        return mime.hasUrls() or mime.hasImage()

    def drag_entered(self, event) -> None:
        """A drag over the window: accepted when it carries something to add."""
        if self.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropped(self, event) -> None:
        """A drop on the window: what it carries is added."""
        event.acceptProposedAction()
        self.handle_mime(event.mimeData())

    def ask_pages(self, path: Path, count: int) -> list[int] | None:
        """Which pages of a PDF to add (0-based); None to skip the file. Asks only when there are several pages
        and the window is not scripted (scripts take every page, or `add_paths(pages=...)`)."""
        if count <= 1 or self.messages.quiet:
            return list(range(count))
        text, prompt = "all", f"{path.name} has {count} pages.\nPages to add, e.g. 1-3, 5 (or all):"
        while True:
            text, ok = QInputDialog.getText(self.parent_widget, "PDF pages", prompt, text=text)
            if not ok:
                return None
            try:
                return eb.parse_page_ranges(text, count)
            except ValueError as e:
                prompt = f"{e}\n\n{path.name} has {count} pages.\nPages to add, e.g. 1-3, 5 (or all):"

    def add_paths(self, paths, pages: str | None = None) -> int:
        """Queue files and folders (a PDF becomes one item per page: `pages` like '1-3,5', else every page, or
        those the user picks; planned for Unlimited-OCR, one document item of those pages); show the first new
        item. Returns the count (an unusable input is a failed item)."""
        ask = (lambda path, count: list(range(count))) if pages is not None else self.ask_pages
        out = queue_items(paths, pages, self.settings.pdf_dpi, ask, reads_documents(self.settings.version))
        return self._add_items(out, [Path(p) for p in paths])

    def add_image(self, image, name: str = "Pasted image") -> int:
        """Queue an in-memory PIL image (e.g. pasted)."""
        return self._add_items([QueueItem(None, pixels=image.convert("RGB"), name=name, size=image.size,
                                          checked=True)], [])

    def add_capture(self, image, name: str, task: str) -> Target:
        """Queue a screen capture whose run uses `task`; its whole-image target."""
        target = Target(task=task)
        self._add_items([QueueItem(None, pixels=image.convert("RGB"), name=name, size=image.size, checked=True,
                                   targets=[target])], [])
        return target

    def add_stored(self, path: str, name: str) -> int:
        """Queue an image kept on disk (a capture of the history) under `name`."""
        return self._add_items([QueueItem(Path(path), name=name)], [])

    def _add_items(self, items: list[QueueItem], paths: list[Path]) -> int:
        if not items:
            self.report("Nothing to add: no images or PDFs found")
            return 0
        first = self.queue.add(items)
        if paths:
            p = paths[0]
            self.settings.last_folder = str(p if p.is_dir() else p.parent)
        self.added.emit(first)
        bad = [i for i in items if i.error]
        if bad:  # why is said once, beside the item (its queue row shows it too, elided)
            names = bad[0].name + (", \u2026" if len(bad) > 1 else "")
            self.report(f"{len(bad)} of {len(items)} cannot be read: {names}" if len(items) > 1
                        else f"{bad[0].name} cannot be read")
        else:
            self.notify(f"Added {len(items)} item{'s' if len(items) != 1 else ''} to the queue", 4000)
        return len(items)

    def handle_mime(self, mime) -> int:
        """Add what was dropped: files and folders, else an image."""
        paths = paths_from_mime(mime)
        if paths:
            return self.add_paths(paths)
        image = image_from_mime(mime)
        if image is not None:
            return self.add_image(image, "Dropped image")
        self.report("The dropped data holds no image or file")
        return 0

    def paste(self) -> int:
        """Add the clipboard's files, else its image."""
        mime = QGuiApplication.clipboard().mimeData()
        paths = paths_from_mime(mime) if mime is not None else []
        if paths:
            return self.add_paths(paths)
        image = image_from_mime(mime) if mime is not None else None
        if image is None:
            self.report("The clipboard holds no image")
            return 0
        return self.add_image(image)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.parent_widget, "Open images or PDFs", self.settings.last_folder,
                                                OPEN_FILTER)
        if files:
            self.add_paths(files)
