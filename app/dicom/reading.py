"""Tolerant header reading: what the importer needs, without loading pixels.

A file is refused (:class:`Unreadable`) with a plain reason: not DICOM,
truncated, missing one of the three UIDs, unreadable.
"""

from __future__ import annotations

import io
import os
import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement, empty_value_for_VR
from pydicom.errors import InvalidDicomError
from pydicom.filereader import EXPLICIT_VR_LENGTH_32
from pydicom.tag import BaseTag
from pydicom.valuerep import VR as VR_

from app.dicom.columns import (INSTANCE_COLUMNS, PATIENT_COLUMNS, SERIES_COLUMNS,
                               STUDY_COLUMNS, extract, text_value)

_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_SEQ_DELIMITER_LE = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_SEQ_DELIMITER_BE = b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
# Strictly a UID is digits and dots; tolerate the letters some writers use,
# but nothing that could be a path or a wildcard.
_UID_CHARS = re.compile(r"^[0-9A-Za-z._-]+$")


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


def read_header(source: str | os.PathLike | bytes) -> Header:
    """Parse the header of a file (a path, or its whole content as bytes)."""
    if isinstance(source, (bytes, bytearray)):
        fp: BinaryIO = io.BytesIO(source)
        size = len(source)
        return _read(fp, size)
    try:
        size = os.path.getsize(source)
        with open(source, "rb") as fp:
            return _read(fp, size)
    except OSError as e:
        raise Unreadable(f"unreadable: {e.strerror or e}") from e


def _read(fp: BinaryIO, size: int) -> Header:
    if size == 0:
        raise Unreadable("not DICOM: empty file")
    head = fp.read(132)
    has_prefix = head[128:132] == b"DICM"
    if not has_prefix and not _looks_like_dicom_start(head):
        raise Unreadable("not DICOM: no 'DICM' prefix at byte 128 and no DICOM element at the start")
    fp.seek(0)
    try:
        ds = pydicom.dcmread(fp, stop_before_pixels=True, force=not has_prefix)
    except InvalidDicomError as e:
        raise Unreadable(f"not DICOM: {e}") from e
    except (EOFError, struct.error) as e:
        raise Unreadable(f"truncated: the header ends early ({e or 'end of file'})") from e
    except Exception as e:  # pydicom raises many kinds on corrupt input
        raise Unreadable(f"unreadable DICOM header: {type(e).__name__}: {e}") from e
    _check_pixel_data_complete(fp, ds, size)
    return _header(ds, size)


def _check_pixel_data_complete(fp: BinaryIO, ds, size: int) -> None:
    start = fp.tell()
    if start >= size:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        implicit, little = False, True
    endian = "<" if little else ">"
    head = fp.read(12)
    if len(head) < 8:
        raise Unreadable(f"truncated: the file ends inside the pixel data element at byte {start}")
    group, element = struct.unpack(endian + "HH", head[:4])
    if (group, element) not in _PIXEL_TAGS:
        return
    vr = head[4:6]
    if implicit or not (vr.isalpha() and vr.isupper()):  # some writers switch to implicit here
        length = struct.unpack(endian + "L", head[4:8])[0]
        value_start = start + 8
    elif vr in _LONG_VRS:
        if len(head) < 12:
            raise Unreadable(f"truncated: the file ends inside the pixel data element at byte {start}")
        length = struct.unpack(endian + "L", head[8:12])[0]
        value_start = start + 12
    else:
        length = struct.unpack(endian + "H", head[6:8])[0]
        value_start = start + 8
    if length == 0xFFFFFFFF:
        _check_encapsulated_end(fp, size, little)
        return
    if value_start + length > size:
        raise Unreadable(f"truncated: pixel data needs {length} bytes from byte {value_start}, "
                         f"the file ends at byte {size}")


