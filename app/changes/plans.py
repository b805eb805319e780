"""Building change plans: snapshots of the rows a change touches and the
file operations that carry new attribute values into the files."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from app import store
from app.changes.journal import FileOp, snapshot

PATIENT_KEYWORDS = {
    "PatientName": "patient_name",
    "PatientID": "patient_id",
    "IssuerOfPatientID": "issuer_of_patient_id",
    "PatientBirthDate": "patient_birth_date",
    "PatientSex": "patient_sex",
}
STUDY_KEYWORDS = {
    "StudyInstanceUID": "study_instance_uid",
    "AccessionNumber": "accession_number",
    "StudyDate": "study_date",
    "StudyTime": "study_time",
    "StudyID": "study_id",
    "StudyDescription": "study_description",
    "ReferringPhysicianName": "referring_physician_name",
}


def patient_attrs(patient_row: dict) -> dict[str, str]:
    return {kw: patient_row[col] for kw, col in PATIENT_KEYWORDS.items()}


def study_attrs(study_row: dict) -> dict[str, str]:
    return {kw: study_row[col] for kw, col in STUDY_KEYWORDS.items()}


def rows_in(db, table: str, column: str, values: list) -> list[dict]:
    out: list[dict] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        out += snapshot(db, table, f"{column} IN ({','.join('?' * len(chunk))})", chunk)
    return out


def rewritten_path(instance: dict, study_uid: str) -> str:
    """Where the new version of an instance goes: beside the old one when it
    is in the trash, else by UID hierarchy; a fresh name either way, so the
    old version stays untouched for undo."""
    token = uuid.uuid4().hex[:10]
    name = f"{store.safe_uid(instance['sop_instance_uid'])}~{token}.dcm"
    old = PurePosixPath(instance["path"])
    if not instance["linked"] and old.parts and old.parts[0] == "trash":
        return str(old.with_name(name))
    folder = store.relative_path(study_uid, instance["series_instance_uid"], "x").parent
    return str(PurePosixPath(folder.as_posix()) / name)


def rewrite_instances(instances: list[dict], attrs: dict[str, str],
                      study_uid: str) -> tuple[list[dict], list[FileOp]]:
    """After-rows and rewrite operations giving *instances* the attributes."""
    after, ops = [], []
    for row in instances:
        new = dict(row)
        new["path"] = rewritten_path(row, study_uid)
        new["linked"] = 0
        after.append(new)
        ops.append(FileOp("rewrite", row["sop_instance_uid"], row["path"], new["path"], dict(attrs)))
    return after, ops
