"""Writing the catalogue rows (patients, studies, series, instances) and
keeping a study's counts in step with its instances."""

from __future__ import annotations

from typing import Iterable

from app.dicom.columns import name_norm, name_parts, norm


class Conflict(Exception):
    """The rows already say otherwise (str(e) is the plain reason)."""


def patient_pk(db, patient: dict) -> int:
    """The row of (PatientID, Issuer); created when new, blanks filled."""
    key = [patient["patient_id"], patient["issuer_of_patient_id"]]
    row = db.execute("SELECT id, patient_name, patient_birth_date, patient_sex,"
                     " patient_telephone_numbers, confidentiality FROM patients"
                     " WHERE patient_id = ? AND issuer_of_patient_id = ?", key).fetchone()
    if row is None:
        values = dict(patient, patient_id_norm=norm(patient["patient_id"]),
                      patient_name_norm=name_norm(patient["patient_name"]))
        cols = ", ".join(values)
        marks = ", ".join(":" + c for c in values)
        pk = db.execute(f"INSERT INTO patients ({cols}) VALUES ({marks})", values).lastrowid
        set_name_parts(db, pk, patient["patient_name"])
        return pk
    pk, *current = row
    names = ["patient_name", "patient_birth_date", "patient_sex",
             "patient_telephone_numbers", "confidentiality"]
    fill = {n: patient[n] for n, old in zip(names, current) if not old and patient[n]}
    if fill:
        if "patient_name" in fill:
            fill["patient_name_norm"] = name_norm(fill["patient_name"])
        sets = ", ".join(f"{c} = :{c}" for c in fill)
        db.execute(f"UPDATE patients SET {sets} WHERE id = :pk", dict(fill, pk=pk))
        if "patient_name" in fill:
            set_name_parts(db, pk, fill["patient_name"])
    return pk


def set_name_parts(db, pk: int, name: str) -> None:
    """Keep the name-component index of a patient in step with its name
    (call whenever a patient's name changes)."""
    db.execute("DELETE FROM patient_name_parts WHERE patient_pk = ?", [pk])
    db.conn.executemany("INSERT INTO patient_name_parts (patient_pk, part) VALUES (?, ?)",
                        [(pk, part) for part in name_parts(name)])


def ensure_study(db, study: dict, pk: int, now: str, source_node: str | None = None) -> None:
    uid = study["study_instance_uid"]
    row = db.execute("SELECT patient_pk, state FROM studies WHERE study_instance_uid = ?", [uid]).fetchone()
    if row is None:
        values = dict(study, patient_pk=pk, accession_norm=norm(study["accession_number"]),
                      description_norm=norm(study["study_description"]), imported_at=now,
                      source_node=source_node)
        cols = ", ".join(values)
        marks = ", ".join(":" + c for c in values)
        db.execute(f"INSERT INTO studies ({cols}) VALUES ({marks})", values)
        return
    if row[1] == "trashed":
        raise Conflict(f"study {uid} is in the trash: restore it before importing more of it")
    if row[0] != pk:
        owner = db.execute("SELECT patient_id FROM patients WHERE id = ?", [row[0]]).fetchone()[0]
        raise Conflict(f"study {uid} belongs to patient {owner!r} in the cache, "
                       "the file names another patient (reallocate or merge instead)")


def ensure_series(db, series: dict, study_uid: str) -> None:
    uid = series["series_instance_uid"]
    row = db.execute("SELECT study_instance_uid FROM series WHERE series_instance_uid = ?", [uid]).fetchone()
    if row is None:
        values = dict(series, study_instance_uid=study_uid)
        cols = ", ".join(values)
        marks = ", ".join(":" + c for c in values)
        db.execute(f"INSERT INTO series ({cols}) VALUES ({marks})", values)
    elif row[0] != study_uid:
        raise Conflict(f"series {uid} belongs to study {row[0]} in the cache, the file names study {study_uid}")


def insert_instance(db, values: dict) -> None:
    cols = ", ".join(values)
    marks = ", ".join(":" + c for c in values)
    db.execute(f"INSERT INTO instances ({cols}) VALUES ({marks})", values)


def refresh_counts(db, study_uids: Iterable[str]) -> None:
    """Recompute the denormalised counts, size and modalities of studies."""
    for uid in set(study_uids):
        db.execute("UPDATE series SET instance_count = (SELECT count(*) FROM instances i"
                   " WHERE i.series_instance_uid = series.series_instance_uid)"
                   " WHERE study_instance_uid = ?", [uid])
        count, size = db.execute(
            "SELECT count(*), coalesce(sum(i.size), 0) FROM instances i JOIN series s"
            " ON s.series_instance_uid = i.series_instance_uid WHERE s.study_instance_uid = ?",
            [uid]).fetchone()
        modalities = sorted({m for (m,) in db.execute(
            "SELECT DISTINCT modality FROM series WHERE study_instance_uid = ? AND modality != ''", [uid])})
        series_count = db.execute("SELECT count(*) FROM series WHERE study_instance_uid = ?",
                                  [uid]).fetchone()[0]
        db.execute("UPDATE studies SET series_count = ?, instance_count = ?, size_bytes = ?,"
                   " modalities = ? WHERE study_instance_uid = ?",
                   [series_count, count, size, "\\".join(modalities), uid])
