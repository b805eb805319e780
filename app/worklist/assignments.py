"""Assigning studies to reading physicians (accounts with the radiologist role)."""

from __future__ import annotations

from typing import Optional

from app.accounts import audit
from app.accounts.accounts import User, get_user, require_user
from app.db import transaction
from app.errors import RuleRefused
from app.worklist.query import resolve_study_uid


def assign(db, actor: User, study: str, to: Optional[str]) -> str:
    """Assign *study* to the radiologist *to* (None unassigns). Returns the UID."""
    require_user(actor, "assign studies").require("assign", "assign studies")
    uid = resolve_study_uid(db, study)
    if to is not None:
        reader = get_user(db, to)  # NotFound (exit 4) for an unknown user
        if "radiologist" not in reader.roles:
            raise RuleRefused(f"user {to}: not a reading physician (needs the radiologist role; "
                              f"has {', '.join(sorted(reader.roles)) or 'none'})")
    with transaction(db):
        before = db.execute("SELECT assigned_to FROM studies WHERE study_instance_uid = ?",
                            [uid]).fetchone()[0]
        db.execute("UPDATE studies SET assigned_to = ? WHERE study_instance_uid = ?", [to, uid])
        detail = f"assigned to {to}" if to else "unassigned"
        if before and before != to:
            detail += f" (was {before})"
        audit.record(db, actor.name, "assign", audit.INSTANCES_ACCESSED, objects=[uid], detail=detail)
    return uid