def _check_encapsulated_end(fp: BinaryIO, size: int, little: bool) -> None:
    """Encapsulated pixel data ends with a sequence delimiter; a file cut
    short lacks it. When something follows the delimiter (trailing padding),
    walk the fragments to be sure."""
    fp.seek(size - 8)
    if fp.read(8) == (_SEQ_DELIMITER_LE if little else _SEQ_DELIMITER_BE):
        return
    fp.seek(0)
    try:
        ds = pydicom.dcmread(fp, force=True)
        ds.PixelData  # noqa: B018 - reading the value walks every fragment
    except Exception as e:
        raise Unreadable(f"truncated: encapsulated pixel data has no end ({type(e).__name__})") from e


def _transfer_syntax(ds) -> str:
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return str(meta.TransferSyntaxUID)
    implicit, little = ds.original_encoding
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little or little is None else pydicom.uid.ExplicitVRBigEndian


def _header(ds, size: int) -> Header:
    instance = extract(ds, INSTANCE_COLUMNS)
    meta = getattr(ds, "file_meta", None)
    if not instance["sop_instance_uid"] and meta is not None:
        instance["sop_instance_uid"] = text_value(meta, "MediaStorageSOPInstanceUID")
    if not instance["sop_class_uid"] and meta is not None:
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
    return Header(extract(ds, PATIENT_COLUMNS), study, series, instance, _transfer_syntax(ds), size)


# -- a direct scan of a complete file held in memory ------------------------------------------
#
# pydicom's parse costs about 0.4 ms for a CT header of 70 elements, most
# of it building an element for each one; a data set received over the
# network is already in memory and needs only the few elements the cache
# keeps. read_header_in_memory walks the top-level elements itself and
# hands pydicom a data set of just those, still raw, so that the header is
# built by the same code (_header) from the same bytes. Anything off the
# common path (big endian, deflate, a VR switch, a malformed length, an
# undefined-length element other than a sequence, a refusal) is left to
# read_header: the result, or the reason for refusing, is then the same.

_WANTED_TAGS = frozenset(
    tag_for_keyword(keyword) for columns in (PATIENT_COLUMNS, STUDY_COLUMNS, SERIES_COLUMNS,
                                             INSTANCE_COLUMNS) for keyword in columns.values()
) | {0x00080005}
_PIXEL_TAG_SET = frozenset((g << 16) | e for g, e in _PIXEL_TAGS)
_META_TAGS = frozenset({0x00020002, 0x00020003, 0x00020010})
_VALID_VRS = frozenset(vr.encode() for vr in VR_)
_LONG_LENGTH_VRS = frozenset(vr.encode() for vr in EXPLICIT_VR_LENGTH_32)
_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHL")
_LENGTH = struct.Struct("<L")
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_NOT_SIMPLE_SYNTAXES = {pydicom.uid.ExplicitVRBigEndian, pydicom.uid.DeflatedExplicitVRLittleEndian,
                        *pydicom.uid.PrivateTransferSyntaxes}


class _NotSimple(Exception):
    """The scan leaves this file to pydicom."""


def read_header_in_memory(data: bytes | bytearray | memoryview) -> Header:
    """:func:`read_header` of a complete file held in memory (a data set
    received over the network), about three times cheaper for the common
    encodings and otherwise the same: same header, same refusals."""
    try:
        return _scan_header(data)
    except (_NotSimple, Unreadable, struct.error, UnicodeDecodeError):
        return read_header(data if isinstance(data, (bytes, bytearray)) else bytes(data))


def _scan_header(data: bytes | bytearray | memoryview) -> Header:
    size = len(data)
    if size < 132 or data[128:132] != b"DICM":
        raise _NotSimple
    meta, pos = _scan_elements(data, 132, size, implicit=False, wanted=_META_TAGS, group=2)
    ts_raw = meta.get(0x00020010)
    if ts_raw is None or not ts_raw.value:
        raise _NotSimple
    syntax = ts_raw.value.decode("ascii").rstrip("\x00 ")
    if syntax in _NOT_SIMPLE_SYNTAXES:
        raise _NotSimple
    implicit = syntax == pydicom.uid.ImplicitVRLittleEndian
    if pos + 6 <= size:  # pydicom checks the first element's VR against the syntax
        vr = data[pos + 4:pos + 6]
        if (not (0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B)) != implicit:
            raise _NotSimple
    elements, pos = _scan_elements(data, pos, size, implicit, _WANTED_TAGS, stop=_PIXEL_TAG_SET)
    if pos < size:
        _pixel_data_complete(data, pos, size, implicit)
    ds = pydicom.Dataset(elements)
    ds.file_meta = pydicom.dataset.FileMetaDataset(meta)
    return _header(ds, size)


