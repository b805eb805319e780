"""Projects and their subjects: a clinical patient ID linked to a pseudonym
(PID) and a StudySubjectID; finding subjects by autocomplete or bulk paste."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field

from app.accounts import audit
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, NotAllowed, NotFound

FIND_LIMIT = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def create(db, user: User, name: str, settings: dict | None = None) -> dict:
    user.require("research", "create research projects")
    if not _NAME.match(name):
        raise BadInput(f"project {name!r}: 1-64 letters, digits, spaces, '.', '_' or '-'")
    with transaction(db):
        if db.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
            raise BadInput(f"project {name}: already exists")
        db.execute("INSERT INTO projects (name, secret, settings, created) VALUES (?, ?, ?, ?)",
                   [name, secrets.token_hex(32), json.dumps(settings or {}), now_iso()])
        db.execute("INSERT INTO project_members (project, user, role) VALUES (?, ?, 'admin')",
                   [name, user.name])
        audit.record(db, user.name, "project-create", audit.APPLICATION_ACTIVITY, objects=[name],
                     detail="research project created")
    return {"project": name}


def get(db, name: str) -> dict:
    row = db.execute("SELECT name, secret, settings, created FROM projects WHERE name = ?",
                     [name]).fetchone()
    if row is None:
        raise NotFound(f"project {name}: no such project")
    return {"project": row[0], "secret": bytes.fromhex(row[1]), "settings": json.loads(row[2]),
            "created": row[3]}


def list_projects(db) -> list[dict]:
    return [{"project": n, "subjects": c} for n, c in db.execute(
        "SELECT p.name, (SELECT count(*) FROM subjects s WHERE s.project = p.name)"
        " FROM projects p ORDER BY p.name")]


def member_role(db, project: str, user: User) -> str | None:
    row = db.execute("SELECT role FROM project_members WHERE project = ? AND user = ?",
                     [project, user.name]).fetchone()
    return row[0] if row else None


def require_member(db, project: str, user: User, admin: bool = False) -> None:
    get(db, project)
    user.require("research", f"work in project {project}")
    role = member_role(db, project, user)
    if "admin" in user.roles and role is None and not admin:
        return  # workstation admins see every project
    if role is None or (admin and role != "admin"):
        need = "an admin of" if admin else "a member of"
        raise NotAllowed(f"user {user.name}: not {need} project {project}")


def add_member(db, user: User, project: str, member: str, role: str = "member") -> None:
    require_member(db, project, user, admin=True)
    if role not in ("member", "admin"):
        raise BadInput(f"project role {role!r}: member or admin")
    with transaction(db):
        db.execute("INSERT INTO project_members (project, user, role) VALUES (?, ?, ?)"
                   " ON CONFLICT (project, user) DO UPDATE SET role = excluded.role",
                   [project, member, role])
        audit.record(db, user.name, "project-member", audit.SECURITY_ALERT, objects=[project, member],
                     detail=f"{member} is now {role} of {project}")


def enrol(db, user: User, project: str, patient_id: str, pid: str, subject: str) -> dict:
    require_member(db, project, user)
    for label, value in (("--patient-id", patient_id), ("--pid", pid), ("--subject", subject)):
        if not value.strip():
            raise BadInput(f"project enrol: {label} must not be empty")
    with transaction(db):
        for column, value, what in (("patient_id", patient_id, "patient"), ("pid", pid, "PID"),
                                    ("subject", subject, "StudySubjectID")):
            row = db.execute(f"SELECT pid FROM subjects WHERE project = ? AND {column} = ?",
                             [project, value]).fetchone()
            if row:
                raise BadInput(f"project {project}: {what} {value} is already enrolled (PID {row[0]})")
        db.execute("INSERT INTO subjects (project, patient_id, pid, subject) VALUES (?, ?, ?, ?)",
                   [project, patient_id, pid, subject])
        audit.record(db, user.name, "project-enrol", audit.PATIENT_RECORD,
                     objects=[project, pid], detail=f"subject {subject} enrolled")
    return {"pid": pid, "subject": subject, "patient_id": patient_id}


def _subject(row) -> dict:
    return {"pid": row[0], "subject": row[1], "patient_id": row[2]}


def find(db, user: User, project: str, text: str, limit: int = FIND_LIMIT) -> list[dict]:
    """Autocomplete: subjects whose PID or StudySubjectID contains *text*
    (case-insensitive), prefix matches first, at most *limit*."""
    require_member(db, project, user)
    needle = text.strip().upper()
    if not needle:
        return []
    rows = db.execute(
        "SELECT pid, subject, patient_id FROM subjects WHERE project = ?"
        " AND (instr(upper(pid), ?) > 0 OR instr(upper(subject), ?) > 0)"
        " ORDER BY (substr(upper(pid), 1, length(?)) = ? OR substr(upper(subject), 1, length(?)) = ?)"
        " DESC, pid LIMIT ?", [project, needle, needle, needle, needle, needle, needle, limit])
    return [_subject(r) for r in rows]


@dataclass
class BulkResult:
    subjects: list[dict] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"subjects": self.subjects, "unmatched": self.unmatched, "ambiguous": self.ambiguous}


def bulk(db, user: User, project: str, text: str) -> BulkResult:
    """A comma-separated (or whitespace/semicolon) list of ids, whole or
    partial: every subject matching one of them, plus the ids that matched
    nothing or more than one subject."""
    require_member(db, project, user)
    result = BulkResult()
    seen: set[str] = set()
    for token in (t.strip() for t in re.split(r"[,;\s]+", text)):
        if not token:
            continue
        needle = token.upper()
        exact = db.execute("SELECT pid, subject, patient_id FROM subjects WHERE project = ?"
                           " AND (upper(pid) = ? OR upper(subject) = ?)",
                           [project, needle, needle]).fetchall()
        rows = exact or db.execute(
            "SELECT pid, subject, patient_id FROM subjects WHERE project = ?"
            " AND (instr(upper(pid), ?) > 0 OR instr(upper(subject), ?) > 0) ORDER BY pid",
            [project, needle, needle]).fetchall()
        if not rows:
            result.unmatched.append(token)
            continue
        if len(rows) > 1:
            result.ambiguous.append({"id": token, "matches": [r[0] for r in rows]})
        for row in rows:
            if row[0] not in seen:
                seen.add(row[0])
                result.subjects.append(_subject(row))
    return result


def subjects(db, user: User, project: str) -> list[dict]:
    require_member(db, project, user)
    return [_subject(r) for r in db.execute(
        "SELECT pid, subject, patient_id FROM subjects WHERE project = ? ORDER BY subject", [project])]


def reidentify(db, user: User, project: str, pid: str, reason: str) -> dict:
    """PID to clinical patient: project admins only, with a typed reason, audited."""
    require_member(db, project, user, admin=True)
    if not reason.strip():
        raise BadInput("re-identification needs a reason (--reason)")
    row = db.execute("SELECT pid, subject, patient_id FROM subjects WHERE project = ? AND pid = ?",
                     [project, pid]).fetchone()
    if row is None:
        raise NotFound(f"project {project}: no subject with PID {pid}")
    with transaction(db):
        audit.record(db, user.name, "reidentify", audit.PATIENT_RECORD,
                     objects=[project, pid, row[2]], detail=f"re-identified; reason: {reason}")
    return _subject(row)
