"""What an export will write: every instance of the chosen studies, from the
cache, in patient / study / series / instance-number order."""

from __future__ import annotations

from dataclasses import dataclass

from app import store
from app.worklist import query as worklist
from app.home import Home


@dataclass(frozen=True)
class Item:
    index: int
    path: str               # absolute file path
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    patient_id: str
    patient_label: str      # readable folder names of a plain export
    study_label: str
    series_label: str
    identifying: tuple      # (keyword, kind, value) known from the cache, for the scan


_SELECT = """
SELECT i.sop_instance_uid, i.path, se.series_instance_uid, se.modality, se.series_number,
       se.series_description, st.study_instance_uid, st.study_date, st.accession_number,
       st.study_description, st.referring_physician_name, p.patient_id, p.patient_name,
       p.patient_birth_date, p.patient_telephone_numbers, p.issuer_of_patient_id
FROM instances i
JOIN series se ON se.series_instance_uid = i.series_instance_uid
JOIN studies st ON st.study_instance_uid = se.study_instance_uid
JOIN patients p ON p.id = st.patient_pk
WHERE st.study_instance_uid = ?
ORDER BY se.series_number IS NULL, se.series_number, se.series_instance_uid,
         i.instance_number IS NULL, i.instance_number, i.sop_instance_uid
"""


def resolve(db, study_uids: list[str]) -> list[str]:
    """Whole UIDs for the given UIDs or prefixes, each once, in the given order."""
    out: list[str] = []
    for text in study_uids:
        uid = worklist.resolve_study_uid(db, text)
        if uid not in out:
            out.append(uid)
    return out


def items(home: Home, db, study_uids: list[str]) -> list[Item]:
    from app.deid.pipeline import known_identifiers

    out: list[Item] = []
    for study_uid in study_uids:
        for row in db.execute(_SELECT, [study_uid]):
            (sop, path, series, modality, number, series_desc, study, date, accession,
             study_desc, referring, patient_id, name, birth, phone, issuer) = row
            identifying = known_identifiers(name, patient_id, birth, phone, issuer, accession,
                                            referring)
            out.append(Item(
                index=len(out), path=str(store.absolute(home, path)), sop_instance_uid=sop,
                series_instance_uid=series, study_instance_uid=study, patient_id=patient_id,
                patient_label=f"{patient_id}_{name}",
                study_label=f"{date}_{accession or study_desc}",
                series_label=f"{number if number is not None else ''}_{modality}_{series_desc}",
                identifying=identifying))
    return out
