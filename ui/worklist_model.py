"""The worklist table model: study ids from an SQL search, rows fetched lazily.

Like Anki's browser table: the model keeps the ordered ``_ids`` of the last
search and fetches row dicts in blocks around the rows the view asks for,
caching them. SQL filters and sorts (app.worklist); the model never sorts in
Python.

Threads: the search (the ids query, which may scan the whole cache) runs as a
read job on a pool thread. The block fetch of visible rows runs on the GUI
thread on purpose: it is a handful of primary-key lookups on indexed columns
(at most BLOCK rows), cheaper than a round trip through a worker, and the view
needs the values synchronously in data().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app import worklist
from app.home import Home
from app.worklist import Query
from ui import formatting
from ui.jobs import JobRunner

BLOCK = 100  # rows fetched per block
STUDY_UID_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Column:
    title: str
    key: str
    sort: Optional[str]  # key of app.worklist.SORT_COLUMNS, None: not sortable
    numeric: bool = False


COLUMNS = (
    Column("Patient name", "patient_name", "patient_name"),
    Column("Patient ID", "patient_id", "patient_id"),
    Column("Birth date", "patient_birth_date", "birth_date"),
    Column("Study date", "study_date", "study_date"),
    Column("Accession", "accession", "accession"),
    Column("Modalities", "modalities", "modalities"),
    Column("Description", "description", "description"),
    Column("Series", "series_count", "series_count", numeric=True),
    Column("Images", "instance_count", "instance_count", numeric=True),
    Column("Assigned to", "assigned_to", "assigned_to"),
)
DEFAULT_SORT = ("study_date", True)


def display(column: Column, row: dict) -> str:
    value = row.get(column.key)
    if column.key == "patient_name":
        return formatting.person_name(value)
    if column.key in ("study_date", "patient_birth_date"):
        return formatting.dicom_date(value)
    if column.key == "modalities":
        return formatting.modalities(value)
    if column.numeric:
        return formatting.count(value)
    return "" if value is None else str(value)


def tooltip(column: Column, row: dict) -> str:
    if column.key == "patient_name":
        return str(row.get("patient_name") or "")
    if column.key == "study_date":
        time = formatting.dicom_time(row.get("study_time"))
        return f"{formatting.dicom_date(row.get('study_date'))} {time}".strip()
    return display(column, row)


class WorklistModel(QAbstractTableModel):
    """Rows of the last search. ``search()`` and ``sort()`` are asynchronous:
    ``searched(count)`` is emitted when the new ids are in place."""

    searched = Signal(int)
    search_failed = Signal(str)

    def __init__(self, home: Home, runner: JobRunner, user: str = "", parent=None):
        super().__init__(parent)
        self.home = home
        self.runner = runner
        self.user = user
        self.query = Query()
        self.sort_key, self.descending = DEFAULT_SORT
        self._ids: list[str] = []
        self._rows: dict[str, dict] = {}
        self._generation = 0
        self._pending = 0
        self._db = None  # GUI-thread connection for block fetches, opened on first use

    # -- searching ------------------------------------------------------------

    def search(self, query: Optional[Query] = None, audit: bool = True) -> None:
        """Run *query* (or the current one again). ``audit``: record a Query
        audit entry, as a user-initiated search should; refreshes and re-sorts
        of the same query do not."""
        if query is not None:
            self.query = query
        q, key, descending, user = self.query, self.sort_key, self.descending, self.user
        home = self.home
        self._generation += 1
        generation = self._generation
        self._pending += 1

        def job(progress, cancel):
            db = home.connect()
            try:
                if audit and user:
                    return worklist.search(db, user, q, sort=key, descending=descending)
                return worklist.study_uids(db, q, sort=key, descending=descending)
            finally:
                db.close()

        self.runner.start("Search", job, kind="read", visible=False,
                          on_success=lambda ids: self._searched(generation, ids),
                          on_failure=lambda message: self._search_failed(generation, message))

    def refresh(self) -> None:
        """The same query again (after an import), without an audit entry."""
        self.search(None, audit=False)

    def is_searching(self) -> bool:
        return self._pending > 0

    def _searched(self, generation: int, ids: list[str]) -> None:
        self._pending -= 1
        if generation != self._generation:
            return  # a newer search was started meanwhile
        self.beginResetModel()
        self._ids = list(ids)
        self._rows.clear()
        self.endResetModel()
        self.searched.emit(len(self._ids))

    def _search_failed(self, generation: int, message: str) -> None:
        self._pending -= 1
        if generation == self._generation:
            self.search_failed.emit(message)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS) or COLUMNS[column].sort is None:
            return
        key = COLUMNS[column].sort
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) == (self.sort_key, self.descending):
            return
        self.sort_key, self.descending = key, descending
        self.search(None, audit=False)

    def sort_column(self) -> int:
        return next(i for i, c in enumerate(COLUMNS) if c.sort == self.sort_key)

    # -- rows -----------------------------------------------------------------

    def study_uid(self, row: int) -> Optional[str]:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, study_uid: str) -> int:
        try:
            return self._ids.index(study_uid)
        except ValueError:
            return -1

    def study(self, row: int) -> dict:
        """The row dict (fetched with its block when not cached)."""
        uid = self.study_uid(row)
        if uid is None:
            return {}
        if uid not in self._rows:
            self._fetch_block(row)
        return self._rows.get(uid, {})

    def _fetch_block(self, row: int) -> None:
        # GUI thread, by design: a few primary-key lookups (see the module doc).
        start = max(0, row - BLOCK // 4)
        uids = [u for u in self._ids[start:start + BLOCK] if u not in self._rows]
        if self._db is None:
            self._db = self.home.connect()
        for found in worklist.study_rows(self._db, uids):
            self._rows[found["study_uid"]] = found
        for uid in uids:  # vanished since the search (deleted): keep the row empty
            self._rows.setdefault(uid, {"study_uid": uid})

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- QAbstractTableModel ---------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int((Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft)
                       | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column.sort is None:
            return f"{column.title} (not sortable)"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if not 0 <= index.column() < len(COLUMNS):
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display(column, self.study(index.row()))
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(column, self.study(index.row()))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int((Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft)
                       | Qt.AlignmentFlag.AlignVCenter)
        if role == STUDY_UID_ROLE:
            return self._ids[index.row()]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
