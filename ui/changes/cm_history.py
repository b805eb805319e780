"""The Content Manager's history: the change journal, newest first, with Undo."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QLabel, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.changes import view as content
from app.home import Home
from ui.jobs import JobRunner

COLUMNS = ("#", "Time", "User", "Change", "Reason", "State")


class HistoryPanel(QFrame):
    """``undo_requested(change_id)`` when Undo is pressed on an undoable row."""

    undo_requested = Signal(int)
    loaded = Signal()

    def __init__(self, home: Home, runner: JobRunner, can_undo: bool, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("cmHistory")
        self.home, self.runner, self.can_undo = home, runner, can_undo
        self.rows: list[dict] = []
        self._generation = 0
        self._loading = False
        self.list = QTreeWidget()
        self.list.setObjectName("historyList")
        self.list.setHeaderLabels(list(COLUMNS))
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAlternatingRowColors(True)
        for column, width in enumerate((44, 140, 90, 420, 180)):
            self.list.setColumnWidth(column, width)
        self.undo = QPushButton("Undo")
        self.undo.setObjectName("undoButton")
        self.undo.setEnabled(False)
        if not can_undo:
            self.undo.setToolTip("Undo needs the content-management privilege")
        title = QLabel("History")
        title.setObjectName("cmPaneTitle")
        top = QHBoxLayout()
        top.setContentsMargins(10, 4, 10, 0)
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.undo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.undo.clicked.connect(self._undo)

    def reload(self) -> None:
        self._generation += 1
        generation, home = self._generation, self.home
        self._loading = True

        def job(progress, cancel):
            db = home.connect()
            try:
                return content.history(db)
            finally:
                db.close()

        self.runner.start("History", job, kind="read", visible=False,
                          on_success=lambda rows: self._show(generation, rows),
                          on_failure=lambda message: self._show(generation, []))

    def is_loading(self) -> bool:
        return self._loading

    def _show(self, generation: int, rows: list[dict]) -> None:
        if generation != self._generation:
            return
        self.rows = rows
        self.list.clear()
        for row in rows:
            state = "undone" if row["undone"] else row.get("state") or "applied"
            item = QTreeWidgetItem([str(row["change_id"]), row["time"][:19].replace("T", " "),
                                    row["user"], f"{row['action']}: {row['description']}",
                                    row["reason"] or "", state])
            item.setData(0, Qt.ItemDataRole.UserRole, row)
            item.setToolTip(3, row["description"])
            self.list.addTopLevelItem(item)
        if rows:
            self.list.setCurrentItem(self.list.topLevelItem(0))
        else:
            hint = QTreeWidgetItem(["No changes yet. Drag a series onto a study to reallocate it; "
                                    "each change shows here, with Undo."])
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            hint.setForeground(0, QColor("#8c96a3"))
            self.list.addTopLevelItem(hint)
            hint.setFirstColumnSpanned(True)
        self._loading = False
        self._update()
        self.loaded.emit()

    def current(self) -> Optional[dict]:
        item = self.list.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, change_id: int) -> bool:
        for i in range(self.list.topLevelItemCount()):
            row = self.list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
            if row is not None and row["change_id"] == change_id:
                item = self.list.topLevelItem(i)
                self.list.setCurrentItem(item)
                return True
        return False

    def _update(self) -> None:
        row = self.current()
        undoable = row is not None and row.get("state", "applied") == "applied" \
            and not row["undone"] and row["action"] != "undo"
        self.undo.setEnabled(self.can_undo and undoable)
        if row is not None and self.can_undo:
            self.undo.setToolTip(f"Undo change {row['change_id']}" if undoable
                                 else "This change cannot be undone (it is undone, or an undo)")

    def _undo(self) -> None:
        row = self.current()
        if row is not None:
            self.undo_requested.emit(row["change_id"])
