"""The window's three columns (queue, page, results) and their first sizes for the window's width.

Until the user's own sizes take over (restored with `restore`, or dragged once the window is shown),
`MainSplitter` fits the columns to the width, giving the results room for all their tabs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from .results_pane import ResultsPane


class MainSplitter(QSplitter):
    def __init__(self, queue_view: QWidget, page: QWidget, results: ResultsPane, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("main-splitter")
        self.setChildrenCollapsible(False)
        for k, (w, stretch) in enumerate(((queue_view, 0), (page, 3), (results, 2))):
            self.addWidget(w)
            self.setStretchFactor(k, stretch)
        self.results = results
        self.sized = False  # the columns have their first sizes (or the user's)

    def restore(self, state) -> None:
        """The user's sizes saved last time (None: fit to the width)."""
        self.sized = state is not None and self.restoreState(state)

    def fit(self) -> None:
        """First sizes of queue, image and results for the window's width (until the user drags a handle): the
        results get room for all their tabs."""
        w = self.width()
        tabs = self.results.tabs.tabBar().sizeHint().width() + 8
        queue, results = min(max(int(w * 0.13), 110), 220), min(max(int(w * 0.36), tabs), max(560, tabs))
        self.setSizes([queue, max(w - queue - results, 240), results])

    def window_resized(self) -> None:
        if not self.sized:
            self.fit()

    def window_shown(self) -> None:
        if not self.sized:
            self.fit()
        self.sized = True  # from now on the user's handle positions stay
