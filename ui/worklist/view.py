"""The worklist table: whole rows, a tick box at the left, sortable header.

Keys: Space ticks or unticks the current row, Ctrl+A ticks every listed
study, Esc clears the ticks. Hovering a patient name asks for the patient
card (``patient_hovered``); a right click asks for the row menu
(``menu_requested``).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ui.worklist import status_icons
from ui.worklist.column_fit import ColumnFit
from ui.worklist.model import COLUMNS, SELECT, WorklistModel, column_index

# What a typical value looks like, to size each column from the font in use.
COLUMN_SAMPLES = {"patient_name": "LINDQVIST-BERG, Maja Elin", "patient_id": "PID1002-B00",
                  "patient_birth_date": "0000-00-00", "study_date": "0000-00-00",
                  "accession_number": "ACC10022000", "modalities": "CT, RTDOSE, RTPLAN, RTSTRUCT",
                  "description": "CT Chest w/o contrast, high res",
                  "series_count": "000", "instance_count": "0,000", "assigned_to": "radiologist"}
CELL_PADDING = 40  # the style sheet's item padding plus the style's margins and elide slack
HEADER_PADDING = 48  # section padding plus room for the sort arrow
TICK_WIDTH = 30
PLAIN_HEADER_PADDING = 26  # a column that does not sort has no arrow to leave room for


class WorklistView(QTableView):
    """The worklist table over a :class:`WorklistModel`."""

    patient_hovered = Signal(int, QRect)  # row, the name cell in global coordinates
    hover_left = Signal()
    menu_requested = Signal(int, QPoint)  # row, global position

    def __init__(self, model: WorklistModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("worklist")
        self.setAccessibleName("Worklist")
        self.setAccessibleDescription("The studies found; Space ticks the current study, "
                                      "Enter or a double-click opens it in the viewer")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # The highlight is the study being looked at; the ticks are the selection.
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setMouseTracking(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(TICK_WIDTH)
        self.fit_columns()
        header.setSectionResizeMode(SELECT, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(True)
        self.column_fit = ColumnFit(self)  # narrower than the columns: the text columns give way
        header.setSortIndicator(model.sort_column(),
                                Qt.SortOrder.DescendingOrder if model.descending
                                else Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        header.sectionMoved.connect(self._keep_tick_column_first)
        self._hover_row = -1
        model.modelReset.connect(self._forget_hover)
        self.verticalScrollBar().valueChanged.connect(self._forget_hover)
        self.selectionModel().currentRowChanged.connect(self._reveal_current)

    def worklist(self) -> WorklistModel:
        return self.model()

    def fit_columns(self) -> None:
        """Widths from the font, so no title or typical value is clipped."""
        cell = self.fontMetrics()
        bold = QFont(self.horizontalHeader().font())
        bold.setBold(True)
        title = QFontMetrics(bold)
        for i, column in enumerate(COLUMNS):
            if column.key == "select":
                self.setColumnWidth(i, TICK_WIDTH)
                continue
            if column.key == "status":
                self.setColumnWidth(i, max(status_icons.column_width(),
                                           title.horizontalAdvance(column.title) + PLAIN_HEADER_PADDING))
                continue
            sample = COLUMN_SAMPLES.get(column.key, "0000000000")
            self.setColumnWidth(i, max(cell.horizontalAdvance(sample) + CELL_PADDING,
                                       title.horizontalAdvance(column.title) + HEADER_PADDING))

    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        model = self.worklist()
        if COLUMNS[column].sort is None:  # put the indicator back where SQL sorts
            header = self.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(model.sort_column(),
                                    Qt.SortOrder.DescendingOrder if model.descending
                                    else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)

    def _keep_tick_column_first(self, _logical: int, _old: int, _new: int) -> None:
        header = self.horizontalHeader()
        if header.visualIndex(SELECT) != 0:
            header.blockSignals(True)
            header.moveSection(header.visualIndex(SELECT), 0)
            header.blockSignals(False)

    # -- ticking -------------------------------------------------------------------

    def _reveal_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        model = self.worklist()
        model.reveal(model.study_uid(current.row()) if current.isValid() else None)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        model = self.worklist()
        if event.matches(QKeySequence.StandardKey.SelectAll):
            model.tick_all()
            return
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            current = self.currentIndex()
            if current.isValid():
                model.toggle_row(current.row())
            return
        if event.key() == Qt.Key.Key_Escape and len(model.ticks):
            model.ticks.clear()
            return
        super().keyPressEvent(event)

    # -- hover and menu ------------------------------------------------------------

    def name_cell(self, row: int) -> QRect:
        """The patient-name cell of *row* in global coordinates."""
        rect = self.visualRect(self.worklist().index(row, column_index("patient_name")))
        return QRect(self.viewport().mapToGlobal(rect.topLeft()), rect.size())

    def viewportEvent(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.MouseMove, QEvent.Type.HoverMove):
            self._hovered(event.position().toPoint())
        elif kind == QEvent.Type.Leave:
            self._set_hover(-1)
        elif kind == QEvent.Type.ToolTip:
            index = self.indexAt(event.pos())
            if index.isValid() and COLUMNS[index.column()].key == "patient_name":
                event.accept()  # the patient card replaces the plain tooltip here
                return True
        return super().viewportEvent(event)

    def _forget_hover(self, *_args) -> None:
        """The rows under the pointer changed (new search, scrolling): the card goes."""
        self._set_hover(-1)

    def _hovered(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        on_name = index.isValid() and COLUMNS[index.column()].key == "patient_name"
        self._set_hover(index.row() if on_name else -1)

    def _set_hover(self, row: int) -> None:
        if row == self._hover_row:
            return
        self._hover_row = row
        if row < 0:
            self.hover_left.emit()
        else:
            self.patient_hovered.emit(row, self.name_cell(row))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if index.isValid():
            self.menu_requested.emit(index.row(), self.viewport().mapToGlobal(pos))


__all__ = ["WorklistView", "COLUMN_SAMPLES", "PLAIN_HEADER_PADDING"]
