"""Refresh a sorted worklist by what changed, not by searching again.

A write names the studies it touched. :func:`plan` re-reads only those:
whether each still matches the search, and where its sort key puts it (a
binary search over the list, reading one row's key per step), and returns
the steps that turn the old list into the new one as a table model
announces them (remove, move, insert, update), so the window keeps its
current row, its selection and its scroll position. It runs on a pool
thread; the GUI thread only replays the steps (ui/worklist/model.py).

Rows the list holds but whose study vanished (merged away, erased) are
found by rowid: from *known* (the rows the window has seen), or, failing
that, by checking every listed rowid against the table once.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from app.worklist import ids as compact
from app.worklist.query import Query, where_clause

MAX_STEPS = 64  # beyond this many steps the window resets (cheaper than replaying them)
MAX_PLACED = 2000  # beyond this many studies one search is cheaper than ~20 key reads for each


@dataclass
class Plan:
    """``steps``: ("remove", row) / ("move", row, before) / ("insert", row, rowid)
    / ("update", row), in order; None when the window should reset to
    ``rowids`` instead. ``rows``: the fresh row of every re-read study that
    is listed, by rowid. ``gone``: rowids no longer listed. ``searched``:
    the list came from a plain search instead."""

    rowids: array
    steps: Optional[list[tuple]]
    rows: dict[int, dict] = field(default_factory=dict)
    gone: list[int] = field(default_factory=list)
    searched: bool = False


class _Keys:
    """Sort keys by rowid, read one at a time and remembered."""

    def __init__(self, db, sort: str):
        self.db, self.sql, self.seen = db, compact.key_sql(sort), {}

    def __call__(self, rowid: int) -> tuple:
        key = self.seen.get(rowid)
        if key is None:
            row = self.db.execute(self.sql, [rowid]).fetchone()
            if row is None:  # the list is older than the table: a write nobody announced
                raise LookupError(rowid)
            key = self.seen[rowid] = compact.order_key(tuple(row))
        return key


def plan(db, listed: np.ndarray, q: Query, sort: str, descending: bool,
         study_uids: list[str], known: dict[str, int]) -> Plan:
    """The steps that bring *listed* (rowids, sorted) up to date for
    *study_uids*. A list the table contradicts, or a change of more than
    MAX_PLACED studies, ends in a plain search."""
    if len(study_uids) <= MAX_PLACED:
        try:
            return _plan(db, listed, q, sort, descending, study_uids, known)
        except LookupError:
            pass
    return Plan(compact.study_rowids(db, q, sort, descending), None, searched=True)


def _plan(db, listed, q, sort, descending, study_uids, known) -> Plan:
    rowid_of = compact.rowids_of(db, study_uids)
    matching = _matching(db, q, list(rowid_of.values()))
    touched = set(rowid_of.values())
    vanished = [uid for uid in study_uids if uid not in rowid_of]
    touched.update(known[uid] for uid in vanished if uid in known)
    mask = np.isin(listed, _array(touched))
    if any(uid not in known for uid in vanished):  # somewhere in the list: check every row once
        mask |= ~np.isin(listed, np.frombuffer(compact.existing_rowids(db), dtype=np.int64))
    rest = listed[~mask]
    keys = _Keys(db, sort)
    places = [(_place(rest, keys, keys(r), descending), keys(r), r) for r in matching]
    places.sort(key=lambda p: p[1], reverse=descending)
    places.sort(key=lambda p: p[0])  # stable: rows landing in one gap keep the sort order
    final = np.insert(rest, [p[0] for p in places], np.array([p[2] for p in places], dtype=np.int64))
    detached = [int(r) for r in listed[mask]]
    rows = compact.rows_of(db, matching)
    steps = None
    if len(detached) + len(matching) <= MAX_STEPS:
        steps = _steps(listed, mask, final, matching)
    return Plan(array("q", final.tobytes()), steps, rows, [r for r in detached if r not in matching])


def _array(rowids) -> np.ndarray:
    return np.fromiter(rowids, dtype=np.int64, count=len(rowids))


def _matching(db, q: Query, rowids: list[int]) -> set[int]:
    """The rowids among *rowids* that the search matches."""
    where, params = where_clause(q)
    join = " JOIN patients p ON p.id = s.patient_pk" if "p." in where else ""
    out: set[int] = set()
    for start in range(0, len(rowids), compact.CHUNK):
        chunk = rowids[start:start + compact.CHUNK]
        marks = ",".join("?" * len(chunk))
        out.update(r for (r,) in db.execute(
            f"SELECT s.rowid FROM studies s{join} WHERE {where} AND s.rowid IN ({marks})",
            params + chunk))
    return out


def _place(rest: np.ndarray, keys: _Keys, key: tuple, descending: bool) -> int:
    """Where *key* goes in *rest* (sorted, keys unique through the UID)."""
    lo, hi = 0, len(rest)
    while lo < hi:
        mid = (lo + hi) // 2
        other = keys(int(rest[mid]))
        if (other > key) if descending else (other < key):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _steps(listed: np.ndarray, mask: np.ndarray, final: np.ndarray,
           matching: set[int]) -> Optional[list[tuple]]:
    """Old list -> final list as steps a table model announces one by one.
    Each step costs one pass over the list (numpy), so only for a few."""
    steps: list[tuple] = []
    detached = np.flatnonzero(mask)
    dropped = [int(p) for p in detached[::-1] if int(listed[p]) not in matching]
    steps += [("remove", p) for p in dropped]  # from the end: earlier rows keep their numbers
    current = np.delete(listed, dropped)
    kept = {int(r) for r in listed[mask]} & matching
    new = _array(matching - kept)
    skeleton = final[~np.isin(final, new)]  # the final list without the new rows
    for i in np.flatnonzero(np.isin(skeleton, _array(kept))):
        rowid = skeleton[i]
        source = int(np.flatnonzero(current == rowid)[0])
        before = int(np.flatnonzero(current == skeleton[i - 1])[0]) + 1 if i else 0
        if before in (source, source + 1):
            continue
        steps.append(("move", source, before))
        current = np.delete(current, source)
        current = np.insert(current, before - 1 if before > source else before, rowid)
    if not np.array_equal(current, skeleton):
        return None  # not reachable row by row: the window resets instead
    steps += [("insert", int(row), int(final[row])) for row in np.flatnonzero(np.isin(final, new))]
    steps += [("update", int(row)) for row in np.flatnonzero(np.isin(final, _array(kept)))]
    return steps
