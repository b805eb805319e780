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
from pydicom.errors import InvalidDicomError

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