def _scan_elements(data, pos: int, end: int, implicit: bool, wanted: frozenset,
                   group: int | None = None, stop: frozenset = frozenset()) -> tuple[dict, int]:
    """Raw elements of *wanted* tags from *pos*, until *end*, a tag of *stop*,
    or (with *group*) the first element of another group; and where it ended."""
    found: dict = {}
    while pos < end:
        if pos + 8 > end:
            raise _NotSimple
        if implicit:
            tag_group, element, length = _IMPLICIT.unpack_from(data, pos)
            vr, raw_vr, start = None, b"", pos + 8
        else:
            tag_group, element, raw_vr, length = _EXPLICIT.unpack_from(data, pos)
            vr, start = None, pos + 8
        tag = tag_group << 16 | element
        if (group is not None and tag_group != group) or tag in stop:
            return found, pos
        if tag_group == 0xFFFE:
            raise _NotSimple
        if not implicit:
            if raw_vr not in _VALID_VRS:
                raise _NotSimple
            vr = raw_vr.decode("ascii")
            if raw_vr in _LONG_LENGTH_VRS:
                if start + 4 > end:
                    raise _NotSimple
                length, start = _LENGTH.unpack_from(data, start)[0], start + 4
        if length == _UNDEFINED:
            if tag in wanted or (vr != "SQ" and not (implicit and _is_sequence_tag(tag))):
                raise _NotSimple
            pos = _skip_sequence(data, start, end, implicit)
            continue
        if start + length > end:
            raise _NotSimple
        if tag in wanted:
            value = bytes(data[start:start + length]) if length else empty_value_for_VR(vr, raw=True)
            found[tag] = RawDataElement(BaseTag(tag), vr, length, value, start, implicit, True)
        pos = start + length
    return found, pos


def _is_sequence_tag(tag: int) -> bool:
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


def _skip_sequence(data, pos: int, end: int, implicit: bool) -> int:
    """Past an undefined-length sequence whose items start at *pos*; each
    item's elements are walked, as pydicom parses them."""
    while True:
        if pos + 8 > end:
            raise _NotSimple
        tag_group, element, length = _IMPLICIT.unpack_from(data, pos)
        tag, pos = tag_group << 16 | element, pos + 8
        if tag == _SEQUENCE_END:
            if length != 0:
                raise _NotSimple
            return pos
        if tag != _ITEM:
            raise _NotSimple
        if length == _UNDEFINED:
            pos = _skip_item(data, pos, end, implicit)
        else:
            if pos + length > end:
                raise _NotSimple
            _, item_end = _scan_elements(data, pos, pos + length, implicit, frozenset())
            if item_end != pos + length:
                raise _NotSimple
            pos += length


def _skip_item(data, pos: int, end: int, implicit: bool) -> int:
    """Past the elements of an undefined-length item and its delimiter."""
    _, pos = _scan_elements(data, pos, end, implicit, frozenset(), stop=frozenset({_ITEM_END}))
    if pos + 8 > end or _IMPLICIT.unpack_from(data, pos) != (0xFFFE, 0xE00D, 0):
        raise _NotSimple
    return pos + 8


def _pixel_data_complete(data, pos: int, size: int, implicit: bool) -> None:
    """What _check_pixel_data_complete accepts; anything else is left to it."""
    if pos + 12 > size:
        raise _NotSimple
    if implicit:
        length, start = _LENGTH.unpack_from(data, pos + 4)[0], pos + 8
    else:
        raw_vr = bytes(data[pos + 4:pos + 6])
        if raw_vr not in _LONG_VRS:
            raise _NotSimple
        length, start = _LENGTH.unpack_from(data, pos + 8)[0], pos + 12
    if length == _UNDEFINED:
        if bytes(data[size - 8:]) != _SEQ_DELIMITER_LE:
            raise _NotSimple
    elif start + length > size:
        raise _NotSimple
