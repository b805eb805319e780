"""DICOMDIR directory records (PS3.3 F.5) for the Basic Directory IOD.

PATIENT, STUDY and SERIES records, and IMAGE records (nearly every instance
on a disc), are made from the cache's columns without reading a file. The
other leaf types (RT, SR, presentation states, documents...) need keys the
cache does not hold: their header is read (without pixel data) and handed to
pydicom's public record makers (``pydicom.fileset.DIRECTORY_RECORDERS``); a
document's record (a measurement report) then keeps only the keys PS3.3 F.5
allows it (:func:`app.export.dicomdir.document_keys`), the export's DICOMDIR
rule, so that a disc and an export describe a report alike.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pydicom
from pydicom.dataset import Dataset
from pydicom.fileset import DIRECTORY_RECORDERS

from app.export.dicomdir import document_keys
from app.media.selection import Instance, Patient, Series, Study

_STORAGE = "1.2.840.10008.5.1.4.1.1."
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"

# Leaf record types other than IMAGE, by SOP Class UID (PS3.3 F.4, PS3.4 B.5).
_EXACT = {
    "481.2": "RT DOSE", "481.3": "RT STRUCTURE SET", "481.5": "RT PLAN", "481.8": "RT PLAN",
    "481.4": "RT TREAT RECORD", "481.6": "RT TREAT RECORD", "481.7": "RT TREAT RECORD",
    "481.9": "RT TREAT RECORD", "88.59": "KEY OBJECT DOC", "4.2": "SPECTROSCOPY",
    "66": "RAW DATA", "66.1": "REGISTRATION", "66.3": "REGISTRATION", "66.2": "FIDUCIAL",
    "66.5": "SURFACE", "66.6": "TRACT", "67": "VALUE MAP", "68.1": "SURFACE SCAN",
    "68.2": "SURFACE SCAN", "90.1": "ASSESSMENT", "131": "PRESENTATION",
    "77.1.5.3": "STEREOMETRIC", "78.6": "SR DOCUMENT", "79.1": "SR DOCUMENT",
}
# ... and by family (the first number after the storage root)
_FAMILY = {"11": "PRESENTATION", "9": "WAVEFORM", "88": "SR DOCUMENT", "104": "ENCAP DOC",
           "78": "MEASUREMENT", "80": "MEASUREMENT"}
# Second-generation radiotherapy objects go by modality (PS3.3 F.5.40).
_RT_MODALITIES = {"RTINTENT": "RADIOTHERAPY", "RTSEGANN": "RADIOTHERAPY",
                  "RTRAD": "RADIOTHERAPY", "PLAN": "PLAN"}


def record_type(sop_class_uid: str, modality: str = "") -> str:
    if modality in _RT_MODALITIES:
        return _RT_MODALITIES[modality]
    if not sop_class_uid.startswith(_STORAGE):
        return "IMAGE"
    tail = sop_class_uid[len(_STORAGE):]
    if tail in _EXACT:
        return _EXACT[tail]
    family, dot, _ = tail.partition(".")
    return _FAMILY.get(family, "IMAGE") if dot else "IMAGE"


@dataclass
class Node:
    """A directory record and the records below it. IMAGE records, nearly
    every record of a disc, come already encoded (``encoded``) instead of as
    a Dataset: building and encoding thousands of Datasets was most of the
    time of a DICOMDIR (docs/performance/burn.md)."""

    record: Optional[Dataset] = None
    children: list["Node"] = field(default_factory=list)
    # for leaves: the file the record references (relative to the disc root)
    file_id: Optional[tuple[str, ...]] = None
    encoded: Optional[bytes] = None

    @property
    def kind(self) -> str:
        return "IMAGE" if self.record is None else str(self.record.DirectoryRecordType)


def _charset(*texts: str) -> Optional[str]:
    """The Specific Character Set the record's text needs (None: ASCII)."""
    if all(t.isascii() for t in texts):
        return None
    try:
        for t in texts:
            t.encode("latin-1")
        return "ISO_IR 100"
    except UnicodeEncodeError:
        return "ISO_IR 192"


def _record(kind: str, charset: Optional[str] = None) -> Dataset:
    ds = Dataset()
    ds.OffsetOfTheNextDirectoryRecord = 0
    ds.RecordInUseFlag = 0xFFFF
    ds.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    ds.DirectoryRecordType = kind
    if charset:
        ds.SpecificCharacterSet = charset
    return ds


def patient_record(p: Patient) -> Dataset:
    ds = _record("PATIENT", _charset(p.patient_name, p.patient_id))
    ds.PatientName = p.patient_name
    ds.PatientID = p.patient_id or "UNKNOWN"
    return ds


def study_record(s: Study) -> Dataset:
    ds = _record("STUDY", _charset(s.study_description, s.accession_number, s.study_id))
    # Type 1 keys a header may lack: the DICOMDIR still needs a value
    ds.StudyDate = s.study_date or "19000101"
    ds.StudyTime = s.study_time or "000000"
    ds.StudyDescription = s.study_description
    ds.StudyInstanceUID = s.study_instance_uid
    ds.StudyID = s.study_id or (s.accession_number[:16] if s.accession_number else "1")
    ds.AccessionNumber = s.accession_number
    return ds


