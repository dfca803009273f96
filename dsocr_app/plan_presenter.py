"""Plan presentation: the shown target planned with the current options, drawn on the page and summarised.

`PlanPresenter` plans synchronously (the engine's planner is pure Python) and shows the plan on the page
overlay, the tiling panel, the scale in the status bar and the summary label; a grid hovered in the tiling panel
is previewed, a grid clicked there is forced on the target (through the queue, which owns it). It emits
`planShown(plan)` for every plan shown (None: none) and `planChanged(plan)` for each one that exists.
`ShownPresenter` asks it to `replan` when the shown target changes; it re-plans by itself when the options do.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from . import documents
from . import engine_bridge as eb
from .page_pane import PagePane
from .plan_options import PlanOptionsBar
from .queue_model import QueueItem, QueueModel, Target
from .selection import Selection
from .status_bar import StatusBar


def plan_summary(plan) -> str:
    """The plan in one line: grid, tiles, global view and the total image tokens."""
    w, h = plan.image_size
    parts = [f"{plan.version} {plan.mode}, image {w}\u00d7{h} px"]
    if plan.tiles:
        cols, rows = plan.grid
        parts.append(f"{cols}\u00d7{rows} grid: {len(plan.tiles)} tiles \u00d7 {plan.tiles[0].tokens} = "
                     f"{plan.tile_tokens} tokens")
    else:
        parts.append("not tiled")
    parts.append(f"global view {plan.global_view.size} px: {plan.global_tokens} tokens")
    if plan.newline_tokens:
        parts.append(f"newlines {plan.newline_tokens}")
    parts.append(f"separator {plan.separator_tokens}")
    forced = "" if plan.official else " (forced grid: not the official tiling)"
    return " \u00b7 ".join(parts) + f" \u2014 total {plan.image_tokens} image tokens{forced}"


def origin(target: Target | None) -> tuple[int, int]:
    """Where a target's image starts on the page (a region's top-left corner)."""
    return (target.rect[0], target.rect[1]) if target is not None and target.rect else (0, 0)


class PlanPresenter(QObject):
    planShown = Signal(object)  # the TilePlan now shown, None when there is none
    planChanged = Signal(object)  # the TilePlan now shown (only when there is one)

    def __init__(self, selection: Selection, queue: QueueModel, options: PlanOptionsBar, page: PagePane,
                 status: StatusBar):
        super().__init__()
        self.selection, self.queue, self.options_bar, self.page, self.status = selection, queue, options, page, status
        self.plan = None  # the plan shown
        self.model = None  # the loaded model (its version is noted beside a plan of the other one)
        options.changed.connect(self.replan)

    def options(self):
        return self.options_bar.options()

    @Slot(object)
    def set_model(self, model) -> None:
        """A model was loaded (None: none is): plans follow its version."""
        self.model = model
        if model is not None and model.version != self.options().version:
            self.options_bar.set_options(version=model.version)  # re-plans through `changed`

    @Slot(str)
    def model_unloaded(self, _source: str = "") -> None:
        self.model = None

    def target_plan(self, item: QueueItem | None, target: Target | None, grid=None):
        """The plan of a target with the current options (`grid` forces one), or None without an image."""
        if item is None or item.size is None or item.error:
            return None
        if item.is_document:  # each page one view of the document mode, whatever the options bar says
            return eb.plan(item.size, version=documents.VERSION, mode=eb.DOCUMENT_MODE)
        size = item.size if target.rect is None else (target.rect[2] - target.rect[0], target.rect[3] - target.rect[1])
        return self.options().plan(size, grid)

    @Slot()
    def replan(self, *_) -> None:
        """Re-plan the target shown with the current options and redraw the overlay (instant, no model)."""
        item, target = self.selection.current()
        plan, note = None, ""
        try:
            plan = self.target_plan(item, target, target.grid if target is not None else None)
        except ValueError as e:
            if target.grid is None:
                note = str(e)
            else:  # options changed under a forced grid that no longer fits them: back to the official grid
                self.status.showMessage(f"Back to the automatic grid: {e}", 6000)
                self.queue.set_grid(target, None)
                self.replan()
                return
        self.plan = plan
        self.page.show_plan(plan, origin(target))
        self.status.scale.set_plan(plan, item.dpi if item is not None and item.page is not None else None)
        if plan is not None:
            model = self.model
            note = plan_summary(plan)
            if model is not None and model.version != plan.version:
                note += (f"\nThe loaded model is {model.version}: Run switches the plan to {model.version}. "
                         f"Load a {plan.version} model to run this plan.")
        self.page.set_note(note)
        self.planShown.emit(plan)
        if plan is not None:
            self.planChanged.emit(plan)

    @Slot(object)
    def preview_grid(self, grid) -> None:
        """Draw `grid` = (cols, rows) on the page without choosing it (None: back to the plan shown)."""
        item, target = self.selection.current()
        plan = self.plan
        if grid is not None and plan is not None and grid != plan.grid:
            plan = self.target_plan(item, target, grid)
            self.status.showMessage(f"Preview: {grid[0]}\u00d7{grid[1]} grid, {plan.image_tokens} image tokens "
                                    f"\u2014 a click plans with it, Run then uses it", 4000)
        elif grid is None:
            self.status.clear_message("Preview:")
        self.page.show_plan(plan, origin(target))

    @Slot(object)
    def set_grid(self, grid) -> None:
        """Force `grid` = (cols, rows) on the target shown, or None for the automatic (official) grid; re-plans."""
        target = self.selection.target()
        if target is None:
            return
        self.queue.set_grid(target, grid)
        self.replan()
        if self.plan is not None:
            self.status.showMessage(f"Re-planned, nothing has run (Run uses this grid): {eb.grid_reason(self.plan)}", 6000)
