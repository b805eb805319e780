"""Assign ticked studies to a reading physician (an account with the radiologist role).

The accounts are read in a job; the dialog lists the radiologists, the
current user first when they are one. ``chosen(name)`` on Assign,
``chosen(None)`` on Unassign.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from app.accounts import accounts
from app.home import Home
from ui.jobs import JobRunner

READER_ROLE = "radiologist"


def radiologists(db) -> list[str]:
    """Job body: the names of accounts with the radiologist role."""
    return [u.name for u in accounts.list_users(db) if READER_ROLE in u.roles]


class AssignDialog(QDialog):
    chosen = Signal(object)  # a user name, or None to unassign

    def __init__(self, home: Home, runner: JobRunner, me: str, study_count: int,
                 current: Optional[str], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("assignDialog")
        self.setWindowTitle("Assign studies")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(360, 380)
        self.me = me
        self.current = current
        what = f"{study_count} stud{'ies' if study_count != 1 else 'y'}"
        heading = QLabel(f"Assign {what} for reading to:")
        heading.setObjectName("dialogHeading")
        self.readers = QListWidget()
        self.readers.setAccessibleName("Radiologists")
        self.readers.setObjectName("readers")
        self.status = QLabel("Reading the accounts...")
        self.status.setObjectName("dialogNote")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.assign_button = buttons.addButton("Assign", QDialogButtonBox.ButtonRole.AcceptRole)
        self.assign_button.setObjectName("assignButton")
        self.assign_button.setDefault(True)
        self.assign_button.setEnabled(False)
        self.unassign_button: QPushButton = buttons.addButton(
            "Unassign", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.unassign_button.setObjectName("unassignButton")
        self.unassign_button.setToolTip("Remove the assignment: the studies go back to the pool")
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.assign_button.clicked.connect(self._assign)
        self.unassign_button.clicked.connect(self._unassign)
        self.readers.itemDoubleClicked.connect(lambda _item: self._assign())
        self.readers.currentItemChanged.connect(
            lambda item, _old: self.assign_button.setEnabled(item is not None))
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.readers, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.loaded = False
        runner.read(home, "Accounts", lambda db, progress, cancel: radiologists(db),
                    on_success=self._loaded, on_failure=self.status.setText)

    def _loaded(self, names: list[str]) -> None:
        names = sorted(names, key=lambda n: (n != self.me, n.lower()))
        for name in names:
            item = QListWidgetItem(name + ("  (you)" if name == self.me else ""))
            item.setData(Qt.ItemDataRole.UserRole, name)
            if name == self.current:
                item.setText(item.text() + "  — assigned now")
            self.readers.addItem(item)
        if names:
            self.status.setText("")
            self.readers.setCurrentRow(next((i for i, n in enumerate(names) if n == self.current), 0))
        else:
            self.status.setText("No account has the radiologist role. An admin adds one with "
                                "`studydesk user add NAME --role radiologist`.")
        self.loaded = True

    def names(self) -> list[str]:
        return [self.readers.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.readers.count())]

    def choose(self, name: str) -> None:
        """Select *name* in the list (keyboard, tests)."""
        for i in range(self.readers.count()):
            if self.readers.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.readers.setCurrentRow(i)

    def _assign(self) -> None:
        item = self.readers.currentItem()
        if item is None:
            return
        self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
        self.accept()

    def _unassign(self) -> None:
        self.chosen.emit(None)
        self.accept()
