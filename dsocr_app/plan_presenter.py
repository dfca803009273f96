"""Plan presentation: the shown target planned with the current options, drawn on the page and summarised.

`PlanPresenter` plans synchronously (the engine's planner is pure Python) and shows the plan on the page
overlay, the tiling panel, the scale in the status bar and the summary label; a grid hovered in the tiling panel
is previewed, a grid clicked there is forced on the target. It emits `planChanged(plan)` for each plan shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel

from . import engine_bridge as eb
from .plan_options import PlanOptions
from .preview_view import PreviewView
from .queue_model import QueueItem, State, Target
from .results_pane import ResultsPane
from .run_queue import RunQueue
from .status_bar import StatusBar
from .tiling_panel import ScaleStatus


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
    planChanged = Signal(object)  # the TilePlan now shown

    def __init__(self, current: Callable, options: Callable[[], PlanOptions], runs: RunQueue, view: PreviewView,
                 results: ResultsPane, scale_status: ScaleStatus, status: StatusBar, label: QLabel,
                 update_actions: Callable[[], None], parent: QObject | None = None):
        super().__init__(parent)
        self.current, self.options, self.runs, self.update_actions = current, options, runs, update_actions
        self.view, self.results, self.scale_status, self.status, self.label = view, results, scale_status, status, label
        self.plan = None  # the plan shown
        results.tiling.gridHovered.connect(self.preview_grid)
        results.tiling.gridChosen.connect(self.set_grid)

    def target_plan(self, item: QueueItem | None, target: Target | None, grid=None):
        """The plan of a target with the current options (`grid` forces one), or None without an image."""
        if item is None or item.size is None or item.error:
            return None
        size = item.size if target.rect is None else (target.rect[2] - target.rect[0], target.rect[3] - target.rect[1])
        return self.options().plan(size, grid)

    def replan(self) -> None:
        """Re-plan the target shown with the current options and redraw the overlay (instant, no model)."""
        item, target = self.current()
        plan, note = None, ""
        try:
            plan = self.target_plan(item, target, target.grid if target is not None else None)
        except ValueError as e:
            if target.grid is None:
                note = str(e)
            else:  # options changed under a forced grid that no longer fits them: back to the official grid
                self.status.showMessage(f"Back to the automatic grid: {e}", 6000)
                target.grid = None
                self.replan()
                return
        self.plan = plan
        self.view.set_plan(plan, origin(target))
        self.results.tiling.set_plan(plan)
        self.scale_status.set_plan(plan, item.dpi if item is not None and item.page is not None else None)
        if plan is not None:
            model = self.runs.model
            note = plan_summary(plan)
            if model is not None and model.version != plan.version:
                note += (f"\nThe loaded model is {model.version}: Run switches the plan to {model.version}. "
                         f"Load a {plan.version} model to run this plan.")
            if target.result is None and target.state != State.RUNNING and not target.error:
                self.results.set_table(plan)
            self.planChanged.emit(plan)
        self.label.setText(note)
        self.update_actions()

    @Slot(object)
    def preview_grid(self, grid) -> None:
        """Draw `grid` = (cols, rows) on the page without choosing it (None: back to the plan shown)."""
        item, target = self.current()
        plan = self.plan
        if grid is not None and plan is not None and grid != plan.grid:
            plan = self.target_plan(item, target, grid)
            self.status.showMessage(f"Preview: {grid[0]}\u00d7{grid[1]} grid, {plan.image_tokens} image tokens "
                                    f"\u2014 a click plans with it, Run then uses it", 4000)
        elif grid is None and self.status.currentMessage().startswith("Preview:"):
            self.status.clearMessage()
        self.view.set_plan(plan, origin(target))

    @Slot(object)
    def set_grid(self, grid) -> None:
        """Force `grid` = (cols, rows) on the target shown, or None for the automatic (official) grid; re-plans."""
        _, target = self.current()
        if target is None:
            return
        target.grid = tuple(grid) if grid is not None else None
        self.replan()
        if self.plan is not None:
            self.status.showMessage(f"Re-planned, nothing has run (Run uses this grid): {eb.grid_reason(self.plan)}", 6000)
