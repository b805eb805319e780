"""What goes on a disc, read from the cache: patients, studies, series,
instances, with every header field a DICOMDIR record needs (so no file is
re-read to write the directory: shared/FACTS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from app import store
from app.errors import NotFound
from app.home import Home
from app.worklist.query import resolve_study_uid


@dataclass(frozen=True)
class Patient:
    patient_id: str
    patient_name: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""


@dataclass
class Instance:
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    instance_number: Optional[int]
    size: int
    source: Path
    sha256: Optional[str] = None


@dataclass
class Series:
    series_instance_uid: str
    modality: str
    series_number: Optional[int]
    series_description: str = ""
    instances: list[Instance] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(i.size for i in self.instances)


@dataclass
class Study:
    study_instance_uid: str
    patient: Patient
    study_date: str = ""
    study_time: str = ""
    study_id: str = ""
    accession_number: str = ""
    study_description: str = ""
    referring_physician_name: str = ""
    series: list[Series] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.series)

    @property
    def instance_count(self) -> int:
        return sum(len(s.instances) for s in self.series)

    @property
    def modalities(self) -> list[str]:
        return sorted({s.modality for s in self.series if s.modality})

    def with_series(self, series: list[Series]) -> "Study":
        """This study holding only *series* (a part of it on one disc)."""
        return replace(self, series=series)


_STUDIES = """
SELECT s.study_instance_uid, s.study_date, s.study_time, s.study_id, s.accession_number,
       s.study_description, s.referring_physician_name, p.patient_id, p.patient_name,
       p.patient_birth_date, p.patient_sex
FROM studies s JOIN patients p ON p.id = s.patient_pk WHERE s.study_instance_uid = ?
"""

_INSTANCES = """
SELECT se.series_instance_uid, se.modality, se.series_number, se.series_description,
       i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid, i.instance_number,
       i.size, i.path, i.sha256
FROM series se JOIN instances i ON i.series_instance_uid = se.series_instance_uid
WHERE se.study_instance_uid = ?
ORDER BY se.series_number IS NULL, se.series_number, se.series_instance_uid,
         i.instance_number IS NULL, i.instance_number, i.sop_instance_uid
"""


def load(home: Home, db, study_uids: list[str]) -> list[Study]:
    """The studies (whole UIDs or prefixes), in the order given, each once."""
    studies: list[Study] = []
    seen: set[str] = set()
    for text in study_uids:
        uid = resolve_study_uid(db, text)
        if uid in seen:
            continue
        seen.add(uid)
        studies.append(_study(home, db, uid))
    if not studies:
        raise NotFound("burn: no study given")
    return studies


def _study(home: Home, db, uid: str) -> Study:
    row = db.execute(_STUDIES, [uid]).fetchone()
    if row is None:
        raise NotFound(f"study {uid}: not in the cache")
    patient = Patient(*(v or "" for v in row[7:11]))
    study = Study(row[0], patient, *(v or "" for v in row[1:7]))
    by_uid: dict[str, Series] = {}
    for r in db.execute(_INSTANCES, [uid]):
        series = by_uid.get(r[0])
        if series is None:
            series = by_uid[r[0]] = Series(r[0], r[1] or "", r[2], r[3] or "")
            study.series.append(series)
        series.instances.append(Instance(
            sop_instance_uid=r[4], sop_class_uid=r[5] or "", transfer_syntax_uid=r[6] or "",
            instance_number=r[7], size=r[8] or 0, source=store.absolute(home, r[9]),
            sha256=r[10]))
    if not study.series:
        raise NotFound(f"study {uid}: holds no instances")
    return study
