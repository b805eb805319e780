"""The local worklist model: a compact list of rowids, rows fetched by window,
refreshed by what changed.

Like Anki's browser table, the model keeps only the ordered ids of the last
search: the SQLite rowids of the matching studies in one ``array('q')``
(8 bytes a row: a million studies take 8 MB, app/worklist/ids.py). The rows
the view asks for are fetched a block at a time around the asked row and
kept in a small cache (:data:`CACHE_ROWS`, oldest out first), with their
cells' text formatted once. SQL filters and sorts; the model never sorts in
Python.

It follows the home's broadcast (ui/cache_events.py) itself: a write that
names its studies re-reads only those (app/worklist/refresh.py works out on
a pool thread where each now belongs) and the model replays the answer as
row removals, moves, inserts and updates, so the current row, the selection
and the ticks stay; a write that does not name its studies searches again.

Threads: searches and refreshes run as read jobs (runner.read); the GUI
thread only swaps in or replays their answers, one refresh at a time. The
block fetch of visible rows runs on the GUI thread on purpose: at most
BLOCK primary-key lookups, cheaper than a round trip through a worker, and
the view needs the values synchronously in data().
"""

from __future__ import annotations

from array import array
from typing import Optional

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Signal

from app.home import Home
from app.worklist import ids, refresh
from app.worklist.query import Query, record_search
from ui.cache_events import PATIENTS, SHARES, STUDIES, TRASH, CacheChange, events_of
from ui.jobs import JobRunner
from ui.worklist.selection import TickSet
from ui.worklist.study_table import (  # noqa: F401  (the names the views import from here)
    COLUMNS, DEFAULT_SORT, FIXED, SELECT, STATUS, STUDY_UID_ROLE, TICK_HELP, Column, StudyTableModel,
    column_index, display, tooltip)

BLOCK = 100  # rows fetched per block
CACHE_ROWS = 2000  # rows kept (many screens); the oldest go first and are fetched again when shown
TICK_NOW = 20_000  # Ctrl+A on up to this many rows ticks at once; more are listed by a job
KINDS = (STUDIES, PATIENTS, SHARES, TRASH)  # the changes the worklist's rows follow


