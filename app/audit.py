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
   each with a keyed MAC; see :func:`sync_head_file`), written after the
   transaction committed, and brought up to date at every open.
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

import hashlib
import hmac
import json
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Optional

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

GENESIS = "0" * 64
KEY_FILE = "audit.key"
HEAD_FILE = "audit.head"
KEY_BYTES = 32

_HASHED = ("time", "user", "action", "event_code", "outcome", "objects", "detail",
           "change_id", "change_digest")
_ROW = "id, " + ", ".join(_HASHED) + ", prev_hash, hash"
_CHANGE_FIELDS = ("change_id", "time", "user", "action", "reason", "objects", "undoes",
                  "summary", "plan")


# -- the key -----------------------------------------------------------------------------


def home_root(db) -> Path:
    """The folder of the cache *db* is open on (the home)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file).parent
    raise RuntimeError("audit: the cache has no file, so no audit key")


def ensure_key(root: Path) -> bytes:
    """The home's audit key, made (owner-only, 0600) when there is none."""
    path = Path(root) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        return _read_key(path)
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"audit key {path}: {len(key)} bytes, not {KEY_BYTES}")
    return key


def _mac(key: bytes, *parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _entry_hash(key: bytes, prev_hash: str, entry: dict) -> str:
    body = json.dumps({k: entry.get(k) for k in _HASHED}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, (prev_hash + body).encode(), hashlib.sha256).hexdigest()


def _legacy_hash(prev_hash: str, entry: dict) -> str:
    """The unkeyed hash of homes made before the key (for re-anchoring)."""
    fields = {k: entry[k] for k in ("time", "user", "action", "event_code", "outcome", "objects",
                                    "detail")}
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


# -- the journal link -------------------------------------------------------------------


def change_digest(db, change_id: int) -> Optional[str]:
    """SHA-256 of a journal row's lasting fields, None when there is no such row."""
    row = db.execute(f"SELECT {', '.join(_CHANGE_FIELDS)} FROM changes WHERE change_id = ?",
                     [change_id]).fetchone()
    if row is None:
        return None
    body = json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


# -- the head ---------------------------------------------------------------------------


def _read_head(db) -> Optional[dict]:
    row = db.execute("SELECT count, last_id, last_hash, journal_floor, mac FROM audit_head"
                     " WHERE id = 1").fetchone()
    if row is None:
        return None
    return dict(zip(("count", "last_id", "last_hash", "journal_floor", "mac"), row))


def _head_mac(key: bytes, head: dict) -> str:
    return _mac(key, "head", head["count"], head["last_id"], head["last_hash"], head["journal_floor"])


def _write_head(db, key: bytes, count: int, last_id: int, last_hash: str, floor: int) -> None:
    head = {"count": count, "last_id": last_id, "last_hash": last_hash, "journal_floor": floor}
    db.execute("INSERT INTO audit_head (id, count, last_id, last_hash, journal_floor, mac)"
               " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET count = excluded.count,"
               " last_id = excluded.last_id, last_hash = excluded.last_hash,"
               " journal_floor = excluded.journal_floor, mac = excluded.mac",
               [count, last_id, last_hash, floor, _head_mac(key, head)])


def _file_mac(key: bytes, head: dict) -> str:
    return _mac(key, "file", head["count"], head["last_id"], head["last_hash"])


SLOT = 256   # the head file: two slots of this many bytes, written in turn


def _parse_slots(raw: bytes, key: bytes) -> Optional[dict]:
    """The newest slot whose MAC holds, None when none does."""
    best = None
    for n in range(2):
        try:
            data = json.loads(raw[n * SLOT:(n + 1) * SLOT].decode().strip())
            fine = hmac.compare_digest(data["mac"], _file_mac(key, data))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            continue
        if fine and (best is None or data["count"] > best["count"]):
            best = data
    return best


def _read_file(root: Path, key: bytes) -> Optional[dict]:
    """What the head file says: None when there is no file, ``{"unreadable":
    True}`` when no slot of it holds."""
    try:
        raw = (root / HEAD_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return _parse_slots(raw, key) or {"unreadable": True}


def _extends(db, head: dict) -> bool:
    """Does the trail hold the entry *head* names, at its position, with its hash?"""
    if head["count"] == 0:
        return True
    row = db.execute("SELECT hash, (SELECT count(*) FROM audit WHERE id <= ?) FROM audit"
                     " WHERE id = ?", [head["last_id"], head["last_id"]]).fetchone()
    return row is not None and row[0] == head["last_hash"] and row[1] == head["count"]


def sync_head_file(db) -> None:
    """Write the committed head to the head file when the trail extends what
    the file says (or there is no file yet). Never moves it back, never
    over a file that does not hold or does not match (that is for
    :func:`verify` to report).

    The file has two slots, each with its own MAC, written in turn in place
    (no rename, no sync: a kill cannot tear one write, and a slot torn by a
    power cut leaves the other, older one, which is only behind: harmless).
    Writers take an advisory lock on it, so it never goes backwards. The
    file is made, empty, before the head is first committed (:func:`anchor`),
    so a missing file was removed, and is not made again."""
    root = home_root(db)
    key = ensure_key(root)
    try:
        fd = os.open(root / HEAD_FILE, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return   # made (empty) when the chain was anchored: removed since, for verify to report
    try:
        _lock(fd)
        head = _read_head(db)
        if head is None:
            return
        os.lseek(fd, 0, os.SEEK_SET)
        raw = b""
        while len(raw) < 2 * SLOT and (chunk := os.read(fd, 2 * SLOT - len(raw))):
            raw += chunk
        current = _parse_slots(raw, key) if raw.strip(b"\0 \n") else None
        if raw.strip(b"\0 \n") and current is None:
            return   # unreadable: left for verify to report
        if current is not None and (current["count"] >= head["count"] or not _extends(db, current)):
            return
        data = {"count": head["count"], "last_id": head["last_id"], "last_hash": head["last_hash"]}
        data["mac"] = _file_mac(key, data)
        text = json.dumps(data).encode()
        os.lseek(fd, (head["count"] % 2) * SLOT, os.SEEK_SET)
        os.write(fd, text.ljust(SLOT - 1) + b"\n")
    finally:
        os.close(fd)   # lets go of the lock too


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # no advisory locks: writers may race, the file may lag (harmless)
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


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


def _entry_committed(db) -> None:
    if os.environ.get("STUDYDESK_FAULT") == "audit-head":  # tests: a crash before the file
        os._exit(137)
    try:
        sync_head_file(db)
    except Exception as e:  # noqa: BLE001 - the entry is committed; the file catches up later
        log.warning("audit: the head file could not be written (%s); the next write or open "
                    "brings it up to date", e)


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
