"""The Outbox window's table view: rows selected whole, several at a time,
columns at least as wide as their headers; a reload keeps the selection
(by entry id) so that a refresh under the user's hand does not lose it.
"""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ui.net.outbox.model import OutboxModel

WIDTHS = (140, 155, 215, 350, 80, 120, 90)


class OutboxTable(QTableView):
    def __init__(self, model: OutboxModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("outboxTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(24)
        header = self.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate(WIDTHS):  # at least the header's own width
            self.setColumnWidth(column, max(width, header.sectionSizeHint(column)))

    def selected_entries(self) -> list[dict]:
        model: OutboxModel = self.model()  # type: ignore[assignment]
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [model.entry(r) for r in rows]

    def set_rows(self, rows: list[dict]) -> None:
        """Show *rows*, keeping selected the entries that were selected before."""
        chosen = {e["id"] for e in self.selected_entries()}
        model: OutboxModel = self.model()  # type: ignore[assignment]
        model.set_rows(rows)
        self.select_ids(r["id"] for r in rows if r["id"] in chosen)

    def select_ids(self, ids: Iterable[str]) -> None:
        model: OutboxModel = self.model()  # type: ignore[assignment]
        selection = self.selectionModel()
        for entry_id in ids:
            row = model.row_of(entry_id)
            if row >= 0:
                selection.select(model.index(row, 0), selection.SelectionFlag.Select
                                 | selection.SelectionFlag.Rows)
