"""The outbox: objects waiting to be sent to a DICOM node.

Two kinds of entries:

- ``store``: one object to C-STORE to ``node``. ``sop_instance_uid`` names
  it; ``path`` is its file (relative to the home) when it is not an instance
  of the cache (an IOCM rejection note lives under ``outbox/``), else NULL and
  the sender takes the cache's file of that SOP Instance UID.
- ``ai-rescan``: ask an AI node to analyse ``study_instance_uid`` again (the
  sender sends the study to it).

An entry without a node (the study came from files, not from a node) is
``held``: nothing is sent until someone chooses where. Entries are written in
the change set that makes them (they are one of the journal's TABLES), so an
undo withdraws what was not sent yet. This module queues and reports; the
network code (app/net/outbox/send.py) sends and calls :func:`mark_sent` /
:func:`mark_failed`; app/net/outbox/admin.py gives held entries a node and
discards (restorably) what should never be sent.

States: ``queued`` -> ``sent`` or ``failed`` (retried by the next send);
``held`` -> ``queued`` once a node is chosen; ``queued``, ``held`` or
``failed`` -> ``discarded`` (kept, restorable).
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Iterable, Optional, Union

from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, NotFound

FOLDER = "outbox"   # files of entries that are not cache instances, under the home

STORE, AI_RESCAN = "store", "ai-rescan"
_sequence = itertools.count()
QUEUED, HELD, SENT, FAILED, DISCARDED = "queued", "held", "sent", "failed", "discarded"
STATES = (QUEUED, HELD, SENT, FAILED, DISCARDED)
WAITING = (QUEUED, HELD, FAILED)   # what the window's "Outbox: N waiting" counts


def entry(kind: str, node: Optional[str], study_uid: str, *, sop: Optional[str] = None,
          path: Optional[str] = None, reason: str = "") -> dict:
    """A new outbox row (not yet written: put it in a plan's *after* rows, or
    pass it to :func:`add`)."""
    # ids sort in the order entries were made (corrected instances before
    # their rejection note), and never collide across processes
    entry_id = f"{time.time_ns():020d}-{next(_sequence):06d}-{uuid.uuid4().hex[:8]}"
    return {"id": entry_id, "time": now_iso(), "kind": kind, "node": node,
            "study_instance_uid": study_uid, "sop_instance_uid": sop, "path": path,
            "reason": reason, "state": QUEUED if node else HELD, "attempts": 0,
            "last_error": "", "sent_at": None}


def add(db, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    with transaction(db):
        db.conn.executemany(
            f"INSERT INTO outbox ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [[row[c] for c in cols] for row in rows])


def entries(db, state: Union[str, Iterable[str], None] = None, node: Optional[str] = None,
            study: Optional[str] = None) -> list[dict]:
    """Rows in the order they were made; *state* is one state or several."""
    where, params = [], []
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        where.append(f"state IN ({', '.join('?' * len(states))})")
        params.extend(states)
    for column, value in (("node", node), ("study_instance_uid", study)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT * FROM outbox" + (" WHERE " + " AND ".join(where) if where else "")
    cur = db.execute(sql + " ORDER BY id", params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def counts(db) -> dict[str, int]:
    """Entries per state (every state present, 0 when none)."""
    found = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    return {state: found.get(state, 0) for state in STATES}


def waiting_by_node(db) -> list[tuple[Optional[str], str, int]]:
    """(node or None, state, count) of what waits: for the status bar's tooltip."""
    return [tuple(r) for r in db.execute(
        "SELECT node, state, count(*) FROM outbox WHERE state IN ('queued', 'held', 'failed')"
        " GROUP BY node, state ORDER BY node IS NULL, node, state")]


def status_of(home) -> dict:
    """:func:`counts` and :func:`waiting_by_node` on a connection of its own
    (a job's thread: the window's status bar)."""
    db = home.connect()
    try:
        return {"counts": counts(db), "by_node": waiting_by_node(db)}
    finally:
        db.close()


def short_id(entry_id: str) -> str:
    """What tables show of an id: its random tail (enough to tell entries apart
    and accepted back by :func:`resolve_ids`)."""
    return entry_id[-8:]


def resolve_ids(db, given: Iterable[str]) -> list[str]:
    """Whole ids, or unambiguous parts of at least 8 characters (the tail
    :func:`short_id` shows, or a prefix)."""
    out = []
    for text in given:
        text = text.strip()
        if db.execute("SELECT 1 FROM outbox WHERE id = ?", [text]).fetchone():
            out.append(text)
            continue
        if len(text) < 8:
            raise NotFound(f"outbox entry {text!r}: no such entry (give the id, or at least its "
                           "last 8 characters)")
        matches = [i for (i,) in db.execute(
            "SELECT id FROM outbox WHERE substr(id, -?) = ? OR substr(id, 1, ?) = ? LIMIT 3",
            [len(text), text, len(text), text])]
        if not matches:
            raise NotFound(f"outbox entry {text}: no such entry")
        if len(matches) > 1:
            raise BadInput(f"outbox entry {text}: matches more than one entry "
                           f"({', '.join(matches[:2])}, ...): give the whole id")
        out.append(matches[0])
    return list(dict.fromkeys(out))


def mark_sent(db, entry_id: str) -> None:
    """Called by the sender. A sent rescan request clears the study's
    'AI rescan pending' flag once no other request for it is waiting."""
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1"
                   " WHERE id = ?", [now_iso(), entry_id])
        settle_rescan_flag(db, entry_id)


def settle_rescan_flag(db, entry_id: str) -> None:
    """After an ai-rescan entry left or re-entered the waiting states: the
    study's 'AI rescan pending' flag is set while any request for it waits.
    Call inside a transaction."""
    row = db.execute("SELECT kind, study_instance_uid FROM outbox WHERE id = ?",
                     [entry_id]).fetchone()
    if not row or row[0] != AI_RESCAN:
        return
    pending = db.execute(
        "SELECT 1 FROM outbox WHERE kind = 'ai-rescan' AND study_instance_uid = ?"
        " AND state IN ('queued', 'held', 'failed')", [row[1]]).fetchone() is not None
    db.execute("UPDATE studies SET ai_rescan_pending = ? WHERE study_instance_uid = ?",
               [int(pending), row[1]])


def mark_failed(db, entry_id: str, error: str) -> None:
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?"
                   " WHERE id = ?", [error, entry_id])
