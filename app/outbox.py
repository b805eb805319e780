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
undo withdraws what was not sent yet. This module only queues and reports;
the network code sends and calls :func:`mark_sent` / :func:`mark_failed`.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Optional

from app.clock import now_iso
from app.db import transaction

FOLDER = "outbox"   # files of entries that are not cache instances, under the home

STORE, AI_RESCAN = "store", "ai-rescan"
_sequence = itertools.count()
QUEUED, HELD, SENT, FAILED = "queued", "held", "sent", "failed"


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


def entries(db, state: Optional[str] = None, node: Optional[str] = None,
            study: Optional[str] = None) -> list[dict]:
    where, params = [], []
    for column, value in (("state", state), ("node", node), ("study_instance_uid", study)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT * FROM outbox" + (" WHERE " + " AND ".join(where) if where else "")
    cur = db.execute(sql + " ORDER BY id", params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def mark_sent(db, entry_id: str) -> None:
    """Called by the sender. A sent rescan request clears the study's
    'AI rescan pending' flag once no other request for it is waiting."""
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1"
                   " WHERE id = ?", [now_iso(), entry_id])
        row = db.execute("SELECT kind, study_instance_uid FROM outbox WHERE id = ?",
                         [entry_id]).fetchone()
        if row and row[0] == AI_RESCAN and not db.execute(
                "SELECT 1 FROM outbox WHERE kind = 'ai-rescan' AND study_instance_uid = ?"
                " AND state IN ('queued', 'held', 'failed')", [row[1]]).fetchone():
            db.execute("UPDATE studies SET ai_rescan_pending = 0 WHERE study_instance_uid = ?",
                       [row[1]])


def mark_failed(db, entry_id: str, error: str) -> None:
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?"
                   " WHERE id = ?", [error, entry_id])
