"""Header reading: what the importer and the network intake need, without
loading pixels, from one strict walk of the whole file.

The file's elements are walked by :mod:`app.dicom.elements` (every length,
every sequence and item, the pixel data's full length); the few top-level
elements the cache keeps are handed, still raw, to pydicom, which decodes
their values. A file is refused (:class:`Unreadable`) with a plain reason:
not DICOM, truncated or malformed (naming the byte offset and the element),
missing one of the three UIDs, unreadable. The same bytes give the same
header, or the same refusal, from a path (read through a memory map), from
bytes, and from a data set received over the network.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement, empty_value_for_VR
from pydicom.tag import BaseTag

from app.dicom import element_rules, files
from app.dicom.columns import (INSTANCE_COLUMNS, PATIENT_COLUMNS, SERIES_COLUMNS,
                               STUDY_COLUMNS, extract, text_value)

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
# Strictly a UID is digits and dots; tolerate the letters some writers use,
# but nothing that could be a path or a wildcard.
_UID_CHARS = re.compile(r"^[0-9A-Za-z._-]+$")
_WANTED_TAGS = frozenset(
    tag_for_keyword(keyword) for columns in (PATIENT_COLUMNS, STUDY_COLUMNS, SERIES_COLUMNS,
                                             INSTANCE_COLUMNS) for keyword in columns.values()
) | {element_rules.CHARACTER_SET}
_META_TAGS = frozenset({0x00020002, 0x00020003, 0x00020010})  # the SOP class and instance, the syntax


class Unreadable(Exception):
    """The file cannot be imported; ``str(e)`` is the plain reason."""


@dataclass
class Header:
    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]
    transfer_syntax_uid: str
    size: int

    @property
    def sop_instance_uid(self) -> str:
        return self.instance["sop_instance_uid"]

    @property
    def study_instance_uid(self) -> str:
        return self.study["study_instance_uid"]

    @property
    def series_instance_uid(self) -> str:
        return self.series["series_instance_uid"]


def _looks_like_dicom_start(head: bytes) -> bool:
    """A file without the 128-byte preamble may still be DICOM if it starts
    with a group 0002 or 0008 element (either byte order)."""
    if len(head) < 8:
        return False
    group_le = struct.unpack("<H", head[:2])[0]
    group_be = struct.unpack(">H", head[:2])[0]
    return group_le in (0x0002, 0x0008) or group_be in (0x0002, 0x0008)


def read_header(source: str | os.PathLike | bytes | bytearray | memoryview) -> Header:
    """The header of a file: a path, or its whole content as bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read(source)
    try:
        with open(source, "rb") as fp:
            size = os.fstat(fp.fileno()).st_size
            if size == 0:
                raise Unreadable("not DICOM: empty file")
            try:
                view = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # not mappable (a pipe, a special file)
                return _read(fp.read())
            try:
                return _read(view)
            finally:
                view.close()
    except OSError as e:
        raise Unreadable(f"unreadable: {e.strerror or e}") from e


def read_header_in_memory(data: bytes | bytearray | memoryview) -> Header:
    """:func:`read_header` of a complete file held in memory (a data set
    received over the network): the same walk, so the same header or the
    same refusal."""
    return _read(data)


def _read(data) -> Header:
    size = len(data)
    if size == 0:
        raise Unreadable("not DICOM: empty file")
    has_prefix = size >= 132 and data[128:132] == b"DICM"
    if not has_prefix and not _looks_like_dicom_start(bytes(data[:8])):
        raise Unreadable("not DICOM: no 'DICM' prefix at byte 128 and no DICOM element at the start")
    try:
        parsed = files.parse_file(data)
    except element_rules.Malformed as e:
        raise Unreadable(f"{'truncated' if e.truncated else 'malformed'}: {e}") from e
    except element_rules.NotCovered as e:
        raise Unreadable(f"unsupported encoding: {e}") from e
    ds = _dataset(parsed)
    header = _header(ds, size, _transfer_syntax(parsed))
    _check_complete(parsed, header.instance["sop_class_uid"])
    return header


def _dataset(parsed: files.ParsedFile) -> pydicom.Dataset:
    """The wanted top-level elements (and File Meta UIDs), still raw."""
    data, implicit, little = parsed.data, parsed.parsed.implicit, parsed.parsed.little
    wanted = [e for e in parsed.elements if e[0] in _WANTED_TAGS and e[5] is None]
    ds = pydicom.Dataset({tag: _raw(data, tag, vr, value, length, implicit, little)
                          for tag, vr, _, value, length, _ in wanted})
    ds.file_meta = pydicom.dataset.FileMetaDataset(
        {tag: _raw(parsed.source, tag, vr, value, length, False, True)
         for tag, vr, _, value, length, _ in parsed.meta if tag in _META_TAGS})
    return ds


def _raw(data, tag: int, vr, value: int, length: int, implicit: bool, little: bool) -> RawDataElement:
    raw = bytes(data[value:value + length]) if length else empty_value_for_VR(vr, raw=True)
    return RawDataElement(BaseTag(tag), vr, length, raw, value, implicit, little)


# -- completeness -----------------------------------------------------------------------
#
# A file cut exactly between two top-level elements reads as a well-formed,
# shorter data set; only the object's own rules show what is missing. As
# elements come in ascending tag order (PS3.5 7.1), such a cut removes the
# highest tags: for each kind of object, the attributes its mandatory modules
# require (type 1) with the highest tags are checked.

_IMAGE_EXTRA = frozenset({"1.2.840.10008.5.1.4.1.1.66.4",   # Segmentation
                          "1.2.840.10008.5.1.4.1.1.30"})    # Parametric Map
