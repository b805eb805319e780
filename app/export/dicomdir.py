"""A DICOMDIR (PS3.10 / PS3.3 F.5) for the files of an export, built from
their headers as they were written (de-identified when anonymised), without
re-reading or copying any file.

Offsets between records are byte positions in the DICOMDIR file: it is
written once, read back to learn where each record starts, and written again
with the offsets filled in (they are fixed-size UL values, so nothing moves).

A document's record (an SR DOCUMENT or KEY OBJECT DOC: a measurement report)
keeps only the keys PS3.3 F.5 gives it (:func:`document_keys`): pydicom's
record makers copy the report's whole content tree, which a DICOMDIR may not
hold.
"""

from __future__ import annotations

import io
from typing import Optional

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MediaStorageDirectoryStorage

from app.dicom.meta import file_meta_dataset
from app.export.names import check_member


# Leaf records keyed by the document's title (PS3.3 Tables F.5-25 and F.5-26)
DOCUMENT_RECORDS = ("SR DOCUMENT", "KEY OBJECT DOC")


def document_keys(kind: str, keys: Dataset) -> Dataset:
    """*keys* (a record maker's output) as PS3.3 F.5 allows them for *kind*.

    For an SR DOCUMENT or KEY OBJECT DOC record the Content Sequence holds
    "all, and only" the root's HAS CONCEPT MOD items (the document title's
    modifiers), each its Relationship Type and Document Content Macro, so
    without Content Sequences of their own; with none, the sequence is left
    out (it is Type 1C). Other kinds are returned as they are. The report's
    own items are never changed: the kept ones are copies.
    """
    if kind not in DOCUMENT_RECORDS or "ContentSequence" not in keys:
        return keys
    modifiers = Sequence()
    for item in keys.ContentSequence:
        if item.get("RelationshipType") != "HAS CONCEPT MOD":
            continue
        kept = Dataset()
        for elem in item:
            if elem.keyword != "ContentSequence":
                kept.add(elem)
        modifiers.append(kept)
    trimmed = Dataset()
    for elem in keys:
        if elem.keyword != "ContentSequence":
            trimmed.add(elem)
    if modifiers:
        trimmed.ContentSequence = modifiers
    return trimmed


def _record(kind: str, values: dict) -> Dataset:
    record = Dataset()
    record.OffsetOfTheNextDirectoryRecord = 0
    record.RecordInUseFlag = 0xFFFF
    record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    record.DirectoryRecordType = kind
    for keyword, value in values.items():
        setattr(record, keyword, value)
    return record


class _Node:
    def __init__(self, record: Dataset):
        self.record = record
        self.children: dict[str, "_Node"] = {}


def build(entries: list[tuple[str, dict]], instance_uid: str, file_set_id: str = "STUDYDESK") -> bytes:
    """A DICOMDIR for ``(member name, app.dicom.records.record_fields(...))`` pairs."""
    roots: dict[str, _Node] = {}
    for member, fields in entries:
        check_member(member)
        patient = roots.setdefault(fields["patient"]["PatientID"],
                                   _Node(_record("PATIENT", fields["patient"])))
        study = patient.children.setdefault(fields["study"]["StudyInstanceUID"],
                                            _Node(_record("STUDY", fields["study"])))
        series = study.children.setdefault(fields["series"]["SeriesInstanceUID"],
                                           _Node(_record("SERIES", fields["series"])))
        leaf = _record(fields["leaf_type"], {})
        for elem in document_keys(fields["leaf_type"], fields["leaf"]):
            leaf.add(elem)
        leaf.ReferencedFileID = member.split("/")
        leaf.ReferencedSOPClassUIDInFile = fields["sop_class"]
        leaf.ReferencedSOPInstanceUIDInFile = fields["sop_instance"]
        leaf.ReferencedTransferSyntaxUIDInFile = fields["transfer_syntax"]
        series.children[member] = _Node(leaf)

    ordered: list[Dataset] = []
    levels: list[list[_Node]] = []

    def flatten(nodes: list[_Node]) -> None:
        levels.append(nodes)
        for node in nodes:
            ordered.append(node.record)
            flatten(list(node.children.values()))

    flatten(list(roots.values()))
    ds = _document(ordered, instance_uid, file_set_id)
    positions = _positions(_encode(ds))
    where = {id(record): pos for record, pos in zip(ordered, positions)}
    for siblings in levels:
        for node, after in zip(siblings, siblings[1:] + [None]):
            node.record.OffsetOfTheNextDirectoryRecord = where[id(after.record)] if after else 0
            first = next(iter(node.children.values()), None)
            node.record.OffsetOfReferencedLowerLevelDirectoryEntity = (
                where[id(first.record)] if first else 0)
    top = list(roots.values())
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = where[id(top[0].record)] if top else 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = where[id(top[-1].record)] if top else 0
    return _encode(ds)


def _document(records: list[Dataset], instance_uid: str, file_set_id: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = file_meta_dataset(MediaStorageDirectoryStorage, instance_uid, ExplicitVRLittleEndian)
    ds.preamble = b"\x00" * 128
    ds.FileSetID = file_set_id[:16]
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    ds.DirectoryRecordSequence = Sequence(records)
    return ds


def _encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _positions(data: bytes) -> list[Optional[int]]:
    ds = pydicom.dcmread(io.BytesIO(data))
    return [item.seq_item_tell for item in ds.DirectoryRecordSequence]
