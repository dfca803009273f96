"""`RunSetup`: what a queued run is given when its turn comes: the target's pixels and one `engine.RunOptions`.

The options are built in one place from the plan options bar (version, mode, tile limits, task), the saved
settings (decoding, recovery, output shape) and this session's token limit (`--max-tokens` or a handed-over
one, not saved; the saved limit again once the settings are saved). A model of the other version plans the
run as that version: the options bar follows the loaded model. A document item (Unlimited-OCR) gets its pages
to load and the run options of a whole document. A run can also be given its image and options
(`give`: a Local API request's, as the client asked), which are used as they are.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from . import engine_bridge as eb
from .documents import VERSION, DocumentInput, reads_documents
from .plan_options import PlanOptionsBar
from .queue_model import QueueModel, Target
from .settings import Settings


class RunSetup(QObject):
    """`prepare(target, model)` for the `RunQueue`; `set_max_tokens` for the session's token limit."""

    def __init__(self, queue: QueueModel, options_bar: PlanOptionsBar, settings: Settings,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.queue, self.options_bar, self.settings = queue, options_bar, settings
        self._max_tokens = settings.max_tokens
        self._given: list[tuple[Target, object, object]] = []  # runs whose image and options are given

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def set_max_tokens(self, max_tokens: int) -> None:
        """The token limit of the next runs, for this session (not saved)."""
        self._max_tokens = int(max_tokens)

    def settings_saved(self) -> None:
        """The saved token limit replaces a session's one."""
        self.set_max_tokens(self.settings.max_tokens)

    def give(self, target: Target, image, options) -> None:
        """The next run of `target` reads `image` with `options` as they are (a Local API request's), not
        planned from the window's settings."""
        self._given.append((target, image, options))

    def forget(self, target: Target) -> None:
        """Drop what was given for `target`'s run (it will not run)."""
        self._given = [g for g in self._given if g[0] is not target]

    def prepare(self, target: Target, model):
        """The image (the target's crop of its item) and the engine options of `target`; raises ValueError when
        the target left the queue, ImageError when its image cannot be read."""
        where = self.queue.locate(target)
        given = next((g for g in self._given if g[0] is target), None)
        if given is not None:
            self.forget(target)
        if where is None:
            raise ValueError("removed from the queue")
        if given is not None:
            return given[1], given[2]
        item = self.queue.items[where[0]]
        if item.is_document:
            return self._document(item, model)
        image = self.queue.image(where[0])
        if target.rect is not None:
            image = image.crop(target.rect)
        if model is not None and model.version != self.options_bar.options().version:
            self.options_bar.set_options(version=model.version)
        options = self.settings.run_options(**self.options_bar.options().run_options(), grid=target.grid,
                                            max_tokens=self._max_tokens)
        return image, options.replace(task=target.task) if target.task else options

    def _document(self, item, model):
        """A document item's pages (loaded by the worker) and options: read in one pass by Unlimited-OCR."""
        if model is not None and not reads_documents(model.version):
            raise ValueError(f"a whole document needs an {eb.VERSION_NAMES[VERSION]} model (this one is "
                             f"{eb.VERSION_NAMES.get(model.version, model.version)}): load one (Model \u2192 "
                             "Choose model), or remove the item and add the PDF again to read it page by page")
        options = self.settings.run_options(task=self.options_bar.options().task, max_tokens=self._max_tokens)
        return DocumentInput(item.source, item.pages, item.dpi), options
