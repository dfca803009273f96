"""The export commands: copy the shown result, save it, export the whole queue, with their dialogs.

They work on what the window shows (the `Selection`'s item and target, the results pane's edited markdown) and
say what happened through `Messages` (problems, and what was done); formats are `exporting.FILE_FORMATS`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from . import engine_bridge as eb
from . import exporting, pdf_export, queue_export
from .messages import Messages
from .queue_model import QueueItem, QueueModel, Target
from .results_pane import ResultsPane
from .selection import Selection
from .settings import Settings


class ExportActions:
    def __init__(self, queue: QueueModel, settings: Settings, selection: Selection, results: ResultsPane,
                 messages: Messages):
        self.parent, self.queue, self.settings = messages.parent_widget, queue, settings  # dialogs: on the window
        self.current, self.text = selection.current, results.text  # the shown item and target; its markdown
        self.report, self.notify = messages.report, messages.notify  # a problem (the last error); a passing note

    def copy_as(self, kind: str) -> str:
        """Copy the shown result's markdown in form `kind`; say what was copied."""
        text = self.text()
        if not text.strip():
            self.report("Nothing to copy yet: run the OCR first")
            return ""
        copied = exporting.copy_text(kind, text)
        lines = copied.count("\n") + 1 if copied else 0
        self.notify(f"Copied {len(copied)} characters ({lines} line{'s' if lines != 1 else ''}) "
                    f"as {exporting.CLIPBOARD_FORMS[kind].lower()}", 5000)
        return copied

    def save_target(self, path: str | Path, fmt: str | None = None, overwrite: bool = False) -> list[Path]:
        """Save the shown target in a format of `exporting.FILE_FORMATS` (from the suffix unless given)."""
        item, target = self.current()
        if target is None or (target.result is None and not target.text):
            raise ValueError("nothing to save yet: run the OCR first")
        path = Path(path)
        fmt = fmt or path.suffix.lstrip(".").lower() or "md"
        if fmt == "pdf" and exporting.is_whole_document(item, target):  # every page of it, one PDF
            if path.suffix.lower() != ".pdf":
                path = path.with_name(f"{path.name}.pdf")
            return [pdf_export.document_pdf(path, item, self._target_image, overwrite)]
        return exporting.write_target(path, fmt, item, target, overwrite=overwrite,
                                      image=self._target_image(item, target))

    def _target_image(self, item: QueueItem, target: Target):
        """The image a target's run saw (for figure crops), read again from its source; None if unreadable."""
        if target.result is not None and target.result.image is not None:
            return target.result.image
        if exporting.is_whole_document(item, target):
            return None  # its pages have the images
        where = self.queue.locate(target)
        if target.page is not None and where is not None:  # a document's page
            try:
                return self.queue.page_image(where[0], target.page)
            except eb.ImageError:
                return None
        try:
            image = self.queue.image(where[0]) if where else None
        except eb.ImageError:
            return None
        return image.crop(target.rect) if image is not None and target.rect is not None else image

    def save_dialog(self, fmt: str = "md") -> None:
        """Save the shown result to a chosen file; the dialog starts on format `fmt`."""
        item, target = self.current()
        if target is None or (target.result is None and not target.text):
            self.report("Nothing to save yet: run the OCR first")
            return
        stem = item.stem_of(target)
        start = str(Path(self.settings.last_folder or Path.home()) / f"{stem}.{fmt}")
        formats = exporting.FILE_FORMATS
        path, chosen = QFileDialog.getSaveFileName(self.parent, "Save result", start,
                                                   ";;".join(f.filter for f in formats.values()), formats[fmt].filter)
        if not path:
            return
        fmt = next((k for k, f in formats.items() if f.filter == chosen), "md")
        if not Path(path).suffix:
            path += f".{fmt}"
        try:  # the dialog has already asked before replacing an existing file
            written = self.save_target(path, Path(path).suffix.lstrip(".") or fmt, overwrite=True)
        except (OSError, ValueError) as e:
            self.report(f"Could not save: {e}", dialog=True)
            return
        self.settings.last_folder = str(Path(path).parent)
        self.notify(f"Saved {written[0]}" + (f" and {len(written) - 1} figure(s)" if len(written) > 1 else ""), 6000)

    def export_all(self, folder: str | Path, formats: tuple[str, ...] = ("md", "json")) -> list[Path]:
        """Export every result in the queue to `folder` (existing files are kept; new names are picked)."""
        written = queue_export.export_queue(folder, self.queue.items, formats, image_for=self._target_image)
        self.notify(f"Exported {len(written)} file(s) to {folder}", 6000)
        return written

    def export_dialog(self, formats: tuple[str, ...] | None = None) -> None:
        """Export every result to a chosen folder, in `formats` (asked for when None)."""
        if not any(t.result is not None for i in self.queue.items for t in i.targets):
            self.report("Nothing to export yet: run the OCR first")
            return
        ok = formats is not None
        if not ok:
            choices = exporting.EXPORT_CHOICES
            choice, ok = QInputDialog.getItem(self.parent, "Export all", "Export every result as:", list(choices), 0,
                                              False)
            formats = choices[choice] if ok else None
        folder = QFileDialog.getExistingDirectory(self.parent, "Export to folder", self.settings.last_folder) if ok else ""
        if folder:
            try:
                self.export_all(folder, formats)
            except OSError as e:
                self.report(f"Could not export: {e}", dialog=True)
