"""The research window's patient table: one row per subject (PID and
StudySubjectID; the clinical patient ID is not shown: that is what
re-identification is for), expanding (arrow in the first column) to the
subject's DICOM studies with a "Pseudonymised" column and an Edit button in
the last, "Command", column.

A subject's studies are read when the row is first expanded (fetchMore, a
read job); ``reload_study(study_uid)`` reads that subject's studies again
after staging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPushButton, QTreeView, QWidget

from app.accounts.accounts import User
from app.home import Home
from ui import formatting
from ui.jobs import JobRunner
from ui.research import data
from ui.research.series_table import DONE, MUTED, WARNING

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


class PatientModel(QAbstractItemModel):
    COLUMNS = ("PID", "StudySubjectID", "Study date", "Description", "Modalities", "Staged series",
               "Pseudonymised", "Command")
    PID, SUBJECT_ID, DATE, DESCRIPTION, MODALITIES, STAGED, PSEUDONYMISED, COMMAND = range(8)

    studies_loaded = Signal(str)        # PID

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.project = ""
        self._rows: list[Row] = []

    # -- content --------------------------------------------------------------------------

    def set_subjects(self, project: str, subjects: list[dict]) -> None:
        self.beginResetModel()
        self.project = project
        self._rows = [Row(SUBJECT, s, None, n) for n, s in enumerate(subjects)]
        self.endResetModel()

    def subjects(self) -> list[dict]:
        return [r.data for r in self._rows]

    def subject_index(self, pid: str) -> QModelIndex:
        for row in self._rows:
            if row.data["pid"] == pid:
                return self.createIndex(row.row, 0, row)
        return QModelIndex()

    def study_index(self, study_uid: str, column: int = 0) -> QModelIndex:
        for subject in self._rows:
            for child in subject.children:
                if child.kind == STUDY and child.data["study_uid"] == study_uid:
                    return self.createIndex(child.row, column, child)
        return QModelIndex()

    def row_at(self, index: QModelIndex) -> Optional[Row]:
        return index.internalPointer() if index.isValid() else None

    def subject_of(self, index: QModelIndex) -> Optional[dict]:
        row = self.row_at(index)
        while row is not None and row.kind != SUBJECT:
            row = row.parent
        return row.data if row is not None else None

    def is_loading(self) -> bool:
        return any(r.loading for r in self._rows)

    # -- lazy studies -----------------------------------------------------------------------

    def canFetchMore(self, parent: QModelIndex) -> bool:
        row = self.row_at(parent)
        return row is not None and row.kind == SUBJECT and not row.loaded and not row.loading

    def fetchMore(self, parent: QModelIndex) -> None:
        row = self.row_at(parent)
        if row is not None and self.canFetchMore(parent):
            self._load(row)

    def _load(self, row: Row) -> None:
        home, user, project, patient_id = self.home, self.user, self.project, row.data["patient_id"]
        row.loading = True
        pid = row.data["pid"]
        self.runner.start(f"Research: studies of {pid}",
                          lambda p, c: data.subject_studies(home, user, project, patient_id),
                          kind="read", visible=False,
                          on_success=lambda studies: self._studies(project, pid, studies),
                          on_failure=lambda message: self._studies(project, pid, [], message))

    def _studies(self, project: str, pid: str, studies: list[dict], error: str = "") -> None:
        index = self.subject_index(pid)
        if project != self.project or not index.isValid():
            return  # the table changed meanwhile
        row = self.row_at(index)
        row.loading, row.loaded = False, True
        if row.children:
            self.beginRemoveRows(index, 0, len(row.children) - 1)
            row.children = []
            self.endRemoveRows()
        if studies:
            children = [Row(STUDY, s, row, n) for n, s in enumerate(studies)]
        else:
            text = f"Could not read the studies: {error}" if error else "No studies of this subject in the cache"
            children = [Row(NOTE, {"text": text}, row, 0)]
        self.beginInsertRows(index, 0, len(children) - 1)
        row.children = children
        self.endInsertRows()
        self.dataChanged.emit(index, self.index(row.row, len(self.COLUMNS) - 1))
        self.studies_loaded.emit(pid)

    def reload_study(self, study_uid: str) -> None:
        """Read again the studies of the subject holding *study_uid* (after staging)."""
        index = self.study_index(study_uid)
        if index.isValid():
            subject = self.row_at(index).parent
            if not subject.loading:
                self._load(subject)

    def reload_loaded(self) -> None:
        """Read again the studies of every subject already expanded once."""
        for row in self._rows:
            if row.loaded and not row.loading:
                self._load(row)

    # -- the model --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        rows = self.row_at(parent).children if parent.isValid() else self._rows
        if 0 <= row < len(rows) and 0 <= column < len(self.COLUMNS):
            return self.createIndex(row, column, rows[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        row = self.row_at(index)
        if row is None or row.parent is None:
            return QModelIndex()
        return self.createIndex(row.parent.row, 0, row.parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._rows)
        return len(self.row_at(parent).children) if parent.column() == 0 else 0

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(self.COLUMNS)

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:
        if not parent.isValid():
            return bool(self._rows)
        row = self.row_at(parent)
        return parent.column() == 0 and row.kind == SUBJECT and (not row.loaded or bool(row.children))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.row_at(index).kind == NOTE:
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

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


class PatientTable(QTreeView):
    """The tree view; an Edit button (``editStudy``) on every study row."""

    edit_requested = Signal(dict, dict)   # subject, study

    def __init__(self, model: PatientModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("researchPatients")
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
        button.setProperty("study_uid", item.data["study_uid"])
        button.clicked.connect(lambda: self._edit(item.data["study_uid"]))
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
            self._edit(row.data["study_uid"])
