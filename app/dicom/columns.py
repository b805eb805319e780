"""The one map from DICOM keywords to cache columns, and header extraction.

Reading is tolerant: a missing or malformed value becomes '' (or None for
numbers) instead of an error; only the three UIDs are required.
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword

# table -> {column: keyword}
PATIENT_COLUMNS = {
    "patient_id": "PatientID",
    "issuer_of_patient_id": "IssuerOfPatientID",
    "patient_name": "PatientName",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "patient_telephone_numbers": "PatientTelephoneNumbers",
    "confidentiality": "ConfidentialityConstraintOnPatientDataDescription",
}
STUDY_COLUMNS = {
    "study_instance_uid": "StudyInstanceUID",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "accession_number": "AccessionNumber",
    "study_id": "StudyID",
    "study_description": "StudyDescription",
    "referring_physician_name": "ReferringPhysicianName",
}
SERIES_COLUMNS = {
    "series_instance_uid": "SeriesInstanceUID",
    "modality": "Modality",
    "series_number": "SeriesNumber",
    "series_description": "SeriesDescription",
    "body_part_examined": "BodyPartExamined",
    "frame_of_reference_uid": "FrameOfReferenceUID",
    "series_date": "SeriesDate",
}
INSTANCE_COLUMNS = {
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "instance_number": "InstanceNumber",
    "rows": "Rows",
    "columns": "Columns",
    "number_of_frames": "NumberOfFrames",
}
INTEGER_COLUMNS = {"series_number", "instance_number", "rows", "columns", "number_of_frames"}

# The Patient and Study module attributes an instance takes from its
# destination when it is merged or reallocated (change-journal issue).
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "AccessionNumber", "StudyDate", "StudyTime", "StudyID",
    "StudyDescription", "ReferringPhysicianName",
)


def text_value(ds, keyword: str) -> str:
    """The element's value as text; multi-valued joined by backslash."""
    try:
        elem = ds[keyword] if keyword in ds else None
    except Exception:  # malformed raw element: tolerate
        return ""
    if elem is None:
        return ""
    try:
        value = elem.value
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).strip()
    if isinstance(value, bytes):
        return value.decode("latin-1", "replace").strip("\x00 ")
    return str(value).strip()


def int_value(ds, keyword: str) -> int | None:
    text = text_value(ds, keyword).split("\\")[0]
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def extract(ds, columns: dict[str, str]) -> dict[str, Any]:
    """Column values of *ds*. Raw (not yet converted) elements are decoded
    directly from their bytes where that is unambiguous: pydicom's full
    conversion costs twice the parse itself (see docs/PERFORMANCE.md)."""
    fast = _fast_charset(ds)
    elements = ds._dict
    out: dict[str, Any] = {}
    for col, kw in columns.items():
        tag, vr, integer = _plan(kw, col)
        value = _raw_value(elements.get(tag), vr, integer) if fast else _MISSING
        if value is _MISSING:
            value = int_value(ds, kw) if integer else text_value(ds, kw)
        out[col] = value
    return out


_MISSING = object()
_PLANS: dict[tuple[str, str], tuple[int, str, bool]] = {}
_TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI", "UC", "UT"}
_BINARY_INT = {"US": "<H", "SS": "<h", "UL": "<L", "SL": "<l"}


def _plan(keyword: str, column: str) -> tuple[int, str, bool]:
    plan = _PLANS.get((keyword, column))
    if plan is None:
        tag = tag_for_keyword(keyword)
        plan = _PLANS[(keyword, column)] = (tag, dictionary_VR(tag), column in INTEGER_COLUMNS)
    return plan


def _fast_charset(ds) -> bool:
    """Latin-1 decoding is exact for the default repertoire and ISO_IR 100."""
    raw = ds._dict.get(0x00080005)
    if raw is None:
        return True
    value = getattr(raw, "value", None)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    return value.strip(" \x00") in ("", "ISO_IR 6", "ISO_IR 100", "ISO 2022 IR 6")


def _raw_value(raw, dictionary_vr: str, integer: bool):
    """The value of a raw element decoded from its bytes, or _MISSING when
    only pydicom's conversion can tell."""
    if raw is None:
        return None if integer else ""
    if not getattr(raw, "is_raw", False):
        return _MISSING
    data = raw.value
    if data is None:
        return None if integer else ""
    vr = raw.VR or dictionary_vr
    if vr in _TEXT_VRS:
        text = data.decode("latin-1").strip(" \x00")
        if not integer:
            return text
        first = text.split("\\")[0].strip()
        try:
            return int(float(first)) if first else None
        except ValueError:
            return None
    fmt = _BINARY_INT.get(vr)
    if integer and fmt:
        if not raw.is_little_endian:
            fmt = ">" + fmt[1:]
        size = struct.calcsize(fmt)
        if len(data) >= size:
            return struct.unpack(fmt, data[:size])[0]
    return _MISSING


def norm(text: str) -> str:
    """Upper-cased form used for case-insensitive matching."""
    return text.upper()


def name_norm(name: str) -> str:
    """Person name for matching: upper case, component groups joined by '^'.

    'Doe^John=DOE^JOHN' -> 'DOE^JOHN^DOE^JOHN', so a pattern may match the
    whole name or any one component (see app.worklist.query)."""
    return name.upper().replace("=", "^").rstrip("^")


def name_parts(name: str) -> list[str]:
    """The distinct non-empty components of a person name, upper-cased."""
    return sorted({part.strip() for part in name_norm(name).split("^") if part.strip()})
