"""The research window's patient table: one row per subject (PID and
StudySubjectID; the clinical patient ID is not shown: that is what
re-identification is for), expanding (arrow in the first column) to the
subject's DICOM studies with a "Pseudonymised" column and an Edit button in
the last, "Command", column.

The model: ui/research/patient_model.py (its rows and cells:
patient_rows.py).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPushButton, QTreeView, QWidget

from ui.research.patient_model import PatientModel
from ui.research.patient_rows import NOTE, STUDY


class PatientTable(QTreeView):
    """The tree view; an Edit button (``editStudy``) on every study row."""

    edit_requested = Signal(dict, dict)   # subject, study

    def __init__(self, model: PatientModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("researchPatients")
        self.setAccessibleName("Project patients")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(False)
        self.setAllColumnsShowFocus(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(PatientModel.DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        for column, width in ((PatientModel.PID, 150), (PatientModel.SUBJECT_ID, 150),
                              (PatientModel.DATE, 110), (PatientModel.MODALITIES, 230),
                              (PatientModel.STAGED, 130), (PatientModel.PSEUDONYMISED, 140),
                              (PatientModel.COMMAND, 100)):
            self.setColumnWidth(column, width)
        model.rowsInserted.connect(self._rows_inserted)
        self.doubleClicked.connect(self._double_clicked)

    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        model: PatientModel = self.model()  # type: ignore[assignment]
        for row in range(first, last + 1):
            index = model.index(row, 0, parent)
            item = model.row_at(index)
            if item.kind == NOTE:
                self.setFirstColumnSpanned(row, parent, True)
            elif item.kind == STUDY:
                self.setIndexWidget(model.index(row, PatientModel.COMMAND, parent), self._button(item))

    def _button(self, item) -> QPushButton:
        button = QPushButton("Edit")
        button.setObjectName("editStudy")
        button.setToolTip("Pick series to stage: Table view and RT view")
        button.setProperty("study_instance_uid", item.data["study_instance_uid"])
        button.clicked.connect(lambda: self._edit(item.data["study_instance_uid"]))
        return button

    def edit_button(self, study_uid: str) -> Optional[QPushButton]:
        model: PatientModel = self.model()  # type: ignore[assignment]
        index = model.study_index(study_uid, PatientModel.COMMAND)
        widget = self.indexWidget(index) if index.isValid() else None
        return widget if isinstance(widget, QPushButton) else None

    def _edit(self, study_uid: str) -> None:
        model: PatientModel = self.model()  # type: ignore[assignment]
        index = model.study_index(study_uid)
        if index.isValid():
            self.edit_requested.emit(model.subject_of(index), model.row_at(index).data)

    def _double_clicked(self, index: QModelIndex) -> None:
        model: PatientModel = self.model()  # type: ignore[assignment]
        row = model.row_at(index)
        if row is not None and row.kind == STUDY:
            self._edit(row.data["study_instance_uid"])
