"""Document presentation: when the item shown is a whole document (Unlimited-OCR), its token budget beside the
text (tokens per page, the prompt, what is left for the output, where it would be split) and its page breaks.

`DocumentPresenter` follows what `ShownPresenter` shows (the target shown, its plan, its run's state) and,
after it, hands the results pane the document's budget (`ResultsPane.show_document`), counted with the loaded
model's tokenizer when it reads documents, else estimated; the page shown is highlighted. For any other item it
tells the pane that no document is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from . import documents
from .plan_presenter import PlanPresenter
from .queue_model import QueueModel, State
from .results_pane import ResultsPane
from .run_setup import RunSetup
from .selection import Selection


class DocumentPresenter(QObject):
    def __init__(self, selection: Selection, queue: QueueModel, setup: RunSetup, results: ResultsPane,
                 planner: PlanPresenter):
        super().__init__()
        self.selection, self.queue, self.setup, self.results, self.planner = selection, queue, setup, results, planner
        self.plan = None  # the DocumentPlan shown, None when no document is
        # connected after ShownPresenter: its handling of the same signals (which resets the pane) comes first
        selection.targetShown.connect(self.refresh)
        planner.planShown.connect(self.refresh)
        queue.stateChanged.connect(self.refresh)

    @Slot()
    def refresh(self, *_) -> None:
        """The shown document's budget in the results pane (nothing when the item shown is no document)."""
        item, target = self.selection.current()
        self.plan = None
        if item is None or not item.is_document or item.error:
            self.results.show_document(None)
            return
        try:
            doc, exact = documents.budget(len(item.pages), item.size, self.setup.max_tokens, self.planner.model)
        except ValueError as e:  # no page fits beside the output asked for
            self.results.show_document(None)
            self.results.show_banner(str(e))
            return
        self.plan = doc
        current = item.pages.index(target.page) if target.page is not None else None
        fresh = target.result is None and target.state != State.RUNNING and not target.error
        self.results.show_document(doc, [p + 1 for p in item.pages], current, exact,
                                   documents.budget_line(doc, exact) if fresh else "")
