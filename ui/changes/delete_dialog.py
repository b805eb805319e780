"""Confirm a delete: the studies named one by one, an optional reason, then the trash.

Nothing is erased: the studies leave the worklist and their files move into
the trash, from where History > Trash restores them.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QListWidget,
                               QVBoxLayout, QWidget)

from ui import formatting


def study_line(row: Optional[dict], uid: str) -> str:
    """Two lines for one study: ``NAME · PID``, then ``date · modalities · description · accession``."""
    if not row:
        return f"Study {uid}"
    who = (formatting.person_name(row.get("patient_name")), row.get("patient_id"))
    what = (formatting.dicom_date(row.get("study_date")), formatting.modalities(row.get("modalities")),
            row.get("description"), row.get("accession_number"))
    return "  ·  ".join(p for p in who if p) + "\n" + "  ·  ".join(p for p in what if p)


class DeleteDialog(QDialog):
    """``confirmed(reason)`` when the user moves the studies to the trash."""

    confirmed = Signal(str)

    def __init__(self, studies: list[tuple[str, Optional[dict]]], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("deleteDialog")
        self.setWindowTitle("Delete studies")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(680, 380)
        count = len(studies)
        what = f"these {count} studies" if count != 1 else "this study"
        heading = QLabel(f"Move {what} to the trash?")
        heading.setObjectName("dialogHeading")
        note = QLabel("They leave the worklist; their files move into the trash. "
                      "History > Trash restores them; only an admin can empty the trash.")
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        self.studies = QListWidget()
        self.studies.setAccessibleName("Studies to delete")
        self.studies.setObjectName("deleteList")
        self.studies.setWordWrap(True)
        for uid, row in studies:
            self.studies.addItem(study_line(row, uid))
        self.reason = QLineEdit()
        self.reason.setObjectName("deleteReason")
        self.reason.setAccessibleName("Reason for deleting")
        self.reason.setPlaceholderText("Reason (optional; kept in the journal and the audit trail)")
        buttons = QDialogButtonBox()
        self.delete_button = buttons.addButton("Move to trash", QDialogButtonBox.ButtonRole.AcceptRole)
        self.delete_button.setObjectName("confirmDelete")
        self.delete_button.setProperty("danger", True)
        self.delete_button.setAutoDefault(False)  # Enter must not delete
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(True)
        cancel.setDefault(True)
        buttons.rejected.connect(self.reject)
        self.delete_button.clicked.connect(self._confirm)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addWidget(self.studies, 1)
        layout.addWidget(self.reason)
        layout.addWidget(buttons)

    def lines(self) -> list[str]:
        return [self.studies.item(i).text() for i in range(self.studies.count())]

    def _confirm(self) -> None:
        self.confirmed.emit(self.reason.text().strip())
        self.accept()
