"""Worklist columns that fit the table's width.

Each column has a preferred width: the one sized from the font
(WorklistView.fit_columns), the remembered layout's, or the one the user
dragged it to. When the viewport is narrower than the preferred widths add
up to (a smaller window, the merge drawer opened beside the list), the text
columns give up what they have beyond their content (the rows on screen) and
their title, the wide ones first in proportion; only if that is not enough do
all data columns shrink further, down to a few characters (values elide, the
cell's tooltip keeps them whole). So every column stays on screen, the last
one (Assigned to) too, instead of being pushed out to the right. When the
viewport widens again the preferred widths come back.

The widths set here are not the user's: :attr:`fitting` tells the column
layout (ui/worklist/columns.py) not to remember them, and :meth:`widths`
gives it the preferred ones to save.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QTableView

from ui.worklist.model import COLUMNS, FIXED

HARD_MIN = 56  # px: a few characters and the ellipsis
TITLE_PADDING = 30  # px: the section's padding, without room for a sort arrow


class ColumnFit(QObject):
    """Keeps *view*'s columns within its viewport."""

    def __init__(self, view: QTableView):
        super().__init__(view)
        self.view = view
        self.header = view.horizontalHeader()
        self.fitting = False
        self.preferred = {i: self.header.sectionSize(i) for i in range(self.header.count())}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        self.header.sectionResized.connect(self._resized)
        view.viewport().installEventFilter(self)
        model = view.model()
        model.modelReset.connect(self._timer.start)
        model.rowsInserted.connect(self._timer.start)
        model.dataChanged.connect(self._timer.start)  # rows read in blocks: their values arrive later

    def widths(self) -> dict[int, int]:
        """The preferred width of each column (what a saved layout holds)."""
        return dict(self.preferred)

    def _last_visible(self) -> int:
        for visual in range(self.header.count() - 1, -1, -1):
            logical = self.header.logicalIndex(visual)
            if not self.header.isSectionHidden(logical):
                return logical
        return -1

    def _resized(self, logical: int, _old: int, new: int) -> None:
        if self.fitting or new <= 0:
            return  # our own fitting, or a column hidden
        if self.header.stretchLastSection() and logical == self._last_visible():
            return  # the header stretching the last column: it keeps its own preferred width
        self.preferred[logical] = new
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._timer.start()
        return False

    def _floor(self, logical: int) -> int:
        """What a column needs: its title and the values on screen."""
        bold = QFont(self.header.font())
        bold.setBold(True)
        title = QFontMetrics(bold).horizontalAdvance(COLUMNS[logical].title) + TITLE_PADDING
        return max(title, self.view.sizeHintForColumn(logical), HARD_MIN)

    def fit(self) -> None:
        """Preferred widths, shrunk as little as the viewport asks."""
        shown = [i for i in range(self.header.count()) if not self.header.isSectionHidden(i)]
        widths = {i: self.preferred.get(i, self.header.sectionSize(i)) for i in shown}
        excess = sum(widths.values()) - self.view.viewport().width()
        data = [i for i in shown if COLUMNS[i].key not in FIXED and COLUMNS[i].key != "status"]
        if excess > 0:
            excess = _shrink(widths, {i: self._floor(i) for i in data}, excess)
        if excess > 0:
            _shrink(widths, {i: HARD_MIN for i in data}, excess)
        self.fitting = True
        try:
            for i, width in widths.items():
                if self.header.sectionSize(i) != width:
                    self.header.resizeSection(i, width)
        finally:
            self.fitting = False


def _shrink(widths: dict[int, int], floors: dict[int, int], excess: int) -> int:
    """Take up to *excess* px from the columns in *floors*, each in proportion
    to what it has above its floor; returns what is still too much."""
    slack = {i: max(0, widths[i] - floor) for i, floor in floors.items()}
    total = sum(slack.values())
    if total <= 0:
        return excess
    take = min(excess, total)
    for i, room in slack.items():
        cut = min(room, math.ceil(room * take / total))
        widths[i] -= cut
    return excess - take