_PIXELS_OR_URL = (0x7FE00010, 0x7FE00008, 0x7FE00009, 0x00287FE0)
_REQUIRED = {
    "1.2.840.10008.5.1.4.1.1.481.3": (0x30060020, 0x30060039, 0x30060080),  # RT Structure Set
    "1.2.840.10008.5.1.4.1.1.481.5": (0x300A0002, 0x300A000C),  # RT Plan (General Plan)
    "1.2.840.10008.5.1.4.1.1.481.8": (0x300A0002, 0x300A000C),  # RT Ion Plan
    "1.2.840.10008.5.1.4.1.1.481.2": (0x30040002, 0x30040004, 0x3004000A),  # RT Dose
}
_SR_CONTENT = (0x0040A040, 0x0040A043, 0x0040A730)  # ValueType, ConceptName, ContentSequence
_SR_FLAGS = (0x0040A491, 0x0040A493)  # CompletionFlag, VerificationFlag
_ENCAPSULATED = (0x00420011,)  # EncapsulatedDocument
RT_PLANS = frozenset({"1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.481.8"})  # and Ion
_WAVEFORM = (0x54000100,)  # WaveformSequence (Waveform module, type 1)
# Presentation State Identification: ContentLabel, PresentationCreationDate (1),
# ContentCreatorName (2); Displayed Area: DisplayedAreaSelectionSequence (1)
_PRESENTATION = (0x00700080, 0x00700082, 0x00700084, 0x0070005A)
_GEOMETRY, _STRUCTURE_SET = 0x300A000C, 0x300C0060  # ReferencedStructureSetSequence: 1C on PATIENT
_APPROVAL = 0x300E0002  # APPROVED or REJECTED: ReviewDate, ReviewTime, ReviewerName (2C)
_REVIEW = (0x300E0004, 0x300E0005, 0x300E0008)


@lru_cache(maxsize=256)
def _required(sop_class: str) -> tuple[tuple[int, ...], ...]:
    """Groups of tags of which the object needs one each."""
    name = pydicom.uid.UID(sop_class).name if sop_class else ""
    groups = [(tag,) for tag in _REQUIRED.get(sop_class, ())]
    if "Image Storage" in name or sop_class in _IMAGE_EXTRA:
        groups.append(_PIXELS_OR_URL)
    elif "SR Storage" in name or name == "Key Object Selection Document Storage":
        groups.extend((tag,) for tag in _SR_CONTENT)
        if "SR Storage" in name:
            groups.extend((tag,) for tag in _SR_FLAGS)
    elif name.startswith("Encapsulated "):
        groups.append(_ENCAPSULATED)
    elif "Waveform Storage" in name:
        groups.append(_WAVEFORM)
    elif name.endswith("Presentation State Storage"):
        groups.extend((tag,) for tag in _PRESENTATION)
    return tuple(groups)


def _conditional(sop_class: str, top: dict, data) -> list[tuple[int, ...]]:
    """What the values of the object require (type 1C and 2C attributes)."""
    def text(tag: int) -> str:
        element = top.get(tag)
        if element is None or element[5] is not None:
            return ""
        return bytes(data[element[3]:element[3] + element[4]]).decode("latin-1").strip("\x00 ")

    groups = []
    if sop_class in RT_PLANS and text(_GEOMETRY) == "PATIENT":
        groups.append((_STRUCTURE_SET,))
    if text(_APPROVAL) in ("APPROVED", "REJECTED"):
        groups.extend((tag,) for tag in _REVIEW)
    return groups


def _check_complete(parsed: files.ParsedFile, sop_class: str) -> None:
    top = {element[0]: element for element in parsed.elements}
    groups = (*_required(sop_class), *_conditional(sop_class, top, parsed.data))
    present = top.keys()
    for group in groups:
        if not any(tag in present for tag in group):
            name = pydicom.uid.UID(sop_class).name if sop_class else "DICOM"
            raise Unreadable(f"truncated: the {name} object has no {element_rules.describe(group[0])}, "
                             f"which it requires: the data set ends at byte {len(parsed.data)}")




def _transfer_syntax(parsed: files.ParsedFile) -> str:
    if parsed.syntax:
        return parsed.syntax
    if parsed.parsed.implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if parsed.parsed.little else pydicom.uid.ExplicitVRBigEndian


def _header(ds, size: int, transfer_syntax: str) -> Header:
    instance = extract(ds, INSTANCE_COLUMNS)
    meta = ds.file_meta
    if not instance["sop_instance_uid"]:
        instance["sop_instance_uid"] = text_value(meta, "MediaStorageSOPInstanceUID")
    if not instance["sop_class_uid"]:
        instance["sop_class_uid"] = text_value(meta, "MediaStorageSOPClassUID")
    if instance["sop_class_uid"] == MEDIA_STORAGE_DIRECTORY:
        raise Unreadable("a DICOMDIR, not an image: import the folder that holds it")
    study = extract(ds, STUDY_COLUMNS)
    series = extract(ds, SERIES_COLUMNS)
    missing = [kw for kw, value in (("StudyInstanceUID", study["study_instance_uid"]),
                                    ("SeriesInstanceUID", series["series_instance_uid"]),
                                    ("SOPInstanceUID", instance["sop_instance_uid"])) if not value]
    if missing:
        raise Unreadable("missing " + " and ".join(missing))
    for key, value in (("StudyInstanceUID", study["study_instance_uid"]),
                       ("SeriesInstanceUID", series["series_instance_uid"]),
                       ("SOPInstanceUID", instance["sop_instance_uid"])):
        if len(value) > 64 or not _UID_CHARS.match(value):
            raise Unreadable(f"invalid {key} {value[:70]!r}")
    return Header(extract(ds, PATIENT_COLUMNS), study, series, instance, transfer_syntax, size)
