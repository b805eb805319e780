"""Delete to the trash, restore from it, empty it (admins only)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Optional

from app import store
from app.accounts import audit
from app.accounts.accounts import User
from app.changes import journal, rules
from app.changes.journal import FileOp, Plan
from app.changes.plans import rows_in, snapshot
from app.db import transaction
from app.errors import NotFound
from app.home import Home
from app.jobs import CancelToken, Progress
from app.worklist.query import resolve_study_uid


def _trash_path(instance: dict, study_uid: str) -> str:
    rel = store.relative_path(study_uid, instance["series_instance_uid"], instance["sop_instance_uid"])
    name = PurePosixPath(instance["path"]).name
    return str(PurePosixPath("trash", *rel.parts[1:-1], name))


def plan_delete(db, user: User, study: str, reason: str = "") -> Plan:
    rules.require(user, "content-management", "delete studies")
    uid = resolve_study_uid(db, study)
    rules.check_locks(db, user, [uid])
    rules.check_not_migrated(db, [uid])
    study_row = snapshot(db, "studies", "study_instance_uid = ?", [uid])[0]
    series = snapshot(db, "series", "study_instance_uid = ?", [uid])
    instances = rows_in(db, "instances", "series_instance_uid",
                        [s["series_instance_uid"] for s in series])
    moved, ops = [], []
    for row in instances:
        new = dict(row)
        if not row["linked"]:  # files of others (linked) stay where they are
            new["path"] = _trash_path(row, uid)
            ops.append(FileOp("move", row["sop_instance_uid"], row["path"], new["path"]))
        moved.append(new)
    objects = [("study", uid)] + [("instance", i["sop_instance_uid"]) for i in instances]
    return Plan("delete", user.name, reason, objects,
                before={"studies": [study_row], "instances": instances},
                after={"studies": [dict(study_row, state="trashed")], "instances": moved},
                files=ops, audit_code=audit.STUDY_DELETED,
                summary=f"study {uid} moved to the trash ({len(instances)} instances)")


def delete(home: Home, db, user: User, study: str, reason: str = "",
           progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> int:
    with rules.audited_refusal(db, user, "delete", [study], audit.STUDY_DELETED):
        plan = plan_delete(db, user, study, reason)
    return journal.apply(home, db, plan, progress, cancel)


def _delete_change(db, uid: str) -> Optional[int]:
    row = db.execute(
        "SELECT max(c.change_id) FROM changes c JOIN change_objects o ON o.change_id = c.change_id"
        " WHERE c.action = 'delete' AND c.state = 'applied' AND o.uid = ?", [uid]).fetchone()
    return row[0]


def trashed(db) -> list[dict]:
    out = []
    for row in db.execute(
            "SELECT s.study_instance_uid, p.patient_id, p.patient_name, s.study_date,"
            " s.accession_number, s.study_description, s.instance_count, s.size_bytes"
            " FROM studies s JOIN patients p ON p.id = s.patient_pk WHERE s.state = 'trashed'"
            " ORDER BY s.study_date DESC"):
        change_id = _delete_change(db, row[0])
        info = db.execute("SELECT time, user, reason FROM changes WHERE change_id = ?",
                          [change_id]).fetchone() if change_id else (None, None, None)
        out.append({"study_instance_uid": row[0], "patient_id": row[1], "patient_name": row[2],
                    "study_date": row[3], "accession_number": row[4], "description": row[5],
                    "instance_count": row[6], "size_bytes": row[7], "trashed_at": info[0],
                    "trashed_by": info[1], "reason": info[2], "change_id": change_id})
    return out


def restore(home: Home, db, user: User, study: str, reason: str = "",
            progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> int:
    with rules.audited_refusal(db, user, "restore", [study]):
        rules.require(user, "content-management", "restore studies from the trash")
    uid = resolve_study_uid(db, study, include_trashed=True)
    change_id = _delete_change(db, uid)
    if change_id is None or not db.execute(
            "SELECT 1 FROM studies WHERE study_instance_uid = ? AND state = 'trashed'", [uid]).fetchone():
        raise NotFound(f"study {uid}: not in the trash")
    return journal.undo(home, db, change_id, user, reason or "restored from the trash",
                        progress, cancel, action="restore")


def empty(home: Home, db, user: User, older_than_days: Optional[float] = None) -> list[str]:
    """Erase trashed studies for good (files and rows). Returns their UIDs."""
    with rules.audited_refusal(db, user, "trash-empty", [], audit.STUDY_DELETED):
        rules.require(user, "empty-trash", "empty the trash")
    limit = None
    if older_than_days is not None:
        limit = (datetime.now(timezone.utc) - timedelta(days=older_than_days)).isoformat()
    erased = []
    for item in trashed(db):
        if limit is not None and (item["trashed_at"] or "") > limit:
            continue
        _erase(home, db, user, item)
        erased.append(item["study_instance_uid"])
    return erased


def _erase(home: Home, db, user: User, item: dict) -> None:
    uid = item["study_instance_uid"]
    series = [s for (s,) in db.execute("SELECT series_instance_uid FROM series"
                                       " WHERE study_instance_uid = ?", [uid])]
    instances = rows_in(db, "instances", "series_instance_uid", series)
    older = _older_versions(db, [i["sop_instance_uid"] for i in instances])
    with transaction(db):
        for start in range(0, len(series), 500):
            chunk = series[start:start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM instances WHERE series_instance_uid IN ({marks})", chunk)
        db.execute("DELETE FROM series WHERE study_instance_uid = ?", [uid])
        pk = db.execute("SELECT patient_pk FROM studies WHERE study_instance_uid = ?", [uid]).fetchone()[0]
        db.execute("DELETE FROM locks WHERE study_instance_uid = ?", [uid])
        db.execute("DELETE FROM studies WHERE study_instance_uid = ?", [uid])
        if not db.execute("SELECT 1 FROM studies WHERE patient_pk = ?", [pk]).fetchone():
            db.execute("DELETE FROM patient_name_parts WHERE patient_pk = ?", [pk])
            db.execute("DELETE FROM patients WHERE id = ?", [pk])
        if item["change_id"]:
            db.execute("UPDATE changes SET state = 'purged' WHERE change_id = ?", [item["change_id"]])
        audit.record(db, user.name, "trash-empty", audit.STUDY_DELETED, objects=[uid],
                     detail=f"erased for good: {len(instances)} instances of "
                            f"{item['patient_name']} {item['study_date']} {item['accession_number']}")
    # after the commit: the rows are gone, so a crash here leaves only
    # unreferenced files (never a row without its file)
    for row in instances:
        if not row["linked"]:
            store.absolute(home, row["path"]).unlink(missing_ok=True)
    for path in older:
        store.absolute(home, path).unlink(missing_ok=True)
    _prune_empty_dirs(home.trash)


def _older_versions(db, sops: list[str]) -> set[str]:
    """Earlier versions of these instances that changes kept for undo."""
    import json

    wanted, paths = set(sops), set()
    for (plan,) in db.execute("SELECT plan FROM changes WHERE state IN ('applied', 'undone')"):
        for op in json.loads(plan)["files"]:
            if op["sop"] in wanted and op["kind"] == "rewrite":
                paths.update(p for p in (op["old"], op["new"]) if not os.path.isabs(p))
    return paths


def _prune_empty_dirs(root) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
        except OSError:
            pass