class WorklistModel(StudyTableModel):
    """Rows of the last search of the cache. ``search()`` and ``sort()`` are
    asynchronous; ``searched(count)`` when the rows are in place, after a
    search or a refresh. ``updated(uids)`` after a refresh by what changed,
    with the studies it re-read; ``queries`` counts the full searches (a
    refresh searches only when the table contradicts the list, or for a
    change of thousands of studies)."""

    updated = Signal(list)

    def __init__(self, home: Home, runner: JobRunner, user: str = "", parent=None,
                 ticks: Optional[TickSet] = None):
        super().__init__(home, runner, user, parent, ticks=ticks)
        self._rowids = array("q")
        self._cache: dict[int, dict] = {}  # rowid -> row, oldest first (dropped first)
        self._cells: dict[int, tuple[str, ...]] = {}  # rowid -> its cells' text, made once
        self._rowid_of: dict[str, int] = {}  # uid -> rowid of the cached rows
        self._waiting: dict[str, None] = {}  # studies named by changes not applied yet
        self._refreshing = False
        self.queries = 0
        self._db = None  # GUI-thread connection for block fetches, opened on first use
        events_of(home).cache_changed.connect(self._cache_changed)

    # -- searching ------------------------------------------------------------

    def search(self, query: Optional[Query] = None, audit: bool = True) -> None:
        """Run *query* (or the current one again). ``audit``: record a Query
        audit entry, as a user-initiated search should; refreshes and re-sorts
        of the same query do not."""
        if query is not None:
            self.query = query
        q, key, descending, user = self.query, self.sort_key, self.descending, self.user
        self._generation += 1
        generation = self._generation
        self._pending += 1
        self.queries += 1

        def job(db, progress, cancel):
            rowids = ids.study_rowids(db, q, key, descending)
            if audit and user:
                record_search(db, user, q, len(rowids))
            return rowids

        self.runner.read(self.home, "Search", job,
                         on_success=lambda rowids: self._searched(generation, rowids),
                         on_failure=lambda message: self._search_failed(generation, message))

    def refresh(self) -> None:
        """The same query again, without an audit entry."""
        self.search(None, audit=False)

    def is_searching(self) -> bool:
        return self._pending > 0 or self._refreshing or bool(self._waiting)

    def _searched(self, generation: int, rowids: array) -> None:
        self._pending -= 1
        if generation == self._generation:
            self._reset(rowids)
            self.searched.emit(len(rowids))
        self._next_refresh()

    def _search_failed(self, generation: int, message: str) -> None:
        super()._search_failed(generation, message)
        self._next_refresh()

    def _reset(self, rowids: array) -> None:
        self.beginResetModel()
        self._rowids = rowids
        self._cache.clear()
        self._cells.clear()
        self._rowid_of.clear()
        self.endResetModel()

    # -- refreshing by what changed ---------------------------------------------------

    def _cache_changed(self, change: CacheChange) -> None:
        if not change.touches(*KINDS) or not self.queries:  # nothing listed yet: the first search will
            return
        if not change.study_uids:
            self.refresh()
            return
        self._waiting.update(dict.fromkeys(change.study_uids))
        self._next_refresh()

    def _next_refresh(self) -> None:
        """Re-read the studies named so far, unless a search or a refresh is
        under way (it comes back here when it lands)."""
        if self._refreshing or self._pending or not self._waiting:
            return
        uids, self._waiting = list(self._waiting), {}
        self._refreshing = True
        listed = np.frombuffer(self._rowids, dtype=np.int64).copy() if self._rowids else \
            np.empty(0, dtype=np.int64)  # a copy: the job never sees the list change under it
        known = {uid: self._rowid_of[uid] for uid in uids if uid in self._rowid_of}
        q, key, descending, generation = self.query, self.sort_key, self.descending, self._generation

        def job(db, progress, cancel):
            plan = refresh.plan(db, listed, q, key, descending, uids, known)
            self._add_shares(db, list(plan.rows.values()), q)
            return plan

        self.runner.read(self.home, "Refresh worklist", job,
                         on_success=lambda plan: self._refreshed(generation, uids, plan),
                         on_failure=lambda message: self._refresh_failed(message))

    def _refreshed(self, generation: int, uids: list[str], plan: refresh.Plan) -> None:
        self._refreshing = False
        if generation != self._generation:  # a search replaced the list meanwhile: again, on it
            self._waiting.update(dict.fromkeys(uids))
            self._next_refresh()
            return
        for rowid in plan.gone + [self._rowid_of[u] for u in uids if u in self._rowid_of]:
            self._forget(rowid)
        for rowid, row in plan.rows.items():
            self._remember(rowid, row)
        self.queries += plan.searched
        if plan.steps is None:
            self._reset(plan.rowids)
        else:
            self._replay(plan.steps)
            if self._rowids != plan.rowids:  # never expected; the list must end right
                self._reset(plan.rowids)
        self.ticks.update_rows(list(plan.rows.values()))
        self.updated.emit(uids)
        self.searched.emit(len(self._rowids))
        self._next_refresh()

    def _refresh_failed(self, message: str) -> None:
        self._refreshing = False
        self.search_failed.emit(message)
        self.refresh()

    def _replay(self, steps: list[tuple]) -> None:
        root, last = QModelIndex(), len(COLUMNS) - 1
        for step in steps:
            kind, row = step[0], step[1]
            if kind == "remove":
                self.beginRemoveRows(root, row, row)
                del self._rowids[row]
                self.endRemoveRows()
            elif kind == "move":
                before = step[2]
                self.beginMoveRows(root, row, row, root, before)
                rowid = self._rowids.pop(row)
                self._rowids.insert(before - 1 if before > row else before, rowid)
                self.endMoveRows()
            elif kind == "insert":
                self.beginInsertRows(root, row, row)
                self._rowids.insert(row, step[2])
                self.endInsertRows()
            else:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    # -- rows -----------------------------------------------------------------

    def rowids(self) -> array:
        """The listed rowids, in order (the list itself: do not change it)."""
        return self._rowids

    def cached_rows(self) -> int:
        """How many rows the model holds (at most CACHE_ROWS, whatever the list's length)."""
        return len(self._cache)

    def study_uid(self, row: int) -> Optional[str]:
        return self.study(row).get("study_instance_uid")

    def row_of(self, study_uid: str) -> int:
        if not study_uid or not self._rowids:
            return -1
        rowid = self._rowid_of.get(study_uid)
        if rowid is None:
            rowid = ids.rowid_of(self._connection(), study_uid)
        hits = np.flatnonzero(np.frombuffer(self._rowids, dtype=np.int64) == rowid)
        return int(hits[0]) if len(hits) else -1

    def study(self, row: int) -> dict:
        """The row dict (fetched with its block when not cached; {} for a
        row past the end or one whose study vanished)."""
        if not 0 <= row < len(self._rowids):
            return {}
        rowid = self._rowids[row]
        item = self._cache.get(rowid)
        if item is None:
            self._fetch_block(row)
            item = self._cache.get(rowid, {})
        return item

    def cell(self, row: int, col: int) -> str:
        rowid = self._rowids[row]
        cells = self._cells.get(rowid)
        if cells is None:
            item = self.study(row)
            cells = self._cells[rowid] = tuple(display(column, item) for column in COLUMNS)
        return cells[col]

    def row_if_cached(self, row: int) -> Optional[dict]:
        return self._cache.get(self._rowids[row]) if 0 <= row < len(self._rowids) else None

    def _fetch_block(self, row: int) -> None:
        # GUI thread, by design: a few primary-key lookups (see the module doc).
        start = max(0, row - BLOCK // 4)
        wanted = [r for r in self._rowids[start:start + BLOCK] if r not in self._cache]
        db = self._connection()
        found = ids.rows_of(db, wanted)
        self._add_shares(db, list(found.values()), self.query)
        for rowid in wanted:  # a study gone since the search keeps an empty row
            self._remember(rowid, found.get(rowid, {}))
        if found:
            self.ticks.update_rows(list(found.values()))  # ticked studies: their freshest rows

    @staticmethod
    def _add_shares(db, rows: list[dict], q: Query) -> None:
        if q.shared_with and rows:  # "Shared with me": who shared each and the note
            from ui.worklist.shared_view import add_shares

            add_shares(db, q.shared_with, rows)

    def _remember(self, rowid: int, row: dict) -> None:
        self._forget(rowid)
        self._cache[rowid] = row
        if row.get("study_instance_uid"):
            self._rowid_of[row["study_instance_uid"]] = rowid
        while len(self._cache) > CACHE_ROWS:
            self._forget(next(iter(self._cache)))

    def _forget(self, rowid: int) -> None:
        self._cells.pop(rowid, None)
        row = self._cache.pop(rowid, None)
        if row and self._rowid_of.get(row.get("study_instance_uid")) == rowid:
            del self._rowid_of[row["study_instance_uid"]]

    def _connection(self):
        if self._db is None:
            self._db = self.home.connect()
        return self._db

    # -- ticks ------------------------------------------------------------------

    def tick_all(self) -> None:
        """Tick every listed study: at once for a list of up to TICK_NOW, by a
        job for a longer one (its UIDs are read off the GUI thread)."""
        if len(self._rowids) <= TICK_NOW:
            self._tick(ids.uids_of(self._connection(), self._rowids))
            return
        listed = array("q", self._rowids)
        self.runner.read(self.home, "Tick every study", lambda db, p, c: ids.uids_of(db, listed),
                         on_success=self._tick)

    def _tick(self, uids: list[str]) -> None:
        rows = {row.get("study_instance_uid"): row for row in self._cache.values()}
        self.ticks.add((uid, rows.get(uid)) for uid in uids)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- QAbstractTableModel ---------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rowids)
