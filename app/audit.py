"""The audit trail: DICOM PS3.15 A.5 events in a tamper-evident hash chain.

Every entry stores the hash of the entry before it; ``verify`` recomputes the
chain and names the first entry that does not match. Entries are written in
the caller's transaction, so a change and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Optional

from app.clock import now_iso

# PS3.15 A.5 / PS3.16 CID 400 audit event IDs (DCM codes)
APPLICATION_ACTIVITY = "110100"
INSTANCES_ACCESSED = "110103"   # also: instances changed (merge, reallocate)
INSTANCES_TRANSFERRED = "110104"
STUDY_DELETED = "110105"
EXPORT = "110106"
IMPORT = "110107"
PATIENT_RECORD = "110110"
QUERY = "110112"
SECURITY_ALERT = "110113"
USER_AUTHENTICATION = "110114"
USER_SECURITY = SECURITY_ALERT  # account and privilege changes

EVENT_NAMES = {
    APPLICATION_ACTIVITY: "Application Activity",
    INSTANCES_ACCESSED: "DICOM Instances Accessed",
    INSTANCES_TRANSFERRED: "DICOM Instances Transferred",
    STUDY_DELETED: "DICOM Study Deleted",
    EXPORT: "Export",
    IMPORT: "Import",
    PATIENT_RECORD: "Patient Record",
    QUERY: "Query",
    SECURITY_ALERT: "Security Alert",
    USER_AUTHENTICATION: "User Authentication",
}

# PS3.15 A.5.3 EventOutcomeIndicator
SUCCESS = "success"
MINOR_FAILURE = "minor failure"
SERIOUS_FAILURE = "serious failure"
MAJOR_FAILURE = "major failure"

GENESIS = "0" * 64


def _digest(prev_hash: str, entry: dict) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _hashed_fields(row: dict) -> dict:
    return {k: row[k] for k in ("time", "user", "action", "event_code", "outcome", "objects", "detail")}


def record(db, user: str, action: str, event_code: str, *, outcome: str = SUCCESS,
           objects: Iterable[str] = (), detail: str = "") -> int:
    """Append one entry. Call inside a transaction (``app.db.transaction``)."""
    from app.db import transaction

    objects = [str(o) for o in objects]
    entry = {"time": now_iso(), "user": user, "action": action, "event_code": event_code,
             "outcome": outcome, "objects": json.dumps(objects), "detail": detail}
    with transaction(db):
        last = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = last[0] if last else GENESIS
        entry["prev_hash"] = prev_hash
        entry["hash"] = _digest(prev_hash, _hashed_fields(entry))
        cur = db.execute(
            "INSERT INTO audit (time, user, action, event_code, outcome, objects, detail, prev_hash, hash)"
            " VALUES (:time, :user, :action, :event_code, :outcome, :objects, :detail, :prev_hash, :hash)",
            entry)
        audit_id = cur.lastrowid
        db.conn.executemany("INSERT INTO audit_objects (audit_id, uid) VALUES (?, ?)",
                            [(audit_id, o) for o in objects])
    return audit_id


def entries(db, since: Optional[str] = None, study: Optional[str] = None) -> list[dict]:
    sql = "SELECT id, time, user, action, event_code, outcome, objects, detail FROM audit"
    where, params = [], []
    if since:
        where.append("time >= ?")
        params.append(since)
    if study:
        where.append("id IN (SELECT audit_id FROM audit_objects WHERE uid = ?)")
        params.append(study)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    out = []
    for row in db.execute(sql, params):
        out.append({"id": row[0], "time": row[1], "user": row[2], "action": row[3],
                    "event_code": row[4], "event": EVENT_NAMES.get(row[4], row[4]),
                    "outcome": row[5], "objects": json.loads(row[6]), "detail": row[7]})
    return out


def verify(db) -> Optional[dict]:
    """None when the chain is intact, else the first broken entry and why."""
    prev_hash = GENESIS
    cursor = db.execute("SELECT id, time, user, action, event_code, outcome, objects, detail,"
                        " prev_hash, hash FROM audit ORDER BY id")
    cols = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(cols, values))
        if row["prev_hash"] != prev_hash:
            return {"id": row["id"], "reason": "its link to the previous entry does not match "
                    "(an entry before it was removed or altered)"}
        if _digest(prev_hash, _hashed_fields(row)) != row["hash"]:
            return {"id": row["id"], "reason": "its content does not match its hash (altered)"}
        prev_hash = row["hash"]
    return None
