"""The one map from DICOM keywords to cache columns, and header extraction.

Reading is tolerant: a missing or malformed value becomes '' (or None for
numbers) instead of an error; only the three UIDs are required.
"""

from __future__ import annotations

from typing import Any

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
    return {col: (int_value(ds, kw) if col in INTEGER_COLUMNS else text_value(ds, kw))
            for col, kw in columns.items()}


def norm(text: str) -> str:
    """Upper-cased form used for case-insensitive matching."""
    return text.upper()


def name_norm(name: str) -> str:
    """Person name for matching: upper case, component groups joined by '^'.

    'Doe^John=DOE^JOHN' -> 'DOE^JOHN^DOE^JOHN', so a pattern may match the
    whole name or any one component (see app.worklist)."""
    return name.upper().replace("=", "^").rstrip("^")
