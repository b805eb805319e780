"""The research window's patient model: one row per subject, expanding to
the subject's DICOM studies (ui/research/patient_rows.py says how they read).

A subject's studies are read when the row is first expanded (fetchMore, a
read job); :meth:`PatientModel.reload_study` and
:meth:`PatientModel.reload_loaded` read them again (the research window calls
them when a ``cache_changed`` broadcast names a study or staging).
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt, Signal

from app.accounts.accounts import User
from app.home import Home
from ui.jobs import JobRunner
from ui.research import data
from ui.research.patient_rows import NOTE, STUDY, SUBJECT, PatientCells, Row


class PatientModel(PatientCells, QAbstractItemModel):
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
                if child.kind == STUDY and child.data["study_instance_uid"] == study_uid:
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
        self.runner.read(home, f"Research: studies of {pid}",
                         lambda db, p, c: data.subject_studies(db, user, project, patient_id),
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
