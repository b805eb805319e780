"""A patient's prior studies, as a radiologist compares them: the earlier
exams of the same patient in the cache, each with its series most like the
one being read, and where each image of a series lies along the slice normal
(what synchronised scrolling matches, ui/viewer/sync.py).

A series is comparable when it has the same modality and, where both
headers say, the same orientation (axial, coronal or sagittal: a sagittal
prior beside an axial CT cannot be scrolled in step). Among those, the one
whose body part and description share most with the current series wins
(a "Chest lung 8mm" prior for a "Chest lung 5mm" today, not the
mediastinum window). A prior study without a comparable series is not
offered: there would be nothing to put beside the current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import pydicom

from app.viewer.series import along_normal, series_images
from app.worklist.query import resolve_series_uid

_GEOMETRY_TAGS = ["ImagePositionPatient", "ImageOrientationPatient", "FrameOfReferenceUID",
                  "NumberOfFrames", "SharedFunctionalGroupsSequence",
                  "PerFrameFunctionalGroupsSequence"]

_SERIES = """
SELECT se.series_instance_uid, se.series_number, se.series_description, se.modality,
       se.body_part_examined, st.study_instance_uid, st.study_date, st.study_time,
       st.patient_pk
  FROM series se JOIN studies st ON st.study_instance_uid = se.study_instance_uid
 WHERE se.series_instance_uid = ?"""

_EARLIER_SERIES = """
SELECT se.series_instance_uid, se.series_number, se.series_description, se.body_part_examined,
       st.study_instance_uid, st.study_date, st.study_time, st.study_description,
       st.accession_number
  FROM studies st JOIN series se ON se.study_instance_uid = st.study_instance_uid
 WHERE st.patient_pk = ? AND st.state = 'active' AND st.study_instance_uid != ?
   AND st.study_date != '' AND st.study_date || st.study_time < ? AND se.modality = ?
   AND EXISTS (SELECT 1 FROM instances i WHERE i.series_instance_uid = se.series_instance_uid
                  AND i.rows > 0)
 ORDER BY st.study_date DESC, st.study_time DESC, se.series_number IS NULL, se.series_number"""


@dataclass(frozen=True)
class Prior:
    """An earlier study of the patient and its series most like the current one."""

    study_instance_uid: str
    study_date: str
    study_description: str
    accession_number: str
    series_instance_uid: str
    series_number: Optional[int]
    series_description: str

    @property
    def label(self) -> str:
        date = self.study_date
        if len(date) == 8 and date.isdigit():
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        number = "-" if self.series_number is None else self.series_number
        return f"{date}  {self.study_description}  (Se {number}: {self.series_description})"


def prior_studies(home, db, series_uid: str) -> list[Prior]:
    """The patient's earlier studies holding a series comparable to
    `series_uid` (see the module), most recent first."""
    uid = resolve_series_uid(db, series_uid)
    row = db.execute(_SERIES, [uid]).fetchone()
    if row is None:
        return []
    _, _, description, modality, body_part, study_uid, date, time, patient_pk = row
    orientation = _orientation_of(home, db, uid)
    words = _words(description)
    by_study: dict[str, list[tuple]] = {}
    for cand in db.execute(_EARLIER_SERIES, [patient_pk, study_uid, (date or "") + (time or ""),
                                             modality]):
        by_study.setdefault(cand[4], []).append(cand)
    priors = []
    for candidates in by_study.values():  # most recent study first (dict keeps the order)
        best, best_score = None, -1.0
        for cand in candidates:
            other = _orientation_of(home, db, cand[0])
            if orientation and other and other != orientation:
                continue
            score = _likeness(words, _words(cand[2])) + (
                1.0 if body_part and body_part == cand[3] else 0.0)
            if score > best_score:  # ties: the lower series number (listed first)
                best, best_score = cand, score
        if best is not None:
            s_uid, number, s_desc, _, st_uid, st_date, _, st_desc, accession = best
            priors.append(Prior(st_uid, st_date, st_desc, accession, s_uid, number, s_desc))
    return priors


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", (text or "").lower()) if w}


def _likeness(a: set[str], b: set[str]) -> float:
    """Shared words over all words (0..1)."""
    return len(a & b) / len(a | b) if a and b else 0.0


def _orientation_of(home, db, series_uid: str) -> str:
    """'axial', 'coronal' or 'sagittal' from the first image's header; '' when unknown."""
    images = series_images(home, db, series_uid)
    if not images:
        return ""
    geometry = _image_geometry(images[0].path)
    return plane_name(geometry[0][1]) if geometry and geometry[0][1] else ""


