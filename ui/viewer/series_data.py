"""What a viewer reads from the cache to open a series: its images in
display order (a multi-frame image gives one position per frame), the
patient, study and series text of the corner, and the study's other series
with images (what the 1x2 and 2x2 layouts hang beside it). Read on a pool
thread through ``runner.read``; nothing here touches Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.worklist.query import resolve_series_uid
from ui.viewer.frames import SeriesImage, series_images


@dataclass
class SeriesData:
    series_uid: str
    header: dict
    positions: list[tuple[SeriesImage, int]]  # (image, 0-based frame) per scroll position
    study_series: list[dict] = field(default_factory=list)  # {"series_instance_uid", "label"}


_HEADER = """
SELECT p.patient_name, p.patient_id, p.patient_birth_date, p.patient_sex,
       st.study_instance_uid, st.study_description, st.study_date,
       se.series_number, se.series_description, se.modality
  FROM series se JOIN studies st ON st.study_instance_uid = se.study_instance_uid
  JOIN patients p ON p.id = st.patient_pk
 WHERE se.series_instance_uid = ?"""

_STUDY_SERIES = """
SELECT se.series_instance_uid, se.series_number, se.series_description, se.modality,
       se.instance_count
  FROM series se
 WHERE se.study_instance_uid = ? AND EXISTS (
       SELECT 1 FROM instances i WHERE i.series_instance_uid = se.series_instance_uid
          AND i.rows > 0)
 ORDER BY se.series_number IS NULL, se.series_number, se.series_instance_uid"""


def read_series(home, db, series_uid: str) -> SeriesData:
    """The series (UID or unambiguous prefix); raises NotFound when the cache lacks it."""
    uid = resolve_series_uid(db, series_uid)
    row = db.execute(_HEADER, [uid]).fetchone()
    keys = ("patient_name", "patient_id", "birth_date", "sex", "study_instance_uid",
            "study_description", "study_date", "series_number", "series_description", "modality")
    header = dict(zip(keys, row)) if row else {}
    positions = [(image, f) for image in series_images(home, db, uid) for f in range(image.frames)]
    study = []
    if row:
        for s_uid, number, description, modality, count in db.execute(_STUDY_SERIES, [row[4]]):
            label = f"{number if number is not None else '-'}  {modality}  {description}".strip()
            study.append({"series_instance_uid": s_uid, "label": f"{label} ({count})"})
    return SeriesData(uid, header, positions, study)
