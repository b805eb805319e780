"""The directory records of one instance, as a DICOMDIR needs them (PS3.3
F.5): patient, study and series keys and the leaf record pydicom would make.

Lower than both of its users, so neither depends on the other: the
de-identification pipeline (app.deid.pipeline) computes them in its workers
from each file as written, and the export (app.export.dicomdir) builds its
DICOMDIR from them without reading a file again.
"""

from __future__ import annotations

from pydicom import fileset
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian


def _text(ds: Dataset, keyword: str, fallback: str = "") -> str:
    value = ds.get(keyword, "")
    return str(value) if value not in (None, "") else fallback


def record_fields(ds: Dataset) -> dict:
    """What the directory records of one instance need (picklable)."""
    leaf_type = "IMAGE"
    leaf = Dataset()
    try:
        leaf_type = fileset._four_level_record_type(ds)  # noqa: SLF001 - pydicom's own choice
        leaf = fileset.DIRECTORY_RECORDERS[leaf_type](ds)
    except Exception:  # noqa: BLE001 - a record pydicom cannot build: a plain IMAGE record
        leaf_type, leaf = "IMAGE", Dataset()
        leaf.InstanceNumber = _text(ds, "InstanceNumber", "1")
    return {
        "patient": {"PatientID": _text(ds, "PatientID", "UNKNOWN"),
                    "PatientName": _text(ds, "PatientName")},
        "study": {"StudyInstanceUID": _text(ds, "StudyInstanceUID"),
                  "StudyDate": _text(ds, "StudyDate", "19000101"),
                  "StudyTime": _text(ds, "StudyTime", "000000"),
                  "StudyID": _text(ds, "StudyID", "0"),
                  "StudyDescription": _text(ds, "StudyDescription"),
                  "AccessionNumber": _text(ds, "AccessionNumber")},
        "series": {"SeriesInstanceUID": _text(ds, "SeriesInstanceUID"),
                   "Modality": _text(ds, "Modality", "OT"),
                   "SeriesNumber": _text(ds, "SeriesNumber", "0")},
        "leaf_type": leaf_type,
        "leaf": leaf,
        "sop_class": _text(ds, "SOPClassUID"),
        "sop_instance": _text(ds, "SOPInstanceUID"),
        "transfer_syntax": str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "")
                               or ExplicitVRLittleEndian),
    }
