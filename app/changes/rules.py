"""The clinical rules every change obeys: privilege, locks, migrated studies,
and the pre-flight identity check before merging."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from app.accounts import audit
from app.accounts.accounts import User, require_user
from app.errors import NotAllowed, RuleRefused

# Outcome of a refused attempt (PS3.15 A.5.3 EventOutcomeIndicator):
# - no privilege: 8, serious failure: the action was stopped because the
#   user is not allowed to do it at all (ATNA's "access denied"), a security
#   matter an auditor looks for;
# - a clinical rule (a study locked by another user, a migrated study,
#   different patients without --force, a later change in the way): 4, minor
#   failure: the action was refused as asked but may succeed once the
#   situation changes (the lock is released, the reason given).
# 12 (major failure) is kept for actions that failed while running.
REFUSED_NO_PRIVILEGE = audit.SERIOUS_FAILURE
REFUSED_BY_RULE = audit.MINOR_FAILURE


def require(user: User, privilege: str, what: str) -> None:
    """*user* must be a User (never a bare name) holding *privilege*."""
    require_user(user, what).require(privilege, what)


def record_refusal(db, user: User | str, action: str, objects: Iterable[str], why: str,
                   outcome: str, event_code: str = audit.INSTANCES_ACCESSED) -> None:
    """Write a refused attempt to the audit trail (its own transaction: the
    refused change itself wrote nothing)."""
    from app.db import transaction

    name = user.name if isinstance(user, User) else str(user)
    objects = [str(o) for o in objects if o]
    logging.getLogger("studydesk").info("refused: %s by %s (%s): %s", action, name, ", ".join(objects), why)
    with transaction(db):
        audit.record(db, name, action, event_code, outcome=outcome, objects=objects, detail=f"refused: {why}")


@contextmanager
def audited_refusal(db, user: User, action: str, objects: Iterable[str],
                    event_code: str = audit.INSTANCES_ACCESSED) -> Iterator[None]:
    """Run a change; when it is refused (no privilege, a rule) the attempt
    is written to the audit trail with a failure outcome (see above) and
    the refusal goes on to the caller unchanged (exit 3 or 5). A bare name
    instead of the User is refused first, and not audited as if it were one."""
    require_user(user, action)
    objects = list(objects)
    try:
        yield
    except NotAllowed as e:
        record_refusal(db, user, action, objects, str(e), REFUSED_NO_PRIVILEGE, event_code)
        raise
    except RuleRefused as e:
        record_refusal(db, user, action, objects, str(e), REFUSED_BY_RULE, event_code)
        raise


def check_locks(db, user: User, study_uids: Iterable[str]) -> None:
    for uid in study_uids:
        row = db.execute("SELECT user FROM locks WHERE study_instance_uid = ?", [uid]).fetchone()
        if row and row[0] != user.name:
            raise RuleRefused(f"study {uid}: locked by {row[0]}; they or an admin must unlock it")


def check_not_migrated(db, study_uids: Iterable[str]) -> None:
    """Refuse studies marked migrated by an admin or received from a node set
    up as a legacy archive (see app.changes.migrated)."""
    from app.changes import migrated

    migrated.check(db, study_uids)


def study_patient(db, study_uid: str) -> dict:
    row = db.execute(
        "SELECT p.id, p.patient_id, p.issuer_of_patient_id, p.patient_name, p.patient_birth_date,"
        " p.patient_sex, s.study_date FROM studies s JOIN patients p ON p.id = s.patient_pk"
        " WHERE s.study_instance_uid = ?", [study_uid]).fetchone()
    keys = ("pk", "patient_id", "issuer", "name", "birth_date", "sex", "study_date")
    return dict(zip(keys, row))


@dataclass
class Flag:
    field: str
    source: str
    destination: str
    severity: str          # "amber": a difference to look at; "red": a different patient

    def to_json(self) -> dict:
        return {"field": self.field, "source": self.source, "destination": self.destination,
                "severity": self.severity}


@dataclass
class Preflight:
    flags: list[Flag] = field(default_factory=list)

    @property
    def level(self) -> str:
        if any(f.severity == "red" for f in self.flags):
            return "red"
        return "amber" if self.flags else "ok"

    @property
    def different_patients(self) -> bool:
        return self.level == "red"

    def to_json(self) -> dict:
        return {"level": self.level, "flags": [f.to_json() for f in self.flags]}

    def describe(self) -> str:
        return "; ".join(f"{f.field}: {f.source or '(empty)'} vs {f.destination or '(empty)'}"
                         for f in self.flags)


def _same_name(a: str, b: str) -> bool:
    def norm(n: str) -> list[str]:
        return [part.strip().upper() for part in n.split("=")[0].split("^") if part.strip()]
    return norm(a) == norm(b)


def preflight(source: dict, destination: dict, same_record_expected: bool) -> Preflight:
    """Compare two sides of a merge. *same_record_expected*: for study
    merges and reallocations a different patient record is itself a red
    flag; for a patient merge the records differ by nature and identity is
    judged by name, birth date and sex."""
    result = Preflight()
    record_differs = (source["patient_id"], source["issuer"]) != \
        (destination["patient_id"], destination["issuer"])
    if record_differs and same_record_expected:
        result.flags.append(Flag("patient ID", _pid(source), _pid(destination), "red"))
    identity = "red" if not same_record_expected else "amber"
    if not _same_name(source["name"], destination["name"]):
        result.flags.append(Flag("name", source["name"], destination["name"], identity))
    for key, label in (("birth_date", "birth date"), ("sex", "sex")):
        a, b = source[key] or "", destination[key] or ""
        if a != b:
            result.flags.append(Flag(label, a, b, identity if a and b else "amber"))
    a, b = source.get("study_date") or "", destination.get("study_date") or ""
    if a[:4].isdigit() and b[:4].isdigit() and abs(int(a[:4]) - int(b[:4])) >= 2:
        result.flags.append(Flag("study date", a, b, "amber"))
    return result


def _pid(side: dict) -> str:
    return side["patient_id"] + (f" ({side['issuer']})" if side["issuer"] else "")


def require_force(check: Preflight, force: bool, what: str) -> None:
    if check.different_patients and not force:
        raise RuleRefused(f"{what}: the two sides look like different patients "
                          f"({check.describe()}); use --force with --reason to merge anyway")
