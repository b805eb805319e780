"""The audit trail: DICOM PS3.15 A.5 events in a keyed, anchored hash chain.

Chain. Every entry stores the hash of the entry before it and its own hash:
HMAC-SHA256 over the previous hash and the entry's fields, keyed with the
home's audit key (``audit.key`` beside the cache: 32 random bytes made with
the home, mode 0600, readable by its owner only). Without the key nobody can
re-hash the chain after an edit, so an edited entry, a removed middle entry
and a trail re-chained with plain SHA-256 all fail :func:`verify`.

Head. How many entries were written and the last hash are kept outside the
table, twice:

1. ``audit_head``: one row, with its own keyed MAC, updated in the
   transaction that writes the entry. It is always exact (entry and head
   commit together or not at all), so removing the newest entries is caught
   unless the head is forged (needs the key) or an older copy of the row is
   put back.
2. ``audit.head``: a file beside the cache (two slots written in turn,
   each with a keyed MAC; see :func:`app.accounts.audit_anchor.sync_head_file`),
   written after the transaction committed, and brought up to date at
   every open.
   It is never written before its entries are committed, so after a crash it
   can only be *behind* the trail; :func:`verify` asks only that the trail
   extends it (the entry the file names is there, at that position, with
   that hash), so a crash is harmless and the next write or open catches up.
   A file *ahead* of the trail means entries were removed (or the cache put
   back to an older copy together with its head row) and is reported.
   (Power loss, not a crash, may lose SQLite's last commits under
   synchronous=NORMAL while the file survives: that is reported too, and
   is then worth reporting.)

Journal. The entry a change writes (app.changes.journal) names the change
and the digest of its journal row as committed (who, when, what, why, the
plan); :func:`verify` recomputes it, so a journal row removed or edited is
named, and so is a journal row that no entry names (one added behind
StudyDesk's back).

Outcomes (PS3.15 A.5.3 EventOutcomeIndicator) are stored as words;
:func:`entries` also gives the code (0 success, 4 minor failure, 8 serious
failure, 12 major failure). Refused attempts are entries too (see
app.changes.rules for which outcome each refusal gets).

Homes made before the key: the first open makes the key and re-anchors the
chain (:func:`anchor`): the old unkeyed chain is checked, every entry is
re-hashed with the key, and a new entry says how many entries were
re-anchored and whether the old chain was intact.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from typing import Iterable, Optional

from app.accounts.audit_anchor import (GENESIS, HEAD_FILE, KEY_FILE, _ROW, _entry_committed, _entry_hash,
                              _extends, _head_mac, _legacy_hash, _read_file, _read_head, _read_key,
                              _write_head, change_digest, ensure_key, home_root)
from app.clock import now_iso

log = logging.getLogger("studydesk")

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
OUTCOME_CODES = {SUCCESS: 0, MINOR_FAILURE: 4, SERIOUS_FAILURE: 8, MAJOR_FAILURE: 12}


# -- writing ----------------------------------------------------------------------------


def anchor(db) -> bool:
    """Anchor the chain of a home that has no head yet (a new home, or one
    made before the key): make the key, re-hash the entries with it, and
    write the head. True when it did something."""
    from app.db import after_commit, transaction

    root = home_root(db)
    with transaction(db):
        if _read_head(db) is not None:
            return False
        key = ensure_key(root)
        os.close(os.open(root / HEAD_FILE, os.O_WRONLY | os.O_CREAT, 0o600))  # see sync_head_file
        cur = db.execute(f"SELECT {_ROW} FROM audit ORDER BY id")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        if any(hmac.compare_digest(_entry_hash(key, r["prev_hash"], r), r["hash"]) for r in rows):
            _rebuild_head(db, key, rows)   # keyed already: the head was removed, not missing
            return True
        broken, prev = None, GENESIS
        for row in rows:
            if broken is None and (row["prev_hash"] != prev or _legacy_hash(prev, row) != row["hash"]):
                broken = row["id"]
            prev = row["hash"]
        changes = {cid for (cid,) in db.execute("SELECT change_id FROM changes")}
        prev = GENESIS
        for row in rows:
            match = re.match(r"change (\d+): ", row["detail"] or "")
            if row["change_id"] is None and match and int(match.group(1)) in changes:
                row["change_id"] = int(match.group(1))
                row["change_digest"] = change_digest(db, row["change_id"])
            row["prev_hash"], row["hash"] = prev, _entry_hash(key, prev, row)
            db.execute("UPDATE audit SET change_id = ?, change_digest = ?, prev_hash = ?, hash = ?"
                       " WHERE id = ?", [row["change_id"], row["change_digest"], row["prev_hash"],
                                         row["hash"], row["id"]])
            prev = row["hash"]
        floor = db.execute("SELECT coalesce(max(change_id), 0) FROM changes").fetchone()[0]
        _write_head(db, key, len(rows), rows[-1]["id"] if rows else 0, prev, floor)
        if rows:
            state = "intact" if broken is None else f"broken at entry {broken} (kept as it was)"
            _append(db, key, {"user": "studydesk", "action": "audit-anchor",
                              "event_code": SECURITY_ALERT, "outcome": SUCCESS, "objects": [],
                              "detail": f"audit key made; {len(rows)} earlier entries re-anchored "
                                        f"with it; the earlier unkeyed chain was {state}"})
            log.info("audit trail anchored: %d entries re-hashed with a new key (earlier chain %s)",
                     len(rows), state)
    after_commit(db, lambda: _entry_committed(db))   # never ahead of what is committed
    return True


def _rebuild_head(db, key: bytes, rows: list[dict]) -> None:
    """The head row of a keyed trail is gone (removed outside StudyDesk):
    the work goes on from the trail's end, and an entry says so for good.
    The head file, which is not rewritten backwards, still tells whether
    entries were removed with it (:func:`verify`)."""
    floor = db.execute("SELECT coalesce(max(change_id), 0) FROM changes").fetchone()[0]
    _write_head(db, key, len(rows), rows[-1]["id"], rows[-1]["hash"], floor)
    _append(db, key, {"user": "studydesk", "action": "audit-head-missing",
                      "event_code": SECURITY_ALERT, "outcome": MAJOR_FAILURE, "objects": [],
                      "detail": f"the audit trail's head was removed outside StudyDesk; rebuilt "
                                f"from the trail's end ({len(rows)} entries)"})
    log.warning("audit trail: its head was removed outside StudyDesk; rebuilt from the trail's end")


def _append(db, key: bytes, entry: dict, change_id: Optional[int] = None) -> int:
    head = _read_head(db)
    objects = [str(o) for o in entry.get("objects", ())]
    row = {"time": now_iso(), "user": entry["user"], "action": entry["action"],
           "event_code": entry["event_code"], "outcome": entry["outcome"],
           "objects": json.dumps(objects), "detail": entry.get("detail", ""),
           "change_id": change_id,
           "change_digest": change_digest(db, change_id) if change_id is not None else None}
    row["prev_hash"] = head["last_hash"]
    row["hash"] = _entry_hash(key, row["prev_hash"], row)
    audit_id = db.execute(
        "INSERT INTO audit (time, user, action, event_code, outcome, objects, detail, change_id,"
        " change_digest, prev_hash, hash) VALUES (:time, :user, :action, :event_code, :outcome,"
        " :objects, :detail, :change_id, :change_digest, :prev_hash, :hash)", row).lastrowid
    db.conn.executemany("INSERT INTO audit_objects (audit_id, uid) VALUES (?, ?)",
                        [(audit_id, o) for o in objects])
    _write_head(db, key, head["count"] + 1, audit_id, row["hash"], head["journal_floor"])
    return audit_id


def record(db, user: str, action: str, event_code: str, *, outcome: str = SUCCESS,
           objects: Iterable[str] = (), detail: str = "", change_id: Optional[int] = None) -> int:
    """Append one entry. Call inside a transaction (``app.db.transaction``);
    the head file follows once it commits. *change_id*: the journal change
    this entry records (its row is linked by digest, see the module text)."""
    from app.db import after_commit, transaction

    with transaction(db):
        if _read_head(db) is None:
            anchor(db)
        key = ensure_key(home_root(db))
        audit_id = _append(db, key, {"user": user, "action": action, "event_code": event_code,
                                     "outcome": outcome, "objects": objects, "detail": detail},
                           change_id)
    after_commit(db, lambda: _entry_committed(db))
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
                    "outcome": row[5], "outcome_code": OUTCOME_CODES.get(row[5]),
                    "objects": json.loads(row[6]), "detail": row[7]})
    return out


# -- checking ---------------------------------------------------------------------------


def verify(db) -> Optional[dict]:
    """None when the trail is intact, else ``{"id", "reason"}``: the first
    broken entry (``id`` None when no entry can be named) and why. Checks
    the keyed chain, the head row, the head file and the journal link."""
    root = home_root(db)
    first = db.execute("SELECT min(id) FROM audit").fetchone()[0]
    try:
        key = _read_key(root / KEY_FILE)
    except FileNotFoundError:
        return {"id": first, "reason": f"the audit key ({KEY_FILE}) is missing: the trail cannot "
                                       "be checked"}
    prev, count, last = GENESIS, 0, None
    links: list[tuple[int, int, str]] = []
    cursor = db.execute(f"SELECT {_ROW} FROM audit ORDER BY id")
    cols = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(cols, values))
        if row["prev_hash"] != prev:
            return {"id": row["id"], "reason": "its link to the previous entry does not match "
                    "(an entry before it was removed or altered)"}
        if not hmac.compare_digest(_entry_hash(key, prev, row), row["hash"]):
            return {"id": row["id"], "reason": "its content does not match its keyed hash "
                    "(altered, or re-hashed without the key)"}
        if row["change_id"] is not None:
            links.append((row["id"], row["change_id"], row["change_digest"]))
        prev, count, last = row["hash"], count + 1, row
    head = _read_head(db)
    after = (last["id"] + 1) if last else 1
    if head is None:
        return {"id": after, "reason": "the trail's head is missing (removed outside StudyDesk)"}
    if not hmac.compare_digest(head["mac"], _head_mac(key, head)):
        return {"id": head["last_id"], "reason": "the trail's head was altered outside StudyDesk"}
    if head["count"] > count:
        return {"id": after, "reason": f"the newest {head['count'] - count} entries were removed "
                f"({head['count']} were written, the trail holds {count}, up to entry "
                f"{last['id'] if last else 'none'})"}
    if head["count"] != count or head["last_hash"] != prev:
        return {"id": head["last_id"], "reason": "the trail does not end where its head says "
                "(entries replaced or added outside StudyDesk)"}
    anchor_file = _read_file(root, key)
    if anchor_file is None:
        return {"id": after, "reason": f"the head file ({HEAD_FILE}) is missing"}
    if anchor_file.get("unreadable"):
        return {"id": after, "reason": f"the head file ({HEAD_FILE}) was altered or is unreadable"}
    if anchor_file["count"] > count:
        return {"id": after, "reason": f"the newest {anchor_file['count'] - count} entries were "
                f"removed (the head file counts {anchor_file['count']}, the trail holds {count}; "
                "or the cache was put back to an older copy)"}
    if not _extends(db, anchor_file):
        return {"id": anchor_file["last_id"], "reason": "the trail does not hold the entry its head "
                "file names (replaced or re-chained outside StudyDesk)"}
    alert = db.execute("SELECT min(id) FROM audit WHERE action = 'audit-head-missing'").fetchone()[0]
    if alert is not None:
        return {"id": alert, "reason": "the trail's head was removed outside StudyDesk and rebuilt "
                                       "from what was left (this entry says so): entries written "
                                       "before it may have been removed"}
    for audit_id, change_id, digest in links:
        now = change_digest(db, change_id)
        if now is None:
            return {"id": audit_id, "reason": f"journal change {change_id}, which it records, was "
                                              "removed from the journal"}
        if now != digest:
            return {"id": audit_id, "reason": f"journal change {change_id}, which it records, was "
                                              "altered in the journal"}
    linked = {change_id for _, change_id, _ in links}
    for (change_id,) in db.execute(
            "SELECT change_id FROM changes WHERE change_id > ? AND state IN ('applied', 'undone',"
            " 'purged') ORDER BY change_id", [head["journal_floor"]]):
        if change_id not in linked:
            return {"id": None, "reason": f"journal change {change_id} has no audit entry (written "
                                          "outside StudyDesk)"}
    return None
