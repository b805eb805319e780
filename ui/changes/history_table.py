"""What the history's two lists share: a read-only table of rows, one page
layout (the list with a note under it, the buttons beside it), and the
question asked before an undo, a restore or an empty.

The question is a window-modal box opened with ``open()``, so the event
loop (and every job) runs on while it waits; the action runs only from its
own button, and Cancel is the default, so Enter never undoes by accident.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)


ACCESSIBLE_NAMES = {"historyTable": "Change history", "trashTable": "Trash"}


def make_table(columns: list[str], name: str, widths: tuple[int, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setAccessibleName(ACCESSIBLE_NAMES.get(name, name))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.verticalHeader().setDefaultSectionSize(24)
    for column, width in enumerate(widths):
        table.setColumnWidth(column, width)
    return table


def fill(table: QTableWidget, rows: list[list[str]], keys: list) -> None:
    """Show *rows* (each cell's text is its tooltip too: long lines stay readable)."""
    table.setRowCount(len(rows))
    for r, (values, key) in enumerate(zip(rows, keys)):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            item.setData(Qt.ItemDataRole.UserRole, key)
            table.setItem(r, c, item)


def note_label() -> QLabel:
    note = QLabel()
    note.setObjectName("historyNote")
    note.setWordWrap(True)
    note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return note


def page(table: QTableWidget, buttons: list[QPushButton], note: QLabel) -> QWidget:
    """The list and its note on the left, the buttons in a column on the right."""
    widget = QWidget()
    layout = QHBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    left = QVBoxLayout()
    left.addWidget(table, 1)
    left.addWidget(note)
    layout.addLayout(left, 1)
    side = QVBoxLayout()
    side.setContentsMargins(8, 6, 8, 6)
    for button in buttons:
        side.addWidget(button)
    side.addStretch(1)
    layout.addLayout(side)
    return widget


def ask(parent: QWidget, text: str, detail: str, verb: str, then: Callable[[], object]) -> QMessageBox:
    """Ask before acting: *verb* runs *then*; Cancel (the default) does nothing."""
    box = QMessageBox(QMessageBox.Icon.Question, "StudyDesk", text,
                      QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("historyConfirm")
    box.setInformativeText(detail)
    go = box.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
    go.setObjectName("confirmButton")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    go.clicked.connect(lambda _checked=False: then())
    box.finished.connect(lambda _result: box.deleteLater())
    box.open()
    return box
