"""Sharing studies with a user of this workstation ("Send to another user").

A share says: *shared_by* wants *shared_with* to look at this study, with a
note. It copies nothing (both users work on the one cache); the study shows
in the recipient's "Shared with me" view of the worklist, with who shared it,
when and the note, and ``studies --shared-with USER`` lists them. Sharing the
same study with the same user again replaces the note.

Sharing is a way of sending, so it takes the privilege Send takes
(``network``). The recipient must be an account of this workstation, not
the sharer. Every study is checked before anything is written: one unknown
or trashed study refuses the whole share. Done and refused attempts are
audited (DICOM Instances Transferred, PS3.15 A.5.3.4; a refusal with a
failure outcome).
"""

from __future__ import annotations

from typing import Iterable

from app.accounts import audit
from app.accounts.accounts import User, get_user, require_user
from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, NotAllowed, StudyDeskError
from app.worklist.query import resolve_study_uid

PRIVILEGE = "network"
NOTE_LIMIT = 1000   # characters of a note


def _refused(db, user: User, objects: list[str], why: str, outcome: str = audit.MINOR_FAILURE) -> None:
    with transaction(db):
        audit.record(db, user.name, "share", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=objects, detail=f"share refused: {why}")


def share(db, user: User, studies: Iterable[str], with_user: str, note: str = "") -> dict:
    """Share *studies* (UIDs or unambiguous prefixes) with the account
    *with_user*; ``{"shared": [uids], "with": name, "by": name, "note": text}``."""
    require_user(user, "share studies")
    given = [s for s in studies]
    try:
        user.require(PRIVILEGE, "share studies with another user")
    except NotAllowed as e:
        _refused(db, user, [str(s) for s in given], str(e), audit.SERIOUS_FAILURE)
        raise
    try:
        if not given:
            raise BadInput("share: name at least one study")
        note = (note or "").strip()
        if len(note) > NOTE_LIMIT:
            raise BadInput(f"share: the note has {len(note)} characters; at most {NOTE_LIMIT}")
        recipient = get_user(db, with_user.strip())   # NotFound: exit 4
        if recipient.name == user.name:
            raise BadInput(f"share: {user.name} cannot share studies with themself; name another "
                           "user of this workstation")
        uids = list(dict.fromkeys(resolve_study_uid(db, s) for s in given))
    except StudyDeskError as e:
        _refused(db, user, [str(s) for s in given], str(e))
        raise
    when = now_iso()
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO shares (study_instance_uid, shared_with, shared_by, note, time)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (shared_with, study_instance_uid) DO UPDATE SET"
            " shared_by = excluded.shared_by, note = excluded.note, time = excluded.time",
            [(uid, recipient.name, user.name, note, when) for uid in uids])
        audit.record(db, user.name, "share", audit.INSTANCES_TRANSFERRED, objects=uids,
                     detail=f"{len(uids)} stud{'ies' if len(uids) != 1 else 'y'} shared with "
                            f"{recipient.name}" + (f": {note}" if note else ""))
    return {"shared": uids, "with": recipient.name, "by": user.name, "note": note, "time": when}


def shares_of(db, with_user: str, study_uids: Iterable[str] | None = None) -> dict[str, dict]:
    """``{study_uid: {"by", "note", "time"}}`` of the studies shared with
    *with_user* (only the given ones when *study_uids* is given)."""
    sql = "SELECT study_instance_uid, shared_by, note, time FROM shares WHERE shared_with = ?"
    out: dict[str, dict] = {}
    if study_uids is None:
        rows = db.execute(sql, [with_user]).fetchall()
    else:
        wanted, rows = list(study_uids), []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows += db.execute(sql + f" AND study_instance_uid IN ({','.join('?' * len(chunk))})",
                               [with_user, *chunk]).fetchall()
    for uid, by, note, time in rows:
        out[uid] = {"by": by, "note": note, "time": time}
    return out


def count_shared_with(home, user_name: str) -> int:
    """How many studies in the cache (not trashed) are shared with *user_name*
    (on a connection of its own: a job's thread, for the scope bar)."""
    db = home.connect()
    try:
        return db.execute("SELECT count(*) FROM shares sh JOIN studies s USING (study_instance_uid)"
                          " WHERE sh.shared_with = ? AND s.state = 'active'", [user_name]).fetchone()[0]
    finally:
        db.close()


def describe(info: dict) -> str:
    """One line: who shared it, when, and the note."""
    text = f"Shared by {info['by']} on {info['time'][:10]}"
    return text + (f": {info['note']}" if info.get("note") else "")