def series_record(s: Series, ordinal: int) -> Dataset:
    ds = _record("SERIES")
    ds.Modality = s.modality or "OT"
    ds.SeriesInstanceUID = s.series_instance_uid
    ds.SeriesNumber = s.series_number if s.series_number is not None else ordinal
    return ds


# Values for Type 1 keys that a malformed object may lack, so that its record
# is still valid (a missing InstanceNumber takes the object's ordinal).
_FILLERS = {
    "StructureSetLabel": "UNNAMED", "RTPlanLabel": "UNNAMED", "ContentLabel": "UNNAMED",
    "DoseSummationType": "PLAN", "CompletionFlag": "PARTIAL", "VerificationFlag": "UNVERIFIED",
    "MIMETypeOfEncapsulatedDocument": "application/octet-stream",
}
_DATE_KEYS = ("ContentDate", "PresentationCreationDate", "InstanceCreationDate")
_TIME_KEYS = ("ContentTime", "PresentationCreationTime")


def _fill(ds: Dataset, ordinal: int, study: Study) -> None:
    def missing(keyword: str) -> bool:
        return keyword not in ds or ds[keyword].VM == 0

    if missing("InstanceNumber"):
        ds.InstanceNumber = ordinal
    for keyword, value in _FILLERS.items():
        if missing(keyword):
            setattr(ds, keyword, value)
    for keyword in _DATE_KEYS:
        if missing(keyword):
            setattr(ds, keyword, study.study_date or "19000101")
    for keyword in _TIME_KEYS:
        if missing(keyword):
            setattr(ds, keyword, study.study_time or "000000")
    if missing("ConceptNameCodeSequence"):
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121181", "DCM", "Document"
        ds.ConceptNameCodeSequence = [code]


def read_header(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def _element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit VR little endian element with a 2-byte length."""
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def _even(text: str, pad: bytes) -> bytes:
    data = text.encode("ascii")
    return data + pad if len(data) % 2 else data


def image_record(file_id: tuple[str, ...], sop_class: str, sop_instance: str,
                 transfer_syntax: str, instance_number: int) -> bytes:
    """The encoded IMAGE record (PS3.3 F.5.18): exactly what pydicom writes
    for the same Dataset (tests/media/test_rules.py holds them equal)."""
    return b"".join((
        _element(0x0004, 0x1400, b"UL", b"\0\0\0\0"),
        _element(0x0004, 0x1410, b"US", struct.pack("<H", 0xFFFF)),
        _element(0x0004, 0x1420, b"UL", b"\0\0\0\0"),
        _element(0x0004, 0x1430, b"CS", _even("IMAGE", b" ")),
        _element(0x0004, 0x1500, b"CS", _even("\\".join(file_id), b" ")),
        _element(0x0004, 0x1510, b"UI", _even(sop_class, b"\0")),
        _element(0x0004, 0x1511, b"UI", _even(sop_instance, b"\0")),
        _element(0x0004, 0x1512, b"UI", _even(transfer_syntax, b"\0")),
        _element(0x0020, 0x0013, b"IS", _even(str(instance_number), b" ")),
    ))


def leaf_node(instance: Instance, series: Series, study: Study, ordinal: int,
              file_id: tuple[str, ...], header: Callable[[], Dataset]) -> Node:
    """The leaf record of *instance*; *header* reads its header when the
    record type needs more than the cache holds."""
    number = instance.instance_number if instance.instance_number is not None else ordinal
    syntax = instance.transfer_syntax_uid or EXPLICIT_VR_LITTLE_ENDIAN
    kind = record_type(instance.sop_class_uid, series.modality)
    uids = (instance.sop_class_uid, instance.sop_instance_uid, syntax)
    if kind == "IMAGE" and all(u.isascii() and len(u) <= 64 for u in uids) and abs(number) < 10**11:
        return Node(file_id=file_id, encoded=image_record(file_id, *uids, number))
    return Node(leaf_record(instance, series, study, ordinal, file_id, header), file_id=file_id)


def leaf_record(instance: Instance, series: Series, study: Study, ordinal: int,
                file_id: tuple[str, ...],
                header: Callable[[], Dataset]) -> Dataset:
    """The leaf record of *instance* as a Dataset (see :func:`leaf_node`)."""
    kind = record_type(instance.sop_class_uid, series.modality)
    if kind == "IMAGE":
        ds = _record("IMAGE")
        ds.InstanceNumber = instance.instance_number if instance.instance_number is not None else ordinal
    else:
        source = header()
        try:
            keys = DIRECTORY_RECORDERS[kind](source)
        except (ValueError, KeyError, AttributeError):
            _fill(source, ordinal, study)
            keys = DIRECTORY_RECORDERS[kind](source)
        ds = _record(kind, source.get("SpecificCharacterSet"))
        ds.update(document_keys(kind, keys))
    ds.ReferencedFileID = list(file_id)
    ds.ReferencedSOPClassUIDInFile = instance.sop_class_uid
    ds.ReferencedSOPInstanceUIDInFile = instance.sop_instance_uid
    ds.ReferencedTransferSyntaxUIDInFile = instance.transfer_syntax_uid or EXPLICIT_VR_LITTLE_ENDIAN
    return ds
