"""The worklist as a compact list: the rowids of the matching studies.

A window over a million studies must not hold a Python string (let alone a
dict) per row: the search keeps the SQLite rowids of the ``studies`` table in
one ``array('q')`` (8 bytes a row) and the window fetches the row data of
the rows on screen by rowid (:func:`rows_of`). A study keeps its rowid for
as long as its row exists (the journal rewrites rows in place with an
upsert); a study that is deleted and written again gets a new one, which is
why a refresh names studies by UID and looks their rowids up here.
"""

from __future__ import annotations

import operator
from array import array
from typing import Iterable

from app.worklist.query import _STUDY_SELECT, Query, _study_dict, ids_sql, sort_keys

FETCH = 5_000  # rows per fetchmany: short holds of the GIL, so the GUI thread is not kept waiting
CHUNK = 500  # parameters per IN (...)


def study_rowids(db, q: Query, sort: str = "study_date", descending: bool = True) -> array:
    """The rowids of the matching active studies, sorted in SQL."""
    sql, params = ids_sql(q, sort, descending, select="s.rowid")
    return _collect(db.execute(sql, params))


def _collect(cursor) -> array:
    out, first = array("q"), operator.itemgetter(0)
    while rows := cursor.fetchmany(FETCH):
        out.extend(map(first, rows))
    return out


def existing_rowids(db) -> array:
    """Every rowid of the studies table (through its smallest index)."""
    return _collect(db.execute("SELECT rowid FROM studies INDEXED BY studies_patient"))


def _chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def rows_of(db, rowids: Iterable[int]) -> dict[int, dict]:
    """The worklist row (app.worklist.query's row dict) of each rowid that
    still exists."""
    found: dict[int, dict] = {}
    select = _STUDY_SELECT.replace("SELECT ", "SELECT s.rowid, ", 1)
    for chunk in _chunks(list(rowids)):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(select + f" WHERE s.rowid IN ({marks})", chunk):
            found[row[0]] = _study_dict(row[1:])
    return found


def uids_of(db, rowids: Iterable[int]) -> list[str]:
    """The Study Instance UIDs of *rowids*, in their order (missing ones left out)."""
    rowids = list(rowids)
    found: dict[int, str] = {}
    for chunk in _chunks(rowids):
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT rowid, study_instance_uid FROM studies"
                                f" WHERE rowid IN ({marks})", chunk).fetchall())
    return [found[r] for r in rowids if r in found]


def rowids_of(db, study_uids: Iterable[str]) -> dict[str, int]:
    """The rowid of each study UID that has a row (any state)."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(study_uids)):
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT study_instance_uid, rowid FROM studies"
                                f" WHERE study_instance_uid IN ({marks})", chunk).fetchall())
    return found


def rowid_of(db, study_uid: str) -> int:
    """The rowid of one study, -1 when it has no row."""
    row = db.execute("SELECT rowid FROM studies WHERE study_instance_uid = ?", [study_uid]).fetchone()
    return row[0] if row else -1


def order_key(values: tuple) -> tuple:
    """A tuple that Python orders as SQLite's ORDER BY orders *values*
    (BINARY collation): NULL < numbers < text < blobs; UTF-8 byte order is
    code point order, so text compares as Python strings."""
    out = []
    for v in values:
        if v is None:
            out.append((0, 0))
        elif isinstance(v, (int, float)):
            out.append((1, v))
        elif isinstance(v, str):
            out.append((2, v))
        else:
            out.append((3, bytes(v)))
    return tuple(out)


def key_sql(sort: str) -> str:
    """SELECT of a study's sort key by rowid (the tie-breaking UID last)."""
    columns = ", ".join(sort_keys(sort))
    return f"SELECT {columns} FROM studies s JOIN patients p ON p.id = s.patient_pk WHERE s.rowid = ?"
