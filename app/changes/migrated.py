"""Migrated studies: their images live in a legacy archive, so no change may
take them as source or destination.

A study is migrated when an admin marked it (``studies.migrated``) or when it
came from a node set up as a legacy archive (``studies.source_node`` names a
node whose ``purposes`` include ``legacy``). The second cannot be unmarked:
it is what the node is.
"""

from __future__ import annotations

from typing import Iterable, Optional

from app.accounts import audit
from app.accounts.accounts import User
from app.db import transaction
from app.errors import RuleRefused
from app.worklist.query import resolve_study_uid

LEGACY = "legacy"


def reason(db, study_uid: str) -> Optional[str]:
    """Why *study_uid* is migrated, or None."""
    row = db.execute(
        "SELECT s.migrated, s.source_node, n.purposes FROM studies s"
        " LEFT JOIN nodes n ON n.name = s.source_node WHERE s.study_instance_uid = ?",
        [study_uid]).fetchone()
    if row is None:
        return None
    flag, node, purposes = row
    if node and LEGACY in (purposes or "").split():
        return f"it came from {node}, a legacy archive"
    if flag:
        return "an admin marked it migrated"
    return None


def check(db, study_uids: Iterable[str]) -> None:
    """Refuse (exit 5) when any of the studies is migrated."""
    for uid in study_uids:
        why = reason(db, uid)
        if why:
            raise RuleRefused(f"study {uid}: migrated ({why}; its images live in a legacy "
                              "archive): it can be neither source nor destination of a change")


def mark(db, user: User, study: str, migrated: bool = True) -> dict:
    """An admin marks a study migrated (or clears the mark). Audited."""
    from app.changes.rules import audited_refusal, require

    with audited_refusal(db, user, "mark-migrated" if migrated else "unmark-migrated", [study]):
        require(user, "configure", "mark studies migrated")
    uid = resolve_study_uid(db, study)
    with transaction(db):
        db.execute("UPDATE studies SET migrated = ? WHERE study_instance_uid = ?",
                   [int(migrated), uid])
        audit.record(db, user.name, "mark-migrated" if migrated else "unmark-migrated",
                     audit.INSTANCES_ACCESSED, objects=[uid],
                     detail="study marked migrated" if migrated else "migrated mark cleared")
    return {"study_instance_uid": uid, "migrated": migrated, "reason": reason(db, uid)}
