"""The Edit dialog's Table view: every series of the study, a page at a time,
with tick boxes and each series' staged state.

The ticks live in one :class:`ui.research.series_state.Ticks` (Series
Instance UIDs) shared with the RT view, so a series ticked in one view is
ticked in the other.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableView, QVBoxLayout, QWidget)

from ui import formatting
from ui.research.series_state import Ticks, staged_text, state_colour, state_text, state_tooltip

PAGE_SIZE = 15


class SeriesTableModel(QAbstractTableModel):
    COLUMNS = ("#", "Modality", "Description", "Images", "Staged", "State")
    NUMBER, MODALITY, DESCRIPTION, IMAGES, STAGED, STATE = range(6)

    def __init__(self, ticks: Ticks, page_size: int = PAGE_SIZE, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ticks = ticks
        self.page_size = max(1, page_size)
        self.page = 0
        self._series: list[dict] = []
        self._state: dict[str, dict] = {}
        ticks.changed.connect(self._ticks_changed)

    # -- content ----------------------------------------------------------------------

    def set_series(self, series: list[dict], state: dict[str, dict]) -> None:
        self.beginResetModel()
        self._series, self._state, self.page = list(series), dict(state), 0
        self.endResetModel()

    def set_state(self, state: dict[str, dict]) -> None:
        self._state = dict(state)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, self.STAGED), self.index(self.rowCount() - 1, self.STATE))

    def pages(self) -> int:
        return max(1, -(-len(self._series) // self.page_size))

    def set_page(self, page: int) -> None:
        page = min(max(0, page), self.pages() - 1)
        if page != self.page:
            self.beginResetModel()
            self.page = page
            self.endResetModel()

    def page_series(self) -> list[dict]:
        start = self.page * self.page_size
        return self._series[start:start + self.page_size]

    def all_series(self) -> list[dict]:
        return list(self._series)

    def series_at(self, row: int) -> dict:
        return self.page_series()[row]

    def _ticks_changed(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0),
                                  [Qt.ItemDataRole.CheckStateRole])

    # -- the model --------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.page_series())

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.NUMBER:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self.rowCount():
            return None
        series = self.series_at(index.row())
        state = self._state.get(series["series_instance_uid"])
        column = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == self.NUMBER:
            return Qt.CheckState.Checked if series["series_instance_uid"] in self.ticks else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(series, state, column)
        if role == Qt.ItemDataRole.ForegroundRole and column in (self.STAGED, self.STATE):
            return state_colour(state)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (self.STAGED, self.STATE):
                return state_tooltip(state)
            return series["series_instance_uid"] if column == self.NUMBER else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.IMAGES:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, series: dict, state: Optional[dict], column: int) -> Any:
        if column == self.NUMBER:
            return "" if series["number"] is None else str(series["number"])
        if column == self.MODALITY:
            return series["modality"]
        if column == self.DESCRIPTION:
            return series["description"]
        if column == self.IMAGES:
            return formatting.count(series["instance_count"])
        if column == self.STAGED:
            return staged_text(state)
        return state_text(state)

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole or index.column() != self.NUMBER:
            return False
        self.ticks.set([self.series_at(index.row())["series_instance_uid"]],
                       Qt.CheckState(value) == Qt.CheckState.Checked)
        return True


class SeriesTable(QWidget):
    """The table with its pager: Previous, "Page n of m", Next; Tick page;
    View. ``view_requested(series_uid)`` on a double-click on a row or View
    (the current row): the dialog opens the viewer."""

    view_requested = Signal(str)

    def __init__(self, ticks: Ticks, page_size: int = PAGE_SIZE, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("seriesTableView")
        self.model = SeriesTableModel(ticks, page_size, self)
        self.view = QTableView()
        self.view.setObjectName("researchSeriesTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        header = self.view.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SeriesTableModel.DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        self.previous = QPushButton("\u25c0 Previous")
        self.previous.setObjectName("previousPage")
        self.next = QPushButton("Next \u25b6")
        self.next.setObjectName("nextPage")
        self.page_label = QLabel()
        self.page_label.setObjectName("pageLabel")
        self.tick_page = QPushButton("Tick page")
        self.tick_page.setToolTip("Tick every series on this page")
        self.untick = QPushButton("Untick all")
        self.view_button = QPushButton("View")
        self.view_button.setObjectName("viewSeries")
        self.view_button.setToolTip("Open the highlighted series in the viewer (or double-click it)")
        self.view_button.clicked.connect(self._view_current)
        self.view.doubleClicked.connect(self._view_row)
        self.previous.clicked.connect(lambda: self.go(self.model.page - 1))
        self.next.clicked.connect(lambda: self.go(self.model.page + 1))
        self.tick_page.clicked.connect(
            lambda: ticks.set([s["series_instance_uid"] for s in self.model.page_series()], True))
        self.untick.clicked.connect(ticks.clear)
        pager = QHBoxLayout()
        pager.addWidget(self.tick_page)
        pager.addWidget(self.untick)
        pager.addWidget(self.view_button)
        pager.addStretch(1)
        pager.addWidget(self.previous)
        pager.addWidget(self.page_label)
        pager.addWidget(self.next)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(pager)
        self.model.modelReset.connect(self._update_pager)
        self._update_pager()

    def _view_row(self, index: QModelIndex) -> None:
        if index.isValid() and index.row() < self.model.rowCount():
            self.view_requested.emit(self.model.series_at(index.row())["series_instance_uid"])

    def _view_current(self) -> None:
        index = self.view.currentIndex()
        if not index.isValid() and self.model.rowCount():
            index = self.model.index(0, 0)
        self._view_row(index)

    def go(self, page: int) -> None:
        self.model.set_page(page)

    def _update_pager(self) -> None:
        pages = self.model.pages()
        count = len(self.model.all_series())
        self.page_label.setText(f"Page {self.model.page + 1} of {pages}  \u00b7  {count} series")
        self.previous.setEnabled(self.model.page > 0)
        self.next.setEnabled(self.model.page < pages - 1)
