"""The worklist model over a node's C-FIND answer: the Remote source.

The same columns as the local worklist (ui/worklist/model.py), so the table
looks and behaves the same (ticks, the revealed box, Space, Ctrl+A, Esc).
What differs:

- the rows come from ``client.query_studies`` in a visible job: the jobs
  panel shows it and its Cancel sends C-CANCEL to the node;
- the answer is one bounded list (what the node matched), held whole, so
  sorting reorders it in Python: there is no SQL to ask, and asking the
  node again for another order would cost a round trip for nothing;
- the Status column is "In cache": how much of each study this
  workstation already holds (``in_cache``, instances).
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from app.accounts.accounts import User
from app.home import Home
from app.net import client
from app.worklist.query import Query
from ui.jobs import Job, JobRunner
from ui.worklist.selection import TickSet
from ui.worklist.study_table import COLUMNS, STATUS, StudyTableModel

CACHED_COLOUR = QColor("#6cc08b")
PARTIAL_COLOUR = QColor("#e0b050")
STATUS_TITLE = "In cache"
STATUS_HELP = ("How much of each study this workstation's cache holds:\n"
               "✓ all of it, 3/7 part of it (Retrieve fetches only the rest), blank none")


def cache_state(row: dict) -> str:
    """'all', 'part' or 'none': the cache's share of a remote study."""
    held, total = row.get("in_cache") or 0, row.get("instance_count")
    if held <= 0:
        return "none"
    return "all" if total is None or held >= total else "part"


def cache_text(row: dict) -> str:
    state = cache_state(row)
    if state == "all":
        return "✓"
    if state == "part":
        return f"{row.get('in_cache', 0)}/{row.get('instance_count')}"
    return ""


def cache_tooltip(row: dict) -> str:
    held, total = row.get("in_cache") or 0, row.get("instance_count")
    state = cache_state(row)
    if state == "all":
        return f"In the cache: {held} image{'s' if held != 1 else ''}"
    if state == "part":
        return f"Partly in the cache: {held} of {total} images; Retrieve fetches the rest"
    return "Not in the cache: Retrieve it to read it here"


class RemoteModel(StudyTableModel):
    """Rows of the last query of :attr:`node`. ``searched(count)`` when an
    answer is in place, ``search_failed(message)``, ``search_cancelled()``."""

    search_cancelled = Signal()

    def __init__(self, home: Home, runner: JobRunner, user: User, parent=None,
                 ticks: Optional[TickSet] = None):
        super().__init__(home, runner, user.name, parent, ticks=ticks)
        self.account = user
        self.node = ""
        self.job: Optional[Job] = None  # the query in flight, to cancel when superseded

    # -- querying ---------------------------------------------------------------

    def set_node(self, node: str) -> None:
        """Show *node*'s answers from now on (empty until the next search)."""
        if node == self.node:
            return
        self.node = node
        self._cancel_query()
        self._generation += 1
        self._show([])

    def search(self, query: Optional[Query] = None, audit: bool = True) -> None:
        """C-FIND *query* (or the last one again) on the node, as a job. Every
        query is audited by the core (``audit`` is the local model's switch)."""
        if query is not None:
            self.query = query
        if not self.node:
            return
        self._cancel_query()
        home, user, node, q = self.home, self.account, self.node, self.query
        self._generation += 1
        generation = self._generation
        self._pending += 1

        def job(progress, cancel):
            progress(None, f"Asking {node}")
            return client.query_studies(home, user, node, q, cancel)

        self.job = self.runner.start(
            f"Query {node}", job, kind="read",
            summarize=lambda rows: f"{len(rows)} stud{'ies' if len(rows) != 1 else 'y'} found",
            on_success=lambda rows: self._answered(generation, rows),
            on_failure=lambda message: self._search_failed(generation, message),
            on_cancel=lambda: self._cancelled(generation))

    def _cancel_query(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.job = None

    def _answered(self, generation: int, rows: list[dict]) -> None:
        self._pending -= 1
        if generation != self._generation:
            return
        self._show(rows)
        self.searched.emit(len(rows))

    def _cancelled(self, generation: int) -> None:
        self._pending -= 1
        if generation == self._generation:
            self.search_cancelled.emit()

    def _show(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = {row["study_instance_uid"]: row for row in rows}
        self._ids = self._sorted(list(self._rows))
        self._positions = {uid: i for i, uid in enumerate(self._ids)}
        self.endResetModel()
        self.ticks.update_rows(rows)

    def uids(self) -> list[str]:
        """The listed studies, in order."""
        return list(self._ids)

    def _fetch_block(self, row: int) -> None:
        """Every row arrives with the answer: nothing to fetch."""

    # -- the cache's share ----------------------------------------------------------

    def set_cached(self, counts: dict[str, int]) -> None:
        """New ``in_cache`` counts (after a retrieve or a reception)."""
        for uid, count in counts.items():
            row = self._rows.get(uid)
            if row is None or row.get("in_cache") == count:
                continue
            row["in_cache"] = count
            index = self.index(self._positions[uid], STATUS)
            self.dataChanged.emit(index, index)

    # -- sorting, in Python over the answer ----------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS) or COLUMNS[column].sort is None:
            return
        key, descending = COLUMNS[column].sort, order == Qt.SortOrder.DescendingOrder
        if (key, descending) == (self.sort_key, self.descending):
            return
        self.sort_key, self.descending = key, descending
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        uids = [self._ids[i.row()] for i in persistent]
        self._ids = self._sorted(self._ids)
        self._positions = {uid: i for i, uid in enumerate(self._ids)}
        self.changePersistentIndexList(
            persistent, [self.index(self._positions[u], i.column()) for u, i in zip(uids, persistent)])
        self.layoutChanged.emit()

    def _sorted(self, uids: list[str]) -> list[str]:
        """By the sort column, empty values last either way; ties keep the
        node's order (newest first, from the core)."""
        column = next(c for c in COLUMNS if c.sort == self.sort_key)

        def value(uid: str):
            item = self._rows[uid].get(column.key)
            if isinstance(item, (list, tuple)):
                item = ",".join(item)
            return item.upper() if isinstance(item, str) else item

        filled = [u for u in uids if value(u) not in (None, "")]
        empty = [u for u in uids if value(u) in (None, "")]
        return sorted(filled, key=value, reverse=self.descending) + empty

    # -- QAbstractTableModel ------------------------------------------------------------

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and section == STATUS:
            if role == Qt.ItemDataRole.DisplayRole:
                return STATUS_TITLE
            if role == Qt.ItemDataRole.ToolTipRole:
                return STATUS_HELP
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and index.column() == STATUS and 0 <= index.row() < len(self._ids):
            row = self.study(index.row())
            if role == Qt.ItemDataRole.DisplayRole:
                return cache_text(row)
            if role == Qt.ItemDataRole.ToolTipRole:
                return cache_tooltip(row)
            if role == Qt.ItemDataRole.ForegroundRole:
                state = cache_state(row)
                return CACHED_COLOUR if state == "all" else PARTIAL_COLOUR if state == "part" else None
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
            if role == Qt.ItemDataRole.DecorationRole:
                return None
        return super().data(index, role)