def plane_name(orientation) -> str:
    """The anatomical plane an Image Orientation (Patient) is nearest to."""
    rx, ry, rz, cx, cy, cz = (float(v) for v in orientation)
    normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
    axis = max(range(3), key=lambda i: abs(normal[i]))
    return ("sagittal", "coronal", "axial")[axis]


# --------------------------------------------------------------------------
# where each image of a series lies


@dataclass
class SeriesGeometry:
    """Per scroll position (the viewer's display order, a frame per position
    for a multi-frame image): the image's position (Image Position Patient,
    None where the header has none), and the series' plane and frame of
    reference."""

    series_uid: str
    origins: list[Optional[tuple[float, float, float]]] = field(default_factory=list)
    orientation: Optional[tuple[float, ...]] = None
    frame_of_reference: str = ""

    @property
    def normal(self) -> Optional[tuple[float, float, float]]:
        if not self.orientation:
            return None
        rx, ry, rz, cx, cy, cz = self.orientation
        return (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)

    def along(self, orientation) -> list[Optional[float]]:
        """Each position projected on the normal of `orientation` (mm): two
        series are compared along one and the same axis."""
        if not orientation:
            return [None] * len(self.origins)
        return [along_normal(o, orientation) if o else None for o in self.origins]


def series_geometry(home, db, series_uid: str) -> SeriesGeometry:
    """See :class:`SeriesGeometry`; headers only, no pixel data read."""
    uid = resolve_series_uid(db, series_uid)
    geometry = SeriesGeometry(uid)
    for image in series_images(home, db, uid):
        frames = _image_geometry(image.path, image.frames)
        frames += [(None, None)] * (image.frames - len(frames))
        for origin, orientation in frames[:image.frames]:
            geometry.origins.append(origin)
            if geometry.orientation is None and orientation:
                geometry.orientation = orientation
        if not geometry.frame_of_reference:
            geometry.frame_of_reference = _frame_of_reference(image.path)
    return geometry


def _image_geometry(path, frames: int = 1) -> list[tuple]:
    """[(position, orientation)] per frame of the file; [] when unreadable."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                             specific_tags=_GEOMETRY_TAGS)
    except Exception:  # noqa: BLE001 - an unreadable file has no place; drawing it says why
        return []
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    found = []
    for f in range(max(1, frames)):
        item = per_frame[f] if f < len(per_frame) else None
        position = _from_groups(item, shared, "PlanePositionSequence", "ImagePositionPatient", 3)
        orientation = _from_groups(item, shared, "PlaneOrientationSequence",
                                   "ImageOrientationPatient", 6)
        found.append((position or _numbers(ds.get("ImagePositionPatient"), 3),
                      orientation or _numbers(ds.get("ImageOrientationPatient"), 6)))
    return found


def _frame_of_reference(path) -> str:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                             specific_tags=["FrameOfReferenceUID"])
    except Exception:  # noqa: BLE001
        return ""
    return str(ds.get("FrameOfReferenceUID", "") or "")


def _first_item(ds, keyword: str):
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _from_groups(item, shared, macro: str, keyword: str, count: int):
    for group in (item, shared):
        inner = _first_item(group, macro) if group is not None else None
        value = _numbers(inner.get(keyword), count) if inner is not None else None
        if value:
            return value
    return None


def _numbers(value, count: int):
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None
