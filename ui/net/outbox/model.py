"""The Outbox window's table: one row per entry (app/outbox_admin.listing).

The rows are read in a job by the window and handed over whole
(:meth:`OutboxModel.set_rows`): an outbox holds at most a few thousand small
rows, one per corrected instance. The state filter is applied by the query
(the window reads again when it changes), not here.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QColor

from app.net.outbox import queue as outbox
from ui import formatting
from ui.changes.history_panel import local_time

COLUMNS = ("Time", "Kind", "Patient", "Study", "Node", "State", "Attempts", "Last error")
TIME, KIND, PATIENT, STUDY, NODE, STATE, ATTEMPTS, ERROR = range(len(COLUMNS))

STATE_COLOURS = {outbox.QUEUED: QColor("#5aa2d8"), outbox.HELD: QColor("#d08a4a"),
                 outbox.FAILED: QColor("#d25a5a"), outbox.SENT: QColor("#5fb878"),
                 outbox.DISCARDED: QColor("#6b7480")}
MUTED = QColor("#6b7480")


def kind_text(row: dict) -> str:
    if row["kind"] == outbox.AI_RESCAN:
        return "AI rescan request"
    reason = row.get("reason") or ""
    if reason.startswith("IOCM: "):
        return reason[6:].capitalize()         # "Corrected instance", "Rejection note"
    return reason or "Object"


def patient_text(row: dict) -> str:
    name = formatting.person_name(row.get("patient_name"))
    pid = row.get("patient_id") or ""
    if name and pid:
        return f"{name}  ({pid})"
    return name or pid or "not in the cache"


def study_text(row: dict) -> str:
    parts = [formatting.dicom_date(row.get("study_date")), row.get("accession_number") or "",
             row.get("study_description") or ""]
    text = "  ".join(p for p in parts if p)
    return text or f"study {row['study_instance_uid']}"


def state_text(row: dict) -> str:
    if row["state"] == outbox.HELD:
        return "held (no node)"
    return row["state"]


def error_text(row: dict) -> str:
    if row["state"] == outbox.DISCARDED:
        return f"discarded by {row['discarded_by']}: {row['discard_reason']}"
    return row.get("last_error") or ""


class OutboxModel(QAbstractTableModel):
    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._rows: list[dict] = []

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def entry(self, row: int) -> dict:
        return self._rows[row]

    def entries(self) -> list[dict]:
        return list(self._rows)

    def row_of(self, entry_id: str) -> int:
        return next((n for n, r in enumerate(self._rows) if r["id"] == entry_id), -1)

    # -- Qt -------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == STATE:
                return STATE_COLOURS.get(row["state"])
            if column == NODE and not row["node"]:
                return MUTED
            if column == ERROR and row["state"] == outbox.FAILED:
                return STATE_COLOURS[outbox.FAILED]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == ATTEMPTS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row["id"]
        return None

    def _text(self, row: dict, column: int) -> str:
        if column == TIME:
            return local_time(row["time"])[:16]
        if column == KIND:
            return kind_text(row)
        if column == PATIENT:
            return patient_text(row)
        if column == STUDY:
            return study_text(row)
        if column == NODE:
            return row["node"] or "—"
        if column == STATE:
            return state_text(row)
        if column == ATTEMPTS:
            return str(row["attempts"])
        return error_text(row)

    def _tooltip(self, row: dict, column: int) -> str:
        if column == KIND:
            lines = [kind_text(row)]
            if row.get("sop_instance_uid"):
                lines.append(f"SOP Instance UID {row['sop_instance_uid']}")
            lines.append(f"Entry {outbox.short_id(row['id'])} (studydesk outbox)")
            return "\n".join(lines)
        if column == STUDY:
            return f"Study Instance UID {row['study_instance_uid']}"
        if column == STATE and row["state"] == outbox.SENT and row.get("sent_at"):
            return f"Sent {local_time(row['sent_at'])}"
        if column == STATE and row["state"] == outbox.HELD:
            return "The study came from files, not from a node: choose where to send it"
        return self._text(row, column)
