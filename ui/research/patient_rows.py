"""The rows of the research window's patient table and how their cells
read: a subject (PID, StudySubjectID and, once its studies are read, their
count and staging summary), a study (date, description, modalities, staged
series, "Pseudonymised"), or a note (no studies, or why they could not be
read). A mixin of :class:`ui.research.patient_model.PatientModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QFont

from ui import formatting
from ui.research.series_state import DONE, MUTED, WARNING

SUBJECT, STUDY, NOTE = "subject", "study", "note"
STUDY_ROW_HEIGHT = 32


@dataclass(eq=False)
class Row:
    kind: str
    data: dict
    parent: Optional["Row"] = None
    row: int = 0
    children: list["Row"] = field(default_factory=list)
    loaded: bool = False
    loading: bool = False


class PatientCells:
    """``data`` of :class:`PatientModel` (a mixin)."""

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        column = index.column()
        if row.kind == NOTE:
            if column == 0 and role == Qt.ItemDataRole.DisplayRole:
                return row.data["text"]
            return MUTED if role == Qt.ItemDataRole.ForegroundRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._subject_text(row, column) if row.kind == SUBJECT else self._study_text(row, column)
        if role == Qt.ItemDataRole.SizeHintRole and row.kind == STUDY and column == self.COMMAND:
            return QSize(80, STUDY_ROW_HEIGHT)  # room for the Edit button
        if role == Qt.ItemDataRole.FontRole and row.kind == SUBJECT and column in (self.PID, self.SUBJECT_ID):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and column in (self.STAGED, self.PSEUDONYMISED):
            return self._staged_colour(row)
        if role == Qt.ItemDataRole.ToolTipRole and row.kind == STUDY and column in (self.STAGED, self.PSEUDONYMISED):
            study = row.data
            return (f"{study['staged_series']} of {study['series']} series and "
                    f"{study['staged_instances']} of {study['instances']} instances staged "
                    f"into {self.project}")
        return None

    def _subject_text(self, row: Row, column: int) -> str:
        if column == self.PID:
            return row.data["pid"]
        if column == self.SUBJECT_ID:
            return row.data["subject"]
        studies = [c.data for c in row.children if c.kind == STUDY]
        if not row.loaded:
            return "\u2026" if row.loading and column == self.DESCRIPTION else ""
        if column == self.DESCRIPTION:
            return f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}"
        if column == self.STAGED and studies:
            return f"{sum(s['staged_series'] for s in studies)} of {sum(s['series'] for s in studies)}"
        if column == self.PSEUDONYMISED and studies:
            return "Yes" if any(s["pseudonymised"] for s in studies) else "No"
        return ""

    def _study_text(self, row: Row, column: int) -> str:
        study = row.data
        return {self.DATE: formatting.dicom_date(study["study_date"]),
                self.DESCRIPTION: study["description"],
                self.MODALITIES: formatting.modalities(study["modalities"]),
                self.STAGED: f"{study['staged_series']} of {study['series']}",
                self.PSEUDONYMISED: "Yes" if study["pseudonymised"] else "No"}.get(column, "")

    def _staged_colour(self, row: Row) -> Any:
        studies = [row.data] if row.kind == STUDY else [c.data for c in row.children if c.kind == STUDY]
        if not studies or not any(s["pseudonymised"] for s in studies):
            return MUTED
        complete = all(s["staged_series"] == s["series"] for s in studies)
        return DONE if complete else WARNING
