"""What the local worklist and a node's answer share: the columns, how a
row shows, and the ticks.

:class:`StudyTableModel` holds its rows as a list of Study Instance UIDs
with their row dicts, which suits a bounded answer held whole (the Remote
source, ui/net/remote_model.py). The local worklist (ui/worklist/model.py)
keeps a compact list of rowids instead and fetches rows by window; both
answer the same questions (``study_uid``, ``row_of``, ``study``), so the
view, the ticks and the actions do not care which one they show.

Ticks (ui/worklist/selection.py) live beside the rows: column 0 carries a check
state for a ticked row and for the row the user clicked last (its box is
revealed there), and none elsewhere, so the boxes appear only where the
user is working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.home import Home
from app.worklist.query import Query
from ui import formatting
from ui.worklist import status_icons
from ui.jobs import JobRunner
from ui.worklist.selection import TickSet

STUDY_UID_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Column:
    title: str
    key: str
    sort: Optional[str]  # key of app.worklist.query.SORT_COLUMNS, None: not sortable
    numeric: bool = False


COLUMNS = (
    Column("", "select", None),
    Column("Status", "status", None),
    Column("Patient name", "patient_name", "patient_name"),
    Column("Patient ID", "patient_id", "patient_id"),
    Column("Birth date", "patient_birth_date", "birth_date"),
    Column("Study date", "study_date", "study_date"),
    Column("Accession", "accession_number", "accession"),
    Column("Modalities", "modalities", "modalities"),
    Column("Description", "description", "description"),
    Column("Series", "series_count", "series_count", numeric=True),
    Column("Images", "instance_count", "instance_count", numeric=True),
    Column("Assigned to", "assigned_to", "assigned_to"),
)
DEFAULT_SORT = ("study_date", True)
SELECT, STATUS = 0, 1  # logical indexes of the tick and status columns
FIXED = ("select",)  # columns that can be neither hidden nor moved
TICK_HELP = ("Click a row to reveal its box; tick to select it.\n"
             "Space toggles, Ctrl+A ticks every listed study, Esc clears.")


DISPLAY, DECORATION, TOOLTIP = (int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.DecorationRole),
                                int(Qt.ItemDataRole.ToolTipRole))
ALIGN, CHECK = int(Qt.ItemDataRole.TextAlignmentRole), int(Qt.ItemDataRole.CheckStateRole)
SERVED = frozenset((DISPLAY, DECORATION, TOOLTIP, ALIGN, CHECK, int(STUDY_UID_ROLE)))
ALIGNMENTS = tuple(int((Qt.AlignmentFlag.AlignRight if c.numeric else Qt.AlignmentFlag.AlignLeft)
                       | Qt.AlignmentFlag.AlignVCenter) for c in COLUMNS)
PLAIN = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
CHECKABLE = PLAIN | Qt.ItemFlag.ItemIsUserCheckable


def column_index(key: str) -> int:
    return next(i for i, c in enumerate(COLUMNS) if c.key == key)


def display(column: Column, row: dict) -> str:
    if column.key in ("select", "status"):
        return ""
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
    if column.key == "select":
        return TICK_HELP
    if column.key == "patient_name":
        return str(row.get("patient_name") or "")
    if column.key == "study_date":
        time = formatting.dicom_time(row.get("study_time"))
        return f"{formatting.dicom_date(row.get('study_date'))} {time}".strip()
    if column.key == "assigned_to" and row.get("assigned_to"):
        return f"Assigned to {row['assigned_to']} for reading"
    return display(column, row)


class StudyTableModel(QAbstractTableModel):
    """Rows of the last search, as a list of UIDs with their rows.
    ``searched(count)`` when the rows of a search (or of a refresh) are in
    place; ``search_failed(message)``."""

    searched = Signal(int)
    search_failed = Signal(str)

    def __init__(self, home: Home, runner: JobRunner, user: str = "", parent=None,
                 ticks: Optional[TickSet] = None):
        super().__init__(parent)
        self.home = home
        self.runner = runner
        self.user = user
        self.ticks = ticks if ticks is not None else TickSet(self)
        self.ticks.toggled.connect(self._tick_toggled)
        self._revealed: Optional[str] = None  # the study whose box shows although unticked
        self.query = Query()
        self.sort_key, self.descending = DEFAULT_SORT
        self._ids: list[str] = []
        self._positions: dict[str, int] = {}  # uid -> row
        self._rows: dict[str, dict] = {}
        self._generation = 0
        self._pending = 0
        self.reporting = status_icons.ReportingFlags(home, runner, self)  # the Synapse rule's icon
        self.reporting.changed.connect(self._repaint_status)

    # -- searching (the subclass asks its source) -----------------------------------

    def search(self, query: Optional[Query] = None, audit: bool = True) -> None:
        raise NotImplementedError

    def is_searching(self) -> bool:
        return self._pending > 0

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
        return self._positions.get(study_uid, -1)

    def contains(self, study_uid: str) -> bool:
        return self.row_of(study_uid) >= 0

    def study(self, row: int) -> dict:
        """The row dict ({} past the end)."""
        uid = self.study_uid(row)
        return self._rows.get(uid, {}) if uid is not None else {}

    def row_if_cached(self, row: int) -> Optional[dict]:
        uid = self.study_uid(row)
        return self._rows.get(uid) if uid is not None else None

    # -- ticks ------------------------------------------------------------------

    def reveal(self, study_uid: Optional[str]) -> None:
        """Show the (unticked) box of *study_uid*: the row the user clicked."""
        if study_uid == self._revealed:
            return
        old, self._revealed = self._revealed, study_uid
        for uid in (old, study_uid):
            self._repaint_tick(uid)

    def revealed(self) -> Optional[str]:
        return self._revealed

    def toggle_row(self, row: int) -> None:
        uid = self.study_uid(row)
        if uid is not None:
            self.ticks.toggle(uid, self.row_if_cached(row))

    def tick_all(self) -> None:
        """Tick every study of the current search (rows not fetched yet come later)."""
        self.ticks.add((uid, self._rows.get(uid)) for uid in self._ids)

    def _tick_toggled(self, study_uids: list[str]) -> None:
        if len(study_uids) > 8 and self.rowCount():  # Ctrl+A, Esc on many: one repaint of the column
            self.dataChanged.emit(self.index(0, SELECT), self.index(self.rowCount() - 1, SELECT),
                                  [Qt.ItemDataRole.CheckStateRole])
            return
        for uid in study_uids:
            self._repaint_tick(uid)

    def _repaint_tick(self, study_uid: Optional[str]) -> None:
        row = self.row_of(study_uid) if study_uid else -1
        if row >= 0:
            index = self.index(row, SELECT)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])

    def _repaint_status(self) -> None:
        if self.rowCount():   # one signal; the view repaints the cells it shows
            self.dataChanged.emit(self.index(0, STATUS), self.index(self.rowCount() - 1, STATUS),
                                  [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    def status_row(self, row: int) -> dict:
        """The row dict with what the status column shows beyond the cache's
        columns (the Advanced Reporting count, once known)."""
        item = self.study(row)
        count = self.reporting.count(item.get("study_instance_uid"))
        return item if count is None else dict(item, **{status_icons.MEASUREMENTS: count})

    def close(self) -> None:
        """Let go of what the model holds open (the local model: its connection)."""

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
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.key == "select":
                return TICK_HELP
            if column.key == "status":
                return ("Locked, assigned, staged for research, AI re-scan pending, migrated, "
                        "Advanced Reporting (holds measurement reports)")
            if column.sort is None:
                return f"{column.title} (not sortable)"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        # Called for every role of every visible cell at each paint: the
        # roles it does not serve leave first, the common ones are plain lookups.
        if role not in SERVED:
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < self.rowCount() and 0 <= col < len(COLUMNS)):
            return None
        if role == ALIGN:
            return ALIGNMENTS[col]
        if role == DISPLAY:
            return self.cell(row, col)
        if role == CHECK:
            uid = self.study_uid(row) if col == SELECT else None
            if uid is None:
                return None
            if uid in self.ticks:
                return Qt.CheckState.Checked
            return Qt.CheckState.Unchecked if uid == self._revealed else None
        if role == DECORATION:
            return status_icons.pixmap(status_icons.states(self.status_row(row), self.user)) \
                if col == STATUS else None
        if role == TOOLTIP:
            if col == STATUS:
                return status_icons.describe(self.status_row(row), self.user) or None
            item = self.study(row)
            shared = item.get("shared_by") and f"Shared by {item['shared_by']}" + (
                f": {item['share_note']}" if item.get("share_note") else "")
            return "\n".join(filter(None, (tooltip(COLUMNS[col], item), shared)))
        return self.study_uid(row)  # STUDY_UID_ROLE

    def cell(self, row: int, col: int) -> str:
        """The text of a cell."""
        return display(COLUMNS[col], self.study(row))

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return CHECKABLE if index.column() == SELECT else PLAIN

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """The box of column 0: ticking and unticking (the view's delegate calls this)."""
        if (not index.isValid() or index.column() != SELECT
                or role != Qt.ItemDataRole.CheckStateRole or not 0 <= index.row() < self.rowCount()):
            return False
        uid = self.study_uid(index.row())
        if uid is None:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        if checked:
            self.ticks.tick(uid, self.row_if_cached(index.row()))
        else:
            self.ticks.untick(uid)
        return True
