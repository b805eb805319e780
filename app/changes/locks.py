"""Study locks: any user may lock; a lock blocks changes by others; the
holder or an admin unlocks. Both are audited."""

from __future__ import annotations

from app.accounts import audit
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.errors import NotAllowed, RuleRefused
from app.worklist.query import resolve_study_uid


def lock(db, user: User, study: str) -> str:
    from app.changes.rules import audited_refusal, require

    with audited_refusal(db, user, "lock", [study]):
        require(user, "read", "lock studies")
        return _lock(db, user, study)


def _lock(db, user: User, study: str) -> str:
    uid = resolve_study_uid(db, study)
    with transaction(db):
        row = db.execute("SELECT user FROM locks WHERE study_instance_uid = ?", [uid]).fetchone()
        if row and row[0] != user.name:
            raise RuleRefused(f"study {uid}: already locked by {row[0]}")
        if not row:
            db.execute("INSERT INTO locks (study_instance_uid, user, time) VALUES (?, ?, ?)",
                       [uid, user.name, now_iso()])
            audit.record(db, user.name, "lock", audit.INSTANCES_ACCESSED, objects=[uid],
                         detail="study locked")
    return uid


def unlock(db, user: User, study: str) -> str:
    from app.changes.rules import audited_refusal, require

    with audited_refusal(db, user, "unlock", [study]):
        require(user, "read", "unlock studies")
        return _unlock(db, user, study)


def _unlock(db, user: User, study: str) -> str:
    uid = resolve_study_uid(db, study)
    with transaction(db):
        row = db.execute("SELECT user FROM locks WHERE study_instance_uid = ?", [uid]).fetchone()
        if not row:
            return uid
        if row[0] != user.name and "admin" not in user.roles:
            raise NotAllowed(f"study {uid}: locked by {row[0]}; only they or an admin may unlock it")
        db.execute("DELETE FROM locks WHERE study_instance_uid = ?", [uid])
        audit.record(db, user.name, "unlock", audit.INSTANCES_ACCESSED, objects=[uid],
                     detail=f"lock of {row[0]} released")
    return uid


def holder(db, study_uid: str) -> str | None:
    row = db.execute("SELECT user FROM locks WHERE study_instance_uid = ?", [study_uid]).fetchone()
    return row[0] if row else None
