"""The table of one remote study's series (the pane beside the series strip,
ui/net/remote_series.py): number, modality, description, images, how much
of each the cache holds, and a tick box each.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ui.net.remote_model import CACHED_COLOUR, PARTIAL_COLOUR, cache_state, cache_text, cache_tooltip

TICK, NUMBER, MODALITY, DESCRIPTION, IMAGES, CACHED = range(6)
TITLES = ("", "#", "Modality", "Description", "Images", "In cache")


def cached_counts(db, series_uids: list[str]) -> dict[str, int]:
    """Instances the cache holds of each series (a read job's body)."""
    counts = dict.fromkeys(series_uids, 0)
    for start in range(0, len(series_uids), 500):
        chunk = series_uids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for uid, count in db.execute(
                f"SELECT series_instance_uid, count(*) FROM instances"
                f" WHERE series_instance_uid IN ({marks}) GROUP BY series_instance_uid", chunk):
            counts[uid] = count
    return counts


class RemoteSeriesModel(QAbstractTableModel):
    """One study's series on the node, with a tick box each. ``ticks_changed()``."""

    ticks_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[dict] = []
        self._ticked: set[str] = set()

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._ticked = set()
        self.endResetModel()
        self.ticks_changed.emit()

    def set_cached(self, counts: dict[str, int]) -> None:
        for r, row in enumerate(self._rows):
            count = counts.get(row["series_instance_uid"])
            if count is not None and count != row.get("in_cache"):
                row["in_cache"] = count
                self.dataChanged.emit(self.index(r, CACHED), self.index(r, CACHED))

    def series(self, row: int) -> dict:
        return self._rows[row]

    def uids(self) -> list[str]:
        return [row["series_instance_uid"] for row in self._rows]

    def ticked(self) -> list[str]:
        """The ticked series, in the listed order."""
        return [uid for uid in self.uids() if uid in self._ticked]

    def set_ticked(self, row: int, on: bool) -> None:
        uid = self._rows[row]["series_instance_uid"]
        if (uid in self._ticked) == on:
            return
        (self._ticked.add if on else self._ticked.discard)(uid)
        self.dataChanged.emit(self.index(row, TICK), self.index(row, TICK), [Qt.ItemDataRole.CheckStateRole])
        self.ticks_changed.emit()

    def clear_ticks(self) -> None:
        for row in [r for r, s in enumerate(self._rows) if s["series_instance_uid"] in self._ticked]:
            self.set_ticked(row, False)

    # -- QAbstractTableModel ------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(TITLES)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(TITLES):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return TITLES[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == CACHED:
            return "How much of each series this workstation's cache holds"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == TICK:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if column == TICK:
            if role == Qt.ItemDataRole.CheckStateRole:
                ticked = row["series_instance_uid"] in self._ticked
                return Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == CACHED:
                return cache_tooltip(row)
            return f"Series UID {row['series_instance_uid']}" + (f"\nBody part: {row['body_part']}"
                                                        if row.get("body_part") else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (NUMBER, IMAGES, CACHED):
            align = Qt.AlignmentFlag.AlignCenter if column == CACHED else Qt.AlignmentFlag.AlignRight
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == CACHED:
            state = cache_state(row)
            return CACHED_COLOUR if state == "all" else PARTIAL_COLOUR if state == "part" else None
        return None

    @staticmethod
    def _text(row: dict, column: int) -> str:
        if column == NUMBER:
            return "" if row.get("number") is None else str(row["number"])
        if column == MODALITY:
            return row.get("modality") or ""
        if column == DESCRIPTION:
            return row.get("description") or ""
        if column == IMAGES:
            return "" if row.get("instance_count") is None else str(row["instance_count"])
        return cache_text(row)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != TICK or role != Qt.ItemDataRole.CheckStateRole:
            return False
        self.set_ticked(index.row(), Qt.CheckState(value) == Qt.CheckState.Checked)
        return True
