"""The audit chain's anchor: its key file, keyed hashes, journal digests, head row and head file."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger("studydesk")

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


def _entry_committed(db) -> None:
    if os.environ.get("STUDYDESK_FAULT") == "audit-head":  # tests: a crash before the file
        os._exit(137)
    try:
        sync_head_file(db)
    except Exception as e:  # noqa: BLE001 - the entry is committed; the file catches up later
        log.warning("audit: the head file could not be written (%s); the next write or open "
                    "brings it up to date", e)
